namespace Ferry.Protocols.Bwe;

/// <summary>
/// The delay-based half of the estimator (draft-ietf-rmcat-gcc-02 §5): groups packets by send time,
/// measures how much later each group arrived than it was sent relative to the previous one (the
/// inter-group delay variation), follows the trend of the accumulated variation, and compares that
/// trend with an adaptive threshold to say whether a queue is building.
/// </summary>
/// <remarks>
/// <para>Groups (§5.2): packets sent within 5 ms of a group's first packet belong to it; a packet that
/// arrives within 5 ms of the group's last one and ahead of its send spacing belongs to it too (a burst
/// released by some link at once carries no delay information).</para>
/// <para>Arrival-time filter: instead of the draft's Kalman filter the accumulated delay variation is
/// smoothed (exponentially, 0.9) and a least-squares line is fitted over the last 20 groups; its slope,
/// in milliseconds of queue growth per millisecond, is the signal. It is scaled by the number of groups
/// seen (up to 60) and a gain of 4 so it compares with the draft's threshold, which starts at 12.5 ms.</para>
/// <para>Detection and threshold (§5.4): overuse when the signal stays above the threshold for more than
/// 10 ms of send time over at least two groups and is not falling; underuse below minus the threshold.
/// The threshold moves toward |signal| per millisecond of arrival time (steps capped at 100 ms), ignores
/// jumps of more than 15 above it, and stays in [6, 600]. The gains are libwebrtc's published ones,
/// K_u = 0.0087 (signal outside) and K_d = 0.039 (inside), not the draft's 0.01 and 0.00018: with the
/// draft's K_d a threshold raised by one episode of congestion takes about a minute to come back, and
/// meanwhile the detector misses the next queue until it overflows.</para>
/// </remarks>
internal sealed class DelayBasedDetector
{
    private const long GroupSpanUs = 5_000;
    private const long MaxArrivalGapUs = 3_000_000;
    private const int TrendWindow = 20;
    private const double Smoothing = 0.9;
    private const double TrendGain = 4;
    private const int MaxDeltas = 60;
    private const double OveruseTimeMs = 10;
    private const double Ku = 0.0087;
    private const double Kd = 0.039;
    private const double InitialThreshold = 12.5;
    private const double MaxThresholdJump = 15;

    // The group being filled.
    private long _groupFirstSend = -1;
    private long _groupLastSend;
    private long _groupLastArrival;
    // The last complete group.
    private long _previousSend = -1;
    private long _previousArrival;

    private readonly double[] _x = new double[TrendWindow];
    private readonly double[] _y = new double[TrendWindow];
    private int _samples;
    private int _next;
    private long _firstArrival = -1;
    private double _accumulated;
    private double _smoothed;
    private int _deltas;
    private double _trend;

    private double _threshold = InitialThreshold;
    private long _lastThresholdUpdate = -1;
    private double _overuseMs = -1;
    private int _overuseGroups;
    private double _previousTrend;

    /// <summary>The current conclusion.</summary>
    public BandwidthUsage State { get; private set; } = BandwidthUsage.Normal;

    /// <summary>The adaptive threshold (ms).</summary>
    public double Threshold => _threshold;

    /// <summary>The last scaled trend compared with the threshold.</summary>
    public double Signal { get; private set; }

    /// <summary>Groups compared so far.</summary>
    public int Deltas => _deltas;

    /// <summary>A packet reported received: send time on our clock, arrival on the receiver's (both µs).</summary>
    public void OnPacket(long sendUs, long arrivalUs)
    {
        if (_groupFirstSend < 0)
        {
            StartGroup(sendUs, arrivalUs);
            return;
        }
        // Sent before the group being filled: reordered on the way, it says nothing new.
        if (sendUs < _groupFirstSend) return;
        if (sendUs - _groupFirstSend <= GroupSpanUs || IsBurst(sendUs, arrivalUs))
        {
            if (sendUs > _groupLastSend) _groupLastSend = sendUs;
            if (arrivalUs > _groupLastArrival) _groupLastArrival = arrivalUs;
            return;
        }
        CompleteGroup();
        StartGroup(sendUs, arrivalUs);
    }

    /// <summary>Forgets everything (the receiver's clock jumped).</summary>
    public void Reset()
    {
        _groupFirstSend = _previousSend = -1;
        ResetTrend();
        State = BandwidthUsage.Normal;
    }

