namespace Ferry.Protocols.Codecs;

/// <summary>Maps one wrapping counter of one source at a time onto a continuous output counter.</summary>
/// <remarks>
/// Values a forwarder deliberately leaves out (pictures of a temporal layer it does not send) are
/// <see cref="Drop">dropped</see>: later values shift down by one per dropped value so the receiver
/// sees no hole. A value older than the last drop (reordering) keeps the offset it had before it.
/// </remarks>
internal partial struct WrappingCounterMapper(int mask)
{
    private readonly int _mask = mask;      // output space: 2^n - 1
    private int _lastInput;                 // last input unwrapped into the output space
    private bool _hasInput;
    private int _offset;
    private bool _switchPending;
    private int _lastDropInput;             // the newest dropped input, and the offset before it
    private int _offsetBeforeDrop;
    private bool _hasDrop;
    public int MaxOutput;
    public bool HasOutput;

    public void SwitchSource()
    {
        _switchPending = true;
        _hasInput = false;
        _hasDrop = false;
    }

    public int Map(int raw, int fieldMask)
    {
        var input = Unwrap(raw, fieldMask);
        // The reference for unwrapping only moves forward, so a late value cannot make a dropped one count twice.
        if (!_hasInput || IsNewer(input, _lastInput)) _lastInput = input;
        _hasInput = true;

        if (_switchPending)
        {
            _switchPending = false;
            _offset = HasOutput ? (MaxOutput + 1 - input) & _mask : 0;
        }

        // A late value from before the last drop keeps the offset it was sent with.
        var offset = _hasDrop && IsNewer(_lastDropInput, input) ? _offsetBeforeDrop : _offset;
        var output = (input + offset) & _mask;
        if (!HasOutput || IsNewer(output, MaxOutput))
        {
            MaxOutput = output;
            HasOutput = true;
        }
        return output;
    }

    /// <summary>
    /// A value deliberately not forwarded: later values shift down by one. Repeats of the same value
    /// (further packets of a dropped picture) and older values change nothing.
    /// </summary>
    public void Drop(int raw, int fieldMask)
    {
        // Before the first forwarded value of a source the offset is not chosen yet: nothing to shift.
        if (!_hasInput || _switchPending) return;
        var input = Unwrap(raw, fieldMask);
        if (!IsNewer(input, _lastInput)) return;
        _lastInput = input;
        _offsetBeforeDrop = _offset;
        _lastDropInput = input;
        _hasDrop = true;
        _offset = (_offset - 1) & _mask;
    }

    private readonly int Unwrap(int raw, int fieldMask)
    {
        if (!_hasInput) return raw & fieldMask;
        // Signed distance from the previous value within the field's own width.
        var diff = (raw - _lastInput) & fieldMask;
        if (diff > fieldMask >> 1) diff -= fieldMask + 1;
        return (_lastInput + diff) & _mask;
    }

    private readonly bool IsNewer(int a, int b)
    {
        var d = (a - b) & _mask;
        return d != 0 && d <= _mask >> 1;
    }
}
