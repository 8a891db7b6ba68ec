using Ferry.Mobility;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

internal sealed partial class ReceiveStream
{
    /// <summary>This stream's state at <paramref name="now"/> (on the loop).</summary>
    public ReceiveStreamSnapshot ExportSnapshot(TimeSpan now) => new()
    {
        EncodingIndex = EncodingIndex, Ssrc = HasSsrc ? Ssrc : null, RtxSsrc = RtxSsrc, Rid = Rid, MappedSsrc = MappedSsrc,
        HighestExtendedSeq = _unwrapper.Highest, BaseSeq = _baseSeq, ExpectedPrior = _expectedPrior, ReceivedPrior = _receivedPrior, Jitter = _jitter,
        PacketCount = PacketCount, ByteCount = ByteCount, RtxPacketCount = RtxPacketCount, RetransmittedRecovered = RetransmittedRecovered,
        NackCount = NackCount, NackPacketCount = NackPacketCount, PliCount = PliCount, FirCount = FirCount, KeyFrames = KeyFrames,
        FractionLost = FractionLost, Score = Score, LastTimestamp = LastTimestamp,
        LastPacketAgeMicros = HasPackets ? Math.Max(0, (now - LastPacketAt).Ticks / 10) : -1,
        LastSrNtp = LastSrNtp, LastSrRtpTimestamp = LastSrRtpTimestamp,
        LastSrAgeMicros = LastSrCompact == 0 && LastSrNtp == 0 ? -1 : Math.Max(0, (now - LastSrReceivedAt).Ticks / 10),
        Nack = Nack?.ExportState(now),
    };

    /// <summary>
    /// Takes over <paramref name="s"/>'s learnt SSRCs, statistics and NACK state, its times rebased on
    /// <paramref name="now"/>. Call before the stream is in the transport's SSRC table.
    /// </summary>
    public void ImportSnapshot(ReceiveStreamSnapshot s, TimeSpan now)
    {
        if (s.Ssrc is { } ssrc)
        {
            Ssrc = ssrc;
            HasSsrc = true;
        }
        if (s.RtxSsrc is { } rtx) RtxSsrc = rtx;
        _unwrapper = SequenceUnwrapper.FromHighest(s.HighestExtendedSeq);
        _baseSeq = s.BaseSeq;
        _expectedPrior = s.ExpectedPrior;
        _receivedPrior = s.ReceivedPrior;
        _jitter = s.Jitter;
        // The last transit time is measured on the exporting process's clock: jitter resumes from the next pair of packets.
        _haveTransit = false;
        PacketCount = s.PacketCount;
        ByteCount = s.ByteCount;
        RtxPacketCount = s.RtxPacketCount;
        RetransmittedRecovered = s.RetransmittedRecovered;
        NackCount = s.NackCount;
        NackPacketCount = s.NackPacketCount;
        PliCount = s.PliCount;
        FirCount = s.FirCount;
        KeyFrames = s.KeyFrames;
        FractionLost = (byte)Math.Clamp(s.FractionLost, 0, 255);
        Score = Math.Clamp(s.Score, 0, 10);
        LastTimestamp = s.LastTimestamp;
        if (s.LastPacketAgeMicros >= 0) LastPacketAt = now - TimeSpan.FromTicks(s.LastPacketAgeMicros * 10);
        if (s.LastSrAgeMicros >= 0)
        {
            LastSrNtp = s.LastSrNtp;
            LastSrCompact = NtpTime.ToCompact(s.LastSrNtp);
            LastSrRtpTimestamp = s.LastSrRtpTimestamp;
            LastSrReceivedAt = now - TimeSpan.FromTicks(s.LastSrAgeMicros * 10);
        }
        if (s.Nack is { } nack) Nack?.ImportState(nack, now);
    }
}
