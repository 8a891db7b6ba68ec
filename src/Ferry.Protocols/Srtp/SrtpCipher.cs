using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ferry.Protocols.Srtp;

/// <summary>
/// The transforms of one direction of one profile, over session keys already derived. Index,
/// rollover and replay bookkeeping live in <see cref="SrtpSession"/>; this only encrypts,
/// decrypts and authenticates.
/// </summary>
internal abstract class SrtpCipher : IDisposable
{
    public abstract int RtpTagLength { get; }
    public abstract int RtcpTagLength { get; }

    /// <summary>Encrypts the payload after <paramref name="headerLength"/> and appends the tag. Returns the new length.</summary>
    public abstract int ProtectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq);

    /// <summary>Verifies the tag and decrypts in place; false on a bad tag. Returns the length without the tag.</summary>
    public abstract bool UnprotectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq, out int newLength);

    /// <summary>Encrypts after the first 8 bytes, appends E||index and the tag. Returns the new length.</summary>
    public abstract int ProtectRtcp(Span<byte> buffer, int length, uint ssrc, uint index);

    /// <summary>Verifies and decrypts an SRTCP packet whose trailer says <paramref name="encrypted"/> and <paramref name="index"/>.</summary>
    public abstract bool UnprotectRtcp(Span<byte> buffer, int length, uint ssrc, uint index, bool encrypted, out int newLength);

    public abstract void Dispose();

    public static SrtpCipher Create(SrtpProfile profile, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
    {
        if (masterKey.Length != profile.MasterKeyLength()) throw new ArgumentException($"{profile} needs a {profile.MasterKeyLength()}-byte master key, got {masterKey.Length}");
        if (masterSalt.Length != profile.MasterSaltLength()) throw new ArgumentException($"{profile} needs a {profile.MasterSaltLength()}-byte master salt, got {masterSalt.Length}");
        using var prf = new AesCounterMode(masterKey);
        var saltLength = profile.MasterSaltLength();
        Span<byte> rtpKey = stackalloc byte[masterKey.Length], rtcpKey = stackalloc byte[masterKey.Length];
        Span<byte> rtpSalt = stackalloc byte[saltLength], rtcpSalt = stackalloc byte[saltLength];
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtpEncryption, rtpKey);
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtpSalt, rtpSalt);
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtcpEncryption, rtcpKey);
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtcpSalt, rtcpSalt);
        if (profile.IsAead()) return new AesGcmCipher(rtpKey, rtpSalt, rtcpKey, rtcpSalt);
        Span<byte> rtpAuth = stackalloc byte[20], rtcpAuth = stackalloc byte[20];
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtpAuthentication, rtpAuth);
        SrtpKeyDerivation.Derive(prf, masterSalt, SrtpKeyDerivation.RtcpAuthentication, rtcpAuth);
        return new AesCmHmacCipher(profile.SrtpTagLength(), rtpKey, rtpSalt, rtpAuth, rtcpKey, rtcpSalt, rtcpAuth);
    }
}

/// <summary>AES_CM_128_HMAC_SHA1_80 and _32 (RFC 3711 §4.1.1, §4.2.1; SRTCP always 80-bit, RFC 5764 §4.1.2).</summary>
internal sealed class AesCmHmacCipher : SrtpCipher
{
    private const int RtcpTag = 10;
    private readonly int _rtpTag;
    private readonly AesCounterMode _rtpCtr, _rtcpCtr;
    private readonly byte[] _rtpSalt, _rtcpSalt;
    private readonly HmacSha1 _rtpMac, _rtcpMac;

    public AesCmHmacCipher(int rtpTag, ReadOnlySpan<byte> rtpKey, ReadOnlySpan<byte> rtpSalt, ReadOnlySpan<byte> rtpAuth,
        ReadOnlySpan<byte> rtcpKey, ReadOnlySpan<byte> rtcpSalt, ReadOnlySpan<byte> rtcpAuth)
    {
        _rtpTag = rtpTag;
        _rtpCtr = new AesCounterMode(rtpKey);
        _rtcpCtr = new AesCounterMode(rtcpKey);
        _rtpSalt = rtpSalt.ToArray();
        _rtcpSalt = rtcpSalt.ToArray();
        _rtpMac = new HmacSha1(rtpAuth);
        _rtcpMac = new HmacSha1(rtcpAuth);
    }

