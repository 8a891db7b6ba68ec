using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Stun;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// ICE over TCP (RFC 6544 passive candidates, RFC 4571 framing) end to end on 127.0.0.1: candidates
/// and priorities as mediasoup gives them, media both ways through a router, tuples that come and go
/// with their connections, bad input on the stream, and no fd left behind.
/// </summary>
public sealed class WebRtcTcpTests : IAsyncLifetime
{
    private const long HostBase = 1L << 30; // 2^24 * 64, the host type preference
    private Worker _worker = null!;
    private Router _router = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync(new WorkerSettings { TcpPendingTimeout = TimeSpan.FromSeconds(2) });
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    private static long Priority(int localPreference) => HostBase + 256L * localPreference + 255;

    private static TransportListenInfo Udp(int port = 0) => new() { Ip = "127.0.0.1", Port = port };

    private static TransportListenInfo Tcp(int port = 0) => new() { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp, Port = port };

    [Fact]
    public async Task Tcp_listen_infos_are_passive_candidates_with_mediasoup_priorities_and_listen_ips_follow_enable_and_prefer()
    {
        // listenInfos: one candidate each, in the order given, 100 less local preference each; TCP ones passive.
        var t = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Udp(), Tcp(), Tcp()] });
        Assert.Equal([TransportProtocolName.Udp, TransportProtocolName.Tcp, TransportProtocolName.Tcp], t.IceCandidates.Select(c => c.Protocol));
        Assert.Equal([Priority(10000), Priority(9900), Priority(9800)], t.IceCandidates.Select(c => c.Priority));
        Assert.Equal(1076302079, t.IceCandidates[0].Priority);
        Assert.Equal(1076276479, t.IceCandidates[1].Priority);
        Assert.Equal(["udpcandidate", "tcpcandidate", "tcpcandidate"], t.IceCandidates.Select(c => c.Foundation));
        Assert.Equal([null, IceTcpCandidateType.Passive, IceTcpCandidateType.Passive], t.IceCandidates.Select(c => c.TcpType));
        Assert.All(t.IceCandidates, c => Assert.Equal(IceCandidateType.Host, c.Type));
        Assert.NotEqual(t.IceCandidates[1].Port, t.IceCandidates[2].Port);
        // The flags do not filter listenInfos (mediasoup's worker applies them only to a WebRtcServer's sockets).
        var unfiltered = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Tcp()], EnableTcp = false });
        Assert.Equal(TransportProtocolName.Tcp, Assert.Single(unfiltered.IceCandidates).Protocol);

        // Deprecated listenIps: per IP, the enabled protocols, UDP first unless TCP is preferred (and UDP is not).
        async Task<List<TransportProtocolName>> Order(bool enableUdp, bool? enableTcp, bool preferUdp, bool preferTcp)
        {
            var transport = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions
            {
                ListenIps = [new TransportListenIp { Ip = "127.0.0.1" }], EnableUdp = enableUdp, EnableTcp = enableTcp, PreferUdp = preferUdp, PreferTcp = preferTcp,
            });
            Assert.Equal(Priority(10000), transport.IceCandidates[0].Priority);
            return transport.IceCandidates.Select(c => c.Protocol).ToList();
        }
        Assert.Equal([TransportProtocolName.Udp], await Order(true, null, false, false));
        Assert.Equal([TransportProtocolName.Udp, TransportProtocolName.Tcp], await Order(true, true, false, false));
        Assert.Equal([TransportProtocolName.Tcp, TransportProtocolName.Udp], await Order(true, true, false, true));
        Assert.Equal([TransportProtocolName.Udp, TransportProtocolName.Tcp], await Order(true, true, true, true));
        Assert.Equal([TransportProtocolName.Tcp], await Order(false, true, false, false));
        await Assert.ThrowsAsync<ArgumentException>(() => Order(false, false, false, false));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Udp()], ListenIps = [new TransportListenIp { Ip = "127.0.0.1" }] }));

        // A fixed TCP port is the candidate's port.
        var port = t.IceCandidates[1].Port;
        await t.CloseAsync();
        var fixedPort = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Tcp(port)] });
        Assert.Equal(port, fixedPort.IceCandidates[0].Port);
        // The same TCP port twice cannot be bound.
        await Assert.ThrowsAsync<InvalidOperationException>(() => _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Tcp(port)] }));
    }

    [Fact]
    public async Task A_web_rtc_server_gives_preferred_protocols_1000_more_local_preference_and_skipped_sockets_still_count()
    {
        var server = await _worker.CreateWebRtcServerAsync(new WebRtcServerOptions { ListenInfos = [Udp(), Tcp()] });
        async Task<List<(TransportProtocolName, long)>> Candidates(WebRtcTransportOptions options)
        {
            var transport = await _router.CreateWebRtcTransportAsync(options with { WebRtcServer = server });
            Assert.All(transport.IceCandidates.Where(c => c.Protocol == TransportProtocolName.Tcp), c => Assert.Equal(IceTcpCandidateType.Passive, c.TcpType));
            return transport.IceCandidates.Select(c => (c.Protocol, c.Priority)).ToList();
        }
        // enableTcp defaults to true on a server.
        Assert.Equal([(TransportProtocolName.Udp, Priority(10000)), (TransportProtocolName.Tcp, Priority(9900))], await Candidates(new()));
        Assert.Equal([(TransportProtocolName.Udp, Priority(11000)), (TransportProtocolName.Tcp, Priority(9900))], await Candidates(new() { PreferUdp = true }));
        Assert.Equal([(TransportProtocolName.Udp, Priority(10000)), (TransportProtocolName.Tcp, Priority(10900))], await Candidates(new() { PreferTcp = true }));
        Assert.Equal([(TransportProtocolName.Tcp, Priority(9900))], await Candidates(new() { EnableUdp = false }));
        Assert.Equal([(TransportProtocolName.Udp, Priority(10000))], await Candidates(new() { EnableTcp = false }));
        await Assert.ThrowsAsync<ArgumentException>(() => Candidates(new() { EnableUdp = false, EnableTcp = false }));
    }

    [Fact]
    public async Task Audio_and_video_flow_both_ways_over_tcp_through_a_router_with_correct_headers()
    {
        var (aTransport, a) = await ConnectedAsync(_router, LoopbackUdpAndTcp, TransportProtocolName.Tcp);
        var (bTransport, b) = await ConnectedAsync(_router, LoopbackUdpAndTcp, TransportProtocolName.Tcp);
        using var aScope = a;
        using var bScope = b;

        // The selected tuple is the TCP connection: the passive candidate's port and the client's own port.
        foreach (var (transport, client) in new[] { (aTransport, a), (bTransport, b) })
        {
            var tuple = transport.IceSelectedTuple!;
            Assert.Equal(TransportProtocolName.Tcp, tuple.Protocol);
            Assert.Equal(transport.IceCandidates.Single(c => c.Protocol == TransportProtocolName.Tcp).Port, tuple.LocalPort);
            Assert.Equal("127.0.0.1", tuple.LocalAddress);
            Assert.Equal(client.LocalEndPoint.Port, tuple.RemotePort);
            Assert.Equal(IceStateName.Completed, transport.IceState);
        }

        // A sends video and audio to B; B sends audio to A.
        var video = await aTransport.ProduceAsync(Vp8Producer());
        var audio = await aTransport.ProduceAsync(OpusProducer());
        var back = await bTransport.ProduceAsync(OpusProducer(ssrc: 44444444, mid: "0"));
        var videoConsumer = await bTransport.ConsumeAsync(new ConsumerOptions { ProducerId = video.Id, RtpCapabilities = _router.RtpCapabilities });
        var audioConsumer = await bTransport.ConsumeAsync(new ConsumerOptions { ProducerId = audio.Id, RtpCapabilities = _router.RtpCapabilities });
        var backConsumer = await aTransport.ConsumeAsync(new ConsumerOptions { ProducerId = back.Id, RtpCapabilities = _router.RtpCapabilities });

        // The video consumer's creation asks A for a key frame: RTCP from the server over A's connection.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => a.ReceivedRtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        const int Count = 200;
        for (var i = 0; i < Count; i++)
        {
            a.SendRtp(Vp8Packet(11111111, (ushort)(65000 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
            a.SendRtp(OpusPacket(33333333, (ushort)(100 + i), (uint)(i * 960), number: 1000 + i, mid: "1"));
            b.SendRtp(OpusPacket(44444444, (ushort)(7 + i), (uint)(i * 960), number: 2000 + i, mid: "0"));
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => b.ReceivedRtp.Count >= 2 * Count && a.ReceivedRtp.Count >= Count, WaitTimeout),
            $"b got {b.ReceivedRtp.Count} of {2 * Count}, a got {a.ReceivedRtp.Count} of {Count}");

        AssertStream(b.ReceivedRtp, videoConsumer, Count, 0, 3000);
        AssertStream(b.ReceivedRtp, audioConsumer, Count, 1000, 960);
        AssertStream(a.ReceivedRtp, backConsumer, Count, 2000, 960);
        Assert.Equal(0, a.SrtpFailures);
        Assert.Equal(0, b.SrtpFailures);

        // B asks for a key frame over TCP; A hears it over TCP.
        var plisBefore = a.ReceivedRtcp.Count(r => ContainsPli(r, 11111111));
        var pli = new byte[12];
        PictureLossIndication.Write(pli, 1, videoConsumer.RtpParameters.Encodings![0].Ssrc!.Value);
        b.SendRtcp(pli);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => a.ReceivedRtcp.Count(r => ContainsPli(r, 11111111)) > plisBefore, WaitTimeout));

        // Stats and dump show the tuple as TCP and the frames counted.
        var stats = Assert.Single(await bTransport.GetStatsAsync());
        Assert.Equal(TransportProtocolName.Tcp, stats.IceSelectedTuple!.Protocol);
        Assert.NotNull(stats.Tcp);
        Assert.Equal(1, stats.Tcp.ConnectionsOpen);
        Assert.Equal(0, stats.Tcp.FramingErrors);
        Assert.Equal(0, stats.Tcp.SendDrops);
        Assert.True(stats.Tcp.FramesSent >= 2 * Count);
        Assert.True(stats.Tcp.FramesReceived >= Count);
        Assert.True(stats.BytesSent >= stats.Tcp.BytesSent && stats.Tcp.BytesSent > 0);
        var dump = await aTransport.DumpAsync();
        Assert.Equal(TransportProtocolName.Tcp, dump.IceSelectedTuple!.Protocol);
        Assert.Equal(IceStateName.Completed, dump.IceState);
        Assert.Equal(2, dump.IceCandidates!.Count);
        Assert.Equal("controlled", dump.IceRole);
        Assert.True(_worker.Traffic.PacketsReceived >= 3 * Count);
    }

    private static void AssertStream(IEnumerable<byte[]> received, Consumer consumer, int count, int firstNumber, uint tsStep)
    {
        var ssrc = consumer.RtpParameters.Encodings![0].Ssrc!.Value;
        var pt = consumer.RtpParameters.Codecs[0].PayloadType;
        var packets = received.Where(r => RtpPacket.TryParse(r, out var p) && p.Ssrc == ssrc).ToList();
        Assert.Equal(Enumerable.Range(firstNumber, count), packets.Select(NumberOf));
        RtpPacket.TryParse(packets[0], out var first);
        var midId = consumer.RtpParameters.HeaderExtensions!.Single(h => h.Uri == RtpHeaderExtensionUris.Mid).Id;
        for (var i = 0; i < packets.Count; i++)
        {
            Assert.True(RtpPacket.TryParse(packets[i], out var p));
            Assert.Equal(pt, p.PayloadType);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
            Assert.Equal((uint)(first.Timestamp + i * tsStep), p.Timestamp);
            Assert.True(p.TryGetExtension(midId, out var mid));
            Assert.Equal(consumer.RtpParameters.Mid, System.Text.Encoding.ASCII.GetString(mid));
        }
    }

    [Fact]
    public async Task A_closed_connection_takes_its_tuple_away_another_valid_tuple_is_selected_and_the_last_one_leaves_ice_disconnected()
    {
        var transport = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Tcp()] });
        using var first = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        using var second = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        var tuples = new List<TransportTupleInfo>();
        var states = new List<IceStateName>();
        transport.IceSelectedTupleChange += t => { lock (tuples) tuples.Add(t); };
        transport.IceStateChange += s => { lock (states) states.Add(s); };

        Assert.True(await first.IceOnlyAsync(transport.IceParameters, transport.IceCandidates, WaitTimeout));
        Assert.True(await second.IceOnlyAsync(transport.IceParameters, transport.IceCandidates, WaitTimeout));
        // The second check nominated its connection.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.IceSelectedTuple?.RemotePort == second.LocalEndPoint.Port, WaitTimeout));
        Assert.Equal(IceStateName.Completed, transport.IceState);

        // The peer closes the selected connection: the other valid tuple takes over, ICE stays completed.
        second.CloseTcp();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.IceSelectedTuple?.RemotePort == first.LocalEndPoint.Port, WaitTimeout));
        Assert.Equal(IceStateName.Completed, transport.IceState);
        Assert.Equal(TransportProtocolName.Tcp, transport.IceSelectedTuple!.Protocol);

        // The last one goes: ICE disconnected, no tuple, nothing left open.
        first.CloseTcp();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.IceState == IceStateName.Disconnected, WaitTimeout));
        Assert.Null(transport.IceSelectedTuple);
        Assert.Null(Assert.Single(await transport.GetStatsAsync()).IceSelectedTuple);
        Assert.Equal(0, transport.TcpStats.ConnectionsOpen);
        Assert.Equal(2, transport.TcpStats.ConnectionsClosed);
        lock (states) Assert.Equal([IceStateName.Completed, IceStateName.Disconnected], states);
        lock (tuples) Assert.Equal([first.LocalEndPoint.Port, second.LocalEndPoint.Port, first.LocalEndPoint.Port], tuples.Select(t => t.RemotePort!.Value));

        // A new connection brings ICE back.
        using var third = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        Assert.True(await third.IceOnlyAsync(transport.IceParameters, transport.IceCandidates, WaitTimeout));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.IceState == IceStateName.Completed, WaitTimeout));
        Assert.Equal(third.LocalEndPoint.Port, transport.IceSelectedTuple!.RemotePort);
    }

    /// <summary>What each kind of bad input does to the stream; the connection it arrives on must end and be counted.</summary>
    public static TheoryData<string> BadInputs => ["length 0", "length 1501", "truncated frame", "random bytes", "rtp before stun", "dtls before stun", "wrong password", "unknown ufrag", "stun indication", "silent"];

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_on_a_tcp_connection_closes_that_connection_is_counted_and_nothing_else_notices(string kind)
    {
        // A call over TCP on the same listener as the bad connection, and one over UDP on another transport.
        using var call = await TcpCallAsync();
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var (udpTransport, udpClient) = await ConnectedAsync(_router);
        using var udpScope = udpClient;
        await udpTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var number = 0;
        async Task MediaStillFlows()
        {
            var before = receiver.ReceivedRtp.Count;
            var udpBefore = udpClient.ReceivedRtp.Count;
            for (var i = 0; i < 20; i++, number++)
                sender.SendRtp(Vp8Packet(11111111, (ushort)(1000 + number), (uint)(number * 3000), keyFrame: number == 0, number: number, mid: "0"));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= before + 20 && udpClient.ReceivedRtp.Count >= udpBefore + 20, WaitTimeout));
        }
        await MediaStillFlows();

        using var bad = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        bad.OpenPath(sendTransport.IceCandidates);
        var random = new Random(kind.GetHashCode());
        switch (kind)
        {
            case "length 0": bad.SendRaw([0, 0]); break;
            case "length 1501": bad.SendRaw([0x05, 0xDD, 0x80, 0x60]); break;
            case "truncated frame":
                bad.SendRaw([0x00, 0x64, 0x00, 0x01]);
                bad.CloseTcp();
                break;
            case "random bytes":
                var junk = new byte[4000];
                random.NextBytes(junk);
                bad.SendRaw(junk);
                break;
            case "rtp before stun": bad.SendUnprotected(Vp8Packet(11111111, 1, 1, keyFrame: true, number: 0)); break;
            case "dtls before stun": bad.SendUnprotected([22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]); break;
            case "wrong password":
                Assert.False(await bad.IceOnlyAsync(sendTransport.IceParameters with { Password = new string('x', 32) }, sendTransport.IceCandidates, WaitTimeout));
                Assert.Equal(1, bad.StunErrorResponses); // told why (401) before the close
                break;
            case "unknown ufrag":
                Assert.False(await bad.IceOnlyAsync(recvTransport.IceParameters, sendTransport.IceCandidates, WaitTimeout));
                break;
            case "stun indication":
                var indication = new byte[64];
                var w = new StunWriter(indication, StunConstants.BindingMethod, StunClass.Indication, new byte[12]);
                bad.SendUnprotected(indication.AsSpan(0, w.AddFingerprint()));
                break;
            case "silent": break; // nothing at all: closed after the pending timeout
        }
        // (A client that closed first sees its own close at once: the server's side is judged by its counters.)
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bad.TcpClosedByPeer && sendTransport.TcpStats.ConnectionsClosed == 1, WaitTimeout),
            "the server kept the bad connection open");

        var tcp = sendTransport.TcpStats;
        Assert.Equal(2, tcp.ConnectionsAccepted);
        Assert.Equal(1, tcp.ConnectionsOpen);
        var expectFraming = kind is "length 0" or "length 1501" or "truncated frame";
        if (expectFraming) Assert.Equal(1, tcp.FramingErrors);
        else if (kind != "random bytes") Assert.Equal(1, tcp.UnauthenticatedClosed);
        else Assert.Equal(1, tcp.FramingErrors + tcp.UnauthenticatedClosed);
        if (kind == "silent") Assert.Equal(1, tcp.PendingTimeouts);

        // The call on that listener and the other transport did not notice.
        await MediaStillFlows();
        Assert.Equal(IceStateName.Completed, sendTransport.IceState);
        Assert.Equal(sender.LocalEndPoint.Port, sendTransport.IceSelectedTuple!.RemotePort);
        Assert.Equal(DtlsStateName.Connected, sendTransport.DtlsState);
        Assert.False(_worker.HasDied);
    }

    private async Task<Call> TcpCallAsync()
    {
        var (sendTransport, sender) = await ConnectedAsync(_router, new WebRtcTransportOptions { ListenInfos = [Tcp()] }, TransportProtocolName.Tcp);
        var (recvTransport, receiver) = await ConnectedAsync(_router, new WebRtcTransportOptions { ListenInfos = [Tcp()] }, TransportProtocolName.Tcp);
        return new Call(sendTransport, sender, recvTransport, receiver);
    }

    [Fact]
    public async Task Closing_a_transport_closes_its_listener_and_connections_and_leaves_no_fd()
    {
        var baseline = await _worker.Loop.InvokeAsync(() => _worker.Loop.RegisteredCount);
        var (transport, client) = await ConnectedAsync(_router, LoopbackUdpAndTcp, TransportProtocolName.Tcp);
        using var clientScope = client;
        using var pending = new WebRtcTestClient(protocol: TransportProtocolName.Tcp);
        pending.OpenPath(transport.IceCandidates);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.TcpStats.ConnectionsOpen == 2, WaitTimeout));
        // UDP socket, TCP listener, two connections.
        Assert.Equal(baseline + 4, await _worker.Loop.InvokeAsync(() => _worker.Loop.RegisteredCount));
        var closedBefore = _worker.Loop.Counters.TcpConnectionsClosed;

        await transport.CloseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => client.TcpClosedByPeer && pending.TcpClosedByPeer, WaitTimeout));
        Assert.Equal(baseline, await _worker.Loop.InvokeAsync(() => _worker.Loop.RegisteredCount));
        Assert.Equal(closedBefore + 2, _worker.Loop.Counters.TcpConnectionsClosed);
        Assert.Equal(0, (await _worker.GetObjectCountsAsync()).Transports);
        // The port is free again.
        var port = transport.IceCandidates.Single(c => c.Protocol == TransportProtocolName.Tcp).Port;
        var again = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [Tcp(port)] });
        Assert.Equal(port, again.IceCandidates[0].Port);
    }
}
