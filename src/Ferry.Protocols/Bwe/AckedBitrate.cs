namespace Ferry.Protocols.Bwe;

/// <summary>
/// The throughput the receiver acknowledges (the draft's R_hat, §5.5): bytes of the packets reported
/// received whose arrival falls in the last 500 ms of the receiver's clock. A fixed ring, no allocation.
/// </summary>
internal sealed class AckedBitrate
{
    private const int Capacity = 4096;
    private const long WindowUs = 500_000;
    private const long MinSpanUs = 100_000;

    private readonly long[] _arrival = new long[Capacity];
    private readonly int[] _size = new int[Capacity];
    private int _head;
    private int _count;
    private long _bytes;
    private long _newest = long.MinValue;
    private long _firstEver = long.MinValue;

    /// <summary>A packet reported received.</summary>
    public void Add(long arrivalUs, int size)
    {
        if (_firstEver == long.MinValue) _firstEver = arrivalUs;
        if (_count == Capacity) RemoveOldest();
        var slot = (_head + _count) % Capacity;
        _arrival[slot] = arrivalUs;
        _size[slot] = size;
        _count++;
        _bytes += size;
        if (arrivalUs > _newest) _newest = arrivalUs;
        while (_count > 0 && _arrival[_head] < _newest - WindowUs) RemoveOldest();
    }

    /// <summary>Forgets everything (the receiver's clock jumped).</summary>
    public void Reset()
    {
        _head = _count = 0;
        _bytes = 0;
        _newest = _firstEver = long.MinValue;
    }

    /// <summary>Bits per second over the window; null until 100 ms of arrivals were seen.</summary>
    public double? Bitrate
    {
        get
        {
            if (_count == 0) return null;
            var span = _newest - _firstEver;
            if (span < MinSpanUs) return null;
            return _bytes * 8.0 * 1e6 / Math.Min(span, WindowUs);
        }
    }

    private void RemoveOldest()
    {
        _bytes -= _size[_head];
        _head = (_head + 1) % Capacity;
        _count--;
    }
}
