using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>Counterparts of mediasoup's test-WebRtcServer: many transports on one shared UDP port, demultiplexed by ICE username and tuple.</summary>
public sealed class WebRtcServerTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;
    private WebRtcServer _server = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync(new WorkerSettings { RtcMinPort = 47000, RtcMaxPort = 47999 });
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
        _server = await _worker.CreateWebRtcServerAsync(new WebRtcServerOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    private async Task<(WebRtcTransport, WebRtcTestClient)> ConnectedOnServerAsync()
    {
        var transport = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { WebRtcServer = _server });
        var client = new WebRtcTestClient();
        await transport.ConnectAsync(client.DtlsParameters);
        await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.DtlsState == DtlsStateName.Connected, WaitTimeout));
        return (transport, client);
    }

    [Fact]
    public async Task Two_transports_share_one_port_and_media_flows_between_them()
    {
        var (sendTransport, sender) = await ConnectedOnServerAsync();
        var (recvTransport, receiver) = await ConnectedOnServerAsync();
        using var senderScope = sender;
        using var receiverScope = receiver;
        Assert.Equal(sendTransport.IceCandidates[0].Port, recvTransport.IceCandidates[0].Port);
        Assert.InRange(sendTransport.IceCandidates[0].Port, 47000, 47999);
        Assert.NotEqual(sendTransport.IceParameters.UsernameFragment, recvTransport.IceParameters.UsernameFragment);

        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        for (var i = 0; i < 20; i++) sender.SendRtp(Vp8Packet(11111111, (ushort)(10 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 20, WaitTimeout));
        Assert.Equal(Enumerable.Range(0, 20), receiver.ReceivedRtp.Select(NumberOf));

        // A STUN request for a ufrag nobody has is counted and claimed by no transport.
        var stranger = new WebRtcTestClient();
        _ = stranger.ConnectAsync(new IceParameters { UsernameFragment = "nobody", Password = "nothing-at-all-here-32-chars-xx" },
            sendTransport.IceCandidates, sendTransport.DtlsParameters, TimeSpan.FromMilliseconds(300)).ContinueWith(_ => { });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => _server.Unclaimed > 0, WaitTimeout));
        stranger.Dispose();
        Assert.Equal(DtlsStateName.Connected, sendTransport.DtlsState);

        // Transports on a server stay with its worker.
        var other = await Worker.CreateAsync();
        await Assert.ThrowsAsync<InvalidStateException>(() => _router.MoveToAsync(other));
        await other.CloseAsync();
    }

    [Fact]
    public async Task Closing_the_server_closes_its_transports_with_listenserverclose()
    {
        var (transport, client) = await ConnectedOnServerAsync();
        using var clientScope = client;
        var closed = new TaskCompletionSource();
        transport.ListenServerClose += () => closed.TrySetResult();
        await _server.CloseAsync();
        await closed.Task.WaitAsync(WaitTimeout);
        Assert.True(transport.Closed);
        Assert.Empty(_worker.WebRtcServers);
        await Assert.ThrowsAsync<InvalidStateException>(() => _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { WebRtcServer = _server }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions()));
    }

    [Fact]
    public async Task Tcp_connections_on_one_shared_port_go_to_their_transport_by_ice_username_then_by_connection()
    {
        var baseline = await _worker.Loop.InvokeAsync(() => _worker.Loop.RegisteredCount);
        var server = await _worker.CreateWebRtcServerAsync(new WebRtcServerOptions
        {
            ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }, new TransportListenInfo { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp }],
        });
        async Task<(WebRtcTransport, WebRtcTestClient)> ConnectAsync(TransportProtocolName protocol)
        {
            var transport = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { WebRtcServer = server });
            var client = new WebRtcTestClient(protocol: protocol);
            await transport.ConnectAsync(client.DtlsParameters);
            await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout);
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.DtlsState == DtlsStateName.Connected, WaitTimeout));
            return (transport, client);
        }
        var (sendTransport, sender) = await ConnectAsync(TransportProtocolName.Tcp);
        var (tcpTransport, tcpReceiver) = await ConnectAsync(TransportProtocolName.Tcp);
        var (udpTransport, udpReceiver) = await ConnectAsync(TransportProtocolName.Udp);
        using var senderScope = sender;
        using var tcpScope = tcpReceiver;
        using var udpScope = udpReceiver;
        var tcpPort = server.Candidates(true, true, false, false).Single(c => c.Protocol == TransportProtocolName.Tcp).Port;
        Assert.Equal(tcpPort, sendTransport.IceSelectedTuple!.LocalPort);
        Assert.Equal(tcpPort, tcpTransport.IceSelectedTuple!.LocalPort);
        Assert.Equal(TransportProtocolName.Tcp, tcpTransport.IceSelectedTuple.Protocol);
        Assert.Equal(TransportProtocolName.Udp, udpTransport.IceSelectedTuple!.Protocol);
        Assert.Equal(2, server.TcpStats.ConnectionsAccepted);

        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await tcpTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        await udpTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var number = 0;
        async Task SendAndExpect(int count, params WebRtcTestClient[] receivers)
        {
            var before = receivers.Select(r => r.ReceivedRtp.Count).ToArray();
            for (var i = 0; i < count; i++, number++)
                sender.SendRtp(Vp8Packet(11111111, (ushort)(10 + number), (uint)(number * 3000), keyFrame: number == 0, number: number, mid: "0"));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receivers.Select((r, i) => r.ReceivedRtp.Count >= before[i] + count).All(ok => ok), WaitTimeout));
        }
        await SendAndExpect(30, tcpReceiver, udpReceiver);
        Assert.Equal(Enumerable.Range(0, 30), tcpReceiver.ReceivedRtp.Select(NumberOf));

        // A connection whose first check names nobody, and one that starts with garbage, are closed and counted.
        var unclaimed = server.Unclaimed;
        using var stranger = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        Assert.False(await stranger.IceOnlyAsync(new IceParameters { UsernameFragment = "nobody", Password = "nothing-at-all-here-32-chars-xx" }, sendTransport.IceCandidates, TimeSpan.FromSeconds(2)));
        using var garbage = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        garbage.OpenPath(sendTransport.IceCandidates);
        garbage.SendUnprotected(Vp8Packet(1, 2, 3, keyFrame: true, number: 4));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => stranger.TcpClosedByPeer && garbage.TcpClosedByPeer, WaitTimeout));
        Assert.Equal(unclaimed + 2, server.Unclaimed);
        Assert.Equal(2, server.TcpStats.UnauthenticatedClosed);
        await SendAndExpect(10, tcpReceiver, udpReceiver);

        // Closing a transport closes the server's connection it had claimed; the others go on.
        await tcpTransport.CloseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => tcpReceiver.TcpClosedByPeer, WaitTimeout));
        Assert.Equal(1, server.TcpStats.ConnectionsOpen);
        await SendAndExpect(10, udpReceiver);

        // Closing the server closes its transports, listener and connections: no fd left.
        await server.CloseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.TcpClosedByPeer, WaitTimeout));
        Assert.True(sendTransport.Closed);
        Assert.Equal(0, server.TcpStats.ConnectionsOpen);
        Assert.Equal(baseline, await _worker.Loop.InvokeAsync(() => _worker.Loop.RegisteredCount));
    }
}
