using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Testing.Clients;
using Ferry.Tests.Transports;
using static Ferry.Tests.Mobility.MoveAcrossProcessesTests;
using static Ferry.Tests.Transports.MediaFixtures;
using Call = Ferry.Tests.Mobility.MoveAcrossProcessesTests.Call;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A whole router moves between two Ferry processes (tests/Ferry.PipePeer) in one freeze: two far ends, built on
/// Ferry.Protocols, each on a transport of the router with an audio and a video producer, consumers of the other's
/// producers and a data channel to the other (so everything crosses from one transport to the other, and both move
/// at once: no pipe between the processes), and an audio-level observer watching both audio producers. The router
/// snapshot travels as JSON through this test, as a control plane would carry it.
/// </summary>
[Collection(nameof(TimingCollection))]
public sealed class RouterMoveAcrossProcessesTests
{
    private const int AudioLevelId = 10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_router_moves_between_two_processes_20_times_and_its_far_ends_lose_and_repeat_nothing()
    {
        // Two processes of their own (disposed last: the room's far ends go first).
        await using var first = PipePeerProcess.Start();
        await using var second = PipePeerProcess.Start();
        PipePeerProcess[] peers = [first, second];
        // Events of consumers the test made, at the source after each move: their copies there go, but are not closed by producers.
        var producerCloses = new System.Collections.Concurrent.ConcurrentQueue<string>();
        first.Event += (name, consumerId) =>
        {
            if (name == "consumer.producerclose") producerCloses.Enqueue(consumerId);
        };
        await using var room = await Room.OpenAsync(first);
        var sending = room.StartSending();
        var current = 0;
        for (var move = 0; move < 20; move++)
        {
            await MoveAsync(room, peers[current], peers[1 - current], move);
            current = 1 - current;
        }
        var holder = peers[current];
        // The observer's membership moved with the router: both audio producers are heard where it lives now, under the first id.
        Assert.Contains(room.ObserverId, (await holder.RequestAsync("routerDump"))["rtpObserverIds"]!.AsArray().Select(n => n!.GetValue<string>()));
        await holder.RequestAsync("volumes", new JsonObject { ["reset"] = true });
        var deadline = DateTime.UtcNow + Wait;
        var volumes = await holder.RequestAsync("volumes");
        while (!room.AudioProducerIds.All(id => volumes[id]?.GetValue<int>() > 0))
        {
            Assert.True(DateTime.UtcNow < deadline, $"volumes after the moves: {volumes.ToJsonString()}");
            await Task.Delay(100);
            volumes = await holder.RequestAsync("volumes");
        }
        await room.StopSendingAsync(sending);
        await room.AssertEverythingArrivedOnceAsync(holder);
        Assert.All(room.Fars, far => Assert.Equal(20, far.PathSwitches));
        Assert.Empty(producerCloses);
    }

