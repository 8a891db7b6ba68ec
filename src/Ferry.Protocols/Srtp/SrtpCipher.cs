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
    private readonly IncrementalHash _rtpMac, _rtcpMac;

    public AesCmHmacCipher(int rtpTag, ReadOnlySpan<byte> rtpKey, ReadOnlySpan<byte> rtpSalt, ReadOnlySpan<byte> rtpAuth,
        ReadOnlySpan<byte> rtcpKey, ReadOnlySpan<byte> rtcpSalt, ReadOnlySpan<byte> rtcpAuth)
    {
        _rtpTag = rtpTag;
        _rtpCtr = new AesCounterMode(rtpKey);
        _rtcpCtr = new AesCounterMode(rtcpKey);
        _rtpSalt = rtpSalt.ToArray();
        _rtcpSalt = rtcpSalt.ToArray();
        _rtpMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, rtpAuth);
        _rtcpMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, rtcpAuth);
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
        Hmac(_rtpMac, buffer[..(length + 4)], mac);
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
        Hmac(_rtpMac, buffer[..(newLength + 4)], mac);
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
        Hmac(_rtcpMac, buffer[..(length + 4)], mac);
        mac[..RtcpTag].CopyTo(buffer[(length + 4)..]);
        return length + 4 + RtcpTag;
    }

    public override bool UnprotectRtcp(Span<byte> buffer, int length, uint ssrc, uint index, bool encrypted, out int newLength)
    {
        // length includes E||index and the tag.
        newLength = length;
        var authenticated = length - RtcpTag;
        Span<byte> mac = stackalloc byte[20];
        Hmac(_rtcpMac, buffer[..authenticated], mac);
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

    private static void Hmac(IncrementalHash mac, ReadOnlySpan<byte> data, Span<byte> output)
    {
        mac.AppendData(data);
        mac.GetHashAndReset(output);
    }

    public override void Dispose()
    {
        _rtpCtr.Dispose();
        _rtcpCtr.Dispose();
        _rtpMac.Dispose();
        _rtcpMac.Dispose();
    }
}

/// <summary>
/// AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714 §8-§9), 16-byte tags. Sealing uses .NET's AesGcm;
/// opening uses <see cref="EvpGcmOpener"/>, since AesGcm throws on a bad tag and forged packets must not
/// cost exceptions.
/// </summary>
internal sealed class AesGcmCipher : SrtpCipher
{
    private const int Tag = 16;
    private readonly AesGcm _rtp, _rtcp;
    private readonly EvpGcmOpener _rtpOpen, _rtcpOpen;
    private readonly byte[] _rtpSalt, _rtcpSalt;

    public AesGcmCipher(ReadOnlySpan<byte> rtpKey, ReadOnlySpan<byte> rtpSalt, ReadOnlySpan<byte> rtcpKey, ReadOnlySpan<byte> rtcpSalt)
    {
        _rtp = new AesGcm(rtpKey, Tag);
        _rtcp = new AesGcm(rtcpKey, Tag);
        _rtpOpen = new EvpGcmOpener(rtpKey);
        _rtcpOpen = new EvpGcmOpener(rtcpKey);
        _rtpSalt = rtpSalt.ToArray();
        _rtcpSalt = rtcpSalt.ToArray();
    }

    public override int RtpTagLength => Tag;
    public override int RtcpTagLength => Tag;

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

    public override int ProtectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq)
    {
        Span<byte> iv = stackalloc byte[12];
        RtpIv(iv, _rtpSalt, ssrc, roc, seq);
        var payload = buffer[headerLength..length];
        _rtp.Encrypt(iv, payload, payload, buffer.Slice(length, Tag), buffer[..headerLength]);
        return length + Tag;
    }

    public override bool UnprotectRtp(Span<byte> buffer, int length, int headerLength, uint ssrc, uint roc, ushort seq, out int newLength)
    {
        newLength = length - Tag;
        Span<byte> iv = stackalloc byte[12];
        RtpIv(iv, _rtpSalt, ssrc, roc, seq);
        if (_rtpOpen.Open(iv, buffer[..headerLength], [], buffer[headerLength..newLength], buffer.Slice(newLength, Tag))) return true;
        newLength = length;
        return false;
    }

    public override int ProtectRtcp(Span<byte> buffer, int length, uint ssrc, uint index)
    {
        // Output: header(8) || ciphertext || tag || E||index; the AAD is the header then E||index (§9.2).
        Span<byte> iv = stackalloc byte[12];
        RtcpIv(iv, _rtcpSalt, ssrc, index);
        Span<byte> aad = stackalloc byte[12];
        buffer[..8].CopyTo(aad);
        BinaryPrimitives.WriteUInt32BigEndian(aad[8..], 0x80000000u | index);
        var payload = buffer[8..length];
        _rtcp.Encrypt(iv, payload, payload, buffer.Slice(length, Tag), aad);
        aad[8..].CopyTo(buffer[(length + Tag)..]);
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
        // Encrypted: the AAD is the header then E||index (§9.2). Tag only (§9.3 with E=0): the whole packet then the trailer, nothing encrypted.
        var opened = encrypted
            ? _rtcpOpen.Open(iv, buffer[..8], trailer, buffer[8..tagOffset], buffer.Slice(tagOffset, Tag))
            : _rtcpOpen.Open(iv, buffer[..tagOffset], trailer, [], buffer.Slice(tagOffset, Tag));
        if (!opened) return false;
        newLength = tagOffset;
        return true;
    }

    public override void Dispose()
    {
        _rtp.Dispose();
        _rtcp.Dispose();
        _rtpOpen.Dispose();
        _rtcpOpen.Dispose();
    }
}
