using Ferry.Protocols.Ortc;

namespace Ferry.Rtp;

/// <summary>Statistics of one RTP stream with mediasoup's field names (inbound-rtp for producers, outbound-rtp for consumers).</summary>
public sealed record RtpStreamStats
{
    /// <summary>"inbound-rtp" or "outbound-rtp".</summary>
    public required string Type { get; init; }
    /// <summary>Milliseconds of the worker's clock.</summary>
    public required long Timestamp { get; init; }
    /// <summary>SSRC.</summary>
    public required uint Ssrc { get; init; }
    /// <summary>RTX SSRC.</summary>
    public uint? RtxSsrc { get; init; }
    /// <summary>RID.</summary>
    public string? Rid { get; init; }
    /// <summary>audio or video.</summary>
    public required MediaKind Kind { get; init; }
    /// <summary>Codec mime type.</summary>
    public required string MimeType { get; init; }
    /// <summary>Cumulative packets lost.</summary>
    public long PacketsLost { get; init; }
    /// <summary>Fraction lost of the last interval (0..255).</summary>
    public int FractionLost { get; init; }
    /// <summary>Packets discarded.</summary>
    public long PacketsDiscarded { get; init; }
    /// <summary>RTX packets received and dropped (inbound): padding, or resends of packets not asked for.</summary>
    public long? RtxPacketsDiscarded { get; init; }
    /// <summary>Bytes of those packets as received (inbound; Ferry's own field): what the sender spent on padding and probing on this stream.</summary>
    public long? RtxBytesDiscarded { get; init; }
    /// <summary>Packets retransmitted.</summary>
    public long PacketsRetransmitted { get; init; }
    /// <summary>Packets repaired by retransmission.</summary>
    public long PacketsRepaired { get; init; }
    /// <summary>NACK packets.</summary>
    public long NackCount { get; init; }
    /// <summary>Sequence numbers NACKed.</summary>
    public long NackPacketCount { get; init; }
    /// <summary>PLIs.</summary>
    public long PliCount { get; init; }
    /// <summary>FIRs.</summary>
    public long FirCount { get; init; }
    /// <summary>Score 0..10.</summary>
    public int Score { get; init; }
    /// <summary>Round-trip time, ms.</summary>
    public double? RoundTripTime { get; init; }
    /// <summary>Jitter in timestamp units (inbound).</summary>
    public uint? Jitter { get; init; }
    /// <summary>Packets.</summary>
    public long PacketCount { get; init; }
    /// <summary>Bytes.</summary>
    public long ByteCount { get; init; }
    /// <summary>Bitrate over the last second, bps.</summary>
    public long Bitrate { get; init; }

    internal static RtpStreamStats Inbound(ReceiveStream s, MediaKind kind, string mimeType, TimeSpan now) => new()
    {
        Type = "inbound-rtp", Timestamp = (long)now.TotalMilliseconds, Ssrc = s.Ssrc, RtxSsrc = s.RtxSsrc, Rid = s.Rid, Kind = kind, MimeType = mimeType,
        PacketsLost = s.PacketsLost, FractionLost = s.FractionLost, PacketsRepaired = s.RetransmittedRecovered, RtxPacketsDiscarded = s.RtxSsrc is null && s.RtxPacketCount == 0 ? null : s.RtxPacketsDiscarded,
        RtxBytesDiscarded = s.RtxSsrc is null && s.RtxPacketCount == 0 ? null : s.RtxBytesDiscarded, NackCount = s.NackCount,
        NackPacketCount = s.NackPacketCount, PliCount = s.PliCount, FirCount = s.FirCount, Score = s.Score, Jitter = (uint)s.Jitter,
        PacketCount = s.PacketCount, ByteCount = s.ByteCount, Bitrate = s.Bitrate(now),
    };

    internal static RtpStreamStats Outbound(Consumer c, TimeSpan now) => new()
    {
        Type = "outbound-rtp", Timestamp = (long)now.TotalMilliseconds, Ssrc = c.Ssrc, RtxSsrc = c.RtxSsrc, Kind = c.Kind, MimeType = c.RtpParameters.Codecs[0].MimeType,
        PacketsLost = c.PacketsLost, FractionLost = c.FractionLost, PacketsRetransmitted = c.RetransmittedPackets, NackCount = c.NackCount,
        PliCount = c.PliCount, FirCount = c.FirCount, Score = c.Score.Score, RoundTripTime = c.RoundTripTime?.TotalMilliseconds,
        PacketCount = c.PacketCount, ByteCount = c.ByteCount, Bitrate = c.Bitrate(now),
    };
}
