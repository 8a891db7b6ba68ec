using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Ferry.Bench.Swarm;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Transports;

namespace Ferry.Bench;

/// <summary>The measurements, one method per figure of the benchmark issue.</summary>
internal sealed partial class Scenarios(BenchConfig config, Progress progress)
{
    private const uint ProducerSsrc = 11111111;
    // Handshakes in flight at once: enough to overlap the round trips, few enough that DTLS retransmission timers stay quiet.
    private const int ConnectBatch = 32;

    private static RouterOptions RouterOptions => new()
    {
        MediaCodecs =
        [
            new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 },
            new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP8", ClockRate = 90000 },
        ],
    };

    private static WebRtcTransportOptions Loopback => new() { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] };

    private SourceSpec Spec => new(config.PacketsPerSecond, config.PayloadBytes, ProducerSsrc);

    /// <summary>A VP8 producer as Chrome's mediasoup-client sends it (PT 96, RTX 97, mid extension 4).</summary>
    private static ProducerOptions Vp8Producer(uint ssrc, string mid = "0") => new()
    {
        Kind = MediaKind.Video,
        RtpParameters = new RtpParameters
        {
            Mid = mid,
            Codecs =
            [
                new RtpCodecParameters
                {
                    MimeType = "video/VP8", PayloadType = 96, ClockRate = 90000,
                    RtcpFeedback = [new RtcpFeedback { Type = "nack" }, new RtcpFeedback { Type = "nack", Parameter = "pli" }, new RtcpFeedback { Type = "ccm", Parameter = "fir" }],
                },
                new RtpCodecParameters
                {
                    MimeType = "video/rtx", PayloadType = 97, ClockRate = 90000,
                    Parameters = new Dictionary<string, CodecParameterValue> { ["apt"] = 96 },
                },
            ],
            HeaderExtensions = [new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 }],
            Encodings = [new RtpEncodingParameters { Ssrc = ssrc, Rtx = new RtxParameters { Ssrc = ssrc + 1 } }],
            Rtcp = new RtcpParameters { Cname = "bench" },
        },
    };

    // ---------------------------------------------------------------- forwarding

    public async Task ForwardingAsync(ISwarm swarm, BenchResults results)
    {
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        foreach (var n in config.ForwardingConsumers)
        {
            var measureMemory = n == config.ForwardingConsumers[^1];
            var step = await ForwardingStepAsync(worker, swarm, n, withFloor: true, measureMemory ? results : null).ConfigureAwait(false);
            results.Forwarding.Add(step);
            progress.Line($"forwarding N={n}: Ferry {step.FerryUsPerPacket:F2} us/pkt, floor {step.FloorUsPerPacket:F2}, floor+SRTP {step.FloorSrtpUsPerPacket:F2} " +
                          $"(x{step.FerryOverFloor:F2}, x{step.FerryOverFloorSrtp:F2}), loss {step.LossPercent:F3}%, {step.AllocatedBytesPerPacket:F3} B/pkt");
        }
    }

    public async Task CapacityAsync(ISwarm swarm, BenchResults results)
    {
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        // Start from the ladder already measured: its largest N that held is the first candidate.
        var best = results.Forwarding.Where(Passes).OrderBy(f => f.Consumers).LastOrDefault();
        foreach (var n in config.CapacityConsumers)
        {
            var step = await ForwardingStepAsync(worker, swarm, n, withFloor: false, null).ConfigureAwait(false);
            progress.Line($"capacity N={n}: {step.PacketsPerSecondOut:F0} pkt/s out of {n * step.PacketsPerSecondIn}, worker CPU {step.WorkerCpuPercent:F0}%, load client CPU {step.LoadClientCpuPercent:F0}%, loss {step.LossPercent:F3}%");
            if (!Passes(step))
            {
                results.Capacity = new CapacityResult
                {
                    MaxConsumers = best?.Consumers ?? 0, WorkerCpuPercent = best?.WorkerCpuPercent ?? 0, LossPercent = best?.LossPercent ?? 0,
                    FailedConsumers = n,
                    FailedReason = $"{step.PacketsPerSecondOut:F0} of {n * step.PacketsPerSecondIn} pkt/s out, loss {step.LossPercent:F2}%, worker CPU {step.WorkerCpuPercent:F0}%, load client CPU {step.LoadClientCpuPercent:F0}%",
                };
                return;
            }
            best = step;
        }
        results.Capacity = new CapacityResult
        {
            MaxConsumers = best?.Consumers ?? 0, WorkerCpuPercent = best?.WorkerCpuPercent ?? 0, LossPercent = best?.LossPercent ?? 0,
            FailedConsumers = 0, FailedReason = $"no step of the ladder (up to {config.CapacityConsumers[^1]}) failed",
        };
    }

    /// <summary>
    /// Carried: under 0.5% loss at the receivers, and the full rate out (a load client that falls behind
    /// paces its source down, which shows as a lower rate, not as loss).
    /// </summary>
    private static bool Passes(ForwardingResult f) =>
        f.LossPercent < 0.5 && f.PacketsExpected > 0 && f.PacketsPerSecondOut >= 0.97 * f.Consumers * f.PacketsPerSecondIn;

    private async Task<ForwardingResult> ForwardingStepAsync(Worker worker, ISwarm swarm, int n, bool withFloor, BenchResults? memory)
    {
        var router = await worker.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        try
        {
            progress.Status($"N={n}: connecting the producer");
            var producerTransport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
            await swarm.ConnectTransportAsync(0, producerTransport).ConfigureAwait(false);
            var producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);

            var before = memory is null ? default : MemorySnapshot.Take();
            var transports = new WebRtcTransport[n];
            for (var i = 0; i < n; i++) transports[i] = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
            for (var start = 0; start < n; start += ConnectBatch)
            {
                progress.Status($"N={n}: ICE+DTLS {start}/{n}");
                var batch = Enumerable.Range(start, Math.Min(ConnectBatch, n - start));
                await Task.WhenAll(batch.Select(i => swarm.ConnectTransportAsync(i + 1, transports[i]))).ConfigureAwait(false);
            }
            var consumerOptions = new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities };
            foreach (var t in transports) await t.ConsumeAsync(consumerOptions).ConfigureAwait(false);
            if (memory is not null)
            {
                var after = MemorySnapshot.Take();
                memory.Memory ??= new MemoryResult
                {
                    Count = 0, TransportManaged = 0, TransportNative = 0, ProducerManaged = 0, ProducerNative = 0, ConsumerManaged = 0, ConsumerNative = 0,
                };
                memory.Memory.ConnectedCount = n;
                memory.Memory.ConnectedManaged = (after.Managed - before.Managed) / (double)n;
                memory.Memory.ConnectedNative = (after.Native - before.Native) / (double)n;
            }

            // Rounds of Ferry, floor and floor+SRTP back to back; each figure keeps its cheapest round, since
            // other load on a shared machine only ever adds to a thread's CPU time per packet.
            Measurement ferry = default, floor = default, floorSrtp = default;
            long lost = 0, expected = 0, srtpFailures = 0, allocated = 0, sent = 0;
            var destinations = transports.Select(t => new IPEndPoint(IPAddress.Loopback, t.IceSelectedTuple!.RemotePort ?? 0)).ToList();
            for (var round = 0; round < (withFloor ? config.Rounds : 1); round++)
            {
                await swarm.StartSourceAsync(0, Spec).ConfigureAwait(false);
                await WaitForAsync(async () => (await swarm.GetStatsAsync().ConfigureAwait(false)).ActivePeers >= n, TimeSpan.FromSeconds(10), $"N={n}: waiting for every consumer's first packet").ConfigureAwait(false);
                var window = await MeasureAsync($"N={n} Ferry", swarm, () => SampleWorkerAsync(worker), () => worker.Traffic.PacketsSent).ConfigureAwait(false);
                lost += window.Swarm.Lost;
                expected += window.Swarm.Expected;
                srtpFailures += window.Swarm.SrtpFailures;
                // Allocations over every window, not the cheapest one's: a rare allocation must not hide.
                allocated += window.AllocatedBytes;
                sent += window.PacketsSent;
                ferry = Cheapest(ferry, window);
                await swarm.StopSourceAsync().ConfigureAwait(false);
                if (!withFloor) continue;
                floor = Cheapest(floor, await FloorAsync(swarm, destinations, srtp: false).ConfigureAwait(false));
                floorSrtp = Cheapest(floorSrtp, await FloorAsync(swarm, destinations, srtp: true).ConfigureAwait(false));
                // Between rounds the receivers start afresh: the next Ferry window counts from its own first packet.
                await swarm.ResetStatsAsync().ConfigureAwait(false);
            }
            return new ForwardingResult
            {
                Consumers = n,
                PacketsPerSecondIn = config.PacketsPerSecond,
                PacketsPerSecondOut = ferry.PacketsSent / ferry.Seconds,
                FerryUsPerPacket = ferry.UsPerPacket,
                FloorUsPerPacket = floor.UsPerPacket,
                FloorSrtpUsPerPacket = floorSrtp.UsPerPacket,
                WorkerCpuPercent = 100 * ferry.CpuMicroseconds / 1e6 / ferry.Seconds,
                LoadClientCpuPercent = 100 * ferry.ClientCpuMicroseconds / 1e6 / ferry.Seconds,
                PacketsSent = ferry.PacketsSent,
                PacketsLost = lost,
                PacketsExpected = expected,
                AllocatedBytesPerPacket = sent > 0 ? allocated / (double)sent : 0,
                SrtpFailures = srtpFailures,
            };
        }
        finally
        {
            await router.CloseAsync().ConfigureAwait(false);
            await swarm.RemoveAllAsync().ConfigureAwait(false);
        }
    }

    private async Task<Measurement> FloorAsync(ISwarm swarm, IReadOnlyList<IPEndPoint> destinations, bool srtp)
    {
        var floor = await Floor.StartAsync(destinations, srtp).ConfigureAwait(false);
        await using (floor.ConfigureAwait(false))
        {
            await swarm.StartRawSourceAsync(floor.InputEndPoint, Spec, Floor.Profile, floor.InputKey, floor.InputSalt).ConfigureAwait(false);
            var m = await MeasureAsync($"N={destinations.Count} floor{(srtp ? "+SRTP" : "")}", swarm, floor.SampleAsync, () => Volatile.Read(ref floor.Loop.Counters.PacketsSent)).ConfigureAwait(false);
            await swarm.StopSourceAsync().ConfigureAwait(false);
            return m;
        }
    }

    private static Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)> SampleWorkerAsync(Worker worker) => worker.Loop.InvokeAsync(() =>
    {
        var u = worker.Loop.ThreadUsage();
        return ((u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec, worker.Loop.Counters.PacketsSent, GC.GetAllocatedBytesForCurrentThread());
    });

    /// <summary>Warm-up, then the thread's CPU, packets sent and allocations over one window.</summary>
    private async Task<Measurement> MeasureAsync(string label, ISwarm swarm, Func<Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)>> sample, Func<long> livePacketsSent)
    {
        progress.Status($"{label}: warm-up");
        await Task.Delay(config.Warmup).ConfigureAwait(false);
        await swarm.ResetStatsAsync().ConfigureAwait(false);
        var c0 = await swarm.GetStatsAsync().ConfigureAwait(false);
        // Two samples back to back measure what sampling itself allocates on the thread, to take off the window's figure.
        var pre = await sample().ConfigureAwait(false);
        var a = await sample().ConfigureAwait(false);
        var samplingBytes = a.AllocatedBytes - pre.AllocatedBytes;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < config.Window)
        {
            // Progress reads the counters from here: a command on the measured thread would allocate there.
            await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
            progress.Status($"{label}: {(livePacketsSent() - a.PacketsSent) / clock.Elapsed.TotalSeconds:F0} pkt/s out");
        }
        var b = await sample().ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var c1 = await swarm.GetStatsAsync().ConfigureAwait(false);
        var sent = b.PacketsSent - a.PacketsSent;
        var cpu = b.CpuMicroseconds - a.CpuMicroseconds;
        return new Measurement(elapsed, cpu, sent, Math.Max(0, b.AllocatedBytes - a.AllocatedBytes - samplingBytes), c1, c1.CpuMicroseconds - c0.CpuMicroseconds);
    }

    private static Measurement Cheapest(Measurement best, Measurement next) =>
        best.PacketsSent == 0 || (next.PacketsSent > 0 && next.UsPerPacket < best.UsPerPacket) ? next : best;

    private readonly record struct Measurement(double Seconds, long CpuMicroseconds, long PacketsSent, long AllocatedBytes, SwarmStats Swarm, long ClientCpuMicroseconds)
    {
        public double UsPerPacket => PacketsSent > 0 ? CpuMicroseconds / (double)PacketsSent : 0;
    }

    private async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string status)
    {
        progress.Status(status);
        var clock = Stopwatch.StartNew();
        while (!await condition().ConfigureAwait(false))
        {
            if (clock.Elapsed > timeout) throw new TimeoutException(status);
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- memory

    public async Task MemoryAsync(BenchResults results)
    {
        var count = config.MemoryCount;
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        var router = await worker.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        // One of each first, so lazily built statics and JIT'd code are not charged to the objects.
        var warm = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
        var warmProducer = await warm.ProduceAsync(Vp8Producer(1)).ConfigureAwait(false);
        await warm.ConsumeAsync(new ConsumerOptions { ProducerId = warmProducer.Id, RtpCapabilities = router.RtpCapabilities }).ConfigureAwait(false);

        var m0 = MemorySnapshot.Take();
        var transports = new WebRtcTransport[count];
        for (var i = 0; i < count; i++)
        {
            if (i % 100 == 0) progress.Status($"memory: transport {i}/{count}");
            transports[i] = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
        }
        var m1 = MemorySnapshot.Take();
        var producers = new Producer[count];
        for (var i = 0; i < count; i++)
        {
            if (i % 100 == 0) progress.Status($"memory: producer {i}/{count}");
            producers[i] = await transports[i].ProduceAsync(Vp8Producer((uint)(1000 + 2 * i))).ConfigureAwait(false);
        }
        var m2 = MemorySnapshot.Take();
        for (var i = 0; i < count; i++)
        {
            if (i % 100 == 0) progress.Status($"memory: consumer {i}/{count}");
            await transports[i].ConsumeAsync(new ConsumerOptions { ProducerId = producers[(i + 1) % count].Id, RtpCapabilities = router.RtpCapabilities }).ConfigureAwait(false);
        }
        var m3 = MemorySnapshot.Take();
        var connected = results.Memory;
        results.Memory = new MemoryResult
        {
            Count = count,
            TransportManaged = (m1.Managed - m0.Managed) / (double)count,
            TransportNative = (m1.Native - m0.Native) / (double)count,
            ProducerManaged = (m2.Managed - m1.Managed) / (double)count,
            ProducerNative = (m2.Native - m1.Native) / (double)count,
            ConsumerManaged = (m3.Managed - m2.Managed) / (double)count,
            ConsumerNative = (m3.Native - m2.Native) / (double)count,
            ConnectedCount = connected?.ConnectedCount ?? 0,
            ConnectedManaged = connected?.ConnectedManaged ?? 0,
            ConnectedNative = connected?.ConnectedNative ?? 0,
        };
        progress.Line($"memory: transport {results.Memory.TransportManaged:F0}+{results.Memory.TransportNative:F0} B, producer {results.Memory.ProducerManaged:F0}+{results.Memory.ProducerNative:F0} B, consumer {results.Memory.ConsumerManaged:F0}+{results.Memory.ConsumerNative:F0} B (managed+native)");
        GC.KeepAlive(transports);
        await router.CloseAsync().ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- moves

    public async Task MovesAsync(BenchResults results)
    {
        await using var a = await Worker.CreateAsync().ConfigureAwait(false);
        await using var b = await Worker.CreateAsync().ConfigureAwait(false);
        await using var swarm = new LocalSwarm();
        foreach (var (consumers, moves) in config.Moves)
        {
            var router = await a.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
            try
            {
                progress.Status($"moves with {consumers} consumers: connecting");
                var producerTransport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                await swarm.ConnectTransportAsync(0, producerTransport).ConfigureAwait(false);
                var producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
                var transports = new WebRtcTransport[consumers];
                for (var i = 0; i < consumers; i++) transports[i] = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                for (var start = 0; start < consumers; start += ConnectBatch)
                    await Task.WhenAll(Enumerable.Range(start, Math.Min(ConnectBatch, consumers - start)).Select(i => swarm.ConnectTransportAsync(i + 1, transports[i]))).ConfigureAwait(false);
                foreach (var t in transports) await t.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities }).ConfigureAwait(false);
                await swarm.StartSourceAsync(0, Spec).ConfigureAwait(false);
                await WaitForAsync(async () => (await swarm.GetStatsAsync().ConfigureAwait(false)).ActivePeers >= consumers, TimeSpan.FromSeconds(10), "moves: waiting for media").ConfigureAwait(false);
                await swarm.ResetStatsAsync().ConfigureAwait(false);
                var handovers = new List<double>();
                long drops = 0;
                for (var i = 0; i < moves; i++)
                {
                    var report = await router.MoveToAsync(i % 2 == 0 ? b : a).ConfigureAwait(false);
                    handovers.Add(report.HandoverTime.TotalMilliseconds);
                    drops += report.PacketsDropped;
                    progress.Status($"moves with {consumers} consumers: {i + 1}/{moves}, last handover {report.HandoverTime.TotalMilliseconds:F3} ms");
                    // A few packets between moves, so every move happens with media in flight.
                    await Task.Delay(15).ConfigureAwait(false);
                }
                await Task.Delay(300).ConfigureAwait(false);
                var stats = await swarm.GetStatsAsync().ConfigureAwait(false);
                var result = new MoveResult
                {
                    Consumers = consumers, Moves = moves,
                    HandoverP50Ms = Stats.Percentile(handovers, 50), HandoverP99Ms = Stats.Percentile(handovers, 99), HandoverMaxMs = handovers.Max(),
                    PacketsLost = stats.Lost, PacketsExpected = stats.Expected, ServerDrops = drops,
                };
                results.Moves.Add(result);
                progress.Line($"moves with {consumers} consumers: handover p50 {result.HandoverP50Ms:F3} ms, p99 {result.HandoverP99Ms:F3} ms, lost {result.PacketsLost}/{result.PacketsExpected}");
            }
            finally
            {
                await swarm.StopSourceAsync().ConfigureAwait(false);
                await router.CloseAsync().ConfigureAwait(false);
                await swarm.RemoveAllAsync().ConfigureAwait(false);
            }
        }
    }

    // ---------------------------------------------------------------- join

    public async Task JoinAsync(BenchResults results)
    {
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        await using var swarm = new LocalSwarm();
        var router = await worker.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        try
        {
            var producerTransport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
            await swarm.ConnectTransportAsync(0, producerTransport).ConfigureAwait(false);
            var producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
            await swarm.StartSourceAsync(0, Spec).ConfigureAwait(false);
            var firstPacket = new List<double>();
            var connected = new List<double>();
            for (var i = 1; i <= config.JoinSamples; i++)
            {
                progress.Status($"join {i}/{config.JoinSamples}");
                var start = Stopwatch.GetTimestamp();
                var transport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities }).ConfigureAwait(false);
                await swarm.ConnectTransportAsync(i, transport).ConfigureAwait(false);
                connected.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                var first = await swarm.FirstPacketAsync(i).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                firstPacket.Add(Stopwatch.GetElapsedTime(start, first).TotalMilliseconds);
                await transport.CloseAsync().ConfigureAwait(false);
                await swarm.RemovePeerAsync(i).ConfigureAwait(false);
                // Spread the joins over the stream, so they do not all land just after a key frame.
                await Task.Delay(Random.Shared.Next(5, 40)).ConfigureAwait(false);
            }
            results.Join = new JoinResult
            {
                Samples = firstPacket.Count,
                FirstPacketP50Ms = Stats.Percentile(firstPacket, 50),
                FirstPacketP99Ms = Stats.Percentile(firstPacket, 99),
                ConnectedP50Ms = Stats.Percentile(connected, 50),
            };
            progress.Line($"join: first packet p50 {results.Join.FirstPacketP50Ms:F1} ms, p99 {results.Join.FirstPacketP99Ms:F1} ms");
        }
        finally
        {
            await swarm.StopSourceAsync().ConfigureAwait(false);
            await router.CloseAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Managed heap bytes (after a full collection) and native heap bytes (glibc malloc's in-use total).</summary>
internal readonly partial record struct MemorySnapshot(long Managed, long Native)
{
    public static MemorySnapshot Take()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var info = MallInfo2();
        return new MemorySnapshot(GC.GetTotalMemory(forceFullCollection: false), (long)(info.Uordblks + info.Hblkhd));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial MallInfo MallInfo2();
}
