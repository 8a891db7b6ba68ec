using Ferry.Loop;
using Ferry.Protocols.Bwe;
using Ferry.Protocols.Rtcp;
using Ferry.Rtp;

namespace Ferry.Transports;

/// <summary>
/// Congestion control of a transport, as mediasoup has it: the send-side bandwidth estimate from the
/// endpoint's transport-cc feedback (or REMB), shared among the consumers by priority and layers
/// (<see cref="BitrateAllocator"/>), padding on a consumer's RTX stream to find room to climb, the REMB
/// cap the endpoint is asked to keep to (setMaxIncomingBitrate), the limits on the outgoing estimate, the
/// "bwe" trace, and the bitrates of the stats.
/// </summary>
/// <remarks>
/// Everything here is plain state of the transport and its owned timers: it travels with the transport
/// when it moves. Per packet sent the estimator records one ring entry; the allocation runs on a timer
/// (every 200 ms) and right after feedback that moved the estimate by more than 10%.
/// </remarks>
public abstract partial class Transport
{
    private const long MinOutgoingLimit = 30_000;
    // The REMB sent when a cap is lifted: far above anything a browser sends, so it no longer limits.
    private const ulong UnlimitedRemb = 10_000_000_000;
    private const int UnlimitedRembCount = 4;
    private const int MaxPaddingPacketsPerTick = 40;
    private const int PaddingBytesPerPacket = 255;
    private static readonly TimeSpan LimitationRembInterval = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan AllocationInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ReactionInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan PaddingInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan TraceInterval = TimeSpan.FromSeconds(1);

    private readonly BitrateAllocator _allocator = new();
    private SendSideBandwidthEstimator _bwe = null!;
    private LoopTimer _bweTimer = null!;
    private LoopTimer _rembTimer = null!;
    private ushort _lastTransportWideSeq;
    private long _maxIncomingBitrate;
    private long _maxOutgoingBitrate;
    private long _minOutgoingBitrate;
    private int _unlimitedRembsLeft;
    private int _bweConsumers;
    private bool _allocationDirty;
    private BitrateAllocation _allocation;
    // Times of the last allocation, padding tick and trace; null before the first (never subtracted from then).
    private TimeSpan? _lastAllocationAt;
    private TimeSpan? _lastPaddingAt;
    private TimeSpan? _lastTraceAt;
    private (long Available, long Desired, long Effective) _lastTraced = (-1, -1, -1);
    private double _paddingCreditBits;
    private volatile string[] _traceEventTypes = [];
    private RateCounter _recvRate, _sendRate, _rtpRecvRate, _rtxRecvRate, _rtpSendRate, _rtxSendRate, _probationSendRate;
    private long _bytesReceived, _bytesSent, _rtpBytesReceived, _rtxBytesReceived, _rtpBytesSent, _rtxBytesSent, _probationBytesSent;

    /// <summary>
    /// Raised on the worker thread for each enabled trace type; "bwe" (direction out) carries the estimate
    /// and what the consumers want, at most once a second when they changed (mediasoup's transport trace).
    /// </summary>
    public event Action<TransportTraceEventData>? Trace;

    /// <summary>The outgoing estimate of this transport (for tests and stats).</summary>
    internal SendSideBandwidthEstimator Bwe => _bwe;

    /// <summary>The last allocation (for tests).</summary>
    internal BitrateAllocation LastAllocation => _allocation;

    /// <summary>True while a consumer's endpoint sends congestion feedback (transport-cc or REMB): the allocation runs.</summary>
    internal bool HasBwe => _bweConsumers > 0;

    private void InitBwe(long initialAvailableOutgoingBitrate)
    {
        _bwe = new SendSideBandwidthEstimator(initialAvailableOutgoingBitrate);
        _bweTimer = CreateOwnedTimer(OnBweTimer);
        _rembTimer = CreateOwnedTimer(OnRembTimer);
    }

