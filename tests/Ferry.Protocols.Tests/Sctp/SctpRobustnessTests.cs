using System.Buffers.Binary;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

/// <summary>Bad input: counted and dropped, or answered as RFC 9260 says; never a throw or a hang.</summary>
public class SctpRobustnessTests
{
    private static byte[] Packet(uint tag, params (byte Type, byte Flags, byte[] Value)[] chunks)
    {
        var buffer = new byte[2048];
        var writer = new SctpPacketWriter(buffer, 5000, 5000, tag);
        foreach (var (type, flags, value) in chunks) Assert.True(writer.TryAddChunk(type, flags, value));
        return buffer[..writer.Finish()];
    }

    private static byte[] Data(uint tsn, ushort stream, ushort ssn, byte flags, byte[] payload, uint ppid = 53)
    {
        var value = new byte[12 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(value, tsn);
        BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(4), stream);
        BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(6), ssn);
        BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(8), ppid);
        payload.CopyTo(value, 12);
        return value;
    }

    /// <summary>The chunks of every packet B sent from now on.</summary>
    private static List<(byte Type, byte[] Value)> ChunksSentBy(SctpNode node)
    {
        var result = new List<(byte, byte[])>();
        foreach (var p in node.SentPackets)
        {
            Assert.Equal(SctpParseResult.Ok, SctpPacket.TryParse(p, out var packet));
            foreach (var c in packet.Chunks) result.Add((c.Type, c.Value.ToArray()));
        }
        return result;
    }

    [Fact]
    public void Wrong_tag_bad_checksum_wrong_port_and_truncation_are_counted_and_ignored()
    {
        using var pair = new SctpPair(100);
        pair.ConnectOrFail();
        var b = pair.B.Sctp;
        var tag = b.LocalVerificationTag;
        var good = Packet(tag, (SctpChunkType.Heartbeat, 0, [0, 1, 0, 8, 1, 2, 3, 4]));

        b.HandlePacket(pair.Net.Now, Packet(tag ^ 1, (SctpChunkType.Heartbeat, 0, [0, 1, 0, 8, 1, 2, 3, 4])));
        Assert.Equal(1, b.Counters.VerificationTagErrors);
        var corrupt = (byte[])good.Clone();
        corrupt[^1] ^= 0x40;
        b.HandlePacket(pair.Net.Now, corrupt);
        Assert.Equal(1, b.Counters.ChecksumErrors);
        var otherPort = (byte[])good.Clone();
        otherPort[1] = 1;
        SctpPacket.WriteChecksum(otherPort);
        b.HandlePacket(pair.Net.Now, otherPort);
        Assert.Equal(2, b.Counters.VerificationTagErrors);
        b.HandlePacket(pair.Net.Now, good.AsSpan(0, 8));
        Assert.Equal(1, b.Counters.MalformedPackets);
        // A chunk length running past the packet.
        var bad = (byte[])good.Clone();
        bad[15] = 200;
        SctpPacket.WriteChecksum(bad);
        b.HandlePacket(pair.Net.Now, bad);
        Assert.Equal(2, b.Counters.MalformedPackets);
        // An INIT bundled with another chunk, and an INIT with a non-zero tag.
        var init = new byte[20];
        BinaryPrimitives.WriteUInt32BigEndian(init, 7);
        BinaryPrimitives.WriteUInt32BigEndian(init.AsSpan(4), 100000);
        BinaryPrimitives.WriteUInt16BigEndian(init.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt16BigEndian(init.AsSpan(10), 1);
        b.HandlePacket(pair.Net.Now, Packet(0, (SctpChunkType.Init, 0, init), (SctpChunkType.CookieAck, 0, [])));
        b.HandlePacket(pair.Net.Now, Packet(tag, (SctpChunkType.Init, 0, init)));
        Assert.Equal(4, b.Counters.VerificationTagErrors);
        Assert.Equal(SctpState.Established, b.State);
        Assert.Equal(0, b.Counters.HeartbeatsAnswered);
    }

    [Fact]
    public void Heartbeats_are_answered_with_their_info_echoed()
    {
        using var pair = new SctpPair(101);
        pair.ConnectOrFail();
        pair.B.KeepSentPackets = true;
        byte[] info = [0, 1, 0, 12, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4];
        pair.B.OnDatagram(pair.Net, SctpPair.AddressA, SctpPair.AddressB, Packet(pair.B.Sctp.LocalVerificationTag, (SctpChunkType.Heartbeat, 0, info)));
        var ack = Assert.Single(ChunksSentBy(pair.B), c => c.Type == SctpChunkType.HeartbeatAck);
        Assert.Equal(info, ack.Value);
        Assert.Equal(1, pair.B.Sctp.Counters.HeartbeatsAnswered);
    }

    [Fact]
    public void Unknown_chunks_follow_their_type_bits()
    {
        using var pair = new SctpPair(102);
        pair.ConnectOrFail();
        pair.B.KeepSentPackets = true;
        var tag = pair.B.Sctp.LocalVerificationTag;
        byte[] hb = [0, 1, 0, 8, 9, 9, 9, 9];
        // 0x3F: stop, no report (the heartbeat after it is not processed).
        pair.B.OnDatagram(pair.Net, SctpPair.AddressA, SctpPair.AddressB, Packet(tag, (0x3F, 0, [1, 2]), (SctpChunkType.Heartbeat, 0, hb)));
        Assert.Empty(ChunksSentBy(pair.B));
        // 0xFF: skip and report (ERROR with "unrecognized chunk type"), then the heartbeat.
        pair.B.OnDatagram(pair.Net, SctpPair.AddressA, SctpPair.AddressB, Packet(tag, (0xFF, 0, [1, 2]), (SctpChunkType.Heartbeat, 0, hb)));
        var sent = ChunksSentBy(pair.B);
        var error = Assert.Single(sent, c => c.Type == SctpChunkType.Error);
        Assert.Equal(6, BinaryPrimitives.ReadUInt16BigEndian(error.Value));
        Assert.Single(sent, c => c.Type == SctpChunkType.HeartbeatAck);
        Assert.Equal(2, pair.B.Sctp.Counters.ChunksDropped);
    }

    [Fact]
    public void Data_on_a_stream_beyond_the_negotiated_count_is_acknowledged_reported_and_not_delivered()
    {
        using var pair = new SctpPair(103, b: new SctpOptions { MaxInboundStreams = 10 });
        pair.ConnectOrFail();
        Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 3, 53, [1, 2, 3]));
        Assert.Equal(SctpSendResult.InvalidStream, pair.A.Sctp.Send(pair.Net.Now, 10, 53, [1, 2, 3]));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 1, TimeSpan.FromSeconds(5)));
        // A peer that ignores the count: B acknowledges the TSN, reports it, drops the data.
        pair.B.KeepSentPackets = true;
        var data = Data(FindCumulativeTsn(pair) + 1, 12, 0, 3, [7, 7]);
        pair.B.OnDatagram(pair.Net, SctpPair.AddressA, SctpPair.AddressB, Packet(pair.B.Sctp.LocalVerificationTag, (SctpChunkType.Data, 3, data)));
        var error = Assert.Single(ChunksSentBy(pair.B), c => c.Type == SctpChunkType.Error);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(error.Value));
        Assert.Equal(12, BinaryPrimitives.ReadUInt16BigEndian(error.Value.AsSpan(4)));
        Assert.Equal(1, pair.B.Sctp.Counters.InvalidStreamChunks);
        Assert.Single(pair.B.Received);
    }

    private static uint FindCumulativeTsn(SctpPair pair) => pair.B.Sctp.CumulativeTsnReceived;

    [Fact]
    public void Data_without_user_data_aborts_the_association()
    {
        using var pair = new SctpPair(104);
        pair.ConnectOrFail();
        var cum = FindCumulativeTsn(pair);
        pair.B.OnDatagram(pair.Net, SctpPair.AddressA, SctpPair.AddressB,
            Packet(pair.B.Sctp.LocalVerificationTag, (SctpChunkType.Data, 3, Data(cum + 1, 0, 0, 3, []))));
        Assert.True(pair.B.Sctp.IsFinished);
        Assert.Equal(SctpEventKind.Failed, pair.B.SctpEvents[^1].Kind);
        Assert.True(pair.Net.RunUntil(() => pair.A.Sctp.IsFinished, TimeSpan.FromSeconds(1)));
        Assert.Contains("no user data", pair.A.SctpEvents[^1].Reason);
    }

    [Fact]
    public void A_sack_for_a_tsn_never_sent_aborts()
    {
        using var pair = new SctpPair(105);
        pair.ConnectOrFail();
        var sack = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(sack, 0x7FFFFFFF);
        BinaryPrimitives.WriteUInt32BigEndian(sack.AsSpan(4), 100000);
        var a = pair.A.Sctp;
        BinaryPrimitives.WriteUInt32BigEndian(sack, a.NextTsn + 1000);
        pair.A.OnDatagram(pair.Net, SctpPair.AddressB, SctpPair.AddressA, Packet(a.LocalVerificationTag, (SctpChunkType.Sack, 0, sack)));
        Assert.True(a.IsFinished);
        Assert.Contains("never sent", pair.A.SctpEvents[^1].Reason);
    }

    [Fact]
    public void Random_and_mutated_packets_never_throw_and_leave_the_association_usable_or_cleanly_ended()
    {
        var random = new Random(4960);
        var survived = 0;
        for (var round = 0; round < 40; round++)
        {
            using var pair = new SctpPair(200 + round, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(5) });
            pair.ConnectOrFail();
            pair.A.KeepSentPackets = true;
            for (var i = 0; i < 20; i++) pair.A.Sctp.Send(pair.Net.Now, (ushort)(i % 3), 53, new byte[1 + i * 150]);
            pair.A.Pump(pair.Net);
            pair.Net.RunUntil(() => pair.B.Received.Count == 20, TimeSpan.FromSeconds(5));
            var samples = pair.A.SentPackets.ToList();
            var b = pair.B.Sctp;
            for (var i = 0; i < 500 && !b.IsFinished; i++)
            {
                byte[] bytes;
                switch (random.Next(4))
                {
                    case 0:
                        bytes = new byte[random.Next(0, 200)];
                        random.NextBytes(bytes);
                        break;
                    case 1:
                        var sample = samples[random.Next(samples.Count)];
                        bytes = sample[..random.Next(0, sample.Length + 1)];
                        break;
                    default:
                        bytes = (byte[])samples[random.Next(samples.Count)].Clone();
                        for (var k = random.Next(1, 4); k > 0; k--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                        // Most mutations should reach the chunk parsers, not stop at the checksum.
                        if (bytes.Length >= 12 && random.Next(3) > 0)
                        {
                            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), b.LocalVerificationTag);
                            bytes[0] = 0x13; bytes[1] = 0x88; bytes[2] = 0x13; bytes[3] = 0x88;
                            SctpPacket.WriteChecksum(bytes);
                        }
                        break;
                }
                b.HandlePacket(pair.Net.Now, bytes);
                b.HandleTimeout(pair.Net.Now + TimeSpan.FromMilliseconds(i));
                var buffer = new byte[1500];
                var guard = 0;
                while (b.PollPacket(buffer, pair.Net.Now) > 0) Assert.True(++guard < 1000, "PollPacket never ran dry");
                while (b.TryPollMessage(out var m)) m.Release();
                while (b.TryPollEvent(out _)) { }
            }
            if (!b.IsFinished) survived++;
        }
        Assert.True(survived > 0);
    }

    [Fact]
    public void Steady_state_send_and_receive_allocates_nothing_per_message()
    {
        // Two associations wired directly (the simulated network itself allocates per datagram).
        var a = new SctpAssociation(new SctpOptions { Random = new Random(1) });
        var b = new SctpAssociation(new SctpOptions { Random = new Random(2) });
        var buffer = new byte[1500];
        var now = TimeSpan.Zero;
        void Exchange()
        {
            bool moved;
            do
            {
                moved = false;
                int n;
                while ((n = a.PollPacket(buffer, now)) > 0) { b.HandlePacket(now, buffer.AsSpan(0, n)); moved = true; }
                while ((n = b.PollPacket(buffer, now)) > 0) { a.HandlePacket(now, buffer.AsSpan(0, n)); moved = true; }
            }
            while (moved);
        }
        a.Connect(now);
        Exchange();
        Assert.Equal(SctpState.Established, a.State);
        while (a.TryPollEvent(out _)) { }
        while (b.TryPollEvent(out _)) { }
        var payload = new byte[300];
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 2000; i++)
            {
                a.Send(now, (ushort)(i % 4), 53, payload);
                Exchange();
                while (b.TryPollMessage(out var m)) m.Release();
                now += TimeSpan.FromMilliseconds(1);
                a.HandleTimeout(now);
                b.HandleTimeout(now);
                Exchange();
            }
            rounds.End();
        }
        rounds.AssertReached("2000 messages");
        Assert.Equal(2000 * rounds.Count, b.Counters.MessagesReceived);
    }
}
