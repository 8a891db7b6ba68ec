using System.Numerics;
using System.Security.Cryptography;

namespace Ferry.Protocols.Srtp;

/// <summary>
/// AES in counter mode (RFC 3711 §4.1.1): keystream blocks are AES(IV + i), i counting in the
/// low 16 bits. Built on an ECB transform encrypting a batch of counter blocks at a time into
/// buffers owned here, so a packet costs no allocation.
/// </summary>
internal sealed class AesCounterMode : IDisposable
{
    private const int BatchBlocks = 32;
    private readonly Aes _aes;
    private readonly ICryptoTransform _ecb;
    private readonly byte[] _counters = new byte[BatchBlocks * 16];
    private readonly byte[] _keystream = new byte[BatchBlocks * 16];

    public AesCounterMode(ReadOnlySpan<byte> key)
    {
        _aes = Aes.Create();
        _aes.Key = key.ToArray();
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
    }

    /// <summary>XORs the keystream that starts at <paramref name="iv"/> into <paramref name="data"/>.</summary>
    public void Apply(ReadOnlySpan<byte> iv, Span<byte> data)
    {
        var block = 0;
        var offset = 0;
        while (offset < data.Length)
        {
            var blocks = Math.Min(BatchBlocks, (data.Length - offset + 15) / 16);
            for (var b = 0; b < blocks; b++)
            {
                var counter = _counters.AsSpan(b * 16, 16);
                iv[..16].CopyTo(counter);
                // The block index is added to the low 16 bits (RFC 3711 allows 2^16 blocks per packet).
                var low = (ushort)((counter[14] << 8 | counter[15]) + block + b);
                counter[14] = (byte)(low >> 8);
                counter[15] = (byte)low;
            }
            _ecb.TransformBlock(_counters, 0, blocks * 16, _keystream, 0);
            var n = Math.Min(blocks * 16, data.Length - offset);
            var chunk = data.Slice(offset, n);
            Xor(chunk, _keystream.AsSpan(0, n));
            offset += n;
            block += blocks;
        }
    }

    private static void Xor(Span<byte> data, ReadOnlySpan<byte> keystream)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var size = Vector<byte>.Count;
            for (; i + size <= data.Length; i += size)
            {
                var v = new Vector<byte>(data[i..]) ^ new Vector<byte>(keystream[i..]);
                v.CopyTo(data[i..]);
            }
        }
        for (; i < data.Length; i++) data[i] ^= keystream[i];
    }

    /// <summary>The raw keystream (for the key derivation function).</summary>
    public void Keystream(ReadOnlySpan<byte> iv, Span<byte> output)
    {
        output.Clear();
        Apply(iv, output);
    }

    public void Dispose()
    {
        _ecb.Dispose();
        _aes.Dispose();
    }
}
