namespace Ferry.Protocols.Srtp;

/// <summary>Per-SSRC state of an SRTP session: rollover counter, highest sequence, replay windows, SRTCP index.</summary>
internal sealed class SrtpStreamContext(uint ssrc)
{
    public uint Ssrc { get; } = ssrc;
    public uint Roc;
    public ushort HighestSeq;
    public bool Started;
    public uint RtcpIndex;
    public ReplayWindow RtpReplay;
    public ReplayWindow RtcpReplay;

    /// <summary>
    /// The rollover counter and 48-bit index this sequence number most likely belongs to
    /// (RFC 3711 §3.3.1 and Appendix A): the one whose index is closest to the highest seen.
    /// </summary>
    public (uint Roc, long Index) EstimateIndex(ushort seq)
    {
        if (!Started) return (0, seq);
        var roc = Roc;
        if (HighestSeq < 32768)
        {
            if (seq - HighestSeq > 32768 && roc > 0) roc--;
        }
        else if (HighestSeq - 32768 > seq)
        {
            roc++;
        }
        return (roc, ((long)roc << 16) | seq);
    }

    /// <summary>Moves the highest seen forward after a packet was accepted.</summary>
    public void UpdateRtp(uint roc, ushort seq)
    {
        if (!Started)
        {
            Started = true;
            Roc = roc;
            HighestSeq = seq;
            return;
        }
        if (roc > Roc || (roc == Roc && seq > HighestSeq))
        {
            Roc = roc;
            HighestSeq = seq;
        }
    }

    /// <summary>The next SRTCP index to send (31 bits). The first is 1, as libsrtp (and so browsers) send it.</summary>
    public uint NextRtcpIndex()
    {
        RtcpIndex = (RtcpIndex + 1) & 0x7FFFFFFF;
        return RtcpIndex;
    }

    public SrtpStreamState Export() => new()
    {
        Ssrc = Ssrc,
        Roc = Roc,
        HighestSeq = HighestSeq,
        Started = Started,
        RtpReplayHighest = RtpReplay.Highest,
        RtpReplayStarted = RtpReplay.Started,
        RtpReplayBits = RtpReplay.Export(),
        RtcpIndex = RtcpIndex,
        RtcpReplayHighest = RtcpReplay.Highest,
        RtcpReplayStarted = RtcpReplay.Started,
        RtcpReplayBits = RtcpReplay.Export(),
    };

    public static SrtpStreamContext Import(SrtpStreamState s)
    {
        var context = new SrtpStreamContext(s.Ssrc)
        {
            Roc = s.Roc,
            HighestSeq = s.HighestSeq,
            Started = s.Started,
            RtcpIndex = s.RtcpIndex,
        };
        context.RtpReplay.Import(s.RtpReplayHighest, s.RtpReplayStarted, s.RtpReplayBits);
        context.RtcpReplay.Import(s.RtcpReplayHighest, s.RtcpReplayStarted, s.RtcpReplayBits);
        return context;
    }
}
