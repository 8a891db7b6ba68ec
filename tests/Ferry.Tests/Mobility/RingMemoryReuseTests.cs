using System.Collections.Concurrent;
using Ferry.Mobility;
using Ferry.Rtp;
using Ferry.Transports;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// In-process pipes take their rings' memory from a pool and give it back once both ends are done, so
/// moves do not allocate a large array per pipe (each one a step towards a collection that stops every
/// worker). Alone in its collection: the pool is process-wide and other tests' pipes would use it.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class RingMemoryReuseTests : ThreeWorkers
{
    [Fact]
    public async Task Pipes_made_and_removed_twenty_times_reuse_their_ring_memory_and_deliver_every_packet_each_time()
    {
        var source = await _routers[0].CreateDirectTransportAsync();
        var producer = await source.ProduceAsync(Vp8Producer());
        var sink = await _routers[1].CreateDirectTransportAsync();
        var freshBefore = RingMemoryPool.FreshArrays;
        ushort seq = 1;
        var number = 0;
        for (var round = 0; round < 20; round++)
        {
            var (_, piped) = await _routers[0].PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = _routers[1] });
            var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[1].RtpCapabilities });
            var received = new ConcurrentQueue<byte[]>();
            consumer.Rtp += received.Enqueue;
            var first = number;
            for (var i = 0; i < 40; i++, seq++, number++)
                producer.Send(Vp8Packet(11111111, seq, (uint)(seq * 3000), keyFrame: i == 0, number: number, mid: "0"));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 40, WaitTimeout), $"round {round}: {received.Count} of 40");
            Assert.Equal(Enumerable.Range(first, 40), received.Select(NumberOf));
            var keptBefore = RingMemoryPool.KeptBytes;
            await piped.CloseAsync();
            // The writer lets go on the origin's loop, then the reader's loop returns the memory.
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => RingMemoryPool.KeptBytes > keptBefore, WaitTimeout), $"round {round}: ring memory not returned");
        }
        // The first pipe's ring is new; every later one reuses it.
        Assert.InRange(RingMemoryPool.FreshArrays - freshBefore, 0, 1);
    }
}
