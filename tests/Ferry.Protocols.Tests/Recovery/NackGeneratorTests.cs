using Ferry.Protocols.Recovery;

namespace Ferry.Protocols.Tests.Recovery;

public class NackGeneratorTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static ushort[] Poll(NackGenerator g, TimeSpan now)
    {
        Span<ushort> buffer = stackalloc ushort[2000];
        return buffer[..g.PollNacks(now, buffer)].ToArray();
    }

    [Fact]
    public void In_order_packets_need_no_nack()
    {
        var g = new NackGenerator();
        for (var i = 0; i < 100; i++) Assert.Equal(NackReceiveResult.InOrder, g.ReceivePacket((ushort)i, false, Ms(i)));
        Assert.Equal(TimeSpan.MaxValue, g.NextTimeout);
        Assert.Empty(Poll(g, Ms(1000)));
    }

    [Fact]
    public void A_retransmission_recovers_only_an_awaited_packet_and_changes_nothing_otherwise()
    {
        var g = new NackGenerator();
        Assert.False(g.TryRecover(5, false));
        g.ReceivePacket(10, false, Ms(0));
        g.ReceivePacket(13, false, Ms(0));
        // Resends of packets already received (a sender's padding) and of packets never sent yet.
        Assert.False(g.TryRecover(10, false));
        Assert.False(g.TryRecover(13, false));
        Assert.False(g.TryRecover(20, false));
        Assert.Equal(2, g.MissingCount);
        // 20 moved nothing: 14 is still the next in order.
        Assert.Equal(NackReceiveResult.InOrder, g.ReceivePacket(14, false, Ms(1)));
        Assert.True(g.TryRecover(12, false));
        Assert.False(g.TryRecover(12, false));
        Assert.Equal(1, g.MissingCount);
        Assert.Equal(1, g.Recovered);
        Assert.Equal(new ushort[] { 11 }, Poll(g, Ms(10)));
    }

    [Fact]
    public void A_gap_is_nacked_after_the_delay_then_once_per_rtt_until_the_retry_limit()
    {
        var g = new NackGenerator(new NackGeneratorOptions { MaxRetries = 3 });
        g.ReceivePacket(10, false, Ms(0));
        Assert.Equal(NackReceiveResult.GapDetected, g.ReceivePacket(13, false, Ms(0)));
        Assert.Equal(2, g.MissingCount);
        Assert.Equal(Ms(10), g.NextTimeout);
        Assert.Empty(Poll(g, Ms(9)));
        Assert.Equal(new ushort[] { 11, 12 }, Poll(g, Ms(10)));
        Assert.Equal(Ms(110), g.NextTimeout);
        Assert.Empty(Poll(g, Ms(109)));
        Assert.Equal(new ushort[] { 11, 12 }, Poll(g, Ms(110)));
        Assert.Equal(new ushort[] { 11, 12 }, Poll(g, Ms(210)));
        // Third retry was the last: the fourth due time gives them up.
        Assert.Empty(Poll(g, Ms(310)));
        Assert.Equal(0, g.MissingCount);
        Assert.Equal(2, g.GivenUp);
        Assert.Equal(6, g.NacksRequested);
    }

    [Fact]
    public void A_late_or_retransmitted_packet_is_recovered_and_no_longer_nacked()
    {
        var g = new NackGenerator();
        g.ReceivePacket(100, false, Ms(0));
        g.ReceivePacket(105, false, Ms(0));
        Assert.Equal(NackReceiveResult.Recovered, g.ReceivePacket(102, false, Ms(5)));
        Assert.Equal(NackReceiveResult.Old, g.ReceivePacket(102, false, Ms(6)));
        Assert.Equal(new ushort[] { 101, 103, 104 }, Poll(g, Ms(10)));
        Assert.Equal(1, g.Recovered);
    }

    [Fact]
    public void Rtt_sets_the_retry_interval()
    {
        var g = new NackGenerator { Rtt = Ms(40) };
        g.ReceivePacket(1, false, Ms(0));
        g.ReceivePacket(3, false, Ms(0));
        Poll(g, Ms(10));
        Assert.Equal(Ms(50), g.NextTimeout);
    }

    [Fact]
    public void Gaps_across_the_sequence_wrap_are_nacked_with_their_16_bit_numbers()
    {
        var g = new NackGenerator();
        g.ReceivePacket(65533, false, Ms(0));
        Assert.Equal(NackReceiveResult.GapDetected, g.ReceivePacket(2, false, Ms(0)));
        Assert.Equal(new ushort[] { 65534, 65535, 0, 1 }, Poll(g, Ms(10)));
        Assert.Equal(NackReceiveResult.Recovered, g.ReceivePacket(65535, false, Ms(11)));
        Assert.Equal(NackReceiveResult.Recovered, g.ReceivePacket(0, false, Ms(11)));
        Assert.Equal(2, g.MissingCount);
    }

    [Fact]
    public void An_overflowing_gap_trims_to_the_last_key_frame_or_asks_for_one()
    {
        var g = new NackGenerator(new NackGeneratorOptions { MaxEntries = 100 });
        g.ReceivePacket(0, false, Ms(0));
        g.ReceivePacket(60, false, Ms(0));            // 59 missing
        g.ReceivePacket(61, isKeyFrame: true, Ms(0));
        Assert.Equal(NackReceiveResult.GapDetected, g.ReceivePacket(120, false, Ms(0))); // 58 more: overflow, trimmed to key frame 61
        Assert.Equal(58, g.MissingCount);
        Assert.Equal(59, g.GivenUp);
        Assert.Equal(NackReceiveResult.KeyFrameRequired, g.ReceivePacket(1000, false, Ms(0)));
        Assert.Equal(0, g.MissingCount);
        Assert.Equal(NackReceiveResult.InOrder, g.ReceivePacket(1001, false, Ms(1)));
    }

    [Fact]
    public void Random_sequences_never_throw_and_keep_the_list_sorted_and_bounded()
    {
        var random = new Random(1234);
        var g = new NackGenerator(new NackGeneratorOptions { MaxEntries = 500 });
        var now = TimeSpan.Zero;
        ushort seq = 0;
        for (var i = 0; i < 100_000; i++)
        {
            now += Ms(random.Next(0, 3));
            seq = (ushort)(random.Next(10) switch { 0 => random.Next(65536), < 3 => seq + random.Next(1, 50), < 5 => seq - random.Next(0, 30), _ => seq + 1 });
            g.ReceivePacket(seq, random.Next(50) == 0, now);
            var nacks = Poll(g, now);
            for (var k = 1; k < nacks.Length; k++) Assert.NotEqual(nacks[k - 1], nacks[k]);
            Assert.InRange(g.MissingCount, 0, 500);
        }
    }

    [Fact]
    public void Steady_reception_with_loss_allocates_nothing()
    {
        var g = new NackGenerator();
        Span<ushort> buffer = stackalloc ushort[64];
        var now = TimeSpan.Zero;
        var rounds = new SteadyStateRounds();
        for (var warm = 0; warm < SteadyStateRounds.Max && !rounds.Reached; warm++)
        {
            rounds.Begin();
            for (var i = 0; i < 20_000; i++)
            {
                now += Ms(1);
                if (i % 7 == 3) continue;
                g.ReceivePacket((ushort)(i + warm * 20_000), false, now);
                g.PollNacks(now, buffer);
            }
            rounds.End();
        }
        rounds.AssertReached("20,000 packets");
    }
}
