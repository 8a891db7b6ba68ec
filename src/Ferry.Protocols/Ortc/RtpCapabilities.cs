using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Protocols.Ortc;

/// <summary>What an endpoint or a router can send and receive (mediasoup's RtpCapabilities).</summary>
public sealed record RtpCapabilities
{
    /// <summary>Supported codecs.</summary>
    public IReadOnlyList<RtpCodecCapability>? Codecs { get; init; }
    /// <summary>Supported header extensions.</summary>
    public IReadOnlyList<RtpHeaderExtension>? HeaderExtensions { get; init; }
}

/// <summary>A supported codec.</summary>
public sealed record RtpCodecCapability
{
    /// <summary>Media kind.</summary>
    public required MediaKind Kind { get; init; }
    /// <summary>MIME type ("audio/opus", "video/VP8").</summary>
    public required string MimeType { get; init; }
    /// <summary>Payload type (required in endpoint capabilities, optional in router mediaCodecs).</summary>
    public int? PreferredPayloadType { get; init; }
    /// <summary>Clock rate in Hz.</summary>
    public required int ClockRate { get; init; }
    /// <summary>Channels (audio only).</summary>
    public int? Channels { get; init; }
    /// <summary>Codec-specific parameters.</summary>
    public IReadOnlyDictionary<string, CodecParameterValue>? Parameters { get; init; }
    /// <summary>RTCP feedback supported.</summary>
    public IReadOnlyList<RtcpFeedback>? RtcpFeedback { get; init; }
}

/// <summary>An RTCP feedback mechanism ("nack", "nack pli", "ccm fir", "goog-remb", "transport-cc").</summary>
public sealed record RtcpFeedback
{
    /// <summary>Type ("nack", "ccm", "goog-remb", "transport-cc").</summary>
    public required string Type { get; init; }
    /// <summary>Parameter ("pli", "fir"), absent or empty when none.</summary>
    public string? Parameter { get; init; }
}

/// <summary>A supported header extension.</summary>
public sealed record RtpHeaderExtension
{
    /// <summary>Media kind.</summary>
    public required MediaKind Kind { get; init; }
    /// <summary>Extension URI.</summary>
    public required string Uri { get; init; }
    /// <summary>Preferred id.</summary>
    public required int PreferredId { get; init; }
    /// <summary>Whether the extension is encrypted (RFC 6904).</summary>
    public bool? PreferredEncrypt { get; init; }
    /// <summary>Direction, from the router's point of view.</summary>
    public RtpHeaderExtensionDirection? Direction { get; init; }
}

/// <summary>How a stream is sent or received (mediasoup's RtpParameters).</summary>
public sealed record RtpParameters
{
    /// <summary>The MID (BUNDLE) of the stream.</summary>
    public string? Mid { get; init; }
    /// <summary>Codecs in use.</summary>
    public required IReadOnlyList<RtpCodecParameters> Codecs { get; init; }
    /// <summary>Header extensions in use.</summary>
    public IReadOnlyList<RtpHeaderExtensionParameters>? HeaderExtensions { get; init; }
    /// <summary>Encodings (one per simulcast stream).</summary>
    public IReadOnlyList<RtpEncodingParameters>? Encodings { get; init; }
    /// <summary>RTCP settings.</summary>
    public RtcpParameters? Rtcp { get; init; }
    /// <summary>msid, as newer mediasoup-client versions send it.</summary>
    public string? Msid { get; init; }
}

/// <summary>A codec in use.</summary>
public sealed record RtpCodecParameters
{
    /// <summary>MIME type.</summary>
    public required string MimeType { get; init; }
    /// <summary>Payload type.</summary>
    public required int PayloadType { get; init; }
    /// <summary>Clock rate in Hz.</summary>
    public required int ClockRate { get; init; }
    /// <summary>Channels (audio).</summary>
    public int? Channels { get; init; }
    /// <summary>Codec-specific parameters.</summary>
    public IReadOnlyDictionary<string, CodecParameterValue>? Parameters { get; init; }
    /// <summary>RTCP feedback in use.</summary>
    public IReadOnlyList<RtcpFeedback>? RtcpFeedback { get; init; }
}

/// <summary>A header extension in use.</summary>
public sealed record RtpHeaderExtensionParameters
{
    /// <summary>URI.</summary>
    public required string Uri { get; init; }
    /// <summary>Id on the wire.</summary>
    public required int Id { get; init; }
    /// <summary>Whether it is encrypted.</summary>
    public bool? Encrypt { get; init; }
    /// <summary>Extension parameters.</summary>
    public IReadOnlyDictionary<string, CodecParameterValue>? Parameters { get; init; }
}

/// <summary>The RTX stream of an encoding.</summary>
public sealed record RtxParameters
{
    /// <summary>RTX SSRC.</summary>
    public required uint Ssrc { get; init; }
}

/// <summary>One encoding (stream). Fields Ferry does not use are kept as they came, as mediasoup keeps them.</summary>
public sealed record RtpEncodingParameters
{
    /// <summary>SSRC.</summary>
    public uint? Ssrc { get; init; }
    /// <summary>RID (RFC 8851).</summary>
    public string? Rid { get; init; }
    /// <summary>Payload type of the codec this encoding uses.</summary>
    public int? CodecPayloadType { get; init; }
    /// <summary>RTX stream.</summary>
    public RtxParameters? Rtx { get; init; }
    /// <summary>Discontinuous transmission.</summary>
    public bool? Dtx { get; init; }
    /// <summary>Scalability mode ("L1T3", "L3T3_KEY").</summary>
    public string? ScalabilityMode { get; init; }
    /// <summary>Resolution scale-down factor.</summary>
    public double? ScaleResolutionDownBy { get; init; }
    /// <summary>Maximum bitrate, bps.</summary>
    public long? MaxBitrate { get; init; }
    /// <summary>Maximum frame rate.</summary>
    public double? MaxFramerate { get; init; }
    /// <summary>Adaptive ptime (audio).</summary>
    public bool? AdaptivePtime { get; init; }
    /// <summary>Priority ("very-low" ... "high").</summary>
    public string? Priority { get; init; }
    /// <summary>Network priority.</summary>
    public string? NetworkPriority { get; init; }
    /// <summary>Any other field the client sent (active, ...), kept verbatim.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>RTCP settings of a stream.</summary>
public sealed record RtcpParameters
{
    /// <summary>CNAME.</summary>
    public string? Cname { get; init; }
    /// <summary>Reduced-size RTCP (RFC 5506); mediasoup's default is true.</summary>
    public bool? ReducedSize { get; init; }
}
