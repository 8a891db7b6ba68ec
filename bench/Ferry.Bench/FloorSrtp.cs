using System.Buffers.Binary;
using System.Security.Cryptography;
using Ferry.Protocols.Srtp;
using static Ferry.Bench.FloorLibCrypto;

namespace Ferry.Bench;

/// <summary>
/// The floor's SRTP, one direction of one SSRC: the least an SFU's SRTP can cost on this machine.
/// Session keys are derived once (RFC 3711 §4.3, key derivation rate 0); one EVP context per
/// direction is keyed once and reused, so a packet costs only the calls for what changes: for
/// AES_CM_128_HMAC_SHA1_80, the IV and one AES-128-CTR update, then HMAC-SHA1 continued from the
/// key's precomputed pad states; for AEAD_AES_*_GCM, the IV, the header as AAD, the payload, final
/// and the tag. It keeps the rollover counter and a 64-packet replay window of its one SSRC, which
/// is the index bookkeeping RFC 3711 asks of any receiver; nothing else. Verified against RFC 3711
/// and RFC 7714 vectors and against Ferry's <see cref="SrtpSession"/> in Ferry.Bench.Tests.
/// Protect only or unprotect only per instance; not thread-safe.
/// </summary>
internal sealed unsafe class FloorSrtp : IDisposable
{
    private const int GcmTag = 16;
    private readonly FloorCipherContext _cipher = new();
    private readonly FloorHmac? _hmac;
    private readonly byte[] _salt;
    private readonly int _tag;
    private readonly bool _gcm;
    private bool _started;
    private ushort _highest;
    private uint _roc;
    private ulong _replay;
    private long _replayHighest;

    private FloorSrtp(SrtpProfile profile, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, bool decrypt, HmacMethod hmac)
        : this(profile, Derived(masterKey, masterSalt, 0x00, masterKey.Length), Derived(masterKey, masterSalt, 0x02, masterSalt.Length),
              Derived(masterKey, masterSalt, 0x01, 20), decrypt, hmac)
    {
    }

    private FloorSrtp(SrtpProfile profile, byte[] key, byte[] salt, byte[] auth, bool decrypt, HmacMethod hmac)
    {
        _gcm = profile is SrtpProfile.AeadAes128Gcm or SrtpProfile.AeadAes256Gcm;
        if (!_gcm && profile != SrtpProfile.AesCm128HmacSha1_80) throw new ArgumentException($"the floor carries AES_CM_128_HMAC_SHA1_80 and AEAD_AES_*_GCM, not {profile}");
        if (key.Length != (profile == SrtpProfile.AeadAes256Gcm ? 32 : 16) || salt.Length != (_gcm ? 12 : 14)) throw new ArgumentException("key or salt of the wrong length");
        _tag = _gcm ? GcmTag : 10;
        _salt = salt;
        if (!_gcm) _hmac = new FloorHmac(hmac, auth);
        var cipher = _gcm ? (key.Length == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm()) : EVP_aes_128_ctr();
        fixed (byte* k = key)
        {
            // CTR is its own inverse: both directions encrypt. GCM's context must know which way it goes.
            Check((_gcm && decrypt ? EVP_DecryptInit_ex(_cipher.Pointer, cipher, 0, k, null) : EVP_EncryptInit_ex(_cipher.Pointer, cipher, 0, k, null)) == 1);
        }
    }

    private static byte[] Derived(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, byte label, int length)
    {
        var output = new byte[length];
        Derive(masterKey, masterSalt, label, output);
        return output;
    }

    /// <summary>A direction keyed with session keys as given (for published per-packet vectors that skip the KDF); GCM only.</summary>
    internal static FloorSrtp WithSessionKeys(SrtpProfile profile, byte[] key, byte[] salt, bool decrypt) =>
        new(profile, key, salt, new byte[20], decrypt, HmacMethod.Sha1Midstate);

