using Ferry.Ortc;
using Ferry.Protocols.Ortc;

namespace Ferry;

/// <summary>A producer's dump (mediasoup's field names).</summary>
public sealed record ProducerDump
{
    /// <summary>Id.</summary>
    public required string Id { get; init; }
    /// <summary>audio or video.</summary>
    public required MediaKind Kind { get; init; }
    /// <summary>simple, simulcast or svc.</summary>
    public required ProducerType Type { get; init; }
    /// <summary>The parameters it was created with.</summary>
    public required RtpParameters RtpParameters { get; init; }
    /// <summary>Payload type and SSRC mapping into the router.</summary>
    public required RtpMapping RtpMapping { get; init; }
    /// <summary>Its receive streams.</summary>
    public required IReadOnlyList<RtpStreamDump> RtpStreams { get; init; }
    /// <summary>True while paused.</summary>
    public required bool Paused { get; init; }
}

/// <summary>One RTP stream in a dump.</summary>
/// <param name="EncodingIdx">Encoding index.</param>
/// <param name="Ssrc">SSRC on the wire.</param>
/// <param name="Rid">RID, when the encoding has one.</param>
/// <param name="MappedSsrc">SSRC in the router (producers only).</param>
/// <param name="RtxSsrc">RTX SSRC, when known.</param>
/// <param name="Score">Score 0..10.</param>
/// <param name="PacketCount">Packets so far.</param>
public sealed record RtpStreamDump(int EncodingIdx, uint Ssrc, string? Rid, uint? MappedSsrc, uint? RtxSsrc, int Score, long PacketCount);

/// <summary>A consumer's dump (mediasoup's field names).</summary>
public sealed record ConsumerDump
{
    /// <summary>Id.</summary>
    public required string Id { get; init; }
    /// <summary>The producer consumed.</summary>
    public required string ProducerId { get; init; }
    /// <summary>audio or video.</summary>
    public required MediaKind Kind { get; init; }
    /// <summary>simple, simulcast, svc or pipe.</summary>
    public required ConsumerType Type { get; init; }
    /// <summary>What the endpoint receives.</summary>
    public required RtpParameters RtpParameters { get; init; }
    /// <summary>Media payload types it forwards.</summary>
    public required IReadOnlyList<int> SupportedCodecPayloadTypes { get; init; }
    /// <summary>Paused by the application.</summary>
    public required bool Paused { get; init; }
    /// <summary>Its producer is paused.</summary>
    public required bool ProducerPaused { get; init; }
    /// <summary>Priority.</summary>
    public required int Priority { get; init; }
    /// <summary>The outbound stream.</summary>
    public required RtpStreamDump RtpStream { get; init; }
    /// <summary>Preferred spatial layer (simulcast/svc).</summary>
    public int? PreferredSpatialLayer { get; init; }
    /// <summary>Preferred temporal layer (simulcast/svc).</summary>
    public int? PreferredTemporalLayer { get; init; }
    /// <summary>Spatial layer being forwarded.</summary>
    public int? CurrentSpatialLayer { get; init; }
    /// <summary>Temporal layer being forwarded.</summary>
    public int? CurrentTemporalLayer { get; init; }
    /// <summary>Spatial layer aimed for (preferred, capped by the bandwidth allocation; simulcast).</summary>
    public int? TargetSpatialLayer { get; init; }
    /// <summary>Temporal layer aimed for (simulcast).</summary>
    public int? TargetTemporalLayer { get; init; }
}

/// <summary>A transport's dump (mediasoup's field names for the parts Ferry has).</summary>
public sealed record TransportDump
{
    /// <summary>Id.</summary>
    public required string Id { get; init; }
    /// <summary>True for a DirectTransport.</summary>
    public required bool Direct { get; init; }
    /// <summary>Its producers.</summary>
    public required IReadOnlyList<string> ProducerIds { get; init; }
    /// <summary>Its consumers.</summary>
    public required IReadOnlyList<string> ConsumerIds { get; init; }
    /// <summary>Consumers by their media SSRC.</summary>
    public required IReadOnlyDictionary<uint, string> MapSsrcConsumerId { get; init; }
    /// <summary>Consumers by their RTX SSRC.</summary>
    public required IReadOnlyDictionary<uint, string> MapRtxSsrcConsumerId { get; init; }
    /// <summary>The RTP listener: producers by SSRC and by MID.</summary>
    public required RtpListenerDump RtpListener { get; init; }
    /// <summary>Trace event types enabled (enableTraceEvent).</summary>
    public IReadOnlyList<string> TraceEventTypes { get; init; } = [];
    /// <summary>WebRTC: always "controlled".</summary>
    public string? IceRole { get; init; }
    /// <summary>WebRTC: ICE credentials.</summary>
    public IceParameters? IceParameters { get; init; }
    /// <summary>WebRTC: its candidates (UDP, and TCP passive).</summary>
    public IReadOnlyList<IceCandidate>? IceCandidates { get; init; }
    /// <summary>WebRTC: ICE state.</summary>
    public IceStateName? IceState { get; init; }
    /// <summary>WebRTC: the selected tuple, with its protocol ("udp" or "tcp").</summary>
    public TransportTupleInfo? IceSelectedTuple { get; init; }
    /// <summary>WebRTC: DTLS parameters.</summary>
    public DtlsParameters? DtlsParameters { get; init; }
    /// <summary>WebRTC: DTLS state.</summary>
    public DtlsStateName? DtlsState { get; init; }
    /// <summary>WebRTC with TCP listen infos (a Ferry addition): its ICE-TCP counters.</summary>
    public Transports.TcpStats? Tcp { get; init; }
    /// <summary>Its data producers.</summary>
    public IReadOnlyList<string> DataProducerIds { get; init; } = [];
    /// <summary>Its data consumers.</summary>
    public IReadOnlyList<string> DataConsumerIds { get; init; } = [];
    /// <summary>SCTP parameters, when SCTP is enabled.</summary>
    public SctpParameters? SctpParameters { get; init; }
    /// <summary>SCTP state, when SCTP is enabled.</summary>
    public SctpStateName? SctpState { get; init; }
    /// <summary>mediasoup's sctpListener.streamIdTable: data producer id by incoming stream id.</summary>
    public IReadOnlyDictionary<int, string>? SctpListener { get; init; }
}

/// <summary>Where incoming RTP goes.</summary>
/// <param name="SsrcTable">Producer id by SSRC (media and RTX).</param>
/// <param name="MidTable">Producer id by MID.</param>
public sealed record RtpListenerDump(IReadOnlyDictionary<uint, string> SsrcTable, IReadOnlyDictionary<string, string> MidTable);
