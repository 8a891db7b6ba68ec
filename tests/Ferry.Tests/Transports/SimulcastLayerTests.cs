using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// A simulcast consumer's switches as a receiver sees them: one continuous VP8 stream (sequence numbers,
/// PictureID, TL0PICIDX) whatever stream or temporal layer the server forwards, and temporal switches
/// up only where the encoder marked a switching point.
/// </summary>
public sealed class SimulcastLayerTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    private static List<(ushort Seq, int PictureId, int Tl0, int Tid, bool Sync, int Number)> Frames(WebRtcTestClient receiver) =>
        receiver.ReceivedRtp.ToArray().Select(ReadVp8Frame).ToList();

    private static async Task WaitForAsync(WebRtcTestClient receiver, int count)
    {
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= count, WaitTimeout),
            $"received {receiver.ReceivedRtp.Count} of {count}");
    }

    [Fact]
    public async Task Picture_ids_and_tl0picidx_stay_continuous_across_stream_switches()
    {
        using var call = await CallAsync(_router);
        var producer = await call.SendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var consumer = await call.RecvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 2),
        });
        var layers = new List<ConsumerLayers?>();
        consumer.LayersChange += l => { lock (layers) layers.Add(l); };
        // Each stream numbers its own way; the high one wraps both PictureID and TL0PICIDX during the test.
        var low = new Vp8StreamSource(1000, 100, 100, 10, 10_000);
        var high = new Vp8StreamSource(2000, 65000, 32760, 250, 20_000);
        var expected = new List<int>();
        void Both(int frames, bool lowKey = false, bool highKey = false, bool expectLow = false)
        {
            for (var i = 0; i < frames; i++)
            {
                var l = low.Next(keyFrame: lowKey && i == 0);
                var h = high.Next(keyFrame: highKey && i == 0);
                call.Sender.SendRtp(l.Packet);
                call.Sender.SendRtp(h.Packet);
                // Low goes out first in each pair: the low frame paired with the high key frame still belongs to the low stream.
                if (highKey && i == 0 && expectLow) expected.Add(l.Number);
                expected.Add(expectLow && !highKey ? l.Number : h.Number);
            }
        }

        Both(10, lowKey: true, highKey: true);
        await WaitForAsync(call.Receiver, expected.Count);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(0, 2));
        Both(6);                                     // the high stream goes on until the low one has a key frame
        Both(8, lowKey: true, expectLow: true);
        await WaitForAsync(call.Receiver, expected.Count);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(1, 2));
        Both(5, expectLow: true);
        Both(8, highKey: true, expectLow: true);
        await WaitForAsync(call.Receiver, expected.Count);
        await Task.Delay(100);

        var frames = Frames(call.Receiver);
        Assert.Equal(expected, frames.Select(f => f.Number));
        AssertContinuousPictures(frames);
        lock (layers) Assert.Equal([new ConsumerLayers(1, 2), new ConsumerLayers(0, 2), new ConsumerLayers(1, 2)], layers);
    }

    [Fact]
    public async Task A_temporal_switch_up_waits_for_a_layer_sync_frame_and_a_switch_down_is_immediate()
    {
        using var call = await CallAsync(_router);
        var producer = await call.SendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var consumer = await call.RecvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 0),
        });
        var layers = new List<ConsumerLayers?>();
        consumer.LayersChange += l => { lock (layers) layers.Add(l); };
        var low = new Vp8StreamSource(1000, 100, 100, 10, 10_000);
        var high = new Vp8StreamSource(2000, 500, 7000, 40, 20_000);
        var expected = new List<int>();
        // Sends four frames on both streams; the high stream's forwarded ones are those at or below maxTid.
        void Round(int maxTid, bool key = false, int syncLayer = -1, int switchAt = -1, int tidAfterSwitch = -1)
        {
            for (var i = 0; i < 4; i++)
            {
                call.Sender.SendRtp(low.Next(keyFrame: key && i == 0).Packet);
                var h = high.Next(keyFrame: key && i == 0, syncLayer: syncLayer);
                call.Sender.SendRtp(h.Packet);
                if (h.Tid == syncLayer && h.Tid > maxTid) maxTid = h.Tid;
                if (h.Tid <= maxTid) expected.Add(h.Number);
            }
        }

        Round(0, key: true);
        Round(0);
        await WaitForAsync(call.Receiver, expected.Count);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(1, 2));
        Round(0);                    // no switching point yet: layer 0 only
        Round(0);
        Round(0, syncLayer: 1);      // Y on a layer 1 frame: layer 1 from that frame on
        await WaitForAsync(call.Receiver, expected.Count);
        Round(1);
        Round(1, syncLayer: 2);      // Y on a layer 2 frame: everything
        Round(2);
        await WaitForAsync(call.Receiver, expected.Count);
        await consumer.SetPreferredLayersAsync(new ConsumerLayers(1, 0));
        Round(0);                    // down at once
        Round(0);
        await WaitForAsync(call.Receiver, expected.Count);
        await Task.Delay(100);

        var frames = Frames(call.Receiver);
        Assert.Equal(expected, frames.Select(f => f.Number));
        AssertContinuousPictures(frames);
        lock (layers) Assert.Equal([new ConsumerLayers(1, 0), new ConsumerLayers(1, 1), new ConsumerLayers(1, 2), new ConsumerLayers(1, 0)], layers);
        Assert.True(consumer.DroppedTemporal > 0);
    }
    [Fact]
    public async Task A_paused_consumer_has_no_current_layers_until_the_first_picture_after_the_resume()
    {
        using var call = await CallAsync(_router);
        var producer = await call.SendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var consumer = await call.RecvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 2),
        });
        var events = new List<string>();
        consumer.LayersChange += l => { lock (events) events.Add(l is null ? "null" : $"{l.SpatialLayer}.{l.TemporalLayer}"); };
        consumer.ProducerPause += () => { lock (events) events.Add("producerpause"); };
        var high = new Vp8StreamSource(2000, 500, 7000, 40, 20_000);
        var sent = 0;
        async Task SendAndWaitAsync(int frames, bool key, int forwarded)
        {
            for (var i = 0; i < frames; i++) call.Sender.SendRtp(high.Next(keyFrame: key && i == 0).Packet);
            sent += forwarded;
            await WaitForAsync(call.Receiver, sent);
        }

        await SendAndWaitAsync(4, key: true, forwarded: 4);
        Assert.Equal(new ConsumerLayers(1, 2), consumer.CurrentLayers);
        // Paused: nothing forwarded, no layers (mediasoup's layerschange without layers).
        await consumer.PauseAsync();
        Assert.Null(consumer.CurrentLayers);
        Assert.Null((await consumer.DumpAsync()).CurrentSpatialLayer);
        // Resumed: the layers come back with the key frame that starts the stream again, not before.
        await consumer.ResumeAsync();
        Assert.Null(consumer.CurrentLayers);
        await SendAndWaitAsync(4, key: true, forwarded: 4);
        Assert.Equal(new ConsumerLayers(1, 2), consumer.CurrentLayers);
        // The producer paused: no layers either, told before producerpause (mediasoup's order).
        await producer.PauseAsync();
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => { lock (events) return events.Contains("producerpause"); }, WaitTimeout));
        Assert.Null(consumer.CurrentLayers);
        await producer.ResumeAsync();
        await SendAndWaitAsync(4, key: true, forwarded: 4);

        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => { lock (events) return events.Count >= 6; }, WaitTimeout));
        lock (events) Assert.Equal(["1.2", "null", "1.2", "null", "producerpause", "1.2"], events);
        AssertContinuousPictures(Frames(call.Receiver));
    }

    [Fact]
    public async Task A_preferred_stream_that_never_flows_falls_back_to_one_that_does()
    {
        using var call = await CallAsync(_router);
        var producer = await call.SendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var consumer = await call.RecvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        // Only the low stream ever sends: the layer selection (report timer, allocation) must cope with a stream that has no packet at all.
        var low = new Vp8StreamSource(1000, 100, 100, 10, 10_000);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        var keyEvery = 0;
        while (DateTime.UtcNow < deadline && consumer.CurrentLayers is null)
        {
            call.Sender.SendRtp(low.Next(keyFrame: keyEvery++ % 10 == 0).Packet);
            await Task.Delay(30);
        }
        Assert.Equal(0, consumer.CurrentLayers?.SpatialLayer);
        Assert.False(_worker.Closed);
        // The layers are set as the first packet goes out; the receiver's thread takes it a moment later.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !call.Receiver.ReceivedRtp.IsEmpty, WaitTimeout));
    }
    [Fact]
    public async Task Forwarding_through_a_simulcast_consumer_with_picture_id_rewriting_and_transport_wide_numbers_allocates_nothing()
    {
        using var call = await CallAsync(_router);
        var producer = await call.SendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        var consumer = await call.RecvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities, PreferredLayers = new ConsumerLayers(1, 1),
        });
        Assert.NotEqual(0, consumer.TransportWideCcExtensionId);
        var high = new Vp8StreamSource(2000, 100, 500, 1, 0);
        var warmup = Enumerable.Range(0, 200).Select(i => high.Next(keyFrame: i == 0).Packet).ToArray();
        var measured = Enumerable.Range(0, 2000).Select(_ => high.Next().Packet).ToArray();
        var stream = producer.Streams[1];
        // Straight into the producer on its loop, as the transport hands a decrypted packet over: the measure is
        // the forwarding path (descriptor read, layer selection, rewrite, picture ids, estimator record, SRTP, send).
        var allocated = await call.SendTransport.InvokeAsync(() =>
        {
            var buffer = new byte[1500];
            void Feed(byte[][] packets)
            {
                foreach (var p in packets)
                {
                    p.CopyTo(buffer, 0);
                    Ferry.Protocols.Rtp.RtpPacket.TryParse(buffer.AsSpan(0, p.Length), out var packet);
                    producer.ReceiveRtp(ref packet, stream, false, call.SendTransport.Router.Loop.Now);
                }
            }
            Feed(warmup);
            var before = GC.GetAllocatedBytesForCurrentThread();
            Feed(measured);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.Equal(0, allocated);
        Assert.True(consumer.DroppedTemporal > 0);
        Assert.True(call.RecvTransport.Bwe is not null);
    }
}
