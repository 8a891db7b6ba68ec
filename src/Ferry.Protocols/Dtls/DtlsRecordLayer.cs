using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ferry.Protocols.Dtls;

/// <summary>The AEAD suites Ferry's own record layer runs, and so the only ones <see cref="DtlsContext"/> negotiates.</summary>
internal sealed record DtlsSuite(string OpenSslName, bool ChaCha, int KeyLength, int IvLength, HashAlgorithmName PrfHash)
{
    /// <summary>Bytes sent before the ciphertext besides the header: RFC 5288's explicit nonce (GCM only).</summary>
    public int ExplicitNonceLength => ChaCha ? 0 : 8;

    /// <summary>Most preferred first: AES-128-GCM (cheapest with AES-NI), AES-256-GCM, then ChaCha20-Poly1305.</summary>
    public static readonly IReadOnlyList<DtlsSuite> All =
    [
        new("ECDHE-ECDSA-AES128-GCM-SHA256", false, 16, 4, HashAlgorithmName.SHA256),
        new("ECDHE-RSA-AES128-GCM-SHA256", false, 16, 4, HashAlgorithmName.SHA256),
        new("ECDHE-ECDSA-AES256-GCM-SHA384", false, 32, 4, HashAlgorithmName.SHA384),
        new("ECDHE-RSA-AES256-GCM-SHA384", false, 32, 4, HashAlgorithmName.SHA384),
        new("ECDHE-ECDSA-CHACHA20-POLY1305", true, 32, 12, HashAlgorithmName.SHA256),
        new("ECDHE-RSA-CHACHA20-POLY1305", true, 32, 12, HashAlgorithmName.SHA256),
    ];

    /// <summary>The OpenSSL cipher list naming exactly <see cref="All"/>.</summary>
    public static string OpenSslCipherList => string.Join(':', All.Select(s => s.OpenSslName));

    /// <summary>The suite of this OpenSSL name, or null when Ferry's record layer does not run it.</summary>
    public static DtlsSuite? Find(string openSslName) => All.FirstOrDefault(s => s.OpenSslName == openSslName);
}

/// <summary>
/// DTLS 1.2 replay protection (RFC 6347 §4.1.2.6) for one epoch: the highest sequence number
/// accepted and a 64-bit window below it (bit i: highest − i was accepted).
/// </summary>
internal struct DtlsReplayWindow
{
    /// <summary>Window width.</summary>
    public const int Size = 64;

    /// <summary>Highest sequence number accepted, −1 when none.</summary>
    public long Highest;
    /// <summary>Bit i set: <see cref="Highest"/> − i was accepted.</summary>
    public ulong Bitmap;

    /// <summary>An empty window.</summary>
    public static DtlsReplayWindow Empty => new() { Highest = -1 };

    /// <summary>False for a sequence number already accepted or too far behind the window to tell.</summary>
    public readonly bool IsFresh(long sequence)
    {
        if (sequence > Highest) return true;
        var behind = Highest - sequence;
        return behind < Size && (Bitmap & (1UL << (int)behind)) == 0;
    }

    /// <summary>Marks an authenticated record's sequence number as seen.</summary>
    public void Accept(long sequence)
    {
        if (sequence > Highest)
        {
            var shift = sequence - Highest;
            Bitmap = shift >= Size ? 1UL : (Bitmap << (int)shift) | 1UL;
            Highest = sequence;
            return;
        }
        var behind = Highest - sequence;
        if (behind < Size) Bitmap |= 1UL << (int)behind;
    }
}

