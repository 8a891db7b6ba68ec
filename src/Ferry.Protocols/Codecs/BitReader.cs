namespace Ferry.Protocols.Codecs;

/// <summary>
/// Reads big-endian bit fields. Reading past the end yields zeros and sets <see cref="Overrun"/>, so a parser
/// can read a whole structure and check once at the end instead of after every field.
/// </summary>
internal ref struct BitReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Position => _position;

    public readonly int RemainingBits => _data.Length * 8 - _position;

    public bool Overrun { get; private set; }

    /// <summary>Reads <paramref name="count"/> (0-32) bits.</summary>
    public uint Read(int count)
    {
        if (count > RemainingBits)
        {
            Overrun = true;
            _position = _data.Length * 8;
            return 0;
        }
        uint value = 0;
        for (var i = 0; i < count; i++)
        {
            var bit = (_data[_position >> 3] >> (7 - (_position & 7))) & 1;
            value = value << 1 | (uint)bit;
            _position++;
        }
        return value;
    }

    public bool ReadBit() => Read(1) != 0;

    /// <summary>Non-symmetric unsigned value in [0, n) (AV1 §4.10.7), n ≥ 1.</summary>
    public uint ReadNonSymmetric(uint n)
    {
        var w = 0;
        for (var x = n; x != 0; x >>= 1) w++;
        var m = (1u << w) - n;
        var v = Read(w - 1);
        if (v < m) return v;
        var extra = Read(1);
        return (v << 1) - m + extra;
    }
}