    /// <summary>
    /// Caps what the endpoint may send on this transport: a REMB with <paramref name="bitrate"/> goes to it at
    /// once and every 1.5 s (mediasoup's limitation REMB); 0 lifts the cap (a few REMBs with an unlimited
    /// value follow so the endpoint forgets the old one).
    /// </summary>
    /// <exception cref="ArgumentException">Negative.</exception>
    /// <exception cref="UnsupportedException">On a DirectTransport.</exception>
    public Task SetMaxIncomingBitrateAsync(long bitrate)
    {
        ThrowIfNoBitrateControl();
        ThrowIfClosed();
        if (bitrate < 0) throw new ArgumentException("bitrate must be >= 0");
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var previous = _maxIncomingBitrate;
            _maxIncomingBitrate = bitrate;
            _unlimitedRembsLeft = bitrate == 0 && previous > 0 ? UnlimitedRembCount : 0;
            SendLimitationRemb();
            if (_maxIncomingBitrate > 0 || _unlimitedRembsLeft > 0) _rembTimer.StartAfter(LimitationRembInterval);
            else _rembTimer.Stop();
        });
    }

    /// <summary>Caps the outgoing estimate (0: no cap).</summary>
    /// <exception cref="ArgumentException">Negative, below 30000, or below the minimum (mediasoup's TypeError).</exception>
    /// <exception cref="UnsupportedException">On a DirectTransport.</exception>
    public Task SetMaxOutgoingBitrateAsync(long bitrate)
    {
        ThrowIfNoBitrateControl();
        ThrowIfClosed();
        ValidateOutgoingLimit(bitrate);
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (bitrate != 0 && _minOutgoingBitrate != 0 && bitrate < _minOutgoingBitrate)
                throw new ArgumentException("maxOutgoingBitrate must be >= minOutgoingBitrate");
            _maxOutgoingBitrate = bitrate;
            _bwe.SetLimits(_minOutgoingBitrate, _maxOutgoingBitrate);
            RequestAllocation();
        });
    }

    /// <summary>Sets a floor under the outgoing estimate (0: none).</summary>
    /// <exception cref="ArgumentException">Negative, below 30000, or above the maximum (mediasoup's TypeError).</exception>
    /// <exception cref="UnsupportedException">On a DirectTransport.</exception>
    public Task SetMinOutgoingBitrateAsync(long bitrate)
    {
        ThrowIfNoBitrateControl();
        ThrowIfClosed();
        ValidateOutgoingLimit(bitrate);
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (bitrate != 0 && _maxOutgoingBitrate != 0 && bitrate > _maxOutgoingBitrate)
                throw new ArgumentException("minOutgoingBitrate must be <= maxOutgoingBitrate");
            _minOutgoingBitrate = bitrate;
            _bwe.SetLimits(_minOutgoingBitrate, _maxOutgoingBitrate);
            RequestAllocation();
        });
    }

    /// <summary>
    /// Enables trace events of the given types ("probation", "bwe"; others are ignored, as mediasoup does),
    /// replacing the set enabled before; null or empty disables them. Only "bwe" is ever raised.
    /// </summary>
    /// <exception cref="ArgumentException">A null type.</exception>
    public Task EnableTraceEventAsync(IReadOnlyList<string>? types = null)
    {
        ThrowIfClosed();
        var list = types ?? [];
        if (list.Any(t => t is null)) throw new ArgumentException("types must be strings");
        var known = list.Where(t => t is "probation" or "bwe").Distinct().ToArray();
        return InvokeAsync(() => { _traceEventTypes = known; });
    }

    /// <summary>The trace types enabled.</summary>
    internal IReadOnlyList<string> TraceEventTypes => _traceEventTypes;

    private static void ValidateOutgoingLimit(long bitrate)
    {
        if (bitrate < 0) throw new ArgumentException("bitrate must be >= 0");
        if (bitrate != 0 && bitrate < MinOutgoingLimit) throw new ArgumentException($"bitrate must be >= {MinOutgoingLimit} bps");
    }

    private void ThrowIfNoBitrateControl()
    {
        if (this is DirectTransport) throw new UnsupportedException("not supported by DirectTransport");
    }

    internal ushort NextTransportWideSequence() => _lastTransportWideSeq = ++_transportWideSeq;

    /// <summary>A consumer was added or removed: whether the allocation runs may change.</summary>
    private void OnConsumerSetChanged(Consumer consumer, bool added)
    {
        if (consumer.UsesTransportCc || consumer.UsesRemb) _bweConsumers += added ? 1 : -1;
        if (!HasBwe && !added && !Closed)
        {
            // No endpoint measures the path any more: nobody is capped by an estimate that no longer moves.
            var now = Loop.Now;
            foreach (var c in _consumers.Values) c.SetBweCap(null, now);
        }
        RequestAllocation();
    }

    /// <summary>Something the allocation depends on changed (a consumer paused, resumed, its priority or preferred layers): run it soon.</summary>
    internal void RequestAllocation()
    {
        if (Closed || !HasBwe || !IsConnected) return;
        _allocationDirty = true;
        var now = Loop.Now;
        if (_bweTimer.Due > now) _bweTimer.Start(now);
    }

    private void OnBweTimer()
    {
        if (Closed || !HasBwe || !IsConnected) return;
        var now = Loop.Now;
        if (_allocationDirty || _lastAllocationAt is not { } last || now - last >= AllocationInterval) RunAllocation(now);
        var padding = SendPadding(now);
        _bweTimer.StartAfter(padding ? PaddingInterval : AllocationInterval);
    }

    private void RunAllocation(TimeSpan now)
    {
        _allocationDirty = false;
        _lastAllocationAt = now;
        var available = _bwe.AvailableBitrate;
        // Upgrades must also fit in what the receiver acknowledged (transport-cc only; REMB gives no such measure).
        var upgradeBudget = _bwe.FeedbackKind == BweFeedbackKind.TransportCc && _bwe.AckedBitrate is { } acked ? Math.Min(acked, available) : available;
        _allocation = _allocator.Allocate(_consumers.Values, available, upgradeBudget, now);
        _bwe.SetDesiredBitrate(_allocation.Desired, now);
        MaybeTraceBwe(now);
    }

    private void MaybeTraceBwe(TimeSpan now)
    {
        if (Trace is not { } handler || Array.IndexOf(_traceEventTypes, "bwe") < 0) return;
        var values = (_bwe.AvailableBitrate, _bwe.DesiredBitrate, _bwe.EffectiveDesiredBitrate);
        if (values == _lastTraced || (_lastTraceAt is { } last && now - last < TraceInterval)) return;
        _lastTraced = values;
        _lastTraceAt = now;
        var info = new BweTraceInfo
        {
            BweType = _bwe.FeedbackKind == BweFeedbackKind.Remb ? "remb" : "transport-cc",
            DesiredBitrate = _bwe.DesiredBitrate,
            EffectiveDesiredBitrate = _bwe.EffectiveDesiredBitrate,
            MinBitrate = _bwe.MinBitrate,
            MaxBitrate = _bwe.MaxBitrate,
            StartBitrate = _bwe.InitialBitrate,
            MaxPaddingBitrate = _bwe.MaxPaddingBitrate,
            AvailableBitrate = _bwe.AvailableBitrate,
        };
        Events.Emit(handler, new TransportTraceEventData("bwe", (long)now.TotalMilliseconds, "out", info), Logger);
    }

    /// <summary>
    /// Sends what padding the estimator asks for since the last tick, on the RTX stream of a consumer that
    /// can carry it. True when padding is going on (the timer then ticks faster).
    /// </summary>
    private bool SendPadding(TimeSpan now)
    {
        // A tenth over what the next layer needs, so the acknowledged throughput can show it fits.
        var rate = _bwe.PaddingBitrate(_allocation.Allocated, _allocation.Wanted + _allocation.Wanted / 10, now);
        var elapsed = _lastPaddingAt is { } last ? now - last : PaddingInterval;
        _lastPaddingAt = now;
        if (rate <= 0)
        {
            _paddingCreditBits = 0;
            return false;
        }
        Consumer? carrier = null;
        foreach (var c in _consumers.Values)
        {
            if (c.CanSendPadding) { carrier = c; break; }
        }
        if (carrier is null)
        {
            _paddingCreditBits = 0;
            return false;
        }
        if (elapsed > AllocationInterval) elapsed = PaddingInterval;
        _paddingCreditBits = Math.Min(_paddingCreditBits + rate * elapsed.TotalSeconds, rate * 0.1);
        for (var sent = 0; sent < MaxPaddingPacketsPerTick && _paddingCreditBits > 0; sent++)
        {
            var sequence = NextTransportWideSequence();
            var length = carrier.WritePadding(_sendBuffer, PaddingBytesPerPacket, sequence, now);
            _bwe.OnPacketSent(sequence, length, now, padding: true);
            _probationBytesSent += length;
            _probationSendRate.Add(length, now);
            CountSent(length, now);
            SendRtp(_sendBuffer, length);
            _paddingCreditBits -= length * 8;
        }
        return true;
    }

    /// <summary>Transport-cc feedback from the endpoint about what the consumers sent.</summary>
    private void OnTransportCcFeedback(RtcpPacket packet, TimeSpan now)
    {
        var before = _bwe.AvailableBitrate;
        if (!_bwe.OnTransportCcFeedback(packet, now)) return;
        ReactToEstimate(before, now);
    }

    /// <summary>A REMB from the endpoint.</summary>
    private void OnRembFeedback(RtcpPacket packet, TimeSpan now)
    {
        if (!Remb.TryParse(packet, out _, out var bitrate, Span<uint>.Empty, out _))
        {
            RtcpPacketsDropped++;
            return;
        }
        var before = _bwe.AvailableBitrate;
        if (_bwe.OnRemb(bitrate, now)) ReactToEstimate(before, now);
    }

    /// <summary>A report block about a consumer's stream: its RTT and (without transport-cc) its loss feed the estimator.</summary>
    private void OnConsumerReportBlock(Consumer consumer, in ReportBlock block, TimeSpan now)
    {
        if (consumer.RoundTripTime is { } rtt) _bwe.OnRoundTripTime(rtt);
        if (consumer.Kind != Protocols.Ortc.MediaKind.Video || !HasBwe) return;
        var before = _bwe.AvailableBitrate;
        _bwe.OnReceiverReportLoss(block.FractionLost, now);
        ReactToEstimate(before, now);
    }

    /// <summary>A move of more than 10% reallocates now (at most every 50 ms); smaller ones wait for the timer.</summary>
    private void ReactToEstimate(long before, TimeSpan now)
    {
        if (!HasBwe || !IsConnected) return;
        var after = _bwe.AvailableBitrate;
        if (Math.Abs(after - before) * 10 < before) return;
        if (_lastAllocationAt is not { } last || now - last >= ReactionInterval) RunAllocation(now);
        else RequestAllocation();
    }

    private void OnRembTimer()
    {
        if (Closed) return;
        SendLimitationRemb();
        if (_maxIncomingBitrate > 0 || _unlimitedRembsLeft > 0) _rembTimer.StartAfter(LimitationRembInterval);
    }

    /// <summary>The REMB that keeps the endpoint under setMaxIncomingBitrate (or lifts the cap), for the streams it sends.</summary>
    private void SendLimitationRemb()
    {
        if (!IsConnected || (_maxIncomingBitrate == 0 && _unlimitedRembsLeft == 0)) return;
        var bitrate = _maxIncomingBitrate > 0 ? (ulong)_maxIncomingBitrate : UnlimitedRemb;
        if (_maxIncomingBitrate == 0) _unlimitedRembsLeft--;
        Span<uint> ssrcs = stackalloc uint[32];
        var count = 0;
        foreach (var producer in _producers.Values)
        {
            foreach (var stream in producer.Streams)
            {
                if (stream.HasSsrc && count < ssrcs.Length) ssrcs[count++] = stream.Ssrc;
            }
        }
        var length = Remb.Write(_rtcpBuffer, _rtcpSsrc, bitrate, ssrcs[..count]);
        if (length > 0) SendOwnRtcp(length);
    }

    /// <summary>Called when media can start: allocation and the REMB cap start too.</summary>
    private void OnConnectedBwe()
    {
        if (HasBwe) RequestAllocation();
        if (_maxIncomingBitrate > 0) SendLimitationRemb();
    }

    private void ReleaseBwe()
    {
        ReleaseOwnedTimer(_bweTimer);
        ReleaseOwnedTimer(_rembTimer);
    }

    /// <summary>Bytes of a datagram received on the transport's sockets (for recvBitrate).</summary>
    private protected void CountReceived(int bytes, TimeSpan now)
    {
        _bytesReceived += bytes;
        _recvRate.Add(bytes, now);
    }

    /// <summary>Bytes of a datagram sent (for sendBitrate).</summary>
    private protected void CountSent(int bytes, TimeSpan now)
    {
        _bytesSent += bytes;
        _sendRate.Add(bytes, now);
    }

    private void CountRtpReceived(int bytes, bool rtx, TimeSpan now)
    {
        if (rtx)
        {
            _rtxBytesReceived += bytes;
            _rtxRecvRate.Add(bytes, now);
        }
        else
        {
            _rtpBytesReceived += bytes;
            _rtpRecvRate.Add(bytes, now);
        }
    }

    /// <summary>The stats fields every transport kind shares (bitrates over the last second, the estimate and its limits).</summary>
    private protected TransportStats WithCommonStats(TransportStats stats)
    {
        var now = Loop.Now;
        return stats with
        {
            RecvBitrate = _recvRate.Rate(now),
            SendBitrate = _sendRate.Rate(now),
            RtpBytesReceived = _rtpBytesReceived,
            RtpRecvBitrate = _rtpRecvRate.Rate(now),
            RtpBytesSent = _rtpBytesSent,
            RtpSendBitrate = _rtpSendRate.Rate(now),
            RtxBytesReceived = _rtxBytesReceived,
            RtxRecvBitrate = _rtxRecvRate.Rate(now),
            RtxBytesSent = _rtxBytesSent,
            RtxSendBitrate = _rtxSendRate.Rate(now),
            ProbationBytesSent = _probationBytesSent,
            ProbationSendBitrate = _probationSendRate.Rate(now),
            AvailableOutgoingBitrate = HasBwe ? _bwe.AvailableBitrate : null,
            MaxIncomingBitrate = _maxIncomingBitrate > 0 ? _maxIncomingBitrate : null,
            MaxOutgoingBitrate = _maxOutgoingBitrate > 0 ? _maxOutgoingBitrate : null,
            MinOutgoingBitrate = _minOutgoingBitrate > 0 ? _minOutgoingBitrate : null,
            RtpPacketLossReceived = PacketLossReceived(),
            RtpPacketLossSent = HasBwe && _bwe.FeedbackKind == BweFeedbackKind.TransportCc ? _bwe.LossRatio : null,
        };
    }

    /// <summary>Mean fraction lost of the streams received (from the last receiver reports), null with none.</summary>
    private double? PacketLossReceived()
    {
        double sum = 0;
        var count = 0;
        foreach (var producer in _producers.Values)
        {
            foreach (var stream in producer.Streams)
            {
                if (!stream.HasPackets) continue;
                sum += stream.FractionLost / 256.0;
                count++;
            }
        }
        return count > 0 ? sum / count : null;
    }
}

