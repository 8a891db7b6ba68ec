using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ferry.Bench.Swarm;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;
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
        using var ticks = AllocationTicks.Enabled ? new AllocationTicks() : null;
        ticks?.Watch(await worker.Loop.InvokeAsync(AllocationTicks.CurrentOsThreadId).ConfigureAwait(false));
        var memoryStep = config.ForwardingTransports.Contains(ForwardingTransport.WebRtc)
            ? config.ForwardingModes.FirstOrDefault(m => m != ForwardingMode.Plain) : (ForwardingMode?)null;
        foreach (var transport in config.ForwardingTransports)
        {
            foreach (var mode in config.ForwardingModes)
            {
                // WebRTC has no unprotected media.
                if (transport == ForwardingTransport.WebRtc && mode == ForwardingMode.Plain) continue;
                foreach (var n in config.ForwardingConsumers)
                {
                    var measureMemory = transport == ForwardingTransport.WebRtc && mode == memoryStep && n == config.ForwardingConsumers[^1];
                    var step = await ForwardingStepAsync(worker, swarm, transport, mode, n, withFloor: true, measureMemory ? results : null).ConfigureAwait(false);
                    results.Forwarding.Add(step);
                    progress.Line($"forwarding {transport} {mode} N={n}: Ferry {step.Ferry.Median:F2} us/RTP pkt [{step.Ferry.Min:F2}..{step.Ferry.Max:F2}], " +
                                  $"floor {step.Floor.Median:F2} [{step.Floor.Min:F2}..{step.Floor.Max:F2}], floor+sendmmsg {step.FloorMmsg.Median:F2} [{step.FloorMmsg.Min:F2}..{step.FloorMmsg.Max:F2}] " +
                                  $"(x{step.FerryOverFloor:F2}, x{step.FerryOverFloorMmsg:F2}), loss {step.LossPercent:F3}%, {step.AllocatedBytesPerPacket:F3} B/pkt");
                    if (ticks is not null) progress.Line("worker allocation samples: " + string.Join(", ", ticks.Types.Select(t => $"{t.Type} x{t.Samples}")));
                }
            }
        }
    }

    public async Task CapacityAsync(ISwarm swarm, BenchResults results)
    {
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        // Start from the ladder already measured: its largest N that held is the first candidate.
        var best = results.Forwarding.Where(Passes).OrderBy(f => f.Consumers).LastOrDefault();
        foreach (var n in config.CapacityConsumers)
        {
            var step = await ForwardingStepAsync(worker, swarm, ForwardingTransport.WebRtc, ForwardingMode.Gcm, n, withFloor: false, null).ConfigureAwait(false);
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

    private static SrtpProfile? ProfileOf(ForwardingMode mode) => mode switch
    {
        ForwardingMode.Gcm => SrtpProfile.AeadAes256Gcm,
        ForwardingMode.Cm => SrtpProfile.AesCm128HmacSha1_80,
        _ => null,
    };

    private static PlainTransportOptions PlainOptions(SrtpProfile? profile, bool comedia) => new()
    {
        ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" },
        Comedia = comedia,
        EnableSrtp = profile is not null,
        SrtpCryptoSuite = (profile ?? SrtpProfile.AesCm128HmacSha1_80).ToMediasoupName(),
    };

    private async Task<ForwardingResult> ForwardingStepAsync(Worker worker, ISwarm swarm, ForwardingTransport kind, ForwardingMode mode, int n, bool withFloor, BenchResults? memory)
    {
        var profile = ProfileOf(mode);
        var router = await worker.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        try
        {
            progress.Status($"{kind} {mode} N={n}: connecting the producer");
            Func<Task> startSource;
            Producer producer;
            if (kind == ForwardingTransport.WebRtc)
            {
                var producerTransport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                await swarm.ConnectTransportAsync(0, producerTransport, profile).ConfigureAwait(false);
                producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
                startSource = () => swarm.StartSourceAsync(0, Spec);
            }
            else
            {
                // The source sends from a socket of its own: comedia learns it from the first packet.
                var producerTransport = await router.CreatePlainTransportAsync(PlainOptions(profile, comedia: true)).ConfigureAwait(false);
                var key = profile is { } p ? RandomNumberGenerator.GetBytes(p.MasterKeyLength()) : null;
                var salt = profile is { } q ? RandomNumberGenerator.GetBytes(q.MasterSaltLength()) : null;
                await producerTransport.ConnectAsync(srtpParameters: profile is { } r ? SwarmExtensions.SrtpParameters(r, key!, salt!) : null).ConfigureAwait(false);
                producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
                var input = new IPEndPoint(IPAddress.Loopback, producerTransport.Tuple.LocalPort);
                startSource = () => swarm.StartRawSourceAsync(input, Spec, profile ?? SrtpProfile.AesCm128HmacSha1_80, key, salt);
            }

            var before = memory is null ? default : MemorySnapshot.Take();
            var destinations = new IPEndPoint[n];
            var consumers = new Consumer[n];
            var consumerOptions = new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities };
            if (kind == ForwardingTransport.WebRtc)
            {
                var transports = new WebRtcTransport[n];
                for (var i = 0; i < n; i++) transports[i] = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                for (var start = 0; start < n; start += ConnectBatch)
                {
                    progress.Status($"{kind} {mode} N={n}: ICE+DTLS {start}/{n}");
                    var batch = Enumerable.Range(start, Math.Min(ConnectBatch, n - start));
                    await Task.WhenAll(batch.Select(i => swarm.ConnectTransportAsync(i + 1, transports[i], profile))).ConfigureAwait(false);
                }
                for (var i = 0; i < n; i++)
                {
                    consumers[i] = await transports[i].ConsumeAsync(consumerOptions).ConfigureAwait(false);
                    destinations[i] = new IPEndPoint(IPAddress.Loopback, transports[i].IceSelectedTuple!.RemotePort ?? 0);
                }
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    if (i % 50 == 0) progress.Status($"{kind} {mode} N={n}: plain transports {i}/{n}");
                    var transport = await router.CreatePlainTransportAsync(PlainOptions(profile, comedia: false)).ConfigureAwait(false);
                    var port = await swarm.ConnectPlainAsync(i + 1, transport, profile).ConfigureAwait(false);
                    consumers[i] = await transport.ConsumeAsync(consumerOptions).ConfigureAwait(false);
                    destinations[i] = new IPEndPoint(IPAddress.Loopback, port);
                }
            }
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

            // Rounds of Ferry and the two floors, in an order that rotates each round so none always runs first
            // (or last) after a pause; each figure keeps every round: the cheapest, the median and the dearest.
            var ferry = new List<Measurement>();
            var floor = new List<Measurement>();
            var floorMmsg = new List<Measurement>();
            long lost = 0, expected = 0, srtpFailures = 0, allocated = 0, sent = 0, datagrams = 0;
            var rounds = withFloor ? config.Rounds : 1;
            for (var round = 0; round < rounds; round++)
            {
                for (var turn = 0; turn < (withFloor ? 3 : 1); turn++)
                {
                    switch ((round + turn) % 3)
                    {
                        case 0:
                            await startSource().ConfigureAwait(false);
                            await WaitForAsync(async () => (await swarm.GetStatsAsync().ConfigureAwait(false)).ActivePeers >= n, TimeSpan.FromSeconds(10), $"N={n}: waiting for every consumer's first packet").ConfigureAwait(false);
                            var window = await MeasureAsync($"{kind} {mode} N={n} Ferry", swarm, () => SampleWorkerAsync(worker, consumers), () => worker.Traffic.PacketsSent).ConfigureAwait(false);
                            lost += window.Swarm.Lost;
                            expected += window.Swarm.Expected;
                            srtpFailures += window.Swarm.SrtpFailures;
                            // Allocations over every window, not the cheapest one's: a rare allocation must not hide.
                            allocated += window.AllocatedBytes;
                            sent += window.PacketsSent;
                            datagrams += window.Datagrams;
                            ferry.Add(window);
                            await swarm.StopSourceAsync().ConfigureAwait(false);
                            break;
                        case 1:
                            floor.Add(await FloorAsync(swarm, destinations, profile, FloorSend.SendTo).ConfigureAwait(false));
                            break;
                        default:
                            floorMmsg.Add(await FloorAsync(swarm, destinations, profile, FloorSend.SendMmsg).ConfigureAwait(false));
                            break;
                    }
                    // The receivers start afresh: the next Ferry window counts from its own first packet.
                    await swarm.ResetStatsAsync().ConfigureAwait(false);
                }
            }
            var cheapest = ferry.MinBy(m => m.UsPerPacket);
            return new ForwardingResult
            {
                Transport = kind.ToString(),
                Mode = profile?.ToMediasoupName() ?? "plain RTP",
                Consumers = n,
                Rounds = rounds,
                PacketsPerSecondIn = config.PacketsPerSecond,
                PacketsPerSecondOut = cheapest.PacketsSent / cheapest.Seconds,
                Ferry = Spread.Of(ferry.Select(m => m.UsPerPacket)),
                Floor = Spread.Of(floor.Select(m => m.UsPerPacket)),
                FloorMmsg = Spread.Of(floorMmsg.Select(m => m.UsPerPacket)),
                RtpShareOfDatagrams = datagrams > 0 ? sent / (double)datagrams : 0,
                WorkerCpuPercent = 100 * cheapest.CpuMicroseconds / 1e6 / cheapest.Seconds,
                LoadClientCpuPercent = 100 * cheapest.ClientCpuMicroseconds / 1e6 / cheapest.Seconds,
                PacketsSent = sent,
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

    private async Task<Measurement> FloorAsync(ISwarm swarm, IReadOnlyList<IPEndPoint> destinations, SrtpProfile? profile, FloorSend send)
    {
        var floor = await Floor.StartAsync(destinations, profile, send).ConfigureAwait(false);
        await using (floor.ConfigureAwait(false))
        {
            await swarm.StartRawSourceAsync(floor.InputEndPoint, Spec, profile ?? SrtpProfile.AesCm128HmacSha1_80, floor.InputKey, floor.InputSalt).ConfigureAwait(false);
            var m = await MeasureAsync($"N={destinations.Count} floor {(profile?.ToMediasoupName() ?? "plain")} {send}", swarm, floor.SampleAsync, () => Volatile.Read(ref floor.RtpSent)).ConfigureAwait(false);
            await swarm.StopSourceAsync().ConfigureAwait(false);
            if (floor.Failures > 0) throw new InvalidOperationException($"the floor failed {floor.Failures} packets");
            return m;
        }
    }

    private static Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)> SampleWorkerAsync(Worker worker) => worker.Loop.InvokeAsync(() =>
    {
        var u = worker.Loop.ThreadUsage();
        return ((u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec, worker.Loop.Counters.PacketsSent, GC.GetAllocatedBytesForCurrentThread());
    });

    /// <summary>
    /// The worker thread's CPU, the RTP packets its consumers sent (RTCP and STUN are not counted, nor are they in the
    /// floors, which send RTP only) and its allocations, read on the loop. Walks an array: allocates nothing there.
    /// </summary>
    private static Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes, long Datagrams)> SampleWorkerAsync(Worker worker, Consumer[] consumers) => worker.Loop.InvokeAsync(() =>
    {
        var u = worker.Loop.ThreadUsage();
        long rtp = 0;
        foreach (var c in consumers) rtp += c.PacketCount;
        return ((u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec, rtp, GC.GetAllocatedBytesForCurrentThread(), worker.Loop.Counters.PacketsSent);
    });

    /// <summary>Warm-up, then the thread's CPU, packets sent and allocations over one window.</summary>
    private Task<Measurement> MeasureAsync(string label, ISwarm swarm, Func<Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)>> sample, Func<long> livePacketsSent) =>
        MeasureAsync(label, swarm, async () =>
        {
            var (cpu, packets, bytes) = await sample().ConfigureAwait(false);
            return (cpu, packets, bytes, packets);
        }, livePacketsSent);

    /// <summary>Warm-up, then the thread's CPU, RTP packets sent, allocations and all datagrams sent over one window.</summary>
    private async Task<Measurement> MeasureAsync(string label, ISwarm swarm, Func<Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes, long Datagrams)>> sample, Func<long> livePacketsSent)
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
            progress.Status($"{label}: {(livePacketsSent() - a.Datagrams) / clock.Elapsed.TotalSeconds:F0} datagrams/s out");
        }
        var b = await sample().ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var c1 = await swarm.GetStatsAsync().ConfigureAwait(false);
        var sent = b.PacketsSent - a.PacketsSent;
        var cpu = b.CpuMicroseconds - a.CpuMicroseconds;
        return new Measurement(elapsed, cpu, sent, Math.Max(0, b.AllocatedBytes - a.AllocatedBytes - samplingBytes), c1, c1.CpuMicroseconds - c0.CpuMicroseconds, b.Datagrams - a.Datagrams);
    }

    private readonly record struct Measurement(double Seconds, long CpuMicroseconds, long PacketsSent, long AllocatedBytes, SwarmStats Swarm, long ClientCpuMicroseconds, long Datagrams)
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
