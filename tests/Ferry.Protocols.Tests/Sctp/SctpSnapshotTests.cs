using System.Buffers.Binary;
using System.Text.Json;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

/// <summary>
/// Snapshots of associations and data channel endpoints: export, import (with another clock), export
/// again gives the same data; JSON carries them; and an endpoint moved again and again in the middle of
/// a lossy transfer behaves on the wire as if it had never moved.
/// </summary>
public class SctpSnapshotTests
{
    private static readonly TimeSpan Elsewhere = TimeSpan.FromHours(5) + TimeSpan.FromTicks(12345);

    private static string Json<T>(T state) => JsonSerializer.Serialize(state);

    /// <summary>Export at this node's clock, through JSON, import on a clock <see cref="Elsewhere"/> ahead, export again: equal.</summary>
    private static DataChannelEndpointState RoundTrip(SctpNode node, SimNetwork net)
    {
        var before = node.Sctp;
        var nextIn = before.NextTimeout == TimeSpan.MaxValue ? (TimeSpan?)null : before.NextTimeout - node.LocalNow(net);
        var exported = node.Endpoint.Export(node.LocalNow(net));
        var json = Json(exported);
        var parsed = JsonSerializer.Deserialize<DataChannelEndpointState>(json)!;
        Assert.Equal(json, Json(parsed));

        var importedAt = node.LocalNow(net) + Elsewhere;
        using var imported = DataChannelEndpoint.Import(parsed, importedAt);
        var again = imported.Export(importedAt);
        Assert.Equal(json, Json(again));
        // The association alone round-trips the same way.
        var association = SctpAssociation.Import(parsed.Association, importedAt);
        Assert.Equal(nextIn, association.NextTimeout == TimeSpan.MaxValue ? null : association.NextTimeout - importedAt);
        Assert.Equal(Json(parsed.Association), Json(association.Export(importedAt)));
        association.Dispose();

        // The node continues with a copy imported from the JSON, on the other clock.
        node.Adopt(DataChannelEndpoint.Import(parsed, node.LocalNow(net) + Elsewhere), Elsewhere);
        return exported;
    }

    private static SctpPair Connected(int seed, LinkConditions? conditions = null)
    {
        var pair = new SctpPair(seed, conditions);
        pair.ConnectOrFail();
        return pair;
    }

    private static byte[] Message(int n, int size)
    {
        var data = new byte[Math.Max(size, 4)];
        new Random(n).NextBytes(data);
        BinaryPrimitives.WriteInt32BigEndian(data, n);
        return data;
    }

    private static int Number(byte[] data) => BinaryPrimitives.ReadInt32BigEndian(data);

