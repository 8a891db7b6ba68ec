using System.Buffers.Binary;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

/// <summary>Everything at once under heavy bursty loss, reordering and duplication, over many seeds.</summary>
public class SctpStressTests
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(100, 40).Select(s => new object[] { s });

    // Per seed: reliable ordered messages on streams 0-4 (some larger than a packet), unordered ones on 7,
    // one-retransmission ones on 6, random stream resets; half the seeds start from both sides at once.
    [Theory, MemberData(nameof(Seeds))]
    public void Mixed_traffic_and_stream_resets_survive_heavy_loss(int seed)
    {
        var cond = LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(15), Jitter = TimeSpan.FromMilliseconds(10), Loss = 0.15, Reorder = 0.1, Duplicate = 0.1, BurstStart = 0.01, BurstEnd = 0.5, BurstLoss = 0.8 };
        using var pair = new SctpPair(seed, cond, bothConnect: seed % 2 == 0);
        pair.ConnectOrFail(TimeSpan.FromSeconds(300));
        var random = new Random(seed);
        var sent = new Dictionary<ushort, List<int>>();
        var unorderedSent = new HashSet<int>();
        var n = 0;
        for (var round = 0; round < 40; round++)
        {
            for (var k = 0; k < 20; k++, n++)
            {
                var stream = (ushort)random.Next(0, 5);
                var size = random.Next(0, 8) == 0 ? random.Next(1200, 9000) : random.Next(4, 600);
                var data = new byte[size]; BinaryPrimitives.WriteInt32BigEndian(data, n);
                var mode = random.Next(4);
                var opts = mode switch { 0 => new SctpSendOptions(Unordered: true), 1 => new SctpSendOptions(MaxRetransmits: 1), _ => default };
                if (mode == 1) stream = 6;
                if (mode == 0) stream = 7;
                var r = pair.A.Sctp.Send(pair.Net.Now, stream, 53, data, opts);
                if (r != SctpSendResult.Ok) continue;
                if (mode == 0) unorderedSent.Add(n);
                else if (mode != 1) (sent.TryGetValue(stream, out var l) ? l : sent[stream] = []).Add(n);
                if (random.Next(50) == 0) pair.A.Endpoint.ResetStream(pair.Net.Now, stream);
            }
            pair.A.Pump(pair.Net);
            pair.Net.RunFor(TimeSpan.FromMilliseconds(random.Next(1, 200)));
        }
        Assert.True(pair.Net.RunUntil(() => pair.A.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(600)), $"seed {seed} buffered {pair.A.Sctp.BufferedAmount} A: {pair.A.Sctp.DebugState()} B: {pair.B.Sctp.DebugState()}");
        pair.Net.RunFor(TimeSpan.FromSeconds(5));
        foreach (var (stream, list) in sent)
            Assert.Equal(list, pair.B.Received.Where(r => r.Stream == stream).Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)).ToList());
        var gotUnordered = pair.B.Received.Where(r => r.Stream == 7).Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)).ToList();
        Assert.Equal(unorderedSent.Order(), gotUnordered.Order());
        var pr = pair.B.Received.Where(r => r.Stream == 6).Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)).ToList();
        Assert.Equal(pr.Order(), pr);
        Assert.Equal(pr.Distinct().Count(), pr.Count);
        Assert.False(pair.A.Sctp.IsFinished || pair.B.Sctp.IsFinished);
    }

    [Fact]
    public void A_cookie_that_went_stale_restarts_the_handshake()
    {
        using var pair = new SctpPair(500, connect: false, b: new SctpOptions { CookieLifetime = TimeSpan.FromSeconds(1) });
        // Lose A's first two COOKIE-ECHOs: the third arrives after the cookie's lifetime.
        var dropped = 0;
        pair.Net.DropFilter = d =>
        {
            if (!d.From.Equals(SctpPair.AddressA) || d.Data.Length < 16 || d.Data[12] != SctpChunkType.CookieEcho || dropped >= 2) return false;
            dropped++;
            return true;
        };
        pair.B.KeepSentPackets = true;
        pair.A.Sctp.Connect(pair.Net.Now);
        pair.A.Pump(pair.Net);
        pair.ConnectOrFail(TimeSpan.FromSeconds(60));
        Assert.Equal(2, dropped);
        Assert.Contains(pair.B.SentPackets, p => p[12] == SctpChunkType.Error && p[16] == 0 && p[17] == 3);
        Assert.True(pair.Net.Now > TimeSpan.FromSeconds(3));
    }
}
