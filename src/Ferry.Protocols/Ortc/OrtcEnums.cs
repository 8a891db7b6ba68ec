using System.Text.Json.Serialization;

namespace Ferry.Protocols.Ortc;

/// <summary>Media kind.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MediaKind>))]
public enum MediaKind
{
    /// <summary>"audio".</summary>
    [JsonStringEnumMemberName("audio")] Audio,
    /// <summary>"video".</summary>
    [JsonStringEnumMemberName("video")] Video,
}

/// <summary>Direction of a header extension, from the router's point of view.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RtpHeaderExtensionDirection>))]
public enum RtpHeaderExtensionDirection
{
    /// <summary>"sendrecv".</summary>
    [JsonStringEnumMemberName("sendrecv")] SendRecv,
    /// <summary>"sendonly".</summary>
    [JsonStringEnumMemberName("sendonly")] SendOnly,
    /// <summary>"recvonly".</summary>
    [JsonStringEnumMemberName("recvonly")] RecvOnly,
    /// <summary>"inactive".</summary>
    [JsonStringEnumMemberName("inactive")] Inactive,
}

/// <summary>Transport protocol in candidates and tuples.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TransportProtocolName>))]
public enum TransportProtocolName
{
    /// <summary>"udp".</summary>
    [JsonStringEnumMemberName("udp")] Udp,
    /// <summary>"tcp".</summary>
    [JsonStringEnumMemberName("tcp")] Tcp,
}

/// <summary>ICE candidate type (Ferry offers host candidates only, as mediasoup).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IceCandidateType>))]
public enum IceCandidateType
{
    /// <summary>"host".</summary>
    [JsonStringEnumMemberName("host")] Host,
    /// <summary>"srflx".</summary>
    [JsonStringEnumMemberName("srflx")] Srflx,
    /// <summary>"prflx".</summary>
    [JsonStringEnumMemberName("prflx")] Prflx,
    /// <summary>"relay".</summary>
    [JsonStringEnumMemberName("relay")] Relay,
}

/// <summary>TCP candidate type.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IceTcpCandidateType>))]
public enum IceTcpCandidateType
{
    /// <summary>"active".</summary>
    [JsonStringEnumMemberName("active")] Active,
    /// <summary>"passive".</summary>
    [JsonStringEnumMemberName("passive")] Passive,
    /// <summary>"so".</summary>
    [JsonStringEnumMemberName("so")] So,
}

/// <summary>ICE role.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IceRole>))]
public enum IceRole
{
    /// <summary>"controlled".</summary>
    [JsonStringEnumMemberName("controlled")] Controlled,
    /// <summary>"controlling".</summary>
    [JsonStringEnumMemberName("controlling")] Controlling,
}

/// <summary>ICE state as mediasoup reports it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IceStateName>))]
public enum IceStateName
{
    /// <summary>"new".</summary>
    [JsonStringEnumMemberName("new")] New,
    /// <summary>"connected".</summary>
    [JsonStringEnumMemberName("connected")] Connected,
    /// <summary>"completed".</summary>
    [JsonStringEnumMemberName("completed")] Completed,
    /// <summary>"disconnected".</summary>
    [JsonStringEnumMemberName("disconnected")] Disconnected,
    /// <summary>"closed".</summary>
    [JsonStringEnumMemberName("closed")] Closed,
}

/// <summary>DTLS role in signalling.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DtlsRoleName>))]
public enum DtlsRoleName
{
    /// <summary>"auto".</summary>
    [JsonStringEnumMemberName("auto")] Auto,
    /// <summary>"client".</summary>
    [JsonStringEnumMemberName("client")] Client,
    /// <summary>"server".</summary>
    [JsonStringEnumMemberName("server")] Server,
}

/// <summary>DTLS state as mediasoup reports it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DtlsStateName>))]
public enum DtlsStateName
{
    /// <summary>"new".</summary>
    [JsonStringEnumMemberName("new")] New,
    /// <summary>"connecting".</summary>
    [JsonStringEnumMemberName("connecting")] Connecting,
    /// <summary>"connected".</summary>
    [JsonStringEnumMemberName("connected")] Connected,
    /// <summary>"failed".</summary>
    [JsonStringEnumMemberName("failed")] Failed,
    /// <summary>"closed".</summary>
    [JsonStringEnumMemberName("closed")] Closed,
}

/// <summary>Producer type.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ProducerType>))]
public enum ProducerType
{
    /// <summary>"simple".</summary>
    [JsonStringEnumMemberName("simple")] Simple,
    /// <summary>"simulcast".</summary>
    [JsonStringEnumMemberName("simulcast")] Simulcast,
    /// <summary>"svc".</summary>
    [JsonStringEnumMemberName("svc")] Svc,
}

/// <summary>Consumer type.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ConsumerType>))]
public enum ConsumerType
{
    /// <summary>"simple".</summary>
    [JsonStringEnumMemberName("simple")] Simple,
    /// <summary>"simulcast".</summary>
    [JsonStringEnumMemberName("simulcast")] Simulcast,
    /// <summary>"svc".</summary>
    [JsonStringEnumMemberName("svc")] Svc,
    /// <summary>"pipe".</summary>
    [JsonStringEnumMemberName("pipe")] Pipe,
}

/// <summary>SCTP state as mediasoup reports it (sctpState).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SctpStateName>))]
public enum SctpStateName
{
    /// <summary>"new".</summary>
    [JsonStringEnumMemberName("new")] New,
    /// <summary>"connecting".</summary>
    [JsonStringEnumMemberName("connecting")] Connecting,
    /// <summary>"connected".</summary>
    [JsonStringEnumMemberName("connected")] Connected,
    /// <summary>"failed".</summary>
    [JsonStringEnumMemberName("failed")] Failed,
    /// <summary>"closed".</summary>
    [JsonStringEnumMemberName("closed")] Closed,
}

/// <summary>Data producer and data consumer type.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DataType>))]
public enum DataType
{
    /// <summary>"sctp": over the transport's SCTP association.</summary>
    [JsonStringEnumMemberName("sctp")] Sctp,
    /// <summary>"direct": on a DirectTransport, from and to the application.</summary>
    [JsonStringEnumMemberName("direct")] Direct,
}