    public override int RtpTagLength => _rtpTag;
    public override int RtcpTagLength => RtcpTag;

    // IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), RFC 3711 §4.1.1.
    private static void Iv(Span<byte> iv, ReadOnlySpan<byte> salt, uint ssrc, ulong index)
    {
        iv.Clear();
        salt.CopyTo(iv);
        iv[4] ^= (byte)(ssrc >> 24); iv[5] ^= (byte)(ssrc >> 16); iv[6] ^= (byte)(ssrc >> 8); iv[7] ^= (byte)ssrc;
        for (var i = 0; i < 6; i++) iv[13 - i] ^= (byte)(index >> (8 * i));
    }

    public override int ProtectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq)
    {
        Span<byte> iv = stackalloc byte[16];
        Iv(iv, _rtpSalt, ssrc, ((ulong)roc << 16) | seq);
        _rtpCtr.Apply(iv, buffer[headerLength..length]);
        // The tag covers the packet then the ROC: write the ROC where the tag goes, hash, then overwrite.
        Span<byte> mac = stackalloc byte[20];
        BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], roc);
        _rtpMac.Compute(buffer[..(length + 4)], mac);
        mac[.._rtpTag].CopyTo(buffer[length..]);
        return length + _rtpTag;
    }

    public override bool UnprotectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq, out int newLength)
    {
        newLength = length - _rtpTag;
        // The tag (4 or 10 bytes) is where the ROC goes for hashing: keep it aside, put it back after.
        Span<byte> tag = stackalloc byte[10];
        buffer.Slice(newLength, _rtpTag).CopyTo(tag);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[newLength..], roc);
        Span<byte> mac = stackalloc byte[20];
        _rtpMac.Compute(buffer[..(newLength + 4)], mac);
        tag[.._rtpTag].CopyTo(buffer[newLength..]);
        if (!CryptographicOperations.FixedTimeEquals(mac[.._rtpTag], tag[.._rtpTag]))
        {
            newLength = length;
            return false;
        }
        Span<byte> iv = stackalloc byte[16];
        Iv(iv, _rtpSalt, ssrc, ((ulong)roc << 16) | seq);
        _rtpCtr.Apply(iv, buffer[headerLength..newLength]);
        return true;
    }

    public override int ProtectRtcp(Span<byte> buffer, int length, uint ssrc, uint index)
    {
        Span<byte> iv = stackalloc byte[16];
        Iv(iv, _rtcpSalt, ssrc, index);
        _rtcpCtr.Apply(iv, buffer[8..length]);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], 0x80000000u | index);
        Span<byte> mac = stackalloc byte[20];
        _rtcpMac.Compute(buffer[..(length + 4)], mac);
        mac[..RtcpTag].CopyTo(buffer[(length + 4)..]);
        return length + 4 + RtcpTag;
    }

    public override bool UnprotectRtcp(Span<byte> buffer, int length, uint ssrc, uint index, bool encrypted, out int newLength)
    {
        // length includes E||index and the tag.
        newLength = length;
        var authenticated = length - RtcpTag;
        Span<byte> mac = stackalloc byte[20];
        _rtcpMac.Compute(buffer[..authenticated], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..RtcpTag], buffer.Slice(authenticated, RtcpTag))) return false;
        newLength = authenticated - 4;
        if (encrypted)
        {
            Span<byte> iv = stackalloc byte[16];
            Iv(iv, _rtcpSalt, ssrc, index);
            _rtcpCtr.Apply(iv, buffer[8..newLength]);
        }
        return true;
    }

    public override void Dispose()
    {
        _rtpCtr.Dispose();
        _rtcpCtr.Dispose();
    }
}

