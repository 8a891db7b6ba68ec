using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// PipeTransports between two Ferry processes on one machine: this test process (one worker, one router)
/// and a child process (tests/Ferry.PipePeer, one worker, one router) driven over stdin/stdout, connected
/// by a pair of PipeTransports on 127.0.0.1 whose tuples and SRTP keys the test exchanges, as an
/// application does between servers (mediasoup's pipeToRouter, across processes). Media is fed in
/// through a PlainTransport from a UDP socket and read out of a PlainTransport into another one, so
/// what is checked is what a receiver on the wire gets.
/// </summary>
public sealed class PipeAcrossProcessesTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    // Packets in flight end to end at most (kernel socket buffers on loopback hold far more): the
    // sender waits for the receiver instead of outrunning a loaded machine.
    private const int Window = 48;

    private Worker _worker = null!;
    private Router _router = null!;
    private PipePeerProcess _peer = null!;

    public async Task InitializeAsync()
    {
        _peer = PipePeerProcess.Start();
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        await _worker.CloseAsync();
    }

    /// <summary>A PlainTransport here on 127.0.0.1 connected to <paramref name="peer"/>'s socket (media in from it, or out to it).</summary>
    private async Task<PlainTransport> PlainTransportToAsync(UdpRtpPeer peer)
    {
        var transport = await _router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" } });
        await transport.ConnectAsync("127.0.0.1", peer.LocalEndPoint.Port);
        return transport;
    }

    [Fact]
    public async Task Audio_and_video_from_here_reach_a_receiver_of_the_child_over_an_srtp_pipe_exactly_once_in_order_and_intact()
    {
        const int count = 2000;
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await PlainTransportToAsync(sender);
        var video = await inbound.ProduceAsync(Vp8Producer());
        var audio = await inbound.ProduceAsync(OpusProducer());

        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: true);
        var videoPipe = await PipeToPeerAsync(video, pipe, peerPipe);
        var audioPipe = await PipeToPeerAsync(audio, pipe, peerPipe);
        var outbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = receiver.LocalEndPoint.Port });
        var videoOut = await PeerConsumeAsync(Id(outbound), video.Id);
        var audioOut = await PeerConsumeAsync(Id(outbound), audio.Id);
        Assert.Equal(ConsumerType.Simple, videoOut.Type);

        // The child's new video consumer asks for a key frame: over the SRTP pipe back to this process and out to the sender.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout), "no PLI came back through the pipe");

        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver,
            Enumerable.Range(0, count).SelectMany(n => new[] { VideoPacket(n), AudioPacket(n) }));

        AssertStream(receiver, videoOut, Enumerable.Range(0, count), VideoPacket);
        AssertStream(receiver, audioOut, Enumerable.Range(0, count), AudioPacket);
        Assert.Equal(2 * count, receiver.ReceivedRtp.Count);

        // Every packet crossed the pipe once, under the pipe consumers' SSRCs, and was decrypted.
        Assert.Equal(count, Outbound(await videoPipe.GetStatsAsync()).PacketCount);
        Assert.Equal(count, Outbound(await audioPipe.GetStatsAsync()).PacketCount);
        foreach (var (producerId, pipeConsumer) in new[] { (video.Id, videoPipe), (audio.Id, audioPipe) })
        {
            var stream = Assert.Single(Streams(await _peer.RequestAsync("producer", new JsonObject { ["producerId"] = producerId })));
            Assert.Equal(pipeConsumer.RtpParameters.Encodings![0].Ssrc, stream.Ssrc);
            Assert.Equal(count, stream.PacketCount);
        }
        var peerStats = await _peer.RequestAsync("transportStats", new JsonObject { ["transportId"] = peerPipe });
        Assert.Equal(0, peerStats["srtpFailures"]!.GetValue<long>());
        Assert.Equal(0, peerStats["unknownTupleDrops"]!.GetValue<long>());
        Assert.Equal(0, pipe.SrtpFailures);
        Assert.Equal(0, pipe.UnknownTupleDrops);
        Assert.Empty(_peer.RelayFailures);
    }

    [Fact]
    public async Task Audio_and_video_from_the_child_reach_a_receiver_here_over_a_plain_pipe_exactly_once_in_order_and_intact()
    {
        const int count = 2000;
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = sender.LocalEndPoint.Port });
        var videoId = await PeerProduceAsync(Id(inbound), Vp8Producer());
        var audioId = await PeerProduceAsync(Id(inbound), OpusProducer());

        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: false);
        Assert.Null(pipe.SrtpParameters);
        var video = await PipeFromPeerAsync(videoId, pipe, peerPipe);
        var audio = await PipeFromPeerAsync(audioId, pipe, peerPipe);
        Assert.Equal(videoId, video.Id);
        Assert.Equal("client-a", video.RtpParameters.Rtcp!.Cname);

        var outbound = await PlainTransportToAsync(receiver);
        var videoOut = await outbound.ConsumeAsync(new ConsumerOptions { ProducerId = videoId, RtpCapabilities = WithoutCongestionFeedback(_router.RtpCapabilities) });
        var audioOut = await outbound.ConsumeAsync(new ConsumerOptions { ProducerId = audioId, RtpCapabilities = WithoutCongestionFeedback(_router.RtpCapabilities) });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout), "no PLI came back through the pipe");

        await PumpAsync(sender, Port(inbound), receiver, Enumerable.Range(0, count).SelectMany(n => new[] { VideoPacket(n), AudioPacket(n) }));

        AssertStream(receiver, Expected(videoOut), Enumerable.Range(0, count), VideoPacket);
        AssertStream(receiver, Expected(audioOut), Enumerable.Range(0, count), AudioPacket);
        Assert.Equal(2 * count, receiver.ReceivedRtp.Count);
        Assert.Equal(count, Assert.Single(await video.GetStatsAsync()).PacketCount);
        Assert.Equal(count, Assert.Single(await audio.GetStatsAsync()).PacketCount);
        var peerStats = await _peer.RequestAsync("transportStats", new JsonObject { ["transportId"] = peerPipe });
        Assert.Equal(0, peerStats["unknownTupleDrops"]!.GetValue<long>());
        Assert.Equal(0, pipe.UnknownTupleDrops);
    }

    /// <summary>
    /// Pause state does not travel in the pipe: a paused producer's pipe consumer sends nothing, and the
    /// application relays pause and resume to the piped producer in the other process (mediasoup's
    /// pipeToRouter does the same inside one, from the pipe consumer's events).
    /// </summary>
    [Fact]
    public async Task Pause_and_resume_here_stop_media_at_the_pipe_and_reach_the_childs_consumers_through_the_relay()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await PlainTransportToAsync(sender);
        var video = await inbound.ProduceAsync(Vp8Producer());
        var audio = await inbound.ProduceAsync(OpusProducer() with { Paused = true });
        var events = new ConcurrentQueue<(string Name, string ConsumerId)>();
        _peer.Event += (name, consumerId) => events.Enqueue((name, consumerId));

        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: true);
        var videoPipe = await PipeToPeerAsync(video, pipe, peerPipe);
        var audioPipe = await PipeToPeerAsync(audio, pipe, peerPipe);
        Assert.True(audioPipe.ProducerPaused);
        var outbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = receiver.LocalEndPoint.Port });
        var videoOut = await PeerConsumeAsync(Id(outbound), video.Id);
        var audioOut = await PeerConsumeAsync(Id(outbound), audio.Id);
        // Piped paused, as the original was.
        Assert.False(videoOut.ProducerPaused);
        Assert.True(audioOut.ProducerPaused);
        Assert.True((await PeerProducerAsync(audio.Id))["paused"]!.GetValue<bool>());
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout));

        // Video flows; audio, paused, goes no further than this process's producer.
        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver,
            Enumerable.Range(0, 100).Select(n => VideoPacket(n)).Concat(Enumerable.Range(0, 50).Select(n => AudioPacket(n))), expected: 100);

        await video.PauseAsync();
        Assert.True(await WaitUntilAsync(async () => await PeerConsumerProducerPausedAsync(videoOut.Id), Timeout));
        Assert.Contains(("consumer.producerpause", videoOut.Id), events);
        await SendUnpacedAsync(sender, inbound.Tuple.LocalPort, Enumerable.Range(100, 50).Select(n => VideoPacket(n)));

        await audio.ResumeAsync();
        Assert.True(await WaitUntilAsync(async () => !await PeerConsumerProducerPausedAsync(audioOut.Id), Timeout));
        Assert.Contains(("consumer.producerresume", audioOut.Id), events);
        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver, Enumerable.Range(50, 50).Select(n => AudioPacket(n)));

        var plisBefore = PliCount(sender, 11111111);
        await video.ResumeAsync();
        Assert.True(await WaitUntilAsync(async () => !await PeerConsumerProducerPausedAsync(videoOut.Id), Timeout));
        // The child's consumer, resumed, asks for a key frame: through the pipe to the sender here.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > plisBefore, Timeout), "no PLI after the resume");
        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver, Enumerable.Range(150, 100).Select(n => VideoPacket(n, keyFrame: n == 150)));

        // What was sent while paused never crossed the pipe; the receiver sees one continuous stream each.
        AssertStream(receiver, videoOut, Enumerable.Range(0, 100).Concat(Enumerable.Range(150, 100)), n => VideoPacket(n, keyFrame: n is 0 or 150), continuousTimestamps: false);
        AssertStream(receiver, audioOut, Enumerable.Range(50, 50), AudioPacket);
        Assert.Equal(200, Outbound(await videoPipe.GetStatsAsync()).PacketCount);
        Assert.Equal(50, Outbound(await audioPipe.GetStatsAsync()).PacketCount);
        Assert.Equal(200, Assert.Single(Streams(await PeerProducerAsync(video.Id))).PacketCount);
        Assert.Equal(50, Assert.Single(Streams(await PeerProducerAsync(audio.Id))).PacketCount);

        // Closing the original closes the piped producer there (relayed) and the consumers of it.
        await video.CloseAsync();
        Assert.True(await WaitUntilAsync(async () => (await PeerProducerAsync(video.Id))["closed"]!.GetValue<bool>(), Timeout));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => events.Contains(("consumer.producerclose", videoOut.Id)), Timeout));
        Assert.Empty(_peer.RelayFailures);
    }

    [Fact]
    public async Task Pause_and_resume_in_the_child_reach_consumers_here_through_the_relayed_events()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = sender.LocalEndPoint.Port });
        var videoId = await PeerProduceAsync(Id(inbound), Vp8Producer());
        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: false);
        var video = await PipeFromPeerAsync(videoId, pipe, peerPipe);
        var outbound = await PlainTransportToAsync(receiver);
        var consumer = await outbound.ConsumeAsync(new ConsumerOptions { ProducerId = videoId, RtpCapabilities = WithoutCongestionFeedback(_router.RtpCapabilities) });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout));

        await PumpAsync(sender, Port(inbound), receiver, Enumerable.Range(0, 100).Select(n => VideoPacket(n)));
        await _peer.RequestAsync("pauseProducer", new JsonObject { ["producerId"] = videoId });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => consumer.ProducerPaused, Timeout));
        Assert.True(video.Paused);
        await SendUnpacedAsync(sender, Port(inbound), Enumerable.Range(100, 30).Select(n => VideoPacket(n)));
        await _peer.RequestAsync("resumeProducer", new JsonObject { ["producerId"] = videoId });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !consumer.ProducerPaused, Timeout));
        Assert.False(video.Paused);
        await PumpAsync(sender, Port(inbound), receiver, Enumerable.Range(130, 100).Select(n => VideoPacket(n, keyFrame: n == 130)));

        AssertStream(receiver, Expected(consumer), Enumerable.Range(0, 100).Concat(Enumerable.Range(130, 100)), n => VideoPacket(n, keyFrame: n is 0 or 130), continuousTimestamps: false);
        Assert.Equal(200, Assert.Single(await video.GetStatsAsync()).PacketCount);

        // Closing the original in the child closes the piped producer here (relayed from the event) and its consumers.
        var closed = new TaskCompletionSource();
        consumer.ProducerClose += () => closed.TrySetResult();
        await _peer.RequestAsync("closeProducer", new JsonObject { ["producerId"] = videoId });
        await closed.Task.WaitAsync(Timeout);
        Assert.True(video.Closed);
        Assert.False(_router.CanConsume(videoId, _router.RtpCapabilities));
    }

    [Fact]
    public async Task A_wrong_srtp_key_drops_and_counts_every_packet_and_breaks_nothing()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await PlainTransportToAsync(sender);
        var video = await inbound.ProduceAsync(Vp8Producer());
        var audio = await inbound.ProduceAsync(OpusProducer());

        // The child is given a key that is not this side's: what this side sends fails authentication there.
        var wrongKey = new SrtpParameters { CryptoSuite = "AEAD_AES_256_GCM", KeyBase64 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(44)) };
        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: true, keyForPeer: wrongKey);
        await PipeToPeerAsync(video, pipe, peerPipe);
        var outbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = receiver.LocalEndPoint.Port });
        await PeerConsumeAsync(Id(outbound), video.Id);
        // The other direction has the right key: the child's key frame request arrives.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout), "no PLI came back through the pipe");

        await SendUnpacedAsync(sender, inbound.Tuple.LocalPort, Enumerable.Range(0, 200).Select(n => VideoPacket(n)));
        Assert.True(await WaitUntilAsync(async () => await PeerCounterAsync(peerPipe, "srtpFailures") >= 200, Timeout),
            $"SRTP failures counted in the child: {await PeerCounterAsync(peerPipe, "srtpFailures")}");
        Assert.Equal(0, await PeerCounterAsync(peerPipe, "unknownTupleDrops"));
        Assert.Empty(Streams(await PeerProducerAsync(video.Id)));
        Assert.Empty(receiver.ReceivedRtp);
        Assert.Equal(0, pipe.SrtpFailures);
        Assert.False(_peer.HasExited);

        // Both processes still work: a second pair with the right keys carries audio.
        var (goodPipe, goodPeerPipe) = await ConnectPipesAsync(enableSrtp: true);
        await PipeToPeerAsync(audio, goodPipe, goodPeerPipe);
        var audioOut = await PeerConsumeAsync(Id(outbound), audio.Id);
        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver, Enumerable.Range(0, 100).Select(AudioPacket));
        AssertStream(receiver, audioOut, Enumerable.Range(0, 100), AudioPacket);
        Assert.DoesNotContain(receiver.ReceivedRtp, p => Ssrc(p) != audioOut.Ssrc);
        Assert.Equal(0, await PeerCounterAsync(goodPeerPipe, "srtpFailures"));
    }

    /// <summary>
    /// With RTX on the pipe, what the network loses between the processes is asked for again (NACK from the
    /// child's piped producer) and resent (RTX from the pipe consumer here): the receiver still gets every
    /// packet once, repaired ones late but under their own sequence numbers.
    /// </summary>
    [Fact]
    public async Task Video_lost_between_the_processes_is_repaired_by_nack_and_rtx_over_the_srtp_pipe()
    {
        const int count = 1000;
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inbound = await PlainTransportToAsync(sender);
        var video = await inbound.ProduceAsync(Vp8Producer());

        // The first transmission of every 50th video packet (by the pipe's sequence number, readable under SRTP) is lost.
        var videoPt = -1;
        var lost = new ConcurrentDictionary<ushort, bool>();
        UdpRelay? relay = null;
        var (pipe, peerPipe) = await ConnectPipesAsync(enableSrtp: true, enableRtx: true, through: (here, there) => relay = new UdpRelay(here, there, datagram =>
            datagram.Length > 12 && (datagram[1] & 0x7F) == Volatile.Read(ref videoPt)
            && (ushort)(datagram[2] << 8 | datagram[3]) is var seq && seq % 50 == 7 && lost.TryAdd(seq, true)));
        using var _ = relay;
        var videoPipe = await PipeToPeerAsync(video, pipe, peerPipe);
        Assert.NotNull(videoPipe.RtpParameters.Encodings![0].Rtx);
        Volatile.Write(ref videoPt, videoPipe.RtpParameters.Codecs[0].PayloadType);
        var outbound = await _peer.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = receiver.LocalEndPoint.Port });
        var videoOut = await PeerConsumeAsync(Id(outbound), video.Id);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => PliCount(sender, 11111111) > 0, Timeout), "no PLI came back through the relay");

        await PumpAsync(sender, inbound.Tuple.LocalPort, receiver, Enumerable.Range(0, count).Select(n => VideoPacket(n)));

        Assert.Equal(21, lost.Count); // 65007..65507 and 7..457: the pipe carries the original numbers, which wrap
        Assert.Equal(lost.Count, relay!.Dropped);
        Assert.Empty(relay.Strangers);
        // Every packet once; in sequence-number order they are the packets as sent.
        var received = receiver.ReceivedRtp.Where(p => Ssrc(p) == videoOut.Ssrc).ToList();
        Assert.Equal(count, received.Count);
        var first = Seq(received[0]);
        var bySeq = received.OrderBy(p => (ushort)(Seq(p) - first)).ToList();
        Assert.Equal(Enumerable.Range(0, count), bySeq.Select(Number));
        for (var i = 0; i < count; i++)
        {
            Assert.True(RtpPacket.TryParse(bySeq[i], out var p));
            Assert.True(RtpPacket.TryParse(VideoPacket(i), out var sent));
            Assert.Equal((ushort)(first + i), p.SequenceNumber);
            Assert.True(sent.Payload.SequenceEqual(p.Payload), $"payload of packet {i} changed");
        }
        Assert.NotEqual(Enumerable.Range(0, count), received.Select(Number));
        var repaired = Assert.Single(Streams(await PeerProducerAsync(video.Id)));
        Assert.Equal(count, repaired.PacketCount);
        Assert.True(Outbound(await videoPipe.GetStatsAsync()).PacketsRetransmitted >= lost.Count);
    }

    [Fact]
    public async Task The_child_exits_when_its_stdin_closes()
    {
        await _peer.RequestAsync("createPipeTransport", new JsonObject { ["enableSrtp"] = true });
        var pid = _peer.Pid;
        await _peer.DisposeAsync();
        Assert.True(_peer.ExitedOnItsOwn, $"pipe peer {pid} had to be killed; stderr:\n{_peer.StderrTail}");
        Assert.Equal(0, _peer.ExitCode);
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
        _peer = PipePeerProcess.Start();
    }

    // ---- the application's part: tuples, keys and parameters from one process to the other ----

    /// <summary>
    /// A PipeTransport here and one in the child, each connected to the other (the child's with
    /// <paramref name="keyForPeer"/> when given), directly or <paramref name="through"/> a relay made from
    /// the two local ports (this side's, the child's).
    /// </summary>
    private async Task<(PipeTransport Local, string PeerId)> ConnectPipesAsync(bool enableSrtp, SrtpParameters? keyForPeer = null, bool enableRtx = false,
        Func<int, int, UdpRelay>? through = null)
    {
        var local = await _router.CreatePipeTransportAsync(new PipeTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableSrtp = enableSrtp, EnableRtx = enableRtx,
        });
        var remote = await _peer.RequestAsync("createPipeTransport", new JsonObject { ["enableSrtp"] = enableSrtp, ["enableRtx"] = enableRtx });
        var remoteSrtp = remote["srtpParameters"]?.Deserialize(OrtcJson.Default.SrtpParameters);
        Assert.Equal(enableSrtp, remoteSrtp is not null);
        var relay = through?.Invoke(local.Tuple.LocalPort, Port(remote));
        await local.ConnectAsync(remote["ip"]!.GetValue<string>(), relay?.PortForA ?? Port(remote), remoteSrtp);
        await _peer.RequestAsync("connectPipeTransport", new JsonObject
        {
            ["transportId"] = Id(remote),
            ["ip"] = local.Tuple.LocalAddress,
            ["port"] = relay?.PortForB ?? local.Tuple.LocalPort,
            ["srtpParameters"] = (keyForPeer ?? local.SrtpParameters) is { } key ? JsonSerializer.SerializeToNode(key, OrtcJson.Default.SrtpParameters) : null,
        });
        return (local, Id(remote));
    }

    /// <summary>pipeToRouter from here to the child: a pipe consumer here, the piped producer there with the same id, pause and close relayed.</summary>
    private async Task<Consumer> PipeToPeerAsync(Producer producer, PipeTransport local, string peerPipe)
    {
        var pipeConsumer = await local.ConsumeAsync(new PipeConsumerOptions { ProducerId = producer.Id });
        var reply = await _peer.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = peerPipe,
            ["id"] = producer.Id,
            ["kind"] = JsonSerializer.SerializeToNode(pipeConsumer.Kind, OrtcJson.Default.MediaKind),
            ["rtpParameters"] = JsonSerializer.SerializeToNode(pipeConsumer.RtpParameters, OrtcJson.Default.RtpParameters),
            ["paused"] = pipeConsumer.ProducerPaused,
        });
        Assert.Equal(producer.Id, Id(reply));
        Assert.Equal(pipeConsumer.ProducerPaused, reply["paused"]!.GetValue<bool>());
        var target = new JsonObject { ["producerId"] = producer.Id };
        pipeConsumer.ObserverPause += () => _peer.Post("pauseProducer", (JsonObject)target.DeepClone());
        pipeConsumer.ObserverResume += () => _peer.Post("resumeProducer", (JsonObject)target.DeepClone());
        pipeConsumer.ObserverClose += () => _peer.Post("closeProducer", (JsonObject)target.DeepClone());
        return pipeConsumer;
    }

    /// <summary>pipeToRouter from the child to here: a pipe consumer there, the piped producer here, its pause, resume and close relayed from the child's events.</summary>
    private async Task<Producer> PipeFromPeerAsync(string producerId, PipeTransport local, string peerPipe)
    {
        var remote = await PeerConsumeAsync(peerPipe, producerId);
        Assert.Equal(ConsumerType.Pipe, remote.Type);
        var producer = await local.ProduceAsync(new ProducerOptions { Id = producerId, Kind = remote.Kind, RtpParameters = remote.RtpParameters, Paused = remote.ProducerPaused });
        _peer.Event += (name, consumerId) =>
        {
            if (consumerId != remote.Id) return;
            _ = name switch
            {
                "consumer.producerpause" => producer.PauseAsync(),
                "consumer.producerresume" => producer.ResumeAsync(),
                "consumer.producerclose" => producer.CloseAsync(),
                _ => Task.CompletedTask,
            };
        };
        return producer;
    }

    private async Task<string> PeerProduceAsync(string transportId, ProducerOptions options) => Id(await _peer.RequestAsync("produce", new JsonObject
    {
        ["transportId"] = transportId,
        ["kind"] = JsonSerializer.SerializeToNode(options.Kind, OrtcJson.Default.MediaKind),
        ["rtpParameters"] = JsonSerializer.SerializeToNode(options.RtpParameters, OrtcJson.Default.RtpParameters),
    }));

    /// <summary>A consumer in the child, as its reply describes it.</summary>
    private sealed record PeerConsumer(string Id, MediaKind Kind, ConsumerType Type, RtpParameters RtpParameters, bool ProducerPaused)
    {
        public uint Ssrc => RtpParameters.Encodings![0].Ssrc!.Value;
        public byte PayloadType => (byte)RtpParameters.Codecs[0].PayloadType;
    }

    private async Task<PeerConsumer> PeerConsumeAsync(string transportId, string producerId)
    {
        var reply = await _peer.RequestAsync("consume", new JsonObject { ["transportId"] = transportId, ["producerId"] = producerId });
        return new PeerConsumer(Id(reply), reply["kind"].Deserialize(OrtcJson.Default.MediaKind), reply["type"].Deserialize(OrtcJson.Default.ConsumerType),
            reply["rtpParameters"].Deserialize(OrtcJson.Default.RtpParameters)!, reply["producerPaused"]!.GetValue<bool>());
    }

    private static PeerConsumer Expected(Consumer consumer) => new(consumer.Id, consumer.Kind, consumer.Type, consumer.RtpParameters, consumer.ProducerPaused);

    private Task<JsonObject> PeerProducerAsync(string producerId) => _peer.RequestAsync("producer", new JsonObject { ["producerId"] = producerId });

    private async Task<bool> PeerConsumerProducerPausedAsync(string consumerId) =>
        (await _peer.RequestAsync("consumer", new JsonObject { ["consumerId"] = consumerId }))["producerPaused"]!.GetValue<bool>();

    private async Task<long> PeerCounterAsync(string transportId, string name) =>
        (await _peer.RequestAsync("transportStats", new JsonObject { ["transportId"] = transportId }))[name]!.GetValue<long>();

    private static List<(uint Ssrc, long PacketCount)> Streams(JsonObject producerOrConsumer) =>
        producerOrConsumer["streams"]!.AsArray().Select(s => (s!["ssrc"]!.GetValue<uint>(), s["packetCount"]!.GetValue<long>())).ToList();

    /// <summary>A consumer's own stream in its stats (mediasoup's consumer stats also list its producer's).</summary>
    private static RtpStreamStats Outbound(IReadOnlyList<RtpStreamStats> stats) => Assert.Single(stats, s => s.Type == "outbound-rtp");

    private static string Id(JsonObject reply) => reply["id"]!.GetValue<string>();

    private static int Port(JsonObject reply) => reply["port"]!.GetValue<int>();

    // ---- media ----

    /// <summary>
    /// Video packet <paramref name="n"/> of SSRC 11111111: sequence numbers from 65000 (they wrap), 3000 ticks
    /// apart, a key frame first, a payload of varying size whose every byte is a function of n.
    /// </summary>
    private static byte[] VideoPacket(int n) => VideoPacket(n, keyFrame: n == 0);

    private static byte[] VideoPacket(int n, bool keyFrame)
    {
        var payload = Payload(n, 60 + n * 37 % 1000);
        payload[0] = 0x10;                             // VP8 descriptor: S=1, partition 0, no extensions
        payload[1] = keyFrame ? (byte)0x00 : (byte)0x01; // VP8 payload header: P bit
        return Packet(96, (ushort)(65000 + n), 1000u + (uint)n * 3000u, 11111111, "0", payload, marker: true);
    }

    /// <summary>Audio packet <paramref name="n"/> of SSRC 33333333, 960 ticks apart, an Opus TOC byte and varying content.</summary>
    private static byte[] AudioPacket(int n)
    {
        var payload = Payload(n, 20 + n * 13 % 200);
        payload[0] = 0x78;
        return Packet(111, (ushort)(30000 + n), (uint)n * 960u, 33333333, "1", payload, marker: false);
    }

    private static byte[] Payload(int n, int size)
    {
        var payload = new byte[size];
        for (var i = 2; i < size; i++) payload[i] = (byte)(n * 31 + i * 7 + (n >> 8));
        BitConverter.TryWriteBytes(payload.AsSpan(4), n);
        return payload;
    }

    private static byte[] Packet(byte pt, ushort seq, uint timestamp, uint ssrc, string mid, byte[] payload, bool marker)
    {
        var buffer = new byte[1500];
        var w = new RtpPacketWriter(buffer, pt, seq, timestamp, ssrc, marker);
        w.AddExtension(4, System.Text.Encoding.ASCII.GetBytes(mid));
        return buffer[..w.SetPayload(payload)];
    }

    /// <summary>Polls an asynchronous condition (a request to the child) until it holds or <paramref name="timeout"/> passes.</summary>
    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (await condition()) return true;
            await Task.Delay(20);
        }
        return await condition();
    }

    private static ushort Seq(byte[] rtp)
    {
        Assert.True(RtpPacket.TryParse(rtp, out var p));
        return p.SequenceNumber;
    }

    private static int Number(byte[] rtp)
    {
        Assert.True(RtpPacket.TryParse(rtp, out var p));
        return BitConverter.ToInt32(p.Payload[4..]);
    }

    private static uint Ssrc(byte[] rtp)
    {
        Assert.True(RtpPacket.TryParse(rtp, out var p));
        return p.Ssrc;
    }

    private static int PliCount(UdpRtpPeer peer, uint ssrc) => peer.ReceivedRtcp.Count(r => ContainsPli(r, ssrc));

    /// <summary>
    /// Sends <paramref name="packets"/> in order to 127.0.0.1:<paramref name="port"/>, never more than
    /// <see cref="Window"/> ahead of what reached <paramref name="receiver"/>, then waits for the last ones:
    /// <paramref name="expected"/> (all by default) new RTP packets at the receiver. Fails if the receiver
    /// stops getting packets for <see cref="Timeout"/> (a packet lost end to end stalls it).
    /// </summary>
    private static async Task PumpAsync(UdpRtpPeer sender, int port, UdpRtpPeer receiver, IEnumerable<byte[]> packets, int? expected = null)
    {
        var list = packets.ToList();
        var target = expected ?? list.Count;
        var baseline = receiver.ReceivedRtp.Count;
        int Arrived() => receiver.ReceivedRtp.Count - baseline;
        var lastProgress = Stopwatch.StartNew();
        var lastArrived = 0;
        async Task WaitFor(Func<bool> condition)
        {
            while (!condition())
            {
                if (Arrived() != lastArrived)
                {
                    lastArrived = Arrived();
                    lastProgress.Restart();
                }
                else if (lastProgress.Elapsed > Timeout)
                {
                    Assert.Fail($"the receiver got {Arrived()} of {target} packets and nothing more for {Timeout}");
                }
                await Task.Delay(1);
            }
        }
        for (var i = 0; i < list.Count; i++)
        {
            // Packets that are not expected through (paused ones) do not count against the window.
            var sentExpected = expected is null ? i : Math.Min(i, target);
            await WaitFor(() => sentExpected - Arrived() < Window);
            sender.SendRtp(list[i], port);
        }
        await WaitFor(() => Arrived() >= target);
    }

    /// <summary>Sends packets that are not expected to arrive, a few at a time.</summary>
    private static async Task SendUnpacedAsync(UdpRtpPeer sender, int port, IEnumerable<byte[]> packets)
    {
        var i = 0;
        foreach (var packet in packets)
        {
            sender.SendRtp(packet, port);
            if (++i % 10 == 0) await Task.Delay(5);
        }
        await Task.Delay(200);
    }

    /// <summary>
    /// The packets of <paramref name="consumer"/>'s SSRC at the receiver are exactly the packets numbered
    /// <paramref name="numbers"/> (as <paramref name="build"/> made them), in that order, once each: its
    /// payload type, sequence numbers continuous, timestamps offset by one constant (within each run of
    /// consecutive numbers unless <paramref name="continuousTimestamps"/>), payload byte for byte.
    /// </summary>
    private static void AssertStream(UdpRtpPeer receiver, PeerConsumer consumer, IEnumerable<int> numbers, Func<int, byte[]> build, bool continuousTimestamps = true)
    {
        var expected = numbers.ToList();
        var received = receiver.ReceivedRtp.Where(p => Ssrc(p) == consumer.Ssrc).ToList();
        Assert.Equal(expected, received.Select(p =>
        {
            RtpPacket.TryParse(p, out var parsed);
            return BitConverter.ToInt32(parsed.Payload[4..]);
        }));
        RtpPacket.TryParse(received[0], out var first);
        RtpPacket.TryParse(build(expected[0]), out var firstSent);
        var tsOffset = first.Timestamp - firstSent.Timestamp;
        for (var i = 0; i < received.Count; i++)
        {
            Assert.True(RtpPacket.TryParse(received[i], out var p));
            Assert.True(RtpPacket.TryParse(build(expected[i]), out var sent));
            Assert.Equal(consumer.PayloadType, p.PayloadType);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
            if (i > 0 && !continuousTimestamps && expected[i] != expected[i - 1] + 1)
            {
                RtpPacket.TryParse(received[i - 1], out var previous);
                Assert.True(unchecked((int)(p.Timestamp - previous.Timestamp)) > 0, $"timestamp goes back at {i}");
                tsOffset = p.Timestamp - sent.Timestamp;
            }
            Assert.Equal(sent.Timestamp + tsOffset, p.Timestamp);
            Assert.Equal(sent.Marker, p.Marker);
            Assert.True(sent.Payload.SequenceEqual(p.Payload), $"payload of packet {expected[i]} changed");
        }
    }
}
