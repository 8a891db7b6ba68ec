using System.Runtime.ExceptionServices;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Tests.Srtp;

/// <summary>
/// Issue 16, finding 11: what an attacker's junk costs. A packet whose tag fails is a counted result,
/// never an exception (not even one caught inside) and no allocation; a peer spraying SSRCs cannot
/// grow a session's per-SSRC state without bound.
/// </summary>
public sealed class SrtpAbuseTests
{
    public static TheoryData<SrtpProfile> Profiles => new()
    {
        SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32, SrtpProfile.AeadAes128Gcm, SrtpProfile.AeadAes256Gcm,
    };

    private static (SrtpSession Sender, SrtpSession Receiver) Pair(SrtpProfile profile)
    {
        var random = new Random(7);
        var key = new byte[profile.MasterKeyLength()];
        var salt = new byte[profile.MasterSaltLength()];
        random.NextBytes(key);
        random.NextBytes(salt);
        return (new SrtpSession(profile, key, salt), new SrtpSession(profile, key, salt));
    }

    private static int Rtp(byte[] buffer, ushort seq, uint ssrc)
    {
        var w = new RtpPacketWriter(buffer, 96, seq, seq * 3000u, ssrc);
        return w.SetPayload(new byte[200]);
    }

    private static int Rtcp(byte[] buffer, uint ssrc)
    {
        // An empty receiver report: V=2, RC=0, PT=201, length 1 word after the header.
        buffer[0] = 0x80; buffer[1] = 201; buffer[2] = 0; buffer[3] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), ssrc);
        return 8;
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Tampered_packets_cost_no_exception_and_no_allocation(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var rtp = new byte[1500];
        var rtpLength = Rtp(rtp, 1, 0xABCD);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtp(rtp, rtpLength, out rtpLength));
        rtp[rtpLength - 1] ^= 0x01;
        var rtcp = new byte[1500];
        var rtcpLength = Rtcp(rtcp, 0xABCD);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtcp(rtcp, rtcpLength, out rtcpLength));
        rtcp[9] ^= 0x01;
        var rtpCopy = rtp[..rtpLength];
        var rtcpCopy = rtcp[..rtcpLength];

        var exceptions = 0;
        void Count(object? sender, FirstChanceExceptionEventArgs e) => Interlocked.Increment(ref exceptions);
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            var rounds = new SteadyStateRounds();
            for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
            {
                rounds.Begin();
                for (var i = 0; i < 10_000; i++)
                {
                    if (receiver.UnprotectRtp(rtp, rtpLength, out _) != SrtpResult.AuthenticationFailed) throw new InvalidOperationException("rtp accepted");
                    if (receiver.UnprotectRtcp(rtcp, rtcpLength, out _) != SrtpResult.AuthenticationFailed) throw new InvalidOperationException("rtcp accepted");
                }
                rounds.End();
            }
            rounds.AssertReached("10,000 tampered SRTP and SRTCP packets");
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }
        // Other tests may throw on other threads meanwhile; none of these may, so a handful would still show.
        Assert.True(exceptions < 10, $"{exceptions} first-chance exceptions while unprotecting tampered packets");
        // Nothing changed: the buffers are as they came, and no state was created for the SSRC.
        Assert.Equal(rtpCopy, rtp[..rtpLength]);
        Assert.Equal(rtcpCopy, rtcp[..rtcpLength]);
        Assert.Equal(0, receiver.StreamCount);

        // The untampered packets still open.
        rtp[rtpLength - 1] ^= 0x01;
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtp(rtp, rtpLength, out var opened));
        Assert.True(RtpPacket.TryParse(rtp, opened, out var packet));
        Assert.Equal(0xABCDu, packet.Ssrc);
        rtcp[9] ^= 0x01;
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(rtcp, rtcpLength, out var rtcpOpened));
        Assert.Equal(8, rtcpOpened);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Spraying_random_ssrcs_stays_bounded_and_is_counted(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        receiver.MaxStreams = 100;
        var random = new Random(3);
        var buffer = new byte[1500];
        var accepted = 0;
        for (var i = 0; i < 5_000; i++)
        {
            var ssrc = (uint)random.NextInt64(1, uint.MaxValue);
            var n = i % 2 == 0 ? Rtp(buffer, (ushort)i, ssrc) : Rtcp(buffer, ssrc);
            var result = i % 2 == 0 ? sender.ProtectRtp(buffer, n, out n) : sender.ProtectRtcp(buffer, n, out n);
            Assert.Equal(SrtpResult.Ok, result);
            result = i % 2 == 0 ? receiver.UnprotectRtp(buffer, n, out _) : receiver.UnprotectRtcp(buffer, n, out _);
            if (result == SrtpResult.Ok) accepted++;
            else Assert.Equal(SrtpResult.TooManyStreams, result);
        }
        Assert.Equal(100, receiver.StreamCount);
        Assert.Equal(100, accepted);
        Assert.Equal(4_900, receiver.StreamsRefused);

        // A stream that ends frees its slot for a new one.
        Assert.True(receiver.RemoveStream(receiver.Export().Streams[0].Ssrc));
        var m = Rtp(buffer, 1, 42);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtp(buffer, m, out m));
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtp(buffer, m, out _));
        Assert.Equal(100, receiver.StreamCount);
    }
}
