using System.Net;
using System.Text;
using Ferry.Protocols.Stun;

namespace Ferry.Protocols.Tests.Stun;

/// <summary>RFC 5769 test vectors, byte for byte.</summary>
public class Rfc5769Tests
{
    private static readonly byte[] Password = Encoding.UTF8.GetBytes("VOkJxbRl1RmTxUk/WvJxBt");
    private static readonly byte[] TransactionId = Convert.FromHexString("b7e7a701bc34d686fa87dfae");

    // §2.1 Sample Request
    internal static readonly byte[] Request = Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae" +
        "80220010" + "5354554e20746573742063" + "6c69656e74" +
        "00240004" + "6e0001ff" +
        "80290008" + "932ff9b151263b36" +
        "00060009" + "6576746a3a68367659202020" +
        "00080014" + "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2" +
        "80280004" + "e57a3bcf");

    // §2.2 Sample IPv4 Response
    private static readonly byte[] ResponseV4 = Convert.FromHexString(
        "0101003c2112a442b7e7a701bc34d686fa87dfae" +
        "8022000b" + "7465737420766563746f7220" +
        "00200008" + "0001a147e112a643" +
        "00080014" + "2b91f599fd9e90c38c7489f92af9ba53f06be7d7" +
        "80280004" + "c07d4c96");

    // §2.3 Sample IPv6 Response
    private static readonly byte[] ResponseV6 = Convert.FromHexString(
        "010100482112a442b7e7a701bc34d686fa87dfae" +
        "8022000b" + "7465737420766563746f7220" +
        "00200014" + "0002a1470113a9faa5d3f179bc25f4b5bed2b9d9" +
        "00080014" + "a382954e4be67bf11784c97c8292c275bfe3ed41" +
        "80280004" + "c8fb0b4c");

    // §2.4 Sample Request with Long-Term Authentication
    private static readonly byte[] LongTermRequest = Convert.FromHexString(
        "000100602112a44278ad3433c6ad72c029da412e" +
        "00060012" + "e3839ee38388e383aae38383e382afe382b90000" +
        "0015001c" + "662f2f3439396b39353464364f4c33346f4c394653547679363473" + "41" +
        "0014000b" + "6578616d706c652e6f726700" +
        "00080014" + "f67024656dd64a3e02b8e0712e85c9a28ca89666");

    [Fact]
    public void Sample_request_parses_and_verifies()
    {
        Assert.True(StunMessage.TryParse(Request, out var m));
        Assert.Equal(StunClass.Request, m.Class);
        Assert.Equal(StunConstants.BindingMethod, m.Method);
        Assert.Equal(TransactionId, m.TransactionId.ToArray());
        Assert.True(m.TryGetUsername(out var username));
        Assert.Equal("evtj:h6vY", Encoding.UTF8.GetString(username));
        Assert.True(m.TryGetPriority(out var priority));
        Assert.Equal(0x6e0001ffu, priority);
        Assert.True(m.TryGetIceControlled(out var tieBreaker));
        Assert.Equal(0x932ff9b151263b36UL, tieBreaker);
        Assert.True(m.TryGetAttribute(StunAttributeType.Software, out var software, out _));
        Assert.Equal("STUN test client", Encoding.UTF8.GetString(software));
        Assert.True(m.VerifyMessageIntegrity(Password));
        Assert.True(m.VerifyFingerprint());
        Assert.False(m.VerifyMessageIntegrity("wrong"u8));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sample_responses_parse_verify_and_carry_the_mapped_address(bool ipv4)
    {
        var bytes = ipv4 ? ResponseV4 : ResponseV6;
        Assert.True(StunMessage.TryParse(bytes, out var m));
        Assert.Equal(StunClass.SuccessResponse, m.Class);
        Assert.True(m.VerifyMessageIntegrity(Password));
        Assert.True(m.VerifyFingerprint());
        Span<byte> address = stackalloc byte[16];
        Assert.True(m.TryGetXorMappedAddress(address, out var port, out var isV4));
        Assert.Equal(32853, port);
        Assert.Equal(ipv4, isV4);
        var expected = ipv4 ? IPAddress.Parse("192.0.2.1").MapToIPv6() : IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677");
        Assert.Equal(expected.GetAddressBytes(), address.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Writer_reproduces_the_sample_responses(bool ipv4)
    {
        var expected = ipv4 ? ResponseV4 : ResponseV6;
        var buffer = new byte[200];
        var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.SuccessResponse, TransactionId);
        // The RFC pads SOFTWARE with a space, not a zero: write the 12 bytes, then restore the declared length 11.
        w.Add(StunAttributeType.Software, "test vector "u8);
        buffer[20 + 3] = 0x0b;
        var address = (ipv4 ? IPAddress.Parse("192.0.2.1").MapToIPv6() : IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677")).GetAddressBytes();
        w.AddXorMappedAddress(address, 32853, ipv4);
        w.AddMessageIntegrity(Password);
        var n = w.AddFingerprint();
        Assert.Equal(expected, buffer[..n]);
    }

    [Fact]
    public void Writer_reproduces_the_sample_request()
    {
        var buffer = new byte[200];
        var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Request, TransactionId);
        w.Add(StunAttributeType.Software, "STUN test client"u8);
        w.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
        w.AddUInt64(StunAttributeType.IceControlled, 0x932ff9b151263b36);
        w.Add(StunAttributeType.Username, "evtj:h6vY   "u8);   // the RFC pads with spaces
        buffer[20 + 20 + 8 + 12 + 3] = 9;                       // declared length 9
        w.AddMessageIntegrity(Password);
        var n = w.AddFingerprint();
        Assert.Equal(Request, buffer[..n]);
    }

    [Fact]
    public void Long_term_request_parses_and_verifies_with_the_md5_key()
    {
        Assert.True(StunMessage.TryParse(LongTermRequest, out var m));
        Assert.True(m.TryGetUsername(out var username));
        Assert.Equal("マトリックス", Encoding.UTF8.GetString(username));
        Assert.True(m.TryGetAttribute(StunAttributeType.Realm, out var realm, out _));
        Assert.Equal("example.org", Encoding.UTF8.GetString(realm));
        Assert.True(m.TryGetAttribute(StunAttributeType.Nonce, out var nonce, out _));
        Assert.Equal("f//499k954d6OL34oL9FSTvy64sA", Encoding.UTF8.GetString(nonce));
        var key = System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes("マトリックス:example.org:TheMatrIX"));
        Assert.True(m.VerifyMessageIntegrity(key));
        Assert.False(m.VerifyFingerprint());   // 2.4 has no FINGERPRINT
    }

    [Fact]
    public void Any_changed_byte_fails_integrity_or_fingerprint()
    {
        for (var i = 0; i < Request.Length; i++)
        {
            var bad = Request.ToArray();
            bad[i] ^= 0x20;
            if (!StunMessage.TryParse(bad, out var m)) continue;
            Assert.False(m.VerifyMessageIntegrity(Password) && m.VerifyFingerprint(), $"byte {i}");
        }
    }

    [Fact]
    public void Truncated_and_random_input_never_throws()
    {
        for (var n = 0; n < Request.Length; n++) Assert.False(StunMessage.TryParse(Request.AsSpan(0, n), out _));
        var random = new Random(5769);
        Span<byte> address = stackalloc byte[16];
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 120)];
            random.NextBytes(bytes);
            if (bytes.Length >= 20 && random.Next(2) == 0)
            {
                bytes[0] &= 0x3F;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), StunConstants.MagicCookie);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)((bytes.Length - 20) & ~3));
                Array.Resize(ref bytes, 20 + ((bytes.Length - 20) & ~3));
            }
            if (!StunMessage.TryParse(bytes, out var m)) continue;
            foreach (var a in m.Attributes) _ = a.Value.Length;
            m.TryGetXorMappedAddress(address, out _, out _);
            m.TryGetErrorCode(out _, out _);
            m.VerifyMessageIntegrity(Password);
            m.VerifyFingerprint();
        }
    }
}
