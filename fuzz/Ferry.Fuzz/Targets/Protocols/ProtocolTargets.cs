namespace Ferry.Fuzz;

/// <summary>The targets over Ferry.Protocols (run.sh instruments Ferry.Protocols.dll for them).</summary>
internal static class ProtocolTargets
{
    public static readonly IReadOnlyList<NamedTarget> All =
    [
        new("stun", StunTarget.Run),
        new("rtp", RtpTarget.Run),
        new("rtcp", RtcpTarget.Run),
        new("dtls", DtlsTarget.Run),
        new("sctp", SctpTarget.Run),
        new("dcep", SmallTargets.Dcep),
        new("srtp", SrtpTarget.Run),
        new("vp8", CodecTargets.Vp8),
        new("vp9", CodecTargets.Vp9),
        new("h264", CodecTargets.H264),
        new("h265", CodecTargets.H265),
        new("av1", CodecTargets.Av1),
        new("opus", CodecTargets.Opus),
        new("rfc4571", SmallTargets.Rfc4571),
    ];
}
