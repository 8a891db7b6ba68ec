namespace Ferry.Loop;

/// <summary>
/// Delays of packets since they reached the host (the kernel's receive timestamp): until the wake of the
/// loop that read them (receive delay) or until the wake of the loop that sent them on (forwarding
/// delay, which adds in-memory pipes and handovers). What a browser's jitter buffer feels when a worker
/// is late. Written only on the loop thread with plain increments; read elsewhere as an approximate snapshot.
/// </summary>
internal sealed class DelayHistogram
{
    /// <summary>Upper bounds of the buckets, in microseconds; one more bucket holds everything above.</summary>
    public static readonly long[] BoundsMicros = [250, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

    private readonly long[] _counts = new long[BoundsMicros.Length + 1];
    private long _sumMicros;
    private long _maxMicros;

    public void Record(TimeSpan delay)
    {
        var micros = Math.Max(0, delay.Ticks / TimeSpan.TicksPerMicrosecond);
        var bucket = 0;
        while (bucket < BoundsMicros.Length && micros > BoundsMicros[bucket]) bucket++;
        _counts[bucket]++;
        _sumMicros += micros;
        if (micros > _maxMicros) _maxMicros = micros;
    }

    public WorkerDelayHistogram Snapshot()
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++) counts[i] = Volatile.Read(ref _counts[i]);
        return new WorkerDelayHistogram(BoundsMicros, counts, Volatile.Read(ref _sumMicros), Volatile.Read(ref _maxMicros));
    }
}
