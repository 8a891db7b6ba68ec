using System.Text.Json;
using Ferry.Mobility;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// <see cref="TakeoverCarryForward"/> on its own: a real router copy (a VP8 producer and its consumer on one transport,
/// media sent), its numbers set where a test wants them, carried forward, and every jumped number checked against the
/// formula of docs/mobility.md ("Failover"): 16-bit wrap with the SRTP rollover counter, the measured rate, the
/// refusal of a copy too old for a 16-bit jump, timestamps.
/// </summary>
public sealed class TakeoverCarryForwardTests : ThreeWorkers
{
    // No slack, so a 1 s age is a 1 s window: video J = 1000 + 64, SRTCP 200 + 64, DTLS 5000 + 64, timestamp 90000.
    private static readonly TakeoverMargins NoSlack = new() { Slack = TimeSpan.Zero };
    private const int VideoJump = 1000 + 64;

    /// <summary>A copy of a transport whose consumer sent 20 VP8 packets; the consumer's SSRC and RTX SSRC.</summary>
    private async Task<(WebRtcTransportSnapshot Copy, uint Ssrc, uint Rtx)> CopyAsync()
    {
        var (transport, far) = await ConnectedAsync(_routers[0]);
        using var _ = far;
        var producer = await transport.ProduceAsync(Vp8Producer());
        await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[0].RtpCapabilities });
        for (var i = 0; i < 20; i++) far.SendRtp(Vp8Packet(11111111, (ushort)(100 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => far.ReceivedRtp.Count >= 20, WaitTimeout));
        var copy = (await _routers[0].CheckpointAsync()).Snapshot.Transports.Single();
        var encoding = JsonSerializer.Deserialize(copy.Consumers.Single().RtpParameters, OrtcJson.Default.RtpParameters)!.Encodings![0];
        return (copy, encoding.Ssrc!.Value, encoding.Rtx!.Ssrc);
    }

    /// <summary>The copy with its consumer's send state changed by <paramref name="send"/> and its SRTP stream for <paramref name="ssrc"/> by <paramref name="srtp"/>.</summary>
    private static WebRtcTransportSnapshot With(WebRtcTransportSnapshot copy, Func<SendStreamSnapshot, SendStreamSnapshot> send, uint ssrc, Func<Protocols.Srtp.SrtpStreamState, Protocols.Srtp.SrtpStreamState>? srtp = null) => copy with
    {
        Consumers = [copy.Consumers[0] with { Send = send(copy.Consumers[0].Send) }],
        SrtpSend = copy.SrtpSend! with { Streams = copy.SrtpSend.Streams.Select(s => s.Ssrc == ssrc && srtp is not null ? srtp(s) : s).ToArray() },
    };

    [Fact]
    public async Task A_jump_across_65535_wraps_the_sequence_number_and_increments_the_rollover_counter()
    {
        var (copy, ssrc, rtx) = await CopyAsync();
        // Nothing measured: the floor rate alone decides the jump.
        copy = With(copy, s => s with { LastOutSeq = 65500, RtxSeq = 65530, Sent = new SentPacketsSnapshot() }, ssrc, s => s with { Roc = 7, HighestSeq = 65500 });
        var before = copy.SrtpSend!.Streams.Single(s => s.Ssrc == ssrc);

        var carried = TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(1), NoSlack);

        var send = carried.Consumers[0].Send;
        Assert.Equal((65500 + VideoJump) & 0xFFFF, send.LastOutSeq);
        Assert.Equal((65530 + VideoJump) & 0xFFFF, send.RtxSeq);
        Assert.True(send.SyncRequired, "the consumer restarts from a key frame");
        Assert.Empty(send.Sent.OutSeqs);
        var stream = carried.SrtpSend!.Streams.Single(s => s.Ssrc == ssrc);
        // The SRTP index (ROC << 16 | SEQ) moved by exactly the jump: the sequence number wrapped, the rollover counter went to 8.
        Assert.Equal(8u, stream.Roc);
        Assert.Equal((ushort)((65500 + VideoJump) & 0xFFFF), stream.HighestSeq);
        Assert.Equal((7L << 16 | 65500) + VideoJump, (long)stream.Roc << 16 | stream.HighestSeq);
        Assert.Equal(before.RtcpIndex + 200 + 64, stream.RtcpIndex);
        // The RTX stream jumps by its consumer's margin too (when it has sent; else it stays unstarted).
        var rtxBefore = copy.SrtpSend.Streams.SingleOrDefault(s => s.Ssrc == rtx);
        var rtxAfter = carried.SrtpSend.Streams.SingleOrDefault(s => s.Ssrc == rtx);
        if (rtxBefore is { Started: true })
            Assert.Equal(((long)rtxBefore.Roc << 16 | rtxBefore.HighestSeq) + VideoJump, (long)rtxAfter!.Roc << 16 | rtxAfter.HighestSeq);
        Assert.Equal(copy.Dtls.WriteSequence + 5000 + 64, carried.Dtls.WriteSequence);
        Assert.Equal((byte)(copy.Core.FirSequence + 16), carried.Core.FirSequence);
        Assert.Equal((ushort)(copy.Core.TransportWideSeq + VideoJump + 64), carried.Core.TransportWideSeq);
    }

    [Fact]
    public async Task A_measured_rate_above_the_floor_decides_the_jump_with_its_factor()
    {
        var (copy, ssrc, _) = await CopyAsync();
        // 101 packets over 50 ms: 2000 packets/s measured, times RateFactor 2 = 4000/s, above the 1000/s floor.
        var sent = new SentPacketsSnapshot { SpanMicros = 50_000, OutSeqs = Enumerable.Range(0, 101).Select(i => (ushort)(1000 + i)).ToArray() };
        copy = With(copy, s => s with { LastOutSeq = 1100, Sent = sent }, ssrc, s => s with { Roc = 0, HighestSeq = 1100 });
        Assert.Equal(2000, TakeoverCarryForward.MeasuredRate(sent), 6);

        var carried = TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(1), NoSlack);

        Assert.Equal(1100 + 4000 + 64, carried.Consumers[0].Send.LastOutSeq);
        Assert.Equal(1100 + 4000 + 64, carried.SrtpSend!.Streams.Single(s => s.Ssrc == ssrc).HighestSeq);
    }

    [Fact]
    public async Task A_copy_too_old_for_a_16_bit_jump_is_refused_and_one_just_young_enough_is_not()
    {
        var (copy, ssrc, _) = await CopyAsync();
        copy = With(copy, s => s with { Sent = new SentPacketsSnapshot() }, ssrc);
        // 32 s at 1000/s + 64 = 32064 < 32768: carried. 33 s = 33064: the far end would take the packets for old ones.
        var young = TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(32), NoSlack);
        Assert.Equal((ushort)(copy.Consumers[0].Send.LastOutSeq + 32064), young.Consumers[0].Send.LastOutSeq);
        var e = Assert.Throws<ArgumentException>(() => TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(33), NoSlack));
        Assert.Contains("too old", e.Message);
        // The slack counts: 32 s old with the default 500 ms slack is 32.5 s, still carried; 32.3 s old is not.
        TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(32));
        Assert.Throws<ArgumentException>(() => TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(32.3)));
        Assert.Throws<ArgumentException>(() => TakeoverCarryForward.Apply(copy, TimeSpan.FromMilliseconds(-1)));
    }

    [Fact]
    public async Task Timestamps_jump_by_the_window_times_the_clock_rate_and_wrap_at_2_to_the_32()
    {
        var (copy, ssrc, _) = await CopyAsync();
        var wrapping = With(copy, s => s with { LastOutTimestamp = 0xFFFF_0000u, Sent = new SentPacketsSnapshot() }, ssrc);

        var carried = TakeoverCarryForward.Apply(wrapping, TimeSpan.FromSeconds(1.5), NoSlack);

        Assert.Equal(unchecked(0xFFFF_0000u + 135_000u), carried.Consumers[0].Send.LastOutTimestamp);
        // A consumer that had sent nothing in the copy: the source may have started it after the copy at a random
        // sequence number below 32768, so it starts above that, and its timestamp at the window's worth.
        var unsent = With(copy, s => s with { HaveSent = false, LastOutSeq = 0, LastOutTimestamp = 0, Sent = new SentPacketsSnapshot() }, ssrc);
        var started = TakeoverCarryForward.Apply(unsent, TimeSpan.FromSeconds(1), NoSlack).Consumers[0].Send;
        Assert.True(started.HaveSent);
        Assert.Equal(0x7FFF + VideoJump, started.LastOutSeq);
        Assert.Equal(90_000u, started.LastOutTimestamp);
    }

    [Fact]
    public async Task A_copy_of_a_copy_carried_forward_twice_only_moves_forward()
    {
        // Repeated take-overs: the process that took over is copied with the jumped numbers, and carried forward again.
        var (copy, ssrc, _) = await CopyAsync();
        copy = With(copy, s => s with { LastOutSeq = 65000, Sent = new SentPacketsSnapshot() }, ssrc, s => s with { Roc = 3, HighestSeq = 65000 });
        var once = TakeoverCarryForward.Apply(copy, TimeSpan.FromSeconds(1), NoSlack);
        var twice = TakeoverCarryForward.Apply(once, TimeSpan.FromSeconds(1), NoSlack);
        var index = (WebRtcTransportSnapshot t) => t.SrtpSend!.Streams.Single(s => s.Ssrc == ssrc) is var s ? (long)s.Roc << 16 | s.HighestSeq : 0;
        Assert.Equal(index(copy) + 2 * VideoJump, index(twice));
        Assert.Equal((65000 + 2 * VideoJump) & 0xFFFF, twice.Consumers[0].Send.LastOutSeq);
        Assert.Equal(copy.Dtls.WriteSequence + 2 * (5000 + 64), twice.Dtls.WriteSequence);
    }
}
