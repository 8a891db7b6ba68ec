namespace Ferry.Ortc;

/// <summary>How a producer's payload types and SSRCs map into the router's (mediasoup's RtpMapping).</summary>
public sealed record RtpMapping
{
    /// <summary>Producer payload type to router payload type, media codecs first then RTX.</summary>
    public required IReadOnlyList<CodecMapping> Codecs { get; init; }
    /// <summary>One per producer encoding, with the SSRC the router uses for it.</summary>
    public required IReadOnlyList<EncodingMapping> Encodings { get; init; }

    /// <summary>A payload type mapping.</summary>
    /// <param name="PayloadType">The producer's.</param>
    /// <param name="MappedPayloadType">The router's.</param>
    public sealed record CodecMapping(int PayloadType, int MappedPayloadType);

    /// <summary>An encoding mapping.</summary>
    /// <param name="Ssrc">The producer's SSRC, when signalled.</param>
    /// <param name="Rid">The producer's RID, when signalled.</param>
    /// <param name="ScalabilityMode">Its scalability mode.</param>
    /// <param name="MappedSsrc">The SSRC inside the router.</param>
    public sealed record EncodingMapping(uint? Ssrc, string? Rid, string? ScalabilityMode, uint MappedSsrc);
}