/// <summary>
/// AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714 §8-§9), 16-byte tags, through libcrypto's EVP:
/// one GCM context per use (RTP or RTCP, seal or open) keyed once, made on first use (a sending
/// session never opens, a receiving one never seals). A packet costs the IV, the AAD, one update,
/// final and the tag. A bad tag is a return value, never an exception.
/// </summary>
internal sealed unsafe class AesGcmCipher : SrtpCipher
{
    private const int Tag = 16;
    private readonly byte[] _rtpKey, _rtcpKey;
    private readonly byte[] _rtpSalt, _rtcpSalt;
    private EvpCipherContext? _rtpSeal, _rtpOpen, _rtcpSeal, _rtcpOpen;

    public AesGcmCipher(ReadOnlySpan<byte> rtpKey, ReadOnlySpan<byte> rtpSalt, ReadOnlySpan<byte> rtcpKey, ReadOnlySpan<byte> rtcpSalt)
    {
        if (rtpKey.Length is not (16 or 32) || rtcpKey.Length != rtpKey.Length) throw new ArgumentException($"AES-GCM key of {rtpKey.Length} bytes");
        _rtpKey = rtpKey.ToArray();
        _rtcpKey = rtcpKey.ToArray();
        _rtpSalt = rtpSalt.ToArray();
        _rtcpSalt = rtcpSalt.ToArray();
    }

    public override int RtpTagLength => Tag;
    public override int RtcpTagLength => Tag;

    private nint Context(ref EvpCipherContext? context, byte[] key, bool encrypt)
    {
        context ??= EvpCipherContext.Create(key.Length == 32 ? LibCrypto.EVP_aes_256_gcm() : LibCrypto.EVP_aes_128_gcm(), key, encrypt);
        return context.Pointer;
    }

    // RTP IV (§8.1): salt XOR (00 00 || SSRC || ROC || SEQ).
    private static void RtpIv(Span<byte> iv, ReadOnlySpan<byte> salt, uint ssrc, uint roc, ushort seq)
    {
        iv.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(iv[2..], ssrc);
        BinaryPrimitives.WriteUInt32BigEndian(iv[6..], roc);
        BinaryPrimitives.WriteUInt16BigEndian(iv[10..], seq);
        for (var i = 0; i < 12; i++) iv[i] ^= salt[i];
    }

    // RTCP IV (§9.1): salt XOR (00 00 || SSRC || 00 00 || 0 || SRTCP index).
    private static void RtcpIv(Span<byte> iv, ReadOnlySpan<byte> salt, uint ssrc, uint index)
    {
        iv.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(iv[2..], ssrc);
        BinaryPrimitives.WriteUInt32BigEndian(iv[8..], index & 0x7FFFFFFF);
        for (var i = 0; i < 12; i++) iv[i] ^= salt[i];
    }

    /// <summary>Encrypts <paramref name="data"/> in place under <paramref name="iv"/> and writes the tag over <paramref name="aad1"/> then <paramref name="aad2"/> and it.</summary>
    private static void Seal(nint ctx, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> aad1, ReadOnlySpan<byte> aad2, Span<byte> data, Span<byte> tag)
    {
        int n;
        fixed (byte* v = iv, a1 = aad1, a2 = aad2, d = data, t = tag)
        {
            LibCrypto.EVP_EncryptInit_ex(ctx, 0, 0, null, v);
            if (aad1.Length > 0) LibCrypto.EVP_EncryptUpdate(ctx, null, &n, a1, aad1.Length);
            if (aad2.Length > 0) LibCrypto.EVP_EncryptUpdate(ctx, null, &n, a2, aad2.Length);
            if (data.Length > 0) LibCrypto.EVP_EncryptUpdate(ctx, d, &n, d, data.Length);
            LibCrypto.EVP_EncryptFinal_ex(ctx, t, &n);
            LibCrypto.EVP_CIPHER_CTX_ctrl(ctx, LibCrypto.EVP_CTRL_GCM_GET_TAG, Tag, t);
        }
    }

