using System.Buffers.Binary;

namespace Ferry.Protocols.Net;

/// <summary>What <see cref="Rfc4571Framing.TryReadFrame"/> found at the start of a stream buffer.</summary>
public enum FrameReadResult : byte
{
    /// <summary>A whole frame: its packet is at offset 2, <c>frameLength</c> bytes long.</summary>
    Frame,
    /// <summary>Not enough bytes yet for the header or the packet; read more.</summary>
    NeedMore,
    /// <summary>LENGTH is 0: no STUN, DTLS, RTP or RTCP packet is empty, so the stream is not ICE-TCP.</summary>
    EmptyFrame,
    /// <summary>LENGTH is above the receiver's limit.</summary>
    Oversized,
}

/// <summary>
/// RFC 4571 §2 framing, which ICE-TCP (RFC 6544 §3) uses for every STUN, DTLS, RTP and RTCP packet
/// on a TCP connection: each packet is preceded by its length.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             LENGTH            |  STUN, DTLS, RTP or RTCP ...  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// LENGTH is an unsigned 16-bit integer in network order counting the bytes after it.
/// </summary>
public static class Rfc4571Framing
{
    /// <summary>Bytes of the LENGTH field.</summary>
    public const int HeaderLength = 2;

    /// <summary>The largest packet the format can carry.</summary>
    public const int MaxPacketLength = ushort.MaxValue;

    /// <summary>
    /// Looks at the start of <paramref name="buffer"/> (bytes read from the stream, not yet consumed).
    /// On <see cref="FrameReadResult.Frame"/>, the packet is <c>buffer[2..(2 + frameLength)]</c>.
    /// </summary>
    /// <param name="buffer">Unconsumed stream bytes.</param>
    /// <param name="maxPacketLength">Largest packet the receiver accepts.</param>
    /// <param name="frameLength">The packet's length, once the header is complete.</param>
    public static FrameReadResult TryReadFrame(ReadOnlySpan<byte> buffer, int maxPacketLength, out int frameLength)
    {
        if (buffer.Length < HeaderLength)
        {
            frameLength = 0;
            return FrameReadResult.NeedMore;
        }
        frameLength = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        if (frameLength == 0) return FrameReadResult.EmptyFrame;
        if (frameLength > maxPacketLength) return FrameReadResult.Oversized;
        return buffer.Length - HeaderLength >= frameLength ? FrameReadResult.Frame : FrameReadResult.NeedMore;
    }

    /// <summary>Writes the LENGTH field for a packet of <paramref name="packetLength"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The packet does not fit the 16-bit field.</exception>
    public static void WriteHeader(Span<byte> destination, int packetLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(packetLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(packetLength, MaxPacketLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)packetLength);
    }
}