    private bool IsBurst(long sendUs, long arrivalUs)
    {
        var arrivalDelta = arrivalUs - _groupLastArrival;
        var sendDelta = sendUs - _groupLastSend;
        return arrivalDelta >= 0 && arrivalDelta < GroupSpanUs && arrivalDelta - sendDelta < 0;
    }

    private void StartGroup(long sendUs, long arrivalUs)
    {
        _groupFirstSend = _groupLastSend = sendUs;
        _groupLastArrival = arrivalUs;
    }

    private void CompleteGroup()
    {
        if (_previousSend >= 0)
        {
            var sendDelta = _groupLastSend - _previousSend;
            var arrivalDelta = _groupLastArrival - _previousArrival;
            if (arrivalDelta < 0 || arrivalDelta > MaxArrivalGapUs)
            {
                // Out of order groups or a gap too long to compare (the receiver's clock or the path changed): start over.
                ResetTrend();
            }
            else
            {
                UpdateTrend((arrivalDelta - sendDelta) / 1000.0, sendDelta / 1000.0, _groupLastArrival);
            }
        }
        _previousSend = _groupLastSend;
        _previousArrival = _groupLastArrival;
    }

    private void ResetTrend()
    {
        _samples = _next = 0;
        _firstArrival = -1;
        _accumulated = _smoothed = _trend = _previousTrend = 0;
        _deltas = 0;
        _overuseMs = -1;
        _overuseGroups = 0;
    }

    private void UpdateTrend(double variationMs, double sendDeltaMs, long arrivalUs)
    {
        if (_deltas < 1000) _deltas++;
        if (_firstArrival < 0) _firstArrival = arrivalUs;
        _accumulated += variationMs;
        _smoothed = Smoothing * _smoothed + (1 - Smoothing) * _accumulated;
        _x[_next] = (arrivalUs - _firstArrival) / 1000.0;
        _y[_next] = _smoothed;
        _next = (_next + 1) % TrendWindow;
        if (_samples < TrendWindow) _samples++;
        if (_samples == TrendWindow && Slope() is { } slope) _trend = slope;
        Detect(sendDeltaMs, arrivalUs);
    }

    /// <summary>Least-squares slope of the smoothed delay over arrival time; null when every x is the same.</summary>
    private double? Slope()
    {
        double meanX = 0, meanY = 0;
        for (var i = 0; i < _samples; i++)
        {
            meanX += _x[i];
            meanY += _y[i];
        }
        meanX /= _samples;
        meanY /= _samples;
        double numerator = 0, denominator = 0;
        for (var i = 0; i < _samples; i++)
        {
            var dx = _x[i] - meanX;
            numerator += dx * (_y[i] - meanY);
            denominator += dx * dx;
        }
        return denominator > 0 ? numerator / denominator : null;
    }

    private void Detect(double sendDeltaMs, long arrivalUs)
    {
        if (_deltas < 2)
        {
            State = BandwidthUsage.Normal;
            return;
        }
        var signal = Math.Min(_deltas, MaxDeltas) * _trend * TrendGain;
        Signal = signal;
        if (signal > _threshold)
        {
            // Time over the threshold counts from half a group before the first group seen over it.
            _overuseMs = _overuseMs < 0 ? sendDeltaMs / 2 : _overuseMs + sendDeltaMs;
            _overuseGroups++;
            if (_overuseMs > OveruseTimeMs && _overuseGroups > 1 && _trend >= _previousTrend)
            {
                _overuseMs = 0;
                _overuseGroups = 0;
                State = BandwidthUsage.Overusing;
            }
        }
        else
        {
            _overuseMs = -1;
            _overuseGroups = 0;
            State = signal < -_threshold ? BandwidthUsage.Underusing : BandwidthUsage.Normal;
        }
        _previousTrend = _trend;
        UpdateThreshold(signal, arrivalUs);
    }

    private void UpdateThreshold(double signal, long arrivalUs)
    {
        if (_lastThresholdUpdate < 0) _lastThresholdUpdate = arrivalUs;
        var magnitude = Math.Abs(signal);
        var stepMs = Math.Min((arrivalUs - _lastThresholdUpdate) / 1000.0, 100);
        _lastThresholdUpdate = arrivalUs;
        // A sudden large signal is a real event (or a glitch), not something to get used to.
        if (magnitude > _threshold + MaxThresholdJump) return;
        var gain = magnitude < _threshold ? Kd : Ku;
        _threshold = Math.Clamp(_threshold + gain * (magnitude - _threshold) * stepMs, 6, 600);
    }
}
