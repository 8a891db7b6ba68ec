namespace Ferry.Protocols.Bwe;

/// <summary>
/// The delay-based rate controller (draft-ietf-rmcat-gcc-02 §5.5): a Hold / Increase / Decrease state
/// machine driven by the detector's signal.
/// </summary>
/// <remarks>
/// <para>Increase is multiplicative, 8% a second, while the measured throughput is away from where the path
/// last saturated, and additive (about one packet per response time, RTT + 100 ms) close to it, so the
/// estimate approaches a known limit gently. It never goes past 1.5 times the throughput the receiver
/// acknowledges, plus 10 kbit/s: an estimate the path has not shown it carries is a guess.</para>
/// <para>Decrease sets the estimate to 0.85 times the acknowledged throughput (the path's capacity just
/// measured), then holds until the signal is normal again. Each decrease updates the average and variance
/// of the throughput at saturation; a throughput above average + 3σ means the path changed and the average
/// is forgotten.</para>
/// </remarks>
internal sealed class AimdRateControl
{
    private const double Beta = 0.85;
    private const double IncreasePerSecond = 1.08;
    private const double MaxOverAcked = 1.5;
    private const double AckedHeadroomBps = 10_000;

    private enum RateState : byte { Hold, Increase, Decrease }

    private RateState _state = RateState.Increase;
    private double _bitrate;
    private long _lastUpdateUs = -1;
    private long _lastDecreaseUs = -1;
    private double _averageMaxKbps = -1;
    private double _varianceMaxKbps = 0.4;

    public AimdRateControl(double initialBitrate) => _bitrate = initialBitrate;

    /// <summary>The current delay-based estimate (bps).</summary>
    public double Bitrate => _bitrate;

    /// <summary>When the estimate last went down (µs), -1 never.</summary>
    public long LastDecreaseUs => _lastDecreaseUs;

    /// <summary>Overrides the estimate (bounds changed, or a REMB value replaces the delay-based one).</summary>
    public void Set(double bitrate) => _bitrate = bitrate;

    /// <summary>
    /// One update after a feedback: <paramref name="acked"/> is the throughput the receiver acknowledged
    /// (null while unknown). Returns the new estimate.
    /// </summary>
    public double Update(BandwidthUsage usage, double? acked, long nowUs, double rttMs)
    {
        var elapsedUs = _lastUpdateUs < 0 ? 0 : Math.Max(0, nowUs - _lastUpdateUs);
        _lastUpdateUs = nowUs;
        _state = usage switch
        {
            BandwidthUsage.Overusing => RateState.Decrease,
            BandwidthUsage.Underusing => RateState.Hold,
            _ => _state == RateState.Hold ? RateState.Increase : _state,
        };
        var responseMs = 100 + rttMs;
        switch (_state)
        {
            case RateState.Increase:
                Increase(acked, elapsedUs, responseMs);
                break;
            case RateState.Decrease:
                Decrease(acked, nowUs, responseMs);
                _state = RateState.Hold;
                break;
        }
        return _bitrate;
    }

    private void Increase(double? acked, long elapsedUs, double responseMs)
    {
        var ackedKbps = acked / 1000;
        if (ackedKbps is { } a && _averageMaxKbps >= 0 && a > _averageMaxKbps + 3 * StdDevKbps) _averageMaxKbps = -1;
        var nearMax = ackedKbps is { } b && _averageMaxKbps >= 0 && Math.Abs(b - _averageMaxKbps) <= 3 * StdDevKbps;
        var seconds = elapsedUs / 1e6;
        double next;
        if (nearMax)
        {
            // About one packet per response time: the frame at 30 fps split into packets of at most 1200 bytes.
            var bitsPerFrame = _bitrate / 30;
            var packetsPerFrame = Math.Ceiling(bitsPerFrame / (1200 * 8));
            var packetBits = bitsPerFrame / packetsPerFrame;
            var alpha = 0.5 * Math.Min(seconds * 1000 / responseMs, 1.0);
            next = _bitrate + Math.Max(1000, alpha * packetBits);
        }
        else
        {
            next = _bitrate * Math.Pow(IncreasePerSecond, Math.Min(seconds, 1.0));
        }
        // Never past what the path has shown it carries; a cap that is already exceeded does not pull the estimate down.
        if (acked is { } r) next = Math.Min(next, Math.Max(_bitrate, MaxOverAcked * r + AckedHeadroomBps));
        _bitrate = next;
    }

    private void Decrease(double? acked, long nowUs, double responseMs)
    {
        if (acked is { } r)
        {
            // Relative to the measured capacity, so repeated overuse signals while the queue drains do not compound.
            var target = Beta * r;
            if (target < _bitrate) _bitrate = target;
            UpdateMax(r / 1000);
        }
        else if (_lastDecreaseUs < 0 || nowUs - _lastDecreaseUs >= responseMs * 1000)
        {
            // Nothing measured yet: back off from the estimate itself, once per response time.
            _bitrate *= Beta;
        }
        else
        {
            return;
        }
        _lastDecreaseUs = nowUs;
    }

    private double StdDevKbps => Math.Sqrt(_varianceMaxKbps * Math.Max(_averageMaxKbps, 1));

    private void UpdateMax(double kbps)
    {
        const double Alpha = 0.05;
        _averageMaxKbps = _averageMaxKbps < 0 ? kbps : (1 - Alpha) * _averageMaxKbps + Alpha * kbps;
        var norm = Math.Max(_averageMaxKbps, 1);
        var deviation = _averageMaxKbps - kbps;
        _varianceMaxKbps = Math.Clamp((1 - Alpha) * _varianceMaxKbps + Alpha * deviation * deviation / norm, 0.4, 2.5);
    }
}
