using System.Text.Json.Serialization;

namespace Ferry;

/// <summary>
/// CPU and memory use of a worker's loop thread (getrusage(RUSAGE_THREAD)), with mediasoup's field
/// names on the wire. Times are in milliseconds as mediasoup reports them.
/// </summary>
public sealed record WorkerResourceUsage
{
    /// <summary>User CPU time used, ms.</summary>
    [JsonPropertyName("ru_utime")] public long UserTimeMs { get; init; }
    /// <summary>System CPU time used, ms.</summary>
    [JsonPropertyName("ru_stime")] public long SystemTimeMs { get; init; }
    /// <summary>Maximum resident set size of the process, KiB.</summary>
    [JsonPropertyName("ru_maxrss")] public long MaxRss { get; init; }
    /// <summary>Integral shared memory size (unused on Linux).</summary>
    [JsonPropertyName("ru_ixrss")] public long IxRss { get; init; }
    /// <summary>Integral unshared data size (unused on Linux).</summary>
    [JsonPropertyName("ru_idrss")] public long IdRss { get; init; }
    /// <summary>Integral unshared stack size (unused on Linux).</summary>
    [JsonPropertyName("ru_isrss")] public long IsRss { get; init; }
    /// <summary>Page reclaims (soft faults).</summary>
    [JsonPropertyName("ru_minflt")] public long MinFlt { get; init; }
    /// <summary>Page faults (hard faults).</summary>
    [JsonPropertyName("ru_majflt")] public long MajFlt { get; init; }
    /// <summary>Swaps.</summary>
    [JsonPropertyName("ru_nswap")] public long NSwap { get; init; }
    /// <summary>Block input operations.</summary>
    [JsonPropertyName("ru_inblock")] public long InBlock { get; init; }
    /// <summary>Block output operations.</summary>
    [JsonPropertyName("ru_oublock")] public long OuBlock { get; init; }
    /// <summary>IPC messages sent.</summary>
    [JsonPropertyName("ru_msgsnd")] public long MsgSnd { get; init; }
    /// <summary>IPC messages received.</summary>
    [JsonPropertyName("ru_msgrcv")] public long MsgRcv { get; init; }
    /// <summary>Signals received.</summary>
    [JsonPropertyName("ru_nsignals")] public long NSignals { get; init; }
    /// <summary>Voluntary context switches.</summary>
    [JsonPropertyName("ru_nvcsw")] public long NVcsw { get; init; }
    /// <summary>Involuntary context switches.</summary>
    [JsonPropertyName("ru_nivcsw")] public long NIvcsw { get; init; }
}

/// <summary>Totals of a worker's sockets.</summary>
/// <param name="PacketsReceived">Datagrams received.</param>
/// <param name="PacketsSent">Datagrams sent.</param>
/// <param name="BytesReceived">Bytes received.</param>
/// <param name="BytesSent">Bytes sent.</param>
/// <param name="SendDrops">Sends the kernel refused.</param>
public readonly record struct WorkerTraffic(long PacketsReceived, long PacketsSent, long BytesReceived, long BytesSent, long SendDrops);

/// <summary>What lives on a worker.</summary>
/// <param name="Routers">Routers.</param>
/// <param name="Transports">Transports of all its routers.</param>
/// <param name="Producers">Producers of all its transports.</param>
/// <param name="Consumers">Consumers of all its transports.</param>
public readonly record struct WorkerObjectCounts(int Routers, int Transports, int Producers, int Consumers);

/// <summary>
/// Delays of a worker's packets since they reached the host (kernel receive timestamp), since the worker
/// started: see <see cref="Worker.ReceiveDelay"/> and <see cref="Worker.ForwardDelay"/>.
/// </summary>
/// <param name="BoundsMicros">Upper bound of each bucket but the last, in microseconds.</param>
/// <param name="Counts">Datagrams per bucket (not cumulative); one more than <paramref name="BoundsMicros"/>, the last for all above.</param>
/// <param name="SumMicros">Sum of all delays, in microseconds.</param>
/// <param name="MaxMicros">The longest delay seen, in microseconds.</param>
public sealed record WorkerDelayHistogram(IReadOnlyList<long> BoundsMicros, IReadOnlyList<long> Counts, long SumMicros, long MaxMicros)
{
    /// <summary>Datagrams measured.</summary>
    public long Count => Counts.Sum();

    /// <summary>Datagrams that waited longer than <paramref name="micros"/> (rounded to the bucket bounds: exact when it is one of them).</summary>
    public long CountAbove(long micros)
    {
        long total = 0;
        for (var i = 0; i < Counts.Count; i++)
            if (i == BoundsMicros.Count || BoundsMicros[i] > micros) total += Counts[i];
        return total;
    }
}
