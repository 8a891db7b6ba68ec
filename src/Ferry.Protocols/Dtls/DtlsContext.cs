using Ferry.Protocols.Dtls.Native;
using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Dtls;

/// <summary>
/// An OpenSSL SSL_CTX for DTLS 1.2 with a certificate and the SRTP profiles to offer; endpoints
/// are created from it (one per worker is enough: OpenSSL allows SSL_new from any thread).
/// It negotiates only ECDHE-ECDSA and ECDHE-RSA with AES-128-GCM-SHA256, AES-256-GCM-SHA384 and
/// CHACHA20-POLY1305 (what Chrome, Firefox and BouncyCastle all offer), the suites Ferry's own record
/// layer continues after a move, and never renegotiates.
/// </summary>
public sealed unsafe class DtlsContext : IDisposable
{
    /// <summary>mediasoup's order of preference.</summary>
    public static readonly IReadOnlyList<SrtpProfile> DefaultProfiles =
        [SrtpProfile.AeadAes256Gcm, SrtpProfile.AeadAes128Gcm, SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32];

    private nint _ctx;

    /// <summary>Creates a context presenting <paramref name="certificate"/> and offering <paramref name="profiles"/> (mediasoup's list when null).</summary>
    /// <exception cref="InvalidOperationException">OpenSSL refused the configuration.</exception>
    public DtlsContext(DtlsCertificate certificate, IReadOnlyList<SrtpProfile>? profiles = null)
    {
        Certificate = certificate;
        Profiles = profiles ?? DefaultProfiles;
        _ctx = LibSsl.SSL_CTX_new(LibSsl.DTLS_method());
        if (_ctx == 0) throw new InvalidOperationException("SSL_CTX_new failed: " + LibSsl.TakeError());
        try
        {
            Configure();
        }
        catch
        {
            LibSsl.SSL_CTX_free(_ctx);
            _ctx = 0;
            throw;
        }
    }

    /// <summary>The certificate presented.</summary>
    public DtlsCertificate Certificate { get; }

    /// <summary>SRTP profiles offered, most preferred first.</summary>
    public IReadOnlyList<SrtpProfile> Profiles { get; }

    internal nint Handle => _ctx != 0 ? _ctx : throw new ObjectDisposedException(nameof(DtlsContext));

    private void Configure()
    {
        fixed (byte* der = Certificate.CertificateDer)
        fixed (byte* key = Certificate.PrivateKeyPkcs8)
        {
            var p = der;
            var x509 = LibSsl.d2i_X509(0, &p, Certificate.CertificateDer.Length);
            if (x509 == 0) throw new InvalidOperationException("d2i_X509 failed: " + LibSsl.TakeError());
            var ok = LibSsl.SSL_CTX_use_certificate(_ctx, x509);
            LibSsl.X509_free(x509);
            if (ok != 1) throw new InvalidOperationException("SSL_CTX_use_certificate failed: " + LibSsl.TakeError());
            var k = key;
            var pkey = LibSsl.d2i_AutoPrivateKey(0, &k, Certificate.PrivateKeyPkcs8.Length);
            if (pkey == 0) throw new InvalidOperationException("d2i_AutoPrivateKey failed: " + LibSsl.TakeError());
            ok = LibSsl.SSL_CTX_use_PrivateKey(_ctx, pkey);
            LibSsl.EVP_PKEY_free(pkey);
            if (ok != 1 || LibSsl.SSL_CTX_check_private_key(_ctx) != 1) throw new InvalidOperationException("private key rejected: " + LibSsl.TakeError());
        }
        LibSsl.SSL_CTX_ctrl(_ctx, LibSsl.SSL_CTRL_SET_MIN_PROTO_VERSION, LibSsl.DTLS1_2_VERSION, 0);
        LibSsl.SSL_CTX_ctrl(_ctx, LibSsl.SSL_CTRL_SET_MAX_PROTO_VERSION, LibSsl.DTLS1_2_VERSION, 0);
        LibSsl.SSL_CTX_ctrl(_ctx, LibSsl.SSL_CTRL_SET_READ_AHEAD, 1, 0);
        // No renegotiation: the epoch stays 1, so an exported association is epoch 1 in both directions.
        LibSsl.SSL_CTX_set_options(_ctx, LibSsl.SSL_OP_NO_QUERY_MTU | LibSsl.SSL_OP_NO_RENEGOTIATION);
        // Only the AEAD suites Ferry's own record layer runs, so every association can move (DtlsEndpoint.Import).
        if (LibSsl.SSL_CTX_set_cipher_list(_ctx, DtlsSuite.OpenSslCipherList) != 1) throw new InvalidOperationException("SSL_CTX_set_cipher_list failed: " + LibSsl.TakeError());
        // The peer must present a certificate; its fingerprint is checked against the signalled one after the handshake.
        LibSsl.SSL_CTX_set_verify(_ctx, LibSsl.SSL_VERIFY_PEER | LibSsl.SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &AcceptAnyCertificate);
        var names = string.Join(':', Profiles.Select(OpenSslName));
        // Note the inverted convention: 0 means success here.
        if (LibSsl.SSL_CTX_set_tlsext_use_srtp(_ctx, names) != 0) throw new InvalidOperationException("SSL_CTX_set_tlsext_use_srtp failed: " + LibSsl.TakeError());
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static int AcceptAnyCertificate(int preverifyOk, nint storeContext) => 1;

    internal static string OpenSslName(SrtpProfile profile) => profile switch
    {
        SrtpProfile.AesCm128HmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
        SrtpProfile.AesCm128HmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
        SrtpProfile.AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
        SrtpProfile.AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        _ => throw new ArgumentOutOfRangeException(nameof(profile)),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ctx == 0) return;
        LibSsl.SSL_CTX_free(_ctx);
        _ctx = 0;
    }
}
