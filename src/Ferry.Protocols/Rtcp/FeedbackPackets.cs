using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// Common layout of RTCP feedback (RFC 4585 §6.1):
/// <code>
/// |V=2|P|   FMT   |       PT      |          length               |
/// |                  SSRC of packet sender                        |
/// |                  SSRC of media source                         |
/// :            Feedback Control Information (FCI)                 :
/// </code>
/// </summary>
public static class Feedback
{
    /// <summary>Header and the two SSRCs.</summary>
    public const int HeaderLength = 12;

    /// <summary>Reads the two SSRCs and the FCI of a feedback packet of <paramref name="type"/> and <paramref name="fmt"/>.</summary>
    public static bool TryParse(RtcpPacket packet, byte type, int fmt, out uint senderSsrc, out uint mediaSsrc, out ReadOnlySpan<byte> fci)
    {
        senderSsrc = mediaSsrc = 0;
        fci = default;
        if (packet.Type != type || packet.Count != fmt || packet.Body.Length < 8) return false;
        senderSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet.Body);
        mediaSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet.Body[4..]);
        fci = packet.Body[8..];
        return true;
    }

    internal static int WriteHeader(Span<byte> destination, byte type, int fmt, uint senderSsrc, uint mediaSsrc, int totalLength)
    {
        if (totalLength > destination.Length) return 0;
        RtcpPacket.WriteHeader(destination, fmt, type, totalLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], senderSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], mediaSsrc);
        return HeaderLength;
    }
}

/// <summary>Generic NACK (RFC 4585 §6.2.1): FCI entries of a packet id (PID) and a bitmask of the 16 following (BLP).</summary>
public static class GenericNack
{
    /// <summary>Reads the SSRCs of a generic NACK; false when it is not one or is malformed. <see cref="ReadLost"/> gives the sequence numbers.</summary>
    public static bool TryParse(RtcpPacket packet, out uint senderSsrc, out uint mediaSsrc) =>
        Feedback.TryParse(packet, RtcpPacketType.TransportFeedback, RtcpPacketType.FmtNack, out senderSsrc, out mediaSsrc, out var fci)
        && fci.Length % 4 == 0 && fci.Length > 0;

    /// <summary>Expands the lost sequence numbers into <paramref name="output"/>; returns how many (up to 17 per FCI entry), or -1 when malformed.</summary>
    public static int ReadLost(RtcpPacket packet, Span<ushort> output)
    {
        if (!Feedback.TryParse(packet, RtcpPacketType.TransportFeedback, RtcpPacketType.FmtNack, out _, out _, out var fci) || fci.Length % 4 != 0 || fci.Length == 0)
            return -1;
        var n = 0;
        for (var i = 0; i < fci.Length && n < output.Length; i += 4)
        {
            var pid = BinaryPrimitives.ReadUInt16BigEndian(fci[i..]);
            var blp = BinaryPrimitives.ReadUInt16BigEndian(fci[(i + 2)..]);
            output[n++] = pid;
            for (var bit = 0; bit < 16 && n < output.Length; bit++)
            {
                if ((blp & (1 << bit)) != 0) output[n++] = (ushort)(pid + bit + 1);
            }
        }
        return n;
    }

    /// <summary>
    /// Writes a NACK for <paramref name="lost"/> (in increasing order modulo 2^16, as NackGenerator gives them),
    /// packing each run of up to 17 into one PID/BLP entry. Returns bytes written, or 0 when it does not fit.
    /// </summary>
    public static int Write(Span<byte> destination, uint senderSsrc, uint mediaSsrc, ReadOnlySpan<ushort> lost)
    {
        if (lost.IsEmpty) return 0;
        // Count the entries first so the length is known.
        var entries = 0;
        for (var i = 0; i < lost.Length;)
        {
            var pid = lost[i++];
            while (i < lost.Length && (ushort)(lost[i] - pid) is >= 1 and <= 16) i++;
            entries++;
        }
        var length = Feedback.HeaderLength + 4 * entries;
        if (Feedback.WriteHeader(destination, RtcpPacketType.TransportFeedback, RtcpPacketType.FmtNack, senderSsrc, mediaSsrc, length) == 0) return 0;
        var offset = Feedback.HeaderLength;
        for (var i = 0; i < lost.Length;)
        {
            var pid = lost[i++];
            ushort blp = 0;
            while (i < lost.Length && (ushort)(lost[i] - pid) is >= 1 and <= 16)
            {
                blp |= (ushort)(1 << ((ushort)(lost[i] - pid) - 1));
                i++;
            }
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], pid);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], blp);
            offset += 4;
        }
        return length;
    }
}

