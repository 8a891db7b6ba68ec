using System.Buffers.Binary;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

public class SctpAssociationTests
{
    private static readonly LinkConditions Lossy = LinkConditions.Perfect with
    {
        Latency = TimeSpan.FromMilliseconds(20),
        Jitter = TimeSpan.FromMilliseconds(5),
        Loss = 0.05,
        Reorder = 0.05,
        Duplicate = 0.05,
    };

    private static byte[] Message(int index, int size)
    {
        var data = new byte[Math.Max(4, size)];
        BinaryPrimitives.WriteInt32BigEndian(data, index);
        for (var i = 4; i < data.Length; i++) data[i] = (byte)(index * 31 + i);
        return data;
    }

    [Fact]
    public void Client_and_passive_server_connect_and_agree_on_streams_and_extensions()
    {
        using var pair = new SctpPair(1, a: new SctpOptions { OutboundStreams = 300, MaxInboundStreams = 100 }, b: new SctpOptions { OutboundStreams = 50, MaxInboundStreams = 1024 });
        pair.ConnectOrFail();
        Assert.Equal(300, pair.A.Sctp.OutboundStreamCount);
        Assert.Equal(50, pair.A.Sctp.InboundStreamCount);
        Assert.Equal(50, pair.B.Sctp.OutboundStreamCount);
        Assert.Equal(300, pair.B.Sctp.InboundStreamCount);
        Assert.True(pair.A.Sctp.PeerSupportsPartialReliability && pair.A.Sctp.PeerSupportsStreamReset);
        Assert.True(pair.B.Sctp.PeerSupportsPartialReliability && pair.B.Sctp.PeerSupportsStreamReset);
        Assert.Single(pair.A.SctpEvents, e => e.Kind == SctpEventKind.Connected);
        Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.Connected);
        // INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK.
        Assert.Equal(4, pair.Net.Stats.Sent);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Both_sides_starting_at_once_end_in_one_association(int seed)
    {
        using var pair = new SctpPair(seed, bothConnect: true);
        pair.ConnectOrFail();
        Assert.Single(pair.A.SctpEvents, e => e.Kind == SctpEventKind.Connected);
        Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.Connected);
        Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 1, 51, "hello"u8));
        Assert.Equal(SctpSendResult.Ok, pair.B.Sctp.Send(pair.Net.Now, 2, 51, "world"u8));
        pair.A.Pump(pair.Net);
        pair.B.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.Received.Count == 1 && pair.B.Received.Count == 1, TimeSpan.FromSeconds(5)));
        Assert.Equal("world"u8.ToArray(), pair.A.Received[0].Data);
        Assert.Equal("hello"u8.ToArray(), pair.B.Received[0].Data);
    }

    [Fact]
    public void Handshake_survives_heavy_loss_by_retransmitting_init_and_cookie()
    {
        using var pair = new SctpPair(5, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(30), Loss = 0.4 });
        pair.ConnectOrFail(TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void Handshake_fails_after_max_init_retransmits_when_nobody_answers()
    {
        using var pair = new SctpPair(6);
        pair.Net.DropFilter = _ => true;
        pair.Net.RunFor(TimeSpan.FromMinutes(10));
        var failed = Assert.Single(pair.A.SctpEvents);
        Assert.Equal(SctpEventKind.Failed, failed.Kind);
        Assert.True(pair.A.Sctp.IsFinished);
        Assert.Equal(TimeSpan.MaxValue, pair.A.Sctp.NextTimeout);
        Assert.Equal(1 + 8, pair.Net.Stats.Filtered);   // INIT and its 8 retransmissions
    }

    /// <summary>Runs <paramref name="count"/> messages of mixed sizes over several ordered streams and checks each stream's sequence.</summary>
    private static void DeliverOrdered(int seed, LinkConditions conditions, int count, int maxSize)
    {
        using var pair = new SctpPair(seed, conditions);
        pair.ConnectOrFail();
        var random = new Random(seed);
        var sent = new Dictionary<ushort, List<byte[]>>();
        var queued = 0;
        var net = pair.Net;
        // Keep the send buffer fed as the association drains it.
        while (queued < count || pair.B.Received.Count < count)
        {
            while (queued < count)
            {
                var stream = (ushort)random.Next(0, 4);
                var size = random.Next(0, 10) == 0 ? random.Next(1200, maxSize) : random.Next(1, 300);
                var message = Message(queued, size);
                var result = pair.A.Sctp.Send(net.Now, stream, 53, message);
                if (result == SctpSendResult.BufferFull) break;
                Assert.Equal(SctpSendResult.Ok, result);
                (sent.TryGetValue(stream, out var list) ? list : sent[stream] = []).Add(message);
                queued++;
            }
            pair.A.Pump(net);
            var before = pair.B.Received.Count;
            Assert.True(net.RunUntil(() => pair.B.Received.Count > before || pair.A.Sctp.BufferedAmount == 0 && pair.B.Received.Count >= queued, TimeSpan.FromSeconds(60)),
                $"stalled at {pair.B.Received.Count}/{queued} (seed {seed}): {net.Stats}");
            if (pair.B.Received.Count >= count) break;
        }
        foreach (var (stream, messages) in sent)
        {
            var got = pair.B.Received.Where(r => r.Stream == stream).Select(r => r.Data).ToList();
            Assert.Equal(messages.Count, got.Count);
            for (var i = 0; i < messages.Count; i++) Assert.Equal(messages[i], got[i]);
        }
        Assert.Equal(count, pair.B.Received.Count);
        Assert.True(net.RunUntil(() => pair.A.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Reliable_ordered_messages_arrive_once_and_in_order_through_loss_reordering_and_duplication(int seed) =>
        DeliverOrdered(seed, Lossy, 2000, 20_000);

    [Fact]
    public void Bursty_loss_is_recovered_too()
    {
        DeliverOrdered(20, LinkConditions.Perfect with
        {
            Latency = TimeSpan.FromMilliseconds(15),
            BurstStart = 0.02, BurstEnd = 0.3, BurstLoss = 0.9,
        }, 1000, 10_000);
    }

    [Fact]
    public void Retransmissions_and_congestion_control_show_in_the_counters()
    {
        using var pair = new SctpPair(21, Lossy with { Loss = 0.1 });
        pair.ConnectOrFail();
        var initial = pair.A.Sctp.CongestionWindow;
        Assert.Equal(4380, initial);   // min(4*1200, max(2*1200, 4380))
        for (var i = 0; i < 150; i++) Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(i, 1000)));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 150, TimeSpan.FromSeconds(60)));
        var c = pair.A.Sctp.Counters;
        Assert.True(c.Retransmissions > 0, "some chunks were retransmitted");
        Assert.True(c.FastRetransmits + c.T3Expirations > 0);
        Assert.True(pair.B.Sctp.Counters.DuplicateChunks > 0);
        Assert.NotNull(pair.A.Sctp.SmoothedRtt);
        Assert.InRange(pair.A.Sctp.SmoothedRtt!.Value, TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(400));
    }

    [Fact]
    public void Slow_start_grows_the_window_on_a_clean_link()
    {
        using var pair = new SctpPair(22, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(25) }, a: new SctpOptions { SendBufferSize = 1 << 20 });
        pair.ConnectOrFail();
        for (var i = 0; i < 400; i++) pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(i, 1100));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 400, TimeSpan.FromSeconds(30)));
        Assert.True(pair.A.Sctp.CongestionWindow > 10 * 4380, $"cwnd {pair.A.Sctp.CongestionWindow}");
        Assert.Equal(0, pair.A.Sctp.Counters.Retransmissions);
        // 440 KB at a 50 ms RTT in well under a second: the window opened.
        Assert.True(pair.Net.Now < TimeSpan.FromSeconds(1.5), $"took {pair.Net.Now}");
    }

    [Fact]
    public void A_retransmission_timeout_collapses_the_window_and_backs_off()
    {
        using var pair = new SctpPair(23);
        pair.ConnectOrFail();
        var rtoBefore = pair.A.Sctp.Rto;
        pair.Net.DropFilter = d => d.From.Equals(SctpPair.AddressA) && d.Data.Length > 100;
        pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(1, 500));
        pair.A.Pump(pair.Net);
        pair.Net.RunUntil(() => pair.A.Sctp.Counters.T3Expirations >= 2, TimeSpan.FromSeconds(30));
        Assert.Equal(1200, pair.A.Sctp.CongestionWindow);
        Assert.True(pair.A.Sctp.Rto >= rtoBefore * 4 || pair.A.Sctp.Rto == TimeSpan.FromSeconds(60));
        pair.Net.DropFilter = null;
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 1, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_silent_peer_fails_the_association_after_the_retransmission_limit()
    {
        using var pair = new SctpPair(24);
        pair.ConnectOrFail();
        pair.Net.DropFilter = _ => true;
        pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(1, 100));
        pair.A.Pump(pair.Net);
        pair.Net.RunFor(TimeSpan.FromMinutes(30));
        Assert.Contains(pair.A.SctpEvents, e => e.Kind == SctpEventKind.Failed);
        Assert.Equal(11, pair.A.Sctp.Counters.T3Expirations);
    }

    [Theory]
    [InlineData(30)]
    [InlineData(31)]
    public void Unordered_reliable_messages_all_arrive_exactly_once(int seed)
    {
        using var pair = new SctpPair(seed, Lossy);
        pair.ConnectOrFail();
        for (var i = 0; i < 500; i++)
            Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 7, 53, Message(i, 1 + i % 3000), new SctpSendOptions(Unordered: true)));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 500, TimeSpan.FromSeconds(120)));
        var indexes = pair.B.Received.Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)).ToList();
        Assert.Equal(Enumerable.Range(0, 500), indexes.Order());
        foreach (var r in pair.B.Received) Assert.Equal(Message(BinaryPrimitives.ReadInt32BigEndian(r.Data), r.Data.Length), r.Data);
        pair.Net.RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal(500, pair.B.Received.Count);
    }

    [Fact]
    public void A_max_size_message_is_cut_and_reassembled_and_a_larger_one_is_refused()
    {
        using var pair = new SctpPair(32, Lossy);
        pair.ConnectOrFail();
        var big = Message(7, 262_144);
        Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 1, 53, big));
        Assert.Equal(SctpSendResult.MessageTooLarge, pair.A.Sctp.Send(pair.Net.Now, 1, 53, new byte[262_145]));
        Assert.Equal(SctpSendResult.Empty, pair.A.Sctp.Send(pair.Net.Now, 1, 53, []));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 1, TimeSpan.FromSeconds(60)));
        Assert.Equal(big, pair.B.Received[0].Data);
        Assert.True(pair.A.Sctp.Counters.DataChunksSent > 220);   // about 1180 bytes per chunk
    }

    [Fact]
    public void A_receiver_with_a_smaller_limit_discards_the_oversized_message_and_continues_the_stream()
    {
        using var pair = new SctpPair(33, b: new SctpOptions { MaxMessageSize = 5000 });
        pair.ConnectOrFail();
        pair.A.Sctp.Send(pair.Net.Now, 1, 53, Message(1, 100));
        pair.A.Sctp.Send(pair.Net.Now, 1, 53, Message(2, 20_000));
        pair.A.Sctp.Send(pair.Net.Now, 1, 53, Message(3, 100));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 2, TimeSpan.FromSeconds(10)));
        Assert.Equal([1, 3], pair.B.Received.Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)));
        Assert.Equal(1, pair.B.Sctp.Counters.OversizedMessages);
    }

    [Theory]
    [InlineData(40, false)]
    [InlineData(41, true)]
    public void Messages_with_no_retransmissions_are_dropped_under_loss_and_the_stream_goes_on(int seed, bool unordered)
    {
        using var pair = new SctpPair(seed, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(20), Loss = 0.2 });
        pair.ConnectOrFail();
        var options = new SctpSendOptions(unordered, MaxRetransmits: 0);
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal(SctpSendResult.Ok, pair.A.Sctp.Send(pair.Net.Now, 2, 53, Message(i, 200 + i % 2000), options));
            pair.A.Pump(pair.Net);
            pair.Net.RunFor(TimeSpan.FromMilliseconds(10));
        }
        // A reliable message after them on another stream, and one on the same stream, still arrive.
        pair.A.Sctp.Send(pair.Net.Now, 3, 53, Message(1000, 50));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Any(r => r.Stream == 3), TimeSpan.FromSeconds(30)));
        pair.Net.RunFor(TimeSpan.FromSeconds(10));
        var got = pair.B.Received.Where(r => r.Stream == 2).Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)).ToList();
        Assert.Equal(got.Count, got.Distinct().Count());
        if (!unordered) Assert.Equal(got.Order(), got);
        Assert.InRange(got.Count, 100, 299);
        Assert.True(pair.A.Sctp.Counters.MessagesAbandoned > 0);
        Assert.Equal(0, pair.A.Sctp.BufferedAmount);
        Assert.Equal(0, pair.A.Sctp.Counters.Retransmissions);
        foreach (var r in pair.B.Received.Where(r => r.Stream == 2)) Assert.Equal(Message(BinaryPrimitives.ReadInt32BigEndian(r.Data), r.Data.Length), r.Data);

        pair.A.Sctp.Send(pair.Net.Now, 2, 53, Message(2000, 60), options);
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Any(r => BinaryPrimitives.ReadInt32BigEndian(r.Data) == 2000), TimeSpan.FromSeconds(5))
            || pair.A.Sctp.Counters.MessagesAbandoned > 0);
    }

    [Fact]
    public void Messages_past_their_lifetime_are_abandoned_during_an_outage_and_the_stream_recovers()
    {
        using var pair = new SctpPair(42);
        pair.ConnectOrFail();
        pair.Net.DropFilter = d => d.From.Equals(SctpPair.AddressA);
        var options = new SctpSendOptions(Lifetime: TimeSpan.FromMilliseconds(300));
        for (var i = 0; i < 20; i++) pair.A.Sctp.Send(pair.Net.Now, 4, 53, Message(i, 3000), options);
        pair.A.Pump(pair.Net);
        pair.Net.RunFor(TimeSpan.FromSeconds(3));
        pair.Net.DropFilter = null;
        for (var i = 100; i < 105; i++) pair.A.Sctp.Send(pair.Net.Now, 4, 53, Message(i, 100), options);
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 5, TimeSpan.FromSeconds(30)), $"received {pair.B.Received.Count}");
        Assert.Equal([100, 101, 102, 103, 104], pair.B.Received.Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)));
        Assert.Equal(20, pair.A.Sctp.Counters.MessagesAbandoned);
        Assert.True(pair.Net.RunUntil(() => pair.A.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Resetting_a_stream_delivers_what_was_sent_before_and_restarts_it_at_ssn_zero()
    {
        using var pair = new SctpPair(50, Lossy);
        pair.ConnectOrFail();
        for (var i = 0; i < 50; i++) pair.A.Sctp.Send(pair.Net.Now, 5, 51, Message(i, 1 + i * 40));
        pair.A.Endpoint.ResetStream(pair.Net.Now, 5);
        // Sent after the reset: goes out once the peer performed it, on the new incarnation of the stream.
        pair.A.Sctp.Send(pair.Net.Now, 5, 51, Message(99, 10));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 51, TimeSpan.FromSeconds(60)));
        Assert.Equal(Enumerable.Range(0, 50).Append(99), pair.B.Received.Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)));
        var incoming = Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.IncomingStreamsReset);
        Assert.Equal([5], incoming.Streams!);
        Assert.Single(pair.A.SctpEvents, e => e.Kind == SctpEventKind.OutgoingStreamsReset);
        // B answered the way a data channel does: it reset its own outgoing stream 5, once (no reset ping-pong).
        Assert.True(pair.Net.RunUntil(() => pair.A.SctpEvents.Any(e => e.Kind == SctpEventKind.IncomingStreamsReset), TimeSpan.FromSeconds(10)));
        pair.Net.RunFor(TimeSpan.FromSeconds(10));
        Assert.Single(pair.A.SctpEvents, e => e.Kind == SctpEventKind.IncomingStreamsReset);
        Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.IncomingStreamsReset);
        Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.OutgoingStreamsReset);
    }

    [Fact]
    public void A_reset_request_that_overtakes_its_data_is_performed_once_the_data_is_in()
    {
        using var pair = new SctpPair(51);
        pair.ConnectOrFail();
        // Hold the first DATA packet back so the RE-CONFIG arrives first.
        var held = 0;
        pair.Net.DropFilter = d => d.From.Equals(SctpPair.AddressA) && d.Data.Length > 1000 && held++ == 0;
        pair.A.Sctp.Send(pair.Net.Now, 9, 51, Message(1, 1100));
        pair.A.Sctp.Send(pair.Net.Now, 9, 51, Message(2, 10));
        pair.A.Endpoint.ResetStream(pair.Net.Now, 9);
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.SctpEvents.Any(e => e.Kind == SctpEventKind.OutgoingStreamsReset), TimeSpan.FromSeconds(30)));
        Assert.Equal([1, 2], pair.B.Received.Select(r => BinaryPrimitives.ReadInt32BigEndian(r.Data)));
        Assert.Single(pair.B.SctpEvents, e => e.Kind == SctpEventKind.IncomingStreamsReset);
    }

    [Fact]
    public void Graceful_shutdown_delivers_everything_then_closes_both_sides()
    {
        using var pair = new SctpPair(60, Lossy);
        pair.ConnectOrFail();
        for (var i = 0; i < 100; i++) pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(i, 2000));
        pair.A.Sctp.Shutdown(pair.Net.Now);
        Assert.Equal(SctpSendResult.Closed, pair.A.Sctp.Send(pair.Net.Now, 0, 53, Message(1, 10)));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.Sctp.IsFinished && pair.B.Sctp.IsFinished, TimeSpan.FromSeconds(60)));
        Assert.Equal(100, pair.B.Received.Count);
        Assert.Equal(SctpEventKind.Closed, pair.A.SctpEvents[^1].Kind);
        Assert.Equal(SctpEventKind.Closed, pair.B.SctpEvents[^1].Kind);
    }

    [Fact]
    public void Abort_ends_both_sides_at_once()
    {
        using var pair = new SctpPair(61);
        pair.ConnectOrFail();
        pair.A.Sctp.Abort("bye");
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Sctp.IsFinished, TimeSpan.FromSeconds(1)));
        Assert.Equal(SctpEventKind.Aborted, pair.B.SctpEvents[^1].Kind);
        Assert.Contains("user-initiated abort", pair.B.SctpEvents[^1].Reason);
        Assert.Equal(SctpEventKind.Closed, pair.A.SctpEvents[^1].Kind);
    }

    [Fact]
    public void Same_seed_replays_the_same_run()
    {
        ulong Run()
        {
            using var pair = new SctpPair(70, Lossy);
            pair.ConnectOrFail();
            for (var i = 0; i < 200; i++) pair.A.Sctp.Send(pair.Net.Now, (ushort)(i % 3), 53, Message(i, 1 + i * 7));
            pair.A.Pump(pair.Net);
            pair.Net.RunUntil(() => pair.B.Received.Count == 200, TimeSpan.FromSeconds(60));
            return pair.Net.TraceHash;
        }
        Assert.Equal(Run(), Run());
    }
}
