using System.Collections.Concurrent;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// pipeToRouter between routers of one process: an in-memory pipe between the loops (no PipeTransport,
/// no socket), with mediasoup's pipeToRouter facts: same id there, pause and close mirrored.
/// </summary>
public sealed class InMemoryPipeTests : ThreeWorkers
{
    private async Task<(DirectTransport Source, Producer Producer)> ProducerOnRouter0Async()
    {
        var source = await _routers[0].CreateDirectTransportAsync();
        return (source, await source.ProduceAsync(Vp8Producer()));
    }

    private static void Send(Producer producer, ref ushort seq, ref int number, int count, bool keyFirst)
    {
        for (var i = 0; i < count; i++, seq++, number++)
            producer.Send(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: keyFirst && i == 0, number: number, mid: "0"));
    }

    [Fact]
    public async Task Media_reaches_a_consumer_in_a_router_on_another_worker_without_a_pipe_transport_continuous_across_a_pause()
    {
        var (source, producer) = await ProducerOnRouter0Async();
        var rtcp = new ConcurrentQueue<byte[]>();
        source.Rtcp += rtcp.Enqueue;
        var (pipeConsumer, pipeProducer) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] });
        Assert.Null(pipeConsumer);
        Assert.Equal(producer.Id, pipeProducer.Id);
        Assert.Same(_routers[1], pipeProducer.Transport.Router);
        Assert.Empty(_routers[0].Transports.OfType<PipeTransport>());
        Assert.Empty(_routers[1].Transports.OfType<PipeTransport>());
        Assert.True(_routers[1].CanConsume(producer.Id, _routers[1].RtpCapabilities));

        var sink = await _routers[1].CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[1].RtpCapabilities });
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;
        // The new consumer's key frame request goes back through the pipe to the original's endpoint.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => rtcp.Any(r => ContainsPli(r, 11111111)), WaitTimeout));

        ushort seq = 65500;
        var number = 0;
        Send(producer, ref seq, ref number, 30, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 30, WaitTimeout));
        await producer.PauseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => consumer.ProducerPaused && pipeProducer.Paused, WaitTimeout));
        Send(producer, ref seq, ref number, 10, keyFirst: false);
        await producer.ResumeAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !consumer.ProducerPaused && !pipeProducer.Paused, WaitTimeout));
        Send(producer, ref seq, ref number, 20, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 50, WaitTimeout));
        await Task.Delay(100);

        var packets = received.ToArray();
        Assert.Equal(Enumerable.Range(0, 30).Concat(Enumerable.Range(40, 20)), packets.Select(NumberOf));
        Protocols.Rtp.RtpPacket.TryParse(packets[0], out var first);
        for (var i = 0; i < packets.Length; i++)
        {
            Assert.True(Protocols.Rtp.RtpPacket.TryParse(packets[i], out var p));
            Assert.Equal(consumer.RtpParameters.Encodings![0].Ssrc, p.Ssrc);
            Assert.Equal((ushort)(first.SequenceNumber + i), p.SequenceNumber);
        }
        var piped = Assert.Single(await pipeProducer.GetStatsAsync());
        Assert.Equal(50, piped.PacketCount);
    }

    [Fact]
    public async Task Closing_the_original_closes_the_piped_producer_and_its_consumers_and_closing_the_piped_producer_leaves_the_original()
    {
        var (source, producer) = await ProducerOnRouter0Async();
        var (_, pipeProducer) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] });
        var sink = await _routers[1].CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[1].RtpCapabilities });
        var closed = new TaskCompletionSource();
        consumer.ProducerClose += () => closed.TrySetResult();
        await producer.CloseAsync();
        await closed.Task.WaitAsync(WaitTimeout);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => pipeProducer.Closed, WaitTimeout));
        Assert.False(_routers[1].CanConsume(producer.Id, _routers[1].RtpCapabilities));

        var second = await source.ProduceAsync(OpusProducer());
        var (_, secondPiped) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = second.Id, Router = _routers[2] });
        await secondPiped.CloseAsync();
        Assert.False(second.Closed);
        Assert.False(_routers[2].CanConsume(second.Id, _routers[2].RtpCapabilities));
        // The original stops feeding the closed pipe, and can be piped there again.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => second.Transport.InvokeAsync(() => second.SinkCount == 0).Result, WaitTimeout));
        var (_, again) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = second.Id, Router = _routers[2] });
        Assert.False(again.Closed);
        Assert.True(_routers[2].CanConsume(second.Id, _routers[2].RtpCapabilities));
    }

    [Fact]
    public async Task Piping_twice_to_the_same_router_or_to_where_the_producer_is_is_a_duplicate_id()
    {
        var (_, producer) = await ProducerOnRouter0Async();
        await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] });
        await Assert.ThrowsAsync<InvalidStateException>(() => _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] }));
        // From the copy in router 1 back to router 0, where the original is.
        await Assert.ThrowsAsync<InvalidStateException>(() => _routers[1].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[0] }));
        // A closed target router.
        await _routers[2].CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(() => _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[2] }));
        Assert.Single(producer.Replicas);
    }

    [Fact]
    public async Task A_piped_producer_that_nothing_consumes_yet_survives_moves_of_the_original_and_then_carries_media()
    {
        var (source, producer) = await ProducerOnRouter0Async();
        var (_, pipeProducer) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] });
        // Moves clean up the copies they made for themselves; the one the application asked for stays.
        // The original's transport moves away and back (the pipe's writer changes loops), and a transport of
        // the piped producer's router moves away and back (each move sweeps idle copies in both routers).
        var extra = await _workers[2].CreateRouterAsync(DefaultRouterOptions);
        await source.MoveToAsync(extra);
        await source.MoveToAsync(_routers[0]);
        var bystander = await _routers[1].CreateDirectTransportAsync();
        await bystander.MoveToAsync(_routers[2]);
        await bystander.MoveToAsync(_routers[1]);
        Assert.False(pipeProducer.Closed);
        Assert.True(_routers[1].CanConsume(producer.Id, _routers[1].RtpCapabilities));

        var sink = await _routers[1].CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[1].RtpCapabilities });
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;
        ushort seq = 100;
        var number = 0;
        Send(producer, ref seq, ref number, 20, keyFirst: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 20, WaitTimeout));
        Assert.Equal(Enumerable.Range(0, 20), received.Select(NumberOf));
    }
}
