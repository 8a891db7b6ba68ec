using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ferry.Bench;

/// <summary>
/// The libcrypto (OpenSSL 3) calls the floor's SRTP is made of, declared here so the floor depends on
/// nothing of Ferry's SRTP. Per-packet calls are short, never block and never call back, so they skip
/// the GC transition (<see cref="SuppressGCTransitionAttribute"/>): the cheapest way .NET has to call C.
/// </summary>
internal static unsafe partial class FloorLibCrypto
{
    private const string Lib = "libcrypto.so.3";

    public const int EVP_CTRL_GCM_GET_TAG = 0x10;
    public const int EVP_CTRL_GCM_SET_TAG = 0x11;

    // Set-up and tear-down: once per context.
    [LibraryImport(Lib)] public static partial nint EVP_CIPHER_CTX_new();
    [LibraryImport(Lib)] public static partial void EVP_CIPHER_CTX_free(nint ctx);
    [LibraryImport(Lib)] public static partial nint EVP_aes_128_ctr();
    [LibraryImport(Lib)] public static partial nint EVP_aes_256_ctr();
    [LibraryImport(Lib)] public static partial nint EVP_aes_128_gcm();
    [LibraryImport(Lib)] public static partial nint EVP_aes_256_gcm();
    [LibraryImport(Lib)] public static partial nint EVP_sha1();
    [LibraryImport(Lib)] public static partial nint HMAC_CTX_new();
    [LibraryImport(Lib)] public static partial void HMAC_CTX_free(nint ctx);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial nint EVP_MAC_fetch(nint libctx, string algorithm, nint properties);
    [LibraryImport(Lib)] public static partial void EVP_MAC_free(nint mac);
    [LibraryImport(Lib)] public static partial nint EVP_MAC_CTX_new(nint mac);
    [LibraryImport(Lib)] public static partial void EVP_MAC_CTX_free(nint ctx);
    [LibraryImport(Lib)] public static partial nint EVP_MAC_CTX_dup(nint ctx);
    [LibraryImport(Lib)] public static partial void ERR_clear_error();

    // Per packet.
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptFinal_ex(nint ctx, byte* output, int* outputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptFinal_ex(nint ctx, byte* output, int* outputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_CIPHER_CTX_ctrl(nint ctx, int type, int arg, void* ptr);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int HMAC_Init_ex(nint ctx, byte* key, int keyLength, nint md, nint engine);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int HMAC_Update(nint ctx, byte* data, nuint length);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int HMAC_Final(nint ctx, byte* md, uint* length);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int HMAC_CTX_copy(nint destination, nint source);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_MAC_init(nint ctx, byte* key, nuint keyLength, void* parameters);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_MAC_update(nint ctx, byte* data, nuint length);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_MAC_final(nint ctx, byte* output, nuint* outputLength, nuint outputSize);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Init(void* ctx);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Update(void* ctx, byte* data, nuint length);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Final(byte* md, void* ctx);

    /// <summary>OpenSSL's <c>OSSL_PARAM</c> (x86-64 / arm64 layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct OsslParam
    {
        public byte* Key;
        public uint DataType;
        public void* Data;
        public nuint DataSize;
        public nuint ReturnSize;
    }

    public const uint OSSL_PARAM_UTF8_STRING = 4;

    /// <summary>Throws with OpenSSL's queue cleared when a set-up call failed (never on the packet path).</summary>
    public static void Check(bool ok, [CallerArgumentExpression(nameof(ok))] string? what = null)
    {
        if (ok) return;
        ERR_clear_error();
        throw new InvalidOperationException($"libcrypto: {what} failed");
    }
}

/// <summary>An <c>EVP_CIPHER_CTX</c>, freed once whatever happens (finalizer as a back-stop).</summary>
internal sealed class FloorCipherContext : SafeHandle
{
    public FloorCipherContext() : base(0, ownsHandle: true)
    {
        SetHandle(FloorLibCrypto.EVP_CIPHER_CTX_new());
        FloorLibCrypto.Check(handle != 0, "EVP_CIPHER_CTX_new");
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>The raw pointer for per-packet calls: one thread owns the context, and disposes it only after its last packet.</summary>
    public nint Pointer => handle;

    protected override bool ReleaseHandle()
    {
        FloorLibCrypto.EVP_CIPHER_CTX_free(handle);
        return true;
    }
}

/// <summary>An <c>HMAC_CTX</c>.</summary>
internal sealed class FloorHmacContext : SafeHandle
{
    public FloorHmacContext() : base(0, ownsHandle: true)
    {
        SetHandle(FloorLibCrypto.HMAC_CTX_new());
        FloorLibCrypto.Check(handle != 0, "HMAC_CTX_new");
    }

    public override bool IsInvalid => handle == 0;
    public nint Pointer => handle;

    protected override bool ReleaseHandle()
    {
        FloorLibCrypto.HMAC_CTX_free(handle);
        return true;
    }
}

/// <summary>An <c>EVP_MAC_CTX</c> (or the <c>EVP_MAC</c> it was fetched from, with <see cref="IsMac"/>).</summary>
internal sealed class FloorMacContext : SafeHandle
{
    private readonly bool _isMac;

    public FloorMacContext(nint pointer, bool isMac) : base(0, ownsHandle: true)
    {
        _isMac = isMac;
        SetHandle(pointer);
        FloorLibCrypto.Check(handle != 0, isMac ? "EVP_MAC_fetch" : "EVP_MAC_CTX_new");
    }

    public bool IsMac => _isMac;
    public override bool IsInvalid => handle == 0;
    public nint Pointer => handle;

    protected override bool ReleaseHandle()
    {
        if (_isMac) FloorLibCrypto.EVP_MAC_free(handle);
        else FloorLibCrypto.EVP_MAC_CTX_free(handle);
        return true;
    }
}
