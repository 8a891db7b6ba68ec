namespace Ferry.Loop;

/// <summary>
/// How long datagrams waited between reaching the host (the kernel's receive timestamp) and the wake of
/// the loop that read them: the delay the server adds before it even looks at a packet, which is what a
/// browser's jitter buffer would feel when a worker is late (a busy core, a handover). Written only on
/// the loop thread with plain increments; read elsewhere as an approximate snapshot.
/// </summary>
internal sealed class ReceiveDelayHistogram
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

    public WorkerReceiveDelay Snapshot()
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++) counts[i] = Volatile.Read(ref _counts[i]);
        return new WorkerReceiveDelay(BoundsMicros, counts, Volatile.Read(ref _sumMicros), Volatile.Read(ref _maxMicros));
    }
}
