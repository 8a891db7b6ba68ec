using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;

namespace Ferry.Transports;

/// <summary>Options of <see cref="Router.CreatePlainTransportAsync"/> (mediasoup's <c>PlainTransportOptions</c>).</summary>
public sealed record PlainTransportOptions
{
    /// <summary>Where RTP (and RTCP with rtcp-mux) is received. UDP only.</summary>
    public required TransportListenInfo ListenInfo { get; init; }

    /// <summary>A separate listen info for RTCP; giving one turns rtcp-mux off.</summary>
    public TransportListenInfo? RtcpListenInfo { get; init; }

    /// <summary>RTP and RTCP on the same port. Default true (forced false by <see cref="RtcpListenInfo"/>).</summary>
    public bool RtcpMux { get; init; } = true;

    /// <summary>Learn the remote address from the first RTP/RTCP packet instead of <see cref="PlainTransport.ConnectAsync"/>. Default false.</summary>
    public bool Comedia { get; init; }

    /// <summary>Data channels (SCTP): not yet supported; the transport is created without SCTP.</summary>
    public bool EnableSctp { get; init; }

    /// <summary>Protect media with SRTP keyed by SDES (local keys generated here, remote ones given to connect). Default false.</summary>
    public bool EnableSrtp { get; init; }

    /// <summary>The local SRTP suite, as mediasoup names it. Default AES_CM_128_HMAC_SHA1_80.</summary>
    public string SrtpCryptoSuite { get; init; } = "AES_CM_128_HMAC_SHA1_80";

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal void Validate()
    {
        if (ListenInfo is null) throw new ArgumentException("missing listenInfo");
        ValidateUdpListenInfo(ListenInfo);
        if (RtcpListenInfo is { } rtcp) ValidateUdpListenInfo(rtcp);
        if (!SrtpProfiles.TryParseMediasoupName(SrtpCryptoSuite ?? "", out _)) throw new ArgumentException($"invalid srtpCryptoSuite '{SrtpCryptoSuite}'");
    }

    internal static void ValidateUdpListenInfo(TransportListenInfo info)
    {
        if (info.Protocol != TransportProtocolName.Udp) throw new ArgumentException("only UDP is supported");
        if (!IsStrictIp(info.Ip)) throw new ArgumentException($"invalid listen IP '{info.Ip}'");
        if (info.PortRange is { } r && (r.Min < 1 || r.Max > 65535 || r.Min > r.Max)) throw new ArgumentException($"invalid portRange [{r.Min}, {r.Max}]");
        if (info.Port is < 0 or > 65535) throw new ArgumentException($"invalid port {info.Port}");
    }

    /// <summary>
    /// An IPv4 dotted quad or an IPv6 address. IPAddress.TryParse alone also takes "123" (as 0.0.0.123),
    /// which mediasoup rejects.
    /// </summary>
    internal static bool IsStrictIp(string? ip, out System.Net.IPAddress address)
    {
        address = System.Net.IPAddress.None;
        if (string.IsNullOrEmpty(ip) || !System.Net.IPAddress.TryParse(ip, out var parsed)) return false;
        if (parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ip.Split('.').Length != 4) return false;
        address = parsed;
        return true;
    }

    internal static bool IsStrictIp(string? ip) => IsStrictIp(ip, out _);
}

/// <summary>Options of <see cref="Router.CreatePipeTransportAsync"/> (mediasoup's <c>PipeTransportOptions</c>).</summary>
public sealed record PipeTransportOptions
{
    /// <summary>Where to listen. UDP only.</summary>
    public required TransportListenInfo ListenInfo { get; init; }

    /// <summary>Pipe consumers offer RTX (and answer NACKs). Default false.</summary>
    public bool EnableRtx { get; init; }

    /// <summary>Protect the pipe with SRTP (AEAD_AES_256_GCM, keys exchanged through connect). Default false.</summary>
    public bool EnableSrtp { get; init; }

    /// <summary>Data channels (SCTP): not yet supported; the transport is created without SCTP.</summary>
    public bool EnableSctp { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal void Validate()
    {
        if (ListenInfo is null) throw new ArgumentException("missing listenInfo");
        PlainTransportOptions.ValidateUdpListenInfo(ListenInfo);
    }
}

/// <summary>Options of <see cref="PipeTransport.ConsumeAsync(PipeConsumerOptions)"/>: a pipe consumer needs no capabilities.</summary>
public sealed record PipeConsumerOptions
{
    /// <summary>The producer to forward (any producer of the transport's router).</summary>
    public required string ProducerId { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>Options of <see cref="Router.PipeToRouterAsync"/> (mediasoup's <c>PipeToRouterOptions</c>, media only).</summary>
public sealed record PipeToRouterOptions
{
    /// <summary>The producer of this router to make available in <see cref="Router"/>.</summary>
    public required string ProducerId { get; init; }

    /// <summary>The target router (same or another worker).</summary>
    public required Router Router { get; init; }

    /// <summary>
    /// Carry the pipe over a pair of PipeTransports on UDP, as mediasoup does, instead of the in-memory
    /// queue between the two loops. Default false; setting <see cref="ListenInfo"/>, <see cref="EnableSrtp"/>
    /// or <see cref="EnableRtx"/> implies it.
    /// </summary>
    public bool OverUdp { get; init; }

    /// <summary>Where both pipe transports listen (UDP pipes only); 127.0.0.1 when null.</summary>
    public TransportListenInfo? ListenInfo { get; init; }

    /// <summary>Protect the pipe with SRTP (UDP pipes only). Default false.</summary>
    public bool EnableSrtp { get; init; }

    /// <summary>Offer RTX over the pipe (UDP pipes only). Default false.</summary>
    public bool EnableRtx { get; init; }

    internal bool UsesUdp => OverUdp || ListenInfo is not null || EnableSrtp || EnableRtx;
}

/// <summary>What <see cref="Router.PipeToRouterAsync"/> returns.</summary>
/// <param name="PipeConsumer">The pipe consumer in the source router; null for an in-memory pipe, which has none.</param>
/// <param name="PipeProducer">The producer in the target router, with the original producer's id.</param>
public sealed record PipeToRouterResult(Rtp.Consumer? PipeConsumer, Rtp.Producer PipeProducer);
