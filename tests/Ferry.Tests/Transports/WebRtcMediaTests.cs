using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// Media end to end through real UDP sockets on 127.0.0.1: clients built on Ferry.Protocols do ICE,
/// DTLS and SRTP against WebRtcTransports, one produces and another consumes.
/// </summary>
public sealed class WebRtcMediaTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    [Fact]
    public async Task Ice_and_dtls_connect_and_report_states_and_tuple()
    {
        var transport = await _router.CreateWebRtcTransportAsync(Loopback);
        var states = new List<IceStateName>();
        var dtlsStates = new List<DtlsStateName>();
        transport.IceStateChange += s => { lock (states) states.Add(s); };
        transport.DtlsStateChange += s => { lock (dtlsStates) dtlsStates.Add(s); };
        Assert.Equal(IceStateName.New, transport.IceState);
        Assert.Equal(DtlsRoleName.Auto, transport.DtlsParameters.Role);
        Assert.Equal("sha-256", transport.DtlsParameters.Fingerprints[^1].Algorithm);
        var candidate = Assert.Single(transport.IceCandidates);
        Assert.Equal("127.0.0.1", candidate.Address);
        Assert.Equal(1073741824 + 256 * 10000 + 255, candidate.Priority);

        using var client = new WebRtcTestClient();
        await transport.ConnectAsync(client.DtlsParameters);
        Assert.Equal(DtlsRoleName.Server, transport.DtlsParameters.Role);
        await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.DtlsState == DtlsStateName.Connected, WaitTimeout));
        Assert.Equal(IceStateName.Completed, transport.IceState);
        Assert.Equal(client.LocalEndPoint.Port, transport.IceSelectedTuple!.RemotePort);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", transport.DtlsRemoteCert);
        lock (states) Assert.Equal([IceStateName.Completed], states);
        lock (dtlsStates) Assert.Equal([DtlsStateName.Connecting, DtlsStateName.Connected], dtlsStates);

        await transport.CloseAsync();
        Assert.Equal(IceStateName.Closed, transport.IceState);
        Assert.Equal(DtlsStateName.Closed, transport.DtlsState);
        Assert.True(transport.Closed);
    }

    [Fact]
    public async Task Video_reaches_the_consumer_rewritten_and_continuous_and_a_key_frame_is_requested()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        Assert.Equal(ProducerType.Simple, producer.Type);
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        Assert.Equal(ConsumerType.Simple, consumer.Type);
        Assert.Equal("0", consumer.RtpParameters.Mid);
        var consumerSsrc = consumer.RtpParameters.Encodings![0].Ssrc!.Value;
        var consumerPt = consumer.RtpParameters.Codecs[0].PayloadType;

        // The consumer's creation on a connected transport asks the sender for a key frame (PLI, as the codec offers it).
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        // Delta frames before the first key frame are not forwarded: the receiver could not decode them.
        sender.SendRtp(Vp8Packet(11111111, 1000, 5000, keyFrame: false, number: -1, mid: "0"));
        for (var i = 0; i < 50; i++)
            sender.SendRtp(Vp8Packet(11111111, (ushort)(1001 + i), (uint)(5000 + i * 3000), keyFrame: i == 0, number: i, mid: "0"));

        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 50, WaitTimeout));
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, 50), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        var firstSeq = first.SequenceNumber;
        var firstTs = first.Timestamp;
        for (var i = 0; i < received.Length; i++)
        {
            Assert.True(RtpPacket.TryParse(received[i], out var p));
            Assert.Equal(consumerSsrc, p.Ssrc);
            Assert.Equal(consumerPt, p.PayloadType);
            Assert.Equal((ushort)(firstSeq + i), p.SequenceNumber);
            Assert.Equal((uint)(firstTs + i * 3000), p.Timestamp);
            // The consumer's own MID, not the producer's.
            var midId = consumer.RtpParameters.HeaderExtensions!.Single(h => h.Uri == RtpHeaderExtensionUris.Mid).Id;
            Assert.True(p.TryGetExtension(midId, out var mid));
            Assert.Equal("0"u8.ToArray(), mid.ToArray());
        }
        var stats = await producer.GetStatsAsync();
        Assert.Equal(51, Assert.Single(stats).PacketCount);
        var consumerStats = await consumer.GetStatsAsync();
        Assert.Equal(50, consumerStats[0].PacketCount);
        Assert.Equal(0, receiver.SrtpFailures);

        // Dumps, with mediasoup's shapes.
        var producerDump = await producer.DumpAsync();
        Assert.Equal(11111111u, Assert.Single(producerDump.RtpStreams).Ssrc);
        Assert.Equal(51, producerDump.RtpStreams[0].PacketCount);
        Assert.Equal([new Ferry.Ortc.RtpMapping.CodecMapping(96, consumerPt), new Ferry.Ortc.RtpMapping.CodecMapping(97, consumerPt + 1)], producerDump.RtpMapping.Codecs);
        var consumerDump = await consumer.DumpAsync();
        Assert.Equal([consumerPt], consumerDump.SupportedCodecPayloadTypes);
        Assert.Equal(consumerSsrc, consumerDump.RtpStream.Ssrc);
        var sendDump = await sendTransport.DumpAsync();
        Assert.Equal(producer.Id, sendDump.RtpListener.SsrcTable[11111111]);
        Assert.Equal(producer.Id, sendDump.RtpListener.SsrcTable[22222222]);
        Assert.Equal(producer.Id, sendDump.RtpListener.MidTable["0"]);
        var recvDump = await recvTransport.DumpAsync();
        Assert.Equal(consumer.Id, recvDump.MapSsrcConsumerId[consumerSsrc]);
        Assert.False(recvDump.Direct);
    }

    [Fact]
    public async Task A_consumer_still_waiting_for_a_key_frame_asks_again_once_a_second_while_delta_frames_arrive()
    {
        // A sender may swallow a key frame request (Chrome honours one per 300 ms): a consumer that keeps
        // seeing delta frames must not wait forever on the one request the producer sent.
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));
        // Delta frames until two more requests came (or a timeout): they must come, a second apart.
        var started = DateTime.UtcNow;
        ushort seq = 500;
        int Plis() => sender.ReceivedRtcp.Count(r => ContainsPli(r, 11111111));
        while (Plis() < 3 && DateTime.UtcNow - started < WaitTimeout)
        {
            sender.SendRtp(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: false, number: seq, mid: "0"));
            seq++;
            await Task.Delay(20);
        }
        var elapsed = DateTime.UtcNow - started;
        Assert.True(Plis() >= 3, $"{Plis()} PLIs in {elapsed} of delta frames");
        Assert.True(elapsed > TimeSpan.FromSeconds(1.5), $"3 PLIs within {elapsed}: not paced");
        Assert.Empty(receiver.ReceivedRtp);

        // The key frame starts the stream; once flowing, delta frames ask for nothing.
        sender.SendRtp(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: true, number: seq, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count == 1, WaitTimeout));
        await Task.Delay(200);
        var plis = sender.ReceivedRtcp.Count(r => ContainsPli(r, 11111111));
        for (var i = 1; i <= 60; i++)
        {
            sender.SendRtp(Vp8Packet(11111111, (ushort)(seq + i), (uint)((seq + i) * 3000), keyFrame: false, number: seq + i, mid: "0"));
            await Task.Delay(20);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count == 61, WaitTimeout));
        Assert.Equal(plis, sender.ReceivedRtcp.Count(r => ContainsPli(r, 11111111)));
    }

    [Fact]
    public async Task Pause_and_resume_keep_sequence_numbers_continuous()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        ushort seq = 100;
        var number = 0;
        void Send(int count, bool keyFirst)
        {
            for (var i = 0; i < count; i++, seq++, number++)
                sender.SendRtp(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: keyFirst && i == 0, number: number, mid: "0"));
        }
        Send(10, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 10, WaitTimeout));
        await consumer.PauseAsync();
        Send(10, keyFirst: false);
        await Task.Delay(200);
        Assert.Equal(10, receiver.ReceivedRtp.Count);
        var pliBefore = sender.ReceivedRtcp.Count(r => ContainsPli(r, 11111111));
        await consumer.ResumeAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Count(r => ContainsPli(r, 11111111)) > pliBefore, WaitTimeout));
        Send(5, keyFirst: false); // not forwarded: a key frame is awaited
        Send(10, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 20, WaitTimeout));
        await Task.Delay(100);
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(20, received.Length);
        Assert.Equal(Enumerable.Range(0, 10).Concat(Enumerable.Range(25, 10)), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        var firstSeq = first.SequenceNumber;
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(firstSeq + i), p.SequenceNumber);
        }
    }

    [Fact]
    public async Task Padding_only_packets_are_not_forwarded_and_leave_no_gap_in_sequence_numbers()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var number = 0;
        for (ushort seq = 200; seq < 220; seq++)
        {
            if (seq % 5 == 3)
            {
                // Bandwidth probing: a padding-only packet on the media SSRC.
                var buffer = new byte[300];
                var w = new RtpPacketWriter(buffer, 96, seq, 1234, 11111111);
                w.AddExtension(4, "0"u8);
                var length = w.AddPadding(200);
                sender.SendRtp(buffer.AsSpan(0, length));
                continue;
            }
            sender.SendRtp(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: seq == 200, number: number++, mid: "0"));
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= number, WaitTimeout));
        await Task.Delay(100);
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, number), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
        }
    }

    [Fact]
    public async Task Stats_report_the_bitrate_of_the_last_second()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        // 40 packets of about 230 bytes a second: about 74 kbit/s.
        for (var i = 0; i < 100; i++)
        {
            sender.SendRtp(Vp8Packet(11111111, (ushort)i, (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
            await Task.Delay(25);
        }
        var inbound = Assert.Single(await producer.GetStatsAsync());
        var outbound = (await consumer.GetStatsAsync())[0];
        // Generous bounds: the pacing above is only as exact as this shared machine's timers.
        Assert.InRange(inbound.Bitrate, 15_000, 400_000);
        Assert.InRange(outbound.Bitrate, 15_000, 400_000);
    }

    [Fact]
    public async Task A_nack_from_the_receiver_is_answered_with_rtx()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        var rtx = consumer.RtpParameters.Encodings![0].Rtx!.Ssrc;
        var rtxPt = consumer.RtpParameters.Codecs.Single(c => c.MimeType == "video/rtx").PayloadType;
        for (var i = 0; i < 10; i++) sender.SendRtp(Vp8Packet(11111111, (ushort)(500 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 10, WaitTimeout));
        var received = receiver.ReceivedRtp.ToArray();
        RtpPacket.TryParse(received[3], out var lost);
        var lostSeq = lost.SequenceNumber;

        var nack = new byte[64];
        var n = GenericNack.Write(nack, 1, consumer.RtpParameters.Encodings![0].Ssrc!.Value, [lostSeq]);
        receiver.SendRtcp(nack.AsSpan(0, n));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 11, WaitTimeout));
        var retransmitted = receiver.ReceivedRtp.ToArray()[10];
        Assert.True(RtpPacket.TryParse(retransmitted, out var r));
        Assert.Equal(rtx, r.Ssrc);
        Assert.Equal(rtxPt, r.PayloadType);
        Assert.True(r.TryDecodeRtx((byte)consumer.RtpParameters.Codecs[0].PayloadType, consumer.RtpParameters.Encodings![0].Ssrc!.Value));
        Assert.Equal(lostSeq, r.SequenceNumber);
        Assert.Equal(3, BitConverter.ToInt32(r.Payload[4..]));
    }

    [Fact]
    public async Task Closing_the_producer_closes_its_consumers_with_producerclose()
    {
        var (sendTransport, sender) = await ConnectedAsync(_router);
        using var _ = sender;
        var recvTransport = await _router.CreateWebRtcTransportAsync(Loopback);
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, Paused = true });
        var producerClosed = new TaskCompletionSource();
        consumer.ProducerClose += () => producerClosed.TrySetResult();
        await producer.CloseAsync();
        await producerClosed.Task.WaitAsync(WaitTimeout);
        Assert.True(consumer.Closed);
        Assert.False(_router.CanConsume(producer.Id, _router.RtpCapabilities));
        await Assert.ThrowsAsync<InvalidOperationException>(() => recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities }));
    }

    [Fact]
    public async Task Bad_input_is_counted_and_changes_nothing()
    {
        var (sendTransport, sender) = await ConnectedAsync(_router);
        using var _ = sender;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            sender.SendRaw(junk);
        }
        // Forged SRTP (right header, wrong tag).
        var forged = Vp8Packet(11111111, 1, 1, true, 1, mid: "0");
        sender.SendRaw(forged.Concat(new byte[16]).ToArray());
        // An unknown SSRC, properly encrypted.
        sender.SendRtp(Vp8Packet(999, 1, 1, true, 1));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sendTransport.SrtpFailures > 0 && sendTransport.RtpPacketsDropped > 0, WaitTimeout));
        Assert.Equal(DtlsStateName.Connected, sendTransport.DtlsState);
        Assert.False(_worker.Closed);
        // Still works.
        sender.SendRtp(Vp8Packet(11111111, 2, 2, true, 1, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.Score.Count == 1, WaitTimeout));
    }

    private static ProducerOptions Vp8WithTransportCc()
    {
        var options = Vp8Producer();
        return options with
        {
            RtpParameters = options.RtpParameters with
            {
                HeaderExtensions = [.. options.RtpParameters.HeaderExtensions!, new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.TransportWideCc01, Id = 3 }],
            },
        };
    }

    /// <summary>A small VP8 packet number <paramref name="i"/> with MID "0" and transport-wide sequence <paramref name="transportSequence"/>.</summary>
    private static byte[] PacketWithTransportSequence(int i, ushort transportSequence)
    {
        var buffer = new byte[300];
        var w = new RtpPacketWriter(buffer, 96, (ushort)(10 + i), (uint)(i * 3000), 11111111);
        w.AddExtension(4, "0"u8);
        var seq = new byte[2];
        RtpExtensionValues.TryWriteTransportWideSequence(seq, transportSequence);
        w.AddExtension(3, seq);
        return buffer[..w.SetPayload(new byte[] { 0x10, 0x00, 0, 0, 1, 2, 3 })];
    }

    /// <summary>Every transport-cc result the client has received so far, by transport-wide sequence; returns how many.</summary>
    private static int CollectTransportCc(WebRtcTestClient client, Dictionary<ushort, TransportCcResult> reported)
    {
        foreach (var rtcp in client.ReceivedRtcp.ToArray())
        {
            var e = new RtcpCompoundEnumerator(rtcp);
            while (e.MoveNext())
            {
                if (e.Current.Type != RtcpPacketType.TransportFeedback || e.Current.Count != RtcpPacketType.FmtTransportCc) continue;
                var results = new TransportCcResult[64];
                var n = TransportCcFeedback.Parse(e.Current, results, out _, out _, out _);
                for (var k = 0; k < n; k++) reported[results[k].Sequence] = results[k];
            }
        }
        return reported.Count;
    }

    [Fact]
    public async Task Transport_wide_cc_feedback_reports_every_packet_to_the_sender()
    {
        var (sendTransport, sender) = await ConnectedAsync(_router);
        using var senderScope = sender;
        await sendTransport.ProduceAsync(Vp8WithTransportCc());
        for (var i = 0; i < 20; i++)
        {
            if (i == 7) continue; // lost on the way
            sender.SendRtp(PacketWithTransportSequence(i, (ushort)(1000 + i)));
        }
        var reported = new Dictionary<ushort, TransportCcResult>();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => CollectTransportCc(sender, reported) >= 20, WaitTimeout));
        for (var i = 0; i < 20; i++) Assert.Equal(i != 7, reported[(ushort)(1000 + i)].Received);
    }

    [Fact]
    public async Task Transport_wide_cc_feedback_reports_when_packets_reached_the_host_even_if_the_loop_read_them_late()
    {
        var (sendTransport, sender) = await ConnectedAsync(_router);
        using var senderScope = sender;
        await sendTransport.ProduceAsync(Vp8WithTransportCc());
        // The worker is busy for 600 ms while ten packets arrive 25 ms apart: all wait in the kernel and are
        // read in one burst, yet the feedback must show them spread as they came, or the sender's delay-based
        // estimator would see a queue that is not on the network.
        var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _router.Loop.Post(() =>
        {
            blocked.TrySetResult();
            Thread.Sleep(600);
        });
        await blocked.Task;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            sender.SendRtp(PacketWithTransportSequence(i, (ushort)(500 + i)));
            Thread.Sleep(25);
        }
        var sendingTook = clock.Elapsed;
        var reported = new Dictionary<ushort, TransportCcResult>();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => CollectTransportCc(sender, reported) >= 10 && reported.Values.Count(r => r.Received) >= 10, WaitTimeout));
        var arrivals = reported.Where(r => r.Value.Received).ToDictionary(r => r.Key, r => r.Value.ArrivalMicroseconds);
        // Only meaningful if the packets really were sent while the loop slept (a slow test thread would not be).
        if (sendingTook < TimeSpan.FromMilliseconds(550))
        {
            var spreadUs = arrivals[509] - arrivals[500];
            // Nine gaps of at least 25 ms were slept between the first and the last; a burst read would show ~0.
            Assert.True(spreadUs >= 150_000, $"first to last arrival {spreadUs} us");
        }
    }

    /// <summary>A VP8 packet with a temporal layer index (X=1, T=1 in the RFC 7741 descriptor).</summary>
    private static byte[] Vp8LayeredPacket(uint ssrc, ushort seq, uint timestamp, bool keyFrame, int temporalLayer, int number)
    {
        var buffer = new byte[400];
        var w = new RtpPacketWriter(buffer, 96, seq, timestamp, ssrc, marker: true);
        w.AddExtension(4, "0"u8);
        var payload = new byte[64];
        payload[0] = 0x90;                              // X=1, S=1, PartID 0
        payload[1] = 0x20;                              // T=1
        payload[2] = (byte)(temporalLayer << 6);        // TID, Y=0, KEYIDX 0
        payload[3] = keyFrame ? (byte)0x00 : (byte)0x01; // VP8 payload header: P bit
        BitConverter.TryWriteBytes(payload.AsSpan(8), number);
        return buffer[..w.SetPayload(payload)];
    }

    [Fact]
    public async Task A_simulcast_consumer_forwards_its_preferred_stream_and_temporal_layer_with_continuous_numbers()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var options = Vp8Producer();
        options = options with
        {
            RtpParameters = options.RtpParameters with
            {
                Encodings =
                [
                    new RtpEncodingParameters { Ssrc = 1000, ScalabilityMode = "L1T3" },
                    new RtpEncodingParameters { Ssrc = 2000, ScalabilityMode = "L1T3" },
                ],
            },
        };
        var producer = await sendTransport.ProduceAsync(options);
        Assert.Equal(ProducerType.Simulcast, producer.Type);
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 0),
        });
        Assert.Equal(ConsumerType.Simulcast, consumer.Type);
        var layers = new List<ConsumerLayers?>();
        consumer.LayersChange += l => { lock (layers) layers.Add(l); };

        // Both streams, temporal pattern 0,2,1,2 (L1T3); only stream 1's TL0 frames must come out.
        var expected = new List<int>();
        for (var i = 0; i < 40; i++)
        {
            var tid = (i % 4) switch { 0 => 0, 1 => 2, 2 => 1, _ => 2 };
            sender.SendRtp(Vp8LayeredPacket(1000, (ushort)(100 + i), (uint)(i * 3000), keyFrame: i == 0, temporalLayer: tid, number: 1000 + i));
            sender.SendRtp(Vp8LayeredPacket(2000, (ushort)(500 + i), (uint)(i * 3000), keyFrame: i == 0, temporalLayer: tid, number: 2000 + i));
            if (tid == 0) expected.Add(2000 + i);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= expected.Count, WaitTimeout));
        await Task.Delay(100);
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(expected, received.Select(p => { RtpPacket.TryParse(p, out var v); return BitConverter.ToInt32(v.Payload[8..]); }));
        RtpPacket.TryParse(received[0], out var first);
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
            Assert.Equal(consumer.RtpParameters.Encodings![0].Ssrc, p.Ssrc);
        }
        lock (layers) Assert.Equal([new ConsumerLayers(1, 0)], layers);
        Assert.Equal(new ConsumerLayers(1, 0), consumer.CurrentLayers);
    }
}