/// <summary>A transport trace event (mediasoup's TransportTraceEventData).</summary>
/// <param name="Type">"bwe" (or "probation", never raised).</param>
/// <param name="Timestamp">Milliseconds of the worker's clock.</param>
/// <param name="Direction">"out" for the outgoing estimate.</param>
/// <param name="Info">What the estimator says.</param>
public sealed record TransportTraceEventData(string Type, long Timestamp, string Direction, BweTraceInfo Info);

/// <summary>The info of a "bwe" trace, with mediasoup's field names.</summary>
public sealed record BweTraceInfo
{
    /// <summary>"transport-cc" or "remb".</summary>
    public required string BweType { get; init; }
    /// <summary>What the consumers would send at their preferred layers (bps).</summary>
    public long DesiredBitrate { get; init; }
    /// <summary>The desired bitrate's slowly decaying trend (bps).</summary>
    public long EffectiveDesiredBitrate { get; init; }
    /// <summary>Floor of the estimate (bps).</summary>
    public long MinBitrate { get; init; }
    /// <summary>Ceiling of the estimate now (bps).</summary>
    public long MaxBitrate { get; init; }
    /// <summary>The initial estimate (bps).</summary>
    public long StartBitrate { get; init; }
    /// <summary>Most padding the ramp may send (bps).</summary>
    public long MaxPaddingBitrate { get; init; }
    /// <summary>The estimate: what the path carries (bps).</summary>
    public long AvailableBitrate { get; init; }
}
