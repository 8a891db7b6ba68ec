using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Bench;

/// <summary>Everything one run measured; written as bench/results/latest.json.</summary>
internal sealed class BenchResults
{
    public required string Mode { get; init; }
    public required string Date { get; init; }
    public required string Machine { get; init; }
    public required int Cores { get; init; }
    public required string Command { get; init; }
    public string Runtime { get; init; } = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
    public List<ForwardingResult> Forwarding { get; } = [];
    public List<SrtpCostResult> SrtpCost { get; } = [];
    public MemoryResult? Memory { get; set; }
    public List<MoveResult> Moves { get; } = [];
    public JoinResult? Join { get; set; }
    public CapacityResult? Capacity { get; set; }
    public PipeResult? Pipes { get; set; }
    public List<TransportMoveResult> TransportMoves { get; } = [];
    public List<RemoteMoveResult> RemoteMoves { get; } = [];
    public double Seconds { get; set; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static double Per(long microseconds, long packets) => packets > 0 ? microseconds / (double)packets : 0;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The human-readable table printed at the end of a run.</summary>
    public string ToTable()
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Ferry bench ({Mode}) {Date}, {Machine}, {Cores} cores, {Runtime}, {Seconds:F0} s");
        if (Forwarding.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Forwarding: worker-thread CPU per RTP packet sent (us; RTCP and STUN not counted), 1 producer -> N consumers, 100 pkt/s of 1200 B in");
            s.AppendLine("floor = recv once, (SRTP unprotect once,) per copy (copy + SRTP protect through libcrypto EVP +) sendto from its own socket;");
            s.AppendLine("floor+mmsg = the same copies sent in one sendmmsg from one socket. Each figure: median [cheapest..dearest] of the rounds.");
            s.AppendLine("transport mode                       N  Ferry                   floor                   floor+mmsg              Ferry/floor (cheapest)  Ferry/mmsg  RTP/dgram  worker  loss%   alloc B/pkt");
            foreach (var f in Forwarding)
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"{f.Transport,-9} {f.Mode,-24} {f.Consumers,4}  {f.Ferry,-22}  {f.Floor,-22}  {f.FloorMmsg,-22}  {f.FerryOverFloor,5:F2} ({f.FerryOverFloorCheapest,4:F2})      {f.FerryOverFloorMmsg,10:F2}  {f.RtpShareOfDatagrams,9:F3}  {f.WorkerCpuPercent,5:F0}%  {f.LossPercent,6:F3} {f.AllocatedBytesPerPacket,9:F3}");
        }
        if (SrtpCost.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("SRTP protect per copy (thread CPU ns per 1200-byte RTP packet, no network): median [cheapest..dearest] of the rounds");
            foreach (var cost in SrtpCost)
                s.AppendLine(CultureInfo.InvariantCulture, $"  {cost.Mode,-24} {cost.Implementation,-40} {cost.NsPerPacket,-26} x{cost.OverFloor:F2} of the floor");
        }
        if (Memory is { } m)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"Memory (bytes each, {m.Count} created): managed / native");
            s.AppendLine(CultureInfo.InvariantCulture, $"  WebRtcTransport (not connected)      {m.TransportManaged,10:F0} / {m.TransportNative,10:F0}");
            s.AppendLine(CultureInfo.InvariantCulture, $"  Producer                             {m.ProducerManaged,10:F0} / {m.ProducerNative,10:F0}");
            s.AppendLine(CultureInfo.InvariantCulture, $"  Consumer                             {m.ConsumerManaged,10:F0} / {m.ConsumerNative,10:F0}");
            if (m.ConnectedCount > 0)
                s.AppendLine(CultureInfo.InvariantCulture, $"  connected transport + consumer (N={m.ConnectedCount}) {m.ConnectedManaged,10:F0} / {m.ConnectedNative,10:F0}");
        }
        if (Moves.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Moves: router.MoveToAsync handover while media flows");
            s.AppendLine(" consumers  moves  p50 ms  p99 ms  max ms  lost/expected at receivers  server drops");
            foreach (var v in Moves)
                s.AppendLine(CultureInfo.InvariantCulture, $"{v.Consumers,10} {v.Moves,6} {v.HandoverP50Ms,7:F3} {v.HandoverP99Ms,7:F3} {v.HandoverMaxMs,7:F3} {v.PacketsLost,12}/{v.PacketsExpected,-15} {v.ServerDrops,12}");
        }
        if (TransportMoves.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Transport moves: transport.MoveToAsync between routers on two workers while media flows");
            s.AppendLine(" consumers  moves  p50 ms  p99 ms  max ms  lost/expected at receivers  server drops  pipes +/-  KB allocated/move");
            foreach (var v in TransportMoves)
                s.AppendLine(CultureInfo.InvariantCulture, $"{v.Consumers,10} {v.Moves,6} {v.HandoverP50Ms,7:F3} {v.HandoverP99Ms,7:F3} {v.HandoverMaxMs,7:F3} {v.PacketsLost,12}/{v.PacketsExpected,-15} {v.ServerDrops,12}  +{v.PipesCreated}/-{v.PipesRemoved}  {v.AllocatedKilobytesPerMove,10:F0}");
        }
        if (RemoteMoves.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Remote moves: a transport by the path between processes (JSON snapshot, relay, ICE restart), routers on two workers; far end sends every 5 ms");
            s.AppendLine(" consumers  moves  handover p50/p99/max ms   receiver gap p50/p99 ms  export p50 ms  import p50 ms  snapshot B  received/sent");
            foreach (var v in RemoteMoves)
                s.AppendLine(CultureInfo.InvariantCulture, $"{v.Consumers,10} {v.Moves,6}  {v.HandoverP50Ms,7:F2}/{v.HandoverP99Ms,7:F2}/{v.HandoverMaxMs,7:F2}   {v.GapP50Ms,9:F1}/{v.GapP99Ms,7:F1}  {v.ExportP50Ms,12:F2} {v.ImportP50Ms,13:F2} {v.SnapshotBytes,11} {v.PacketsReceived}/{v.PacketsSent}");
        }
        if (Pipes is { } p)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"Pipes: worker A -> router on worker B, {p.PacketsPerSecond} pkt/s of {p.PayloadBytes} B; CPU of both worker threads per packet delivered (us)");
            s.AppendLine("  pipe       A+B us/pkt  A us/pkt  B us/pkt  packets  lost/expected");
            s.AppendLine(CultureInfo.InvariantCulture, $"  in-memory {p.InMemoryUsPerPacket,11:F2} {Per(p.InMemoryWorkerAUs, p.InMemoryPackets),9:F2} {Per(p.InMemoryWorkerBUs, p.InMemoryPackets),9:F2} {p.InMemoryPackets,8} {p.InMemoryLost}/{p.InMemoryExpected}");
            s.AppendLine(CultureInfo.InvariantCulture, $"  UDP       {p.UdpUsPerPacket,11:F2} {Per(p.UdpWorkerAUs, p.UdpPackets),9:F2} {Per(p.UdpWorkerBUs, p.UdpPackets),9:F2} {p.UdpPackets,8} {p.UdpLost}/{p.UdpExpected}");
            s.AppendLine(CultureInfo.InvariantCulture, $"  in-memory / UDP = {p.InMemoryOverUdp:F2}");
        }
        if (Join is { } j)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"Join ({j.Samples} joins): createWebRtcTransport -> first packet at the new consumer: p50 {j.FirstPacketP50Ms:F1} ms, p99 {j.FirstPacketP99Ms:F1} ms (DTLS connected at p50 {j.ConnectedP50Ms:F1} ms)");
        }
        if (Capacity is { } c)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"Capacity at ~1 Mbit/s per stream, <0.5% loss: N = {c.MaxConsumers} (worker CPU {c.WorkerCpuPercent:F0}%, loss {c.LossPercent:F3}%)");
            var limit = c.FailedConsumers > 0 ? string.Create(CultureInfo.InvariantCulture, $"failed at N = {c.FailedConsumers}: {c.FailedReason}") : c.FailedReason;
            s.AppendLine("  " + limit);
        }
        return s.ToString();
    }
}

