using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Ferry.Bench.Swarm;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Transports;

namespace Ferry.Bench;

/// <summary>Pipes between routers on two workers, and transport moves between them.</summary>
internal sealed partial class Scenarios
{
    // ---------------------------------------------------------------- pipes

    /// <summary>
    /// A DirectTransport producer on worker A, consumed by a DirectTransport consumer in a router on
    /// worker B through the in-memory pipe and through pipeToRouter (UDP), in alternating rounds;
    /// each variant keeps its cheapest round.
    /// </summary>
    public async Task PipesAsync(BenchResults results)
    {
        await using var a = await Worker.CreateAsync().ConfigureAwait(false);
        await using var b = await Worker.CreateAsync().ConfigureAwait(false);
        PipeMeasurement memory = default, udp = default;
        long memoryLost = 0, memoryExpected = 0, udpLost = 0, udpExpected = 0, memoryDropped = 0;
        for (var round = 0; round < config.Rounds; round++)
        {
            foreach (var inMemory in new[] { true, false })
            {
                var m = await PipeRoundAsync(a, b, inMemory).ConfigureAwait(false);
                if (inMemory)
                {
                    memory = memory.Received == 0 || (m.Received > 0 && m.UsPerPacket < memory.UsPerPacket) ? m : memory;
                    memoryLost += m.Lost;
                    memoryExpected += m.Expected;
                    memoryDropped += m.PipeDropped;
                }
                else
                {
                    udp = udp.Received == 0 || (m.Received > 0 && m.UsPerPacket < udp.UsPerPacket) ? m : udp;
                    udpLost += m.Lost;
                    udpExpected += m.Expected;
                }
            }
        }
        results.Pipes = new PipeResult
        {
            PacketsPerSecond = config.PipePacketsPerSecond,
            PayloadBytes = config.PayloadBytes,
            Rounds = config.Rounds,
            InMemoryUsPerPacket = memory.UsPerPacket,
            InMemoryWorkerAUs = memory.CpuA,
            InMemoryWorkerBUs = memory.CpuB,
            InMemoryPackets = memory.Received,
            InMemoryLost = memoryLost,
            InMemoryExpected = memoryExpected,
            InMemoryPipeDropped = memoryDropped,
            UdpUsPerPacket = udp.UsPerPacket,
            UdpWorkerAUs = udp.CpuA,
            UdpWorkerBUs = udp.CpuB,
            UdpPackets = udp.Received,
            UdpLost = udpLost,
            UdpExpected = udpExpected,
        };
        var p = results.Pipes;
        progress.Line($"pipes: in-memory {p.InMemoryUsPerPacket:F2} us/pkt, UDP {p.UdpUsPerPacket:F2} us/pkt (x{p.InMemoryOverUdp:F2}), " +
                      $"lost {p.InMemoryLost}/{p.InMemoryExpected} and {p.UdpLost}/{p.UdpExpected}");
    }

