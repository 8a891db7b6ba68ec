using System.Net;
using Ferry.Protocols.Ortc;

namespace Ferry.Transports;

/// <summary>Where a transport listens (mediasoup's <c>TransportListenInfo</c>).</summary>
public sealed record TransportListenInfo
{
    /// <summary>udp or tcp.</summary>
    public TransportProtocolName Protocol { get; init; } = TransportProtocolName.Udp;

    /// <summary>Local IP to bind.</summary>
    public required string Ip { get; init; }

    /// <summary>Address announced in ICE candidates instead of <see cref="Ip"/> (an IP or a hostname).</summary>
    public string? AnnouncedAddress { get; init; }

    /// <summary>Fixed port; 0 picks one in <see cref="PortRange"/> or the worker's range.</summary>
    public int Port { get; init; }

    /// <summary>Port range for this listen info.</summary>
    public TransportPortRange? PortRange { get; init; }

    internal IPAddress ParsedIp => IPAddress.TryParse(Ip, out var ip) ? ip : throw new ArgumentException($"invalid listen IP '{Ip}'");

    /// <summary>The ports to bind from: the fixed port, else the range, else the worker's range.</summary>
    internal (int Min, int Max) Ports(WorkerSettings settings) =>
        Port != 0 ? (Port, Port) : PortRange is { } r ? (r.Min, r.Max) : (settings.RtcMinPort, settings.RtcMaxPort);

    internal void Validate()
    {
        _ = ParsedIp;
        if (Protocol is not (TransportProtocolName.Udp or TransportProtocolName.Tcp)) throw new ArgumentException($"invalid protocol {Protocol}");
        if (PortRange is { } r && (r.Min < 1 || r.Max > 65535 || r.Min > r.Max)) throw new ArgumentException($"invalid portRange [{r.Min}, {r.Max}]");
        if (Port is < 0 or > 65535) throw new ArgumentException($"invalid port {Port}");
    }
}

/// <summary>A listen IP of the deprecated <see cref="WebRtcTransportOptions.ListenIps"/> (mediasoup's <c>TransportListenIp</c>).</summary>
public sealed record TransportListenIp
{
    /// <summary>Local IP to bind.</summary>
    public required string Ip { get; init; }

    /// <summary>Address announced in ICE candidates instead of <see cref="Ip"/>.</summary>
    public string? AnnouncedIp { get; init; }
}

/// <summary>A port range, inclusive.</summary>
/// <param name="Min">Lowest port.</param>
/// <param name="Max">Highest port.</param>
public sealed record TransportPortRange(int Min, int Max);

/// <summary>Options of <see cref="Router.CreateWebRtcTransportAsync"/>.</summary>
public sealed record WebRtcTransportOptions
{
    /// <summary>
    /// Where to listen, UDP or TCP (a TCP listen info is an ICE-TCP passive candidate); every listen info
    /// becomes one candidate, in this order of preference, whatever <see cref="EnableUdp"/>,
    /// <see cref="EnableTcp"/>, <see cref="PreferUdp"/> and <see cref="PreferTcp"/> say (as mediasoup's worker does).
    /// Not with <see cref="WebRtcServer"/> or <see cref="ListenIps"/>.
    /// </summary>
    public IReadOnlyList<TransportListenInfo>? ListenInfos { get; init; }

    /// <summary>
    /// Deprecated form of <see cref="ListenInfos"/>: each IP listens on UDP and/or TCP as
    /// <see cref="EnableUdp"/> and <see cref="EnableTcp"/> say, UDP first unless <see cref="PreferTcp"/>
    /// (and not <see cref="PreferUdp"/>) or UDP is disabled, as mediasoup converts them.
    /// </summary>
    public IReadOnlyList<TransportListenIp>? ListenIps { get; init; }

    /// <summary>Fixed port for <see cref="ListenIps"/>; 0 takes one from the worker's range.</summary>
    public int Port { get; init; }

    /// <summary>A server of the router's worker whose shared sockets this transport uses instead of its own.</summary>
    public WebRtcServer? WebRtcServer { get; init; }

    /// <summary>Offer UDP candidates (with a WebRtcServer or ListenIps). Default true.</summary>
    public bool EnableUdp { get; init; } = true;

    /// <summary>Offer TCP candidates (with a WebRtcServer or ListenIps). Default: true with a WebRtcServer, false otherwise.</summary>
    public bool? EnableTcp { get; init; }

    /// <summary>Prefer UDP: with a WebRtcServer, +1000 to the UDP candidates' local preference; with ListenIps, UDP listens first.</summary>
    public bool PreferUdp { get; init; }

