using Ferry.Protocols.Rtcp;

namespace Ferry.Protocols.Bwe;

/// <summary>Which feedback drives the estimate.</summary>
public enum BweFeedbackKind : byte
{
    /// <summary>None received yet: the estimate is the initial one.</summary>
    None,
    /// <summary>Transport-wide congestion control feedback: the estimator runs on arrival times.</summary>
    TransportCc,
    /// <summary>REMB only: the receiver's own estimate is taken.</summary>
    Remb,
}

/// <summary>
/// The send-side bandwidth estimate of one transport, as a sans-IO object: every packet sent with a
/// transport-wide sequence number is recorded (<see cref="OnPacketSent"/>), the receiver's transport-cc
/// feedback is fed in (<see cref="OnTransportCcFeedback"/>), and <see cref="AvailableBitrate"/> is what
/// the path carries. It never reads a clock: every input comes with the caller's time.
/// </summary>
/// <remarks>
/// <para>The estimate is the smaller of a delay-based one (inter-group delay variation, a trend line over
/// it, an overuse detector with an adaptive threshold, AIMD rate control: draft-ietf-rmcat-gcc-02 §5) and
/// a loss-based one (§6). A receiver that sends REMB (draft-alvestrand-rmcat-remb-03) instead of
/// transport-cc has done the delay-based part itself: its value replaces the delay-based estimate. When
/// both come, REMB caps the estimate.</para>
/// <para>Bounds, as mediasoup applies them: never below 30 kbit/s or the configured minimum; never above
/// the configured maximum, nor above max(initial, 1.35 × the desired bitrate's slowly decaying trend), so
/// an estimate cannot run far ahead of what the application wants to send.</para>
/// <para>Bad input is counted and ignored: malformed feedback, reports of sequence numbers never sent (or
/// sent too long ago), repeated reports, absurd REMB values.</para>
/// <para>Memory is fixed at construction; nothing allocates per packet or per feedback.</para>
/// </remarks>
public sealed class SendSideBandwidthEstimator
{
    /// <summary>The lowest estimate, whatever the feedback says (mediasoup's).</summary>
    public const long MinBitrateFloor = 30_000;

    /// <summary>REMB values above this (100 Gbit/s) are taken as garbage.</summary>
    public const ulong MaxPlausibleRemb = 100_000_000_000;

    private const double MaxOverDesired = 1.35;
    private const double PaddingShareOfMax = 0.85;
    private const double DesiredDecayPerSecond = 0.05;
    private const int MaxReports = 4096;
    private static readonly TimeSpan PaddingHoldAfterDecrease = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RembFreshness = TimeSpan.FromSeconds(5);
    // The feedback's reference time is 24 bits of 64 ms: it wraps every 2^24 × 64 ms.
    private const long ArrivalWrapUs = (1L << 24) * TransportCcFeedback.ReferenceMicroseconds;

    private readonly SendHistory _history = new();
    private readonly DelayBasedDetector _detector = new();
    private readonly AckedBitrate _acked = new();
    private readonly AimdRateControl _aimd;
    private readonly LossBasedControl _loss;
    private readonly TransportCcResult[] _reports = new TransportCcResult[MaxReports];
    private readonly long _initial;
    private long _minLimit;
    private long _maxLimit;
    private long _available;
    private long _desired;
    private double _effectiveDesired;
    private TimeSpan _desiredAt = TimeSpan.MinValue;
    private long _lastArrivalRaw = long.MinValue;
    private long _arrivalOffset;
    private ulong _remb;
    private TimeSpan _rembAt = TimeSpan.MinValue;
    private double _rttMs = 100;
    private TimeSpan _lastDecreaseAt = TimeSpan.MinValue;

    /// <summary>Creates an estimator starting at <paramref name="initialBitrate"/> (raised to 30 kbit/s when lower).</summary>
    public SendSideBandwidthEstimator(long initialBitrate)
    {
        _initial = Math.Max(initialBitrate, MinBitrateFloor);
        _available = _initial;
        _aimd = new AimdRateControl(_initial);
        _loss = new LossBasedControl(_initial);
    }

    /// <summary>What the path is estimated to carry (bps).</summary>
    public long AvailableBitrate => _available;

    /// <summary>The initial estimate (bps).</summary>
    public long InitialBitrate => _initial;

    /// <summary>What the application last said it wants to send (bps).</summary>
    public long DesiredBitrate => _desired;

    /// <summary>The desired bitrate's trend: follows it up at once, down by 5% a second.</summary>
    public long EffectiveDesiredBitrate => (long)_effectiveDesired;

    /// <summary>The lowest the estimate may go (bps).</summary>
    public long MinBitrate => Math.Max(MinBitrateFloor, _minLimit);

    /// <summary>The highest the estimate may go now (bps): the configured maximum, or what the desired bitrate allows.</summary>
    public long MaxBitrate
    {
        get
        {
            var fromDesired = Math.Max(_initial, (long)(_effectiveDesired * MaxOverDesired));
            var max = _maxLimit > 0 ? Math.Min(_maxLimit, fromDesired) : fromDesired;
            return Math.Max(max, MinBitrate);
        }
    }

