using System.Buffers.Binary;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Tests.Srtp;

public class SrtpSessionTests
{
    public static TheoryData<SrtpProfile> Profiles => new()
    {
        SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32, SrtpProfile.AeadAes128Gcm, SrtpProfile.AeadAes256Gcm,
    };

    private static (SrtpSession Sender, SrtpSession Receiver) Pair(SrtpProfile profile, int seed = 1)
    {
        var random = new Random(seed);
        var key = new byte[profile.MasterKeyLength()];
        var salt = new byte[profile.MasterSaltLength()];
        random.NextBytes(key);
        random.NextBytes(salt);
        return (new SrtpSession(profile, key, salt), new SrtpSession(profile, key, salt));
    }

    private static int Rtp(byte[] buffer, ushort seq, uint ssrc = 0x1234, int payload = 100)
    {
        var w = new RtpPacketWriter(buffer, 96, seq, seq * 3000u, ssrc);
        w.AddExtension(1, [0x55]);
        var body = new byte[payload];
        BinaryPrimitives.WriteUInt16BigEndian(body, seq);
        return w.SetPayload(body);
    }

    private static byte[] Protect(SrtpSession sender, ushort seq, uint ssrc = 0x1234)
    {
        var buffer = new byte[1500];
        var n = Rtp(buffer, seq, ssrc);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtp(buffer, n, out var m));
        return buffer[..m];
    }

    private static SrtpResult Unprotect(SrtpSession receiver, byte[] packet, out ushort payloadSeq)
    {
        var buffer = packet.ToArray();
        var result = receiver.UnprotectRtp(buffer, buffer.Length, out var n);
        payloadSeq = 0;
        if (result == SrtpResult.Ok)
        {
            Assert.True(RtpPacket.TryParse(buffer, n, out var p));
            payloadSeq = BinaryPrimitives.ReadUInt16BigEndian(p.Payload);
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Round_trip_across_the_sequence_wrap_with_reordering(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var packets = new List<(ushort Seq, byte[] Data)>();
        for (var i = 0; i < 400; i++)
        {
            var seq = (ushort)(65400 + i);
            packets.Add((seq, Protect(sender, seq)));
        }
        // Swap neighbours around the wrap so some packets of the new ROC come before old ones.
        for (var i = 120; i < 160; i += 2) (packets[i], packets[i + 1]) = (packets[i + 1], packets[i]);
        foreach (var (seq, data) in packets)
        {
            Assert.Equal(SrtpResult.Ok, Unprotect(receiver, data, out var inner));
            Assert.Equal(seq, inner);
        }
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Replays_are_rejected_at_every_distance_and_the_window_edge(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var packets = Enumerable.Range(0, 1100).Select(i => Protect(sender, (ushort)i)).ToArray();
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, packets[0], out _));
        Assert.Equal(SrtpResult.ReplayDuplicate, Unprotect(receiver, packets[0], out _));
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, packets[1099], out _));
        Assert.Equal(SrtpResult.ReplayDuplicate, Unprotect(receiver, packets[1099], out _));
        // Window of 1024: 1099 - 1023 = 76 is the oldest still accepted, 75 is too old.
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, packets[76], out _));
        Assert.Equal(SrtpResult.ReplayDuplicate, Unprotect(receiver, packets[76], out _));
        Assert.Equal(SrtpResult.ReplayTooOld, Unprotect(receiver, packets[75], out _));
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, packets[500], out _));
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Tampering_fails_authentication_and_changes_no_state(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var first = Protect(sender, 10);
        var second = Protect(sender, 11);
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, first, out _));
        var before = System.Text.Json.JsonSerializer.Serialize(receiver.Export());
        for (var i = 0; i < second.Length; i++)
        {
            var bad = second.ToArray();
            bad[i] ^= 0x01;
            var result = Unprotect(receiver, bad, out _);
            Assert.NotEqual(SrtpResult.Ok, result);
        }
        Assert.Equal(before, System.Text.Json.JsonSerializer.Serialize(receiver.Export()));
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, second, out var inner));
        Assert.Equal(11, inner);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Rtcp_round_trip_and_replay(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var rr = new byte[64];
        byte[] plain = [0x81, 0xC9, 0x00, 0x07, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
        plain.CopyTo(rr, 0);
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtcp(rr, plain.Length, out var n));
        Assert.Equal(plain.Length + sender.RtcpOverhead, n);
        Assert.NotEqual(plain[8..], rr[8..plain.Length]);
        var copy = rr[..n];
        Assert.Equal(SrtpResult.Ok, receiver.UnprotectRtcp(rr, n, out var m));
        Assert.Equal(plain, rr[..m]);
        Assert.Equal(SrtpResult.ReplayDuplicate, receiver.UnprotectRtcp(copy, copy.Length, out _));
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Exported_state_continues_elsewhere_with_no_gap_and_replays_still_rejected(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var sent = new List<byte[]>();
        for (var i = 0; i < 70_000; i += 7) sent.Add(Protect(sender, (ushort)i));   // crosses a ROC boundary
        foreach (var p in sent) Assert.Equal(SrtpResult.Ok, Unprotect(receiver, p, out _));

        var movedSender = SrtpSession.Import(sender.Export());
        var movedReceiver = SrtpSession.Import(receiver.Export());
        Assert.Equal(SrtpResult.ReplayDuplicate, Unprotect(movedReceiver, sent[^1], out _));
        Assert.Equal(SrtpResult.ReplayDuplicate, Unprotect(movedReceiver, sent[^2], out _));
        for (var i = 70_000; i < 70_100; i++)
        {
            var packet = Protect(movedSender, (ushort)i);
            Assert.Equal(SrtpResult.Ok, Unprotect(movedReceiver, packet, out var inner));
            Assert.Equal((ushort)i, inner);
            // The original receiver, had it stayed, would accept the same packets: the ROC carried over.
            Assert.Equal(SrtpResult.Ok, Unprotect(receiver, packet, out _));
        }
    }

    [Fact]
    public void Truncated_and_random_input_never_throws_and_changes_nothing()
    {
        foreach (var profile in new[] { SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AeadAes128Gcm })
        {
            var (sender, receiver) = Pair(profile);
            var good = Protect(sender, 5);
            var state = System.Text.Json.JsonSerializer.Serialize(receiver.Export());
            for (var n = 0; n < good.Length; n++)
            {
                var buffer = good[..n];
                Assert.NotEqual(SrtpResult.Ok, receiver.UnprotectRtp(buffer, n, out _));
                Assert.NotEqual(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, n, out _));
            }
            var random = new Random(7);
            for (var i = 0; i < 5_000; i++)
            {
                var buffer = new byte[random.Next(0, 120)];
                random.NextBytes(buffer);
                if (buffer.Length > 0 && random.Next(2) == 0) buffer[0] = (byte)(0x80 | (buffer[0] & 0x3F));
                Assert.NotEqual(SrtpResult.Ok, receiver.UnprotectRtp(buffer, buffer.Length, out _));
                Assert.NotEqual(SrtpResult.Ok, receiver.UnprotectRtcp(buffer, buffer.Length, out _));
                sender.ProtectRtp(buffer, buffer.Length, out _);
            }
            Assert.Equal(SrtpResult.Malformed, receiver.UnprotectRtp(good, good.Length + 1, out _));
            Assert.Equal(state, System.Text.Json.JsonSerializer.Serialize(receiver.Export()));
        }
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Protect_and_unprotect_allocate_nothing_in_steady_state(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        var buffer = new byte[1500];
        var template = new byte[1500];
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 10_000; i++)
            {
                var seq = (ushort)(round * 10_000 + i);
                var w = new RtpPacketWriter(buffer, 96, seq, 0, 0x1234);
                var n = w.SetPayload(template.AsSpan(0, 1200));
                sender.ProtectRtp(buffer, n, out var m);
                if (receiver.UnprotectRtp(buffer, m, out _) != SrtpResult.Ok) throw new InvalidOperationException();
            }
            rounds.End();
        }
        rounds.AssertReached("10,000 packets");
    }

    [Fact]
    public void Wrong_key_or_salt_lengths_are_argument_errors()
    {
        Assert.Throws<ArgumentException>(() => new SrtpSession(SrtpProfile.AesCm128HmacSha1_80, new byte[15], new byte[14]));
        Assert.Throws<ArgumentException>(() => new SrtpSession(SrtpProfile.AeadAes256Gcm, new byte[32], new byte[14]));
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void A_forged_packet_is_counted_returned_as_a_result_and_left_as_it_came(SrtpProfile profile)
    {
        var (sender, receiver) = Pair(profile);
        // A good packet first, so the forgeries meet an SSRC with state as well as the tag check.
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, Protect(sender, 10), out _));
        for (var flip = 0; flip < 40; flip++)
        {
            var forged = Protect(sender, (ushort)(11 + flip));
            // Past the header (12 bytes, 8 of extension): a flipped header length would be Malformed, not forged.
            forged[20 + flip * 7 % (forged.Length - 20)] ^= 0x08;
            var buffer = forged.ToArray();
            Assert.Equal(SrtpResult.AuthenticationFailed, receiver.UnprotectRtp(buffer, buffer.Length, out var n));
            Assert.Equal(forged.Length, n);
            Assert.Equal(forged, buffer);
        }
        byte[] rtcp = [0x81, 0xc8, 0x00, 0x06, 0x00, 0x00, 0x12, 0x34, .. new byte[20], .. new byte[64]];
        Assert.Equal(SrtpResult.Ok, sender.ProtectRtcp(rtcp, 28, out var rtcpLength));
        var forgedRtcp = rtcp[..rtcpLength];
        forgedRtcp[10] ^= 0x01;
        var rtcpBuffer = forgedRtcp.ToArray();
        Assert.Equal(SrtpResult.AuthenticationFailed, receiver.UnprotectRtcp(rtcpBuffer, rtcpBuffer.Length, out _));
        Assert.Equal(forgedRtcp, rtcpBuffer);
        Assert.Equal(41, receiver.AuthenticationFailures);
        // The forgeries moved nothing: the next genuine packet is accepted.
        Assert.Equal(SrtpResult.Ok, Unprotect(receiver, Protect(sender, 60), out var seq));
        Assert.Equal(60, seq);
        sender.Dispose();
        receiver.Dispose();
    }
}
