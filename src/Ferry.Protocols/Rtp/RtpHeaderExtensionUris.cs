namespace Ferry.Protocols.Rtp;

/// <summary>URIs of the RTP header extensions Ferry understands (as mediasoup's supported capabilities spell them).</summary>
public static class RtpHeaderExtensionUris
{
    /// <summary>RFC 8843 MID.</summary>
    public const string Mid = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// <summary>RFC 8852 RtpStreamId (rid).</summary>
    public const string RtpStreamId = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// <summary>RFC 8852 RepairedRtpStreamId (the rid of the stream an RTX stream repairs).</summary>
    public const string RepairedRtpStreamId = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
    /// <summary>Absolute send time (24-bit 6.18 fixed-point seconds).</summary>
    public const string AbsSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// <summary>Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).</summary>
    public const string TransportWideCc01 = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// <summary>RFC 6464 client-to-mixer audio level.</summary>
    public const string SsrcAudioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    /// <summary>3GPP coordination of video orientation.</summary>
    public const string VideoOrientation = "urn:3gpp:video-orientation";
    /// <summary>RFC 5450 transmission time offset.</summary>
    public const string TimeOffset = "urn:ietf:params:rtp-hdrext:toffset";
    /// <summary>Absolute capture time.</summary>
    public const string AbsCaptureTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
    /// <summary>Playout delay limits.</summary>
    public const string PlayoutDelay = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
    /// <summary>AV1 dependency descriptor.</summary>
    public const string DependencyDescriptor = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";
}