    /// <summary>The most padding that may be sent to find more bandwidth (bps).</summary>
    public long MaxPaddingBitrate => (long)(MaxBitrate * PaddingShareOfMax);

    /// <summary>Which feedback drives the estimate.</summary>
    public BweFeedbackKind FeedbackKind { get; private set; }

    /// <summary>The delay-based detector's conclusion.</summary>
    public BandwidthUsage DelayState => _detector.State;

    /// <summary>Loss ratio of the last batch of reports (0..1).</summary>
    public double LossRatio => _loss.LossRatio;

    /// <summary>The throughput the receiver last acknowledged (bps), null while unknown.</summary>
    public long? AckedBitrate => _acked.Bitrate is { } r ? (long)r : null;

    /// <summary>Transport-cc feedback packets processed.</summary>
    public long FeedbackPackets { get; private set; }

    /// <summary>Feedback packets that did not parse (or held more statuses than a feedback can): ignored.</summary>
    public long MalformedFeedback { get; private set; }

    /// <summary>Reported sequence numbers never sent, or sent too long ago to be remembered: ignored.</summary>
    public long UnknownSequenceReports { get; private set; }

    /// <summary>Packets reported received a second time: ignored.</summary>
    public long DuplicateReports { get; private set; }

    /// <summary>REMB values taken.</summary>
    public long RembPackets { get; private set; }

    /// <summary>REMB values above <see cref="MaxPlausibleRemb"/>: ignored.</summary>
    public long AbsurdRemb { get; private set; }

    /// <summary>Packets reported received and lost, all time.</summary>
    public long PacketsReportedReceived { get; private set; }

    /// <summary>Packets reported lost (and not later reported received), all time.</summary>
    public long PacketsReportedLost { get; private set; }

    /// <summary>
    /// Sets the configured bounds (0: none). The caller validates them (mediasoup's rules); the estimate
    /// moves into them at once.
    /// </summary>
    public void SetLimits(long minBitrate, long maxBitrate)
    {
        _minLimit = Math.Max(0, minBitrate);
        _maxLimit = Math.Max(0, maxBitrate);
        Clamp();
    }

    /// <summary>What the application wants to send (the sum its consumers would use at their preferred layers).</summary>
    public void SetDesiredBitrate(long desired, TimeSpan now)
    {
        desired = Math.Max(0, desired);
        if (_desiredAt != TimeSpan.MinValue && now > _desiredAt)
        {
            var seconds = (now - _desiredAt).TotalSeconds;
            _effectiveDesired *= Math.Max(0, 1 - DesiredDecayPerSecond * seconds);
        }
        _desiredAt = now;
        _desired = desired;
        if (desired > _effectiveDesired) _effectiveDesired = desired;
        Clamp();
    }

    /// <summary>The round-trip time measured from receiver reports.</summary>
    public void OnRoundTripTime(TimeSpan rtt)
    {
        if (rtt > TimeSpan.Zero && rtt < TimeSpan.FromSeconds(10)) _rttMs = rtt.TotalMilliseconds;
    }

    /// <summary>Records a packet sent with transport-wide sequence number <paramref name="sequence"/>, <paramref name="size"/> bytes on the wire.</summary>
    public void OnPacketSent(ushort sequence, int size, TimeSpan now, bool padding = false) =>
        _history.Record(sequence, size, Microseconds(now), padding);

    /// <summary>
    /// A transport-cc feedback packet (RTCP transport feedback, FMT 15) from the receiver. False when it is
    /// malformed (counted, nothing changes).
    /// </summary>
    public bool OnTransportCcFeedback(RtcpPacket packet, TimeSpan now)
    {
        var count = TransportCcFeedback.Parse(packet, _reports, out _, out _, out _);
        if (count < 0)
        {
            MalformedFeedback++;
            return false;
        }
        FeedbackPackets++;
        FeedbackKind = BweFeedbackKind.TransportCc;
        var nowUs = Microseconds(now);
        int received = 0, lost = 0;
        for (var i = 0; i < count; i++)
        {
            var report = _reports[i];
            var slot = _history.Find(report.Sequence);
            if (slot < 0)
            {
                UnknownSequenceReports++;
                continue;
            }
            if (_history.WasReportedReceived(slot))
            {
                DuplicateReports++;
                continue;
            }
            if (!report.Received)
            {
                if (!_history.WasReportedLost(slot))
                {
                    _history.MarkLost(slot);
                    lost++;
                    PacketsReportedLost++;
                }
                continue;
            }
            if (_history.WasReportedLost(slot))
            {
                // Reported lost before, arrived after all (late, or repaired): it was not lost.
                lost--;
                PacketsReportedLost--;
            }
            _history.MarkReceived(slot);
            received++;
            PacketsReportedReceived++;
            var arrival = UnwrapArrival(report.ArrivalMicroseconds);
            _acked.Add(arrival, _history.Size(slot));
            _detector.OnPacket(_history.SentMicroseconds(slot), arrival);
        }
        // A late arrival of a packet reported lost before makes lost negative: it corrects the batch.
        if (received != 0 || lost != 0)
        {
            _loss.OnReports(received, lost, nowUs);
            Update(now);
        }
        return true;
    }