    [Fact]
    public async Task A_failed_import_leaves_nothing_at_the_target_and_the_router_live_where_it_was()
    {
        await using var a = PipePeerProcess.Start();
        await using var b = PipePeerProcess.Start();
        await using var room = await Room.OpenAsync(a);
        var sending = room.StartSending();
        await room.WaitForMediaAsync();
        // Two ways to fail, each after the target made both transports: a consumer of the second transport of a version it
        // does not read (every producer and the first transport's consumers made by then), and an observer of an unknown type
        // (everything made by then: data consumers of one transport read data producers of the other, and must not speak
        // to their far ends as those go). Each time nothing may be left at the target, and the abort must lose nothing.
        foreach (var (what, spoil) in new (string, Action<JsonNode>)[]
        {
            ("consumer version", snapshot => snapshot["transports"]![1]!["consumers"]![0]!["version"] = 999),
            ("observer type", snapshot => snapshot["rtpObservers"]![0]!["type"] = "nonsense"),
        })
        {
            var plan = await a.RequestAsync("routerMovePlan");
            var slot = await b.RequestAsync("prepareRouterImport", new JsonObject { ["transportIds"] = plan["transportIds"]!.DeepClone(), ["graceMs"] = 200 });
            var exported = await a.RequestAsync("exportRouter", new JsonObject { ["relays"] = slot["relays"]!.DeepClone(), ["graceMs"] = 200 });
            var snapshot = exported["snapshot"]!.DeepClone();
            spoil(snapshot);
            await Assert.ThrowsAsync<PipePeerException>(() => b.RequestAsync("importRouter", new JsonObject { ["slotId"] = slot["slotId"]!.GetValue<string>(), ["snapshot"] = snapshot }));
            var left = await b.RequestAsync("routerDump");
            Assert.True(left["transportIds"]!.AsArray().Count + left["producerIds"]!.AsArray().Count + left["rtpObserverIds"]!.AsArray().Count == 0, $"{what}: {left.ToJsonString()}");
            await a.RequestAsync("abortRouterExport", new JsonObject { ["moveId"] = exported["moveId"]!.GetValue<string>() });
            await room.WaitForMediaAsync();
            foreach (var id in room.TransportIds)
            {
                var state = await a.RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = id });
                Assert.False(state["moving"]!.GetValue<bool>());
                Assert.Equal("Connected", state["dtlsState"]!.GetValue<string>());
            }
        }
        // Nothing of the failed attempts is in the way of the next one.
        await MoveAsync(room, a, b, 0);
        await room.StopSendingAsync(sending);
        await room.AssertEverythingArrivedOnceAsync(b);
    }

    /// <summary>
    /// One move of the router from <paramref name="source"/> to <paramref name="target"/>, as a control plane drives it: the
    /// source's plan, a relay per transport at the target, the freeze and export, the import, the commit; then each far end
    /// restarts ICE towards its transport's new candidate, and the move is over when every relay at the source ended.
    /// </summary>
    private static async Task MoveAsync(Room room, PipePeerProcess source, PipePeerProcess target, int move)
    {
        try
        {
            var plan = await source.RequestAsync("routerMovePlan");
            Assert.Empty(plan["obstacles"]!.AsArray());
            var slot = await target.RequestAsync("prepareRouterImport", new JsonObject { ["transportIds"] = plan["transportIds"]!.DeepClone(), ["graceMs"] = 200 });
            var exported = await source.RequestAsync("exportRouter", new JsonObject { ["relays"] = slot["relays"]!.DeepClone(), ["graceMs"] = 200 });
            var moveId = exported["moveId"]!.GetValue<string>();
            var imported = await target.RequestAsync("importRouter", new JsonObject { ["slotId"] = slot["slotId"]!.GetValue<string>(), ["snapshot"] = exported["snapshot"]!.DeepClone() });
            await source.RequestAsync("commitRouterExport", new JsonObject { ["moveId"] = moveId });
            var transports = imported["transports"]!.AsArray().Select(n => n!.AsObject()).ToList();
            Assert.Equal(room.TransportIds.Order(), transports.Select(t => t["id"]!.GetValue<string>()).Order());
            var received = room.Fars.Select(f => f.ReceivedRtp.Count).ToArray();
            foreach (var transport in transports)
            {
                room.FarOf(transport["id"]!.GetValue<string>()).MovePath(transport["iceParameters"].Deserialize(OrtcJson.Default.IceParameters)!,
                    transport["iceCandidates"].Deserialize(OrtcJson.Default.IReadOnlyListIceCandidate)![0]);
            }
            foreach (var id in room.TransportIds) await target.RequestAsync("waitPathMoved", new JsonObject { ["transportId"] = id });
            var ended = await source.RequestAsync("waitRouterExportEnded", new JsonObject { ["moveId"] = moveId, ["timeoutMs"] = 10_000 });
            Assert.All(ended["transports"]!.AsArray(), t => Assert.True(t!["pathMoved"]!.GetValue<bool>()));
            // Media on the new paths before the next move, so each move's path switch is its own (overtaking at two switches does not add up).
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => room.Fars.Select((f, i) => f.ReceivedRtp.Count - received[i]).All(n => n >= 20), Wait), "media stopped after the move");
        }
        catch (Exception e) when (e is PipePeerException or TimeoutException)
        {
            throw new InvalidOperationException($"move {move}: {e.Message}\nsource stderr:\n{source.StderrTail}\ntarget stderr:\n{target.StderrTail}", e);
        }
    }

    /// <summary>
    /// The router's far ends: each on a transport (single-transport calls without media) with an Opus producer sending
    /// its level and a VP8 producer, consumers of the other's two, and an ordered data channel through the router to the other.
    /// </summary>
    private sealed class Room : IAsyncDisposable
    {
        private readonly Call[] _calls;
        private readonly Stream[] _streams;
        private readonly CancellationTokenSource _stop = new();

        private Room(Call[] calls, Stream[] streams, string[] audioProducerIds, string observerId)
        {
            _calls = calls;
            _streams = streams;
            AudioProducerIds = audioProducerIds;
            ObserverId = observerId;
        }

        /// <summary>What one far end sends, and the other's consumers and data consumer that give it back.</summary>
        private sealed class Stream(int from, uint ssrcBase, ushort dataIn)
        {
            public int From { get; } = from;
            public uint InAudio { get; } = ssrcBase;
            public uint InVideo { get; } = ssrcBase + 1;
            public ushort DataIn { get; } = dataIn;
            public uint OutAudio { get; set; }
            public uint OutVideo { get; set; }
            public ushort DataOut { get; set; }
            public int AudioSent;
            public int VideoSent;
            public int MessagesSent;
        }

        public string[] AudioProducerIds { get; }

        public string ObserverId { get; }

        public IEnumerable<string> TransportIds => _calls.Select(c => c.TransportId);

        public WebRtcTestClient[] Fars => _calls.Select(c => c.Far).ToArray();

        public WebRtcTestClient FarOf(string transportId) => _calls.Single(c => c.TransportId == transportId).Far;

        public static async Task<Room> OpenAsync(PipePeerProcess peer)
        {
            Call[] calls = [await CallAsync(peer, mediaAndData: false), await CallAsync(peer, mediaAndData: false)];
            Stream[] streams = [new Stream(0, 1000, 100), new Stream(1, 2000, 100)];
            var audioProducers = new string[2];
            var producers = new (string Audio, string Video)[2];
            for (var i = 0; i < 2; i++)
            {
                var s = streams[i];
                producers[i] = (await ProduceAsync(peer, calls[i].TransportId, "audio", OpusProducer(s.InAudio, mid: "1", audioLevelId: AudioLevelId).RtpParameters),
                    await ProduceAsync(peer, calls[i].TransportId, "video", Vp8Producer(s.InVideo, s.InVideo + 10, mid: "0").RtpParameters));
                audioProducers[i] = producers[i].Audio;
            }
            for (var i = 0; i < 2; i++)
            {
                // What far end i sends comes back to far end 1 - i through the consumers of the other transport.
                var (s, other) = (streams[i], calls[1 - i]);
                s.OutAudio = await ConsumeAsync(peer, other.TransportId, producers[i].Audio);
                s.OutVideo = await ConsumeAsync(peer, other.TransportId, producers[i].Video);
                calls[i].Far.OpenDataChannel(s.DataIn, ordered: true);
                var dataProducer = await peer.RequestAsync("produceData", new JsonObject
                {
                    ["transportId"] = calls[i].TransportId, ["sctpStreamParameters"] = new JsonObject { ["streamId"] = s.DataIn, ["ordered"] = true },
                });
                var dataConsumer = await peer.RequestAsync("consumeData", new JsonObject { ["transportId"] = other.TransportId, ["dataProducerId"] = dataProducer["id"]!.GetValue<string>() });
                s.DataOut = dataConsumer["sctpStreamParameters"]!["streamId"]!.GetValue<ushort>();
                other.Far.OpenDataChannel(s.DataOut, ordered: true);
            }
            var observer = await peer.RequestAsync("createAudioLevelObserver", new JsonObject { ["maxEntries"] = 2, ["interval"] = 250 });
            var observerId = observer["id"]!.GetValue<string>();
            foreach (var id in audioProducers) await peer.RequestAsync("addObserverProducer", new JsonObject { ["observerId"] = observerId, ["producerId"] = id });
            return new Room(calls, streams, audioProducers, observerId);
        }

        private static async Task<string> ProduceAsync(PipePeerProcess peer, string transportId, string kind, RtpParameters parameters) =>
            (await peer.RequestAsync("produce", new JsonObject
            {
                ["transportId"] = transportId, ["kind"] = kind, ["rtpParameters"] = JsonSerializer.SerializeToNode(parameters, OrtcJson.Default.RtpParameters),
            }))["id"]!.GetValue<string>();

        private static async Task<uint> ConsumeAsync(PipePeerProcess peer, string transportId, string producerId) =>
            (await peer.RequestAsync("consume", new JsonObject { ["transportId"] = transportId, ["producerId"] = producerId }))["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();

        /// <summary>Both far ends send audio (level -30 dBov) and video every 5 ms and a message every 20 ms, on a thread of their own.</summary>
        public Task StartSending() => Task.Factory.StartNew(() =>
        {
            var i = 0;
            while (!_stop.IsCancellationRequested)
            {
                foreach (var s in _streams)
                {
                    var far = _calls[s.From].Far;
                    far.SendRtp(OpusPacket(s.InAudio, (ushort)(60000 + s.AudioSent), (uint)(s.AudioSent * 960), s.AudioSent, mid: "1", audioLevel: (AudioLevelId, 30)));
                    s.AudioSent++;
                    far.SendRtp(Vp8Packet(s.InVideo, (ushort)(65500 + s.VideoSent), (uint)(s.VideoSent * 3000), keyFrame: s.VideoSent == 0, number: s.VideoSent, mid: "0"));
                    s.VideoSent++;
                    if (i % 4 == 0) far.SendData(s.DataIn, BitConverter.GetBytes(s.MessagesSent++));
                }
                i++;
                Thread.Sleep(5);
            }
        }, TaskCreationOptions.LongRunning);

        public async Task StopSendingAsync(Task sending)
        {
            await _stop.CancelAsync();
            await sending;
        }

        /// <summary>Waits until each far end received 20 more packets (media flows where the router is).</summary>
        public async Task WaitForMediaAsync()
        {
            var before = Fars.Select(f => f.ReceivedRtp.Count).ToArray();
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => Fars.Select((f, i) => f.ReceivedRtp.Count - before[i]).All(n => n >= 20), Wait), "no media");
        }

        /// <summary>
        /// Every packet each far end sent came out of the other's consumers exactly once, on one SSRC per consumer with one
        /// continuous sequence mapping, strictly in order (each transport's path switch holds the new path); every message once and in order;
        /// no SRTP failure on either side, no DTLS handshake after the first.
        /// </summary>
        public async Task AssertEverythingArrivedOnceAsync(PipePeerProcess holder)
        {
            int Count(Stream s, uint ssrc) => _calls[1 - s.From].Far.ReceivedRtp.Count(p => Ssrc(p) == ssrc);
            int Messages(Stream s) => _calls[1 - s.From].Far.ReceivedData.Count(m => m.StreamId == s.DataOut);
            bool Done() => _streams.All(s => Count(s, s.OutAudio) >= s.AudioSent && Count(s, s.OutVideo) >= s.VideoSent && Messages(s) >= s.MessagesSent);
            var complete = await WebRtcTestClient.WaitUntilAsync(Done, Wait);
            Assert.True(complete, string.Join("; ", _streams.Select(s =>
                $"from far end {s.From}: audio {Count(s, s.OutAudio)}/{s.AudioSent} ({Runs(Numbers(s, s.OutAudio))}), video {Count(s, s.OutVideo)}/{s.VideoSent}, messages {Messages(s)}/{s.MessagesSent}")));
            foreach (var s in _streams)
            {
                var to = _calls[1 - s.From].Far;
                var received = to.ReceivedRtp.ToArray();
                AssertOnceAndContinuous(received.Where(p => Ssrc(p) == s.OutAudio).ToArray(), 0, s.AudioSent);
                AssertOnceAndContinuous(received.Where(p => Ssrc(p) == s.OutVideo).ToArray(), 0, s.VideoSent);
                Assert.Equal(2, received.Select(Ssrc).Distinct().Count());
                Assert.Equal(Enumerable.Range(0, s.MessagesSent), to.ReceivedData.Where(m => m.StreamId == s.DataOut).Select(m => BitConverter.ToInt32(m.Data)));
            }
            foreach (var call in _calls)
            {
                Assert.Equal(0, call.Far.SrtpFailures);
                Assert.Equal(0, call.Far.DtlsHandshakeRecordsAfterConnect);
                var state = await holder.RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = call.TransportId });
                Assert.Equal(0, state["srtpFailures"]!.GetValue<long>());
            }
        }

        private IEnumerable<int> Numbers(Stream s, uint ssrc) => _calls[1 - s.From].Far.ReceivedRtp.Where(p => Ssrc(p) == ssrc).Select(NumberOf);

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            foreach (var call in _calls) await call.DisposeAsync();
        }
    }
}