    [Fact]
    public void An_idle_association_round_trips_and_keeps_working()
    {
        using var pair = Connected(700);
        pair.B.Hold = true;   // B's ChannelOpened event waits in its endpoint and moves with it
        var channel = pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "chat", Protocol = "p" })!;
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => channel.Acknowledged, TimeSpan.FromSeconds(2)));
        pair.Net.RunFor(TimeSpan.FromSeconds(1));

        var opened = Assert.Single(RoundTrip(pair.B, pair.Net).Events, e => e.Kind == DataChannelEventKind.ChannelOpened);
        Assert.True(opened.ChannelIsCurrent);
        pair.B.Hold = false;
        pair.B.Pump(pair.Net);
        var openedEvent = Assert.Single(pair.B.ChannelEvents, e => e.Kind == DataChannelEventKind.ChannelOpened);
        Assert.Same(pair.B.Endpoint.Channels[0], openedEvent.Channel);
        Assert.Equal("p", openedEvent.Channel!.Parameters.Protocol);

        var state = RoundTrip(pair.A, pair.Net);
        Assert.Equal(SctpAssociationState.CurrentVersion, state.Association.Version);
        Assert.Equal(DataChannelEndpointState.CurrentVersion, state.Version);
        Assert.Empty(state.Association.Send.Chunks);
        Assert.Empty(state.Association.Send.Messages);
        Assert.Equal("chat", Assert.Single(state.Channels).Label);
        Assert.True(state.DtlsClient);

        // Both ways after the move, the channel (DCEP state) included.
        Assert.Equal(SctpSendResult.Ok, pair.A.Endpoint.Send(pair.A.LocalNow(pair.Net), 0, "after"u8, isString: true));
        Assert.Equal(SctpSendResult.Ok, pair.B.Endpoint.Send(pair.Net.Now, 0, "back"u8, isString: true));
        pair.A.Pump(pair.Net);
        pair.B.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.Received.Count == 1 && pair.B.Received.Count == 1, TimeSpan.FromSeconds(2)));
        Assert.Equal("after"u8.ToArray(), pair.B.Received[0].Data);
        Assert.Equal("back"u8.ToArray(), pair.A.Received[0].Data);
    }

    [Fact]
    public void Queued_and_outstanding_messages_round_trip_and_are_delivered_after_import()
    {
        using var pair = Connected(701);
        // Nothing from B comes back for now: A's chunks stay outstanding, the rest queued.
        pair.Net.DropFilter = d => d.From.Equals(SctpPair.AddressB);
        var a = pair.A.Sctp;
        var sent = new List<(ushort Stream, int N)>();
        for (var n = 0; n < 40; n++)
        {
            var stream = (ushort)(n % 3);
            var size = n == 5 ? 60_000 : 100 + 37 * n;
            var options = stream switch { 1 => new SctpSendOptions(Unordered: true), 2 => new SctpSendOptions(Lifetime: TimeSpan.FromSeconds(30)), _ => default };
            Assert.Equal(SctpSendResult.Ok, a.Send(pair.Net.Now, stream, 53, Message(n, size), options));
            sent.Add((stream, n));
        }
        pair.A.Pump(pair.Net);
        pair.Net.RunFor(TimeSpan.FromMilliseconds(50));

        var state = RoundTrip(pair.A, pair.Net).Association;
        Assert.NotEmpty(state.Send.Chunks);
        Assert.Contains(state.Send.Streams, s => s.Queue.Length > 0);
        Assert.True(state.Send.CurrentMessage >= 0, "the 60 KB message is being cut");
        Assert.NotNull(state.Send.T3RemainingTicks);
        Assert.All(state.Send.Messages.Where(m => m.StreamId == 2), m => Assert.InRange(m.LifetimeRemainingTicks!.Value, TimeSpan.FromSeconds(29).Ticks, TimeSpan.FromSeconds(30).Ticks));
        Assert.True(state.Send.FlightSize > 0);

        pair.Net.DropFilter = null;
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == sent.Count, TimeSpan.FromSeconds(30)), $"received {pair.B.Received.Count}");
        foreach (var stream in new ushort[] { 0, 2 })
            Assert.Equal(sent.Where(s => s.Stream == stream).Select(s => s.N), pair.B.Received.Where(r => r.Stream == stream).Select(r => Number(r.Data)));
        Assert.Equal(sent.Where(s => s.Stream == 1).Select(s => s.N).Order(), pair.B.Received.Where(r => r.Stream == 1).Select(r => Number(r.Data)).Order());
        Assert.All(pair.B.Received, r => Assert.Equal(Message(Number(r.Data), r.Data.Length), r.Data));
        Assert.True(pair.Net.RunUntil(() => pair.A.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Partly_reassembled_and_waiting_messages_round_trip_and_complete_after_import()
    {
        using var pair = Connected(702);
        // Lose A's first DATA packet: B holds the other fragments of a large message, and ordered
        // messages after it wait for their turn.
        var dropped = false;
        pair.Net.DropFilter = d =>
        {
            if (dropped || !d.From.Equals(SctpPair.AddressA) || d.Data.Length < 13 || d.Data[12] != SctpChunkType.Data) return false;
            return dropped = true;
        };
        var a = pair.A.Sctp;
        Assert.Equal(SctpSendResult.Ok, a.Send(pair.Net.Now, 0, 53, Message(0, 3000)));
        for (var n = 1; n <= 3; n++) Assert.Equal(SctpSendResult.Ok, a.Send(pair.Net.Now, 0, 51, Message(n, 50)));
        Assert.Equal(SctpSendResult.Ok, a.Send(pair.Net.Now, 1, 53, Message(4, 50), new SctpSendOptions(Unordered: true)));
        pair.B.Hold = true;   // the unordered message stays undelivered in B: the snapshot carries it
        pair.A.Pump(pair.Net);
        pair.Net.RunFor(TimeSpan.FromMilliseconds(15));
        Assert.True(dropped);

        var endpointState = RoundTrip(pair.B, pair.Net);
        var state = endpointState.Association;
        Assert.NotEmpty(state.Receive.Fragments);
        Assert.NotEmpty(state.Receive.Received);
        Assert.Equal(3, Assert.Single(state.Receive.Streams, s => s.Id == 0).Ready.Length);
        Assert.Equal(4, Number(Assert.Single(endpointState.Messages.Concat(state.Messages)).Data));

        pair.B.Hold = false;
        pair.B.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 5, TimeSpan.FromSeconds(10)), $"received {pair.B.Received.Count}");
        Assert.Equal([4, 0, 1, 2, 3], pair.B.Received.Select(r => Number(r.Data)));
        Assert.Equal(Message(0, 3000), pair.B.Received[1].Data);
    }

    [Fact]
    public void Only_an_established_association_exports_and_an_exported_one_cannot_be_used()
    {
        using var idle = new SctpAssociation();
        Assert.Throws<InvalidOperationException>(() => idle.Export(TimeSpan.Zero));
        idle.Connect(TimeSpan.Zero);
        Assert.Throws<InvalidOperationException>(() => idle.Export(TimeSpan.Zero));

        using var pair = Connected(703);
        var old = pair.A.Endpoint;
        var oldAssociation = old.Association;
        var state = old.Export(pair.Net.Now);
        Assert.Equal(TimeSpan.MaxValue, oldAssociation.NextTimeout);
        var buffer = new byte[1500];
        Assert.Throws<InvalidOperationException>(() => old.Export(pair.Net.Now));
        Assert.Throws<InvalidOperationException>(() => old.Send(pair.Net.Now, 0, [1], isString: false));
        Assert.Throws<InvalidOperationException>(() => old.PollPacket(buffer, pair.Net.Now));
        Assert.Throws<InvalidOperationException>(() => oldAssociation.HandlePacket(pair.Net.Now, buffer));
        Assert.Throws<InvalidOperationException>(() => oldAssociation.Send(pair.Net.Now, 0, 53, [1]));
        Assert.Throws<InvalidOperationException>(() => oldAssociation.TryPollMessage(out _));
        Assert.Throws<InvalidOperationException>(() => oldAssociation.Export(pair.Net.Now));
        old.Dispose();

        Assert.Throws<ArgumentException>(() => DataChannelEndpoint.Import(state with { Version = 99 }, TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => SctpAssociation.Import(state.Association with { Version = 2 }, TimeSpan.Zero));
        var broken = state.Association with { Send = state.Association.Send with { NextTsn = state.Association.Send.NextTsn + 5 } };
        Assert.Throws<ArgumentException>(() => SctpAssociation.Import(broken, TimeSpan.Zero));
        using var imported = DataChannelEndpoint.Import(state, TimeSpan.FromDays(3));
        Assert.Equal(SctpState.Established, imported.Association.State);
    }

    // The imported side's clock is hours behind the exporting one: the retransmission timer and the
    // messages' lifetimes must run on it as they would have run on the old one (a deadline carried as
    // an absolute time would stall retransmission for hours, or expire every lifetime at once).
    [Fact]
    public void Timers_and_lifetimes_continue_on_the_importing_clock()
    {
        using var pair = Connected(704);
        var (a, b, net) = (pair.A, pair.B, pair.Net);
        a.Move(net, TimeSpan.FromHours(10));
        var lost = true;
        net.DropFilter = d => lost && d.From.Equals(SctpPair.AddressA);
        for (var n = 0; n < 6; n++)
            Assert.Equal(SctpSendResult.Ok, a.Sctp.Send(a.LocalNow(net), (ushort)(n % 2), 53, Message(n, 100), n % 2 == 1 ? new SctpSendOptions(Lifetime: TimeSpan.FromSeconds(2)) : default));
        a.Pump(net);
        net.RunFor(TimeSpan.FromMilliseconds(100));
        var state = a.Move(net, TimeSpan.FromHours(1)).Association;
        Assert.Equal(6, state.Send.Chunks.Length);
        a.Pump(net);
        net.RunFor(TimeSpan.FromMilliseconds(200));
        lost = false;
        // Only T3 can bring them now; the lifetimes (2 s) have not run out.
        Assert.True(net.RunUntil(() => b.Received.Count == 6, TimeSpan.FromSeconds(1.5)), $"received {b.Received.Count}");
        Assert.Equal(0, a.Sctp.Counters.MessagesAbandoned);

        // Lifetimes keep running across a move: 300 ms ones, lost, and moved, are given up after 300 ms of the new clock.
        Assert.True(net.RunUntil(() => a.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(2)));
        lost = true;
        for (var n = 6; n < 9; n++)
            Assert.Equal(SctpSendResult.Ok, a.Sctp.Send(a.LocalNow(net), 1, 53, Message(n, 100), new SctpSendOptions(Lifetime: TimeSpan.FromMilliseconds(300))));
        a.Pump(net);
        net.RunFor(TimeSpan.FromMilliseconds(100));
        a.Move(net, TimeSpan.FromHours(3));
        a.Pump(net);
        net.RunFor(TimeSpan.FromMilliseconds(400));
        lost = false;
        Assert.Equal(SctpSendResult.Ok, a.Sctp.Send(a.LocalNow(net), 0, 53, Message(9, 100)));
        a.Pump(net);
        Assert.True(net.RunUntil(() => b.Received.Count == 7 && a.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(3)), $"received {b.Received.Count}");
        Assert.Equal(9, Number(b.Received[^1].Data));
        Assert.Equal(3, a.Sctp.Counters.MessagesAbandoned);
    }

    // The strongest form of "behaves the same on the wire": the same lossy run with and without 15 moves
    // (each onto a clock hours away) sends exactly the same packets at exactly the same times. The
    // network's trace hash covers every datagram's time, addresses and bytes.
    [Theory, InlineData(720), InlineData(721), InlineData(722), InlineData(723)]
    public void Moves_change_not_one_packet_on_the_wire(int seed)
    {
        var still = Run(seed, move: false, null, null);
        var moved = Run(seed, move: true, null, null);
        if (still != moved)
        {
            // Run both again keeping the packets: the first one that differs says where to look.
            List<byte[]> sa = [], sb = [], ma = [], mb = [];
            Run(seed, false, sa, sb);
            Run(seed, true, ma, mb);
            foreach (var (x, y, name) in new[] { (sa, ma, "A"), (sb, mb, "B") })
            {
                for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
                {
                    var at = x[i].AsSpan().CommonPrefixLength(y[i]);
                    if (at == x[i].Length && at == y[i].Length) continue;
                    var from = Math.Max(0, at - 8);
                    Assert.Fail($"{name}'s packet {i} differs at byte {at}: ...{Convert.ToHexString(x[i].AsSpan(from, Math.Min(24, x[i].Length - from)))} unmoved, ...{Convert.ToHexString(y[i].AsSpan(from, Math.Min(24, y[i].Length - from)))} moved");
                }
            }
        }
        Assert.True(still.Received > 200);
        Assert.Equal(still, moved);
    }

    // The run of Moves_change_not_one_packet_on_the_wire; 15 moves when asked, the same random draws either way.
    private static (ulong Trace, int Received) Run(int seed, bool move, List<byte[]>? sentA, List<byte[]>? sentB)
    {
        var cond = LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(12), Jitter = TimeSpan.FromMilliseconds(4), Loss = 0.1, Reorder = 0.05, Duplicate = 0.05 };
        using var pair = Connected(seed, cond);
        var (a, b, net) = (pair.A, pair.B, pair.Net);
        a.KeepSentPackets = b.KeepSentPackets = sentA is not null;
        var random = new Random(seed);
        var ordered = a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "o" })!.Id;
        var partial = a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "p", Ordered = false, MaxPacketLifeTime = 30 })!.Id;
        var rexmit = a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "r", MaxRetransmits = 1 })!.Id;
        a.Pump(net);
        Assert.True(net.RunUntil(() => b.Endpoint.Channels.Count == 3, TimeSpan.FromSeconds(30)));
        for (var round = 0; round < 45; round++)
        {
            for (var k = 0; k < 6; k++)
            {
                var id = k % 3 == 0 ? partial : k == 4 ? rexmit : ordered;
                a.Endpoint.Send(a.LocalNow(net), id, Message(round * 10 + k, random.Next(4, 3000)), isString: false);
                if (k == 0) b.Endpoint.Send(b.LocalNow(net), ordered, Message(-round, random.Next(4, 1500)), isString: false);
            }
            a.Pump(net);
            b.Pump(net);
            net.RunFor(TimeSpan.FromMilliseconds(random.Next(5, 50)));
            var node = round % 2 == 0 ? a : b;
            var offset = TimeSpan.FromSeconds(random.Next(0, 20_000));
            if (move && round % 3 == 1) node.Move(net, offset);
            node.Pump(net);
        }
        a.Endpoint.CloseChannel(a.LocalNow(net), ordered);
        a.Pump(net);
        Assert.True(net.RunUntil(() => !a.Endpoint.Channels.ContainsKey(ordered) && a.Sctp.BufferedAmount == 0 && b.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(120)));
        net.RunFor(TimeSpan.FromSeconds(1));
        sentA?.AddRange(a.SentPackets);
        sentB?.AddRange(b.SentPackets);
        return (net.TraceHash, a.Received.Count + b.Received.Count);
    }

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(710, 4).Select(s => new object[] { s });

    // Both endpoints move (through JSON, each time onto a clock hours away from the last) 20 times in
    // the middle of a two-way transfer under loss, reordering and duplication. Ordered reliable: every
    // message once and in order; unordered reliable: none lost or doubled; partial reliability still
    // abandons and skips; afterwards closing a channel (stream reset both ways) completes.
    [Theory, MemberData(nameof(Seeds))]
    public void Endpoints_moved_twenty_times_mid_transfer_lose_and_duplicate_nothing(int seed)
    {
        var cond = LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(15), Jitter = TimeSpan.FromMilliseconds(5), Loss = 0.08, Reorder = 0.05, Duplicate = 0.05 };
        using var pair = Connected(seed, cond);
        var random = new Random(seed);
        var a = pair.A;
        var b = pair.B;
        var net = pair.Net;
        var channels = new[]
        {
            a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "ordered" })!,
            a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "unordered", Ordered = false })!,
            a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "rexmit", MaxRetransmits = 0 })!,
            a.Endpoint.OpenChannel(net.Now, new DataChannelOptions { Label = "lifetime", Ordered = false, MaxPacketLifeTime = 40 })!,
        };
        var (ordered, unordered, rexmit, lifetime) = (channels[0].Id, channels[1].Id, channels[2].Id, channels[3].Id);
        a.Pump(net);
        Assert.True(net.RunUntil(() => b.Endpoint.Channels.Count == 4 && a.Endpoint.Channels.Values.All(c => c.Acknowledged), TimeSpan.FromSeconds(30)));

        var sentByA = channels.ToDictionary(c => c.Id, _ => new List<int>());
        var sentByB = new Dictionary<ushort, List<int>> { [ordered] = [], [unordered] = [] };
        var n = 0;
        var moves = 0;
        var movedWithOutstanding = 0;
        var movedWithGaps = 0;
        var movedWithFragments = 0;
        for (var round = 0; round < 60; round++)
        {
            for (var k = 0; k < 8; k++, n++)
            {
                var id = channels[random.Next(channels.Length)].Id;
                var size = random.Next(6) == 0 ? random.Next(1200, 6000) : random.Next(4, 400);
                if (a.Endpoint.Send(a.LocalNow(net), id, Message(n, size), isString: false) == SctpSendResult.Ok) sentByA[id].Add(n);
                if (k % 2 == 0)
                {
                    var back = k % 4 == 0 ? ordered : unordered;
                    if (b.Endpoint.Send(b.LocalNow(net), back, Message(n + 1_000_000, random.Next(4, 2500)), isString: false) == SctpSendResult.Ok) sentByB[back].Add(n + 1_000_000);
                }
            }
            a.Pump(net);
            b.Pump(net);
            net.RunFor(TimeSpan.FromMilliseconds(random.Next(5, 60)));
            if (round % 3 == 2)
            {
                // Mid-flight: some chunks out, some lost, SACKs on the way.
                var node = moves % 2 == 0 ? a : b;
                var snapshot = node.Move(net, TimeSpan.FromSeconds(random.Next(0, 20_000))).Association;
                node.Pump(net);
                moves++;
                if (snapshot.Send.Chunks.Any(c => !c.Acked)) movedWithOutstanding++;
                if (snapshot.Receive.Received.Length > 0) movedWithGaps++;
                if (snapshot.Receive.Fragments.Length > 0) movedWithFragments++;
            }
        }
        Assert.Equal(20, moves);
        // The moves really happened mid-flight: data outstanding, TSNs missing, messages half reassembled.
        Assert.True(movedWithOutstanding >= 10 && movedWithGaps >= 1 && movedWithFragments >= 1, $"outstanding {movedWithOutstanding} gaps {movedWithGaps} fragments {movedWithFragments}");
        Assert.True(net.RunUntil(() => a.Sctp.BufferedAmount == 0 && b.Sctp.BufferedAmount == 0, TimeSpan.FromSeconds(300)),
            $"seed {seed} A: {a.Sctp.DebugState()} B: {b.Sctp.DebugState()}");
        net.RunFor(TimeSpan.FromSeconds(2));

        List<int> Got(SctpNode node, ushort id) => node.Received.Where(r => r.Stream == id).Select(r => Number(r.Data)).ToList();
        Assert.Equal(sentByA[ordered], Got(b, ordered));
        Assert.Equal(sentByA[unordered].Order(), Got(b, unordered).Order());
        Assert.Equal(sentByB[ordered], Got(a, ordered));
        Assert.Equal(sentByB[unordered].Order(), Got(a, unordered).Order());
        Assert.All(b.Received.Concat(a.Received), r => Assert.Equal(Message(Number(r.Data), r.Data.Length), r.Data));
        // Partial reliability: whatever arrives arrives once (and in order on the ordered channel); some was given up.
        var gotRexmit = Got(b, rexmit);
        Assert.Equal(gotRexmit.Distinct().Count(), gotRexmit.Count);
        Assert.Equal(gotRexmit.Order(), gotRexmit);
        Assert.Subset(sentByA[rexmit].ToHashSet(), gotRexmit.ToHashSet());
        var gotLifetime = Got(b, lifetime);
        Assert.Equal(gotLifetime.Distinct().Count(), gotLifetime.Count);
        Assert.Subset(sentByA[lifetime].ToHashSet(), gotLifetime.ToHashSet());
        Assert.True(a.Sctp.Counters.MessagesAbandoned > 0, "nothing was abandoned: partial reliability not exercised");
        Assert.True(gotRexmit.Count > sentByA[rexmit].Count / 2);

        // Stream reset after all those moves, with one more move while the reset is in flight.
        a.Endpoint.CloseChannel(a.LocalNow(net), ordered);
        a.Pump(net);
        a.Move(net, TimeSpan.FromSeconds(random.Next(0, 20_000)));
        a.Pump(net);
        Assert.True(net.RunUntil(() => !a.Endpoint.Channels.ContainsKey(ordered) && !b.Endpoint.Channels.ContainsKey(ordered), TimeSpan.FromSeconds(60)),
            $"seed {seed} A: {a.Sctp.DebugState()} B: {b.Sctp.DebugState()}");
        Assert.Contains(b.ChannelEvents, e => e.Kind == DataChannelEventKind.ChannelClosed && e.Channel!.Id == ordered);
        Assert.False(a.Sctp.IsFinished || b.Sctp.IsFinished);
        Assert.Equal(SctpSendResult.Ok, a.Endpoint.Send(a.LocalNow(net), unordered, Message(-1, 10), isString: false));
        a.Pump(net);
        Assert.True(net.RunUntil(() => Got(b, unordered).Contains(-1), TimeSpan.FromSeconds(30)));
    }
}
