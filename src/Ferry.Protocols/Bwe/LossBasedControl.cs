namespace Ferry.Protocols.Bwe;

/// <summary>
/// The loss-based controller (draft-ietf-rmcat-gcc-02 §6): over each batch of at least 20 reported packets
/// (or a second's worth), loss above 10% cuts the estimate by half the loss ratio (at most once per
/// 300 ms + RTT, so one loss episode counts once), loss below 2% lets it grow 8% a second, anything
/// between holds. It never exceeds the delay-based estimate: the final estimate is this one. With no loss
/// information for 2 s (a REMB-only receiver that sends no reports) it has no opinion and follows the
/// delay-based estimate.
/// </summary>
internal sealed class LossBasedControl
{
    private const int MinBatch = 20;
    private const long MaxBatchUs = 1_000_000;
    private const double LowLoss = 0.02;
    private const double HighLoss = 0.10;
    private const long NoOpinionUs = 2_000_000;

    private double _bitrate;
    private int _lost;
    private int _expected;
    private long _batchStartUs = -1;
    private long _lastIncreaseUs = -1;
    private long _lastDecreaseUs = -1;
    private long _lastBatchUs = -1;

    public LossBasedControl(double initialBitrate) => _bitrate = initialBitrate;

    /// <summary>The loss-based estimate (bps).</summary>
    public double Bitrate => _bitrate;

    /// <summary>Loss ratio of the last complete batch.</summary>
    public double LossRatio { get; private set; }

    /// <summary>When the estimate last went down because of loss (µs), -1 never.</summary>
    public long LastDecreaseUs => _lastDecreaseUs;

    /// <summary>Overrides the estimate (bounds changed).</summary>
    public void Set(double bitrate) => _bitrate = bitrate;

    /// <summary>Counts reported packets; <paramref name="lost"/> may be negative when packets reported lost before arrived after all.</summary>
    public void OnReports(int received, int lost, long nowUs)
    {
        if (_batchStartUs < 0) _batchStartUs = nowUs;
        _expected += received + lost;
        _lost += lost;
    }

    /// <summary>A receiver report's fraction lost (RFC 3550, in 1/256) taken as one complete batch.</summary>
    public void OnFractionLost(byte fractionLost, long nowUs)
    {
        _batchStartUs = nowUs;
        _expected = 256;
        _lost = fractionLost;
    }

    /// <summary>Applies a complete batch, if there is one, and caps the estimate with the delay-based one.</summary>
    public double Update(double delayBased, long nowUs, double rttMs)
    {
        if (_expected >= MinBatch || (_expected > 0 && nowUs - _batchStartUs >= MaxBatchUs))
        {
            var loss = Math.Clamp((double)_lost / _expected, 0, 1);
            LossRatio = loss;
            _lastBatchUs = nowUs;
            _lost = _expected = 0;
            _batchStartUs = nowUs;
            if (loss > HighLoss)
            {
                if (_lastDecreaseUs < 0 || nowUs - _lastDecreaseUs >= (300 + rttMs) * 1000)
                {
                    _bitrate *= 1 - 0.5 * loss;
                    _lastDecreaseUs = nowUs;
                }
                _lastIncreaseUs = nowUs;
            }
            else if (loss < LowLoss)
            {
                var seconds = _lastIncreaseUs < 0 ? 0 : Math.Min((nowUs - _lastIncreaseUs) / 1e6, 1.0);
                _bitrate *= Math.Pow(1.08, seconds);
                _lastIncreaseUs = nowUs;
            }
            else
            {
                _lastIncreaseUs = nowUs;
            }
        }
        else if (_lastBatchUs < 0 || nowUs - _lastBatchUs >= NoOpinionUs)
        {
            _bitrate = delayBased;
        }
        if (_bitrate > delayBased) _bitrate = delayBased;
        return _bitrate;
    }
}
