using System.Security.Cryptography;
using Ferry.Protocols.Dtls;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Ferry.Protocols.Tests.Dtls;

/// <summary>The pieces of Ferry's own record layer on their own: the TLS 1.2 PRF, the replay window, record sealing.</summary>
public class DtlsRecordLayerTests
{
    [Fact]
    public void Prf_sha256_matches_the_ietf_tls_list_vector()
    {
        // IETF TLS mailing list, msg03416 (the P_SHA256 vector cited by GnuTLS and others); also `openssl kdf ... TLS1-PRF`.
        var output = new byte[100];
        TlsPrf.Compute(HashAlgorithmName.SHA256, Convert.FromHexString("9bbe436ba940f017b17652849a71db35"), "test label"u8,
            Convert.FromHexString("a0ba9f936cda311827a6f796ffd5198c"), output);
        Assert.Equal(Convert.FromHexString(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
            + "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66"), output);
    }

    [Fact]
    public void Prf_sha384_matches_the_ietf_tls_list_vector()
    {
        // The P_SHA384 vector of the same message: 148 bytes, so the last block is partial.
        var output = new byte[148];
        TlsPrf.Compute(HashAlgorithmName.SHA384, Convert.FromHexString("b80b733d6ceefcdc71566ea48e5567df"), "test label"u8,
            Convert.FromHexString("cd665cf6a8447dd6ff8b27555edb7465"), output);
        Assert.Equal(Convert.FromHexString(
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
            + "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
            + "91c8f3a26854308d5eaa3be85e0990703d73e56f"), output);
    }

    [Theory]
    [InlineData(PrfAlgorithm.tls_prf_sha256, 40)]
    [InlineData(PrfAlgorithm.tls_prf_sha256, 88)]
    [InlineData(PrfAlgorithm.tls_prf_sha384, 72)]
    [InlineData(PrfAlgorithm.tls_prf_sha384, 1)]
    public void A_key_block_equals_BouncyCastles_prf_over_the_same_master_secret(int prf, int length)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        var master = RandomNumberGenerator.GetBytes(48);
        var seed = RandomNumberGenerator.GetBytes(64);
        var expected = crypto.CreateSecret(master).DeriveUsingPrf(prf, "key expansion", seed, length).Extract();
        var actual = new byte[length];
        TlsPrf.Compute(prf == PrfAlgorithm.tls_prf_sha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384, master, "key expansion"u8, seed, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void The_replay_window_accepts_each_number_once_within_64_and_nothing_older()
    {
        var window = DtlsReplayWindow.Empty;
        Assert.True(window.IsFresh(0));
        window.Accept(0);
        Assert.False(window.IsFresh(0));
        window.Accept(5);
        Assert.True(window.IsFresh(3));
        window.Accept(3);
        Assert.False(window.IsFresh(3));
        Assert.False(window.IsFresh(5));
        Assert.True(window.IsFresh(4));
        window.Accept(68);                 // 5 is now 63 behind: still in the window, 4 is out of it
        Assert.False(window.IsFresh(5));
        Assert.False(window.IsFresh(4));
        Assert.True(window.IsFresh(6));
        window.Accept(10_000);             // a jump past the window forgets it all
        Assert.Equal(1UL, window.Bitmap);
        Assert.False(window.IsFresh(10_000 - 64));
        Assert.True(window.IsFresh(10_000 - 63));
        window.Accept((1L << 48) - 1);
        Assert.False(window.IsFresh((1L << 48) - 1));
    }

    private static (DtlsRecordProtection Sender, DtlsRecordProtection Receiver) Pair(string suite)
    {
        var master = RandomNumberGenerator.GetBytes(48);
        var client = RandomNumberGenerator.GetBytes(32);
        var server = RandomNumberGenerator.GetBytes(32);
        var s = DtlsSuite.Find(suite)!;
        return (new DtlsRecordProtection(s, DtlsRole.Client, master, client, server), new DtlsRecordProtection(s, DtlsRole.Server, master, client, server));
    }

    public static TheoryData<string> Suites() => new(DtlsSuite.All.Select(s => s.OpenSslName));

    [Theory]
    [MemberData(nameof(Suites))]
    public void Sealed_records_open_on_the_other_side_and_the_header_is_as_rfc_6347_lays_it_out(string suite)
    {
        var (sender, receiver) = Pair(suite);
        var record = new byte[200];
        var n = sender.Seal(23, 1, 0x0000_1234_5678_9ABC, "hello"u8, record);
        Assert.Equal(sender.Overhead + 5, n);
        Assert.Equal([23, 0xFE, 0xFD, 0, 1, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC], record[..11]);
        Assert.Equal(n - 13, (record[11] << 8) | record[12]);
        var plaintext = new byte[100];
        Assert.True(receiver.TryOpen(record.AsSpan(0, n), plaintext, out var length));
        Assert.Equal("hello"u8.ToArray(), plaintext[..length]);
        // The sender's own read key is the receiver's write key: it cannot open its own record.
        Assert.False(sender.TryOpen(record.AsSpan(0, n), plaintext, out _));
        Assert.False(receiver.TryOpen(record.AsSpan(0, 20), plaintext, out _));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Sealing_and_opening_allocate_nothing_in_steady_state(string suite)
    {
        var (sender, receiver) = Pair(suite);
        var record = new byte[1400];
        var payload = new byte[1200];
        var plaintext = new byte[16384];
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 5_000; i++)
            {
                var n = sender.Seal(23, 1, round * 5_000 + i, payload, record);
                if (!receiver.TryOpen(record.AsSpan(0, n), plaintext, out _)) throw new InvalidOperationException();
            }
            rounds.End();
        }
        rounds.AssertReached("5,000 records");
    }
}