/// <summary>One step of the forwarding matrix: a transport kind, an SRTP mode and N.</summary>
internal sealed record ForwardingResult
{
    /// <summary>WebRtc or Plain.</summary>
    public required string Transport { get; init; }
    /// <summary>The SRTP suite, or plain RTP.</summary>
    public required string Mode { get; init; }
    public required int Consumers { get; init; }
    public required int Rounds { get; init; }
    public required int PacketsPerSecondIn { get; init; }
    /// <summary>RTP packets per second out in Ferry's cheapest round.</summary>
    public required double PacketsPerSecondOut { get; init; }
    /// <summary>Ferry's worker-thread CPU µs per RTP packet sent, over the rounds.</summary>
    public required Spread Ferry { get; init; }
    /// <summary>The floor: one sendto per copy from N sockets (with SRTP through libcrypto's EVP in SRTP modes).</summary>
    public required Spread Floor { get; init; }
    /// <summary>The floor with one sendmmsg per input packet.</summary>
    public required Spread FloorMmsg { get; init; }
    /// <summary>Median over median: the figure the 1.3x target is read on.</summary>
    public double FerryOverFloor => Floor.Median > 0 ? Ferry.Median / Floor.Median : 0;
    /// <summary>Cheapest round over cheapest round.</summary>
    public double FerryOverFloorCheapest => Floor.Min > 0 ? Ferry.Min / Floor.Min : 0;
    public double FerryOverFloorMmsg => FloorMmsg.Median > 0 ? Ferry.Median / FloorMmsg.Median : 0;
    /// <summary>RTP packets out of all datagrams Ferry's worker sent (the rest: RTCP, STUN), over every window.</summary>
    public required double RtpShareOfDatagrams { get; init; }
    public required double WorkerCpuPercent { get; init; }
    public required double LoadClientCpuPercent { get; init; }
    /// <summary>RTP packets Ferry sent over every window.</summary>
    public required long PacketsSent { get; init; }
    public required long PacketsLost { get; init; }
    public required long PacketsExpected { get; init; }
    public double LossPercent => PacketsExpected > 0 ? 100.0 * PacketsLost / PacketsExpected : 0;
    public required double AllocatedBytesPerPacket { get; init; }
    public required long SrtpFailures { get; init; }
}

