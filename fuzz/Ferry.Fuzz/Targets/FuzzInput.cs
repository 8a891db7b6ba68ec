namespace Ferry.Fuzz;

/// <summary>
/// One fuzz target: feeds <c>input</c> to a parser. It returns normally for every input, however
/// malformed: an exception escaping it, or a run that does not end, is a bug in the parser (or a
/// broken invariant the target checks, reported as <see cref="FuzzInvariantException"/>).
/// </summary>
internal delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// A target and the name its corpus folder and run.sh use. Targets keep no static state that runs
/// Ferry's code when initialised: under afl, instrumented code may only run once SharpFuzz has started.
/// </summary>
internal sealed record NamedTarget(string Name, FuzzTarget Run);

/// <summary>A property the target checks after parsing did not hold (a real bug, reported as a crash).</summary>
internal sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// Splits a fuzz input into the pieces a target needs: flag bytes, numbers, and length-prefixed
/// records (for targets that take several packets). Reading past the end yields zeros and empty
/// spans, so every byte string is a valid input.
/// </summary>
internal ref struct FuzzInput
{
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;

    public FuzzInput(ReadOnlySpan<byte> data)
    {
        _data = data;
        _offset = 0;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly ReadOnlySpan<byte> Rest => _data[_offset..];

    /// <summary>True when everything was read.</summary>
    public readonly bool IsEmpty => _offset >= _data.Length;

    public byte Byte() => _offset < _data.Length ? _data[_offset++] : (byte)0;

    public ushort UInt16() => (ushort)((Byte() << 8) | Byte());

    public uint UInt32() => ((uint)UInt16() << 16) | UInt16();

    /// <summary>Up to <paramref name="count"/> bytes (fewer at the end).</summary>
    public ReadOnlySpan<byte> Bytes(int count)
    {
        var n = Math.Min(count, _data.Length - _offset);
        var span = _data.Slice(_offset, n);
        _offset += n;
        return span;
    }

    /// <summary>A record: a 16-bit big-endian length, then that many bytes (fewer at the end).</summary>
    public ReadOnlySpan<byte> Record() => Bytes(UInt16());
}
