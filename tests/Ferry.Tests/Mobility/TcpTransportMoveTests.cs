using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// Transports whose media goes over ICE-TCP move between workers while media flows: the listener and
/// its connections (receive buffers holding partial frames, send queues) change loops with the
/// transport, and the far ends see every packet once, in order, on the same TCP connection.
/// </summary>
public sealed class TcpTransportMoveTests : ThreeWorkers
{
    private static WebRtcTransportOptions TcpOnly => new()
    {
        ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp }],
    };

    private static void AssertExactlyOnceInOrder(WebRtcTestClient receiver, int total)
    {
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, total), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
            Assert.Equal(first.Ssrc, p.Ssrc);
        }
        Assert.Equal(0, receiver.SrtpFailures);
    }

    private static void AssertSameTcpPath(WebRtcTransport transport, WebRtcTestClient client, int localPort)
    {
        var tuple = transport.IceSelectedTuple!;
        Assert.Equal(TransportProtocolName.Tcp, tuple.Protocol);
        Assert.Equal(localPort, tuple.LocalPort);
        Assert.Equal(client.LocalEndPoint.Port, tuple.RemotePort);
        Assert.False(client.TcpClosedByPeer);
        Assert.Equal(IceStateName.Completed, transport.IceState);
        Assert.Equal(DtlsStateName.Connected, transport.DtlsState);
        var tcp = transport.TcpStats;
        Assert.Equal(1, tcp.ConnectionsAccepted);
        Assert.Equal(1, tcp.ConnectionsOpen);
        Assert.Equal(0, tcp.FramingErrors);
        Assert.Equal(0, tcp.SendDrops);
    }

    [Fact]
    public async Task Media_over_tcp_flows_exactly_once_while_its_transports_move_among_workers()
    {
        var home = _routers[0];
        var (sendTransport, sender) = await ConnectedAsync(home, TcpOnly, TransportProtocolName.Tcp);
        var (moverTransport, mover) = await ConnectedAsync(home, TcpOnly, TransportProtocolName.Tcp);
        var (stayTransport, stayer) = await ConnectedAsync(home, LoopbackUdpAndTcp, TransportProtocolName.Udp);
        using var senderScope = sender;
        using var moverScope = mover;
        using var stayerScope = stayer;
        var sendPort = sendTransport.IceSelectedTuple!.LocalPort;
        var moverPort = moverTransport.IceSelectedTuple!.LocalPort;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await moverTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });
        await stayTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });

        const int Total = 3000;
        var sending = Task.Run(() =>
        {
            for (var i = 0; i < Total; i++)
            {
                sender.SendRtp(Vp8Packet(11111111, (ushort)(60000 + i), (uint)(i * 300), keyFrame: i == 0, number: i, mid: "0"));
                if (i % 4 == 0) Thread.Sleep(1);
            }
        });
        var reports = new List<TransportMoveReport>();
        var random = new Random(11);
        while (!sending.IsCompleted || reports.Count < 150)
        {
            var transport = random.Next(2) == 0 ? sendTransport : moverTransport;
            var target = _routers[random.Next(_routers.Count)];
            reports.Add(await transport.MoveToAsync(target));
            Assert.Same(target, transport.Router);
        }
        await sending;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => mover.ReceivedRtp.Count >= Total && stayer.ReceivedRtp.Count >= Total, WaitTimeout),
            $"mover {mover.ReceivedRtp.Count}, stayer {stayer.ReceivedRtp.Count} of {Total} after {reports.Count} moves");
        await Task.Delay(300);
        AssertExactlyOnceInOrder(mover, Total);
        AssertExactlyOnceInOrder(stayer, Total);
        Assert.All(reports, r => Assert.Equal(0, r.PacketsDropped));
        Assert.Contains(reports, r => r.FromWorkerId != r.ToWorkerId);
        AssertSameTcpPath(sendTransport, sender, sendPort);
        AssertSameTcpPath(moverTransport, mover, moverPort);

        // Back home, the other loops hold none of their fds (listener and connection each).
        await sendTransport.MoveToAsync(home);
        await moverTransport.MoveToAsync(home);
        Assert.Equal(0, await _workers[1].Loop.InvokeAsync(() => _workers[1].Loop.RegisteredCount));
        Assert.Equal(0, await _workers[2].Loop.InvokeAsync(() => _workers[2].Loop.RegisteredCount));
        // And after a close, none at all.
        await sendTransport.CloseAsync();
        await moverTransport.CloseAsync();
        await stayTransport.CloseAsync();
        Assert.Equal(0, await _workers[0].Loop.InvokeAsync(() => _workers[0].Loop.RegisteredCount));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.TcpClosedByPeer && mover.TcpClosedByPeer, WaitTimeout));
    }

    [Fact]
    public async Task Media_over_tcp_flows_exactly_once_while_its_router_moves_among_workers()
    {
        var router = await _workers[0].CreateRouterAsync(DefaultRouterOptions);
        var (sendTransport, sender) = await ConnectedAsync(router, TcpOnly, TransportProtocolName.Tcp);
        var (recvTransport, receiver) = await ConnectedAsync(router, TcpOnly, TransportProtocolName.Tcp);
        using var senderScope = sender;
        using var receiverScope = receiver;
        var sendPort = sendTransport.IceSelectedTuple!.LocalPort;
        var recvPort = recvTransport.IceSelectedTuple!.LocalPort;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities });

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
        var next = 1;
        while (!sending.IsCompleted || reports.Count < 100)
        {
            reports.Add(await router.MoveToAsync(_workers[next]));
            next = (next + 1) % _workers.Count;
        }
        await sending;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= Total, WaitTimeout),
            $"received {receiver.ReceivedRtp.Count} of {Total} after {reports.Count} moves");
        await Task.Delay(200);
        AssertExactlyOnceInOrder(receiver, Total);
        Assert.All(reports, r => Assert.Equal(0, r.PacketsDropped));
        AssertSameTcpPath(sendTransport, sender, sendPort);
        AssertSameTcpPath(recvTransport, receiver, recvPort);
        var owner = router.Worker;
        foreach (var w in _workers.Where(w => w != owner))
            Assert.Equal(0, await w.Loop.InvokeAsync(() => w.Loop.RegisteredCount));
        // Two listeners and two connections live on the router's current loop.
        Assert.Equal(4, await owner.Loop.InvokeAsync(() => owner.Loop.RegisteredCount));
    }
}
