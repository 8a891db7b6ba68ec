using System.Security.Cryptography;
using Ferry.Bench;
using Ferry.Protocols.Srtp;

namespace Ferry.Bench.Tests;

/// <summary>
/// The floor's SRTP does the same work as Ferry's: its output matches published vectors (RFC 3711
/// key derivation, libsrtp's AES-CM packet, RFC 7714 AEAD packets), and packets it protects
/// unprotect with <see cref="SrtpSession"/> and the other way round, for every HMAC keying method.
/// </summary>
public sealed class FloorSrtpTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    [Fact]
    public void Key_derivation_matches_rfc3711_b3()
    {
        var master = Hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        var salt = Hex("0EC675AD498AFEEBB6960B3AABE6");
        var key = new byte[16];
        var sessionSalt = new byte[14];
        var auth = new byte[20];
        FloorSrtp.Derive(master, salt, 0, key);
        FloorSrtp.Derive(master, salt, 2, sessionSalt);
        FloorSrtp.Derive(master, salt, 1, auth);
        Assert.Equal(Hex("C61E7A93744F39EE10734AFE3FF7A087"), key);
        Assert.Equal(Hex("30CBBC08863D8C85D49DB34A9AE1"), sessionSalt);
        Assert.Equal(Hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"), auth);
    }

    [Theory]
    [InlineData(nameof(HmacMethod.Sha1Midstate))]
    [InlineData(nameof(HmacMethod.HmacCtxReinit))]
    [InlineData(nameof(HmacMethod.HmacCtxCopy))]
    [InlineData(nameof(HmacMethod.EvpMacReinit))]
    public void Aes_cm_packet_matches_libsrtp_known_answer(string hmac)
    {
        var method = Enum.Parse<HmacMethod>(hmac);
        var master = Hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        var salt = Hex("0EC675AD498AFEEBB6960B3AABE6");
        var plain = Hex("800f1234decafbadcafebabe" + string.Concat(Enumerable.Repeat("ab", 16)));
        var expected = Hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb");
        using var sender = FloorSrtp.ForProtect(SrtpProfile.AesCm128HmacSha1_80, master, salt, method);
        var buffer = new byte[64];
        plain.CopyTo(buffer, 0);
        var n = sender.ProtectRtp(buffer, plain.Length);
        Assert.Equal(expected, buffer[..n]);

        using var receiver = FloorSrtp.ForUnprotect(SrtpProfile.AesCm128HmacSha1_80, master, salt, method);
        Assert.True(receiver.UnprotectRtp(buffer, n, out var m));
        Assert.Equal(plain, buffer[..m]);
        // The same packet again is a replay.
        var again = expected.ToArray();
        Assert.False(receiver.UnprotectRtp(again, again.Length, out _));
    }

    private const string Rfc7714Rtp = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";

    [Fact]
    public void Gcm_packet_matches_rfc7714_16_2_1()
    {
        // RFC 7714's packet vectors are given under session keys (they skip the KDF, which the RFC 3711 vector
        // above covers), so the floor is keyed with them directly here.
        var sessionKey = Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        var sessionSalt = Hex("517569642070726f2071756f");
        var expected = Hex("8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13");
        var plain = Hex(Rfc7714Rtp);
        using var sender = FloorSrtp.WithSessionKeys(SrtpProfile.AeadAes256Gcm, sessionKey, sessionSalt, decrypt: false);
        var buffer = new byte[128];
        plain.CopyTo(buffer, 0);
        var n = sender.ProtectRtp(buffer, plain.Length);
        Assert.Equal(expected, buffer[..n]);

        using var receiver = FloorSrtp.WithSessionKeys(SrtpProfile.AeadAes256Gcm, sessionKey, sessionSalt, decrypt: true);
        Assert.True(receiver.UnprotectRtp(buffer, n, out var m));
        Assert.Equal(plain, buffer[..m]);

        var tampered = expected.ToArray();
        tampered[20] ^= 1;
        using var fresh = FloorSrtp.WithSessionKeys(SrtpProfile.AeadAes256Gcm, sessionKey, sessionSalt, decrypt: true);
        Assert.False(fresh.UnprotectRtp(tampered, tampered.Length, out _));
    }

    [Theory]
    [InlineData(SrtpProfile.AeadAes256Gcm, nameof(HmacMethod.Sha1Midstate))]
    [InlineData(SrtpProfile.AeadAes128Gcm, nameof(HmacMethod.Sha1Midstate))]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80, nameof(HmacMethod.Sha1Midstate))]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80, nameof(HmacMethod.HmacCtxReinit))]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80, nameof(HmacMethod.HmacCtxCopy))]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80, nameof(HmacMethod.EvpMacReinit))]
    public void Floor_and_SrtpSession_interoperate_both_ways_across_a_rollover(SrtpProfile profile, string hmac)
    {
        var method = Enum.Parse<HmacMethod>(hmac);
        var key = RandomNumberGenerator.GetBytes(profile.MasterKeyLength());
        var salt = RandomNumberGenerator.GetBytes(profile.MasterSaltLength());
        using var floorOut = FloorSrtp.ForProtect(profile, key, salt, method);
        using var floorIn = FloorSrtp.ForUnprotect(profile, key, salt, method);
        using var ferryOut = new SrtpSession(profile, key, salt);
        using var ferryIn = new SrtpSession(profile, key, salt);
        var payload = RandomNumberGenerator.GetBytes(1200);
        var buffer = new byte[2048];
        // Through the 16-bit wrap, so both keep the same rollover counter.
        for (var i = 0; i < 300; i++)
        {
            var seq = (ushort)(65400 + i);
            var plain = Packet(seq, payload.AsSpan(0, 100 + i));

            plain.CopyTo(buffer, 0);
            var n = floorOut.ProtectRtp(buffer, plain.Length);
            Assert.Equal(SrtpResult.Ok, ferryIn.UnprotectRtp(buffer, n, out var m));
            Assert.Equal(plain, buffer[..m]);

            plain.CopyTo(buffer, 0);
            Assert.Equal(SrtpResult.Ok, ferryOut.ProtectRtp(buffer, plain.Length, out n));
            var copy = buffer[..n];
            Assert.True(floorIn.UnprotectRtp(buffer, n, out m));
            Assert.Equal(plain, buffer[..m]);

            // A flipped bit anywhere in what the tag covers drops the packet.
            copy[12 + i % (copy.Length - 12 - floorIn.Overhead)] ^= 0x40;
            using var strict = FloorSrtp.ForUnprotect(profile, key, salt, method);
            Assert.False(strict.UnprotectRtp(copy, copy.Length, out _));
        }
    }

    private static byte[] Packet(ushort seq, ReadOnlySpan<byte> payload)
    {
        // V=2, X=1, PT 96, a one-byte-header extension block (MID "0"), as the bench's source sends.
        byte[] header = [0x90, 0x60, (byte)(seq >> 8), (byte)seq, 0, 0, 0x10, 0, 0x00, 0xA9, 0x8A, 0xC7, 0xBE, 0xDE, 0x00, 0x01, 0x40, 0x30, 0x00, 0x00];
        return [.. header, .. payload];
    }
}
