using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// Sender report (RFC 3550 §6.4.1):
/// <code>
/// |V=2|P|    RC   |   PT=SR=200   |             length            |
/// |                         SSRC of sender                        |
/// |              NTP timestamp, most significant word             |
/// |             NTP timestamp, least significant word             |
/// |                         RTP timestamp                         |
/// |                     sender's packet count                     |
/// |                      sender's octet count                     |
/// |                 report blocks (RC x 24 bytes)                 |
/// </code>
/// </summary>
public readonly ref struct SenderReport
{
    private const int FixedLength = 28;
    private readonly RtcpPacket _packet;

    private SenderReport(RtcpPacket packet) => _packet = packet;

    /// <summary>Reads an SR; false when the type or length is wrong.</summary>
    public static bool TryParse(RtcpPacket packet, out SenderReport report)
    {
        report = default;
        if (packet.Type != RtcpPacketType.SenderReport || packet.Body.Length + 4 < FixedLength + packet.Count * ReportBlock.Size) return false;
        report = new SenderReport(packet);
        return true;
    }

    /// <summary>SSRC of the sender.</summary>
    public uint Ssrc => BinaryPrimitives.ReadUInt32BigEndian(_packet.Data[4..]);
    /// <summary>64-bit NTP timestamp.</summary>
    public ulong NtpTimestamp => BinaryPrimitives.ReadUInt64BigEndian(_packet.Data[8..]);
    /// <summary>RTP timestamp matching the NTP timestamp.</summary>
    public uint RtpTimestamp => BinaryPrimitives.ReadUInt32BigEndian(_packet.Data[16..]);
    /// <summary>Packets sent.</summary>
    public uint PacketCount => BinaryPrimitives.ReadUInt32BigEndian(_packet.Data[20..]);
    /// <summary>Payload octets sent.</summary>
    public uint OctetCount => BinaryPrimitives.ReadUInt32BigEndian(_packet.Data[24..]);
    /// <summary>Report blocks.</summary>
    public ReportBlockEnumerator ReportBlocks => new(_packet.Data[FixedLength..], _packet.Count);

    /// <summary>Writes an SR; returns the bytes written, or 0 when it does not fit (or more than 31 blocks).</summary>
    public static int Write(Span<byte> destination, uint ssrc, ulong ntp, uint rtpTimestamp, uint packetCount, uint octetCount, ReadOnlySpan<ReportBlock> blocks)
    {
        var length = FixedLength + blocks.Length * ReportBlock.Size;
        if (blocks.Length > 31 || length > destination.Length) return 0;
        RtcpPacket.WriteHeader(destination, blocks.Length, RtcpPacketType.SenderReport, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], ntp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], rtpTimestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], packetCount);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], octetCount);
        for (var i = 0; i < blocks.Length; i++) blocks[i].Write(destination[(FixedLength + i * ReportBlock.Size)..]);
        return length;
    }
}

/// <summary>
/// Receiver report (RFC 3550 §6.4.2): header, SSRC of the packet sender, then RC report blocks.
/// </summary>
public readonly ref struct ReceiverReport
{
    private const int FixedLength = 8;
    private readonly RtcpPacket _packet;

    private ReceiverReport(RtcpPacket packet) => _packet = packet;

    /// <summary>Reads an RR; false when the type or length is wrong.</summary>
    public static bool TryParse(RtcpPacket packet, out ReceiverReport report)
    {
        report = default;
        if (packet.Type != RtcpPacketType.ReceiverReport || packet.Body.Length + 4 < FixedLength + packet.Count * ReportBlock.Size) return false;
        report = new ReceiverReport(packet);
        return true;
    }

    /// <summary>SSRC of the packet sender.</summary>
    public uint Ssrc => BinaryPrimitives.ReadUInt32BigEndian(_packet.Data[4..]);
    /// <summary>Report blocks.</summary>
    public ReportBlockEnumerator ReportBlocks => new(_packet.Data[FixedLength..], _packet.Count);

    /// <summary>Writes an RR; returns the bytes written, or 0 when it does not fit.</summary>
    public static int Write(Span<byte> destination, uint ssrc, ReadOnlySpan<ReportBlock> blocks)
    {
        var length = FixedLength + blocks.Length * ReportBlock.Size;
        if (blocks.Length > 31 || length > destination.Length) return 0;
        RtcpPacket.WriteHeader(destination, blocks.Length, RtcpPacketType.ReceiverReport, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        for (var i = 0; i < blocks.Length; i++) blocks[i].Write(destination[(FixedLength + i * ReportBlock.Size)..]);
        return length;
    }
}
