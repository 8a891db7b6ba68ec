using System.Collections.Concurrent;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// mediasoup's test-PipeTransport facts (router1 on worker1, router2 on worker2), and media piped
/// between them over UDP on 127.0.0.1, with and without SRTP (pipeToRouter with OverUdp; the in-memory
/// pipe has its own tests in InMemoryPipeTests).
/// </summary>
public sealed class PipeTransportTests : IAsyncLifetime
{
    private Worker _worker1 = null!;
    private Worker _worker2 = null!;
    private Router _router1 = null!;
    private Router _router2 = null!;
    private DirectTransport _source = null!;

    public async Task InitializeAsync()
    {
        _worker1 = await Worker.CreateAsync();
        _worker2 = await Worker.CreateAsync();
        _router1 = await _worker1.CreateRouterAsync(DefaultRouterOptions);
        _router2 = await _worker2.CreateRouterAsync(DefaultRouterOptions);
        _source = await _router1.CreateDirectTransportAsync();
    }

    public async Task DisposeAsync()
    {
        await _worker1.CloseAsync();
        await _worker2.CloseAsync();
    }

    private static ProducerOptions SimulcastVp8(bool paused = false) => Vp8Producer() with
    {
        Paused = paused,
        RtpParameters = Vp8Producer().RtpParameters with
        {
            Mid = "2",
            Codecs = [Vp8Producer().RtpParameters.Codecs[0]],
            Encodings =
            [
                new RtpEncodingParameters { Ssrc = 2222 },
                new RtpEncodingParameters { Ssrc = 2223 },
                new RtpEncodingParameters { Ssrc = 2224 },
            ],
        },
    };

    /// <summary>pipeToRouter over a PipeTransport pair (mediasoup's way), whose result has a pipe consumer.</summary>
    private static async Task<(Consumer PipeConsumer, Producer PipeProducer)> UdpPipeAsync(Router from, PipeToRouterOptions options)
    {
        var result = await from.PipeToRouterAsync(options with { OverUdp = true });
        return (Assert.IsType<Consumer>(result.PipeConsumer), result.PipeProducer);
    }

    [Fact]
    public async Task PipeToRouter_creates_a_pipe_pair_once_and_keeps_the_producer_id_and_cname()
    {
        var audio = await _source.ProduceAsync(OpusProducer());
        var appData = new object();
        audio.AppData = appData;
        var (pipeConsumer, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = audio.Id, Router = _router2 });
        Assert.Equal(2, _router1.Transports.Count);
        Assert.IsType<PipeTransport>(Assert.Single(_router2.Transports));
        Assert.IsType<PipeTransport>(pipeConsumer.Transport);

        Assert.Equal(ConsumerType.Pipe, pipeConsumer.Type);
        Assert.Null(pipeConsumer.RtpParameters.Mid);
        var codec = Assert.Single(pipeConsumer.RtpParameters.Codecs);
        Assert.Equal("audio/opus", codec.MimeType);
        Assert.Equal(100, codec.PayloadType);
        Assert.Empty(codec.RtcpFeedback!);
        Assert.DoesNotContain(pipeConsumer.RtpParameters.HeaderExtensions!, h => h.Uri is RtpHeaderExtensionUris.Mid or RtpHeaderExtensionUris.AbsSendTime or RtpHeaderExtensionUris.TransportWideCc01);
        Assert.False(pipeConsumer.Paused);
        Assert.False(pipeConsumer.ProducerPaused);

        Assert.Equal(audio.Id, pipeProducer.Id);
        Assert.Same(appData, pipeProducer.AppData);
        Assert.Equal(MediaKind.Audio, pipeProducer.Kind);
        Assert.False(pipeProducer.Paused);
        Assert.Same(_router2, pipeProducer.Transport.Router);
        // A pipe transport keeps the original CNAME rather than imposing its own.
        Assert.Equal("client-a", pipeProducer.RtpParameters.Rtcp!.Cname);
        Assert.True(_router2.CanConsume(audio.Id, _router2.RtpCapabilities));

