using System.Runtime.InteropServices;

namespace Ferry.Protocols.Srtp;

/// <summary>
/// The libcrypto (OpenSSL 3, which .NET on Linux loads already) calls SRTP is made of. Going to EVP
/// directly, with one context keyed once per direction, leaves a packet only the calls for what
/// changes (IV, data, tag); .NET's AesGcm and IncrementalHash pay parameter look-ups, error-queue
/// clearing and allocations per call on top. Per-packet calls skip the GC transition
/// (<see cref="SuppressGCTransitionAttribute"/>): they are short (a datagram at most), never block
/// and never call back into managed code.
/// </summary>
internal static unsafe partial class LibCrypto
{
    private const string Lib = "libcrypto.so.3";

    public const int EVP_CTRL_GCM_GET_TAG = 0x10;
    public const int EVP_CTRL_GCM_SET_TAG = 0x11;

    /// <summary>Size of <c>SHA_CTX</c>: h0..h4, Nl, Nh, data[16], num, as 32-bit words.</summary>
    public const int Sha1StateBytes = 96;

    [LibraryImport(Lib)] public static partial nint EVP_CIPHER_CTX_new();
    [LibraryImport(Lib)] public static partial void EVP_CIPHER_CTX_free(nint ctx);
    [LibraryImport(Lib)] public static partial nint EVP_aes_128_ctr();
    [LibraryImport(Lib)] public static partial nint EVP_aes_256_ctr();
    [LibraryImport(Lib)] public static partial nint EVP_aes_128_gcm();
    [LibraryImport(Lib)] public static partial nint EVP_aes_256_gcm();
    [LibraryImport(Lib)] public static partial void ERR_clear_error();

    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_EncryptFinal_ex(nint ctx, byte* output, int* outputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_DecryptFinal_ex(nint ctx, byte* output, int* outputLength);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int EVP_CIPHER_CTX_ctrl(nint ctx, int type, int arg, void* ptr);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Init(void* ctx);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Update(void* ctx, byte* data, nuint length);
    [LibraryImport(Lib), SuppressGCTransition] public static partial int SHA1_Final(byte* md, void* ctx);
}

/// <summary>
/// One <c>EVP_CIPHER_CTX</c>, keyed once for one cipher and direction. Freed exactly once, by
/// <see cref="SafeHandle.Dispose()"/> or, if the owner is dropped undisposed, the finalizer.
/// </summary>
internal sealed unsafe class EvpCipherContext : SafeHandle
{
    private EvpCipherContext() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// The raw context for the per-packet calls. Its owner uses it from one thread and disposes it only after its
    /// last packet, so the reference counting SafeHandle would add to every call is not needed.
    /// </summary>
    public nint Pointer => handle;

    /// <summary>A context with <paramref name="cipher"/> and <paramref name="key"/> set for encryption or decryption.</summary>
    /// <exception cref="InvalidOperationException">libcrypto refused (no memory, a key of the wrong size).</exception>
    public static EvpCipherContext Create(nint cipher, ReadOnlySpan<byte> key, bool encrypt)
    {
        var context = new EvpCipherContext();
        context.SetHandle(LibCrypto.EVP_CIPHER_CTX_new());
        if (context.IsInvalid) throw new InvalidOperationException("EVP_CIPHER_CTX_new failed");
        fixed (byte* k = key)
        {
            var ok = encrypt
                ? LibCrypto.EVP_EncryptInit_ex(context.handle, cipher, 0, k, null)
                : LibCrypto.EVP_DecryptInit_ex(context.handle, cipher, 0, k, null);
            if (ok != 1)
            {
                LibCrypto.ERR_clear_error();
                context.Dispose();
                throw new InvalidOperationException("EVP cipher init failed");
            }
        }
        return context;
    }

    protected override bool ReleaseHandle()
    {
        LibCrypto.EVP_CIPHER_CTX_free(handle);
        return true;
    }
}

/// <summary>
/// HMAC-SHA1 under one key (RFC 2104) from the SHA-1 states after the key's inner and outer pads,
/// computed once: a message costs a 96-byte managed copy of each state and four libcrypto calls,
/// with no key schedule, no context copy and nothing allocated. Of the ways to key HMAC once
/// (HMAC_CTX re-initialised or copied from a template, EVP_MAC re-initialised, these states), the
/// bench's <c>srtp</c> phase measured this the cheapest. One thread at a time.
/// </summary>
internal sealed unsafe class HmacSha1
{
    // Inner state, outer state, working state; pinned because SHA1_Update is handed their addresses.
    private readonly byte[] _states = GC.AllocateArray<byte>(3 * LibCrypto.Sha1StateBytes, pinned: true);

    public HmacSha1(ReadOnlySpan<byte> key)
    {
        if (key.Length > 64) throw new ArgumentException("HMAC-SHA1 keys of SRTP are 20 bytes; longer than a block is not supported");
        Span<byte> pad = stackalloc byte[64];
        fixed (byte* s = _states)
        fixed (byte* p = pad)
        {
            for (var which = 0; which < 2; which++)
            {
                pad.Fill(which == 0 ? (byte)0x36 : (byte)0x5c);
                for (var i = 0; i < key.Length; i++) pad[i] ^= key[i];
                var state = s + which * LibCrypto.Sha1StateBytes;
                if (LibCrypto.SHA1_Init(state) != 1 || LibCrypto.SHA1_Update(state, p, 64) != 1) throw new InvalidOperationException("SHA1 init failed");
            }
            pad.Clear();
        }
    }

    /// <summary>The 20-byte MAC of <paramref name="message"/> into <paramref name="mac"/>.</summary>
    public void Compute(ReadOnlySpan<byte> message, Span<byte> mac)
    {
        if (mac.Length < 20) throw new ArgumentException("an HMAC-SHA1 output needs 20 bytes", nameof(mac));
        fixed (byte* s = _states)
        fixed (byte* m = message)
        fixed (byte* output = mac)
        {
            var work = s + 2 * LibCrypto.Sha1StateBytes;
            var inner = stackalloc byte[20];
            // The states are plain C structs: a managed copy restarts one without a native call.
            new ReadOnlySpan<byte>(s, LibCrypto.Sha1StateBytes).CopyTo(new Span<byte>(work, LibCrypto.Sha1StateBytes));
            LibCrypto.SHA1_Update(work, m, (nuint)message.Length);
            LibCrypto.SHA1_Final(inner, work);
            new ReadOnlySpan<byte>(s + LibCrypto.Sha1StateBytes, LibCrypto.Sha1StateBytes).CopyTo(new Span<byte>(work, LibCrypto.Sha1StateBytes));
            LibCrypto.SHA1_Update(work, inner, 20);
            LibCrypto.SHA1_Final(output, work);
        }
    }
}
