namespace Ferry.Protocols.Rtp;

/// <summary>Comparisons of wrapping RTP sequence numbers and timestamps (serial number arithmetic, RFC 1982).</summary>
public static class SeqNum
{
    /// <summary>True when <paramref name="a"/> comes after <paramref name="b"/> modulo 2^16.</summary>
    public static bool IsNewer(ushort a, ushort b) => a != b && (ushort)(a - b) < 0x8000;

    /// <summary>Signed distance from <paramref name="b"/> to <paramref name="a"/>, in [-32768, 32767].</summary>
    public static int Diff(ushort a, ushort b) => (short)(ushort)(a - b);

    /// <summary>True when timestamp <paramref name="a"/> comes after <paramref name="b"/> modulo 2^32.</summary>
    public static bool IsNewerTimestamp(uint a, uint b) => a != b && a - b < 0x80000000u;
}

/// <summary>
/// Extends 16-bit sequence numbers to 64 bits: each value is placed at the extended number
/// closest to the highest seen, so wraps and reordering within half the space come out right.
/// </summary>
public partial struct SequenceUnwrapper
{
    private long _highest;
    private bool _started;

    /// <summary>The highest extended sequence number seen, or -1 before the first.</summary>
    public readonly long Highest => _started ? _highest : -1;

    /// <summary>Extends <paramref name="sequenceNumber"/> and updates the highest seen.</summary>
    public long Unwrap(ushort sequenceNumber)
    {
        var extended = Peek(sequenceNumber);
        if (!_started || extended > _highest) _highest = extended;
        _started = true;
        return extended;
    }

    /// <summary>Extends <paramref name="sequenceNumber"/> without changing state.</summary>
    public readonly long Peek(ushort sequenceNumber)
    {
        // Start a cycle up so early reordered packets stay non-negative.
        if (!_started) return 65536L + sequenceNumber;
        return _highest + SeqNum.Diff(sequenceNumber, (ushort)_highest);
    }
}
