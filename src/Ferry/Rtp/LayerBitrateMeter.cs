namespace Ferry.Rtp;

/// <summary>
/// Bitrate of one stream by temporal layer over the last second, in ten 100 ms buckets, so the bandwidth
/// allocation can price each layer (mediasoup's bitrateByLayer). Fixed arrays, no allocation per packet;
/// a quiet stream reads zero once its buckets age out.
/// </summary>
internal sealed class LayerBitrateMeter
{
    /// <summary>Temporal layers measured; higher ones count as the top one.</summary>
    public const int Layers = 4;

    private const int Buckets = 10;
    private static readonly long BucketTicks = TimeSpan.FromMilliseconds(100).Ticks;
    private static readonly long MinSpanTicks = TimeSpan.FromMilliseconds(200).Ticks;

    private readonly long[] _bytes = new long[Layers * Buckets];
    private long _bucket = long.MinValue;
    private long _firstTicks;

    /// <summary>Counts <paramref name="bytes"/> of temporal layer <paramref name="layer"/> (negative: no layer information, counted as 0).</summary>
    public void Add(int layer, int bytes, TimeSpan now)
    {
        Advance(now);
        var l = layer <= 0 ? 0 : Math.Min(layer, Layers - 1);
        _bytes[(int)(_bucket % Buckets) * Layers + l] += bytes;
    }

    /// <summary>Bits per second of temporal layers 0 to <paramref name="maxLayer"/> together (what forwarding up to that layer costs).</summary>
    public long Bitrate(int maxLayer, TimeSpan now)
    {
        var bytes = WindowBytes(maxLayer, now);
        if (bytes == 0) return 0;
        // The window: nine full buckets and the current one so far, or less while the stream is young.
        var span = (Buckets - 1) * BucketTicks + now.Ticks % BucketTicks;
        span = Math.Max(Math.Min(span, now.Ticks - _firstTicks), MinSpanTicks);
        return bytes * 8 * TimeSpan.TicksPerSecond / span;
    }

    /// <summary>Bytes of temporal layers 0 to <paramref name="maxLayer"/> counted in the last second (for tests and checks).</summary>
    public long WindowBytes(int maxLayer, TimeSpan now)
    {
        if (_bucket == long.MinValue) return 0;
        Advance(now);
        var top = Math.Clamp(maxLayer, 0, Layers - 1);
        long bytes = 0;
        for (var b = 0; b < Buckets; b++)
        {
            for (var l = 0; l <= top; l++) bytes += _bytes[b * Layers + l];
        }
        return bytes;
    }

    private void Advance(TimeSpan now)
    {
        var bucket = now.Ticks / BucketTicks;
        if (_bucket == long.MinValue)
        {
            _bucket = bucket;
            _firstTicks = now.Ticks;
            return;
        }
        if (bucket <= _bucket) return;
        var steps = Math.Min(bucket - _bucket, Buckets);
        for (var i = 1; i <= steps; i++) Array.Clear(_bytes, (int)((_bucket + i) % Buckets) * Layers, Layers);
        _bucket = bucket;
    }
}
