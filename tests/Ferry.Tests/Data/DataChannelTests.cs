using System.Buffers.Binary;
using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Data.DataFixtures;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Data;

/// <summary>
/// Data producers and consumers over real loopback UDP: the far ends run ICE, DTLS and SCTP built on
/// Ferry.Protocols, with negotiated data channels as mediasoup-client creates them.
/// </summary>
public sealed class DataChannelTests : IAsyncLifetime
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
    public async Task Sctp_parameters_and_state_follow_the_options()
    {
        var plain = await _router.CreateWebRtcTransportAsync(Loopback);
        Assert.Null(plain.SctpParameters);
        Assert.Null(plain.SctpState);
        var sctp = await _router.CreateWebRtcTransportAsync(SctpLoopback with { NumSctpStreams = new NumSctpStreams { Os = 2048, Mis = 512 }, MaxSctpMessageSize = 1_000_000 });
        Assert.Equal(new SctpParameters { Port = 5000, Os = 2048, Mis = 512, MaxMessageSize = 1_000_000 }, sctp.SctpParameters);
        Assert.Equal(SctpStateName.New, sctp.SctpState);
        var defaults = await _router.CreateWebRtcTransportAsync(SctpLoopback);
        Assert.Equal(new SctpParameters { Port = 5000, Os = 1024, Mis = 1024, MaxMessageSize = 262_144 }, defaults.SctpParameters);
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateWebRtcTransportAsync(SctpLoopback with { NumSctpStreams = new NumSctpStreams { Os = 0, Mis = 10 } }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateWebRtcTransportAsync(SctpLoopback with { SctpSendBufferSize = 268_435_457 }));
        var dump = await sctp.DumpAsync();
        Assert.Equal(SctpStateName.New, dump.SctpState);
        Assert.Equal(sctp.SctpParameters, dump.SctpParameters);
        var closing = new List<SctpStateName>();
        sctp.SctpStateChange += closing.Add;
        await sctp.CloseAsync();
        Assert.Equal(SctpStateName.Closed, sctp.SctpState);
    }

    [Fact]
    public async Task ProduceData_validates_as_mediasoup_does()
    {
        var plain = await _router.CreateWebRtcTransportAsync(Loopback);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => plain.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 1 } }));
        Assert.Equal("SCTP not enabled and not a direct Transport", e.Message);

        var transport = await _router.CreateWebRtcTransportAsync(SctpLoopback);
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ProduceDataAsync(new DataProducerOptions()));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ProduceDataAsync(new DataProducerOptions
        {
            SctpStreamParameters = new SctpStreamParameters { StreamId = 999, Ordered = true, MaxPacketLifeTime = 4000 },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ProduceDataAsync(new DataProducerOptions
        {
            SctpStreamParameters = new SctpStreamParameters { StreamId = 998, MaxPacketLifeTime = 4000, MaxRetransmits = 2 },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 1024 } }));

        var first = await transport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 666 }, Label = "foo", Protocol = "bar" });
        Assert.Equal(DataType.Sctp, first.Type);
        Assert.True(first.SctpStreamParameters!.Ordered);
        Assert.Null(first.SctpStreamParameters.MaxPacketLifeTime);
        Assert.Null(first.SctpStreamParameters.MaxRetransmits);
        Assert.Equal("foo", first.Label);
        Assert.Equal("bar", first.Protocol);
        Assert.False(first.Paused);
        var second = await transport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 777, MaxRetransmits = 3 }, Paused = true });
        Assert.False(second.SctpStreamParameters!.Ordered);
        Assert.Equal(3, second.SctpStreamParameters.MaxRetransmits);
        Assert.True(second.Paused);
        await Assert.ThrowsAsync<InvalidOperationException>(() => transport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 666 } }));

        var dump = await _router.DumpAsync();
        Assert.Equal([], dump.MapDataProducerIdDataConsumerIds[first.Id]);
        Assert.Contains(first.Id, (await transport.DumpAsync()).DataProducerIds);
        var stats = Assert.Single(await first.GetStatsAsync());
        Assert.Equal(("data-producer", "foo", "bar", 0L, 0L), (stats.Type, stats.Label, stats.Protocol, stats.MessagesReceived, stats.BytesReceived));
        var producerDump = await first.DumpAsync();
        Assert.Equal(first.SctpStreamParameters, producerDump.SctpStreamParameters);

        await first.CloseAsync();
        Assert.True(first.Closed);
        await Assert.ThrowsAsync<InvalidStateException>(() => first.DumpAsync());
        await Assert.ThrowsAsync<InvalidStateException>(() => first.GetStatsAsync());
        Assert.False((await _router.DumpAsync()).MapDataProducerIdDataConsumerIds.ContainsKey(first.Id));
    }

    [Fact]
    public async Task ConsumeData_allocates_stream_ids_round_robin_and_copies_or_overrides_the_parameters()
    {
        var producing = await _router.CreateWebRtcTransportAsync(SctpLoopback);
        var producer = await producing.ProduceDataAsync(new DataProducerOptions
        {
            SctpStreamParameters = new SctpStreamParameters { StreamId = 12345 % 1024, Ordered = false, MaxPacketLifeTime = 5000 }, Label = "foo", Protocol = "bar",
        });
        var consuming = await _router.CreateWebRtcTransportAsync(SctpLoopback with { NumSctpStreams = new NumSctpStreams { Os = 1024, Mis = 3 } });
        var a = await consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id, MaxPacketLifeTime = 4000, Subchannels = [0, 1, 1, 1, 2, 65535, 65536, 65537, 100] });
        Assert.Equal(DataType.Sctp, a.Type);
        Assert.Equal(0, a.SctpStreamParameters!.StreamId);
        Assert.False(a.SctpStreamParameters.Ordered);
        Assert.Equal(4000, a.SctpStreamParameters.MaxPacketLifeTime);
        Assert.Null(a.SctpStreamParameters.MaxRetransmits);
        Assert.Equal(("foo", "bar"), (a.Label, a.Protocol));
        Assert.Equal([0, 1, 2, 100, 65535], a.Subchannels);
        var b = await consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id, Ordered = true, MaxRetransmits = 2 });
        Assert.Equal(1, b.SctpStreamParameters!.StreamId);
        Assert.Equal((true, (int?)null, (int?)2), (b.SctpStreamParameters.Ordered!.Value, b.SctpStreamParameters.MaxPacketLifeTime, b.SctpStreamParameters.MaxRetransmits));
        var c = await consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id });
        Assert.Equal(2, c.SctpStreamParameters!.StreamId);
        var full = await Assert.ThrowsAsync<InvalidOperationException>(() => consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id }));
        Assert.Equal("no sctpStreamId available", full.Message);
        await a.CloseAsync();
        var d = await consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id });
        Assert.Equal(0, d.SctpStreamParameters!.StreamId);

        var notFound = await Assert.ThrowsAsync<InvalidOperationException>(() => consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = "nope" }));
        Assert.Contains("not found", notFound.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => consuming.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = "" }));
        var plain = await _router.CreateWebRtcTransportAsync(Loopback);
        await Assert.ThrowsAsync<ArgumentException>(() => plain.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id }));

        var dump = await _router.DumpAsync();
        Assert.Equal(new[] { b.Id, c.Id, d.Id }.Order(), dump.MapDataProducerIdDataConsumerIds[producer.Id].Order());
        Assert.Equal(producer.Id, dump.MapDataConsumerIdDataProducerId[c.Id]);
        var consumerDump = await c.DumpAsync();
        Assert.False(consumerDump.DataProducerPaused);
        var stats = Assert.Single(await c.GetStatsAsync());
        Assert.Equal(("data-consumer", 0L, 0L), (stats.Type, stats.MessagesSent, stats.BytesSent));
    }

    [Fact]
    public async Task A_thousand_messages_reach_every_consumer_once_in_order_with_their_ppids()
    {
        // The sender is flow-controlled by Ferry's receive window, Ferry's sends to the receivers only by
        // their send buffers (a message that does not fit is dropped, as in mediasoup): large enough here.
        var (sendTransport, sender) = await ConnectedSctpAsync(_router);
        var (recvTransport1, receiver1) = await ConnectedSctpAsync(_router, SctpLoopback with { SctpSendBufferSize = 16 << 20 });
        var (recvTransport2, receiver2) = await ConnectedSctpAsync(_router, SctpLoopback with { SctpSendBufferSize = 16 << 20 });
        using var s = sender;
        using var r1 = receiver1;
        using var r2 = receiver2;
        var producer = await ProduceChatAsync(sendTransport, sender);
        var consumer1 = await ConsumeAsync(recvTransport1, receiver1, producer);
        var consumer2 = await ConsumeAsync(recvTransport2, receiver2, producer);
        var bufferFull = 0;
        consumer1.SctpSendBufferFull += () => Interlocked.Increment(ref bufferFull);
        consumer2.SctpSendBufferFull += () => Interlocked.Increment(ref bufferFull);

        const int Total = 1000;
        var sent = new List<byte[]>();
        var random = new Random(1000);
        long bytes = 0;
        for (var i = 0; i < Total; i++)
        {
            // Some larger than one SCTP packet (they are cut and reassembled twice: client to Ferry, Ferry to clients).
            var message = Numbered(i, i % 50 == 0 ? random.Next(2000, 60_000) : random.Next(4, 800));
            sent.Add(message);
            bytes += message.Length;
            while (sender.SendData(1, message, isString: i % 2 == 0) == SctpSendResult.BufferFull) await Task.Delay(5);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver1.ReceivedData.Count >= Total && receiver2.ReceivedData.Count >= Total, TimeSpan.FromSeconds(30)),
            $"received {receiver1.ReceivedData.Count} and {receiver2.ReceivedData.Count} of {Total}, {bufferFull} dropped for a full send buffer");
        await Task.Delay(200);
        foreach (var (receiver, consumer) in new[] { (receiver1, consumer1), (receiver2, consumer2) })
        {
            var got = receiver.ReceivedData.ToArray();
            Assert.Equal(Total, got.Length);
            for (var i = 0; i < Total; i++)
            {
                Assert.Equal(consumer.SctpStreamParameters!.StreamId, got[i].StreamId);
                Assert.Equal(i % 2 == 0 ? DataChannelPpid.String : DataChannelPpid.Binary, got[i].Ppid);
                Assert.Equal(sent[i], got[i].Data);
            }
            var cs = Assert.Single(await consumer.GetStatsAsync());
            Assert.Equal(Total, cs.MessagesSent);
            Assert.Equal(bytes, cs.BytesSent);
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => consumer.GetBufferedAmountAsync().Result == 0, WaitTimeout));
        }
        var ps = Assert.Single(await producer.GetStatsAsync());
        Assert.Equal(Total, ps.MessagesReceived);
        Assert.Equal(bytes, ps.BytesReceived);
        Assert.Equal(0, sendTransport.DataMessagesDropped);
        Assert.Equal(SctpStateName.Connected, (await recvTransport1.GetStatsAsync())[0].SctpState);
    }

    [Fact]
    public async Task Closing_cascades_producer_to_consumers_and_transport_to_everything_and_resets_the_channels()
    {
        var (sendTransport, sender) = await ConnectedSctpAsync(_router);
        var (recvTransport, receiver) = await ConnectedSctpAsync(_router);
        using var s = sender;
        using var r = receiver;
        var producer = await ProduceChatAsync(sendTransport, sender);
        var consumer = await ConsumeAsync(recvTransport, receiver, producer);
        var other = await ConsumeAsync(recvTransport, receiver, producer);

        // Closing one consumer resets its stream: the client's channel closes, the other keeps working.
        var otherStream = (ushort)other.SctpStreamParameters!.StreamId;
        var closedEvents = new List<string>();
        other.ObserverClose += () => closedEvents.Add("observer");
        await other.CloseAsync();
        Assert.Equal(["observer"], closedEvents);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.DataEvents.Any(e => e.Kind == DataChannelEventKind.ChannelClosed && e.Channel!.Id == otherStream), WaitTimeout));
        sender.SendData(1, "still here"u8, isString: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedData.Count == 1, WaitTimeout));

        // The producer closes: its consumer gets dataproducerclose, its stream (and the sender's channel) is reset.
        var producerClosed = new TaskCompletionSource();
        consumer.DataProducerClose += () => producerClosed.TrySetResult();
        await producer.CloseAsync();
        await producerClosed.Task.WaitAsync(WaitTimeout);
        Assert.True(consumer.Closed);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.DataEvents.Any(e => e.Kind == DataChannelEventKind.ChannelClosed && e.Channel!.Id == 1), WaitTimeout));
        Assert.Empty((await _router.DumpAsync()).MapDataProducerIdDataConsumerIds);

        // The transport closes: its data producers and consumers go with it.
        var p2 = await ProduceChatAsync(sendTransport, sender, streamId: 3);
        var c2 = await ConsumeAsync(recvTransport, receiver, p2);
        var transportClosed = new List<string>();
        p2.TransportClose += () => transportClosed.Add("producer");
        c2.DataProducerClose += () => transportClosed.Add("consumer-dataproducerclose");
        await sendTransport.CloseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => c2.Closed, WaitTimeout));
        Assert.Equal(["consumer-dataproducerclose", "producer"], transportClosed);
        var c3Closed = new List<string>();
        var p3 = await recvTransport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 9 } });
        p3.TransportClose += () => c3Closed.Add("producer");
        var (thirdTransport, third) = await ConnectedSctpAsync(_router);
        using var t = third;
        var c3 = await ConsumeAsync(thirdTransport, third, p3);
        c3.TransportClose += () => c3Closed.Add("consumer");
        await thirdTransport.CloseAsync();
        Assert.Equal(["consumer"], c3Closed);
        Assert.Equal(SctpStateName.Closed, thirdTransport.SctpState);
    }

    [Fact]
    public async Task Pausing_stops_delivery_and_producer_pause_reaches_consumers()
    {
        var (sendTransport, sender) = await ConnectedSctpAsync(_router);
        var (recvTransport, receiver) = await ConnectedSctpAsync(_router);
        using var s = sender;
        using var r = receiver;
        var producer = await ProduceChatAsync(sendTransport, sender);
        var consumer = await ConsumeAsync(recvTransport, receiver, producer);
        var events = new List<string>();
        consumer.DataProducerPause += () => events.Add("dataproducerpause");
        consumer.DataProducerResume += () => events.Add("dataproducerresume");
        consumer.ObserverPause += () => events.Add("pause");
        consumer.ObserverResume += () => events.Add("resume");

        async Task SendAsync(int i)
        {
            sender.SendData(1, Numbered(i, 10));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.GetStatsAsync().Result[0].MessagesReceived > i, WaitTimeout));
        }
        await SendAsync(0);
        await consumer.PauseAsync();
        await SendAsync(1);
        await consumer.ResumeAsync();
        await producer.PauseAsync();
        await SendAsync(2);
        await producer.ResumeAsync();
        await SendAsync(3);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedData.Count == 2, WaitTimeout));
        await Task.Delay(100);
        Assert.Equal([0, 3], receiver.ReceivedData.Select(m => MessageNumber(m.Data)));
        Assert.Equal(["pause", "resume", "dataproducerpause", "pause", "dataproducerresume", "resume"], events);
        Assert.Equal(4, (await producer.GetStatsAsync())[0].MessagesReceived);
        Assert.Equal(2, (await consumer.GetStatsAsync())[0].MessagesSent);
        Assert.True((await consumer.DumpAsync()).Paused is false);
    }

    [Fact]
    public async Task Bad_sctp_input_is_counted_and_the_association_keeps_working()
    {
        var (transport, client) = await ConnectedSctpAsync(_router);
        using var c = client;
        var producer = await ProduceChatAsync(transport, client);
        client.SendData(1, "before"u8, isString: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.GetStatsAsync().Result[0].MessagesReceived == 1, WaitTimeout));
        var tag = client.ServerSctpTag;

        // Bad checksum, wrong tag, a truncated packet, garbage, a packet for the wrong port.
        var heartbeat = new byte[24];
        var writer = new SctpPacketWriter(heartbeat, 5000, 5000, tag);
        writer.TryAddChunk(SctpChunkType.Heartbeat, 0, [0, 1, 0, 8, 1, 2, 3, 4]);
        var length = writer.Finish();
        var badCrc = heartbeat[..length];
        badCrc[^1] ^= 1;
        client.SendRawSctp(badCrc);
        var wrongTag = heartbeat[..length];
        wrongTag[7] ^= 1;
        SctpPacket.WriteChecksum(wrongTag);
        client.SendRawSctp(wrongTag);
        client.SendRawSctp(heartbeat.AsSpan(0, 7));
        client.SendRawSctp(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 });
        // A message on a stream no data producer uses.
        client.OpenDataChannel(2);
        client.SendData(2, "nobody"u8, isString: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() =>
            transport.SctpCounters!.ChecksumErrors >= 2 && transport.SctpCounters.VerificationTagErrors >= 1 && transport.SctpCounters.MalformedPackets >= 1
            && transport.DataMessagesDropped == 1, WaitTimeout),
            $"checksum {transport.SctpCounters!.ChecksumErrors}, tag {transport.SctpCounters.VerificationTagErrors}, malformed {transport.SctpCounters.MalformedPackets}, dropped {transport.DataMessagesDropped}");
        client.SendData(1, "after"u8, isString: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.GetStatsAsync().Result[0].MessagesReceived == 2, WaitTimeout));
        Assert.Equal(SctpStateName.Connected, transport.SctpState);
    }

    [Fact]
    public async Task Direct_transports_send_and_receive_messages_with_subchannels()
    {
        var direct = await _router.CreateDirectTransportAsync();
        var producer = await direct.ProduceDataAsync(new DataProducerOptions { Label = "d", SctpStreamParameters = new SctpStreamParameters { StreamId = 5 } });
        Assert.Equal(DataType.Direct, producer.Type);
        Assert.Null(producer.SctpStreamParameters);
        var dc1 = await direct.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id, Subchannels = [1, 11, 666] });
        var dc2 = await direct.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = producer.Id, Subchannels = [2, 22, 666] });
        Assert.Equal(DataType.Direct, dc1.Type);
        Assert.Null(dc1.SctpStreamParameters);
        var got1 = new List<(string, uint)>();
        var got2 = new List<(string, uint)>();
        dc1.Message += (data, ppid) => { lock (got1) got1.Add((System.Text.Encoding.UTF8.GetString(data), ppid)); };
        dc2.Message += (data, ppid) => { lock (got2) got2.Add((System.Text.Encoding.UTF8.GetString(data), ppid)); };

        producer.Send("both");                                   // no subchannels: everyone
        producer.Send("one", subchannels: [1]);                  // dc1 only
        producer.Send("666", subchannels: [666]);                // both
        producer.Send("req", subchannels: [666], requiredSubchannel: 2); // dc2 only
        producer.Send("bin"u8, subchannels: [22]);               // dc2 only, binary
        producer.Send("");                                       // empty string: PPID 56 with a placeholder
        await dc2.SetSubchannelsAsync([1, 2, 22, 666]);
        producer.Send("one-again", subchannels: [1]);           // both now
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => got1.Count == 5 && got2.Count == 6, WaitTimeout), $"{got1.Count} {got2.Count}");
        Assert.Equal([("both", 51u), ("one", 51u), ("666", 51u), (" ", 56u), ("one-again", 51u)], got1);
        Assert.Equal([("both", 51u), ("666", 51u), ("req", 51u), ("bin", 53u), (" ", 56u), ("one-again", 51u)], got2);
        Assert.Equal(7, (await producer.GetStatsAsync())[0].MessagesReceived);
        Assert.Equal([1, 2, 22, 666], await dc2.AddSubchannelAsync(2));
        Assert.Equal([1, 2, 22], await dc2.RemoveSubchannelAsync(666));
    }

    [Fact]
    public async Task Direct_and_sctp_data_mix_both_ways()
    {
        var direct = await _router.CreateDirectTransportAsync();
        var (transport, client) = await ConnectedSctpAsync(_router);
        using var c = client;
        // Application to browser: a direct producer consumed over SCTP.
        var fromApp = await direct.ProduceDataAsync(new DataProducerOptions { Label = "bot" });
        var toClient = await ConsumeAsync(transport, client, fromApp);
        Assert.True(toClient.SctpStreamParameters!.Ordered);
        fromApp.Send("hello browser");
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => client.ReceivedData.Count == 1, WaitTimeout));
        Assert.Equal("hello browser"u8.ToArray(), client.ReceivedData.First().Data);
        Assert.Equal(DataChannelPpid.String, client.ReceivedData.First().Ppid);
        await toClient.SendAsync("direct to the consumer's endpoint");
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => client.ReceivedData.Count == 2, WaitTimeout));

        // Browser to application: an SCTP producer consumed by a direct consumer.
        var fromClient = await ProduceChatAsync(transport, client, streamId: 7);
        var toApp = await direct.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = fromClient.Id });
        var got = new TaskCompletionSource<(byte[], uint)>();
        toApp.Message += (data, ppid) => got.TrySetResult((data, ppid));
        client.SendData(7, [9, 8, 7]);
        var (bytes, ppid) = await got.Task.WaitAsync(WaitTimeout);
        Assert.Equal([9, 8, 7], bytes);
        Assert.Equal(DataChannelPpid.Binary, ppid);
        Assert.Throws<InvalidStateException>(() => fromClient.Send("not direct"));
    }
}
