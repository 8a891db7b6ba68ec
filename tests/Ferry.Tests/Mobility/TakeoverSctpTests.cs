using System.Text.Json;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Sctp;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A data channel association taken over in one process, on a simulated clock: Ferry's side and a far end exchange
/// messages on an ordered reliable channel and an unordered one; Ferry's association is copied; both go on (the side
/// that will die sends and acknowledges more); it dies (what it sends and what is sent to it is lost); the copy is
/// carried forward and brought back as a take-over does (<see cref="TakeoverCarryForward"/>, <see cref="SctpTakeoverResync"/>).
/// Both directions must then deliver every new message once, the ordered channel in order.
/// </summary>
public sealed class TakeoverSctpTests
{
    private const ushort Ordered = 0;
    private const ushort Unordered = 2;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);

    /// <summary>One end: its endpoint, what it received per stream, how many it sent per stream.</summary>
    private sealed class End(DataChannelEndpoint endpoint)
    {
        public DataChannelEndpoint Endpoint { get; set; } = endpoint;
        public Dictionary<ushort, List<int>> Received { get; } = new() { [Ordered] = [], [Unordered] = [] };
        public Dictionary<ushort, int> Sent { get; } = new() { [Ordered] = 0, [Unordered] = 0 };
        public bool Dead { get; set; }
        public SctpTakeoverResync? Resync { get; set; }
        public int SendFailures { get; set; }
    }

    /// <summary>Two ends, a fixed latency both ways, a clock in 1 ms steps.</summary>
    private sealed class Wire
    {
        private readonly List<(TimeSpan At, bool ToFar, byte[] Data)> _inFlight = [];
        private readonly byte[] _buffer = new byte[2048];

        public Wire()
        {
            Ferry = new End(new DataChannelEndpoint(new SctpAssociation(new SctpOptions { Random = new Random(1) }), dtlsClient: false));
            Far = new End(new DataChannelEndpoint(new SctpAssociation(new SctpOptions { Random = new Random(2) }), dtlsClient: true));
        }

        public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(100);
        public End Ferry { get; }
        public End Far { get; }
        /// <summary>Messages per second each end sends on each channel while <see cref="Sending"/>.</summary>
        public bool Sending { get; set; }

        public void Run(TimeSpan duration, Func<bool>? until = null)
        {
            var end = Now + duration;
            while (Now < end && until?.Invoke() != true)
            {
                Now += Step;
                for (var i = 0; i < _inFlight.Count;)
                {
                    var (at, toFar, data) = _inFlight[i];
                    if (at > Now)
                    {
                        i++;
                        continue;
                    }
                    _inFlight.RemoveAt(i);
                    var to = toFar ? Far : Ferry;
                    if (to.Dead) continue;
                    // As the transport does (WebRtcTransport.HandleSctpFromFarEnd).
                    var verdict = to.Resync is { Done: false } resync ? resync.Inspect(data, Now, to.Endpoint, e => e.Export(Now)) : SctpResyncVerdict.Pass;
                    if (verdict == SctpResyncVerdict.Pass) to.Endpoint.HandlePacket(Now, data);
                    else if (verdict == SctpResyncVerdict.Resynced) Adopt(to);
                }
                foreach (var e in new[] { Ferry, Far })
                {
                    if (e.Dead) continue;
                    // As the transport's timer does (WebRtcTransport.PollSctpResync).
                    if (e.Resync is { } r && r.Poll(Now, e.Endpoint, x => x.Export(Now)) == SctpResyncVerdict.Resynced) Adopt(e);
                    if (e.Endpoint.Association.NextTimeout <= Now) e.Endpoint.HandleTimeout(Now);
                    // A message every 20 ms on each channel from each end.
                    if (Sending && Now.Ticks / Step.Ticks % 20 == (e == Ferry ? 3 : 13))
                    {
                        foreach (var id in new[] { Ordered, Unordered })
                        {
                            if (e.Endpoint.Send(Now, id, BitConverter.GetBytes(e.Sent[id]), isString: false) == SctpSendResult.Ok) e.Sent[id]++;
                            else e.SendFailures++;
                        }
                    }
                    Pump(e);
                }
            }
        }

        private void Adopt(End e)
        {
            e.Endpoint.Dispose();
            e.Endpoint = DataChannelEndpoint.Import(e.Resync!.TakeResynced(), Now);
            foreach (var held in e.Resync.TakeReplay()) e.Endpoint.HandlePacket(Now, held);
        }

        private void Pump(End e)
        {
            while (e.Endpoint.TryPollMessage(out var m))
            {
                if (e.Received.TryGetValue(m.StreamId, out var list) && m.Length == 4) list.Add(BitConverter.ToInt32(m.Data));
                m.Release();
            }
            while (e.Endpoint.TryPollEvent(out _)) { }
            int n;
            while ((n = e.Endpoint.PollPacket(_buffer, Now)) > 0) _inFlight.Add((Now + Latency, e == Ferry, _buffer[..n]));
        }
    }

    /// <summary>Connected, with the two channels opened by the far end (DCEP), or negotiated on both ends (as mediasoup-client does: no DCEP).</summary>
    private static Wire Connected(bool negotiated)
    {
        var wire = new Wire();
        wire.Far.Endpoint.Association.Connect(wire.Now);
        wire.Run(TimeSpan.FromSeconds(2), () => wire.Ferry.Endpoint.Association.State == SctpState.Established && wire.Far.Endpoint.Association.State == SctpState.Established);
        Assert.Equal(SctpState.Established, wire.Ferry.Endpoint.Association.State);
        foreach (var end in negotiated ? new[] { wire.Far, wire.Ferry } : [wire.Far])
        {
            Assert.NotNull(end.Endpoint.OpenChannel(wire.Now, new DataChannelOptions { Label = "ordered", Id = Ordered, Negotiated = negotiated }));
            Assert.NotNull(end.Endpoint.OpenChannel(wire.Now, new DataChannelOptions { Label = "unordered", Id = Unordered, Ordered = false, Negotiated = negotiated }));
        }
        wire.Run(TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, wire.Ferry.Endpoint.Channels.Count);
        Assert.True(wire.Far.Endpoint.Channels.Values.All(c => c.Acknowledged));
        return wire;
    }

    private static DataChannelEndpointState ThroughJson(DataChannelEndpointState state) =>
        JsonSerializer.Deserialize<DataChannelEndpointState>(JsonSerializer.Serialize(state, SnapshotJson.Options), SnapshotJson.Options)!;

    /// <summary>
    /// Copies Ferry's side while messages flow, lets the doomed side go on for <paramref name="afterCopy"/>, kills it for
    /// <paramref name="outage"/>, takes over from the copy, and lets both ends go on sending. Returns the counts sent by each
    /// end at the take-over.
    /// </summary>
    private static (Dictionary<ushort, int> FerryAtTakeover, Dictionary<ushort, int> FarAtKill, Dictionary<ushort, int> FerryAtCopy) TakeOver(Wire wire, TimeSpan afterCopy, TimeSpan outage)
    {
        wire.Sending = true;
        wire.Run(TimeSpan.FromSeconds(1));
        var copy = ThroughJson(wire.Ferry.Endpoint.Checkpoint(wire.Now));
        var copiedAt = wire.Now;
        var ferryAtCopy = new Dictionary<ushort, int>(wire.Ferry.Sent);
        wire.Run(afterCopy);
        wire.Ferry.Dead = true;
        var farAtKill = new Dictionary<ushort, int>(wire.Far.Sent);
        // Ferry's application does not send through a dead process.
        var ferrySent = new Dictionary<ushort, int>(wire.Ferry.Sent);
        wire.Run(outage);
        foreach (var (id, n) in ferrySent) wire.Ferry.Sent[id] = n;
        wire.Ferry.Endpoint.Dispose();
        var carried = TakeoverCarryForward.ApplySctp(copy, wire.Now - copiedAt);
        wire.Ferry.Endpoint = DataChannelEndpoint.Import(ThroughJson(carried), wire.Now);
        wire.Ferry.Resync = new SctpTakeoverResync(wire.Now, wire.Now - copiedAt, wire.Now + TimeSpan.FromSeconds(30), new TakeoverOptions { ListenInfos = [], CopyAge = default }.SctpResyncSettle);
        wire.Ferry.Dead = false;
        return (new Dictionary<ushort, int>(wire.Ferry.Sent), farAtKill, ferryAtCopy);
    }

    /// <summary>Increasing, but for one repeat allowed of a number below <paramref name="repeatBelow"/>.</summary>
    private static void AssertOnceAndInOrder(List<int> received, string what, int repeatBelow = 0)
    {
        for (var i = 1; i < received.Count; i++)
            Assert.True(received[i] > received[i - 1] || received[i] < repeatBelow && received.Count(n => n == received[i]) == 2 && received[i] == received[i - 1], $"{what}: {received[i]} after {received[i - 1]}");
    }

    [Theory]
    [InlineData(300, 1500, false)]
    [InlineData(0, 800, false)]
    [InlineData(600, 3000, false)]
    [InlineData(300, 1500, true)]
    [InlineData(600, 3000, true)]
    public void Both_directions_resume_once_and_in_order_after_a_take_over(int afterCopyMs, int outageMs, bool negotiated)
    {
        var wire = Connected(negotiated);
        var (ferryAtTakeover, farAtKill, ferryAtCopy) = TakeOver(wire, TimeSpan.FromMilliseconds(afterCopyMs), TimeSpan.FromMilliseconds(outageMs));
        wire.Run(TimeSpan.FromSeconds(3));
        wire.Sending = false;
        // Long enough for the far end's next retransmission timer (doubled at each expiry during the outage).
        wire.Run(TimeSpan.FromSeconds(15));
        var ferry = wire.Ferry;
        var far = wire.Far;
        var state = $"ferry: {Counters(ferry)}; far: {Counters(far)}";
        Assert.True(ferry.Resync!.Resyncs >= 1, "the incoming half was never put in step: " + state);
        Assert.Equal(0, ferry.SendFailures + far.SendFailures);
        Assert.True(ferry.Received[Ordered].Distinct().Count() == far.Sent[Ordered], state);

        // Far end to Ferry: every message arrived once (what the dead side acknowledged it delivered; the far end
        // retransmits what it did not), the ordered ones in order.
        // A message the dead side delivered but did not acknowledge yet (its SACK was delayed or lost at the kill) is
        // sent again by the far end and delivered again: at least once for what was sent before the kill.
        AssertOnceAndInOrder(ferry.Received[Ordered], "far to Ferry, ordered", farAtKill[Ordered]);
        AssertOnceAndInOrder(ferry.Received[Unordered].Order().ToList(), "far to Ferry, unordered", farAtKill[Unordered]);
        Assert.Equal(Enumerable.Range(0, far.Sent[Ordered]), ferry.Received[Ordered].Distinct());
        Assert.Equal(Enumerable.Range(0, far.Sent[Unordered]), ferry.Received[Unordered].Distinct().Order());
        Assert.True(far.Sent[Ordered] > farAtKill[Ordered] + 100, state);

        // Ferry to the far end: everything sent after the take-over arrived, once, in order; what is missing was sent
        // between the copy and the kill (in flight when the dead side died).
        foreach (var id in new[] { Ordered, Unordered })
        {
            var received = id == Ordered ? far.Received[id] : far.Received[id].Order().ToList();
            AssertOnceAndInOrder(received, $"Ferry to far, stream {id}");
            var missing = Enumerable.Range(0, ferry.Sent[id]).Except(received).ToList();
            Assert.True(missing.All(m => m >= ferryAtCopy[id] - 10 && m < ferryAtTakeover[id]),
                $"stream {id}: missing {string.Join(",", missing)} (copy at {ferryAtCopy[id]}, take-over at {ferryAtTakeover[id]}); {state}");
            Assert.True(ferry.Sent[id] > ferryAtTakeover[id] + 100, state);
        }
    }

    private static string Counters(End e)
    {
        var c = e.Endpoint.Association.Counters;
        var a = e.Endpoint.Association.State == SctpState.Established ? e.Endpoint.Checkpoint(TimeSpan.Zero).Association : null;
        return $"state {e.Endpoint.Association.State} resync first {e.Resync?.FirstTsn} send cum {a?.Send.CumulativeTsnAck} next {a?.Send.NextTsn} ring {a?.Send.Chunks.Length} recv cum {a?.Receive.CumulativeTsn} highest {a?.Receive.HighestReceived} " +
            $"received {c.MessagesReceived} sent {c.MessagesSent} retx {c.Retransmissions} T3 {c.T3Expirations} dup {c.DuplicateChunks} windowDrops {c.ReceiveWindowDrops} dropped {c.ChunksDropped} buffered {e.Endpoint.Association.BufferedAmount}";
    }
}