/// <summary>A figure over rounds: the cheapest, the median and the dearest, and every round in run order.</summary>
internal sealed record Spread
{
    public required double Min { get; init; }
    public required double Median { get; init; }
    public required double Max { get; init; }
    public required double[] Rounds { get; init; }

    public static Spread Of(IEnumerable<double> values)
    {
        var rounds = values.ToArray();
        if (rounds.Length == 0) return new Spread { Min = 0, Median = 0, Max = 0, Rounds = [] };
        var sorted = rounds.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Spread { Min = sorted[0], Median = median, Max = sorted[^1], Rounds = rounds };
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Median:F2} [{Min:F2}..{Max:F2}]");
}

/// <summary>CPU of one SRTP protect of a forwarded copy, by implementation.</summary>
internal sealed record SrtpCostResult
{
    public required string Mode { get; init; }
    public required string Implementation { get; init; }
    public required Spread NsPerPacket { get; init; }
    /// <summary>Median over the floor's median in the same run.</summary>
    public required double OverFloor { get; init; }
}

/// <summary>Bytes per object, from creating many and dividing.</summary>
internal sealed record MemoryResult
{
    public required int Count { get; init; }
    public required double TransportManaged { get; init; }
    public required double TransportNative { get; init; }
    public required double ProducerManaged { get; init; }
    public required double ProducerNative { get; init; }
    public required double ConsumerManaged { get; init; }
    public required double ConsumerNative { get; init; }
    public int ConnectedCount { get; set; }
    public double ConnectedManaged { get; set; }
    public double ConnectedNative { get; set; }
}