        // A second producer (paused, simulcast) goes through the same pair.
        var video = await _source.ProduceAsync(SimulcastVp8(paused: true));
        var (videoConsumer, videoProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = video.Id, Router = _router2 });
        Assert.Equal(2, _router1.Transports.Count);
        Assert.Single(_router2.Transports);
        Assert.Same(pipeConsumer.Transport, videoConsumer.Transport);
        var vp8 = Assert.Single(videoConsumer.RtpParameters.Codecs);
        Assert.Equal(101, vp8.PayloadType);
        Assert.Equal([("nack", "pli"), ("ccm", "fir")], vp8.RtcpFeedback!.Select(f => (f.Type, f.Parameter)));
        Assert.True(videoConsumer.ProducerPaused);
        Assert.True(videoProducer.Paused);
        var ssrcs = videoConsumer.RtpParameters.Encodings!.Select(e => e.Ssrc!.Value).ToList();
        Assert.Equal(3, ssrcs.Count);
        Assert.Equal([ssrcs[0], ssrcs[0] + 1, ssrcs[0] + 2], ssrcs);
        Assert.All(videoConsumer.RtpParameters.Encodings!, e => Assert.Null(e.Rtx));
        Assert.Equal(ProducerType.Simulcast, videoProducer.Type);

        // Consumed in router2 like the original.
        var sink = await _router2.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = video.Id, RtpCapabilities = _router2.RtpCapabilities });
        Assert.Equal(ConsumerType.Simulcast, consumer.Type);
        Assert.True(consumer.ProducerPaused);
        Assert.Equal("0", consumer.RtpParameters.Mid);
        Assert.Equal(3, consumer.Score.ProducerScores.Count);
    }

    [Fact]
    public async Task Wrong_arguments_are_rejected()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = null! }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.CreatePipeTransportAsync(new PipeTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.CreatePipeTransportAsync(new PipeTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", PortRange = new TransportPortRange(3000, 2000) },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "123" } }));

        var audio = await _source.ProduceAsync(OpusProducer());
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = audio.Id, Router = _router1 }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = audio.Id, Router = null! }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router1.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = "nope", Router = _router2 }));
        Assert.Single(_router1.Transports);
        Assert.Empty(_router2.Transports);
    }

    [Fact]
    public async Task Enable_rtx_offers_rtx_and_plain_nack_on_the_pipe()
    {
        var video = await _source.ProduceAsync(Vp8Producer());
        var pipe = await _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableRtx = true });
        var consumer = await pipe.ConsumeAsync(new PipeConsumerOptions { ProducerId = video.Id });
        Assert.Equal(ConsumerType.Pipe, consumer.Type);
        Assert.Equal(2, consumer.RtpParameters.Codecs.Count);
        var vp8 = consumer.RtpParameters.Codecs[0];
        Assert.Equal([("nack", (string?)null), ("nack", "pli"), ("ccm", "fir")], vp8.RtcpFeedback!.Select(f => (f.Type, string.IsNullOrEmpty(f.Parameter) ? null : f.Parameter)));
        var rtx = consumer.RtpParameters.Codecs[1];
        Assert.Equal("video/rtx", rtx.MimeType);
        Assert.Equal(102, rtx.PayloadType);
        Assert.True(rtx.Parameters!["apt"].TryGetInt(out var apt));
        Assert.Equal(101, apt);
        Assert.NotNull(consumer.RtpParameters.Encodings![0].Rtx);
    }

    [Fact]
    public async Task Srtp_keys_and_connect_rules()
    {
        var pipe = await _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableSrtp = true });
        Assert.Equal("AEAD_AES_256_GCM", pipe.SrtpParameters!.CryptoSuite);
        Assert.Equal(60, pipe.SrtpParameters.KeyBase64.Length);
        await Assert.ThrowsAsync<ArgumentException>(() => pipe.ConnectAsync("127.0.0.1", 9999));
        await Assert.ThrowsAsync<ArgumentException>(() => pipe.ConnectAsync("127.0.0.1", 9999,
            new SrtpParameters { CryptoSuite = "AES_CM_128_HMAC_SHA1_80", KeyBase64 = Convert.ToBase64String(new byte[30]) }));
        await Assert.ThrowsAsync<ArgumentException>(() => pipe.ConnectAsync("127.0.0.1", 9999,
            new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = Convert.ToBase64String(new byte[30]) }));
        await Assert.ThrowsAsync<ArgumentException>(() => pipe.ConnectAsync("127.0.0.1", 0,
            new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = Convert.ToBase64String(new byte[44]) }));
        await pipe.ConnectAsync("127.0.0.1", 9999, new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = Convert.ToBase64String(new byte[44]) });
        Assert.Equal("127.0.0.1", pipe.Tuple.RemoteIp);
        Assert.Equal(9999, pipe.Tuple.RemotePort);
        await Assert.ThrowsAsync<InvalidOperationException>(() => pipe.ConnectAsync("127.0.0.1", 9999,
            new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = Convert.ToBase64String(new byte[44]) }));

        var plain = await _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" } });
        Assert.Null(plain.SrtpParameters);
        // SRTP parameters on a transport without SRTP are refused, valid or not.
        await Assert.ThrowsAsync<ArgumentException>(() => plain.ConnectAsync("127.0.0.1", 9999, pipe.SrtpParameters));
        await Assert.ThrowsAsync<ArgumentException>(() => plain.ConnectAsync("1.2.3", 9999));
        var stats = Assert.Single(await plain.GetStatsAsync());
        Assert.Equal("pipe-transport", stats.Type);
        Assert.Equal(plain.Tuple.LocalPort, stats.Tuple!.LocalPort);
    }

    [Fact]
    public async Task A_fixed_port_is_honoured()
    {
        var port = UdpRtpPeer.FreePorts(1)[0];
        var pipe = await _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1", Port = port } });
        Assert.Equal(port, pipe.Tuple.LocalPort);
    }

    [Fact]
    public async Task Pause_and_resume_of_the_original_reach_consumers_in_the_other_router()
    {
        var producer = await _source.ProduceAsync(Vp8Producer());
        var (_, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = producer.Id, Router = _router2 });
        var sink = await _router2.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router2.RtpCapabilities });
        var events = new ConcurrentQueue<string>();
        consumer.ProducerPause += () => events.Enqueue("producerpause");
        consumer.ProducerResume += () => events.Enqueue("producerresume");
        pipeProducer.ObserverPause += () => events.Enqueue("pipepause");
        pipeProducer.ObserverResume += () => events.Enqueue("piperesume");

        await producer.PauseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => consumer.ProducerPaused, WaitTimeout));
        Assert.True(pipeProducer.Paused);
        await producer.ResumeAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !consumer.ProducerPaused, WaitTimeout));
        Assert.False(pipeProducer.Paused);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => events.Count == 4, WaitTimeout));
        // On router2's loop the piped producer tells its consumers first, then its observers.
        Assert.Equal(["producerpause", "pipepause", "producerresume", "piperesume"], events.ToArray());
    }

    [Fact]
    public async Task Closing_the_original_closes_the_consumers_in_the_other_router_and_closing_the_piped_producer_closes_the_pipe_consumer()
    {
        var producer = await _source.ProduceAsync(Vp8Producer());
        var (pipeConsumer, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = producer.Id, Router = _router2 });
        var sink = await _router2.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router2.RtpCapabilities });
        var closed = new TaskCompletionSource();
        consumer.ProducerClose += () => closed.TrySetResult();
        await producer.CloseAsync();
        await closed.Task.WaitAsync(WaitTimeout);
        Assert.True(pipeConsumer.Closed);
        Assert.True(pipeProducer.Closed);
        Assert.False(_router2.CanConsume(producer.Id, _router2.RtpCapabilities));

        var second = await _source.ProduceAsync(OpusProducer());
        var (secondConsumer, secondPipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = second.Id, Router = _router2 });
        await secondPipeProducer.CloseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => secondConsumer.Closed, WaitTimeout));
        Assert.False(second.Closed);
        // The pair stays for the next producers.
        Assert.Single(_router2.Transports.OfType<PipeTransport>());
        Assert.False(((PipeTransport)secondConsumer.Transport).Closed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Media_injected_in_router1_reaches_a_consumer_in_router2_continuous_across_a_pause(bool enableSrtp)
    {
        var rtcp = new ConcurrentQueue<byte[]>();
        _source.Rtcp += rtcp.Enqueue;
        var producer = await _source.ProduceAsync(Vp8Producer());
        var (pipeConsumer, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = producer.Id, Router = _router2, EnableSrtp = enableSrtp });
        var pipeSsrc = pipeConsumer.RtpParameters.Encodings![0].Ssrc!.Value;
        Assert.Equal(pipeSsrc, pipeProducer.RtpParameters.Encodings![0].Ssrc);
        var sink = await _router2.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router2.RtpCapabilities });
        var consumerSsrc = consumer.RtpParameters.Encodings![0].Ssrc!.Value;
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;

        // The new consumer's key frame request travels back through the pipe to the original's endpoint.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => rtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        ushort seq = 60000;
        var number = 0;
        void Send(int count, bool keyFirst)
        {
            for (var i = 0; i < count; i++, seq++, number++)
                producer.Send(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: keyFirst && i == 0, number: number, mid: "0"));
        }
        Send(30, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 30, WaitTimeout));

        await producer.PauseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => consumer.ProducerPaused, WaitTimeout));
        Send(10, keyFirst: false);
        await producer.ResumeAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !consumer.ProducerPaused, WaitTimeout));
        Send(20, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 50, WaitTimeout));
        await Task.Delay(100);

        var packets = received.ToArray();
        Assert.Equal(50, packets.Length);
        Assert.Equal(Enumerable.Range(0, 30).Concat(Enumerable.Range(40, 20)), packets.Select(NumberOf));
        RtpPacket.TryParse(packets[0], out var first);
        for (var i = 0; i < packets.Length; i++)
        {
            Assert.True(RtpPacket.TryParse(packets[i], out var p));
            Assert.Equal(consumerSsrc, p.Ssrc);
            Assert.Equal(consumer.RtpParameters.Codecs[0].PayloadType, p.PayloadType);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
        }
        // Within each run the original timestamps' spacing survives the pipe.
        RtpPacket.TryParse(packets[29], out var lastOfFirstRun);
        Assert.Equal(first.Timestamp + 29u * 3000u, lastOfFirstRun.Timestamp);

        var pipeStats = await pipeConsumer.GetStatsAsync();
        Assert.Equal(50, pipeStats[0].PacketCount);
        Assert.Equal(pipeSsrc, pipeStats[0].Ssrc);
        var piped = Assert.Single(await pipeProducer.GetStatsAsync());
        Assert.Equal(50, piped.PacketCount);
        var pipeTransport = (PipeTransport)pipeConsumer.Transport;
        Assert.Equal(0, pipeTransport.SrtpFailures);
        Assert.Equal(0, ((PipeTransport)pipeProducer.Transport).SrtpFailures);
    }

    [Fact]
    public async Task Each_simulcast_stream_crosses_the_pipe_under_its_own_ssrc()
    {
        var producer = await _source.ProduceAsync(SimulcastVp8());
        var (pipeConsumer, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = producer.Id, Router = _router2 });
        var sink = await _router2.CreateDirectTransportAsync();
        // Prefer the middle stream: only it is forwarded in router2.
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router2.RtpCapabilities, PreferredLayers = new ConsumerLayers(1) });
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;
        for (var i = 0; i < 10; i++)
        {
            foreach (var (ssrc, offset) in new[] { (2222u, 0), (2223u, 1000), (2224u, 2000) })
                producer.Send(Vp8Packet(ssrc, (ushort)(100 + i), (uint)(i * 3000), keyFrame: i == 0, number: offset + i, mid: "2"));
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => pipeProducer.Score.Count == 3 && pipeProducer.Score.All(s => s.Score > 0) && received.Count >= 10, WaitTimeout));
        var stats = await pipeProducer.GetStatsAsync();
        Assert.Equal(3, stats.Count);
        Assert.Equal(pipeConsumer.RtpParameters.Encodings!.Select(e => e.Ssrc!.Value), stats.Select(s => s.Ssrc));
        Assert.All(stats, s => Assert.Equal(10, s.PacketCount));
        Assert.Equal(Enumerable.Range(1000, 10), received.Take(10).Select(NumberOf));
    }

    [Fact]
    public async Task A_pipe_with_rtx_answers_a_nack_per_stream_with_rtx()
    {
        using var peer = new UdpRtpPeer();
        var producer = await _source.ProduceAsync(Vp8Producer());
        var pipe = await _router1.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableRtx = true });
        await pipe.ConnectAsync("127.0.0.1", peer.LocalEndPoint.Port);
        var consumer = await pipe.ConsumeAsync(new PipeConsumerOptions { ProducerId = producer.Id });
        var ssrc = consumer.RtpParameters.Encodings![0].Ssrc!.Value;
        var rtxSsrc = consumer.RtpParameters.Encodings![0].Rtx!.Ssrc;
        for (var i = 0; i < 10; i++) producer.Send(Vp8Packet(11111111, (ushort)(5000 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => peer.ReceivedRtp.Count >= 10, WaitTimeout));
        // Forwarded as they came: the producer's sequence numbers and timestamps, the pipe's SSRC.
        var received = peer.ReceivedRtp.ToArray();
        for (var i = 0; i < 10; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal(ssrc, p.Ssrc);
            Assert.Equal((ushort)(5000 + i), p.SequenceNumber);
            Assert.Equal((uint)(i * 3000), p.Timestamp);
        }

        var nack = new byte[64];
        var n = GenericNack.Write(nack, 1, ssrc, [5004]);
        peer.SendRtcp(nack[..n], pipe.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => peer.ReceivedRtp.Count >= 11, WaitTimeout));
        var retransmitted = peer.ReceivedRtp.ToArray()[10];
        Assert.True(RtpPacket.TryParse(retransmitted, out var r));
        Assert.Equal(rtxSsrc, r.Ssrc);
        Assert.Equal(102, r.PayloadType);
        Assert.True(r.TryDecodeRtx(101, ssrc));
        Assert.Equal(5004, r.SequenceNumber);
        Assert.Equal(4, BitConverter.ToInt32(r.Payload[4..]));
    }

    [Fact]
    public async Task Routers_on_the_same_worker_can_be_piped()
    {
        var router3 = await _worker1.CreateRouterAsync(DefaultRouterOptions);
        var producer = await _source.ProduceAsync(Vp8Producer());
        var (_, pipeProducer) = await UdpPipeAsync(_router1, new PipeToRouterOptions { ProducerId = producer.Id, Router = router3 });
        Assert.Equal(producer.Id, pipeProducer.Id);
        var sink = await router3.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router3.RtpCapabilities });
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;
        for (var i = 0; i < 5; i++) producer.Send(Vp8Packet(11111111, (ushort)(7 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 5, WaitTimeout));
        Assert.Equal(Enumerable.Range(0, 5), received.Select(NumberOf));
    }

    [Fact]
    public async Task Concurrent_pipes_in_both_directions_share_one_cross_connected_pair_that_closes_with_a_router()
    {
        var sourceIn2 = await _router2.CreateDirectTransportAsync();
        var a = await _source.ProduceAsync(Vp8Producer());
        var b = await sourceIn2.ProduceAsync(OpusProducer());
        var c = await _source.ProduceAsync(OpusProducer(ssrc: 44444444, mid: "5"));
        await Task.WhenAll(
            _router1.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = a.Id, Router = _router2 }),
            _router2.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = b.Id, Router = _router1 }),
            _router1.PipeToRouterAsync(new PipeToRouterOptions { OverUdp = true, ProducerId = c.Id, Router = _router2 }));
        var pipe1 = Assert.Single(_router1.Transports.OfType<PipeTransport>());
        var pipe2 = Assert.Single(_router2.Transports.OfType<PipeTransport>());
        Assert.Equal(pipe1.Tuple.LocalPort, pipe2.Tuple.RemotePort);
        Assert.Equal(pipe2.Tuple.LocalPort, pipe1.Tuple.RemotePort);
        Assert.Equal(2, (await pipe1.GetConsumersAsync()).Count);
        Assert.Single(await pipe1.GetProducersAsync());
        Assert.True(_router1.CanConsume(b.Id, _router1.RtpCapabilities));

        await _router1.CloseAsync();
        Assert.True(pipe1.Closed);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => pipe2.Closed, WaitTimeout));
        Assert.Single(_router2.Transports);
        Assert.False(_router2.CanConsume(a.Id, _router2.RtpCapabilities));
    }
}
