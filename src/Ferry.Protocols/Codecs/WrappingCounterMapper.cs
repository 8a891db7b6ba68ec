namespace Ferry.Protocols.Codecs;

/// <summary>Maps one wrapping counter of one source at a time onto a continuous output counter.</summary>
internal struct WrappingCounterMapper(int mask)
{
    private readonly int _mask = mask;      // output space: 2^n - 1
    private int _lastInput;                 // last input unwrapped into the output space
    private bool _hasInput;
    private int _offset;
    private bool _switchPending;
    public int MaxOutput;
    public bool HasOutput;

    public void SwitchSource()
    {
        _switchPending = true;
        _hasInput = false;
    }

    public int Map(int raw, int fieldMask)
    {
        int input;
        if (!_hasInput)
        {
            input = raw & fieldMask;
        }
        else
        {
            // Signed distance from the previous value within the field's own width.
            var diff = (raw - _lastInput) & fieldMask;
            if (diff > fieldMask >> 1) diff -= fieldMask + 1;
            input = (_lastInput + diff) & _mask;
        }
        _lastInput = input;
        _hasInput = true;

        if (_switchPending)
        {
            _switchPending = false;
            _offset = HasOutput ? (MaxOutput + 1 - input) & _mask : 0;
        }

        var output = (input + _offset) & _mask;
        if (!HasOutput || IsNewer(output, MaxOutput))
        {
            MaxOutput = output;
            HasOutput = true;
        }
        return output;
    }

    private readonly bool IsNewer(int a, int b)
    {
        var d = (a - b) & _mask;
        return d != 0 && d <= _mask >> 1;
    }
}
