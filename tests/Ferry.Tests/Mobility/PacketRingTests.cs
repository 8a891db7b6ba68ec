using Ferry.Mobility;

namespace Ferry.Tests.Mobility;

public sealed class PacketRingTests
{
    private static byte[] Packet(int number, int length)
    {
        var p = new byte[length];
        for (var i = 0; i < length; i++) p[i] = (byte)(number * 31 + i);
        if (length >= 4) BitConverter.TryWriteBytes(p, number);
        return p;
    }

    [Fact]
    public void Packets_of_any_size_come_out_whole_and_in_order_across_many_wraps()
    {
        var ring = new PacketRing(16 * 1024);
        var random = new Random(7);
        var written = new Queue<byte[]>();
        var number = 0;
        for (var round = 0; round < 5000; round++)
        {
            // Write a few, read a few: the positions walk round the ring hundreds of times.
            for (var i = random.Next(4); i > 0; i--)
            {
                var p = Packet(number, random.Next(0, PacketRing.MaxPacket + 1));
                if (!ring.TryWrite(p)) break;
                written.Enqueue(p);
                number++;
            }
            for (var i = random.Next(4); i > 0 && ring.TryPeek(out var packet); i--)
            {
                Assert.Equal(written.Dequeue(), packet.ToArray());
                ring.Advance();
            }
        }
        while (ring.TryPeek(out var packet))
        {
            Assert.Equal(written.Dequeue(), packet.ToArray());
            ring.Advance();
        }
        Assert.Empty(written);
        Assert.True(ring.IsEmpty);
    }

    [Fact]
    public void A_full_ring_or_an_oversized_packet_is_refused_and_the_ring_goes_on()
    {
        var ring = new PacketRing(8 * 1024);
        Assert.False(ring.TryWrite(new byte[PacketRing.MaxPacket + 1]));
        var accepted = 0;
        while (ring.TryWrite(Packet(accepted, 1000))) accepted++;
        Assert.InRange(accepted, 7, 8);
        Assert.True(ring.TryPeek(out var first));
        Assert.Equal(0, BitConverter.ToInt32(first));
        ring.Advance();
        Assert.True(ring.TryWrite(Packet(accepted, 1000)));
        for (var n = 1; n <= accepted; n++)
        {
            Assert.True(ring.TryPeek(out var p));
            Assert.Equal(n, BitConverter.ToInt32(p));
            ring.Advance();
        }
        Assert.False(ring.TryPeek(out _));
    }

    [Fact]
    public async Task One_writer_thread_and_one_reader_thread_lose_and_reorder_nothing()
    {
        var ring = new PacketRing(32 * 1024);
        const int Total = 50_000;
        var writer = Task.Run(() =>
        {
            var random = new Random(3);
            for (var n = 0; n < Total; n++)
            {
                var p = Packet(n, random.Next(4, 1300));
                while (!ring.TryWrite(p)) Thread.Yield();
            }
        });
        var reader = Task.Run(() =>
        {
            var random = new Random(3);
            for (var n = 0; n < Total;)
            {
                if (!ring.TryPeek(out var packet))
                {
                    Thread.Yield();
                    continue;
                }
                var expected = Packet(n, random.Next(4, 1300));
                if (!packet.SequenceEqual(expected)) throw new InvalidOperationException($"packet {n} corrupt or out of order");
                ring.Advance();
                n++;
            }
        });
        await Task.WhenAll(writer, reader).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(ring.IsEmpty);
    }
}
