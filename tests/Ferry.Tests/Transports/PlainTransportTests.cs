using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// mediasoup's test-PlainTransport facts, and media through PlainTransports against System.Net
/// UDP peers on 127.0.0.1 (plain and SDES-keyed SRTP, fixed remote and comedia).
/// </summary>
public sealed class PlainTransportTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    private static PlainTransportOptions Local(bool comedia = false, bool rtcpMux = true, bool srtp = false, string suite = "AES_CM_128_HMAC_SHA1_80") => new()
    {
        ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" },
        Comedia = comedia,
        RtcpMux = rtcpMux,
        EnableSrtp = srtp,
        SrtpCryptoSuite = suite,
    };

    [Fact]
    public async Task Creation_reports_tuple_defaults_and_the_new_transport()
    {
        Transport? announced = null;
        _router.ObserverNewTransport += t => announced = t;
        var appData = new object();
        var transport = await _router.CreatePlainTransportAsync(new PlainTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", AnnouncedAddress = "9.9.9.1", PortRange = new TransportPortRange(20000, 30000) },
            AppData = appData,
        });
        Assert.Same(transport, announced);
        Assert.Same(appData, transport.AppData);
        Assert.Equal("9.9.9.1", transport.Tuple.LocalAddress);
        Assert.Equal("9.9.9.1", transport.Tuple.LocalIp);
        Assert.InRange(transport.Tuple.LocalPort, 20000, 30000);
        Assert.Equal(TransportProtocolName.Udp, transport.Tuple.Protocol);
        Assert.Null(transport.Tuple.RemoteIp);
        Assert.Null(transport.Tuple.RemotePort);
        Assert.Null(transport.RtcpTuple);
        Assert.True(transport.RtcpMux);
        Assert.False(transport.Comedia);
        Assert.Null(transport.SrtpParameters);
        Assert.Null(transport.SctpParameters);
        var dump = await _router.DumpAsync();
        Assert.Equal([transport.Id], dump.TransportIds);
    }

    [Fact]
    public async Task An_rtcp_listen_info_turns_rtcp_mux_off_and_fixed_ports_are_honoured()
    {
        var ports = UdpRtpPeer.FreePorts(2);
        var transport = await _router.CreatePlainTransportAsync(new PlainTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", Port = ports[0] },
            RtcpListenInfo = new TransportListenInfo { Ip = "127.0.0.1", Port = ports[1] },
        });
        Assert.False(transport.RtcpMux);
        Assert.Equal(ports[0], transport.Tuple.LocalPort);
        Assert.Equal(ports[1], transport.RtcpTuple!.LocalPort);

        // rtcp-mux off without an RTCP listen info: a second port on the same IP.
        var second = await _router.CreatePlainTransportAsync(Local(rtcpMux: false));
        Assert.NotNull(second.RtcpTuple);
        Assert.Equal("127.0.0.1", second.RtcpTuple!.LocalAddress);
        Assert.NotEqual(second.Tuple.LocalPort, second.RtcpTuple.LocalPort);
    }

    [Fact]
    public async Task Wrong_options_are_rejected_with_ArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = null! }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreatePlainTransportAsync(new PlainTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreatePlainTransportAsync(new PlainTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", PortRange = new TransportPortRange(3000, 2000) },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "123" } }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreatePlainTransportAsync(Local(srtp: true, suite: "FOO")));
        Assert.Empty(_router.Transports);
    }

    [Fact]
    public async Task An_address_that_cannot_be_bound_fails()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "8.8.8.8" } }));
        Assert.Empty(_router.Transports);
    }

    [Fact]
    public async Task Srtp_gives_local_keys_and_connect_validates_the_remote_ones()
    {
        var transport = await _router.CreatePlainTransportAsync(Local(srtp: true));
        Assert.Equal("AES_CM_128_HMAC_SHA1_80", transport.SrtpParameters!.CryptoSuite);
        Assert.Equal(40, transport.SrtpParameters.KeyBase64.Length);
        Assert.Equal(30, Convert.FromBase64String(transport.SrtpParameters.KeyBase64).Length);

        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999,
            srtpParameters: new SrtpParameters { CryptoSuite = "FOO", KeyBase64 = transport.SrtpParameters.KeyBase64 }));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999,
            srtpParameters: new SrtpParameters { CryptoSuite = "", KeyBase64 = transport.SrtpParameters.KeyBase64 }));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999,
            srtpParameters: new SrtpParameters { CryptoSuite = "AES_CM_128_HMAC_SHA1_80", KeyBase64 = "" }));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999,
            srtpParameters: new SrtpParameters { CryptoSuite = "AES_CM_128_HMAC_SHA1_80", KeyBase64 = "not base64!" }));
        // A 60-character (44-byte) key is the AES_256_GCM size, not AES_CM's.
        var gcmKey = Convert.ToBase64String(new byte[44]);
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConnectAsync("127.0.0.1", 9999,
            srtpParameters: new SrtpParameters { CryptoSuite = "AES_CM_128_HMAC_SHA1_80", KeyBase64 = gcmKey }));

        // Another suite from the remote replaces the local one, with new keys of its size.
        var before = transport.SrtpParameters.KeyBase64;
        await transport.ConnectAsync("127.0.0.1", 9999, srtpParameters: new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = gcmKey });
        Assert.Equal("AEAD_AES_256_GCM", transport.SrtpParameters!.CryptoSuite);
        Assert.Equal(60, transport.SrtpParameters.KeyBase64.Length);
        Assert.NotEqual(before, transport.SrtpParameters.KeyBase64);
        Assert.Equal(9999, transport.Tuple.RemotePort);
    }

    [Fact]
    public async Task Stats_have_the_plain_fields()
    {
        var transport = await _router.CreatePlainTransportAsync(Local());
        var stats = Assert.Single(await transport.GetStatsAsync());
        Assert.Equal("plain-rtp-transport", stats.Type);
        Assert.Equal(transport.Id, stats.TransportId);
        Assert.Equal(0, stats.BytesReceived);
        Assert.Equal(0, stats.BytesSent);
        Assert.True(stats.RtcpMux);
        Assert.False(stats.Comedia);
        Assert.Equal("127.0.0.1", stats.Tuple!.LocalAddress);
        Assert.Equal(TransportProtocolName.Udp, stats.Tuple.Protocol);
        Assert.Null(stats.RtcpTuple);
    }

    [Fact]
    public async Task Connect_sets_both_remote_tuples_and_only_once()
    {
        var transport = await _router.CreatePlainTransportAsync(Local(rtcpMux: false));
        await transport.ConnectAsync("1.2.3.4", 1234, 1235);
        Assert.Equal("1.2.3.4", transport.Tuple.RemoteIp);
        Assert.Equal(1234, transport.Tuple.RemotePort);
        Assert.Equal("1.2.3.4", transport.RtcpTuple!.RemoteIp);
        Assert.Equal(1235, transport.RtcpTuple.RemotePort);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => transport.ConnectAsync("1.2.3.4", 1234, 1235));
        Assert.Contains("already called", e.Message);
    }

    [Fact]
    public async Task Connect_arguments_follow_mediasoups_rules()
    {
        var mux = await _router.CreatePlainTransportAsync(Local());
        var noMux = await _router.CreatePlainTransportAsync(Local(rtcpMux: false));
        var key = new SrtpParameters { CryptoSuite = "AES_CM_128_HMAC_SHA1_80", KeyBase64 = Convert.ToBase64String(new byte[30]) };
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync("127.0.0.1", 1234, srtpParameters: key));
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync("::::1234", 1234));
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync("127.0.0.1", null));
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync("127.0.0.1", 70000));
        await Assert.ThrowsAsync<ArgumentException>(() => mux.ConnectAsync("127.0.0.1", 1234, 1235));
        await Assert.ThrowsAsync<ArgumentException>(() => noMux.ConnectAsync("127.0.0.1", 1234));
        // None of those counted as the one connect().
        await mux.ConnectAsync("127.0.0.1", 1234);
        await noMux.ConnectAsync("127.0.0.1", 1234, 1235);
    }

    [Fact]
    public async Task Closing_emits_close_and_later_calls_are_rejected()
    {
        var transport = await _router.CreatePlainTransportAsync(Local());
        var closed = new TaskCompletionSource();
        transport.ObserverClose += () => closed.TrySetResult();
        await transport.CloseAsync();
        await closed.Task.WaitAsync(WaitTimeout);
        Assert.True(transport.Closed);
        Assert.Empty(_router.Transports);
        await Assert.ThrowsAsync<InvalidStateException>(() => transport.GetStatsAsync());
        await Assert.ThrowsAsync<InvalidStateException>(() => transport.ConnectAsync("127.0.0.1", 1234));

        var other = await _router.CreatePlainTransportAsync(Local());
        var routerClosed = new TaskCompletionSource();
        other.RouterClose += () => routerClosed.TrySetResult();
        await _router.CloseAsync();
        await routerClosed.Task.WaitAsync(WaitTimeout);
        Assert.True(other.Closed);
    }

    [Fact]
    public async Task Worker_close_closes_the_transport_with_routerclose()
    {
        var transport = await _router.CreatePlainTransportAsync(Local());
        var routerClosed = new TaskCompletionSource();
        transport.RouterClose += () => routerClosed.TrySetResult();
        await _worker.CloseAsync();
        await routerClosed.Task.WaitAsync(WaitTimeout);
        Assert.True(transport.Closed);
    }

    [Fact]
    public async Task Comedia_learns_the_tuple_from_the_first_packet_and_media_reaches_a_consumer_on_another_plain_transport()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        using var intruder = new UdpRtpPeer();
        var inbound = await _router.CreatePlainTransportAsync(Local(comedia: true));
        var outbound = await _router.CreatePlainTransportAsync(Local());
        await outbound.ConnectAsync("127.0.0.1", receiver.LocalEndPoint.Port);
        var learnt = new TaskCompletionSource<TransportTupleInfo>();
        inbound.TupleChange += t => learnt.TrySetResult(t);

        var producer = await inbound.ProduceAsync(Vp8Producer());
        Assert.Equal("client-a", producer.RtpParameters.Rtcp!.Cname);
        var consumer = await outbound.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var consumerSsrc = consumer.RtpParameters.Encodings![0].Ssrc!.Value;

        for (var i = 0; i < 30; i++)
            sender.SendRtp(Vp8Packet(11111111, (ushort)(65530 + i), (uint)(1000 + i * 3000), keyFrame: i == 0, number: i, mid: "0"), inbound.Tuple.LocalPort);
        var tuple = await learnt.Task.WaitAsync(WaitTimeout);
        Assert.Equal("127.0.0.1", tuple.RemoteIp);
        Assert.Equal(sender.LocalEndPoint.Port, tuple.RemotePort);
        Assert.Equal(sender.LocalEndPoint.Port, inbound.Tuple.RemotePort);

        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 30, WaitTimeout));
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, 30), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        for (var i = 0; i < received.Length; i++)
        {
            Assert.True(RtpPacket.TryParse(received[i], out var p));
            Assert.Equal(consumerSsrc, p.Ssrc);
            Assert.Equal(consumer.RtpParameters.Codecs[0].PayloadType, p.PayloadType);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
            Assert.Equal(first.Timestamp + (uint)(i * 3000), p.Timestamp);
        }
        Assert.All(receiver.Sources, s => Assert.Equal(outbound.Tuple.LocalPort, s.Port));

        // Once learnt, the transport answers the learnt address: a key frame request reaches the sender.
        await consumer.RequestKeyFrameAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        // Another source is not the remote: dropped, the producer sees nothing of it.
        var before = (await producer.GetStatsAsync()).Single().PacketCount;
        intruder.SendRtp(Vp8Packet(11111111, 100, 1, keyFrame: true, number: 99, mid: "0"), inbound.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => inbound.UnknownTupleDrops >= 1, WaitTimeout));
        Assert.Equal(before, (await producer.GetStatsAsync()).Single().PacketCount);
        Assert.Equal(sender.LocalEndPoint.Port, inbound.Tuple.RemotePort);
    }

    [Fact]
    public async Task Comedia_without_rtcp_mux_learns_the_rtcp_tuple_from_the_first_rtcp_packet()
    {
        using var peer = new UdpRtpPeer();
        var transport = await _router.CreatePlainTransportAsync(Local(comedia: true, rtcpMux: false));
        var learnt = new TaskCompletionSource<TransportTupleInfo>();
        transport.RtcpTupleChange += t => learnt.TrySetResult(t);
        var rr = new byte[64];
        var n = ReceiverReport.Write(rr, 555, []);
        peer.SendRtcp(rr[..n], transport.RtcpTuple!.LocalPort);
        var tuple = await learnt.Task.WaitAsync(WaitTimeout);
        Assert.Equal(peer.LocalEndPoint.Port, tuple.RemotePort);
        Assert.Equal(peer.LocalEndPoint.Port, transport.RtcpTuple!.RemotePort);
        // The RTP tuple is still unknown.
        Assert.Null(transport.Tuple.RemotePort);
    }

    [Fact]
    public async Task A_plain_transport_before_connect_drops_everything()
    {
        using var peer = new UdpRtpPeer();
        var transport = await _router.CreatePlainTransportAsync(Local());
        var producer = await transport.ProduceAsync(Vp8Producer());
        peer.SendRtp(Vp8Packet(11111111, 1, 1, keyFrame: true, number: 1, mid: "0"), transport.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.UnknownTupleDrops >= 1, WaitTimeout));
        Assert.Empty(await producer.GetStatsAsync());
    }

    [Theory]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80)]
    [InlineData(SrtpProfile.AeadAes256Gcm)]
    public async Task Srtp_media_flows_between_two_sdes_keyed_peers(SrtpProfile receiverSuite)
    {
        using var sender = new UdpRtpPeer(SrtpProfile.AesCm128HmacSha1_80);
        using var receiver = new UdpRtpPeer(receiverSuite);
        var inbound = await _router.CreatePlainTransportAsync(Local(srtp: true));
        var outbound = await _router.CreatePlainTransportAsync(Local(srtp: true));
        await inbound.ConnectAsync("127.0.0.1", sender.LocalEndPoint.Port, srtpParameters: sender.SrtpParameters);
        sender.SetRemoteKey(inbound.SrtpParameters!);
        await outbound.ConnectAsync("127.0.0.1", receiver.LocalEndPoint.Port, srtpParameters: receiver.SrtpParameters);
        // The receiver's suite became the transport's: its key (new if the suite changed) decrypts what it sends.
        Assert.Equal(receiverSuite.ToMediasoupName(), outbound.SrtpParameters!.CryptoSuite);
        receiver.SetRemoteKey(outbound.SrtpParameters);

        var producer = await inbound.ProduceAsync(Vp8Producer());
        var consumer = await outbound.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        // The key frame request of the new consumer reaches the sender as SRTCP it can decrypt.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        for (var i = 0; i < 20; i++)
            sender.SendRtp(Vp8Packet(11111111, (ushort)(300 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"), inbound.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 20, WaitTimeout));
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, 20), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal(consumer.RtpParameters.Encodings![0].Ssrc, p.Ssrc);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
        }
        Assert.Equal(0, receiver.SrtpFailures);
        Assert.Equal(0, sender.SrtpFailures);

        // A packet in clear (or under another key) fails authentication and is counted, not forwarded.
        using var forger = new UdpRtpPeer();
        sender.SendRaw(Vp8Packet(11111111, 400, 1, keyFrame: true, number: 77, mid: "0").Concat(new byte[10]).ToArray(), inbound.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => inbound.SrtpFailures >= 1, WaitTimeout));
        await Task.Delay(100);
        Assert.Equal(20, receiver.ReceivedRtp.Count);
    }

    private static bool ContainsPli(byte[] rtcp, uint mediaSsrc)
    {
        var e = new RtcpCompoundEnumerator(rtcp);
        while (e.MoveNext())
        {
            if (e.Current.Type == RtcpPacketType.PayloadFeedback && e.Current.Count == 1 && PictureLossIndication.TryParse(e.Current, out _, out var ssrc) && ssrc == mediaSsrc) return true;
        }
        return false;
    }
}
