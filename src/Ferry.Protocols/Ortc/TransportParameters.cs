using System.Text.Json.Serialization;

namespace Ferry.Protocols.Ortc;

/// <summary>ICE credentials of a transport.</summary>
public sealed record IceParameters
{
    /// <summary>ufrag.</summary>
    public required string UsernameFragment { get; init; }
    /// <summary>Password.</summary>
    public required string Password { get; init; }
    /// <summary>True for Ferry (ICE-lite).</summary>
    public bool? IceLite { get; init; }
}

/// <summary>An ICE candidate as mediasoup signals it. <c>ip</c> repeats <c>address</c> for older mediasoup-client versions.</summary>
public sealed record IceCandidate
{
    /// <summary>"udpcandidate" or "tcpcandidate".</summary>
    public required string Foundation { get; init; }
    /// <summary>Priority (RFC 8445 §5.1.2).</summary>
    public required long Priority { get; init; }
    /// <summary>Address (IP or hostname).</summary>
    public required string Address { get; init; }
    /// <summary>Deprecated alias of <see cref="Address"/>; written equal to it.</summary>
    public string? Ip { get; init; }
    /// <summary>Protocol.</summary>
    public required TransportProtocolName Protocol { get; init; }
    /// <summary>Port.</summary>
    public required int Port { get; init; }
    /// <summary>Type (host).</summary>
    public required IceCandidateType Type { get; init; }
    /// <summary>TCP type (passive) for TCP candidates.</summary>
    public IceTcpCandidateType? TcpType { get; init; }
}

/// <summary>DTLS parameters of a transport.</summary>
public sealed record DtlsParameters
{
    /// <summary>Role; "auto" before connect.</summary>
    public DtlsRoleName? Role { get; init; }
    /// <summary>Certificate fingerprints; mediasoup-client uses the last one.</summary>
    public required IReadOnlyList<DtlsFingerprint> Fingerprints { get; init; }
}

/// <summary>A certificate fingerprint.</summary>
public sealed record DtlsFingerprint
{
    /// <summary>"sha-1", "sha-224", "sha-256", "sha-384" or "sha-512".</summary>
    public required string Algorithm { get; init; }
    /// <summary>Upper-case hex pairs separated by colons.</summary>
    public required string Value { get; init; }
}

/// <summary>SCTP stream counts.</summary>
public sealed record NumSctpStreams
{
    /// <summary>Outgoing streams.</summary>
    [JsonPropertyName("OS")] public required int Os { get; init; }
    /// <summary>Maximum incoming streams.</summary>
    [JsonPropertyName("MIS")] public required int Mis { get; init; }
}

/// <summary>SCTP capabilities of an endpoint.</summary>
public sealed record SctpCapabilities
{
    /// <summary>Stream counts.</summary>
    public required NumSctpStreams NumStreams { get; init; }
}

/// <summary>SCTP parameters of a transport.</summary>
public sealed record SctpParameters
{
    /// <summary>Always 5000.</summary>
    public required int Port { get; init; }
    /// <summary>Outgoing streams.</summary>
    [JsonPropertyName("OS")] public required int Os { get; init; }
    /// <summary>Maximum incoming streams.</summary>
    [JsonPropertyName("MIS")] public required int Mis { get; init; }
    /// <summary>Largest message accepted.</summary>
    public required int MaxMessageSize { get; init; }
}

/// <summary>Parameters of one SCTP stream (a data channel).</summary>
public sealed record SctpStreamParameters
{
    /// <summary>Stream id.</summary>
    public required int StreamId { get; init; }
    /// <summary>Ordered delivery; default true.</summary>
    public bool? Ordered { get; init; }
    /// <summary>Partial reliability by lifetime, ms.</summary>
    public int? MaxPacketLifeTime { get; init; }
    /// <summary>Partial reliability by retransmissions.</summary>
    public int? MaxRetransmits { get; init; }
}

/// <summary>SDES-style SRTP parameters of a PlainTransport.</summary>
public sealed record SrtpParameters
{
    /// <summary>Suite name ("AES_CM_128_HMAC_SHA1_80", ...).</summary>
    public required string CryptoSuite { get; init; }
    /// <summary>Master key then salt, base64.</summary>
    public required string KeyBase64 { get; init; }
}

/// <summary>A transport's 5-tuple as mediasoup reports it (<c>localIp</c> repeats <c>localAddress</c>).</summary>
public sealed record TransportTupleInfo
{
    /// <summary>Local address (the announced one when configured).</summary>
    public required string LocalAddress { get; init; }
    /// <summary>Deprecated alias of <see cref="LocalAddress"/>.</summary>
    public string? LocalIp { get; init; }
    /// <summary>Local port.</summary>
    public required int LocalPort { get; init; }
    /// <summary>Remote IP, once known.</summary>
    public string? RemoteIp { get; init; }
    /// <summary>Remote port, once known.</summary>
    public int? RemotePort { get; init; }
    /// <summary>Protocol.</summary>
    public required TransportProtocolName Protocol { get; init; }
}
