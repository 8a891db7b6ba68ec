using System.Net;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Simulation;

public class SimNetworkTests
{
    private static readonly IPEndPoint A = SimAddress.Loopback(1, 1000);
    private static readonly IPEndPoint B = SimAddress.Loopback(2, 2000);

    /// <summary>A sender that emits one numbered datagram every <c>interval</c>, and a sink that records arrivals.</summary>
    private sealed class Pacer(IPEndPoint from, IPEndPoint to, int count, TimeSpan interval) : ISimNode
    {
        private int _sent;
        public TimeSpan NextDeadline => _sent < count ? interval * _sent : TimeSpan.MaxValue;
        public void OnDatagram(SimNetwork network, IPEndPoint f, IPEndPoint t, ReadOnlySpan<byte> data) { }
        public void OnTimeout(SimNetwork network)
        {
            var payload = new byte[100];
            BitConverter.TryWriteBytes(payload, _sent);
            network.Send(from, to, payload);
            _sent++;
        }
    }

    private sealed class Sink : ISimNode
    {
        public readonly List<(TimeSpan At, int Number)> Arrivals = new();
        public TimeSpan NextDeadline => TimeSpan.MaxValue;
        public void OnDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data) =>
            Arrivals.Add((network.Now, BitConverter.ToInt32(data)));
        public void OnTimeout(SimNetwork network) { }
    }

    private static (SimNetwork Net, Sink Sink) Run(int seed, LinkConditions conditions, int count = 2000, int intervalMs = 1)
    {
        var net = new SimNetwork(seed) { DefaultConditions = conditions };
        var sink = new Sink();
        net.Attach(A, new Pacer(A, B, count, TimeSpan.FromMilliseconds(intervalMs)));
        net.Attach(B, sink);
        net.RunFor(TimeSpan.FromSeconds(count * intervalMs / 1000.0 + 10));
        return (net, sink);
    }

    [Fact]
    public void Perfect_link_delivers_everything_in_order_after_the_latency()
    {
        var (net, sink) = Run(1, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(25) }, count: 100);
        Assert.Equal(100, sink.Arrivals.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i, sink.Arrivals[i].Number);
            Assert.Equal(TimeSpan.FromMilliseconds(i + 25), sink.Arrivals[i].At);
        }
        Assert.Equal(100, net.Stats.Delivered);
    }

    [Fact]
    public void Same_seed_replays_identically_and_another_seed_does_not()
    {
        var lossy = new LinkConditions
        {
            Latency = TimeSpan.FromMilliseconds(10), Jitter = TimeSpan.FromMilliseconds(5),
            Loss = 0.05, Reorder = 0.05, Duplicate = 0.02, BurstStart = 0.01, BurstEnd = 0.3,
        };
        var first = Run(42, lossy);
        var again = Run(42, lossy);
        var other = Run(43, lossy);
        Assert.Equal(first.Net.TraceHash, again.Net.TraceHash);
        Assert.Equal(first.Sink.Arrivals, again.Sink.Arrivals);
        Assert.NotEqual(first.Net.TraceHash, other.Net.TraceHash);
    }

    [Fact]
    public void Independent_loss_is_close_to_its_rate()
    {
        var (net, sink) = Run(7, new LinkConditions { Loss = 0.1 }, count: 20_000);
        Assert.InRange(net.Stats.Lost, 1_700, 2_300);
        Assert.Equal(20_000 - net.Stats.Lost, sink.Arrivals.Count);
    }

    [Fact]
    public void Bursty_loss_loses_runs_of_consecutive_datagrams()
    {
        var (_, sink) = Run(9, new LinkConditions { BurstStart = 0.01, BurstEnd = 0.2 }, count: 20_000);
        var received = sink.Arrivals.Select(a => a.Number).ToHashSet();
        var longestGap = 0;
        var gap = 0;
        for (var i = 0; i < 20_000; i++)
        {
            gap = received.Contains(i) ? 0 : gap + 1;
            longestGap = Math.Max(longestGap, gap);
        }
        // Mean burst length is 1 / BurstEnd = 5; independent 5% loss would almost never lose 10 in a row.
        Assert.True(longestGap >= 10, $"longest run of losses {longestGap}");
        Assert.InRange(20_000 - received.Count, 500, 2_000);
    }

    [Fact]
    public void Reordering_and_duplication_happen_and_are_counted()
    {
        var (net, sink) = Run(11, new LinkConditions { Reorder = 0.1, Duplicate = 0.05 }, count: 5_000);
        var outOfOrder = sink.Arrivals.Zip(sink.Arrivals.Skip(1)).Count(p => p.Second.Number < p.First.Number);
        Assert.True(outOfOrder > 100, $"out of order {outOfOrder}");
        Assert.Equal(5_000 + net.Stats.Duplicated, sink.Arrivals.Count);
        Assert.True(net.Stats.Duplicated > 100);
    }

    [Fact]
    public void Rate_limit_serialises_datagrams_and_drops_at_a_full_queue()
    {
        // 100-byte datagrams every 1 ms is 800 kbit/s; a 400 kbit/s bottleneck spaces them 2 ms apart.
        var (net, sink) = Run(3, new LinkConditions { RateBitsPerSecond = 400_000 }, count: 50);
        Assert.Equal(50, sink.Arrivals.Count);
        for (var i = 1; i < 50; i++)
            Assert.Equal(TimeSpan.FromMilliseconds(2), sink.Arrivals[i].At - sink.Arrivals[i - 1].At);

        var (limited, _) = Run(3, new LinkConditions { RateBitsPerSecond = 400_000, QueueLimitBytes = 1_000 }, count: 1_000);
        Assert.InRange(limited.Stats.QueueDropped, 400, 600);
    }

    [Fact]
    public void Drop_filter_removes_exactly_the_chosen_datagrams()
    {
        var net = new SimNetwork(5) { DropFilter = d => BitConverter.ToInt32(d.Data) % 10 == 0 };
        var sink = new Sink();
        net.Attach(A, new Pacer(A, B, 100, TimeSpan.FromMilliseconds(1)));
        net.Attach(B, sink);
        net.RunFor(TimeSpan.FromSeconds(1));
        Assert.Equal(90, sink.Arrivals.Count);
        Assert.DoesNotContain(sink.Arrivals, a => a.Number % 10 == 0);
        Assert.Equal(10, net.Stats.Filtered);
    }

    [Fact]
    public void RunUntil_stops_at_the_condition_and_the_clock_never_goes_back()
    {
        var (net, sink) = (new SimNetwork(1), new Sink());
        net.Attach(A, new Pacer(A, B, 1000, TimeSpan.FromMilliseconds(10)));
        net.Attach(B, sink);
        Assert.True(net.RunUntil(() => sink.Arrivals.Count == 10, TimeSpan.FromSeconds(5)));
        Assert.Equal(TimeSpan.FromMilliseconds(90), net.Now);
        Assert.False(net.RunUntil(() => false, TimeSpan.FromMilliseconds(35)));
        Assert.Equal(TimeSpan.FromMilliseconds(125), net.Now);
    }

    [Fact]
    public void A_node_that_never_moves_its_deadline_is_reported_not_spun_forever()
    {
        var net = new SimNetwork(1);
        net.Attach(A, new DelegateNode((_, _, _, _) => { }, deadline: () => TimeSpan.Zero));
        var error = Assert.Throws<InvalidOperationException>(() => net.RunFor(TimeSpan.FromSeconds(1)));
        Assert.Contains("seed 1", error.Message);
    }

    [Fact]
    public void Datagrams_to_unknown_addresses_are_counted()
    {
        var net = new SimNetwork(1);
        net.Send(A, B, [1, 2, 3]);
        net.RunFor(TimeSpan.FromSeconds(1));
        Assert.Equal(1, net.Stats.Unroutable);
    }
}
