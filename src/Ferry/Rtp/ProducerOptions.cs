using Ferry.Protocols.Ortc;

namespace Ferry.Rtp;

/// <summary>Options of <see cref="Transports.Transport.ProduceAsync"/>, as mediasoup's <c>ProducerOptions</c>.</summary>
public sealed record ProducerOptions
{
    /// <summary>Id to give the producer (pipes keep the original's); a new UUID when null.</summary>
    public string? Id { get; init; }

    /// <summary>audio or video.</summary>
    public required MediaKind Kind { get; init; }

    /// <summary>What the endpoint sends, as mediasoup-client's <c>produce()</c> gives it.</summary>
    public required RtpParameters RtpParameters { get; init; }

    /// <summary>Created paused.</summary>
    public bool Paused { get; init; }

    /// <summary>Minimum time between key frame requests sent to the endpoint (video); zero sends each at once.</summary>
    public TimeSpan KeyFrameRequestDelay { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>Options of <see cref="Transports.Transport.ConsumeAsync"/>, as mediasoup's <c>ConsumerOptions</c>.</summary>
public sealed record ConsumerOptions
{
    /// <summary>The producer to consume (any producer of the transport's router).</summary>
    public required string ProducerId { get; init; }

    /// <summary>What the receiving endpoint can receive (mediasoup-client's <c>device.rtpCapabilities</c>).</summary>
    public required RtpCapabilities RtpCapabilities { get; init; }

    /// <summary>Created paused; recommended for video, resumed once the client has its consumer.</summary>
    public bool Paused { get; init; }

    /// <summary>The MID to use; a per-transport counter when null.</summary>
    public string? Mid { get; init; }

    /// <summary>Preferred layers for simulcast/SVC.</summary>
    public ConsumerLayers? PreferredLayers { get; init; }

    /// <summary>Drop Opus DTX packets.</summary>
    public bool IgnoreDtx { get; init; }

    /// <summary>Offer RTX; default true for video producers, false for audio.</summary>
    public bool? EnableRtx { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>A spatial and temporal layer pair.</summary>
/// <param name="SpatialLayer">Spatial layer (simulcast stream index).</param>
/// <param name="TemporalLayer">Temporal layer; the highest when null.</param>
public sealed record ConsumerLayers(int SpatialLayer, int? TemporalLayer = null);

/// <summary>A producer stream's score (mediasoup's ProducerScore).</summary>
/// <param name="EncodingIdx">Encoding index.</param>
/// <param name="Ssrc">SSRC.</param>
/// <param name="Rid">RID, for simulcast by rid.</param>
/// <param name="Score">0 (bad) to 10 (good).</param>
public sealed record ProducerScore(int EncodingIdx, uint Ssrc, string? Rid, int Score);

/// <summary>A consumer's score (mediasoup's ConsumerScore).</summary>
/// <param name="Score">Of the stream sent to the endpoint.</param>
/// <param name="ProducerScore">Of the producer stream currently forwarded.</param>
/// <param name="ProducerScores">Of every producer stream.</param>
public sealed record ConsumerScore(int Score, int ProducerScore, IReadOnlyList<int> ProducerScores);