/// <summary>
/// Ferry's own DTLS 1.2 record protection for the AEAD suites of <see cref="DtlsSuite"/>: keys from
/// the TLS 1.2 key block (RFC 5246 §6.3), AES-GCM records as RFC 5288 (4-byte implicit salt, 8-byte
/// explicit nonce, which we set to epoch + sequence number: unique per key without any state),
/// ChaCha20-Poly1305 as RFC 7905 (IV XOR the padded epoch + sequence number, no explicit nonce).
/// Additional data for both: epoch + sequence (8) + type + version + plaintext length.
/// Nonce and additional-data buffers are reused: sealing and opening allocate nothing.
/// </summary>
internal sealed class DtlsRecordProtection : IDisposable
{
    /// <summary>DTLS record header: type, version, epoch, 48-bit sequence, length.</summary>
    public const int HeaderLength = 13;
    /// <summary>AEAD tag length of every suite here.</summary>
    public const int TagLength = 16;
    /// <summary>Largest plaintext of one record (RFC 5246 §6.2.1).</summary>
    public const int MaxPlaintext = 16384;
    /// <summary>DTLS 1.2 on the wire.</summary>
    public const ushort Version = 0xFEFD;

    private readonly AesGcm? _writeGcm, _readGcm;
    private readonly ChaCha20Poly1305? _writeChaCha, _readChaCha;
    private readonly byte[] _writeIv, _readIv;
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _additional = new byte[13];

    /// <summary>Derives both directions' keys for <paramref name="role"/> from the master secret and randoms.</summary>
    public DtlsRecordProtection(DtlsSuite suite, DtlsRole role, ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        Suite = suite;
        // RFC 5246 §6.3: client_write_MAC_key and server_write_MAC_key are empty for AEAD suites.
        var block = new byte[2 * (suite.KeyLength + suite.IvLength)];
        var seed = new byte[64];
        serverRandom.CopyTo(seed);
        clientRandom.CopyTo(seed.AsSpan(32));
        TlsPrf.Compute(suite.PrfHash, masterSecret, "key expansion"u8, seed, block);
        var k = suite.KeyLength;
        var v = suite.IvLength;
        var clientKey = block.AsSpan(0, k);
        var serverKey = block.AsSpan(k, k);
        var clientIv = block.AsSpan(2 * k, v);
        var serverIv = block.AsSpan(2 * k + v, v);
        var client = role == DtlsRole.Client;
        var writeKey = client ? clientKey : serverKey;
        var readKey = client ? serverKey : clientKey;
        _writeIv = (client ? clientIv : serverIv).ToArray();
        _readIv = (client ? serverIv : clientIv).ToArray();
        if (suite.ChaCha)
        {
            _writeChaCha = new ChaCha20Poly1305(writeKey);
            _readChaCha = new ChaCha20Poly1305(readKey);
        }
        else
        {
            _writeGcm = new AesGcm(writeKey, TagLength);
            _readGcm = new AesGcm(readKey, TagLength);
        }
        CryptographicOperations.ZeroMemory(block);
    }

    /// <summary>The suite.</summary>
    public DtlsSuite Suite { get; }

    /// <summary>Bytes a record adds to its plaintext, header included.</summary>
    public int Overhead => HeaderLength + Suite.ExplicitNonceLength + TagLength;

