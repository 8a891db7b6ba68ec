using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A router moves between workers while media flows through it: the far ends (ICE, DTLS and SRTP
/// built on Ferry.Protocols) notice nothing, and every packet arrives once, in order, continuous.
/// </summary>
public sealed class RouterMoveTests : IAsyncLifetime
{
    private readonly List<Worker> _workers = [];

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++) _workers.Add(await Worker.CreateAsync());
    }

    public async Task DisposeAsync()
    {
        foreach (var w in _workers) await w.CloseAsync();
    }

    [Fact]
    public async Task Packets_arrive_exactly_once_and_in_order_while_the_router_moves_among_workers_hundreds_of_times()
    {
        var router = await _workers[0].CreateRouterAsync(DefaultRouterOptions);
        var (sendTransport, sender) = await ConnectedAsync(router);
        var (recvTransport, receiver) = await ConnectedAsync(router);
        using var senderScope = sender;
        using var receiverScope = receiver;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities });

        const int Total = 3000;
        var sending = Task.Run(() =>
        {
            for (var i = 0; i < Total; i++)
            {
                sender.SendRtp(Vp8Packet(11111111, (ushort)(40000 + i), (uint)(i * 300), keyFrame: i == 0, number: i, mid: "0"));
                if (i % 4 == 0) Thread.Sleep(1);
            }
        });
        var reports = new List<RouterMoveReport>();
        var statsCalls = 0;
        var next = 1;
        while (!sending.IsCompleted || reports.Count < 100)
        {
            var report = await router.MoveToAsync(_workers[next]);
            reports.Add(report);
            Assert.Equal(_workers[next].Id, report.ToWorkerId);
            Assert.Equal(2, report.Transports);
            Assert.Equal(1, report.Producers);
            Assert.Equal(1, report.Consumers);
            next = (next + 1) % _workers.Count;
            // API calls keep working whatever the router's worker is at the moment.
            _ = await consumer.GetStatsAsync();
            statsCalls++;
        }
        await sending;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= Total, WaitTimeout),
            $"received {receiver.ReceivedRtp.Count} of {Total} after {reports.Count} moves");
        await Task.Delay(200);
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, Total), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        var firstSeq = first.SequenceNumber;
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(firstSeq + i), p.SequenceNumber);
        }
        Assert.True(reports.Count >= 100);
        Assert.All(reports, r => Assert.Equal(0, r.PacketsDropped));
        Assert.Equal(0, receiver.SrtpFailures);
        Assert.Equal(IceStateName.Completed, sendTransport.IceState);
        Assert.Equal(DtlsStateName.Connected, recvTransport.DtlsState);
        Assert.Equal(router.Worker, _workers.Single(w => w.Routers.Contains(router)));
        Assert.Equal(statsCalls, reports.Count);
    }

    [Fact]
    public async Task A_moved_router_keeps_its_timers_and_closes_cleanly_on_its_new_worker()
    {
        var router = await _workers[0].CreateRouterAsync(DefaultRouterOptions);
        var (sendTransport, sender) = await ConnectedAsync(router);
        using var senderScope = sender;
        await sendTransport.ProduceAsync(Vp8Producer());
        await router.MoveToAsync(_workers[2]);
        Assert.Same(_workers[2], router.Worker);
        Assert.DoesNotContain(router, _workers[0].Routers);
        // The RTCP timer moved too: receiver reports keep coming from the new worker.
        sender.SendRtp(Vp8Packet(11111111, 1, 1, true, 1, mid: "0"));
        var before = sender.ReceivedRtcp.Count;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Count > before + 1, WaitTimeout));
        var counts = await _workers[2].GetObjectCountsAsync();
        Assert.Equal(new WorkerObjectCounts(1, 1, 1, 0), counts);
        await router.CloseAsync();
        Assert.Equal(new WorkerObjectCounts(0, 0, 0, 0), await _workers[2].GetObjectCountsAsync());
        Assert.Equal(0, await _workers[2].Loop.InvokeAsync(() => _workers[2].Loop.RegisteredCount));
        Assert.Equal(0, await _workers[0].Loop.InvokeAsync(() => _workers[0].Loop.RegisteredCount));
    }
}
