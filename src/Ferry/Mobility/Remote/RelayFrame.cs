using System.Buffers.Binary;
using Ferry.Protocols.Net;

namespace Ferry.Mobility.Remote;

/// <summary>Kinds of <see cref="RelayFrame"/>.</summary>
internal enum RelayFrameKind : byte
{
    /// <summary>A datagram of the far end's tuple: source to target, what the far end sent; target to source, what to send it.</summary>
    Datagram = 1,
    /// <summary>Target to source: the far end's checks reached the target directly; the relay may end after its grace period.</summary>
    PathMoved = 2,
    /// <summary>
    /// Target to source (no payload): the far end's datagrams now reach the target directly. The source reads what its
    /// sockets hold (what the far end sent on the old path before it switched) and relays it, then answers <see cref="OldPathDrained"/>.
    /// </summary>
    DirectSeen = 3,
    /// <summary>Source to target (no payload): every datagram the far end sent on the old path before its switch is ahead of this frame.</summary>
    OldPathDrained = 4,
    /// <summary>Target to source (no payload): the target sends to the far end directly from now on; answered by <see cref="Flushed"/>.</summary>
    Flush = 5,
    /// <summary>Source to target (no payload): everything the target relayed before its <see cref="Flush"/> has left for the far end.</summary>
    Flushed = 6,
}

/// <summary>
/// The header the source and the target of a move between processes put on each datagram they relay
/// for a transport (sans-IO). Fixed 24 bytes: kind, version, the far end's port, the move's token (a
/// relay frame of another move, or a stray datagram, is dropped), the far end's address (16 bytes,
/// IPv4-mapped). The relay runs on its own UDP socket pair, so nothing else is demultiplexed with it.
/// </summary>
internal static class RelayFrame
{
    /// <summary>Header length.</summary>
    public const int HeaderLength = 24;

    /// <summary>The only version so far.</summary>
    public const byte Version = 1;

    /// <summary>Writes a header for <paramref name="kind"/> and <paramref name="farEnd"/> into <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, RelayFrameKind kind, uint token, in TransportTuple farEnd)
    {
        destination[0] = (byte)kind;
        destination[1] = Version;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], farEnd.Port);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], token);
        farEnd.WriteAddress(destination.Slice(8, 16));
    }

    /// <summary>Reads a frame; false (nothing read) for a short frame, an unknown kind or version, or another move's token.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, uint token, out RelayFrameKind kind, out TransportTuple farEnd, out int payloadOffset)
    {
        kind = default;
        farEnd = default;
        payloadOffset = HeaderLength;
        if (frame.Length < HeaderLength || frame[1] != Version) return false;
        if (frame[0] is < (byte)RelayFrameKind.Datagram or > (byte)RelayFrameKind.Flushed) return false;
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[4..]) != token) return false;
        kind = (RelayFrameKind)frame[0];
        farEnd = new TransportTuple(frame.Slice(8, 16), BinaryPrimitives.ReadUInt16BigEndian(frame[2..]), TransportProtocol.Udp);
        return true;
    }
}
