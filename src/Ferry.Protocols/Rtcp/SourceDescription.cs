using System.Buffers.Binary;
using System.Text;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// Source description (RFC 3550 §6.5): SC chunks, each an SSRC then items (type, length, text)
/// ended by a zero byte and padded to 32 bits. Ferry reads and writes CNAME (type 1); other items
/// are skipped.
/// </summary>
public static class SourceDescription
{
    /// <summary>Item type of CNAME.</summary>
    public const byte Cname = 1;

    /// <summary>Finds the CNAME of <paramref name="ssrc"/> (or of the first chunk when <paramref name="ssrc"/> is null).</summary>
    public static bool TryGetCname(RtcpPacket packet, uint? ssrc, out ReadOnlySpan<byte> cname)
    {
        cname = default;
        if (packet.Type != RtcpPacketType.SourceDescription) return false;
        var body = packet.Body;
        var offset = 0;
        for (var chunk = 0; chunk < packet.Count; chunk++)
        {
            if (offset + 4 > body.Length) return false;
            var chunkSsrc = BinaryPrimitives.ReadUInt32BigEndian(body[offset..]);
            offset += 4;
            while (true)
            {
                if (offset >= body.Length) return false;
                var type = body[offset];
                if (type == 0)
                {
                    // End of items; the chunk is padded to the next 32-bit boundary.
                    offset = (offset + 4) & ~3;
                    break;
                }
                if (offset + 2 > body.Length) return false;
                var length = body[offset + 1];
                if (offset + 2 + length > body.Length) return false;
                if (type == Cname && (ssrc is null || ssrc == chunkSsrc))
                {
                    cname = body.Slice(offset + 2, length);
                    return true;
                }
                offset += 2 + length;
            }
        }
        return false;
    }

    /// <summary>Writes an SDES packet with one chunk holding a CNAME. Returns bytes written, or 0 when it does not fit.</summary>
    public static int WriteCname(Span<byte> destination, uint ssrc, string cname)
    {
        var textLength = Encoding.UTF8.GetByteCount(cname);
        if (textLength > 255) return 0;
        // header 4 + SSRC 4 + type/length 2 + text + at least one zero byte, padded to 4.
        var length = (4 + 4 + 2 + textLength + 1 + 3) & ~3;
        if (length > destination.Length) return 0;
        RtcpPacket.WriteHeader(destination, 1, RtcpPacketType.SourceDescription, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        destination[8] = Cname;
        destination[9] = (byte)textLength;
        Encoding.UTF8.GetBytes(cname, destination[10..]);
        destination[(10 + textLength)..length].Clear();
        return length;
    }
}

/// <summary>Goodbye (RFC 3550 §6.6): SC SSRCs, then an optional length-prefixed reason.</summary>
public static class Bye
{
    /// <summary>Reads the SSRCs leaving into <paramref name="ssrcs"/>; returns how many, or -1 when malformed.</summary>
    public static int ReadSsrcs(RtcpPacket packet, Span<uint> ssrcs)
    {
        if (packet.Type != RtcpPacketType.Bye || packet.Body.Length < 4 * packet.Count) return -1;
        var n = Math.Min(packet.Count, ssrcs.Length);
        for (var i = 0; i < n; i++) ssrcs[i] = BinaryPrimitives.ReadUInt32BigEndian(packet.Body[(4 * i)..]);
        return n;
    }

    /// <summary>The reason text, if present and well-formed.</summary>
    public static bool TryGetReason(RtcpPacket packet, out ReadOnlySpan<byte> reason)
    {
        reason = default;
        var offset = 4 * packet.Count;
        if (packet.Type != RtcpPacketType.Bye || offset >= packet.Body.Length) return false;
        var length = packet.Body[offset];
        if (offset + 1 + length > packet.Body.Length) return false;
        reason = packet.Body.Slice(offset + 1, length);
        return true;
    }

    /// <summary>Writes a BYE for one SSRC with an optional reason. Returns bytes written, or 0 when it does not fit.</summary>
    public static int Write(Span<byte> destination, uint ssrc, string? reason = null)
    {
        var reasonLength = reason is null ? 0 : Encoding.UTF8.GetByteCount(reason);
        if (reasonLength > 255) return 0;
        var length = reason is null ? 8 : (8 + 1 + reasonLength + 3) & ~3;
        if (length > destination.Length) return 0;
        RtcpPacket.WriteHeader(destination, 1, RtcpPacketType.Bye, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ssrc);
        if (reason is not null)
        {
            destination[8] = (byte)reasonLength;
            Encoding.UTF8.GetBytes(reason, destination[9..]);
            destination[(9 + reasonLength)..length].Clear();
        }
        return length;
    }
}

/// <summary>Application-defined packet (RFC 3550 §6.7): subtype in the count field, SSRC, 4-character name, data.</summary>
public static class AppPacket
{
    /// <summary>Reads an APP packet.</summary>
    public static bool TryParse(RtcpPacket packet, out int subtype, out uint ssrc, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> data)
    {
        subtype = 0;
        ssrc = 0;
        name = data = default;
        if (packet.Type != RtcpPacketType.App || packet.Body.Length < 8) return false;
        subtype = packet.Count;
        ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet.Body);
        name = packet.Body.Slice(4, 4);
        data = packet.Body[8..];
        return true;
    }
}
