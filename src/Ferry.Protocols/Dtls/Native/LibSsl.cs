using System.Runtime.InteropServices;

namespace Ferry.Protocols.Dtls.Native;

/// <summary>
/// The OpenSSL 3 calls the DTLS endpoint makes (libssl.so.3 / libcrypto.so.3, which .NET on Linux
/// already loads for its own cryptography). Macros of ssl.h appear here as the SSL_ctrl codes they expand to.
/// </summary>
internal static unsafe partial class LibSsl
{
    private const string Ssl = "libssl.so.3";
    private const string Crypto = "libcrypto.so.3";

    public const int SSL_ERROR_NONE = 0, SSL_ERROR_SSL = 1, SSL_ERROR_WANT_READ = 2, SSL_ERROR_WANT_WRITE = 3, SSL_ERROR_SYSCALL = 5, SSL_ERROR_ZERO_RETURN = 6;
    public const int SSL_VERIFY_PEER = 0x01, SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02;
    public const int SSL_CTRL_SET_MTU = 17, SSL_CTRL_SET_READ_AHEAD = 41, SSL_CTRL_SET_MIN_PROTO_VERSION = 123, SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
    public const int DTLS_CTRL_GET_TIMEOUT = 73, DTLS_CTRL_HANDLE_TIMEOUT = 74;
    public const int DTLS1_2_VERSION = 0xFEFD;
    public const ulong SSL_OP_NO_QUERY_MTU = 0x1000, SSL_OP_NO_RENEGOTIATION = 0x40000000;
    public const int SSL_RECEIVED_SHUTDOWN = 2;
    public const int BIO_CTRL_PENDING = 10;
    public const int BIO_C_SET_BUF_MEM_EOF_RETURN = 130;

    [LibraryImport(Ssl)] public static partial nint DTLS_method();
    [LibraryImport(Ssl)] public static partial nint SSL_CTX_new(nint method);
    [LibraryImport(Ssl)] public static partial void SSL_CTX_free(nint ctx);
    [LibraryImport(Ssl)] public static partial int SSL_CTX_use_certificate(nint ctx, nint x509);
    [LibraryImport(Ssl)] public static partial int SSL_CTX_use_PrivateKey(nint ctx, nint pkey);
    [LibraryImport(Ssl)] public static partial int SSL_CTX_check_private_key(nint ctx);
    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)] public static partial int SSL_CTX_set_tlsext_use_srtp(nint ctx, string profiles);
    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)] public static partial int SSL_CTX_set_cipher_list(nint ctx, string list);
    [LibraryImport(Ssl)] public static partial void SSL_CTX_set_verify(nint ctx, int mode, delegate* unmanaged<int, nint, int> callback);
    [LibraryImport(Ssl)] public static partial ulong SSL_CTX_set_options(nint ctx, ulong options);
    [LibraryImport(Ssl)] public static partial nint SSL_CTX_ctrl(nint ctx, int cmd, nint larg, nint parg);

    [LibraryImport(Ssl)] public static partial nint SSL_new(nint ctx);
    [LibraryImport(Ssl)] public static partial void SSL_free(nint ssl);
    [LibraryImport(Ssl)] public static partial void SSL_set_bio(nint ssl, nint rbio, nint wbio);
    [LibraryImport(Ssl)] public static partial void SSL_set_accept_state(nint ssl);
    [LibraryImport(Ssl)] public static partial void SSL_set_connect_state(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_do_handshake(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_is_init_finished(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_get_error(nint ssl, int ret);
    [LibraryImport(Ssl)] public static partial int SSL_read(nint ssl, byte* buffer, int length);
    [LibraryImport(Ssl)] public static partial int SSL_write(nint ssl, byte* buffer, int length);
    [LibraryImport(Ssl)] public static partial int SSL_shutdown(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_get_shutdown(nint ssl);
    [LibraryImport(Ssl)] public static partial nint SSL_ctrl(nint ssl, int cmd, nint larg, nint parg);
    [LibraryImport(Ssl)] public static partial void DTLS_set_timer_cb(nint ssl, delegate* unmanaged<nint, uint, uint> callback);
    [LibraryImport(Ssl)] public static partial nint SSL_get_selected_srtp_profile(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_export_keying_material(nint ssl, byte* output, nuint outputLength, byte* label, nuint labelLength, byte* context, nuint contextLength, int useContext);
    [LibraryImport(Ssl)] public static partial nint SSL_get1_peer_certificate(nint ssl);
    [LibraryImport(Ssl)] public static partial nuint SSL_get_client_random(nint ssl, byte* output, nuint length);
    [LibraryImport(Ssl)] public static partial nuint SSL_get_server_random(nint ssl, byte* output, nuint length);
    [LibraryImport(Ssl)] public static partial nint SSL_get_session(nint ssl);
    [LibraryImport(Ssl)] public static partial nuint SSL_SESSION_get_master_key(nint session, byte* output, nuint length);
    [LibraryImport(Ssl)] public static partial nint SSL_get_current_cipher(nint ssl);
    [LibraryImport(Ssl)] public static partial nint SSL_CIPHER_get_name(nint cipher);

    [LibraryImport(Crypto)] public static partial nint BIO_s_mem();
    [LibraryImport(Crypto)] public static partial nint BIO_new(nint type);
    [LibraryImport(Crypto)] public static partial int BIO_free(nint bio);
    [LibraryImport(Crypto)] public static partial int BIO_write(nint bio, byte* data, int length);
    [LibraryImport(Crypto)] public static partial int BIO_read(nint bio, byte* data, int length);
    [LibraryImport(Crypto)] public static partial nint BIO_ctrl(nint bio, int cmd, nint larg, nint parg);
    [LibraryImport(Crypto)] public static partial nint d2i_X509(nint reuse, byte** data, nint length);
    [LibraryImport(Crypto)] public static partial int i2d_X509(nint x509, byte** output);
    [LibraryImport(Crypto)] public static partial void X509_free(nint x509);
    [LibraryImport(Crypto)] public static partial nint d2i_AutoPrivateKey(nint reuse, byte** data, nint length);
    [LibraryImport(Crypto)] public static partial void EVP_PKEY_free(nint pkey);
    [LibraryImport(Crypto)] public static partial ulong ERR_get_error();
    [LibraryImport(Crypto)] public static partial void ERR_clear_error();
    [LibraryImport(Crypto)] public static partial void ERR_error_string_n(ulong error, byte* buffer, nuint length);

    /// <summary>The first queued OpenSSL error as text (and the queue cleared), for failure reasons.</summary>
    public static string TakeError()
    {
        var code = ERR_get_error();
        ERR_clear_error();
        if (code == 0) return "unknown OpenSSL error";
        var buffer = stackalloc byte[256];
        ERR_error_string_n(code, buffer, 256);
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown OpenSSL error";
    }
}