/// <summary>Handover times of many moves of one router.</summary>
internal sealed record MoveResult
{
    public required int Consumers { get; init; }
    public required int Moves { get; init; }
    public required double HandoverP50Ms { get; init; }
    public required double HandoverP99Ms { get; init; }
    public required double HandoverMaxMs { get; init; }
    public required long PacketsLost { get; init; }
    public required long PacketsExpected { get; init; }
    public required long ServerDrops { get; init; }
}

/// <summary>Handover times of many transport moves between two routers on two workers.</summary>
internal sealed record TransportMoveResult
{
    public required int Consumers { get; init; }
    public required int Moves { get; init; }
    public required double HandoverP50Ms { get; init; }
    public required double HandoverP99Ms { get; init; }
    public required double HandoverMaxMs { get; init; }
    public required long PacketsLost { get; init; }
    public required long PacketsExpected { get; init; }
    public required long ServerDrops { get; init; }
    public required long PipesCreated { get; init; }
    public required long PipesRemoved { get; init; }
    /// <summary>Bytes the process allocated per move (the moves, the clients and the media meanwhile), in KB.</summary>
    public double AllocatedKilobytesPerMove { get; init; }
}

/// <summary>CPU per packet piped from a router on one worker to a router on another, in-memory and over UDP.</summary>
internal sealed record PipeResult
{
    public required int PacketsPerSecond { get; init; }
    public required int PayloadBytes { get; init; }
    public required int Rounds { get; init; }
    public required double InMemoryUsPerPacket { get; init; }
    public required long InMemoryWorkerAUs { get; init; }
    public required long InMemoryWorkerBUs { get; init; }
    public required long InMemoryPackets { get; init; }
    public required long InMemoryLost { get; init; }
    public required long InMemoryExpected { get; init; }
    public required long InMemoryPipeDropped { get; init; }
    public required double UdpUsPerPacket { get; init; }
    public required long UdpWorkerAUs { get; init; }
    public required long UdpWorkerBUs { get; init; }
    public required long UdpPackets { get; init; }
    public required long UdpLost { get; init; }
    public required long UdpExpected { get; init; }
    public double InMemoryOverUdp => UdpUsPerPacket > 0 ? InMemoryUsPerPacket / UdpUsPerPacket : 0;
}

/// <summary>Time for a new consumer to get its first packet.</summary>
internal sealed record JoinResult
{
    public required int Samples { get; init; }
    public required double FirstPacketP50Ms { get; init; }
    public required double FirstPacketP99Ms { get; init; }
    public required double ConnectedP50Ms { get; init; }
}

/// <summary>The largest N carried.</summary>
internal sealed record CapacityResult
{
    public required int MaxConsumers { get; init; }
    public required double WorkerCpuPercent { get; init; }
    public required double LossPercent { get; init; }
    public required int FailedConsumers { get; init; }
    public required string FailedReason { get; init; }
}

/// <summary>Small statistics helpers.</summary>
internal static class Stats
{
    /// <summary>The nearest-rank percentile <paramref name="p"/> (0..100) of <paramref name="values"/>.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return 0;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>Moves by the path between processes.</summary>
internal sealed record RemoteMoveResult
{
    public required int Consumers { get; init; }
    public required int Moves { get; init; }
    /// <summary>Freeze at the source to the first RTP packet the target sent.</summary>
    public required double HandoverP50Ms { get; init; }
    public required double HandoverP99Ms { get; init; }
    public required double HandoverMaxMs { get; init; }
    /// <summary>Largest time between two packets at the far end in the second after the freeze.</summary>
    public required double GapP50Ms { get; init; }
    public required double GapP99Ms { get; init; }
    public required double ExportP50Ms { get; init; }
    public required double ImportP50Ms { get; init; }
    public required int SnapshotBytes { get; init; }
    public required long PacketsSent { get; init; }
    public required long PacketsReceived { get; init; }
}
