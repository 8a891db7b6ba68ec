using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Testing.Clients;
using Ferry.Tests.Transports;
using Xunit.Abstractions;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A WebRtcTransport moves between two Ferry processes (tests/Ferry.PipePeer, one worker each) while its far
/// end, built on Ferry.Protocols (ICE, DTLS, SRTP, SCTP), sends audio, video and two data channels into it
/// and receives them back through consumers and data consumers on the same transport (so everything the
/// far end sees crosses the move both ways). The snapshot travels as JSON through this test, as a control
/// plane would carry it. Each move: the target prepares a relay, the source freezes and exports, the
/// target imports, the far end restarts ICE towards the new candidate (or, in the second test, ignores it).
/// </summary>
[Collection(nameof(TimingCollection))]
public sealed class MoveAcrossProcessesTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const uint AudioSsrc = 33333333;
    private const uint VideoSsrc = 11111111;
    private const ushort OrderedStream = 100;
    private const ushort UnorderedStream = 101;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private PipePeerProcess[] _peers = [];

    public Task InitializeAsync()
    {
        _peers = [PipePeerProcess.Start(), PipePeerProcess.Start()];
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var peer in _peers) await peer.DisposeAsync();
    }

    [Fact]
    public async Task A_transport_moves_between_two_processes_100_times_and_its_far_end_loses_and_repeats_nothing()
    {
        await using var call = await CallAsync(_peers[0]);
        var moves = 0;
        var current = 0;
        var sending = call.StartSending();
        var relayedToFarEnd = 0L;
        var checksDropped = 0L;
        var snapshotBytes = 0;
        while (moves < 100)
        {
            var source = _peers[current];
            var target = _peers[1 - current];
            var (imported, exportId, bytes) = await MoveAsync(call.TransportId, source, target);
            snapshotBytes = Math.Max(snapshotBytes, bytes);
            call.MovePath(imported);
            await target.RequestAsync("waitPathMoved", new JsonObject { ["transportId"] = call.TransportId });
            JsonObject ended;
            try
            {
                ended = await source.RequestAsync("waitExportEnded", new JsonObject { ["transportId"] = exportId, ["timeoutMs"] = 10_000 });
            }
            catch (PipePeerException e)
            {
                throw new InvalidOperationException($"move {moves}: {e.Message}\nsource stderr:\n{source.StderrTail}\ntarget stderr:\n{target.StderrTail}");
            }
            Assert.True(ended["pathMoved"]!.GetValue<bool>());
            await call.NotePathSwitchAsync(target);
            relayedToFarEnd += ended["relayedToFarEnd"]!.GetValue<long>();
            checksDropped += ended["checksDropped"]!.GetValue<long>();
            current = 1 - current;
            moves++;
        }
        await call.StopSendingAsync(sending);
        await call.AssertEverythingArrivedOnceAsync(_peers[current]);
        Assert.Equal(100, call.Far.PathSwitches);
        // Each switch held the new path's first datagrams, both ways, until the source said the old path was through.
        Assert.True(call.HeldFromFarEnd > 0 && call.HeldToFarEnd > 0, call.PathSwitchSummary);
        output.WriteLine(call.PathSwitchSummary);
        // The relays carried what the target sent before each switch, and kept checks with new credentials off the old address.
        Assert.True(relayedToFarEnd > 0, "nothing came back through a relay");
        Assert.True(checksDropped > 0, "no check with the new credentials reached a source");
        Assert.True(snapshotBytes > 0);
    }

    [Fact]
    public async Task A_far_end_that_ignores_the_new_candidates_is_served_through_the_relay()
    {
        await using var call = await CallAsync(_peers[0]);
        var sending = call.StartSending();
        var (_, _, _) = await MoveAsync(call.TransportId, _peers[0], _peers[1]);
        // The far end keeps sending to the first process; it never restarts ICE. Media and data go on for a while.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await call.StopSendingAsync(sending);
        await call.AssertEverythingArrivedOnceAsync(_peers[1]);
        var state = await _peers[1].RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = call.TransportId });
        Assert.True(state["relayed"]!.GetValue<bool>());
        Assert.True(state["relayReceived"]!.GetValue<long>() > 100, state.ToJsonString());
        Assert.Equal(0, call.Far.PathSwitches);
    }

    [Fact]
    public async Task A_failed_import_leaves_the_transport_live_where_it_was()
    {
        await using var call = await CallAsync(_peers[0]);
        var sending = call.StartSending();
        var slot = await _peers[1].RequestAsync("prepareImport", new JsonObject { ["graceMs"] = 200 });
        var exported = await _peers[0].RequestAsync("exportTransport", new JsonObject
        {
            ["transportId"] = call.TransportId, ["relayIp"] = slot["relayIp"]!.GetValue<string>(), ["relayPort"] = slot["relayPort"]!.GetValue<int>(), ["graceMs"] = 200,
        });
        // A snapshot of a version the target does not know: refused, nothing made there.
        var snapshot = exported["snapshot"]!.AsObject();
        snapshot["version"] = 999;
        await Assert.ThrowsAsync<PipePeerException>(() => _peers[1].RequestAsync("importTransport", new JsonObject { ["slotId"] = slot["slotId"]!.GetValue<string>(), ["snapshot"] = snapshot.DeepClone() }));
        await _peers[0].RequestAsync("abortExport", new JsonObject { ["transportId"] = call.TransportId });
        await Task.Delay(500);
        await call.StopSendingAsync(sending);
        await call.AssertEverythingArrivedOnceAsync(_peers[0]);
        var state = await _peers[0].RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = call.TransportId });
        Assert.False(state["moving"]!.GetValue<bool>());
        Assert.Equal("Connected", state["dtlsState"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_consumer_of_a_producer_that_stays_behind_reads_its_piped_copy_in_the_other_process()
    {
        // A video producer in the first process on a PlainTransport the test feeds; the moving transport consumes it.
        var (a, b) = (_peers[0], _peers[1]);
        using var sender = new UdpRtpPeer();
        var plain = await a.RequestAsync("createPlainTransport", new JsonObject { ["comedia"] = true });
        var produced = await a.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = plain["id"]!.GetValue<string>(), ["kind"] = "video",
            ["rtpParameters"] = JsonSerializer.SerializeToNode(Vp8Producer(44444444, mid: "0").RtpParameters, OrtcJson.Default.RtpParameters),
        });
        var producerId = produced["id"]!.GetValue<string>();
        await using var call = await CallAsync(a, mediaAndData: false);
        var consumed = await a.RequestAsync("consume", new JsonObject { ["transportId"] = call.TransportId, ["producerId"] = producerId });
        var outSsrc = consumed["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();

        // Make before break: the producer is piped into the second process (same id) before any move.
        var (pipeA, pipeB) = await ConnectPipesAsync(a, b);
        var pipeConsumer = await a.RequestAsync("consume", new JsonObject { ["transportId"] = pipeA, ["producerId"] = producerId });
        await b.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = pipeB, ["id"] = producerId, ["kind"] = "video", ["rtpParameters"] = pipeConsumer["rtpParameters"]!.DeepClone(),
        });

        using var stop = new CancellationTokenSource();
        var sent = 0;
        var port = plain["port"]!.GetValue<int>();
        var sending = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                sender.SendRtp(Vp8Packet(44444444, (ushort)(30000 + sent), (uint)(sent * 3000), keyFrame: sent == 0, number: sent, mid: "0"), port);
                sent++;
                Thread.Sleep(5);
            }
        }, TaskCreationOptions.LongRunning);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => call.Far.ReceivedRtp.Count > 20, Wait));
        await MoveBackAndForthAsync(call, 10);
        await stop.CancelAsync();
        await sending;
        await AssertOnceInOrderFromFirstAsync(call.Far.ReceivedRtp, outSsrc, sent, call);
        Assert.Equal(0, call.Far.SrtpFailures);
    }

    [Fact]
    public async Task A_producer_of_the_moving_transport_keeps_its_consumers_in_the_first_process_through_a_pipe_back()
    {
        // The far end's audio producer on the moving transport is consumed by a PlainTransport of the first process, read by the test.
        var (a, b) = (_peers[0], _peers[1]);
        using var receiver = new UdpRtpPeer();
        await using var call = await CallAsync(a, mediaAndData: false);
        var produced = await a.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = call.TransportId, ["kind"] = "audio",
            ["rtpParameters"] = JsonSerializer.SerializeToNode(OpusProducer(AudioSsrc, mid: "1").RtpParameters, OrtcJson.Default.RtpParameters),
        });
        var plainOut = await a.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = receiver.LocalEndPoint.Port });
        var consumed = await a.RequestAsync("consume", new JsonObject { ["transportId"] = plainOut["id"]!.GetValue<string>(), ["producerId"] = produced["id"]!.GetValue<string>() });
        var outSsrc = consumed["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();
        var plan = await a.RequestAsync("movePlan", new JsonObject { ["transportId"] = call.TransportId });
        Assert.Equal(produced["id"]!.GetValue<string>(), Assert.Single(plan["producersConsumedElsewhere"]!.AsArray())!.GetValue<string>());
        // Without a pipe back the move is refused and nothing changes.
        var refusedSlot = await b.RequestAsync("prepareImport", new JsonObject());
        await Assert.ThrowsAsync<PipePeerException>(() => a.RequestAsync("exportTransport", new JsonObject
        {
            ["transportId"] = call.TransportId, ["relayIp"] = refusedSlot["relayIp"]!.GetValue<string>(), ["relayPort"] = refusedSlot["relayPort"]!.GetValue<int>(),
        }));

        var (pipeA, pipeB) = await ConnectPipesAsync(a, b);
        string[] pipes = [pipeA, pipeB];

        using var stop = new CancellationTokenSource();
        var sent = 0;
        var sending = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                call.Far.SendRtp(OpusPacket(AudioSsrc, (ushort)(20000 + sent), (uint)(sent * 960), sent, mid: "1"));
                sent++;
                Thread.Sleep(5);
            }
        }, TaskCreationOptions.LongRunning);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count > 20, Wait));
        await MoveBackAndForthAsync(call, 10, pipes);
        await stop.CancelAsync();
        await sending;
        await AssertOnceInOrderFromFirstAsync(receiver.ReceivedRtp, outSsrc, sent);
    }

    [Fact]
    public async Task An_aborted_move_with_a_pipe_back_leaves_the_copies_in_the_target_fed()
    {
        // The far end's audio producer is read in both processes: by a PlainTransport consumer here, and, piped to the
        // second process beforehand, by one there. A move with a pipe back whose import is refused is aborted.
        var (a, b) = (_peers[0], _peers[1]);
        using var here = new UdpRtpPeer();
        using var there = new UdpRtpPeer();
        await using var call = await CallAsync(a, mediaAndData: false);
        var producerId = (await a.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = call.TransportId, ["kind"] = "audio",
            ["rtpParameters"] = JsonSerializer.SerializeToNode(OpusProducer(AudioSsrc, mid: "1").RtpParameters, OrtcJson.Default.RtpParameters),
        }))["id"]!.GetValue<string>();
        var plainHere = await a.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = here.LocalEndPoint.Port });
        var ssrcHere = (await a.RequestAsync("consume", new JsonObject { ["transportId"] = plainHere["id"]!.GetValue<string>(), ["producerId"] = producerId }))
            ["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();
        var (pipeA, pipeB) = await ConnectPipesAsync(a, b);
        var pipeConsumer = await a.RequestAsync("consume", new JsonObject { ["transportId"] = pipeA, ["producerId"] = producerId });
        await b.RequestAsync("produce", new JsonObject
        {
            ["transportId"] = pipeB, ["id"] = producerId, ["kind"] = "audio", ["rtpParameters"] = pipeConsumer["rtpParameters"]!.DeepClone(),
        });
        var plainThere = await b.RequestAsync("createPlainTransport", new JsonObject { ["remotePort"] = there.LocalEndPoint.Port });
        var ssrcThere = (await b.RequestAsync("consume", new JsonObject { ["transportId"] = plainThere["id"]!.GetValue<string>(), ["producerId"] = producerId }))
            ["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();

        using var stop = new CancellationTokenSource();
        var sent = 0;
        var sending = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                call.Far.SendRtp(OpusPacket(AudioSsrc, (ushort)(20000 + sent), (uint)(sent * 960), sent, mid: "1"));
                sent++;
                Thread.Sleep(5);
            }
        }, TaskCreationOptions.LongRunning);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => here.ReceivedRtp.Count > 20 && there.ReceivedRtp.Count > 20, Wait));
        var slot = await b.RequestAsync("prepareImport", new JsonObject { ["graceMs"] = 200, ["pipeTransportId"] = pipeB });
        var exported = await a.RequestAsync("exportTransport", new JsonObject
        {
            ["transportId"] = call.TransportId, ["pipeTransportId"] = pipeA,
            ["relayIp"] = slot["relayIp"]!.GetValue<string>(), ["relayPort"] = slot["relayPort"]!.GetValue<int>(), ["graceMs"] = 200,
        });
        var snapshot = exported["snapshot"]!.AsObject();
        snapshot["version"] = 999;
        await Assert.ThrowsAsync<PipePeerException>(() => b.RequestAsync("importTransport", new JsonObject { ["slotId"] = slot["slotId"]!.GetValue<string>(), ["snapshot"] = snapshot.DeepClone() }));
        await a.RequestAsync("abortExport", new JsonObject { ["transportId"] = call.TransportId });
        // Media goes on for a while after the abort, on both sides.
        var afterAbort = sent;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sent > afterAbort + 100, Wait));
        await stop.CancelAsync();
        await sending;
        await AssertOnceInOrderFromFirstAsync(here.ReceivedRtp, ssrcHere, sent);
        await AssertOnceInOrderFromFirstAsync(there.ReceivedRtp, ssrcThere, sent);
    }

    /// <summary>The transport moves <paramref name="times"/> times between the two processes, the far end restarting ICE each time (with a pipe back when given, per process).</summary>
    private async Task MoveBackAndForthAsync(Call call, int times, string[]? pipes = null)
    {
        var current = 0;
        for (var move = 0; move < times; move++)
        {
            var (source, target) = (_peers[current], _peers[1 - current]);
            var (imported, exportId, _) = await MoveAsync(call.TransportId, source, target, pipes?[current], pipes?[1 - current]);
            call.MovePath(imported);
            await target.RequestAsync("waitPathMoved", new JsonObject { ["transportId"] = call.TransportId });
            await source.RequestAsync("waitExportEnded", new JsonObject { ["transportId"] = exportId });
            await call.NotePathSwitchAsync(target);
            current = 1 - current;
        }
    }

    /// <summary>A PipeTransport in each process, connected to each other; their ids.</summary>
    private static async Task<(string A, string B)> ConnectPipesAsync(PipePeerProcess a, PipePeerProcess b)
    {
        var pipeA = await a.RequestAsync("createPipeTransport", new JsonObject());
        var pipeB = await b.RequestAsync("createPipeTransport", new JsonObject());
        await a.RequestAsync("connectPipeTransport", new JsonObject { ["transportId"] = pipeA["id"]!.GetValue<string>(), ["ip"] = "127.0.0.1", ["port"] = pipeB["port"]!.GetValue<int>() });
        await b.RequestAsync("connectPipeTransport", new JsonObject { ["transportId"] = pipeB["id"]!.GetValue<string>(), ["ip"] = "127.0.0.1", ["port"] = pipeA["port"]!.GetValue<int>() });
        return (pipeA["id"]!.GetValue<string>(), pipeB["id"]!.GetValue<string>());
    }

    /// <summary>
    /// Every packet numbered up to <paramref name="sent"/> on <paramref name="ssrc"/>, from the first received on (the first
    /// ones may go by before the consumer exists), arrives once, in order, with continuous sequence numbers.
    /// </summary>
    private static async Task AssertOnceInOrderFromFirstAsync(IReadOnlyCollection<byte[]> packets, uint ssrc, int sent, Call? call = null)
    {
        bool Complete() => packets.Count(p => Ssrc(p) == ssrc) >= sent - NumberOf(packets.First(p => Ssrc(p) == ssrc));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(Complete, Wait), $"{packets.Count(p => Ssrc(p) == ssrc)} of {sent}; numbers received: " +
            Runs(packets.Where(p => Ssrc(p) == ssrc).Select(NumberOf)) + (call is null ? "" : $"; SRTP failures at the far end {call.Far.SrtpFailures}. {call.PathSwitchSummary}"));
        var all = packets.ToArray();
        var ports = call?.Far.ReceivedRtpFromPort.ToArray();
        var mine = Enumerable.Range(0, all.Length).Where(i => Ssrc(all[i]) == ssrc).ToArray();
        var received = mine.Select(i => all[i]).ToArray();
        AssertOnceAndContinuous(received, NumberOf(received[0]), sent, ports is null || ports.Length < all.Length ? null : mine.Select(i => ports[i]).ToArray(), call?.Paths,
            call?.PathSwitchSummary);
    }

    /// <summary>
    /// Packets numbered <paramref name="from"/> to <paramref name="to"/> (exclusive) each arrived once, in order, with
    /// sequence numbers that follow the numbering without a gap (one mapping throughout). Not even a path switch may
    /// reorder them: the target holds what arrives on the new path until the relay's last packets are through, both ways.
    /// <paramref name="fromPorts"/> (the UDP port each packet came from) and <paramref name="paths"/> (the transport's
    /// port before the first move and after each) say, for a packet that came late, by which path it and the one it
    /// followed came.
    /// </summary>
    internal static void AssertOnceAndContinuous(byte[][] packets, int from, int to, int[]? fromPorts = null, List<int>? paths = null, string? context = null)
    {
        var numbers = packets.Select(NumberOf).ToArray();
        Assert.Equal(Enumerable.Range(from, to - from), numbers.Order());
        // Where a packet follows a higher number: the first of a run of late packets (by which path each came, when known).
        var overtaken = new List<string>();
        var late = 0;
        var highest = int.MinValue;
        for (var i = 0; i < numbers.Length; i++)
        {
            if (numbers[i] < highest) late++;
            if (i > 0 && numbers[i] < numbers[i - 1])
                overtaken.Add($"{numbers[i]} after {numbers[i - 1]}" + (fromPorts is null || paths is null ? "" : $" ({Path(fromPorts[i])} after {Path(fromPorts[i - 1])})"));
            highest = Math.Max(highest, numbers[i]);
        }
        Assert.True(late == 0, $"{late} packets late, runs starting with: {string.Join("; ", overtaken.Take(20))}. {context}");
        RtpPacket.TryParse(packets[0], out var head);
        var offset = (ushort)(head.SequenceNumber - numbers[0]);
        foreach (var packet in packets)
        {
            RtpPacket.TryParse(packet, out var p);
            Assert.Equal(offset, (ushort)(p.SequenceNumber - NumberOf(packet)));
        }
        string Path(int port) => paths!.IndexOf(port) is var k and >= 0 ? $"path {k}" : $"port {port}";
    }

    /// <summary>"0-99, 120-200": which numbers arrived, as runs.</summary>
    internal static string Runs(IEnumerable<int> numbers)
    {
        var runs = new List<string>();
        int? start = null, last = null;
        foreach (var n in numbers)
        {
            if (last is { } l && n == l + 1) { last = n; continue; }
            if (start is { } s0) runs.Add($"{s0}-{last}");
            start = last = n;
        }
        if (start is { } s1) runs.Add($"{s1}-{last}");
        return string.Join(", ", runs);
    }

    internal static uint Ssrc(byte[] rtp) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(rtp.AsSpan(8));

    /// <summary>One move of the transport from <paramref name="source"/> to <paramref name="target"/>; the import's reply, the id the source still knows it by, and the snapshot's size in bytes.</summary>
    private static async Task<(JsonObject Imported, string ExportId, int Bytes)> MoveAsync(string transportId, PipePeerProcess source, PipePeerProcess target,
        string? sourcePipe = null, string? targetPipe = null)
    {
        // The producers its consumers read from elsewhere are piped to the target beforehand (by the test); the target keeps what they receive until the import.
        var plan = await source.RequestAsync("movePlan", new JsonObject { ["transportId"] = transportId });
        if (sourcePipe is null) Assert.Empty(plan["producersConsumedElsewhere"]!.AsArray());
        var slot = await target.RequestAsync("prepareImport", new JsonObject
        {
            ["graceMs"] = 200, ["holdProducerIds"] = plan["consumedProducerIds"]!.DeepClone(), ["pipeTransportId"] = targetPipe,
            // The far end sends back to back at a switch (tens of thousands of packets a second, far above a browser's rate), on a
            // machine that may be busy: room and time enough that the holds end by the source's word, which is what is tested.
            ["pathSwitchHoldCapacity"] = 4096, ["pathSwitchHoldMs"] = 1000,
        });
        var exported = await source.RequestAsync("exportTransport", new JsonObject
        {
            ["pipeTransportId"] = sourcePipe,
            ["transportId"] = transportId, ["relayIp"] = slot["relayIp"]!.GetValue<string>(), ["relayPort"] = slot["relayPort"]!.GetValue<int>(), ["graceMs"] = 200,
        });
        var imported = await target.RequestAsync("importTransport", new JsonObject { ["slotId"] = slot["slotId"]!.GetValue<string>(), ["snapshot"] = exported["snapshot"]!.DeepClone() });
        await source.RequestAsync("commitExport", new JsonObject { ["transportId"] = transportId });
        return (imported, transportId, exported["bytes"]!.GetValue<int>());
    }

    internal static async Task<Call> CallAsync(PipePeerProcess peer, bool mediaAndData = true)
    {
        var far = new WebRtcTestClient();
        var created = await peer.RequestAsync("createWebRtcTransport", new JsonObject { ["enableSctp"] = true });
        var id = created["id"]!.GetValue<string>();
        await peer.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = id, ["dtlsParameters"] = JsonSerializer.SerializeToNode(far.DtlsParameters, OrtcJson.Default.DtlsParameters) });
        await far.ConnectAsync(created["iceParameters"].Deserialize(OrtcJson.Default.IceParameters)!, created["iceCandidates"].Deserialize(OrtcJson.Default.IReadOnlyListIceCandidate)!,
            created["dtlsParameters"].Deserialize(OrtcJson.Default.DtlsParameters)!, Wait, created["sctpParameters"].Deserialize(OrtcJson.Default.SctpParameters));
        await far.WaitSctpConnectedAsync(Wait);
        var port = created["iceCandidates"]![0]!["port"]!.GetValue<int>();
        if (!mediaAndData) return new Call(id, far, port, 0, 0, 0, 0);
        var ssrcs = new Dictionary<string, uint>();
        foreach (var (kind, options) in new[] { ("audio", OpusProducer(AudioSsrc, mid: "1")), ("video", Vp8Producer(VideoSsrc, mid: "0")) })
        {
            var produced = await peer.RequestAsync("produce", new JsonObject
            {
                ["transportId"] = id, ["kind"] = kind, ["rtpParameters"] = JsonSerializer.SerializeToNode(options.RtpParameters, OrtcJson.Default.RtpParameters),
            });
            var consumed = await peer.RequestAsync("consume", new JsonObject { ["transportId"] = id, ["producerId"] = produced["id"]!.GetValue<string>() });
            ssrcs[kind] = consumed["rtpParameters"]!["encodings"]![0]!["ssrc"]!.GetValue<uint>();
        }
        var receiveStreams = new Dictionary<ushort, ushort>();
        foreach (var (stream, ordered) in new[] { (OrderedStream, true), (UnorderedStream, false) })
        {
            far.OpenDataChannel(stream, ordered);
            var produced = await peer.RequestAsync("produceData", new JsonObject
            {
                ["transportId"] = id, ["sctpStreamParameters"] = new JsonObject { ["streamId"] = stream, ["ordered"] = ordered },
            });
            var consumed = await peer.RequestAsync("consumeData", new JsonObject { ["transportId"] = id, ["dataProducerId"] = produced["id"]!.GetValue<string>() });
            var receiveStream = consumed["sctpStreamParameters"]!["streamId"]!.GetValue<ushort>();
            far.OpenDataChannel(receiveStream, ordered);
            receiveStreams[stream] = receiveStream;
        }
        return new Call(id, far, port, ssrcs["audio"], ssrcs["video"], receiveStreams[OrderedStream], receiveStreams[UnorderedStream]);
    }

    internal sealed class Call(string transportId, WebRtcTestClient far, int firstPort, uint audioOut, uint videoOut, ushort orderedIn, ushort unorderedIn) : IAsyncDisposable
    {
        // Dense media at a switch: back to back for at most this long, and this many pairs after the switch.
        private const int DenseMilliseconds = 20;
        private const int PairsAfterSwitch = 20;
        private readonly CancellationTokenSource _stop = new();
        private long _denseUntil;
        private int _pairsAfterSwitch;
        private int _switchesSeen;
        private int _audioSent;
        private int _videoSent;
        private int _orderedSent;
        private int _unorderedSent;

        public string TransportId { get; } = transportId;

        public WebRtcTestClient Far { get; } = far;

        /// <summary>The transport's port before the first move, then after each: the path a packet came by.</summary>
        public List<int> Paths { get; } = [firstPort];

        /// <summary>Datagrams the targets held from the far end at the path switches so far (<see cref="NotePathSwitchAsync"/>).</summary>
        public long HeldFromFarEnd { get; private set; }

        /// <summary>Datagrams the targets held to the far end at the path switches so far.</summary>
        public long HeldToFarEnd { get; private set; }

        private long _releasedByMarker;
        private long _releasedByTimeout;
        private long _releasedWhenFull;

        /// <summary>What the holds at the path switches did, for failure messages.</summary>
        public string PathSwitchSummary =>
            $"Path switches: held {HeldFromFarEnd} from and {HeldToFarEnd} to the far end; holds released by the source's word {_releasedByMarker}, " +
            $"by timeout {_releasedByTimeout}, when full {_releasedWhenFull}.";

        /// <summary>Adds what the transport, now live in <paramref name="holder"/>, held at its path switch.</summary>
        public async Task NotePathSwitchAsync(PipePeerProcess holder)
        {
            var state = await holder.RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = TransportId });
            var hold = state["pathSwitch"]!;
            HeldFromFarEnd += hold["heldFromFarEnd"]!.GetValue<long>();
            HeldToFarEnd += hold["heldToFarEnd"]!.GetValue<long>();
            _releasedByMarker += hold["releasedByMarker"]!.GetValue<long>();
            _releasedByTimeout += hold["releasedByTimeout"]!.GetValue<long>();
            _releasedWhenFull += hold["releasedWhenFull"]!.GetValue<long>();
        }

        /// <summary>The far end restarts ICE towards the target's candidate, as a browser told of the move would.</summary>
        public void MovePath(JsonObject imported)
        {
            var candidate = imported["iceCandidates"].Deserialize(OrtcJson.Default.IReadOnlyListIceCandidate)![0];
            Paths.Add(candidate.Port);
            // The switch comes within a millisecond or so (longer on a busy machine): media is dense from now until just after it.
            _pairsAfterSwitch = PairsAfterSwitch;
            _switchesSeen = Far.PathSwitches;
            Interlocked.Exchange(ref _denseUntil, System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency * DenseMilliseconds / 1000);
            Far.MovePath(imported["iceParameters"].Deserialize(OrtcJson.Default.IceParameters)!, candidate);
        }

        /// <summary>Audio and video every 5 ms each (back to back from each <see cref="MovePath"/> to just after the switch), a message on each channel every 20 ms, on a thread of its own.</summary>
        public Task StartSending() => Task.Factory.StartNew(() =>
        {
            var i = 0;
            while (!_stop.IsCancellationRequested)
            {
                Far.SendRtp(OpusPacket(AudioSsrc, (ushort)(50000 + _audioSent), (uint)(_audioSent * 960), _audioSent, mid: "1"));
                _audioSent++;
                Far.SendRtp(Vp8Packet(VideoSsrc, (ushort)(65000 + _videoSent), (uint)(_videoSent * 3000), keyFrame: _videoSent == 0, number: _videoSent, mid: "0"));
                _videoSent++;
                if (System.Diagnostics.Stopwatch.GetTimestamp() < Interlocked.Read(ref _denseUntil))
                {
                    // Around a path switch, back to back until a few pairs after it: the relay's extra hop is then longer than the
                    // gap between two packets, so a switch that let the new path overtake the old one (either way) shows at almost every move.
                    if (Far.PathSwitches != _switchesSeen && --_pairsAfterSwitch == 0) Interlocked.Exchange(ref _denseUntil, 0);
                    continue;
                }
                if (i++ % 4 == 0)
                {
                    Far.SendData(OrderedStream, BitConverter.GetBytes(_orderedSent++));
                    Far.SendData(UnorderedStream, BitConverter.GetBytes(_unorderedSent++));
                }
                Thread.Sleep(5);
            }
        }, TaskCreationOptions.LongRunning);

        public async Task StopSendingAsync(Task sending)
        {
            await _stop.CancelAsync();
            await sending;
        }

        /// <summary>Every packet back exactly once, in order, on one SSRC with continuous sequence numbers; every message once (in order on the ordered channel); no SRTP failure, no DTLS handshake after the first.</summary>
        public async Task AssertEverythingArrivedOnceAsync(PipePeerProcess holder)
        {
            bool Done() =>
                Far.ReceivedRtp.Count(p => Ssrc(p) == audioOut) >= _audioSent && Far.ReceivedRtp.Count(p => Ssrc(p) == videoOut) >= _videoSent &&
                Far.ReceivedData.Count(m => m.StreamId == orderedIn) >= _orderedSent && Far.ReceivedData.Count(m => m.StreamId == unorderedIn) >= _unorderedSent;
            var complete = await WebRtcTestClient.WaitUntilAsync(Done, Wait);
            var state = await holder.RequestAsync("webRtcTransport", new JsonObject { ["transportId"] = TransportId });
            Assert.True(complete, $"audio {Far.ReceivedRtp.Count(p => Ssrc(p) == audioOut)}/{_audioSent}, video {Far.ReceivedRtp.Count(p => Ssrc(p) == videoOut)}/{_videoSent}, " +
                $"ordered {Far.ReceivedData.Count(m => m.StreamId == orderedIn)}/{_orderedSent}, unordered {Far.ReceivedData.Count(m => m.StreamId == unorderedIn)}/{_unorderedSent}; " +
                $"transport {state.ToJsonString()}");
            var received = Far.ReceivedRtp.ToArray();
            var ports = Far.ReceivedRtpFromPort.ToArray();
            AssertStream(received, ports, audioOut, _audioSent);
            AssertStream(received, ports, videoOut, _videoSent);
            Assert.Equal(2, received.Select(Ssrc).Distinct().Count());
            var messages = Far.ReceivedData.ToArray();
            Assert.Equal(Enumerable.Range(0, _orderedSent), messages.Where(m => m.StreamId == orderedIn).Select(m => BitConverter.ToInt32(m.Data)));
            Assert.Equal(Enumerable.Range(0, _unorderedSent), messages.Where(m => m.StreamId == unorderedIn).Select(m => BitConverter.ToInt32(m.Data)).Order());
            Assert.Equal(0, Far.SrtpFailures);
            Assert.Equal(0, Far.DtlsHandshakeRecordsAfterConnect);
            Assert.Equal(0, state["srtpFailures"]!.GetValue<long>());
        }

        private void AssertStream(byte[][] received, int[] ports, uint ssrc, int total)
        {
            var mine = Enumerable.Range(0, received.Length).Where(i => Ssrc(received[i]) == ssrc).ToArray();
            AssertOnceAndContinuous(mine.Select(i => received[i]).ToArray(), 0, total, ports.Length < received.Length ? null : mine.Select(i => ports[i]).ToArray(), Paths,
                PathSwitchSummary);
        }

        public ValueTask DisposeAsync()
        {
            _stop.Cancel();
            Far.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
