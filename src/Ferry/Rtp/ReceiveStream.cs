using Ferry.Protocols.Recovery;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// One RTP stream a producer receives (one encoding): its identity, the receive statistics of
/// RFC 3550 (§6.4.1 loss, §A.8 jitter), the last sender report for LSR/DLSR, and its NACK generator.
/// Loop-owned; no allocation per packet.
/// </summary>
internal sealed partial class ReceiveStream
{
    private SequenceUnwrapper _unwrapper;
    private long _baseSeq = -1;
    private long _expectedPrior;
    private long _receivedPrior;
    private uint _lastTransit;
    private bool _haveTransit;
    private double _jitter;
    private RateCounter _rate;

    /// <summary>Receive bitrate over the last second.</summary>
    public long Bitrate(TimeSpan now) => _rate.Rate(now);

    /// <summary>Bitrate by temporal layer over the last second (what the bandwidth allocation prices layers with).</summary>
    public LayerBitrateMeter Layers { get; } = new();

    public ReceiveStream(int encodingIndex, uint? ssrc, string? rid, uint mappedSsrc, uint clockRate, NackGenerator? nack)
    {
        EncodingIndex = encodingIndex;
        Ssrc = ssrc ?? 0;
        HasSsrc = ssrc is not null;
        Rid = rid;
        MappedSsrc = mappedSsrc;
        ClockRate = clockRate;
        Nack = nack;
    }

    public int EncodingIndex { get; }
    public uint Ssrc { get; set; }
    public bool HasSsrc { get; set; }
    public string? Rid { get; }
    public uint MappedSsrc { get; }
    public uint ClockRate { get; set; }
    public uint? RtxSsrc { get; set; }
    public NackGenerator? Nack { get; }

    /// <summary>The recent packets, mapped, for consumers' retransmissions (video with NACK only).</summary>
    public PacketStore? Store { get; set; }

    /// <summary>The <see cref="Store"/> was added for a move between processes (the stream has no NACK): it goes once the move is done.</summary>
    public bool StoreHeldForMove { get; set; }

    public long PacketCount { get; private set; }
    public long ByteCount { get; private set; }
    public long RtxPacketCount { get; set; }
    public long RetransmittedRecovered { get; set; }
    /// <summary>RTX packets dropped: padding-only, undecodable, or resending a packet not asked for (mediasoup's rtxPacketsDiscarded).</summary>
    public long RtxPacketsDiscarded { get; set; }
    /// <summary>Bytes of the <see cref="RtxPacketsDiscarded"/> packets as received (the sender's padding and probing on this stream).</summary>
    public long RtxBytesDiscarded { get; set; }
    public long NackCount { get; set; }
    public long NackPacketCount { get; set; }
    public long PliCount { get; set; }
    public long FirCount { get; set; }
    public long KeyFrames { get; set; }
    public byte FractionLost { get; private set; }
    public int Score { get; private set; } = 10;
    public long HighestExtendedSeq => _unwrapper.Highest;
    public double Jitter => _jitter;
    public int PacketsLost => _baseSeq < 0 ? 0 : (int)Math.Max(0, _unwrapper.Highest - _baseSeq + 1 - PacketCount);

    /// <summary>Middle 32 bits of the last SR's NTP time, 0 before any.</summary>
    public uint LastSrCompact { get; private set; }
    public TimeSpan LastSrReceivedAt { get; private set; }
    public ulong LastSrNtp { get; private set; }
    public uint LastSrRtpTimestamp { get; private set; }

    /// <summary>Temporal layer of the last packet (-1 when its payload carries none): what consumers filter on.</summary>
    public int LastTemporalLayer { get; set; } = -1;

    /// <summary>Spatial layer of the last packet (-1 when its payload carries none): what SVC consumers filter on.</summary>
    public int LastSpatialLayer { get; set; } = -1;

