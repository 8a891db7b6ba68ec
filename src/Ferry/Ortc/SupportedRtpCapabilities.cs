using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Ortc;

/// <summary>
/// Everything a Ferry router can offer, as mediasoup 3.14's supportedRtpCapabilities lists it
/// (codecs with default parameters and RTCP feedback, header extensions with their preferred ids
/// and directions), plus AV1 and the AV1 dependency descriptor. A router's capabilities are the
/// subset its mediaCodecs pick from here; its header extensions are always this whole list, and
/// those ids are the canonical id space producer packets are rewritten into.
/// </summary>
public static class SupportedRtpCapabilities
{
    private static readonly RtcpFeedback[] AudioFeedback = [Fb("nack"), Fb("transport-cc")];
    private static readonly RtcpFeedback[] TransportCcOnly = [Fb("transport-cc")];
    private static readonly RtcpFeedback[] VideoFeedback = [Fb("nack"), Fb("nack", "pli"), Fb("ccm", "fir"), Fb("goog-remb"), Fb("transport-cc")];

    /// <summary>The capabilities.</summary>
    public static RtpCapabilities Value { get; } = new()
    {
        Codecs =
        [
            Audio("audio/opus", 48000, 2, AudioFeedback),
            Audio("audio/multiopus", 48000, 4, AudioFeedback, P(("channel_mapping", "0,1,2,3"), ("num_streams", 2), ("coupled_streams", 2))),
            Audio("audio/multiopus", 48000, 6, AudioFeedback, P(("channel_mapping", "0,4,1,2,3,5"), ("num_streams", 4), ("coupled_streams", 2))),
            Audio("audio/multiopus", 48000, 8, AudioFeedback, P(("channel_mapping", "0,6,1,2,3,4,5,7"), ("num_streams", 5), ("coupled_streams", 3))),
            Audio("audio/PCMU", 8000, 1, TransportCcOnly, payloadType: 0),
            Audio("audio/PCMA", 8000, 1, TransportCcOnly, payloadType: 8),
            Audio("audio/ISAC", 32000, 1, TransportCcOnly),
            Audio("audio/ISAC", 16000, 1, TransportCcOnly),
            Audio("audio/G722", 8000, 1, TransportCcOnly, payloadType: 9),
            Audio("audio/iLBC", 8000, 1, TransportCcOnly),
            Audio("audio/SILK", 24000, 1, TransportCcOnly),
            Audio("audio/SILK", 16000, 1, TransportCcOnly),
            Audio("audio/SILK", 12000, 1, TransportCcOnly),
            Audio("audio/SILK", 8000, 1, TransportCcOnly),
            Audio("audio/CN", 32000, 1, [], payloadType: 13),
            Audio("audio/CN", 16000, 1, [], payloadType: 13),
            Audio("audio/CN", 8000, 1, [], payloadType: 13),
            Audio("audio/telephone-event", 48000, 1, []),
            Audio("audio/telephone-event", 32000, 1, []),
            Audio("audio/telephone-event", 16000, 1, []),
            Audio("audio/telephone-event", 8000, 1, []),
            Video("video/VP8"),
            Video("video/VP9"),
            Video("video/H264", P(("level-asymmetry-allowed", 1))),
            Video("video/H264-SVC", P(("level-asymmetry-allowed", 1))),
            Video("video/H265", P(("level-asymmetry-allowed", 1))),
            Video("video/AV1"),
        ],
        HeaderExtensions =
        [
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.Mid, 1),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.Mid, 1),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.RtpStreamId, 2, RtpHeaderExtensionDirection.RecvOnly),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.RepairedRtpStreamId, 3, RtpHeaderExtensionDirection.RecvOnly),
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.AbsSendTime, 4),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.AbsSendTime, 4),
            // Audio transport-cc only one way: mediasoup does not send it to audio consumers.
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.TransportWideCc01, 5, RtpHeaderExtensionDirection.RecvOnly),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.TransportWideCc01, 5),
            Ext(MediaKind.Video, "http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07", 6),
            Ext(MediaKind.Video, "urn:ietf:params:rtp-hdrext:framemarking", 7),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.DependencyDescriptor, 8, RtpHeaderExtensionDirection.RecvOnly),
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.SsrcAudioLevel, 10),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.VideoOrientation, 11),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.TimeOffset, 12),
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.AbsCaptureTime, 13),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.AbsCaptureTime, 13),
            Ext(MediaKind.Audio, RtpHeaderExtensionUris.PlayoutDelay, 14),
            Ext(MediaKind.Video, RtpHeaderExtensionUris.PlayoutDelay, 14),
        ],
    };

    private static RtcpFeedback Fb(string type, string parameter = "") => new() { Type = type, Parameter = parameter };

    private static Dictionary<string, CodecParameterValue> P(params (string Key, CodecParameterValue Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value);

    private static RtpCodecCapability Audio(string mime, int clockRate, int channels, RtcpFeedback[] feedback,
        Dictionary<string, CodecParameterValue>? parameters = null, int? payloadType = null) => new()
    {
        Kind = MediaKind.Audio, MimeType = mime, ClockRate = clockRate, Channels = channels, PreferredPayloadType = payloadType,
        Parameters = parameters ?? new Dictionary<string, CodecParameterValue>(), RtcpFeedback = feedback,
    };

    private static RtpCodecCapability Video(string mime, Dictionary<string, CodecParameterValue>? parameters = null) => new()
    {
        Kind = MediaKind.Video, MimeType = mime, ClockRate = 90000,
        Parameters = parameters ?? new Dictionary<string, CodecParameterValue>(), RtcpFeedback = VideoFeedback,
    };

    private static RtpHeaderExtension Ext(MediaKind kind, string uri, int id, RtpHeaderExtensionDirection direction = RtpHeaderExtensionDirection.SendRecv) => new()
    {
        Kind = kind, Uri = uri, PreferredId = id, PreferredEncrypt = false, Direction = direction,
    };
}
