using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Data;
using Ferry.Mobility;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Tests.Transports;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Snapshots;

/// <summary>
/// Snapshots of producers, consumers, data producers and data consumers: export, JSON, import in a fresh
/// worker, export again gives the same data (ages and remaining durations move on by the time between the
/// exports, nothing else changes); and imported objects carry on on the wire.
/// </summary>
public sealed class MediaSnapshotTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private Worker _workerA = null!, _workerB = null!;
    private Router _routerA = null!, _routerB = null!;

    public async Task InitializeAsync()
    {
        _workerA = await Worker.CreateAsync();
        _workerB = await Worker.CreateAsync();
        var options = DefaultRouterOptions with
        {
            MediaCodecs = [.. DefaultRouterOptions.MediaCodecs!, new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP9", ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["profile-id"] = 0 } }],
        };
        _routerA = await _workerA.CreateRouterAsync(options);
        _routerB = await _workerB.CreateRouterAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _workerA.CloseAsync();
        await _workerB.CloseAsync();
    }

    private static Task<T> OnLoop<T>(Transport t, Func<TimeSpan, T> f) => t.InvokeAsync(() => f(t.Loop.Now));

    /// <summary>Through JSON and back must give the same JSON; returns the deserialised copy (what the importer gets).</summary>
    private static T ThroughJson<T>(T snapshot)
    {
        var text = JsonSerializer.Serialize(snapshot, Json);
        var copy = JsonSerializer.Deserialize<T>(text, Json)!;
        Assert.Equal(text, JsonSerializer.Serialize(copy, Json));
        return copy;
    }

    /// <summary>Equal data, except that ages and remaining durations (fields in microseconds) may differ by the time between the exports.</summary>
    private static void AssertSameData<T>(T first, T second)
    {
        var a = JsonSerializer.SerializeToNode(first, Json)!;
        var b = JsonSerializer.SerializeToNode(second, Json)!;
        Compare(a, b, "$");
    }

    private static void Compare(JsonNode? a, JsonNode? b, string path)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            Assert.Equal(oa.Select(p => p.Key).Order(), ob.Select(p => p.Key).Order());
            foreach (var (key, value) in oa)
            {
                // NACKs go on being sent where the object now lives (once per RTT until the retry limit): between
                // two exports the counts may only grow, and a missing packet may have used up more of its retries.
                if (key is "NackCount" or "NackPacketCount" or "NacksRequested" or "MissingRetries" or "GivenUp")
                {
                    CompareGrowing(value, ob[key], $"{path}.{key}");
                    continue;
                }
                if (key.EndsWith("Micros", StringComparison.Ordinal) && !key.StartsWith("KeyFrameRequestDelay", StringComparison.Ordinal) && !key.StartsWith("Rtt", StringComparison.Ordinal) && !key.StartsWith("RoundTrip", StringComparison.Ordinal))
                {
                    CompareDurations(value, ob[key], $"{path}.{key}");
                    continue;
                }
                Compare(value, ob[key], $"{path}.{key}");
            }
            return;
        }
        if (a is JsonArray aa && b is JsonArray ab)
        {
            Assert.True(aa.Count == ab.Count, $"{path}: {aa.Count} items against {ab.Count}");
            for (var i = 0; i < aa.Count; i++) Compare(aa[i], ab[i], $"{path}[{i}]");
            return;
        }
        Assert.True(JsonNode.DeepEquals(a, b), $"{path}: {a?.ToJsonString()} against {b?.ToJsonString()}");
    }

    private static void CompareGrowing(JsonNode? a, JsonNode? b, string path)
    {
        if (a is JsonArray aa && b is JsonArray ab)
        {
            Assert.Equal(aa.Count, ab.Count);
            for (var i = 0; i < aa.Count; i++) CompareGrowing(aa[i], ab[i], $"{path}[{i}]");
            return;
        }
        Assert.True(b!.GetValue<long>() >= a!.GetValue<long>(), $"{path}: {a.ToJsonString()} then {b.ToJsonString()}");
    }

    private static void CompareDurations(JsonNode? a, JsonNode? b, string path)
    {
        if (a is JsonArray aa && b is JsonArray ab)
        {
            Assert.Equal(aa.Count, ab.Count);
            for (var i = 0; i < aa.Count; i++) CompareDurations(aa[i], ab[i], $"{path}[{i}]");
            return;
        }
        var x = a!.GetValue<long>();
        var y = b!.GetValue<long>();
        Assert.True(x < 0 == y < 0, $"{path}: {x} against {y}");
        // The exports are apart by the test's own steps: well under 5 s.
        Assert.True(Math.Abs(x - y) < 5_000_000, $"{path}: {x} against {y}");
    }

    private static async Task<bool> WaitAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow + WaitTimeout;
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return true;
            await Task.Delay(20);
        }
        return false;
    }

    private static PlainTransportOptions Local => new() { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" } };

    /// <summary>Simulcast VP8 by RID with RTX and MID: SSRCs learnt from the first packets.</summary>
    private static ProducerOptions RidSimulcastProducer()
    {
        var options = Vp8Producer();
        return options with
        {
            RtpParameters = options.RtpParameters with
            {
                HeaderExtensions =
                [
                    new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 },
                    new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.RtpStreamId, Id = 10 },
                    new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.RepairedRtpStreamId, Id = 11 },
                ],
                Encodings = [new RtpEncodingParameters { Rid = "r0", ScalabilityMode = "L1T3" }, new RtpEncodingParameters { Rid = "r1", ScalabilityMode = "L1T3" }],
            },
        };
    }

    private static byte[] RidPacket(uint ssrc, ushort seq, uint ts, bool key, int number, string? rid)
    {
        var buffer = new byte[400];
        var w = new RtpPacketWriter(buffer, 96, seq, ts, ssrc, marker: true);
        if (rid is not null)
        {
            w.AddExtension(4, "0"u8);
            w.AddExtension(10, System.Text.Encoding.ASCII.GetBytes(rid));
        }
        var payload = new byte[64];
        payload[0] = 0x10;
        payload[1] = key ? (byte)0 : (byte)1;
        BitConverter.TryWriteBytes(payload.AsSpan(4), number);
        return buffer[..w.SetPayload(payload)];
    }

    [Fact]
    public async Task A_simulcast_producer_with_rtx_round_trips_and_keeps_forwarding_without_relearning_ssrcs()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var inA = await _routerA.CreatePlainTransportAsync(Local with { Comedia = true });
        var producerA = await inA.ProduceAsync(RidSimulcastProducer() with { KeyFrameRequestDelay = TimeSpan.FromMilliseconds(500) });
        // Both streams' SSRCs learnt by MID and RID; a gap on the high one leaves NACK state behind.
        for (var i = 0; i < 20; i++)
        {
            if (i == 12) continue;
            sender.SendRtp(RidPacket(5000, (ushort)(100 + i), (uint)(i * 3000), i == 0, i, "r0"), inA.Tuple.LocalPort);
            sender.SendRtp(RidPacket(6000, (ushort)(900 + i), (uint)(i * 3000), i == 0, 1000 + i, "r1"), inA.Tuple.LocalPort);
        }
        Assert.True(await WaitAsync(async () => (await producerA.GetStatsAsync()).Sum(s => s.PacketCount) >= 38));
        await producerA.PauseAsync();
        var exported = await OnLoop(inA, producerA.ExportSnapshot);
        Assert.Equal([5000u, 6000u], exported.Streams.Select(s => s.Ssrc!.Value));
        Assert.NotEmpty(exported.Streams[1].Nack!.MissingSeqs);
        Assert.True(exported.Paused);

        var inB = await _routerB.CreatePlainTransportAsync(Local with { Comedia = true });
        var producerB = await inB.ImportProducerAsync(ThroughJson(exported));
        Assert.Equal(producerA.Id, producerB.Id);
        Assert.Equal(ProducerType.Simulcast, producerB.Type);
        Assert.True(producerB.Paused);
        AssertSameData(exported, await OnLoop(inB, producerB.ExportSnapshot));
        // Id uniqueness: a second import is refused and leaves the first as it was.
        await Assert.ThrowsAsync<ArgumentException>(() => inB.ImportProducerAsync(exported));
        Assert.Single(await inB.GetProducersAsync());

        // On the wire: packets without MID or RID are found by the SSRCs carried over and reach a consumer.
        await producerB.ResumeAsync();
        var outB = await _routerB.CreatePlainTransportAsync(Local);
        await outB.ConnectAsync("127.0.0.1", receiver.LocalEndPoint.Port);
        var consumer = await outB.ConsumeAsync(new ConsumerOptions { ProducerId = producerB.Id, RtpCapabilities = _routerB.RtpCapabilities, PreferredLayers = new ConsumerLayers(0) });
        for (var i = 20; i < 40; i++)
        {
            sender.SendRtp(RidPacket(5000, (ushort)(100 + i), (uint)(i * 3000), i == 20, i, null), inB.Tuple.LocalPort);
            sender.SendRtp(RidPacket(6000, (ushort)(900 + i), (uint)(i * 3000), i == 20, 1000 + i, null), inB.Tuple.LocalPort);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 20, WaitTimeout), $"received {receiver.ReceivedRtp.Count}");
        Assert.Equal(0, inB.RtpPacketsDropped);
        var stats = await producerB.GetStatsAsync();
        Assert.Equal(exported.Streams[0].PacketCount + 20, stats.Single(s => s.Ssrc == 5000).PacketCount);
        _ = consumer;
    }

    /// <summary>Sets up a producer in router A fed over a PlainTransport and the same producer piped into router B over UDP (the copy).</summary>
    private async Task<(PlainTransport In, Producer Producer, Producer Copy)> Vp8SourceAsync(UdpRtpPeer sender)
    {
        var inA = await _routerA.CreatePlainTransportAsync(Local with { Comedia = true });
        var producer = await inA.ProduceAsync(Vp8Producer());
        // With RTX on the pipe the copy keeps NACK feedback, so it stores packets for retransmissions.
        var piped = await _routerA.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routerB, OverUdp = true, EnableRtx = true });
        return (inA, producer, piped.PipeProducer);
    }

    /// <summary>Waits until <paramref name="producer"/> has received <paramref name="count"/> packets (all its streams).</summary>
    private static async Task WaitForPacketsAsync(Producer producer, long count) =>
        Assert.True(await WaitAsync(async () => (await producer.GetStatsAsync()).Sum(s => s.PacketCount) >= count), $"{producer.Id} received fewer than {count} packets");

    [Fact]
    public async Task A_consumer_moved_to_another_worker_continues_its_stream_on_the_wire()
    {
        using var sender = new UdpRtpPeer();
        using var receiver = new UdpRtpPeer();
        var (inA, producer, copy) = await Vp8SourceAsync(sender);
        var outA = await _routerA.CreatePlainTransportAsync(Local);
        await outA.ConnectAsync("127.0.0.1", receiver.LocalEndPoint.Port);
        var consumerA = await outA.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routerA.RtpCapabilities });
        var outB = await _routerB.CreatePlainTransportAsync(Local);
        await outB.ConnectAsync("127.0.0.1", receiver.LocalEndPoint.Port);

        const ushort FirstSeq = 65500; // the input wraps during the test
        for (var i = 0; i < 50; i++) sender.SendRtp(Vp8Packet(11111111, (ushort)(FirstSeq + i), (uint)(i * 3000), i == 0, i), inA.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 50, WaitTimeout), $"received {receiver.ReceivedRtp.Count}");
        // The piped copy has had them too (its store answers the NACK below, and the imported consumer must find them forwarded).
        await WaitForPacketsAsync(copy, 50);
        // The handover: export and stop the source at one instant, then import on the other worker.
        var snapshot = await OnLoop(outA, now =>
        {
            var s = consumerA.ExportSnapshot(now);
            outA.CloseConsumerOnLoop(consumerA, ConsumerCloseReason.Closed);
            return s;
        });
        var consumerB = await outB.ImportConsumerAsync(ThroughJson(snapshot));
        Assert.Equal(consumerA.Id, consumerB.Id);
        AssertSameData(snapshot, await OnLoop(outB, consumerB.ExportSnapshot));

        // No key frame after the move: the imported consumer must not wait for one.
        for (var i = 50; i < 100; i++) sender.SendRtp(Vp8Packet(11111111, (ushort)(FirstSeq + i), (uint)(i * 3000), false, i), inA.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 100, WaitTimeout), $"received {receiver.ReceivedRtp.Count}");
        // Once the copy has had all 100, the imported consumer has forwarded what it will (on the copy's loop, as it
        // arrives): the last 50, no more (a duplicate of the first 50 would show in its count).
        await WaitForPacketsAsync(copy, 100);
        Assert.Equal(snapshot.Send.PacketCount + 50, (await consumerB.GetStatsAsync())[0].PacketCount);
        var packets = receiver.ReceivedRtp.ToArray().Select(p => { Assert.True(RtpPacket.TryParse(p, out var r)); return (r.Ssrc, r.SequenceNumber, r.Timestamp, Number: BitConverter.ToInt32(r.Payload[4..])); }).ToList();
        Assert.Equal(Enumerable.Range(0, 100), packets.Select(p => p.Number));
        Assert.Single(packets.Select(p => p.Ssrc).Distinct());
        for (var i = 1; i < packets.Count; i++)
        {
            Assert.Equal((ushort)(packets[i - 1].SequenceNumber + 1), packets[i].SequenceNumber);
            Assert.Equal(packets[i - 1].Timestamp + 3000, packets[i].Timestamp);
        }
        Assert.Equal(snapshot.Send.LastOutSeq, (int)packets[49].SequenceNumber);

        // The piped copy numbers as the original: a NACK for a packet sent before the move is answered here, as RTX.
        var rtxSsrc = consumerB.RtxSsrc!.Value;
        var nack = new byte[64];
        var length = Ferry.Protocols.Rtcp.GenericNack.Write(nack, 12345, packets[45].Ssrc, [packets[45].SequenceNumber]);
        receiver.SendRtcp(nack[..length], outB.Tuple.LocalPort);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Any(p => RtpPacket.TryParse(p, out var r) && r.Ssrc == rtxSsrc), WaitTimeout), "no retransmission of a packet sent before the move");
        var rtx = receiver.ReceivedRtp.First(p => RtpPacket.TryParse(p, out var r) && r.Ssrc == rtxSsrc);
        Assert.True(RtpPacket.TryParse(rtx, out var rtxPacket));
        Assert.Equal(packets[45].SequenceNumber, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(rtxPacket.Payload));
        Assert.Equal(45, BitConverter.ToInt32(rtxPacket.Payload[6..]));
    }

    [Fact]
    public async Task Simulcast_svc_and_pipe_consumers_round_trip()
    {
        // Simulcast (VP8, two streams) from a DirectTransport, piped to B in memory.
        var direct = await _routerA.CreateDirectTransportAsync();
        var simulcast = await direct.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var svcProducer = await direct.ProduceAsync(new ProducerOptions
        {
            Kind = MediaKind.Video,
            RtpParameters = new RtpParameters
            {
                Mid = "9",
                Codecs = [new RtpCodecParameters { MimeType = "video/VP9", PayloadType = 98, ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["profile-id"] = 0 }, RtcpFeedback = [new RtcpFeedback { Type = "nack" }] }],
                Encodings = [new RtpEncodingParameters { Ssrc = 7777, ScalabilityMode = "L3T3" }],
            },
        });
        var sink = await _routerA.CreateDirectTransportAsync();
        var simConsumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = simulcast.Id, RtpCapabilities = _routerA.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 1) });
        var svcConsumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = svcProducer.Id, RtpCapabilities = _routerA.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 2) });
        await simConsumer.SetPriorityAsync(7);
        var pipeA = await _routerA.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableRtx = true });
        var pipeConsumer = await pipeA.ConsumeAsync(new ConsumerOptions { ProducerId = simulcast.Id, RtpCapabilities = _routerA.RtpCapabilities });

        foreach (var p in new[] { simulcast, svcProducer }) await _routerA.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = p.Id, Router = _routerB });
        var sinkB = await _routerB.CreateDirectTransportAsync();
        var pipeB = await _routerB.CreatePipeTransportAsync(new PipeTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableRtx = true });

        // Media right before the exports: a snapshot carries the packets sent in the last second (what a NACK can reach).
        var low = new Vp8StreamSource(1000, 100, 100, 10, 10_000);
        var high = new Vp8StreamSource(2000, 65000, 32760, 250, 20_000);
        for (var i = 0; i < 12; i++)
        {
            simulcast.Send(low.Next(keyFrame: i == 0).Packet);
            simulcast.Send(high.Next(keyFrame: i == 0).Packet);
        }
        Assert.True(await WaitAsync(async () => (await simConsumer.GetStatsAsync())[0].PacketCount >= 6));
        foreach (var (transport, consumer, target) in new (Transport, Consumer, Transport)[] { (sink, simConsumer, sinkB), (sink, svcConsumer, sinkB), (pipeA, pipeConsumer, pipeB) })
        {
            var snapshot = await OnLoop(transport, consumer.ExportSnapshot);
            // What is compared includes sent packets (the round trip carries the map of them).
            if (consumer == simConsumer) Assert.NotEmpty(snapshot.Send.Sent.OutSeqs);
            var imported = await target.ImportConsumerAsync(ThroughJson(snapshot));
            Assert.Equal(consumer.Type, imported.Type);
            Assert.Equal(consumer.Priority, imported.Priority);
            Assert.Equal(consumer.PreferredLayers, imported.PreferredLayers);
            Assert.Equal(consumer.CurrentLayers, imported.CurrentLayers);
            AssertSameData(snapshot, await OnLoop(target, imported.ExportSnapshot));
            // Twice on one transport: refused, nothing changes.
            await Assert.ThrowsAsync<InvalidOperationException>(() => target.ImportConsumerAsync(snapshot));
        }
        var simSnapshot = await OnLoop(sink, simConsumer.ExportSnapshot);
        Assert.Equal("simulcast", simSnapshot.Type);
        Assert.NotNull(simSnapshot.Send.DescriptorState);
        Assert.NotEmpty(simSnapshot.Send.Sent.OutSeqs);
        Assert.Equal(2, (await OnLoop(pipeA, pipeConsumer.ExportSnapshot)).PipeStreams.Count);
        Assert.Equal(2, (await sinkB.GetConsumersAsync()).Count);
    }

    [Fact]
    public async Task A_consumer_carries_only_the_packets_sent_in_the_last_second_and_an_import_exports_them_again()
    {
        var direct = await _routerA.CreateDirectTransportAsync();
        var producer = await direct.ProduceAsync(Vp8Producer());
        var sink = await _routerA.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routerA.RtpCapabilities });
        await _routerA.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routerB });
        var source = new Vp8StreamSource(11111111, 1000, 100, 10, 0);
        async Task SendAsync(int count, int total)
        {
            for (var i = 0; i < count; i++) producer.Send(source.Next(keyFrame: total == count && i == 0).Packet);
            Assert.True(await WaitAsync(async () => (await consumer.GetStatsAsync())[0].PacketCount >= total));
        }
        // Ten packets, then more than the window later ten more: only the last ten are still within a NACK's reach.
        await SendAsync(10, 10);
        await Task.Delay(Consumer.SentPacketsWindow + TimeSpan.FromMilliseconds(200));
        await SendAsync(10, 20);
        var snapshot = await OnLoop(sink, consumer.ExportSnapshot);
        var sent = snapshot.Send.Sent;
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (ushort)(snapshot.Send.LastOutSeq - 9 + i)), sent.OutSeqs);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (ushort)(1010 + i)), sent.InSeqs);
        Assert.InRange(sent.SpanMicros, 0, (long)Consumer.SentPacketsWindow.TotalMicroseconds);
        // Imported elsewhere and exported again later: the same entries (the window runs from the newest packet, not the clock).
        var sinkB = await _routerB.CreateDirectTransportAsync();
        var imported = await sinkB.ImportConsumerAsync(ThroughJson(snapshot));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        AssertSameData(snapshot, await OnLoop(sinkB, imported.ExportSnapshot));
    }

    [Fact]
    public async Task A_consumer_of_a_producer_missing_in_the_target_router_is_refused()
    {
        var direct = await _routerA.CreateDirectTransportAsync();
        var producer = await direct.ProduceAsync(OpusProducer());
        var sink = await _routerA.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routerA.RtpCapabilities });
        var snapshot = await OnLoop(sink, consumer.ExportSnapshot);
        var sinkB = await _routerB.CreateDirectTransportAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => sinkB.ImportConsumerAsync(snapshot));
        Assert.Contains(producer.Id, error.Message);
        Assert.Empty(await sinkB.GetConsumersAsync());
        await Assert.ThrowsAsync<NotSupportedException>(() => sinkB.ImportConsumerAsync(snapshot with { Version = 99 }));
    }

    [Fact]
    public async Task Data_producers_and_consumers_round_trip_direct_and_sctp()
    {
        // Direct: messages counted on both sides, then carried over.
        var directA = await _routerA.CreateDirectTransportAsync();
        var dataProducer = await directA.ProduceDataAsync(new DataProducerOptions { Label = "chat", Protocol = "p" });
        var directSinkA = await _routerA.CreateDirectTransportAsync();
        var dataConsumer = await directSinkA.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = dataProducer.Id, Subchannels = [3, 1] });
        var got = 0;
        dataConsumer.Message += (_, _) => Interlocked.Increment(ref got);
        for (var i = 0; i < 5; i++) dataProducer.Send($"m{i}");
        Assert.True(await WaitAsync(async () => (await dataProducer.GetStatsAsync())[0].MessagesReceived == 5));
        await dataConsumer.PauseAsync();

        var p1 = await OnLoop(directA, dataProducer.ExportSnapshot);
        var c1 = await OnLoop(directSinkA, dataConsumer.ExportSnapshot);
        Assert.Equal(5, p1.MessagesReceived);
        var directB = await _routerB.CreateDirectTransportAsync();
        var directSinkB = await _routerB.CreateDirectTransportAsync();
        var producerB = await directB.ImportDataProducerAsync(ThroughJson(p1));
        var consumerB = await directSinkB.ImportDataConsumerAsync(ThroughJson(c1));
        Assert.Equal(dataProducer.Id, producerB.Id);
        Assert.True(consumerB.Paused);
        Assert.Equal([1, 3], consumerB.Subchannels);
        AssertSameData(p1, await OnLoop(directB, producerB.ExportSnapshot));
        AssertSameData(c1, await OnLoop(directSinkB, consumerB.ExportSnapshot));
        await Assert.ThrowsAsync<ArgumentException>(() => directB.ImportDataProducerAsync(p1));

        // SCTP: the consumer keeps its stream id (the endpoint's DataChannel is on it).
        var sctp = new WebRtcTransportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }], EnableSctp = true };
        var webA = await _routerA.CreateWebRtcTransportAsync(sctp);
        var sctpProducer = await webA.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 5, Ordered = false, MaxRetransmits = 3 }, Label = "x" });
        var webSinkA = await _routerA.CreateWebRtcTransportAsync(sctp);
        await webSinkA.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = sctpProducer.Id });
        var sctpConsumer = await webSinkA.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = sctpProducer.Id, Ordered = true });
        var p2 = await OnLoop(webA, sctpProducer.ExportSnapshot);
        var c2 = await OnLoop(webSinkA, sctpConsumer.ExportSnapshot);
        Assert.Equal(1, c2.SctpStream!.StreamId);
        var webB = await _routerB.CreateWebRtcTransportAsync(sctp);
        var webSinkB = await _routerB.CreateWebRtcTransportAsync(sctp);
        var sctpProducerB = await webB.ImportDataProducerAsync(ThroughJson(p2));
        var sctpConsumerB = await webSinkB.ImportDataConsumerAsync(ThroughJson(c2));
        Assert.Equal(1, sctpConsumerB.SctpStreamParameters!.StreamId);
        AssertSameData(p2, await OnLoop(webB, sctpProducerB.ExportSnapshot));
        AssertSameData(c2, await OnLoop(webSinkB, sctpConsumerB.ExportSnapshot));
        // Its stream id is taken now: the next consumer gets another one, and a second import is refused.
        var next = await webSinkB.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = sctpProducerB.Id });
        Assert.NotEqual(1, next.SctpStreamParameters!.StreamId);
        await Assert.ThrowsAsync<InvalidOperationException>(() => webSinkB.ImportDataConsumerAsync(c2 with { Id = "other" }));
    }
}
