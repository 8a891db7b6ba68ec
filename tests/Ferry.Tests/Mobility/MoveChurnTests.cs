using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// Moves under churn: transports and routers move in any order while producers and consumers are
/// created and closed and media flows. Afterwards nothing leaks (replicas, pipes, sockets, timers)
/// and no consumer is left without its producer.
/// </summary>
public sealed class MoveChurnTests : ThreeWorkers
{
    [Fact]
    public async Task Random_moves_creates_and_closes_leave_no_leak_and_no_orphan_consumer()
    {
        var random = new Random(11);
        var transports = new List<DirectTransport>();
        var producers = new List<Producer>();
        var consumers = new List<Consumer>();
        var ssrc = 5000u;
        using var stop = new CancellationTokenSource();
        var errors = new List<Exception>();

        // Media keeps flowing into every live producer.
        var pump = Task.Run(async () =>
        {
            ushort seq = 0;
            while (!stop.IsCancellationRequested)
            {
                Producer[] live;
                lock (producers) live = [.. producers];
                foreach (var p in live)
                {
                    if (p.Closed) continue;
                    var packetSsrc = p.RtpParameters.Encodings![0].Ssrc!.Value;
                    try { p.Send(Vp8Packet(packetSsrc, seq, seq * 3000u, keyFrame: seq % 50 == 0, number: seq, mid: "0")); }
                    catch (InvalidStateException) { }
                }
                seq++;
                await Task.Delay(2);
            }
        });

        for (var step = 0; step < 300; step++)
        {
            try
            {
                switch (random.Next(8))
                {
                    case 0 or 1:
                    {
                        var t = await _routers[random.Next(3)].CreateDirectTransportAsync();
                        transports.Add(t);
                        var p = await t.ProduceAsync(Vp8Producer(ssrc: ssrc++, rtxSsrc: ssrc++));
                        lock (producers) producers.Add(p);
                        break;
                    }
                    case 2 or 3 when transports.Count > 0 && producers.Count > 0:
                    {
                        var t = transports[random.Next(transports.Count)];
                        var p = producers[random.Next(producers.Count)];
                        if (t.Closed || p.Closed) break;
                        await t.Router.ImportProducerAsync(p);
                        consumers.Add(await t.ConsumeAsync(new ConsumerOptions { ProducerId = p.Id, RtpCapabilities = t.Router.RtpCapabilities }));
                        break;
                    }
                    case 4 when transports.Count > 0:
                        await transports[random.Next(transports.Count)].MoveToAsync(_routers[random.Next(3)]);
                        break;
                    case 5:
                        await _routers[random.Next(3)].MoveToAsync(_workers[random.Next(3)]);
                        break;
                    case 6 when producers.Count > 0:
                        await producers[random.Next(producers.Count)].CloseAsync();
                        break;
                    case 7 when transports.Count > 0 && random.Next(3) == 0:
                        await transports[random.Next(transports.Count)].CloseAsync();
                        break;
                }
            }
            catch (InvalidStateException)
            {
                // A move or consume of something closed meanwhile: refused, as it should be.
            }
            catch (InvalidOperationException e) when (e.Message.Contains("not found"))
            {
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        }
        await stop.CancelAsync();
        await pump;
        Assert.Empty(errors);
        Assert.All(_workers, w => Assert.False(w.HasDied));

        // Every live consumer has a live producer with its id, in its own router.
        foreach (var c in consumers.Where(c => !c.Closed))
        {
            var source = c.Producer;
            Assert.NotNull(source);
            Assert.False(source!.Closed);
            Assert.Equal(c.ProducerId, source.Id);
            Assert.Same(c.Transport.Router, source.Transport.Router);
        }

        // Close every producer: every consumer goes, and every replica and pipe with them.
        foreach (var p in producers) await p.CloseAsync();
        await Task.Delay(200);
        Assert.All(consumers, c => Assert.True(c.Closed));
        foreach (var router in _routers)
        {
            Assert.Equal(0, await router.InvokeAsync(() => router.LocalPipes.Producers.Count));
        }
        Assert.All(producers, p => Assert.Empty(p.Replicas));

        // Close every transport and router: no socket or timer stays on any loop.
        foreach (var t in transports) await t.CloseAsync();
        foreach (var r in _routers) await r.CloseAsync();
        foreach (var w in _workers)
        {
            Assert.Equal(0, await w.Loop.InvokeAsync(() => w.Loop.RegisteredCount));
            Assert.Equal(new WorkerObjectCounts(0, 0, 0, 0), await w.GetObjectCountsAsync());
        }
    }
}