    private async Task<PipeMeasurement> PipeRoundAsync(Worker a, Worker b, bool inMemory)
    {
        var label = inMemory ? "pipes: in-memory" : "pipes: UDP";
        var routerA = await a.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        var routerB = await b.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        try
        {
            progress.Status($"{label}: setting up");
            var input = await routerA.CreateDirectTransportAsync().ConfigureAwait(false);
            var producer = await input.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
            Producer? replica = null;
            var piped = await routerA.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = routerB, OverUdp = !inMemory }).ConfigureAwait(false);
            if (inMemory) replica = piped.PipeProducer;
            var output = await routerB.CreateDirectTransportAsync().ConfigureAwait(false);
            var consumer = await output.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = routerB.RtpCapabilities }).ConfigureAwait(false);
            var counter = new SequenceCounter();
            consumer.Rtp += counter.Add;

            using var sender = new DirectSender(producer, config.PipePacketsPerSecond, config.PayloadBytes, ProducerSsrc);
            await WaitForAsync(() => Task.FromResult(counter.Received > 0), TimeSpan.FromSeconds(10), $"{label}: waiting for the first packet").ConfigureAwait(false);
            progress.Status($"{label}: warm-up");
            await Task.Delay(config.Warmup).ConfigureAwait(false);
            var a0 = await SampleWorkerAsync(a).ConfigureAwait(false);
            var b0 = await SampleWorkerAsync(b).ConfigureAwait(false);
            var r0 = counter.Received;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < config.Window)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
                progress.Status($"{label}: {(counter.Received - r0) / clock.Elapsed.TotalSeconds:F0} pkt/s delivered");
            }
            var a1 = await SampleWorkerAsync(a).ConfigureAwait(false);
            var b1 = await SampleWorkerAsync(b).ConfigureAwait(false);
            var received = counter.Received - r0;
            sender.Stop();
            // Let what is in flight arrive before counting the loss.
            await Task.Delay(200).ConfigureAwait(false);
            var (lost, expected) = counter.Loss();
            long pipeDropped = 0;
            if (replica is not null)
                pipeDropped = await routerA.InvokeAsync(() => producer.Replicas.Values.Sum(r => r.Dropped)).ConfigureAwait(false);
            return new PipeMeasurement(a1.CpuMicroseconds - a0.CpuMicroseconds, b1.CpuMicroseconds - b0.CpuMicroseconds, received, lost, expected, pipeDropped);
        }
        finally
        {
            await routerB.CloseAsync().ConfigureAwait(false);
            await routerA.CloseAsync().ConfigureAwait(false);
        }
    }

    private readonly record struct PipeMeasurement(long CpuA, long CpuB, long Received, long Lost, long Expected, long PipeDropped)
    {
        public double UsPerPacket => Received > 0 ? (CpuA + CpuB) / (double)Received : 0;
    }

    /// <summary>
    /// What a DirectTransport consumer delivered: a count, and loss from its (rewritten, contiguous)
    /// sequence numbers. Written on the consumer's worker thread, read from the bench.
    /// </summary>
    private sealed class SequenceCounter
    {
        private readonly Lock _lock = new();
        private long _received;
        private long _first = -1;
        private long _highest;

        public long Received
        {
            get { lock (_lock) return _received; }
        }

        public void Add(byte[] packet)
        {
            if (packet.Length < 12) return;
            var seq = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(2));
            lock (_lock)
            {
                _received++;
                if (_first < 0)
                {
                    _first = seq;
                    _highest = seq;
                    return;
                }
                // Extend to the nearest value of the highest seen: wraps and reordering both handled.
                var extended = _highest + (short)(seq - (ushort)_highest);
                if (extended > _highest) _highest = extended;
            }
        }

        /// <summary>Lost and expected packets from the first to the highest sequence number seen.</summary>
        public (long Lost, long Expected) Loss()
        {
            lock (_lock)
            {
                if (_first < 0) return (0, 0);
                var expected = _highest - _first + 1;
                return (Math.Max(0, expected - _received), expected);
            }
        }
    }

    /// <summary>
    /// Feeds a DirectTransport producer from its own thread at a steady rate (absolute deadlines,
    /// ~1 ms ticks), VP8-shaped like the swarm's source, a key frame every 200 packets.
    /// </summary>
    private sealed class DirectSender : IDisposable
    {
        private readonly Producer _producer;
        private readonly int _rate;
        private readonly uint _ssrc;
        private readonly byte[] _payload;
        private readonly byte[] _buffer = new byte[2048];
        private readonly Thread _thread;
        private volatile bool _stopped;
        private ushort _seq = (ushort)Random.Shared.Next(0, 0x10000);
        private long _sent;

        public DirectSender(Producer producer, int packetsPerSecond, int payloadBytes, uint ssrc)
        {
            _producer = producer;
            _rate = packetsPerSecond;
            _ssrc = ssrc;
            _payload = new byte[payloadBytes];
            RandomNumberGenerator.Fill(_payload);
            _thread = new Thread(Run) { IsBackground = true, Name = "bench direct sender" };
            _thread.Start();
        }

        private void Run()
        {
            var clock = Stopwatch.StartNew();
            while (!_stopped)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * _rate) + 1;
                if (due - _sent > 20) _sent = due - 20;
                while (_sent < due && !_stopped) SendOne();
                Thread.Sleep(1);
            }
        }

        private void SendOne()
        {
            var keyFrame = _sent % 200 == 0;
            var w = new RtpPacketWriter(_buffer, 96, _seq++, (uint)(_sent * 90000 / _rate), _ssrc, marker: true);
            w.AddExtension(4, "0"u8);
            _payload[0] = 0x10;
            _payload[1] = keyFrame ? (byte)0x00 : (byte)0x01;
            var length = w.SetPayload(_payload);
            try
            {
                _producer.Send(_buffer.AsSpan(0, length));
            }
            catch (InvalidStateException)
            {
                _stopped = true;
            }
            _sent++;
        }

        public void Stop()
        {
            _stopped = true;
            _thread.Join();
        }

        public void Dispose() => Stop();
    }

    // ---------------------------------------------------------------- transport moves

    /// <summary>
    /// Two routers on two workers; the producer's transport and N consumer transports start in the
    /// first and move, one transport per move in turn, to whichever router they are not in, while
    /// media flows (in-process swarm).
    /// </summary>
    public async Task TransportMovesAsync(BenchResults results)
    {
        await using var a = await Worker.CreateAsync().ConfigureAwait(false);
        await using var b = await Worker.CreateAsync().ConfigureAwait(false);
        await using var swarm = new LocalSwarm();
        foreach (var (consumers, moves) in config.TransportMoves)
        {
            var routerA = await a.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
            var routerB = await b.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
            try
            {
                progress.Status($"transport moves with {consumers} consumers: connecting");
                var producerTransport = await routerA.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                await swarm.ConnectTransportAsync(0, producerTransport).ConfigureAwait(false);
                var producer = await producerTransport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
                var transports = new WebRtcTransport[consumers];
                for (var i = 0; i < consumers; i++) transports[i] = await routerA.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                for (var start = 0; start < consumers; start += ConnectBatch)
                    await Task.WhenAll(Enumerable.Range(start, Math.Min(ConnectBatch, consumers - start)).Select(i => swarm.ConnectTransportAsync(i + 1, transports[i]))).ConfigureAwait(false);
                foreach (var t in transports) await t.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = routerA.RtpCapabilities }).ConfigureAwait(false);
                await swarm.StartSourceAsync(0, Spec).ConfigureAwait(false);
                await WaitForAsync(async () => (await swarm.GetStatsAsync().ConfigureAwait(false)).ActivePeers >= consumers, TimeSpan.FromSeconds(10), "transport moves: waiting for media").ConfigureAwait(false);
                await swarm.ResetStatsAsync().ConfigureAwait(false);

                // Consumers first, then the producer's: the consumer transports end up spread over both routers.
                var movable = transports.Cast<Transport>().Append(producerTransport).ToArray();
                var handovers = new List<double>();
                long drops = 0, created = 0, removed = 0;
                // Everything the process allocates meanwhile (the moves, the swarm's clients, the media), per move.
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                for (var i = 0; i < moves; i++)
                {
                    var transport = movable[i % movable.Length];
                    var target = transport.Router == routerA ? routerB : routerA;
                    var report = await transport.MoveToAsync(target).ConfigureAwait(false);
                    handovers.Add(report.HandoverTime.TotalMilliseconds);
                    drops += report.PacketsDropped;
                    created += report.PipesCreated.Count;
                    removed += report.PipesRemoved.Count;
                    progress.Status($"transport moves with {consumers} consumers: {i + 1}/{moves}, last handover {report.HandoverTime.TotalMilliseconds:F3} ms");
                    await Task.Delay(15).ConfigureAwait(false);
                }
                var allocatedPerMove = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)moves;
                await Task.Delay(300).ConfigureAwait(false);
                var stats = await swarm.GetStatsAsync().ConfigureAwait(false);
                var result = new TransportMoveResult
                {
                    Consumers = consumers, Moves = moves,
                    HandoverP50Ms = Stats.Percentile(handovers, 50), HandoverP99Ms = Stats.Percentile(handovers, 99), HandoverMaxMs = handovers.Max(),
                    PacketsLost = stats.Lost, PacketsExpected = stats.Expected, ServerDrops = drops, PipesCreated = created, PipesRemoved = removed,
                    AllocatedKilobytesPerMove = allocatedPerMove / 1024,
                };
                results.TransportMoves.Add(result);
                progress.Line($"transport moves with {consumers} consumers: handover p50 {result.HandoverP50Ms:F3} ms, p99 {result.HandoverP99Ms:F3} ms, " +
                              $"max {result.HandoverMaxMs:F3} ms, lost {result.PacketsLost}/{result.PacketsExpected}, pipes +{created}/-{removed}, {result.AllocatedKilobytesPerMove:F0} KB allocated per move");
            }
            finally
            {
                await swarm.StopSourceAsync().ConfigureAwait(false);
                await routerB.CloseAsync().ConfigureAwait(false);
                await routerA.CloseAsync().ConfigureAwait(false);
                await swarm.RemoveAllAsync().ConfigureAwait(false);
            }
        }
    }
}