    /// <summary>
    /// Verifies <paramref name="tag"/> and decrypts <paramref name="data"/> in place. On a bad tag the data is
    /// encrypted back (CTR is its own inverse under the same IV), so a dropped packet leaves the buffer as it came,
    /// without the copy through a scratch buffer every good packet would otherwise pay.
    /// </summary>
    private static bool Open(nint ctx, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> aad1, ReadOnlySpan<byte> aad2, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        int n;
        fixed (byte* v = iv, a1 = aad1, a2 = aad2, d = data, t = tag)
        {
            LibCrypto.EVP_DecryptInit_ex(ctx, 0, 0, null, v);
            if (aad1.Length > 0) LibCrypto.EVP_DecryptUpdate(ctx, null, &n, a1, aad1.Length);
            if (aad2.Length > 0) LibCrypto.EVP_DecryptUpdate(ctx, null, &n, a2, aad2.Length);
            if (data.Length > 0) LibCrypto.EVP_DecryptUpdate(ctx, d, &n, d, data.Length);
            // SET_TAG only reads the tag (it copies it into the context).
            LibCrypto.EVP_CIPHER_CTX_ctrl(ctx, LibCrypto.EVP_CTRL_GCM_SET_TAG, Tag, t);
            if (LibCrypto.EVP_DecryptFinal_ex(ctx, d + data.Length, &n) == 1) return true;
            LibCrypto.ERR_clear_error();
            if (data.Length > 0)
            {
                LibCrypto.EVP_DecryptInit_ex(ctx, 0, 0, null, v);
                LibCrypto.EVP_DecryptUpdate(ctx, d, &n, d, data.Length);
            }
            return false;
        }
    }

    public override int ProtectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq)
    {
        Span<byte> iv = stackalloc byte[12];
        RtpIv(iv, _rtpSalt, ssrc, roc, seq);
        Seal(Context(ref _rtpSeal, _rtpKey, encrypt: true), iv, buffer[..headerLength], [], buffer[headerLength..length], buffer.Slice(length, Tag));
        return length + Tag;
    }

    public override bool UnprotectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq, out int newLength)
    {
        newLength = length - Tag;
        Span<byte> iv = stackalloc byte[12];
        RtpIv(iv, _rtpSalt, ssrc, roc, seq);
        if (Open(Context(ref _rtpOpen, _rtpKey, encrypt: false), iv, buffer[..headerLength], [], buffer[headerLength..newLength], buffer.Slice(newLength, Tag))) return true;
        newLength = length;
        return false;
    }

    public override int ProtectRtcp(Span<byte> buffer, int length, uint ssrc, uint index)
    {
        // Output: header(8) || ciphertext || tag || E||index; the AAD is the header then E||index (§9.2).
        Span<byte> iv = stackalloc byte[12];
        RtcpIv(iv, _rtcpSalt, ssrc, index);
        Span<byte> trailer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(trailer, 0x80000000u | index);
        Seal(Context(ref _rtcpSeal, _rtcpKey, encrypt: true), iv, buffer[..8], trailer, buffer[8..length], buffer.Slice(length, Tag));
        trailer.CopyTo(buffer[(length + Tag)..]);
        return length + Tag + 4;
    }

    public override bool UnprotectRtcp(Span<byte> buffer, int length, uint ssrc, uint index, bool encrypted, out int newLength)
    {
        newLength = length;
        var trailer = buffer.Slice(length - 4, 4);
        var tagOffset = length - 4 - Tag;
        if (tagOffset < 8) return false;
        Span<byte> iv = stackalloc byte[12];
        RtcpIv(iv, _rtcpSalt, ssrc, index);
        var ctx = Context(ref _rtcpOpen, _rtcpKey, encrypt: false);
        // Encrypted: the AAD is the header then E||index (§9.2). Tag only (§9.3 with E=0): the whole packet then the trailer, nothing encrypted.
        var opened = encrypted
            ? Open(ctx, iv, buffer[..8], trailer, buffer[8..tagOffset], buffer.Slice(tagOffset, Tag))
            : Open(ctx, iv, buffer[..tagOffset], trailer, [], buffer.Slice(tagOffset, Tag));
        if (!opened) return false;
        newLength = tagOffset;
        return true;
    }

    public override void Dispose()
    {
        _rtpSeal?.Dispose();
        _rtpOpen?.Dispose();
        _rtcpSeal?.Dispose();
        _rtcpOpen?.Dispose();
    }
}
