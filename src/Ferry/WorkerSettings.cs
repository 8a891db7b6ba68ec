using Microsoft.Extensions.Logging;

namespace Ferry;

/// <summary>Settings of a <see cref="Worker"/>, as mediasoup's <c>WorkerSettings</c>.</summary>
public sealed record WorkerSettings
{
    /// <summary>Lowest level the worker logs (mediasoup's logLevel: debug, warn, error, none). Default warning.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    /// <summary>Lowest RTC port (inclusive) for transports that don't give their own range. Default 10000.</summary>
    public int RtcMinPort { get; init; } = 10000;

    /// <summary>Highest RTC port (inclusive). Default 59999.</summary>
    public int RtcMaxPort { get; init; } = 59999;

    /// <summary>PEM certificate file for DTLS; a certificate is generated when null.</summary>
    public string? DtlsCertificateFile { get; init; }

    /// <summary>PEM private key file for DTLS, with <see cref="DtlsCertificateFile"/>.</summary>
    public string? DtlsPrivateKeyFile { get; init; }

    /// <summary>How the worker's thread is scheduled (see <see cref="WorkerThreadPriority"/>). Default <see cref="WorkerThreadPriority.Normal"/>.</summary>
    public WorkerThreadPriority ThreadPriority { get; init; } = WorkerThreadPriority.Normal;

    /// <summary>Application data, not used by Ferry.</summary>
    public object? AppData { get; init; }

    /// <summary>
    /// How long an accepted ICE-TCP connection may stay without a successful ICE check before it is
    /// closed (a slot of the listener's limit must not be held by a silent peer). Tests shorten it.
    /// </summary>
    internal TimeSpan TcpPendingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        if (RtcMinPort is < 1 or > 65535) throw new ArgumentException($"rtcMinPort {RtcMinPort} out of range");
        if (RtcMaxPort is < 1 or > 65535) throw new ArgumentException($"rtcMaxPort {RtcMaxPort} out of range");
        if (RtcMinPort > RtcMaxPort) throw new ArgumentException($"rtcMinPort {RtcMinPort} > rtcMaxPort {RtcMaxPort}");
        if ((DtlsCertificateFile is null) != (DtlsPrivateKeyFile is null))
            throw new ArgumentException("dtlsCertificateFile and dtlsPrivateKeyFile go together");
        if (DtlsCertificateFile is not null && !File.Exists(DtlsCertificateFile))
            throw new ArgumentException($"dtlsCertificateFile {DtlsCertificateFile} does not exist");
        if (DtlsPrivateKeyFile is not null && !File.Exists(DtlsPrivateKeyFile))
            throw new ArgumentException($"dtlsPrivateKeyFile {DtlsPrivateKeyFile} does not exist");
    }
}
