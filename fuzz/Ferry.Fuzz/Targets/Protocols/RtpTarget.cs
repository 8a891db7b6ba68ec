using Ferry.Protocols;
using Ferry.Protocols.Rtp;

namespace Ferry.Fuzz;

/// <summary>
/// RTP (RFC 3550) and its header extensions (RFC 8285), as a producer's packets are read and then
/// rewritten for each consumer. Input: one packet. It is parsed, every element read with every value
/// reader, then rewritten in place the ways the router does (ids remapped, an element added or
/// replaced, one removed, RTX encoded and decoded, padding removed); after each rewrite the packet
/// must still parse, and an element just set must read back.
/// </summary>
internal static class RtpTarget
{
    /// <summary>Room after the packet, as the router's buffers have for growth.</summary>
    private const int Room = 1200;

    private static readonly byte[] IdMap = [0, 3, 0, 1, 14, 2, 9, 5, 0, 15, 200, 4, 8, 7, 6];

    public static void Run(ReadOnlySpan<byte> input)
    {
        PacketClassifier.Classify(input);
        RtpPacket.TryGetHeaderLength(input, out _);
        if (input.Length > 2048) return;
        Span<byte> buffer = stackalloc byte[input.Length + Room];
        input.CopyTo(buffer);
        if (!RtpPacket.TryParse(buffer, input.Length, out var packet)) return;
        Read(packet);

        // What one consumer does: its own ids, then its own values (abs-send-time, transport-wide sequence).
        packet.RemapExtensionIds(IdMap);
        Reparse(buffer, packet.Length);
        Set(buffer, ref packet, 3, [0x01, 0x02, 0x03]);
        Set(buffer, ref packet, 5, [0x00, 0x07]);
        // An id and value from the input: the two-byte form, long values and odd ids.
        var id = input.Length > 12 ? input[12] : 1;
        var value = input.Length > 13 ? input[13..Math.Min(input.Length, 13 + input[1] % 40)] : [];
        Set(buffer, ref packet, id, value);
        packet.RemoveExtension(5);
        Reparse(buffer, packet.Length);

        if (packet.TryEncodeRtx(97, 0x11223344, 1000))
        {
            var rtx = Reparse(buffer, packet.Length);
            if (!rtx.TryDecodeRtx(96, 0x55667788)) throw new FuzzInvariantException("an RTX packet Ferry encoded does not decode");
            packet = Reparse(buffer, rtx.Length);
        }
        else if (packet.TryDecodeRtx(96, 0x55667788))
        {
            packet = Reparse(buffer, packet.Length);
        }
        packet.RemovePadding();
        Reparse(buffer, packet.Length);
        if (packet.SetPayloadLength(packet.PayloadLength / 2)) Reparse(buffer, packet.Length);
    }

    private static void Read(RtpPacket packet)
    {
        _ = packet.Marker;
        _ = packet.PayloadType;
        _ = packet.SequenceNumber;
        _ = packet.Timestamp;
        _ = packet.Ssrc;
        for (var i = 0; i < packet.CsrcCount; i++) packet.GetCsrc(i);
        _ = packet.Payload.Length;
        _ = packet.ExtensionProfile;
        foreach (var element in packet.Extensions)
        {
            var v = element.Value;
            RtpExtensionValues.TryReadAbsSendTime(v, out _);
            RtpExtensionValues.TryReadTransportWideSequence(v, out _);
            RtpExtensionValues.TryReadAudioLevel(v, out _, out _);
            RtpExtensionValues.TryReadVideoOrientation(v, out _, out _, out _);
            RtpExtensionValues.TryReadAbsCaptureTime(v, out _, out _);
            RtpExtensionValues.IsValidStreamId(v);
            packet.TryGetExtension(element.Id, out _);
        }
    }

    private static void Set(Span<byte> buffer, ref RtpPacket packet, int id, ReadOnlySpan<byte> value)
    {
        if (!packet.TryAddOrReplaceExtension(id, value)) return;
        packet = Reparse(buffer, packet.Length);
        if (!packet.TryGetExtension(id, out var read) || !read.SequenceEqual(value))
            throw new FuzzInvariantException($"extension {id} set to {value.Length} bytes does not read back");
    }

    private static RtpPacket Reparse(Span<byte> buffer, int length)
    {
        if (!RtpPacket.TryParse(buffer, length, out var packet)) throw new FuzzInvariantException("a packet Ferry rewrote does not parse");
        Read(packet);
        return packet;
    }
}
