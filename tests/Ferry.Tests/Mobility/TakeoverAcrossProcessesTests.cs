using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Clients;
using Ferry.Tests.Transports;
using static Ferry.Tests.Mobility.MoveAcrossProcessesTests;
using static Ferry.Tests.Transports.MediaFixtures;
using Call = Ferry.Tests.Mobility.MoveAcrossProcessesTests.Call;

namespace Ferry.Tests.Mobility;

/// <summary>
/// Failover between real processes (tests/Ferry.PipePeer): a router with two far ends (built on Ferry.Protocols), each
/// sending audio, video and an ordered reliable data channel to the other through it. The holder's copies
/// (<c>checkpointRouter</c>) reach the test every 300 ms; the holder is killed (SIGKILL) mid-stream; a new process takes
/// over from the newest copy, and each far end adds the new candidate as a browser would. Four kills in a row.
/// </summary>
[Collection(nameof(TimingCollection))]
public sealed class TakeoverAcrossProcessesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    // Four kills, a new process each time: every take-over after the first is from a copy of a process that took over,
    // and the far ends alternate between keeping their credentials and restarting ICE (so both follow each other).
    private const int Kills = 4;

    [Fact]
    public async Task A_router_killed_three_times_comes_back_each_time_with_its_media_no_srtp_failure_and_no_handshake() =>
        await RunAsync(carryForward: true, data: false);

    /// <summary>The data channel after each take-over: every message sent after each resume arrives, once and in order (see docs/mobility.md, "Failover").</summary>
    [Fact]
    public async Task A_router_killed_three_times_keeps_its_data_channel_in_order() =>
        await RunAsync(carryForward: true, data: true);

    /// <summary>
    /// What the test is worth: with the carry-forward off (margins of zero), the far ends reject what the new process
    /// sends (replays: the numbers the dead one used again). Run by hand (it fails on purpose): set FERRY_TAKEOVER_NEGATIVE=1.
    /// </summary>
    [Fact]
    public async Task Without_the_carry_forward_the_far_ends_count_srtp_replays()
    {
        if (Environment.GetEnvironmentVariable("FERRY_TAKEOVER_NEGATIVE") != "1") return;
        var e = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(carryForward: false, data: false));
        Assert.Contains("SRTP failures", e.Message);
    }

    private static async Task RunAsync(bool carryForward, bool data)
    {
        var holder = PipePeerProcess.Start();
        var processes = new List<PipePeerProcess> { holder };
        try
        {
            await using var room = await Room.OpenAsync(holder);
            var sending = room.StartSending();
            var kills = new List<(int[] SentAtCopy, int[] SentAtResume)>();
            for (var kill = 0; kill < Kills; kill++)
            {
                await room.WaitForMediaAsync();
                if (kill > 0) await room.AssertHolderCountersAsync(holder, $"before kill {kill}");
                // Copies every 300 ms; the standby keeps the newest (highest sequence), its age measured from when it arrived.
                JsonNode? newest = null;
                long newestSequence = -1;
                var newestAt = 0L;
                int[] sentAtCopy = [];
                var standby = PipePeerProcess.Start();
                processes.Add(standby);
                for (var i = 0; i < 4; i++)
                {
                    var copy = await holder.RequestAsync("checkpointRouter");
                    var sequence = copy["sequence"]!.GetValue<long>();
                    Assert.True(sequence > newestSequence, "checkpoint sequence numbers increase");
                    (newest, newestSequence, newestAt, sentAtCopy) = (copy["checkpoint"]!.DeepClone(), sequence, Stopwatch.GetTimestamp(), room.MessagesSent);
                    await Task.Delay(300);
                }
                // Mid-stream, 300 ms after the newest copy: the dead process sent more than the copy knows of, on every stream.
                var plisBefore = room.PlisReceived;
                Process.GetProcessById(holder.Pid).Kill();
                var age = Stopwatch.GetElapsedTime(newestAt);
                var request = new JsonObject { ["checkpoint"] = newest, ["ageMs"] = age.TotalMilliseconds };
                if (!carryForward)
                {
                    request["margins"] = new JsonObject
                    {
                        ["slack"] = "00:00:00", ["rateFactor"] = 0, ["audioPacketRate"] = 0, ["videoPacketRate"] = 0, ["fixedPackets"] = 0,
                        ["rtcpPacketRate"] = 0, ["dtlsRecordRate"] = 0, ["sctpChunkRate"] = 0, ["sctpMessageRate"] = 0,
                    };
                    request["ageMs"] = 0;
                }
                var result = await standby.RequestAsync("takeOverRouter", request);
                holder = standby;
                var transports = result["transports"]!.AsArray().Select(n => n!.AsObject()).ToList();
                Assert.Equal(room.TransportIds.Order(), transports.Select(t => t["id"]!.GetValue<string>()).Order());
                foreach (var transport in transports)
                {
                    // Alternately as Chrome (the new candidate alone, with the credentials it uses now: the first ones, or those of
                    // the last restart) and as Firefox (ICE restart with the new ones), so that a Chrome-like far end follows one
                    // that restarted: the process that takes over must accept the credentials the far end adopted from a dead one.
                    var id = transport["id"]!.GetValue<string>();
                    var ice = kill % 2 == 0 ? room.IceInUseOf(id) : transport["iceParameters"].Deserialize(OrtcJson.Default.IceParameters)!;
                    room.MovePath(id, ice, transport["iceCandidates"].Deserialize(OrtcJson.Default.IReadOnlyListIceCandidate)![0]);
                }
                // A key frame request reaches each far end (its video producer's), and media flows again both ways.
                Assert.True(await WebRtcTestClient.WaitUntilAsync(() => room.PlisReceived.Zip(plisBefore).All(p => p.First > p.Second), Wait),
                    $"kill {kill}: no key frame request reached a far end ({string.Join(", ", room.PlisReceived)} PLIs, before {string.Join(", ", plisBefore)})");
                await room.WaitForMediaAsync();
                // The data channel works again both ways: a message sent from now arrives.
                var resumeFrom = room.MessagesSent;
                if (data && !await WebRtcTestClient.WaitUntilAsync(() => room.HighestMessageReceived.Zip(resumeFrom).All(p => p.First >= p.Second), Wait))
                {
                    var states = new List<string>();
                    foreach (var id in room.TransportIds) states.Add((await holder.RequestAsync("takeoverState", new JsonObject { ["transportId"] = id })).ToJsonString());
                    await Task.Delay(2000);
                    foreach (var id in room.TransportIds) states.Add("2 s later: " + (await holder.RequestAsync("takeoverState", new JsonObject { ["transportId"] = id }))["sctp"]);
                    Assert.Fail($"kill {kill}: the data channel did not resume (highest received {string.Join(", ", room.HighestMessageReceived)}, sent {string.Join(", ", resumeFrom)}); {room.SctpSummary}; taken over: {string.Join("; ", states)}\nstderr of the process that took over:\n{holder.StderrTail}");
                }
                kills.Add((sentAtCopy, resumeFrom));
            }
            await room.StopSendingAsync(sending);
            await room.AssertAsync(holder, kills, data);
        }
        finally
        {
            foreach (var process in processes) await process.DisposeAsync();
        }
    }

    /// <summary>Two far ends on two transports of one router, each with an Opus and a VP8 producer, consumers of the other's, and an ordered channel to the other.</summary>
    private sealed class Room : IAsyncDisposable
    {
        private readonly Call[] _calls;
        private readonly Flow[] _flows;
        private readonly IceParameters[] _iceInUse;
        private readonly CancellationTokenSource _stop = new();

        private sealed class Flow(int from, uint ssrcBase, ushort dataIn)
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
            public int KeyFramesAnswered;
        }

        private Room(Call[] calls, Flow[] flows, IceParameters[] firstIce)
        {
            _calls = calls;
            _flows = flows;
            _iceInUse = firstIce;
        }

        public IEnumerable<string> TransportIds => _calls.Select(c => c.TransportId);

        /// <summary>The ICE credentials the far end of <paramref name="transportId"/> uses now (the first, or those it restarted with last).</summary>
        public IceParameters IceInUseOf(string transportId) => _iceInUse[Array.FindIndex(_calls, c => c.TransportId == transportId)];

        /// <summary>The far end checks the new candidate with <paramref name="ice"/> and moves there, keeping those credentials from now on.</summary>
        public void MovePath(string transportId, IceParameters ice, IceCandidate candidate)
        {
            var i = Array.FindIndex(_calls, c => c.TransportId == transportId);
            _iceInUse[i] = ice;
            _calls[i].Far.MovePath(ice, candidate);
        }

        /// <summary>Messages sent so far, per flow.</summary>
        public int[] MessagesSent => _flows.Select(f => Volatile.Read(ref f.MessagesSent)).ToArray();

        /// <summary>The highest message number each flow's receiver got (-1 for none).</summary>
        public int[] HighestMessageReceived => _flows.Select(f => Messages(f).DefaultIfEmpty(-1).Max()).ToArray();

        /// <summary>PLIs each far end received for its video producer.</summary>
        public int[] PlisReceived => _flows.Select(f => CountPlis(_calls[f.From].Far, f.InVideo)).ToArray();

        public string SctpSummary => string.Join("; ", _calls.Select(c => c.Far.SctpCounters is { } s
            ? $"far end {c.TransportId[..8]}: sent {s.MessagesSent} received {s.MessagesReceived} retransmissions {s.Retransmissions} T3 {s.T3Expirations} dup {s.DuplicateChunks} windowDrops {s.ReceiveWindowDrops}" : "no SCTP"));

        private IEnumerable<int> Messages(Flow f) => _calls[1 - f.From].Far.ReceivedData.Where(m => m.StreamId == f.DataOut).Select(m => BitConverter.ToInt32(m.Data));

        public static async Task<Room> OpenAsync(PipePeerProcess peer)
        {
            Call[] calls = [await CallAsync(peer, mediaAndData: false), await CallAsync(peer, mediaAndData: false)];
            var firstIce = new IceParameters[2];
            for (var i = 0; i < 2; i++)
            {
                var state = await peer.RequestAsync("takeoverState", new JsonObject { ["transportId"] = calls[i].TransportId });
                firstIce[i] = state["iceParameters"].Deserialize(OrtcJson.Default.IceParameters)!;
            }
            Flow[] flows = [new Flow(0, 1000, 100), new Flow(1, 2000, 100)];
            var producers = new (string Audio, string Video)[2];
            for (var i = 0; i < 2; i++)
                producers[i] = (await ProduceAsync(peer, calls[i].TransportId, "audio", OpusProducer(flows[i].InAudio, mid: "1").RtpParameters),
                    await ProduceAsync(peer, calls[i].TransportId, "video", Vp8Producer(flows[i].InVideo, flows[i].InVideo + 10, mid: "0").RtpParameters));
            for (var i = 0; i < 2; i++)
            {
                var (f, other) = (flows[i], calls[1 - i]);
                f.OutAudio = await ConsumeAsync(peer, other.TransportId, producers[i].Audio);
                f.OutVideo = await ConsumeAsync(peer, other.TransportId, producers[i].Video);
                calls[i].Far.OpenDataChannel(f.DataIn, ordered: true);
                var dataProducer = await peer.RequestAsync("produceData", new JsonObject
                {
                    ["transportId"] = calls[i].TransportId, ["sctpStreamParameters"] = new JsonObject { ["streamId"] = f.DataIn, ["ordered"] = true },
                });
                var dataConsumer = await peer.RequestAsync("consumeData", new JsonObject { ["transportId"] = other.TransportId, ["dataProducerId"] = dataProducer["id"]!.GetValue<string>() });
                f.DataOut = dataConsumer["sctpStreamParameters"]!["streamId"]!.GetValue<ushort>();
                other.Far.OpenDataChannel(f.DataOut, ordered: true);
            }
            return new Room(calls, flows, firstIce);
        }

        private static async Task<string> ProduceAsync(PipePeerProcess peer, string transportId, string kind, RtpParameters parameters) =>
            (await peer.RequestAsync("produce", new JsonObject
            {
                ["transportId"] = transportId, ["kind"] = kind, ["rtpParameters"] = JsonSerializer.SerializeToNode(parameters, OrtcJson.Default.RtpParameters),
            }))["id"]!.GetValue<string>();

        private static async Task<uint> ConsumeAsync(PipePeerProcess peer, string transportId, string producerId) =>
            (await peer.RequestAsync("consume", new JsonObject { ["transportId"] = transportId, ["producerId"] = producerId }))["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();

        /// <summary>Audio and video every 5 ms and a message every 20 ms from both far ends; a key frame answers each new PLI, as a browser's encoder would.</summary>
        public Task StartSending() => Task.Factory.StartNew(() =>
        {
            var i = 0;
            while (!_stop.IsCancellationRequested)
            {
                foreach (var f in _flows)
                {
                    var far = _calls[f.From].Far;
                    far.SendRtp(OpusPacket(f.InAudio, (ushort)(60000 + f.AudioSent), (uint)(f.AudioSent * 960), f.AudioSent, mid: "1"));
                    f.AudioSent++;
                    var plis = CountPlis(far, f.InVideo);
                    var keyFrame = f.VideoSent == 0 || plis > f.KeyFramesAnswered;
                    f.KeyFramesAnswered = plis;
                    far.SendRtp(Vp8Packet(f.InVideo, (ushort)(65500 + f.VideoSent), (uint)(f.VideoSent * 3000), keyFrame, number: f.VideoSent, mid: "0"));
                    f.VideoSent++;
                    // A message the far end's send buffer refused was never sent: only accepted ones count.
                    if (i % 4 == 0 && far.SendData(f.DataIn, BitConverter.GetBytes(f.MessagesSent)) == SctpSendResult.Ok) Interlocked.Increment(ref f.MessagesSent);
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

        public async Task WaitForMediaAsync()
        {
            var fars = _calls.Select(c => c.Far).ToArray();
            var before = fars.Select(f => f.ReceivedRtp.Count).ToArray();
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => fars.Select((f, i) => f.ReceivedRtp.Count - before[i]).All(n => n >= 20), Wait),
                $"no media (per far end: received {string.Join(", ", fars.Select((f, i) => f.ReceivedRtp.Count - before[i]))} new RTP packets, SRTP failures {string.Join(", ", fars.Select(f => f.SrtpFailures))}, path switches {string.Join(", ", fars.Select(f => f.PathSwitches))}, STUN errors {string.Join(", ", fars.Select(f => f.StunErrorResponses))})");
        }

        /// <summary>The process holding the router counted no SRTP failure (authentication or replay) on any transport, and DTLS never left connected.</summary>
        public async Task AssertHolderCountersAsync(PipePeerProcess holder, string when)
        {
            foreach (var call in _calls)
            {
                var state = await holder.RequestAsync("takeoverState", new JsonObject { ["transportId"] = call.TransportId });
                Assert.True(state["srtpFailures"]!.GetValue<long>() == 0, $"{when}: {state["srtpFailures"]} SRTP failures in the process that took over");
                Assert.Equal("Connected", state["dtlsState"]!.GetValue<string>());
            }
        }

        /// <summary>
        /// No SRTP failure at either far end (so no replay and no authentication failure of what a new process sent), no DTLS
        /// handshake record after the first handshake, every RTP packet at most once; per channel, messages once and in
        /// order, every message sent after each take-over's resume arrived, and the only ones missing were sent between
        /// the newest copy (less 10, what was in flight when it was taken) and the resume.
        /// </summary>
        public async Task AssertAsync(PipePeerProcess holder, List<(int[] SentAtCopy, int[] SentAtResume)> kills, bool data)
        {
            foreach (var f in _flows.Where(_ => data))
                Assert.True(await WebRtcTestClient.WaitUntilAsync(() => Messages(f).DefaultIfEmpty(-1).Max() == f.MessagesSent - 1, Wait), $"last messages: {SctpSummary}");
            var fars = _calls.Select(c => c.Far).ToArray();
            Assert.True(fars.All(f => f.SrtpFailures == 0), $"SRTP failures at the far ends: {string.Join(", ", fars.Select(f => f.SrtpFailures))}");
            Assert.All(fars, f => Assert.Equal(0, f.DtlsHandshakeRecordsAfterConnect));
            await AssertHolderCountersAsync(holder, "at the end");
            for (var fi = 0; fi < _flows.Length; fi++)
            {
                var f = _flows[fi];
                var to = _calls[1 - f.From].Far;
                foreach (var ssrc in new[] { f.OutAudio, f.OutVideo })
                {
                    var numbers = to.ReceivedRtp.Where(p => Ssrc(p) == ssrc).Select(NumberOf).ToList();
                    Assert.True(numbers.Count == numbers.Distinct().Count(), $"ssrc {ssrc}: a packet arrived twice ({Runs(numbers)})");
                }
                if (!data) continue;
                var messages = Messages(f).ToList();
                var allowed = kills.SelectMany(k => Enumerable.Range(Math.Max(0, k.SentAtCopy[fi] - 10), k.SentAtResume[fi] - Math.Max(0, k.SentAtCopy[fi] - 10))).ToHashSet();
                // In order, and once, but for a message of a kill's window right after itself: the dead process delivered it
                // and died before acknowledging it, so its sender sent it again and the new process delivered it again.
                for (var i = 1; i < messages.Count; i++)
                {
                    var repeat = messages[i] == messages[i - 1] && allowed.Contains(messages[i]) && (i < 2 || messages[i - 2] != messages[i]);
                    Assert.True(messages[i] > messages[i - 1] || repeat, $"flow {fi}: message {messages[i]} after {messages[i - 1]} ({Runs(messages)})");
                }
                var missing = Enumerable.Range(0, f.MessagesSent).Except(messages).ToList();
                Assert.True(missing.All(allowed.Contains), $"flow {fi}: messages missing outside the kills' windows: {Runs(missing.Where(m => !allowed.Contains(m)))} (all missing: {Runs(missing)})");
            }
        }

        private static int CountPlis(WebRtcTestClient far, uint mediaSsrc)
        {
            var count = 0;
            foreach (var compound in far.ReceivedRtcp)
            {
                var at = 0;
                while (at + 12 <= compound.Length)
                {
                    var length = (BinaryPrimitives.ReadUInt16BigEndian(compound.AsSpan(at + 2)) + 1) * 4;
                    if (compound[at + 1] == 206 && (compound[at] & 0x1F) == 1 && BinaryPrimitives.ReadUInt32BigEndian(compound.AsSpan(at + 8)) == mediaSsrc) count++;
                    at += length;
                }
            }
            return count;
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            foreach (var call in _calls) await call.DisposeAsync();
        }
    }
}