    /// <summary>Prefer TCP: with a WebRtcServer, +1000 to the TCP candidates' local preference; with ListenIps, TCP listens first (unless PreferUdp).</summary>
    public bool PreferTcp { get; init; }

    /// <summary>Seconds without a valid Binding request before ICE goes disconnected (10..60, 0 disables). Default 30.</summary>
    public int IceConsentTimeout { get; init; } = 30;

    /// <summary>Initial outgoing bitrate estimate, bps. Default 600000.</summary>
    public long InitialAvailableOutgoingBitrate { get; init; } = 600_000;

    /// <summary>Data channels: an SCTP association over DTLS (sctpParameters, produceData/consumeData). Default false.</summary>
    public bool EnableSctp { get; init; }

    /// <summary>SCTP streams: OS (outgoing) and MIS (incoming). Default 1024/1024.</summary>
    public NumSctpStreams NumSctpStreams { get; init; } = new() { Os = 1024, Mis = 1024 };

    /// <summary>Largest SCTP message, both ways. Default 262144.</summary>
    public int MaxSctpMessageSize { get; init; } = 262_144;

    /// <summary>Bytes SCTP may hold queued or unacknowledged. Default 262144 (at most 268435456).</summary>
    public int SctpSendBufferSize { get; init; } = 262_144;

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal void Validate()
    {
        var given = (WebRtcServer is not null ? 1 : 0) + (ListenInfos is not null ? 1 : 0) + (ListenIps is not null ? 1 : 0);
        if (given > 1) throw new ArgumentException("only one of webRtcServer, listenInfos and listenIps must be given");
        if (given == 0) throw new ArgumentException("missing webRtcServer, listenInfos and listenIps (one of them is mandatory)");
        ValidateSctp();
        if (IceConsentTimeout < 0) throw new ArgumentException("invalid iceConsentTimeout");
        if (WebRtcServer is not null) return;
        if (ListenIps is not null && Port is < 0 or > 65535) throw new ArgumentException($"invalid port {Port}");
        if (ListenInfos is not null) Ortc.RtpParametersValidation.CheckList(ListenInfos, "listenInfos");
        if (ListenIps is not null) Ortc.RtpParametersValidation.CheckList(ListenIps, "listenIps");
        var infos = ResolvedListenInfos();
        if (infos.Count == 0) throw new ArgumentException("no listen info gives a candidate (empty listenInfos, or listenIps with enableUdp and enableTcp false)");
        foreach (var info in infos) info.Validate();
    }

    /// <summary>
    /// The listen infos of a transport with its own sockets: <see cref="ListenInfos"/> as given, or
    /// <see cref="ListenIps"/> converted as mediasoup does (per IP, the enabled protocols in preference order).
    /// </summary>
    internal IReadOnlyList<TransportListenInfo> ResolvedListenInfos()
    {
        if (ListenInfos is not null) return ListenInfos;
        if (ListenIps is null) return [];
        var enableTcp = EnableTcp ?? false;
        var protocols = new List<TransportProtocolName>(2);
        if (EnableUdp && (PreferUdp || !enableTcp || !PreferTcp))
        {
            protocols.Add(TransportProtocolName.Udp);
            if (enableTcp) protocols.Add(TransportProtocolName.Tcp);
        }
        else if (enableTcp && ((PreferTcp && !PreferUdp) || !EnableUdp))
        {
            protocols.Add(TransportProtocolName.Tcp);
            if (EnableUdp) protocols.Add(TransportProtocolName.Udp);
        }
        return ListenIps.SelectMany(ip => protocols.Select(protocol => new TransportListenInfo
        {
            Protocol = protocol, Ip = ip.Ip, AnnouncedAddress = ip.AnnouncedIp, Port = Port,
        })).ToList();
    }

    private void ValidateSctp()
    {
        if (NumSctpStreams is null || NumSctpStreams.Os is < 1 or > 65535 || NumSctpStreams.Mis is < 1 or > 65535)
            throw new ArgumentException("numSctpStreams OS and MIS must be numbers in 1..65535");
        if (MaxSctpMessageSize < 1) throw new ArgumentException("invalid maxSctpMessageSize");
        if (SctpSendBufferSize is < 1 or > 268_435_456) throw new ArgumentException("invalid sctpSendBufferSize");
    }
}

/// <summary>Options of <see cref="Router.CreateDirectTransportAsync"/>.</summary>
public sealed record DirectTransportOptions
{
    /// <summary>Largest message for data producers/consumers. Default 262144.</summary>
    public int MaxMessageSize { get; init; } = 262_144;

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal void Validate()
    {
        if (MaxMessageSize < 0) throw new ArgumentException("invalid maxMessageSize");
    }
}
