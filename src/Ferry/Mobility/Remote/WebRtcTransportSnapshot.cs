using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;

namespace Ferry.Mobility.Remote;

/// <summary>
/// A <see cref="Ferry.Transports.WebRtcTransport"/> with everything it holds, as versioned plain data:
/// what the source of a move between processes writes out at the handover and the target brings to
/// life. Numbers, strings, byte arrays and records of them; every time is a remaining duration from the
/// instant of export (rebased on import), never a clock reading. Serialisable with System.Text.Json.
/// </summary>
public sealed record WebRtcTransportSnapshot
{
    /// <summary>The version written by this build.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version; an importer refuses one it does not know.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The transport's id (kept by the move).</summary>
    public required string Id { get; init; }

    /// <summary>The move this snapshot belongs to: relay frames carry it, so frames of another move are dropped.</summary>
    public uint MoveToken { get; init; }

    /// <summary>The source's relay socket ("ip:port"): the only sender the target accepts relay frames from, and where it sends its own.</summary>
    public required string SourceRelay { get; init; }

    /// <summary>The ICE agent.</summary>
    public required IceSnapshot Ice { get; init; }

    /// <summary>The ICE credentials the target adds (the far end restarts ICE with them); the source's relay drops checks that use them.</summary>
    public required IceParameters NextIceParameters { get; init; }

    /// <summary>Highest local preference of any candidate this transport ever gave the far end; the target's candidates go above it.</summary>
    public int HighestLocalPreference { get; init; }

    /// <summary>Local DTLS parameters as given to the far end (fingerprints and the decided role).</summary>
    public required DtlsParameters DtlsParameters { get; init; }

    /// <summary>The DTLS association (null before it connected: such a transport is not exported).</summary>
    public required DtlsSessionState Dtls { get; init; }

    /// <summary>SRTP towards the far end (null for a data-only association).</summary>
    public SrtpSessionState? SrtpSend { get; init; }

    /// <summary>SRTP from the far end.</summary>
    public SrtpSessionState? SrtpReceive { get; init; }

    /// <summary>SCTP parameters when SCTP is enabled.</summary>
    public SctpParameters? SctpParameters { get; init; }

    /// <summary>sctpSendBufferSize.</summary>
    public int SctpSendBufferSize { get; init; }

    /// <summary>The SCTP association and its data channels; null when SCTP is disabled or never started.</summary>
    public DataChannelEndpointState? Sctp { get; init; }

    /// <summary>mediasoup's sctpState when exported.</summary>
    public SctpStateName? SctpState { get; init; }

    /// <summary>Base-transport state: sequence numbers and bitrates every transport keeps.</summary>
    public required TransportCoreSnapshot Core { get; init; }

    /// <summary>The transport's producers.</summary>
    public IReadOnlyList<ProducerSnapshot> Producers { get; init; } = [];

    /// <summary>The transport's consumers (after its producers on import: a consumer may read one of them).</summary>
    public IReadOnlyList<ConsumerSnapshot> Consumers { get; init; } = [];

    /// <summary>Producers that consumers at the source still read: the target pipes each back with these SSRCs.</summary>
    public IReadOnlyList<PipedBackProducer> PipedBack { get; init; } = [];

    /// <summary>The transport's data producers.</summary>
    public IReadOnlyList<DataProducerSnapshot> DataProducers { get; init; } = [];

    /// <summary>The transport's data consumers.</summary>
    public IReadOnlyList<DataConsumerSnapshot> DataConsumers { get; init; } = [];
}

/// <summary>What every transport keeps beyond its kind: what its far end sees continue across a move.</summary>
public sealed record TransportCoreSnapshot
{
    /// <summary>Next transport-wide sequence number for outgoing RTP.</summary>
    public ushort TransportWideSeq { get; init; }

    /// <summary>Next MID given to a consumer.</summary>
    public int NextMid { get; init; }

    /// <summary>CNAME of the consumers' RTCP.</summary>
    public string? Cname { get; init; }

    /// <summary>FIR command sequence number.</summary>
    public byte FirSequence { get; init; }

    /// <summary>The send-side estimate when exported (bits per second): the import starts from it, not from the default.</summary>
    public long AvailableOutgoingBitrate { get; init; }

    /// <summary>setMaxIncomingBitrate (0: none).</summary>
    public long MaxIncomingBitrate { get; init; }

    /// <summary>setMaxOutgoingBitrate (0: none).</summary>
    public long MaxOutgoingBitrate { get; init; }

    /// <summary>setMinOutgoingBitrate (0: none).</summary>
    public long MinOutgoingBitrate { get; init; }

    /// <summary>SCTP stream ids in use by data consumers (for the allocation of the next ones).</summary>
    public IReadOnlyList<int> SctpStreamIdsInUse { get; init; } = [];

    /// <summary>Where the next SCTP stream id search starts.</summary>
    public int NextSctpStreamId { get; init; }
}

/// <summary>An ICE-lite agent as plain data (<see cref="IceLiteAgentState"/> with tuples as text and the consent deadline as a remaining duration).</summary>
public sealed record IceSnapshot
{
    /// <summary>Current local ufrag.</summary>
    public required string LocalUfrag { get; init; }
    /// <summary>Current local password.</summary>
    public required string LocalPassword { get; init; }
    /// <summary>Previous ufrag, still accepted until the far end uses the current one.</summary>
    public string? OldUfrag { get; init; }
    /// <summary>Previous password.</summary>
    public string? OldPassword { get; init; }
    /// <summary>mediasoup's iceState.</summary>
    public IceState State { get; init; }
    /// <summary>Validated UDP tuples of the far end, oldest first, as "ip:port" ("[ip6]:port").</summary>
    public required IReadOnlyList<string> Tuples { get; init; }
    /// <summary>The selected one, if any.</summary>
    public string? Selected { get; init; }
    /// <summary>Highest NOMINATION value seen.</summary>
    public uint LastNomination { get; init; }
    /// <summary>Consent timeout in milliseconds (0: disabled).</summary>
    public long ConsentTimeoutMs { get; init; }
    /// <summary>Milliseconds of consent left when exported; null when not running.</summary>
    public long? ConsentRemainingMs { get; init; }
}

/// <summary>A producer the source replaced by a piped copy for its own consumers: the target feeds that copy.</summary>
/// <param name="ProducerId">The producer.</param>
/// <param name="SsrcBase">The first encoding's SSRC on the pipe.</param>
/// <param name="RtxSsrcBase">The first encoding's RTX SSRC on the pipe (with RTX on the pipe).</param>
public sealed record PipedBackProducer(string ProducerId, uint SsrcBase, uint RtxSsrcBase);