    /// <summary>The last packet ends the frame of its spatial layer (VP9 E bit): where an SVC consumer that drops the layers above ends the picture.</summary>
    public bool LastEndsFrame { get; set; }

    /// <summary>The last packet is a switching-up point to its temporal layer (VP8 Y, VP9 U).</summary>
    public bool LastLayerSync { get; set; }

    /// <summary>The last packet starts a frame (from the payload when it says so, else a new RTP timestamp): where a consumer may change temporal layer.</summary>
    public bool LastStartsFrame { get; set; }

    /// <summary>RTP timestamp of the last media packet, for frame boundaries of codecs whose payload does not mark them.</summary>
    public uint LastTimestamp { get; set; }

    /// <summary>Time of the last media packet, for "active" and the layer selection; meaningful once <see cref="HasPackets"/>.</summary>
    public TimeSpan LastPacketAt { get; private set; }

    /// <summary>A media packet arrived within <paramref name="window"/> before <paramref name="now"/>.</summary>
    public bool FlowedWithin(TimeSpan window, TimeSpan now) => HasPackets && now - LastPacketAt <= window;

    /// <summary>Counts a media packet (after RTX decoding) and updates jitter.</summary>
    public void OnPacket(ushort seq, uint timestamp, int length, TimeSpan now)
    {
        var ext = _unwrapper.Unwrap(seq);
        if (_baseSeq < 0) _baseSeq = ext;
        PacketCount++;
        ByteCount += length;
        _rate.Add(length, now);
        Layers.Add(LastTemporalLayer, length, now);
        LastPacketAt = now;
        // RFC 3550 A.8: transit difference in timestamp units.
        var arrival = (uint)(now.Ticks * ClockRate / TimeSpan.TicksPerSecond);
        var transit = arrival - timestamp;
        if (_haveTransit)
        {
            var d = Math.Abs((int)(transit - _lastTransit));
            _jitter += (d - _jitter) / 16.0;
        }
        _lastTransit = transit;
        _haveTransit = true;
    }

    public void OnSenderReport(ulong ntp, uint rtpTimestamp, TimeSpan now)
    {
        LastSrNtp = ntp;
        LastSrCompact = NtpTime.ToCompact(ntp);
        LastSrReceivedAt = now;
        LastSrRtpTimestamp = rtpTimestamp;
    }

    /// <summary>The report block for this stream (RFC 3550 §6.4.1), advancing the interval counters; score from the interval loss.</summary>
    public ReportBlock BuildReportBlock(TimeSpan now)
    {
        var highest = _unwrapper.Highest;
        var expected = highest - _baseSeq + 1;
        var expectedInterval = expected - _expectedPrior;
        var receivedInterval = PacketCount - _receivedPrior;
        _expectedPrior = expected;
        _receivedPrior = PacketCount;
        var lostInterval = expectedInterval - receivedInterval;
        FractionLost = expectedInterval <= 0 || lostInterval <= 0 ? (byte)0 : (byte)Math.Min(255, (lostInterval << 8) / expectedInterval);
        UpdateScore(expectedInterval, lostInterval);
        var dlsr = LastSrCompact == 0 ? 0u : NtpTime.CompactFromTimeSpan(now - LastSrReceivedAt);
        var cumulative = (int)Math.Clamp(expected - PacketCount, -0x800000, 0x7FFFFF);
        return new ReportBlock(Ssrc, FractionLost, cumulative, (uint)highest, (uint)_jitter, LastSrCompact, dlsr);
    }

    private void UpdateScore(long expected, long lost)
    {
        if (expected <= 0) return;
        // mediasoup scores a stream by its loss: 10 at none, falling with the fraction lost.
        var lossRate = Math.Max(0, (double)lost / expected);
        var score = (int)Math.Round(10 * Math.Max(0, 1 - lossRate * 4));
        Score = Math.Clamp(score, 0, 10);
    }

    public bool HasPackets => _baseSeq >= 0;
}