    /// <summary>
    /// A REMB from the receiver (its own estimate of what it can receive). False (counted, ignored) when
    /// the value is absurd.
    /// </summary>
    public bool OnRemb(ulong bitrate, TimeSpan now)
    {
        if (bitrate > MaxPlausibleRemb)
        {
            AbsurdRemb++;
            return false;
        }
        RembPackets++;
        if (bitrate < (ulong)_available) _lastDecreaseAt = now;
        _remb = bitrate;
        _rembAt = now;
        if (FeedbackKind == BweFeedbackKind.None) FeedbackKind = BweFeedbackKind.Remb;
        if (FeedbackKind == BweFeedbackKind.Remb) _aimd.Set(Math.Max(bitrate, (ulong)MinBitrate));
        Update(now);
        return true;
    }

    /// <summary>
    /// A receiver report's fraction lost for what was sent: the loss input when the receiver sends no
    /// transport-cc (which reports loss itself).
    /// </summary>
    public void OnReceiverReportLoss(byte fractionLost, TimeSpan now)
    {
        if (FeedbackKind == BweFeedbackKind.TransportCc) return;
        _loss.OnFractionLost(fractionLost, Microseconds(now));
        if (FeedbackKind != BweFeedbackKind.None) Update(now);
    }

    /// <summary>
    /// How much padding to send now to find out whether the path carries more (bps), given what media is
    /// being sent and what the application would send with more room. A conservative ramp, not probing:
    /// the total is brought up to the current estimate, no further, so the estimate can grow by its
    /// multiplicative increase with the padding acknowledged. None while the path shows congestion, for 3 s
    /// after any decrease, or without transport-cc feedback (nothing would measure it).
    /// </summary>
    public long PaddingBitrate(long mediaBitrate, long wantedBitrate, TimeSpan now)
    {
        if (FeedbackKind != BweFeedbackKind.TransportCc || wantedBitrate <= mediaBitrate) return 0;
        if (_detector.State == BandwidthUsage.Overusing) return 0;
        if (_lastDecreaseAt != TimeSpan.MinValue && now - _lastDecreaseAt < PaddingHoldAfterDecrease) return 0;
        var padding = Math.Min(wantedBitrate, _available) - mediaBitrate;
        return padding <= 0 ? 0 : Math.Min(padding, MaxPaddingBitrate);
    }

    private void Update(TimeSpan now)
    {
        var nowUs = Microseconds(now);
        var delayDecrease = _aimd.LastDecreaseUs;
        var lossDecrease = _loss.LastDecreaseUs;
        double delayBased;
        if (FeedbackKind == BweFeedbackKind.TransportCc)
        {
            delayBased = _aimd.Update(_detector.State, _acked.Bitrate, nowUs, _rttMs);
        }
        else
        {
            delayBased = _aimd.Bitrate;
        }
        // REMB alongside transport-cc caps it; alone it is the estimate (set in OnRemb).
        if (_rembAt != TimeSpan.MinValue && now - _rembAt < RembFreshness) delayBased = Math.Min(delayBased, _remb);
        var estimate = _loss.Update(delayBased, nowUs, _rttMs);
        _available = (long)estimate;
        Clamp();
        // Only what the path said counts as a decrease; a bound moving (the desired bitrate falling) does not.
        if (_aimd.LastDecreaseUs != delayDecrease || _loss.LastDecreaseUs != lossDecrease) _lastDecreaseAt = now;
    }

    /// <summary>Keeps the estimate and both controllers inside the bounds.</summary>
    private void Clamp()
    {
        long min = MinBitrate, max = MaxBitrate;
        _available = Math.Clamp(_available, min, max);
        if (_aimd.Bitrate > max) _aimd.Set(max);
        if (_aimd.Bitrate < min) _aimd.Set(min);
        if (_loss.Bitrate > max) _loss.Set(max);
        if (_loss.Bitrate < min) _loss.Set(min);
    }

    /// <summary>
    /// Arrival times are on the receiver's clock and wrap with the 24-bit reference time; they are unwrapped
    /// against the previous one so the detector sees one timeline.
    /// </summary>
    private long UnwrapArrival(long raw)
    {
        if (_lastArrivalRaw != long.MinValue)
        {
            var delta = raw - _lastArrivalRaw;
            if (delta > ArrivalWrapUs / 2) _arrivalOffset -= ArrivalWrapUs;
            else if (delta < -ArrivalWrapUs / 2) _arrivalOffset += ArrivalWrapUs;
        }
        _lastArrivalRaw = raw;
        return raw + _arrivalOffset;
    }

    private static long Microseconds(TimeSpan t) => t.Ticks / 10;
}
