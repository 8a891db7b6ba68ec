using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Tests.Srtp;

/// <summary>Published vectors: RFC 3711 Appendix B, RFC 7714 §16-17, and libsrtp's known-answer packets.</summary>
public class SrtpVectorTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    [Fact]
    public void Rfc3711_B3_key_derivation()
    {
        using var prf = new AesCounterMode(Hex("E1F97A0D3E018BE0D64FA32C06DE4139"));
        var salt = Hex("0EC675AD498AFEEBB6960B3AABE6");
        var key = new byte[16];
        var sessionSalt = new byte[14];
        var auth = new byte[94];
        SrtpKeyDerivation.Derive(prf, salt, SrtpKeyDerivation.RtpEncryption, key);
        SrtpKeyDerivation.Derive(prf, salt, SrtpKeyDerivation.RtpSalt, sessionSalt);
        SrtpKeyDerivation.Derive(prf, salt, SrtpKeyDerivation.RtpAuthentication, auth);
        Assert.Equal(Hex("C61E7A93744F39EE10734AFE3FF7A087"), key);
        Assert.Equal(Hex("30CBBC08863D8C85D49DB34A9AE1"), sessionSalt);
        Assert.Equal(Hex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"), auth);
    }

    [Fact]
    public void Rfc3711_B2_aes_cm_keystream()
    {
        using var ctr = new AesCounterMode(Hex("2B7E151628AED2A6ABF7158809CF4F3C"));
        var iv = Hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
        var keystream = new byte[0xFF02 * 16];
        ctr.Keystream(iv, keystream);
        Assert.Equal(Hex("E03EAD0935C95E80E166B16DD92B4EB4"), keystream[0..16]);
        Assert.Equal(Hex("D23513162B02D0F72A43A2FE4A5F97AB"), keystream[16..32]);
        Assert.Equal(Hex("41E95B3BB0A2E8DD477901E4FCA894C0"), keystream[32..48]);
        Assert.Equal(Hex("EC8CDF7398607CB0F2D21675EA9EA1E4"), keystream[(0xFEFF * 16)..(0xFF00 * 16)]);
        Assert.Equal(Hex("362B7C3C6773516318A077D7FC5073AE"), keystream[(0xFF00 * 16)..(0xFF01 * 16)]);
        Assert.Equal(Hex("6A2CC3787889374FBEB4C81B17BA6C44"), keystream[(0xFF01 * 16)..(0xFF02 * 16)]);
    }

    private static readonly byte[] LibsrtpMaster = Hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    private static readonly byte[] LibsrtpSalt = Hex("0EC675AD498AFEEBB6960B3AABE6");

    [Fact]
    public void Libsrtp_known_answer_rtp_aes_cm_128_hmac_sha1_80()
    {
        var plain = Hex("800f1234decafbadcafebabe" + string.Concat(Enumerable.Repeat("ab", 16)));
        var expected = Hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb");
        using var sender = new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, LibsrtpMaster, LibsrtpSalt);
        var buffer = new byte[64];
        plain.CopyTo(buffer, 0);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtp(buffer, plain.Length, out var n));
        Assert.Equal(expected, buffer[..n]);

        using var receiver = new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, LibsrtpMaster, LibsrtpSalt);
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtp(buffer, n, out var m));
        Assert.Equal(plain, buffer[..m]);
    }

    [Fact]
    public void Libsrtp_known_answer_srtcp_aes_cm_128_hmac_sha1_80()
    {
        var plain = Hex("81c8000bcafebabe" + string.Concat(Enumerable.Repeat("ab", 16)));
        var expected = Hex("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798");
        using var sender = new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, LibsrtpMaster, LibsrtpSalt);
        var buffer = new byte[64];
        plain.CopyTo(buffer, 0);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtcp(buffer, plain.Length, out var n));
        Assert.Equal(expected, buffer[..n]);

        using var receiver = new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, LibsrtpMaster, LibsrtpSalt);
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, n, out var m));
        Assert.Equal(plain, buffer[..m]);
        Assert.Equal(SrtpResult.ReplayDuplicate, receiver.UnprotectRtcp(expected.ToArray(), expected.Length, out _));
    }

    [Fact]
    public void Unencrypted_srtcp_with_the_E_flag_clear_is_authenticated_and_accepted()
    {
        // All-zero master key and salt; SRTCP index 1 with E = 0 (only authenticated).
        var packet = Hex("80cc000810feff99466c75782105000310feff990000100200001603000000090000000400000001a0573cb69ef3c96e1253");
        using var receiver = new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, new byte[16], new byte[14]);
        var buffer = packet.ToArray();
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, buffer.Length, out var n));
        Assert.Equal(packet[..^14], buffer[..n]);
    }

    private const string Rfc7714Rtp = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
    private const string Rfc7714Salt = "517569642070726f2071756f";
    private const string Key128 = "000102030405060708090a0b0c0d0e0f";
    private const string Key256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    private static SrtpSession GcmSession(SrtpProfile profile, string key) =>
        new(profile, new AesGcmCipher(Hex(key), Hex(Rfc7714Salt), Hex(key), Hex(Rfc7714Salt)), Hex(key), Hex(Rfc7714Salt));

    [Theory]
    [InlineData(SrtpProfile.AeadAes128Gcm, Key128, "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce")]  // §16.1.1
    [InlineData(SrtpProfile.AeadAes256Gcm, Key256, "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13")]  // §16.2.1
    public void Rfc7714_16_srtp_aead(SrtpProfile profile, string key, string expectedHex)
    {
        var plain = Hex(Rfc7714Rtp);
        var expected = Hex(expectedHex);
        using var sender = GcmSession(profile, key);
        var buffer = new byte[128];
        plain.CopyTo(buffer, 0);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtp(buffer, plain.Length, out var n));
        Assert.Equal(expected, buffer[..n]);

        using var receiver = GcmSession(profile, key);
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtp(buffer, n, out var m));
        Assert.Equal(plain, buffer[..m]);

        var tampered = expected.ToArray();
        tampered[20] ^= 1;
        using var fresh = GcmSession(profile, key);
        Assert.Equal(SrtpResult.AuthenticationFailed, fresh.UnprotectRtp(tampered, tampered.Length, out _));
        Assert.Equal(0, fresh.StreamCount);
    }

    private const string Rfc7714Rtcp = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

    [Theory]
    [InlineData(SrtpProfile.AeadAes128Gcm, Key128, "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4")] // §17.1
    [InlineData(SrtpProfile.AeadAes256Gcm, Key256, "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4")] // §17.2
    public void Rfc7714_17_srtcp_aead(SrtpProfile profile, string key, string expectedHex)
    {
        var plain = Hex(Rfc7714Rtcp);
        var expected = Hex(expectedHex);
        using var receiver = GcmSession(profile, key);
        var buffer = expected.ToArray();
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, buffer.Length, out var m));
        Assert.Equal(plain, buffer[..m]);

        using var sender = GcmSession(profile, key);
        var scratch = new byte[128];
        for (var i = 1; i < 0x5d4; i++)
        {
            plain.CopyTo(scratch, 0);
            sender.ProtectRtcp(scratch, plain.Length, out _);
        }
        plain.CopyTo(scratch, 0);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtcp(scratch, plain.Length, out var n));
        Assert.Equal(expected, scratch[..n]);
    }

    [Fact]
    public void Rfc7714_17_3_srtcp_tag_only()
    {
        var tagged = Hex("81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3000005d4");
        using var receiver = GcmSession(SrtpProfile.AeadAes128Gcm, Key128);
        var buffer = tagged.ToArray();
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, buffer.Length, out var m));
        Assert.Equal(Hex(Rfc7714Rtcp), buffer[..m]);
    }
}
