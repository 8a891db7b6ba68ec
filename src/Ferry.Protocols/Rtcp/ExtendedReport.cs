using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>A DLRR sub-block (RFC 3611 §4.5): the receiver, its last RRTR (compact NTP) and the delay since.</summary>
public readonly record struct DlrrItem(uint Ssrc, uint LastReceiverReport, uint DelaySinceLastReceiverReport);

/// <summary>
/// Extended reports (RFC 3611): header, SSRC, then report blocks of BT(8), type-specific(8),
/// block length(16, words). Ferry uses the receiver reference time block (BT 4, §4.4), which lets
/// a receiver-only endpoint get an RTT, and the DLRR block (BT 5, §4.5) that answers it.
/// </summary>
public static class ExtendedReport
{
    /// <summary>Block type of a receiver reference time report.</summary>
    public const byte Rrtr = 4;
    /// <summary>Block type of a DLRR report.</summary>
    public const byte Dlrr = 5;

    /// <summary>Finds an RRTR block's NTP timestamp.</summary>
    public static bool TryGetRrtr(RtcpPacket packet, out uint ssrc, out ulong ntp)
    {
        ntp = 0;
        if (!TryFindBlock(packet, Rrtr, out ssrc, out var block) || block.Length < 8) return false;
        ntp = BinaryPrimitives.ReadUInt64BigEndian(block);
        return true;
    }

    /// <summary>Reads the DLRR sub-blocks into <paramref name="items"/>; returns how many, or -1 when there is no (valid) DLRR block.</summary>
    public static int ReadDlrr(RtcpPacket packet, Span<DlrrItem> items)
    {
        if (!TryFindBlock(packet, Dlrr, out _, out var block) || block.Length % 12 != 0) return -1;
        var n = Math.Min(block.Length / 12, items.Length);
        for (var i = 0; i < n; i++)
        {
            var b = block[(12 * i)..];
            items[i] = new DlrrItem(BinaryPrimitives.ReadUInt32BigEndian(b), BinaryPrimitives.ReadUInt32BigEndian(b[4..]), BinaryPrimitives.ReadUInt32BigEndian(b[8..]));
        }
        return n;
    }

    /// <summary>Writes an XR with one RRTR block. Returns 20, or 0 when it does not fit.</summary>
    public static int WriteRrtr(Span<byte> destination, uint ssrc, ulong ntp)
    {
        const int length = 20;
        if (destination.Length < length) return 0;
        RtcpPacket.WriteHeader(destination, 0, RtcpPacketType.ExtendedReport, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        destination[8] = Rrtr;
        destination[9] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[12..], ntp);
        return length;
    }

    /// <summary>Writes an XR with one DLRR block. Returns bytes written, or 0 when it does not fit.</summary>
    public static int WriteDlrr(Span<byte> destination, uint ssrc, ReadOnlySpan<DlrrItem> items)
    {
        var length = 12 + 12 * items.Length;
        if (items.IsEmpty || destination.Length < length) return 0;
        RtcpPacket.WriteHeader(destination, 0, RtcpPacketType.ExtendedReport, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        destination[8] = Dlrr;
        destination[9] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], (ushort)(3 * items.Length));
        for (var i = 0; i < items.Length; i++)
        {
            var b = destination[(12 + 12 * i)..];
            BinaryPrimitives.WriteUInt32BigEndian(b, items[i].Ssrc);
            BinaryPrimitives.WriteUInt32BigEndian(b[4..], items[i].LastReceiverReport);
            BinaryPrimitives.WriteUInt32BigEndian(b[8..], items[i].DelaySinceLastReceiverReport);
        }
        return length;
    }

    private static bool TryFindBlock(RtcpPacket packet, byte blockType, out uint ssrc, out ReadOnlySpan<byte> block)
    {
        ssrc = 0;
        block = default;
        if (packet.Type != RtcpPacketType.ExtendedReport || packet.Body.Length < 4) return false;
        ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet.Body);
        var offset = 4;
        var body = packet.Body;
        while (offset + 4 <= body.Length)
        {
            var type = body[offset];
            var length = 4 * BinaryPrimitives.ReadUInt16BigEndian(body[(offset + 2)..]);
            if (offset + 4 + length > body.Length) return false;
            if (type == blockType)
            {
                block = body.Slice(offset + 4, length);
                return true;
            }
            offset += 4 + length;
        }
        return false;
    }
}
