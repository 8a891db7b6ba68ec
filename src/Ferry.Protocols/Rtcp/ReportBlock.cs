using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// A reception report block (RFC 3550 §6.4.1), 24 bytes:
/// <code>
/// |                 SSRC_n (source identifier)                    |
/// | fraction lost |       cumulative number of packets lost       |  (24-bit signed)
/// |           extended highest sequence number received           |
/// |                      interarrival jitter                      |
/// |                         last SR (LSR)                         |
/// |                   delay since last SR (DLSR)                  |  (1/65536 s)
/// </code>
/// </summary>
public readonly record struct ReportBlock(uint Ssrc, byte FractionLost, int CumulativeLost, uint HighestSequence, uint Jitter, uint LastSenderReport, uint DelaySinceLastSenderReport)
{
    /// <summary>Size on the wire.</summary>
    public const int Size = 24;

    /// <summary>Reads a block from 24 bytes.</summary>
    public static ReportBlock Read(ReadOnlySpan<byte> b)
    {
        var lost = (b[5] << 16) | (b[6] << 8) | b[7];
        if ((lost & 0x800000) != 0) lost |= unchecked((int)0xFF000000);   // sign-extend 24 bits
        return new ReportBlock(
            BinaryPrimitives.ReadUInt32BigEndian(b), b[4], lost,
            BinaryPrimitives.ReadUInt32BigEndian(b[8..]), BinaryPrimitives.ReadUInt32BigEndian(b[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[16..]), BinaryPrimitives.ReadUInt32BigEndian(b[20..]));
    }

    /// <summary>Writes the block into 24 bytes; cumulative loss is clamped to the 24-bit signed range.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32BigEndian(b, Ssrc);
        b[4] = FractionLost;
        var lost = Math.Clamp(CumulativeLost, -0x800000, 0x7FFFFF);
        b[5] = (byte)(lost >> 16);
        b[6] = (byte)(lost >> 8);
        b[7] = (byte)lost;
        BinaryPrimitives.WriteUInt32BigEndian(b[8..], HighestSequence);
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], Jitter);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], LastSenderReport);
        BinaryPrimitives.WriteUInt32BigEndian(b[20..], DelaySinceLastSenderReport);
    }
}

/// <summary>Iterates report blocks without allocating.</summary>
public ref struct ReportBlockEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _count;
    private int _index;

    internal ReportBlockEnumerator(ReadOnlySpan<byte> data, int count)
    {
        _data = data;
        _count = Math.Min(count, data.Length / ReportBlock.Size);
        _index = -1;
    }

    /// <summary>The current block.</summary>
    public readonly ReportBlock Current => ReportBlock.Read(_data[(_index * ReportBlock.Size)..]);

    /// <summary>Enables foreach.</summary>
    public readonly ReportBlockEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next block.</summary>
    public bool MoveNext() => ++_index < _count;
}

/// <summary>NTP timestamps and the RTT arithmetic of RFC 3550 §6.4.1.</summary>
public static class NtpTime
{
    /// <summary>The middle 32 bits of a 64-bit NTP timestamp, as LSR and DLSR use them (1/65536 s units).</summary>
    public static uint ToCompact(ulong ntp) => (uint)(ntp >> 16);

    /// <summary>A 64-bit NTP timestamp for <paramref name="sinceEpoch"/> since the NTP epoch (1900).</summary>
    public static ulong FromTimeSpan(TimeSpan sinceEpoch)
    {
        var seconds = (ulong)(sinceEpoch.Ticks / TimeSpan.TicksPerSecond);
        var fraction = (ulong)(sinceEpoch.Ticks % TimeSpan.TicksPerSecond) * (1UL << 32) / TimeSpan.TicksPerSecond;
        return (seconds << 32) | fraction;
    }

    /// <summary>A compact (16.16) duration.</summary>
    public static uint CompactFromTimeSpan(TimeSpan duration) => (uint)(duration.Ticks * 65536 / TimeSpan.TicksPerSecond);

    /// <summary>
    /// Round-trip time from a report block received at compact NTP time <paramref name="arrival"/>:
    /// A - LSR - DLSR. Null when the block carries no LSR (no SR received yet) or the result is negative.
    /// </summary>
    public static TimeSpan? RoundTrip(uint arrival, uint lastSenderReport, uint delaySinceLastSenderReport)
    {
        if (lastSenderReport == 0) return null;
        var rtt = (int)(arrival - lastSenderReport - delaySinceLastSenderReport);
        if (rtt < 0) return null;
        return TimeSpan.FromTicks(rtt * TimeSpan.TicksPerSecond / 65536);
    }
}
