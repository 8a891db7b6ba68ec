namespace Ferry.Protocols.Codecs;

internal partial struct WrappingCounterMapper
{
    /// <summary>Number of values <see cref="Export"/> writes.</summary>
    public const int StateLength = 9;

    /// <summary>Writes the state as <see cref="StateLength"/> integers (for a consumer's snapshot).</summary>
    public readonly void Export(Span<int> state)
    {
        state[0] = _lastInput;
        state[1] = _hasInput ? 1 : 0;
        state[2] = _offset;
        state[3] = _switchPending ? 1 : 0;
        state[4] = _lastDropInput;
        state[5] = _offsetBeforeDrop;
        state[6] = _hasDrop ? 1 : 0;
        state[7] = MaxOutput;
        state[8] = HasOutput ? 1 : 0;
    }

    /// <summary>Restores what <see cref="Export"/> wrote, values masked to this mapper's space.</summary>
    public void Import(ReadOnlySpan<int> state)
    {
        _lastInput = state[0] & _mask;
        _hasInput = state[1] != 0;
        _offset = state[2] & _mask;
        _switchPending = state[3] != 0;
        _lastDropInput = state[4] & _mask;
        _offsetBeforeDrop = state[5] & _mask;
        _hasDrop = state[6] != 0;
        MaxOutput = state[7] & _mask;
        HasOutput = state[8] != 0;
    }
}
