using Ferry.Protocols.Bwe;
using Ferry.Protocols.Rtcp;
using Xunit.Abstractions;

namespace Ferry.Protocols.Tests.Bwe;

/// <summary>
/// The send-side estimator against a simulated bottleneck in virtual time (no clock read, no sleep): it
/// ramps up on a path with room, falls under a cut capacity within a bounded time, backs off under loss,
/// follows REMB, and counts what it cannot use.
/// </summary>
public sealed class SendSideBandwidthEstimatorTests(ITestOutputHelper output)
{
    private void Print(string label, List<(TimeSpan At, long Bitrate)> samples)
    {
        var line = string.Join(" ", samples.Where((_, i) => i % 10 == 9).Select(s => $"{s.Bitrate / 1000}"));
        output.WriteLine($"{label} (kbps each second): {line}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void On_a_path_with_room_the_estimate_ramps_up_without_passing_the_capacity_by_much(int seed)
    {
        var link = new BweLink(seed, initialBitrate: 300_000, capacity: 3_000_000);
        var samples = link.Run(TimeSpan.FromSeconds(40));
        Print("ramp", samples);
        var at = (int s) => samples[s * 10 - 1].Bitrate;
        Assert.True(at(10) > 450_000, $"after 10 s: {at(10)}");
        Assert.True(at(20) > 1_000_000, $"after 20 s: {at(20)}");
        Assert.True(samples.Max(s => s.Bitrate) < 3_600_000, $"peak {samples.Max(s => s.Bitrate)}");
        // It ends near the capacity: at least half of it over the last 10 s.
        Assert.True(samples.Skip(300).Average(s => s.Bitrate) > 1_500_000);
        Assert.Equal(0, link.Estimator.UnknownSequenceReports);
        Assert.Equal(0, link.Estimator.MalformedFeedback);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void After_a_capacity_cut_the_estimate_falls_below_the_new_capacity_within_two_seconds(int seed)
    {
        var link = new BweLink(seed, initialBitrate: 1_500_000, capacity: 2_000_000);
        Print("before", link.Run(TimeSpan.FromSeconds(10)));
        Assert.True(link.Estimator.AvailableBitrate > 1_000_000);
        link.SetPath(500_000);
        var cutAt = link.Network.Now;
        var samples = link.Run(TimeSpan.FromSeconds(15));
        Print("after the cut", samples);
        var below = samples.FindIndex(s => s.Bitrate < 500_000);
        Assert.True(below >= 0, "never fell below the capacity");
        Assert.True(samples[below].At - cutAt <= TimeSpan.FromSeconds(2), $"took {samples[below].At - cutAt}");
        // And it stays around the capacity rather than far above it.
        Assert.True(samples.Skip(50).Average(s => s.Bitrate) < 600_000, $"mean {samples.Skip(50).Average(s => s.Bitrate)}");
        Assert.True(samples.Skip(50).Average(s => s.Bitrate) > 250_000, $"mean {samples.Skip(50).Average(s => s.Bitrate)}");
    }

    [Fact]
    public void Loss_without_congestion_brings_the_estimate_down()
    {
        var link = new BweLink(4, initialBitrate: 1_000_000, capacity: 10_000_000) { MediaRate = 1_000_000 };
        link.Run(TimeSpan.FromSeconds(5));
        var before = link.Estimator.AvailableBitrate;
        Assert.True(before >= 1_000_000);
        link.SetPath(10_000_000, loss: 0.2);
        var samples = link.Run(TimeSpan.FromSeconds(6));
        Print("loss", samples);
        Assert.True(samples[^1].Bitrate < before * 0.6, $"{before} then {samples[^1].Bitrate}");
        Assert.InRange(link.Estimator.LossRatio, 0.1, 0.3);
        Assert.Equal(BandwidthUsage.Normal, link.Estimator.DelayState);
    }

    [Fact]
    public void Padding_lets_an_application_limited_sender_climb_toward_what_it_wants()
    {
        var link = new BweLink(5, initialBitrate: 300_000, capacity: 5_000_000) { MediaRate = 150_000, WantedRate = 1_200_000 };
        link.Estimator.SetDesiredBitrate(1_200_000, TimeSpan.Zero);
        var samples = link.Run(TimeSpan.FromSeconds(30));
        Print("padding ramp", samples);
        Assert.True(samples[^1].Bitrate >= 1_200_000, $"reached {samples[^1].Bitrate}");
        Assert.True(link.PaddingBytes > 0);
        // Without padding the same sender stays near 1.5 times what it sends.
        var idle = new BweLink(5, initialBitrate: 300_000, capacity: 5_000_000) { MediaRate = 150_000 };
        idle.Estimator.SetDesiredBitrate(1_200_000, TimeSpan.Zero);
        var flat = idle.Run(TimeSpan.FromSeconds(30));
        Assert.True(flat[^1].Bitrate <= 400_000, $"without padding {flat[^1].Bitrate}");
    }

    [Fact]
    public void Padding_stops_when_the_path_is_congested()
    {
        var link = new BweLink(6, initialBitrate: 800_000, capacity: 400_000) { MediaRate = 200_000, WantedRate = 2_000_000 };
        var samples = link.Run(TimeSpan.FromSeconds(20));
        Print("capped padding", samples);
        // Padding tries, the path pushes back: the estimate stays near the capacity.
        Assert.True(samples.Skip(100).Average(s => s.Bitrate) < 500_000, $"mean {samples.Skip(100).Average(s => s.Bitrate)}");
    }

    [Fact]
    public void Remb_alone_is_the_estimate_and_caps_transport_cc()
    {
        var estimator = new SendSideBandwidthEstimator(600_000);
        estimator.SetDesiredBitrate(5_000_000, TimeSpan.Zero);
        Assert.True(estimator.OnRemb(400_000, TimeSpan.FromSeconds(1)));
        Assert.Equal(BweFeedbackKind.Remb, estimator.FeedbackKind);
        Assert.Equal(400_000, estimator.AvailableBitrate);
        estimator.OnRemb(2_000_000, TimeSpan.FromSeconds(2));
        Assert.Equal(2_000_000, estimator.AvailableBitrate);
        // Below the floor it is the floor; a loss report in REMB mode still counts.
        estimator.OnRemb(1_000, TimeSpan.FromSeconds(3));
        Assert.Equal(SendSideBandwidthEstimator.MinBitrateFloor, estimator.AvailableBitrate);

        var link = new BweLink(7, initialBitrate: 1_000_000, capacity: 5_000_000);
        link.Run(TimeSpan.FromSeconds(3));
        link.Estimator.OnRemb(300_000, link.Network.Now);
        Assert.Equal(300_000, link.Estimator.AvailableBitrate);
        Assert.Equal(BweFeedbackKind.TransportCc, link.Estimator.FeedbackKind);
    }

    [Fact]
    public void Bounds_hold_and_the_desired_bitrate_caps_the_estimate()
    {
        var link = new BweLink(8, initialBitrate: 300_000, capacity: 10_000_000);
        link.Estimator.SetLimits(200_000, 800_000);
        link.Run(TimeSpan.FromSeconds(30));
        Assert.Equal(800_000, link.Estimator.AvailableBitrate);
        link.Estimator.SetLimits(0, 0);
        link.Estimator.SetDesiredBitrate(500_000, link.Network.Now);
        // The desired bitrate's trend decays slowly: the cap follows it down, never below the initial estimate.
        link.Run(TimeSpan.FromSeconds(60));
        Assert.True(link.Estimator.AvailableBitrate <= link.Estimator.MaxBitrate);
        Assert.True(link.Estimator.MaxBitrate < 20_000_000 * 1.35);
        link.Estimator.SetLimits(900_000, 0);
        Assert.True(link.Estimator.AvailableBitrate >= 900_000);
    }

    [Fact]
    public void Garbage_feedback_is_counted_and_changes_nothing()
    {
        var estimator = new SendSideBandwidthEstimator(600_000);
        for (var i = 0; i < 100; i++) estimator.OnPacketSent((ushort)(1000 + i), 1000, TimeSpan.FromMilliseconds(i));
        var random = new Random(9);
        var buffer = new byte[400];
        for (var i = 0; i < 2000; i++)
        {
            var length = 16 + 4 * random.Next(0, 90);
            random.NextBytes(buffer.AsSpan(0, length));
            // A well-formed header for a transport-cc feedback around random contents.
            buffer[0] = 0x8F;
            buffer[1] = RtcpPacketType.TransportFeedback;
            buffer[2] = (byte)((length / 4 - 1) >> 8);
            buffer[3] = (byte)(length / 4 - 1);
            var e = new RtcpCompoundEnumerator(buffer.AsSpan(0, length));
            while (e.MoveNext()) estimator.OnTransportCcFeedback(e.Current, TimeSpan.FromSeconds(1));
        }
        Assert.True(estimator.MalformedFeedback > 0);
        Assert.True(estimator.UnknownSequenceReports > 0);

        // Well-formed feedback for numbers never sent.
        var builder = new TransportCcBuilder();
        for (var s = 40000; s < 40050; s++) builder.OnPacket((ushort)s, s * 1000L);
        var n = builder.Write(buffer, 1, 2);
        var unknownBefore = estimator.UnknownSequenceReports;
        var f = new RtcpCompoundEnumerator(buffer.AsSpan(0, n));
        Assert.True(f.MoveNext());
        Assert.True(estimator.OnTransportCcFeedback(f.Current, TimeSpan.FromSeconds(2)));
        Assert.Equal(unknownBefore + 50, estimator.UnknownSequenceReports);

        Assert.False(estimator.OnRemb(ulong.MaxValue, TimeSpan.FromSeconds(3)));
        Assert.Equal(1, estimator.AbsurdRemb);
        Assert.InRange(estimator.AvailableBitrate, SendSideBandwidthEstimator.MinBitrateFloor, 600_000);
    }

    [Fact]
    public void Repeated_feedback_counts_once()
    {
        var estimator = new SendSideBandwidthEstimator(600_000);
        var builder = new TransportCcBuilder();
        for (var i = 0; i < 50; i++)
        {
            estimator.OnPacketSent((ushort)i, 1000, TimeSpan.FromMilliseconds(i * 5));
            builder.OnPacket((ushort)i, 30_000 + i * 5000L);
        }
        var buffer = new byte[1500];
        var n = builder.Write(buffer, 1, 2);
        for (var repeat = 0; repeat < 2; repeat++)
        {
            var e = new RtcpCompoundEnumerator(buffer.AsSpan(0, n));
            Assert.True(e.MoveNext());
            Assert.True(estimator.OnTransportCcFeedback(e.Current, TimeSpan.FromMilliseconds(400)));
        }
        Assert.Equal(50, estimator.PacketsReportedReceived);
        Assert.Equal(50, estimator.DuplicateReports);
    }

    [Fact]
    public void Sending_and_feedback_do_not_allocate()
    {
        var estimator = new SendSideBandwidthEstimator(600_000);
        var builder = new TransportCcBuilder();
        var buffer = new byte[1500];
        var feedbacks = new List<byte[]>();
        for (var round = 0; round < 200; round++)
        {
            for (var i = 0; i < 20; i++)
            {
                var seq = (ushort)(round * 20 + i);
                if (i != 7) builder.OnPacket(seq, (round * 100 + i * 5) * 1000L + 30_000);
            }
            var n = builder.Write(buffer, 1, 2);
            feedbacks.Add(buffer[..n]);
        }
        // The same work on a fresh estimator each round (the first warms up).
        var rounds = new SteadyStateRounds();
        while (rounds.Count < SteadyStateRounds.Max && !rounds.Reached)
        {
            var fresh = rounds.Count == 1 ? estimator : new SendSideBandwidthEstimator(600_000);
            rounds.Begin();
            Drive(fresh, feedbacks);
            rounds.End();
        }
        rounds.AssertReached("200 feedbacks");

        static void Drive(SendSideBandwidthEstimator e, List<byte[]> feedbacks)
        {
            for (var round = 0; round < feedbacks.Count; round++)
            {
                for (var i = 0; i < 20; i++) e.OnPacketSent((ushort)(round * 20 + i), 1000, TimeSpan.FromMilliseconds(round * 100 + i * 5));
                var r = new RtcpCompoundEnumerator(feedbacks[round]);
                while (r.MoveNext()) e.OnTransportCcFeedback(r.Current, TimeSpan.FromMilliseconds(round * 100 + 150));
                e.PaddingBitrate(100_000, 1_000_000, TimeSpan.FromMilliseconds(round * 100 + 150));
            }
        }
    }
}
