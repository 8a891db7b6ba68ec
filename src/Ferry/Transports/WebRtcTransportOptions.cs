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
}

/// <summary>A port range, inclusive.</summary>
/// <param name="Min">Lowest port.</param>
/// <param name="Max">Highest port.</param>
public sealed record TransportPortRange(int Min, int Max);

/// <summary>Options of <see cref="Router.CreateWebRtcTransportAsync"/>.</summary>
public sealed record WebRtcTransportOptions
{
    /// <summary>Where to listen; the order is the candidates' preference order. Not with <see cref="WebRtcServer"/>.</summary>
    public IReadOnlyList<TransportListenInfo>? ListenInfos { get; init; }

    /// <summary>A server of the router's worker whose shared sockets this transport uses instead of its own.</summary>
    public WebRtcServer? WebRtcServer { get; init; }

    /// <summary>Offer UDP candidates. Default true.</summary>
    public bool EnableUdp { get; init; } = true;

    /// <summary>Offer TCP candidates. Default false.</summary>
    public bool EnableTcp { get; init; }

    /// <summary>Prefer UDP candidates.</summary>
    public bool PreferUdp { get; init; }

    /// <summary>Prefer TCP candidates.</summary>
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
        if (WebRtcServer is not null && ListenInfos is not null) throw new ArgumentException("webRtcServer and listenInfos go alone");
        ValidateSctp();
        if (WebRtcServer is not null) return;
        if (ListenInfos is null || ListenInfos.Count == 0) throw new ArgumentException("missing listenInfos or webRtcServer");
        foreach (var info in ListenInfos)
        {
            _ = info.ParsedIp;
            if (info.PortRange is { } r && (r.Min < 1 || r.Max > 65535 || r.Min > r.Max)) throw new ArgumentException($"invalid portRange [{r.Min}, {r.Max}]");
            if (info.Port is < 0 or > 65535) throw new ArgumentException($"invalid port {info.Port}");
        }
        if (IceConsentTimeout < 0) throw new ArgumentException("invalid iceConsentTimeout");
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
