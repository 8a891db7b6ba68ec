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
/// Everything needed to continue a finished DTLS 1.2 association elsewhere, as plain data (numbers,
/// byte arrays, strings; serialisable with System.Text.Json): the secrets the record layer's keys
/// are derived from, the SRTP keys, and the record layer's epochs, replay window and next sequence
/// number. <see cref="DtlsEndpoint.Import"/> continues it with Ferry's own record layer.
/// </summary>
public sealed record DtlsSessionState
{
    /// <summary>Our role.</summary>
    public required DtlsRole Role { get; init; }
    /// <summary>Negotiated TLS cipher suite (OpenSSL name), one that Ferry's record layer runs.</summary>
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
    /// <summary>Epoch of the records we accept (1 after a DTLS 1.2 handshake; 0–65535).</summary>
    public required int ReadEpoch { get; init; }
    /// <summary>Highest record sequence number (48-bit) accepted in <see cref="ReadEpoch"/>; −1 when none was.</summary>
    public required long ReadSequenceHighest { get; init; }
    /// <summary>Replay window below <see cref="ReadSequenceHighest"/>: bit i set means ReadSequenceHighest − i was accepted (64 wide).</summary>
    public required ulong ReadReplayBitmap { get; init; }
    /// <summary>Epoch of the records we send (1 after a DTLS 1.2 handshake; 0–65535).</summary>
    public required int WriteEpoch { get; init; }
    /// <summary>Sequence number (48-bit) of the next record we send in <see cref="WriteEpoch"/>: one past the highest ever sent.</summary>
    public required long WriteSequence { get; init; }
}

/// <summary>Kinds of <see cref="DtlsEvent"/>.</summary>
public enum DtlsEventKind : byte
{
    /// <summary>The handshake finished and the fingerprint matched; <see cref="DtlsEvent.Keys"/> is set (null only for an endpoint created not requiring SRTP, when the peer offered none).</summary>
    Connected,
    /// <summary>The handshake failed; <see cref="DtlsEvent.Reason"/> says why.</summary>
    Failed,
    /// <summary>The peer closed the association: close_notify, or a fatal alert (then <see cref="DtlsEvent.Reason"/> names it).</summary>
    Closed,
    /// <summary>Application data (SCTP for data channels) arrived; <see cref="DtlsEvent.Data"/> holds it.</summary>
    ApplicationData,
}

/// <summary>Something a <see cref="DtlsEndpoint"/> reports, polled with <see cref="DtlsEndpoint.TryPollEvent"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Keys">SRTP keys, for Connected.</param>
/// <param name="Reason">Failure reason, for Failed; for Closed, the fatal alert the peer sent, if it sent one rather than close_notify.</param>
/// <param name="Data">Bytes, for ApplicationData.</param>
public sealed record DtlsEvent(DtlsEventKind Kind, SrtpKeyingMaterial? Keys = null, string? Reason = null, byte[]? Data = null);