    /// <summary>Writes one protected record of <paramref name="type"/> into <paramref name="output"/> (at least <see cref="Overhead"/> + plaintext long); returns its length.</summary>
    public int Seal(byte type, ushort epoch, long sequence, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        var explicitLength = Suite.ExplicitNonceLength;
        var bodyLength = explicitLength + plaintext.Length + TagLength;
        output[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(output[1..], Version);
        WriteEpochAndSequence(output[3..], epoch, sequence);
        BinaryPrimitives.WriteUInt16BigEndian(output[11..], (ushort)bodyLength);
        WriteAdditional(type, epoch, sequence, plaintext.Length);
        var ciphertext = output.Slice(HeaderLength + explicitLength, plaintext.Length);
        var tag = output.Slice(HeaderLength + explicitLength + plaintext.Length, TagLength);
        if (_writeGcm is not null)
        {
            // The explicit nonce is the record's own epoch + sequence, never repeated under one key.
            _writeIv.CopyTo(_nonce, 0);
            WriteEpochAndSequence(_nonce.AsSpan(4), epoch, sequence);
            _nonce.AsSpan(4, 8).CopyTo(output[HeaderLength..]);
            _writeGcm.Encrypt(_nonce, plaintext, ciphertext, tag, _additional);
        }
        else
        {
            ChaChaNonce(_writeIv, epoch, sequence);
            _writeChaCha!.Encrypt(_nonce, plaintext, ciphertext, tag, _additional);
        }
        return HeaderLength + bodyLength;
    }

    /// <summary>
    /// Authenticates and decrypts one whole record (header included) into <paramref name="plaintext"/>;
    /// false, never an exception, for a record too short or failing authentication.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> record, Span<byte> plaintext, out int length)
    {
        length = 0;
        var explicitLength = Suite.ExplicitNonceLength;
        if (record.Length < Overhead) return false;
        var plaintextLength = record.Length - Overhead;
        if (plaintextLength > MaxPlaintext || plaintextLength > plaintext.Length) return false;
        var type = record[0];
        var epoch = BinaryPrimitives.ReadUInt16BigEndian(record[3..]);
        var sequence = ReadSequence(record);
        WriteAdditional(type, epoch, sequence, plaintextLength);
        var ciphertext = record.Slice(HeaderLength + explicitLength, plaintextLength);
        var tag = record.Slice(HeaderLength + explicitLength + plaintextLength, TagLength);
        var output = plaintext[..plaintextLength];
        try
        {
            if (_readGcm is not null)
            {
                _readIv.CopyTo(_nonce, 0);
                record.Slice(HeaderLength, 8).CopyTo(_nonce.AsSpan(4));
                _readGcm.Decrypt(_nonce, ciphertext, tag, output, _additional);
            }
            else
            {
                ChaChaNonce(_readIv, epoch, sequence);
                _readChaCha!.Decrypt(_nonce, ciphertext, tag, output, _additional);
            }
        }
        catch (CryptographicException)
        {
            // .NET reports a tag mismatch only by exception: a forged record costs one, a good one none.
            output.Clear();
            return false;
        }
        length = plaintextLength;
        return true;
    }

    /// <summary>The 48-bit sequence number of a record header.</summary>
    public static long ReadSequence(ReadOnlySpan<byte> header) =>
        (long)(BinaryPrimitives.ReadUInt64BigEndian(header[3..]) & 0xFFFF_FFFF_FFFFUL);

    private static void WriteEpochAndSequence(Span<byte> destination, ushort epoch, long sequence) =>
        BinaryPrimitives.WriteUInt64BigEndian(destination, ((ulong)epoch << 48) | ((ulong)sequence & 0xFFFF_FFFF_FFFFUL));

    private void WriteAdditional(byte type, ushort epoch, long sequence, int plaintextLength)
    {
        WriteEpochAndSequence(_additional, epoch, sequence);
        _additional[8] = type;
        BinaryPrimitives.WriteUInt16BigEndian(_additional.AsSpan(9), Version);
        BinaryPrimitives.WriteUInt16BigEndian(_additional.AsSpan(11), (ushort)plaintextLength);
    }

    private void ChaChaNonce(byte[] iv, ushort epoch, long sequence)
    {
        // RFC 7905 §2: the 64-bit record sequence number (for DTLS, epoch + sequence), left-padded to 12 bytes, XOR the IV.
        iv.CopyTo(_nonce, 0);
        var padded = ((ulong)epoch << 48) | ((ulong)sequence & 0xFFFF_FFFF_FFFFUL);
        var low = BinaryPrimitives.ReadUInt64BigEndian(_nonce.AsSpan(4)) ^ padded;
        BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(4), low);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writeGcm?.Dispose();
        _readGcm?.Dispose();
        _writeChaCha?.Dispose();
        _readChaCha?.Dispose();
    }
}
