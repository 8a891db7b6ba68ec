using System.Runtime.InteropServices;

namespace Ferry.Protocols.Srtp;

/// <summary>
/// AES-GCM decryption with tag verification through OpenSSL's EVP interface (libcrypto.so.3, which .NET
/// on Linux already loads). .NET's <see cref="System.Security.Cryptography.AesGcm"/> reports a bad tag
/// by throwing, so every forged or corrupted packet would cost an exception on the media path; here a
/// bad tag is a return value. The key is set once; a packet costs five native calls and no allocation.
/// Not thread-safe: one per direction and key, used from one loop.
/// </summary>
internal sealed unsafe partial class EvpGcmOpener : IDisposable
{
    private const string Crypto = "libcrypto.so.3";
    private const int EVP_CTRL_AEAD_SET_TAG = 0x11;
    private const int TagLength = 16;

    private nint _ctx;
    // Plaintext lands here first so that a packet whose tag fails leaves the caller's buffer as it was.
    private byte[] _scratch = new byte[2048];

    public EvpGcmOpener(ReadOnlySpan<byte> key)
    {
        var cipher = key.Length switch
        {
            16 => EVP_aes_128_gcm(),
            32 => EVP_aes_256_gcm(),
            _ => throw new ArgumentException($"AES-GCM key of {key.Length} bytes"),
        };
        _ctx = EVP_CIPHER_CTX_new();
        if (_ctx == 0) throw new InvalidOperationException("EVP_CIPHER_CTX_new failed");
        fixed (byte* k = key)
        {
            // The default IV length of GCM is the 12 bytes RFC 7714 uses.
            if (EVP_DecryptInit_ex(_ctx, cipher, 0, k, null) != 1)
            {
                EVP_CIPHER_CTX_free(_ctx);
                _ctx = 0;
                throw new InvalidOperationException("EVP_DecryptInit_ex failed");
            }
        }
    }

    /// <summary>
    /// Verifies <paramref name="tag"/> over <paramref name="aad1"/>, <paramref name="aad2"/> (the associated
    /// data, in that order) and <paramref name="data"/>, and decrypts <paramref name="data"/> in place.
    /// False, with <paramref name="data"/> unchanged, when the tag does not verify.
    /// </summary>
    public bool Open(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> aad1, ReadOnlySpan<byte> aad2, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        if (iv.Length != 12 || tag.Length != TagLength) return false;
        if (_scratch.Length < data.Length) _scratch = new byte[Math.Max(data.Length, _scratch.Length * 2)];
        Span<byte> tagCopy = stackalloc byte[TagLength];
        tag.CopyTo(tagCopy);
        int outLength;
        fixed (byte* ivp = iv, a1 = aad1, a2 = aad2, input = data, output = _scratch, t = tagCopy)
        {
            if (EVP_DecryptInit_ex(_ctx, 0, 0, null, ivp) != 1) return Fail();
            if (aad1.Length > 0 && EVP_DecryptUpdate(_ctx, null, &outLength, a1, aad1.Length) != 1) return Fail();
            if (aad2.Length > 0 && EVP_DecryptUpdate(_ctx, null, &outLength, a2, aad2.Length) != 1) return Fail();
            if (data.Length > 0 && EVP_DecryptUpdate(_ctx, output, &outLength, input, data.Length) != 1) return Fail();
            if (EVP_CIPHER_CTX_ctrl(_ctx, EVP_CTRL_AEAD_SET_TAG, TagLength, t) != 1) return Fail();
            if (EVP_DecryptFinal_ex(_ctx, output + data.Length, &outLength) != 1) return Fail();
        }
        _scratch.AsSpan(0, data.Length).CopyTo(data);
        return true;
    }

    private static bool Fail()
    {
        // Leave nothing on this thread's OpenSSL error queue for the next caller (.NET's own crypto included).
        ERR_clear_error();
        return false;
    }

    public void Dispose()
    {
        if (_ctx != 0) EVP_CIPHER_CTX_free(_ctx);
        _ctx = 0;
    }

    [LibraryImport(Crypto)] private static partial nint EVP_CIPHER_CTX_new();
    [LibraryImport(Crypto)] private static partial void EVP_CIPHER_CTX_free(nint ctx);
    [LibraryImport(Crypto)] private static partial nint EVP_aes_128_gcm();
    [LibraryImport(Crypto)] private static partial nint EVP_aes_256_gcm();
    [LibraryImport(Crypto)] private static partial int EVP_DecryptInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv);
    [LibraryImport(Crypto)] private static partial int EVP_DecryptUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
    [LibraryImport(Crypto)] private static partial int EVP_DecryptFinal_ex(nint ctx, byte* output, int* outputLength);
    [LibraryImport(Crypto)] private static partial int EVP_CIPHER_CTX_ctrl(nint ctx, int type, int arg, void* ptr);
    [LibraryImport(Crypto)] private static partial void ERR_clear_error();
}