/// <summary>Picture loss indication (RFC 4585 §6.3.1): a payload-specific feedback with FMT 1 and no FCI.</summary>
public static class PictureLossIndication
{
    /// <summary>Size on the wire.</summary>
    public const int Length = 12;

    /// <summary>Reads a PLI.</summary>
    public static bool TryParse(RtcpPacket packet, out uint senderSsrc, out uint mediaSsrc) =>
        Feedback.TryParse(packet, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtPli, out senderSsrc, out mediaSsrc, out _);

    /// <summary>Writes a PLI; returns 12, or 0 when it does not fit.</summary>
    public static int Write(Span<byte> destination, uint senderSsrc, uint mediaSsrc) =>
        Feedback.WriteHeader(destination, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtPli, senderSsrc, mediaSsrc, Length);
}

/// <summary>Full intra request (RFC 5104 §4.3.1): FCI entries of SSRC, command sequence number and 24 reserved bits.</summary>
public static class FullIntraRequest
{
    /// <summary>Reads the first FIR entry.</summary>
    public static bool TryParse(RtcpPacket packet, out uint senderSsrc, out uint targetSsrc, out byte sequence)
    {
        targetSsrc = 0;
        sequence = 0;
        if (!Feedback.TryParse(packet, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtFir, out senderSsrc, out _, out var fci) || fci.Length < 8 || fci.Length % 8 != 0)
            return false;
        targetSsrc = BinaryPrimitives.ReadUInt32BigEndian(fci);
        sequence = fci[4];
        return true;
    }

    /// <summary>Writes a FIR with one entry (the header's media SSRC is 0, as §4.3.1.2 says). Returns 20, or 0 when it does not fit.</summary>
    public static int Write(Span<byte> destination, uint senderSsrc, uint targetSsrc, byte sequence)
    {
        const int length = Feedback.HeaderLength + 8;
        if (Feedback.WriteHeader(destination, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtFir, senderSsrc, 0, length) == 0) return 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], targetSsrc);
        destination[16] = sequence;
        destination[17..20].Clear();
        return length;
    }
}

/// <summary>
/// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 §2.2): application-layer
/// feedback with 'REMB', the SSRC count, a 6-bit exponent and 18-bit mantissa, then the SSRCs.
/// </summary>
public static class Remb
{
    private static ReadOnlySpan<byte> Identifier => "REMB"u8;

    /// <summary>Reads a REMB: the bitrate and the SSRCs it applies to (written into <paramref name="ssrcs"/>; <paramref name="count"/> says how many there were).</summary>
    public static bool TryParse(RtcpPacket packet, out uint senderSsrc, out ulong bitrate, Span<uint> ssrcs, out int count)
    {
        bitrate = 0;
        count = 0;
        if (!Feedback.TryParse(packet, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtAfb, out senderSsrc, out _, out var fci) || fci.Length < 8 || !fci[..4].SequenceEqual(Identifier))
            return false;
        count = fci[4];
        if (fci.Length < 8 + 4 * count) return false;
        var exponent = fci[5] >> 2;
        var mantissa = ((fci[5] & 0x03) << 16) | (fci[6] << 8) | fci[7];
        bitrate = (ulong)mantissa << exponent;
        for (var i = 0; i < count && i < ssrcs.Length; i++) ssrcs[i] = BinaryPrimitives.ReadUInt32BigEndian(fci[(8 + 4 * i)..]);
        return true;
    }

    /// <summary>Writes a REMB for <paramref name="bitrate"/> bits per second (rounded down to what 18 bits of mantissa hold). Returns bytes written, or 0.</summary>
    public static int Write(Span<byte> destination, uint senderSsrc, ulong bitrate, ReadOnlySpan<uint> ssrcs)
    {
        if (ssrcs.Length > 255) return 0;
        var length = Feedback.HeaderLength + 8 + 4 * ssrcs.Length;
        if (Feedback.WriteHeader(destination, RtcpPacketType.PayloadFeedback, RtcpPacketType.FmtAfb, senderSsrc, 0, length) == 0) return 0;
        var exponent = 0;
        while (bitrate >> exponent > 0x3FFFF && exponent < 63) exponent++;
        var mantissa = (uint)(bitrate >> exponent);
        Identifier.CopyTo(destination[12..]);
        destination[16] = (byte)ssrcs.Length;
        destination[17] = (byte)((exponent << 2) | (int)(mantissa >> 16));
        destination[18] = (byte)(mantissa >> 8);
        destination[19] = (byte)mantissa;
        for (var i = 0; i < ssrcs.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(destination[(20 + 4 * i)..], ssrcs[i]);
        return length;
    }
}