    /// <summary>A sending direction: <see cref="ProtectRtp"/> only.</summary>
    public static FloorSrtp ForProtect(SrtpProfile profile, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, HmacMethod hmac = HmacMethod.Sha1Midstate) =>
        new(profile, masterKey, masterSalt, decrypt: false, hmac);

    /// <summary>A receiving direction: <see cref="UnprotectRtp"/> only.</summary>
    public static FloorSrtp ForUnprotect(SrtpProfile profile, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, HmacMethod hmac = HmacMethod.Sha1Midstate) =>
        new(profile, masterKey, masterSalt, decrypt: true, hmac);

    /// <summary>Bytes a packet grows by.</summary>
    public int Overhead => _tag;

    /// <summary>Encrypts and tags the RTP packet of <paramref name="length"/> bytes in place; the new length (buffer needs <see cref="Overhead"/> more).</summary>
    public int ProtectRtp(Span<byte> buffer, int length)
    {
        var header = HeaderLength(buffer[..length]);
        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        var roc = Roc(seq);
        var iv = stackalloc byte[16];
        Iv(iv, BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]), roc, seq);
        var ctx = _cipher.Pointer;
        int n;
        fixed (byte* p = buffer)
        {
            if (_gcm)
            {
                EVP_EncryptInit_ex(ctx, 0, 0, null, iv);
                EVP_EncryptUpdate(ctx, null, &n, p, header);
                EVP_EncryptUpdate(ctx, p + header, &n, p + header, length - header);
                EVP_EncryptFinal_ex(ctx, p + length, &n);
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GcmTag, p + length);
            }
            else
            {
                EVP_EncryptInit_ex(ctx, 0, 0, null, iv);
                EVP_EncryptUpdate(ctx, p + header, &n, p + header, length - header);
                // The tag covers the packet then the ROC: the ROC goes where the tag will, then the tag over it.
                BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], roc);
                var mac = stackalloc byte[20];
                _hmac!.Compute(p, length + 4, null, 0, mac);
                new ReadOnlySpan<byte>(mac, _tag).CopyTo(buffer[length..]);
            }
        }
        Advance(roc, seq);
        return length + _tag;
    }

    /// <summary>Verifies, replay-checks and decrypts in place; false (dropped) on a bad tag or a replay.</summary>
    public bool UnprotectRtp(Span<byte> buffer, int length, out int newLength)
    {
        newLength = length - _tag;
        var header = HeaderLength(buffer[..length]);
        if (header < 0 || newLength < header) return false;
        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        var roc = Roc(seq);
        var index = ((long)roc << 16) | seq;
        if (_started && !ReplayOk(index)) return false;
        var iv = stackalloc byte[16];
        Iv(iv, BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]), roc, seq);
        var ctx = _cipher.Pointer;
        int n;
        fixed (byte* p = buffer)
        {
            if (_gcm)
            {
                EVP_DecryptInit_ex(ctx, 0, 0, null, iv);
                EVP_DecryptUpdate(ctx, null, &n, p, header);
                EVP_DecryptUpdate(ctx, p + header, &n, p + header, newLength - header);
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GcmTag, p + newLength);
                if (EVP_DecryptFinal_ex(ctx, p + newLength, &n) != 1) return false;
            }
            else
            {
                var mac = stackalloc byte[20];
                var rocBytes = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(new Span<byte>(rocBytes, 4), roc);
                _hmac!.Compute(p, newLength, rocBytes, 4, mac);
                if (!CryptographicOperations.FixedTimeEquals(new ReadOnlySpan<byte>(mac, _tag), buffer.Slice(newLength, _tag))) return false;
                EVP_EncryptInit_ex(ctx, 0, 0, null, iv);
                EVP_EncryptUpdate(ctx, p + header, &n, p + header, newLength - header);
            }
        }
        Advance(roc, seq);
        Accept(index);
        return true;
    }

    // RFC 3711 §3.3.1: the ROC whose index lies closest to the highest seen.
    private uint Roc(ushort seq)
    {
        if (!_started) return 0;
        if (_highest < 32768) return seq - _highest > 32768 && _roc > 0 ? _roc - 1 : _roc;
        return _highest - 32768 > seq ? _roc + 1 : _roc;
    }

    private void Advance(uint roc, ushort seq)
    {
        if (!_started || roc > _roc || (roc == _roc && seq > _highest))
        {
            _started = true;
            _roc = roc;
            _highest = seq;
        }
    }

    private bool ReplayOk(long index)
    {
        if (index > _replayHighest) return true;
        var age = _replayHighest - index;
        return age < 64 && (_replay & (1UL << (int)age)) == 0;
    }

    private void Accept(long index)
    {
        if (index > _replayHighest || _replay == 0)
        {
            var shift = index - _replayHighest;
            _replay = _replay == 0 ? 1 : shift >= 64 ? 1 : (_replay << (int)shift) | 1;
            _replayHighest = index;
        }
        else
        {
            _replay |= 1UL << (int)(_replayHighest - index);
        }
    }

    private void Iv(byte* iv, uint ssrc, uint roc, ushort seq)
    {
        var span = new Span<byte>(iv, 16);
        span.Clear();
        if (_gcm)
        {
            // RFC 7714 §8.1: salt XOR (00 00 || SSRC || ROC || SEQ), 12 bytes.
            BinaryPrimitives.WriteUInt32BigEndian(span[2..], ssrc);
            BinaryPrimitives.WriteUInt32BigEndian(span[6..], roc);
            BinaryPrimitives.WriteUInt16BigEndian(span[10..], seq);
            for (var i = 0; i < 12; i++) span[i] ^= _salt[i];
        }
        else
        {
            // RFC 3711 §4.1.1: (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
            _salt.CopyTo(span);
            BinaryPrimitives.WriteUInt32BigEndian(span[4..], BinaryPrimitives.ReadUInt32BigEndian(span[4..]) ^ ssrc);
            BinaryPrimitives.WriteUInt32BigEndian(span[8..], BinaryPrimitives.ReadUInt32BigEndian(span[8..]) ^ roc);
            BinaryPrimitives.WriteUInt16BigEndian(span[12..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(span[12..]) ^ seq));
        }
    }

    // RFC 3550 fixed header, CSRCs and the extension; -1 when malformed.
    private static int HeaderLength(ReadOnlySpan<byte> p)
    {
        if (p.Length < 12 || p[0] >> 6 != 2) return -1;
        var length = 12 + 4 * (p[0] & 0x0F);
        if ((p[0] & 0x10) != 0)
        {
            if (p.Length < length + 4) return -1;
            length += 4 + 4 * BinaryPrimitives.ReadUInt16BigEndian(p[(length + 2)..]);
        }
        return length <= p.Length ? length : -1;
    }

    /// <summary>RFC 3711 §4.3.1 key derivation (rate 0): AES-CM keystream of the master key at IV = (salt XOR label·2^48)·2^16.</summary>
    internal static void Derive(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, byte label, Span<byte> output)
    {
        using var ctx = new FloorCipherContext();
        Span<byte> iv = stackalloc byte[16];
        iv.Clear();
        // AEAD profiles have 12-byte salts: the KDF uses them as the leading bytes of the 14-byte x (RFC 7714 §11).
        masterSalt.CopyTo(iv);
        iv[7] ^= label;
        var zeros = new byte[output.Length];
        fixed (byte* k = masterKey, v = iv, z = zeros, o = output)
        {
            Check(EVP_EncryptInit_ex(ctx.Pointer, masterKey.Length == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), 0, k, v) == 1);
            int n;
            Check(EVP_EncryptUpdate(ctx.Pointer, o, &n, z, output.Length) == 1);
        }
    }

    public void Dispose()
    {
        _cipher.Dispose();
        _hmac?.Dispose();
    }
}
