using System.Collections.Concurrent;
using Ferry.Protocols.Codecs;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// An SVC consumer of a VP9 L3T3 stream (one SSRC, three spatial and three temporal layers in the
/// payload descriptor): it forwards the layers up to its target, with no sequence gap, the RTP marker
/// on the last forwarded layer of each picture, switching down at the next picture and up at a key frame.
/// </summary>
public sealed class SvcConsumerTests : IAsyncLifetime
{
    private const uint Ssrc = 7777;
    private Worker _worker = null!;
    private Router _router = null!;
    private DirectTransport _source = null!;
    private Producer _producer = null!;
    private readonly ConcurrentQueue<byte[]> _sourceRtcp = new();
    private ushort _seq = 100;
    private int _picture;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(new RouterOptions
        {
            MediaCodecs = [new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP9", ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["profile-id"] = 0 } }],
        });
        _source = await _router.CreateDirectTransportAsync();
        _source.Rtcp += _sourceRtcp.Enqueue;
        _producer = await _source.ProduceAsync(new ProducerOptions
        {
            Kind = MediaKind.Video,
            RtpParameters = new RtpParameters
            {
                Mid = "0",
                Codecs =
                [
                    new RtpCodecParameters
                    {
                        MimeType = "video/VP9", PayloadType = 98, ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["profile-id"] = 0 },
                        RtcpFeedback = [new RtcpFeedback { Type = "nack" }, new RtcpFeedback { Type = "nack", Parameter = "pli" }],
                    },
                ],
                Encodings = [new RtpEncodingParameters { Ssrc = Ssrc, ScalabilityMode = "L3T3" }],
            },
        });
        Assert.Equal(ProducerType.Svc, _producer.Type);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    /// <summary>One picture: one packet per spatial layer, VP9 non-flexible mode with layer indices.</summary>
    private void SendPicture(bool keyFrame, int temporal, bool switchingUp = false)
    {
        _picture++;
        for (var sid = 0; sid < 3; sid++)
        {
            var buffer = new byte[200];
            var w = new RtpPacketWriter(buffer, 98, _seq++, (uint)(_picture * 3000), Ssrc, marker: sid == 2);
            var payload = new byte[20];
            // I, P (not for the key frame's base layer), L, B, E; then a 7-bit picture id, the layer byte and TL0PICIDX.
            payload[0] = (byte)(0x80 | (keyFrame && sid == 0 ? 0 : 0x40) | 0x20 | 0x08 | 0x04);
            payload[1] = (byte)(_picture & 0x7F);
            payload[2] = (byte)((temporal << 5) | (switchingUp ? 0x10 : 0) | (sid << 1) | (sid > 0 ? 1 : 0));
            payload[3] = (byte)_picture;
            payload[4] = (byte)sid;
            BitConverter.TryWriteBytes(payload.AsSpan(8), _picture);
            _producer.Send(buffer.AsSpan(0, w.SetPayload(payload)));
        }
    }

    private sealed record Seen(ushort Seq, bool Marker, int Picture, int Spatial, int Temporal);

    private static Seen Read(byte[] rtp)
    {
        Assert.True(RtpPacket.TryParse(rtp, out var p));
        Assert.True(Vp9PayloadDescriptor.TryParse(p.Payload, out var d));
        return new Seen(p.SequenceNumber, p.Marker, BitConverter.ToInt32(p.Payload[8..]), d.SpatialLayerId, d.TemporalLayerId);
    }

