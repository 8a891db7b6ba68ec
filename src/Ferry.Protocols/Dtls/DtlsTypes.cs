using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Dtls;

/// <summary>DTLS role of an endpoint.</summary>
public enum DtlsRole : byte
{
    /// <summary>Starts the handshake (sends ClientHello). Browsers take this role with mediasoup.</summary>
    Client,
    /// <summary>Answers the handshake.</summary>
    Server,
}

/// <summary>A certificate fingerprint as signalled: algorithm ("sha-256") and upper-case colon-separated hex.</summary>
/// <param name="Algorithm">Hash algorithm name, as in SDP (RFC 8122): sha-1, sha-224, sha-256, sha-384, sha-512.</param>
/// <param name="Value">Upper-case hex pairs separated by colons.</param>
public sealed record DtlsFingerprintValue(string Algorithm, string Value);

/// <summary>
/// SRTP keying material exported from a finished handshake (RFC 5764 §4.2), already split into
/// what this endpoint protects with (local) and what it unprotects with (remote).
/// </summary>
public sealed record SrtpKeyingMaterial
{
    /// <summary>Negotiated profile.</summary>
    public required SrtpProfile Profile { get; init; }
    /// <summary>Master key for what we send.</summary>
    public required byte[] LocalKey { get; init; }
    /// <summary>Master salt for what we send.</summary>
    public required byte[] LocalSalt { get; init; }
    /// <summary>Master key for what we receive.</summary>
    public required byte[] RemoteKey { get; init; }
    /// <summary>Master salt for what we receive.</summary>
    public required byte[] RemoteSalt { get; init; }
}

/// <summary>
/// What a later step needs to continue a finished DTLS association elsewhere. OpenSSL 3.0 has no
/// public API for the record-layer epoch and sequence numbers, so carrying application data
/// (data channels) across servers will mean deriving the key block from the master secret and the
/// randoms and running the application-data record layer in Ferry; SRTP needs only the keying material.
/// </summary>
public sealed record DtlsSessionState
{
    /// <summary>Our role.</summary>
    public required DtlsRole Role { get; init; }
    /// <summary>Negotiated TLS cipher suite (OpenSSL name).</summary>
    public required string CipherSuite { get; init; }
    /// <summary>The 48-byte master secret (extended master secret, RFC 7627, when negotiated).</summary>
    public required byte[] MasterSecret { get; init; }
    /// <summary>ClientHello.random.</summary>
    public required byte[] ClientRandom { get; init; }
    /// <summary>ServerHello.random.</summary>
    public required byte[] ServerRandom { get; init; }
    /// <summary>The SRTP keys.</summary>
    public required SrtpKeyingMaterial Srtp { get; init; }
    /// <summary>The peer's certificate (DER).</summary>
    public required byte[] RemoteCertificate { get; init; }
}

/// <summary>Kinds of <see cref="DtlsEvent"/>.</summary>
public enum DtlsEventKind : byte
{
    /// <summary>The handshake finished and the fingerprint matched; <see cref="DtlsEvent.Keys"/> is set (null only for an endpoint created not requiring SRTP, when the peer offered none).</summary>
    Connected,
    /// <summary>The handshake failed; <see cref="DtlsEvent.Reason"/> says why.</summary>
    Failed,
    /// <summary>The peer closed the association (close_notify).</summary>
    Closed,
    /// <summary>Application data (SCTP for data channels) arrived; <see cref="DtlsEvent.Data"/> holds it.</summary>
    ApplicationData,
}

/// <summary>Something a <see cref="DtlsEndpoint"/> reports, polled with <see cref="DtlsEndpoint.TryPollEvent"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Keys">SRTP keys, for Connected.</param>
/// <param name="Reason">Failure reason, for Failed.</param>
/// <param name="Data">Bytes, for ApplicationData.</param>
public sealed record DtlsEvent(DtlsEventKind Kind, SrtpKeyingMaterial? Keys = null, string? Reason = null, byte[]? Data = null);
