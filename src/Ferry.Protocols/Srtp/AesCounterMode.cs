namespace Ferry.Protocols.Srtp;

/// <summary>
/// AES in counter mode (RFC 3711 §4.1.1): keystream blocks are AES(IV + i). One libcrypto AES-CTR
/// context keyed once; a call sets the IV and runs one update in place. OpenSSL's CTR carries the
/// increment over all 128 bits where RFC 3711 counts in the low 16; SRTP's IVs end in two zero
/// bytes and a packet is far below 2^16 blocks, so the two never differ. CTR is its own inverse:
/// the same call encrypts and decrypts. One thread at a time.
/// </summary>
internal sealed unsafe class AesCounterMode : IDisposable
{
    private readonly EvpCipherContext _ctx;

    public AesCounterMode(ReadOnlySpan<byte> key)
    {
        var cipher = key.Length switch
        {
            16 => LibCrypto.EVP_aes_128_ctr(),
            32 => LibCrypto.EVP_aes_256_ctr(),
            _ => throw new ArgumentException($"AES-CM key of {key.Length} bytes"),
        };
        _ctx = EvpCipherContext.Create(cipher, key, encrypt: true);
    }

    /// <summary>XORs the keystream that starts at <paramref name="iv"/> (16 bytes) into <paramref name="data"/>.</summary>
    public void Apply(ReadOnlySpan<byte> iv, Span<byte> data)
    {
        if (iv.Length < 16) throw new ArgumentException("AES-CM needs a 16-byte IV", nameof(iv));
        if (data.IsEmpty) return;
        int n;
        fixed (byte* v = iv)
        fixed (byte* d = data)
        {
            LibCrypto.EVP_EncryptInit_ex(_ctx.Pointer, 0, 0, null, v);
            LibCrypto.EVP_EncryptUpdate(_ctx.Pointer, d, &n, d, data.Length);
        }
    }

    /// <summary>The raw keystream (for the key derivation function).</summary>
    public void Keystream(ReadOnlySpan<byte> iv, Span<byte> output)
    {
        output.Clear();
        Apply(iv, output);
    }

    public void Dispose() => _ctx.Dispose();
}
