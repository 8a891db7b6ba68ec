using Ferry.Protocols.Rtcp;

namespace Ferry.Protocols.Tests.Rtcp;

public class TransportCcTests
{
    private static List<TransportCcResult> Drain(TransportCcBuilder builder, out int packets)
    {
        var all = new List<TransportCcResult>();
        var buffer = new byte[1500];
        var results = new TransportCcResult[8192];
        packets = 0;
        byte expectedCount = 0;
        while (builder.HasPending)
        {
            var n = builder.Write(buffer, 0x11, 0x22);
            if (n == 0) break;
            packets++;
            Assert.True(n <= builder.MaxPacketSize);
            Assert.Equal(0, n % 4);
            var e = new RtcpCompoundEnumerator(buffer.AsSpan(0, n));
            Assert.True(e.MoveNext());
            var count = TransportCcFeedback.Parse(e.Current, results, out var sender, out var media, out var feedbackCount);
            Assert.True(count > 0);
            Assert.Equal((0x11u, 0x22u, expectedCount++), (sender, media, feedbackCount));
            all.AddRange(results.Take(count));
        }
        return all;
    }

    [Fact]
    public void Hand_built_feedback_from_the_draft_layout_parses()
    {
        // base 10, 4 statuses, reference time 1 (64 ms), count 0;
        // status vector 1-bit: received, lost, received, received (then unused zeros); deltas 4 (1 ms), 8, 2.
        byte[] packet =
        [
            0x8F, 205, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2,
            0x00, 0x0A, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00,
            0b1010_1100, 0x00, 4, 8, 2, 0x00, 0x00, 0x00,
        ];
        var e = new RtcpCompoundEnumerator(packet);
        Assert.True(e.MoveNext());
        var results = new TransportCcResult[16];
        Assert.Equal(4, TransportCcFeedback.Parse(e.Current, results, out _, out _, out _));
        Assert.Equal(new TransportCcResult(10, true, 64_000 + 1_000), results[0]);
        Assert.Equal(new TransportCcResult(11, false, 0), results[1]);
        Assert.Equal(new TransportCcResult(12, true, 64_000 + 3_000), results[2]);
        Assert.Equal(new TransportCcResult(13, true, 64_000 + 3_500), results[3]);
    }

    [Fact]
    public void Run_length_and_two_bit_chunks_parse()
    {
        // base 0, 20 statuses: run of 16 "small delta", then 2-bit vector: large, lost, small, small.
        byte[] packet =
        [
            0x8F, 205, 0x00, 0x0A, 0, 0, 0, 1, 0, 0, 0, 2,
            0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x05,
            0x20, 0x10, 0b1110_0001, 0b0100_0000,          // run: 16 x small; 2-bit vector: large, lost, small, small
            1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            0xFF, 0xFC, 4, 4,
        ];
        var e = new RtcpCompoundEnumerator(packet);
        Assert.True(e.MoveNext());
        var results = new TransportCcResult[32];
        Assert.Equal(20, TransportCcFeedback.Parse(e.Current, results, out _, out _, out var count));
        Assert.Equal(5, count);
        Assert.Equal(16 * 250, results[15].ArrivalMicroseconds);
        Assert.Equal(16 * 250 - 1_000, results[16].ArrivalMicroseconds);   // -4 as a large (negative) delta
        Assert.False(results[17].Received);
        Assert.Equal(16 * 250 + 1_000, results[19].ArrivalMicroseconds);
    }

    [Fact]
    public void Builder_round_trip_reports_every_packet_with_quarter_millisecond_accuracy()
    {
        var random = new Random(42);
        var builder = new TransportCcBuilder();
        var expected = new Dictionary<ushort, long>();
        long time = 5_000_000;
        ushort seq = 65000;   // crosses the 16-bit wrap
        var sent = new List<ushort>();
        for (var i = 0; i < 3000; i++)
        {
            time += random.Next(0, 20_000);
            if (random.Next(10) == 0) time += 200_000;   // gaps that need large deltas
            sent.Add(seq);
            if (random.Next(8) != 0)
            {
                builder.OnPacket(seq, time);
                expected[seq] = time;
            }
            seq++;
        }
        var results = Drain(builder, out var packets);
        Assert.True(packets > 1);
        // Every packet from the first received one onwards is reported exactly once, in order.
        var firstReceived = sent.First(expected.ContainsKey);
        var reported = results.Select(r => r.Sequence).ToList();
        Assert.Equal(sent.SkipWhile(s => s != firstReceived).Take(reported.Count), reported);
        Assert.Equal(sent.Count - sent.IndexOf(firstReceived) - TrailingLosses(sent, expected), reported.Count);
        foreach (var r in results) Assert.Equal(expected.ContainsKey(r.Sequence), r.Received);
        // Arrival times are relative to each packet's reference time: compare gaps between consecutive received packets.
        var received = results.Where(r => r.Received).ToList();
        for (var i = 1; i < received.Count; i++)
        {
            var actual = received[i].ArrivalMicroseconds - received[i - 1].ArrivalMicroseconds;
            var truth = expected[received[i].Sequence] - expected[received[i - 1].Sequence];
            Assert.InRange(actual - truth, -500, 500);
        }
        Assert.False(builder.HasPending);
    }

    private static int TrailingLosses(List<ushort> sent, Dictionary<ushort, long> received)
    {
        var n = 0;
        for (var i = sent.Count - 1; i >= 0 && !received.ContainsKey(sent[i]); i--) n++;
        return n;
    }

    [Fact]
    public void A_delta_beyond_16_bits_starts_a_new_feedback_and_late_arrivals_are_counted()
    {
        var builder = new TransportCcBuilder();
        builder.OnPacket(1, 1_000_000);
        builder.OnPacket(2, 1_000_000 + 10_000_000);   // 10 s later: does not fit a signed 16-bit 250 µs delta
        var results = Drain(builder, out var packets);
        Assert.Equal(2, packets);
        Assert.Equal([(ushort)1, (ushort)2], results.Select(r => r.Sequence));
        builder.OnPacket(1, 12_000_000);
        Assert.Equal(1, builder.LateArrivals);
        Assert.False(builder.HasPending);
    }

    [Fact]
    public void Writing_feedback_allocates_nothing()
    {
        var builder = new TransportCcBuilder();
        var buffer = new byte[1500];
        long time = 0;
        ushort seq = 0;
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 10_000; i++)
            {
                time += 1_000;
                if (i % 5 != 0) builder.OnPacket(seq, time);
                seq++;
                if (i % 100 == 0) while (builder.Write(buffer, 1, 2) > 0) { }
            }
            rounds.End();
        }
        rounds.AssertReached("10,000 packets");
    }
}
