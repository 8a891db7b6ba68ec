namespace Ferry.Protocols.Srtp;

/// <summary>
/// Replay protection over packet indices (RFC 3711 §3.3.2): the highest authenticated index and a
/// bitmap of the <see cref="Size"/> indices before it. Checked before authentication, updated only
/// after it succeeds, so a forged packet cannot move the window.
/// </summary>
internal struct ReplayWindow
{
    public const int Size = 1024;
    private const int Words = Size / 64;

    private ulong[]? _bits;
    public long Highest;
    public bool Started;

    public readonly SrtpResult Check(long index)
    {
        if (!Started || index > Highest) return SrtpResult.Ok;
        var delta = Highest - index;
        if (delta >= Size) return SrtpResult.ReplayTooOld;
        return (_bits![delta / 64] & (1UL << (int)(delta % 64))) != 0 ? SrtpResult.ReplayDuplicate : SrtpResult.Ok;
    }

    public void Accept(long index)
    {
        _bits ??= new ulong[Words];
        if (!Started)
        {
            Started = true;
            Highest = index;
            _bits[0] = 1;
            return;
        }
        if (index > Highest)
        {
            Shift(index - Highest);
            Highest = index;
            _bits[0] |= 1;
            return;
        }
        var delta = Highest - index;
        _bits[delta / 64] |= 1UL << (int)(delta % 64);
    }

    /// <summary>Bitmap words (bit i of word w is index Highest - (64w + i)); for export.</summary>
    public readonly ulong[] Export() => _bits is null ? new ulong[Words] : (ulong[])_bits.Clone();

    public void Import(long highest, bool started, ReadOnlySpan<ulong> bits)
    {
        _bits = new ulong[Words];
        bits[..Math.Min(bits.Length, Words)].CopyTo(_bits);
        Highest = highest;
        Started = started;
    }

    private readonly void Shift(long by)
    {
        var bits = _bits!;
        if (by >= Size)
        {
            Array.Clear(bits);
            return;
        }
        var words = (int)(by / 64);
        var shift = (int)(by % 64);
        for (var w = Words - 1; w >= 0; w--)
        {
            var src = w - words;
            ulong value = 0;
            if (src >= 0)
            {
                value = bits[src] << shift;
                if (shift != 0 && src - 1 >= 0) value |= bits[src - 1] >> (64 - shift);
            }
            bits[w] = value;
        }
    }
}
