namespace Ferry.Protocols;

/// <summary>What a datagram on a WebRTC 5-tuple carries.</summary>
public enum PacketKind : byte
{
    /// <summary>Nothing recognisable; drop and count.</summary>
    Unknown,
    /// <summary>STUN (ICE checks).</summary>
    Stun,
    /// <summary>DTLS records.</summary>
    Dtls,
    /// <summary>RTP (or SRTP).</summary>
    Rtp,
    /// <summary>RTCP (or SRTCP).</summary>
    Rtcp,
}

/// <summary>
/// The one place datagrams are told apart, by their first byte (RFC 7983 §7) and, for RTP versus
/// RTCP on a muxed port, by the second byte (RFC 5761 §4: RTCP packet types 192-223 fall where the
/// RTP marker bit plus payload type would be, and those payload types are reserved).
/// </summary>
public static class PacketClassifier
{
    /// <summary>Classifies one datagram.</summary>
    public static PacketKind Classify(ReadOnlySpan<byte> datagram)
    {
        if (datagram.IsEmpty) return PacketKind.Unknown;
        var first = datagram[0];
        // +----------------+
        // |        [0..3] -+--> STUN
        // |      [20..63] -+--> DTLS
        // |    [128..191] -+--> RTP/RTCP
        // +----------------+   (16-19 ZRTP, 64-79 TURN channel: not used by Ferry)
        if (first <= 3) return datagram.Length >= 20 ? PacketKind.Stun : PacketKind.Unknown;
        if (first is >= 20 and <= 63) return datagram.Length >= 13 ? PacketKind.Dtls : PacketKind.Unknown;
        if (first is >= 128 and <= 191)
        {
            if (datagram.Length < 4) return PacketKind.Unknown;
            var type = datagram[1];
            if (type is >= 192 and <= 223) return datagram.Length >= 8 ? PacketKind.Rtcp : PacketKind.Unknown;
            return datagram.Length >= 12 ? PacketKind.Rtp : PacketKind.Unknown;
        }
        return PacketKind.Unknown;
    }
}
