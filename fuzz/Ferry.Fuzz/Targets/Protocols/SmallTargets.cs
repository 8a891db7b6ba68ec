using Ferry.Protocols;
using Ferry.Protocols.Net;
using Ferry.Protocols.Sctp;

namespace Ferry.Fuzz;

/// <summary>The parsers too small for a file of their own: DCEP and the RFC 4571 framing of ICE-TCP.</summary>
internal static class SmallTargets
{
    /// <summary>DATA_CHANNEL_OPEN (RFC 8832 §5.1). Input: one DCEP message. What parses must write back to the same bytes.</summary>
    public static void Dcep(ReadOnlySpan<byte> input)
    {
        if (!DcepOpen.TryParse(input, out var open)) return;
        _ = open.Ordered;
        _ = open.SendOptions;
        var written = open.ToBytes();
        if (!written.AsSpan().SequenceEqual(input)) throw new FuzzInvariantException("a DCEP OPEN does not write back to its bytes");
        if (!DcepOpen.TryParse(written, out var again) || again != open) throw new FuzzInvariantException("a written DCEP OPEN does not parse back");
    }

    /// <summary>
    /// RFC 4571 framing as a TCP connection reads it: the input is the byte stream, delivered in
    /// chunks whose sizes come from its first byte; frames are taken as TcpConnection takes them
    /// (1500 bytes at most) and classified as the transport would.
    /// </summary>
    public static void Rfc4571(ReadOnlySpan<byte> input)
    {
        var chunk = input.IsEmpty ? 1 : input[0] % 64 + 1;
        var stream = input.IsEmpty ? input : input[1..];
        var received = 0;
        var offset = 0;
        while (received < stream.Length)
        {
            received = Math.Min(stream.Length, received + chunk);
            while (true)
            {
                var result = Rfc4571Framing.TryReadFrame(stream[offset..received], 1500, out var length);
                if (result == FrameReadResult.NeedMore) break;
                if (result != FrameReadResult.Frame) return;
                if (length <= 0 || length > 1500 || offset + Rfc4571Framing.HeaderLength + length > received)
                    throw new FuzzInvariantException($"frame of {length} bytes at {offset} of {received}");
                PacketClassifier.Classify(stream.Slice(offset + Rfc4571Framing.HeaderLength, length));
                offset += Rfc4571Framing.HeaderLength + length;
            }
        }
    }
}