    private async Task<(Consumer Consumer, ConcurrentQueue<byte[]> Received)> ConsumeAsync(ConsumerLayers preferred)
    {
        var sink = await _router.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new ConsumerOptions { ProducerId = _producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = preferred });
        Assert.Equal(ConsumerType.Svc, consumer.Type);
        var received = new ConcurrentQueue<byte[]>();
        consumer.Rtp += received.Enqueue;
        return (consumer, received);
    }

    private static void AssertContinuous(IReadOnlyList<Seen> seen)
    {
        for (var i = 1; i < seen.Count; i++) Assert.Equal((ushort)(seen[0].Seq + i), seen[i].Seq);
    }

    [Fact]
    public async Task Only_the_target_layers_are_forwarded_continuous_with_the_picture_ended_by_the_highest()
    {
        var (consumer, received) = await ConsumeAsync(new ConsumerLayers(1, 1));
        var layers = new ConcurrentQueue<ConsumerLayers?>();
        consumer.LayersChange += layers.Enqueue;
        SendPicture(keyFrame: true, temporal: 0);
        foreach (var t in new[] { 2, 1, 2, 0, 2, 1, 2 }) SendPicture(keyFrame: false, temporal: t);
        // Pictures 1 (key), 3 (T1), 5 (T0), 7 (T1): two spatial layers each.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 8, WaitTimeout));
        await Task.Delay(100);
        var seen = received.Select(Read).ToList();
        Assert.Equal(8, seen.Count);
        Assert.All(seen, s => Assert.True(s.Spatial <= 1 && s.Temporal <= 1));
        Assert.Equal([1, 1, 3, 3, 5, 5, 7, 7], seen.Select(s => s.Picture));
        AssertContinuous(seen);
        // Layer 1 ends each picture now.
        Assert.Equal(seen.Select(s => s.Spatial == 1), seen.Select(s => s.Marker));
        Assert.Equal(new ConsumerLayers(1, 1), Assert.Single(layers));
        Assert.Equal(1, (await consumer.DumpAsync()).CurrentSpatialLayer);
        Assert.Equal(1, consumer.CurrentLayers!.TemporalLayer);
    }

    [Fact]
    public async Task Down_at_the_next_picture_up_only_at_a_key_frame_which_is_asked_for()
    {
        var (consumer, received) = await ConsumeAsync(new ConsumerLayers(2, 2));
        SendPicture(keyFrame: true, temporal: 0);
        SendPicture(keyFrame: false, temporal: 2);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 6, WaitTimeout));

        await consumer.SetPreferredLayersAsync(new ConsumerLayers(0, 2));
        SendPicture(keyFrame: false, temporal: 1);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 7, WaitTimeout));

        var plisBefore = _sourceRtcp.Count(r => ContainsPli(r, Ssrc));
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(2, 2));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => _sourceRtcp.Count(r => ContainsPli(r, Ssrc)) > plisBefore, WaitTimeout));
        // Still the base layer until the key frame.
        SendPicture(keyFrame: false, temporal: 2);
        SendPicture(keyFrame: true, temporal: 0);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 11, WaitTimeout));
        await Task.Delay(100);

        var seen = received.Select(Read).ToList();
        Assert.Equal([1, 1, 1, 2, 2, 2, 3, 4, 5, 5, 5], seen.Select(s => s.Picture));
        Assert.Equal([0, 1, 2, 0, 1, 2, 0, 0, 0, 1, 2], seen.Select(s => s.Spatial));
        AssertContinuous(seen);
        // With everything forwarded the sender's marker stands; with the base layer alone it ends each picture.
        Assert.Equal([false, false, true, false, false, true, true, true, false, false, true], seen.Select(s => s.Marker));
        Assert.True(consumer.DroppedSvcLayers >= 4);
    }

    [Fact]
    public async Task Temporal_layers_go_up_at_a_switching_point_and_down_at_the_next_picture()
    {
        var (consumer, received) = await ConsumeAsync(new ConsumerLayers(0, 0));
        SendPicture(keyFrame: true, temporal: 0);
        SendPicture(keyFrame: false, temporal: 1);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(0, 1));
        // A T1 picture that is not a switching point cannot start layer 1; the next one marked U can.
        SendPicture(keyFrame: false, temporal: 1);
        SendPicture(keyFrame: false, temporal: 0);
        SendPicture(keyFrame: false, temporal: 1, switchingUp: true);
        SendPicture(keyFrame: false, temporal: 1);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(0, 0));
        SendPicture(keyFrame: false, temporal: 1);
        SendPicture(keyFrame: false, temporal: 0);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => received.Count >= 5, WaitTimeout));
        await Task.Delay(100);
        var seen = received.Select(Read).ToList();
        Assert.Equal([1, 4, 5, 6, 8], seen.Select(s => s.Picture));
        AssertContinuous(seen);
    }
}
