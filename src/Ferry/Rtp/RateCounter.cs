namespace Ferry.Rtp;

/// <summary>
/// Bits per second over the last full one-second window: a counter and a timestamp per packet, no
/// allocation, good enough for stats (mediasoup reports a windowed rate too).
/// </summary>
internal struct RateCounter
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    private TimeSpan _windowStart;
    private long _bytes;
    private long _lastRate;

    public void Add(int bytes, TimeSpan now)
    {
        if (now - _windowStart >= Window)
        {
            var elapsed = now - _windowStart;
            _lastRate = elapsed < Window * 2 ? (long)(_bytes * 8 / elapsed.TotalSeconds) : 0;
            _windowStart = now;
            _bytes = 0;
        }
        _bytes += bytes;
    }

    /// <summary>The rate of the last complete window; 0 when the stream went quiet for longer than a window.</summary>
    public readonly long Rate(TimeSpan now) => now - _windowStart >= Window * 2 ? 0 : _lastRate;
}
