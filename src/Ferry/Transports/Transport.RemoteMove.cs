using Ferry.Mobility.Remote;

namespace Ferry.Transports;

/// <summary>
/// The part of a move between processes every transport shares: its own counters and limits as plain
/// data (what the far end sees continue: transport-wide sequence numbers, MIDs, CNAME, FIR sequence,
/// the send-side estimate and the bitrate limits).
/// </summary>
public abstract partial class Transport
{
    /// <summary>
    /// Connected again without the far end having noticed anything (a transport imported from another
    /// process, or one whose move was aborted): the timers start, but consumers keep their numbering and
    /// sync (no resync, no key-frame request), since the far end's streams never stopped.
    /// </summary>
    private protected void OnConnectedAfterMove()
    {
        EnsureRtcpTimer();
        OnConnectedBwe();
    }

    /// <summary>The transport's own state; on the loop.</summary>
    private protected TransportCoreSnapshot ExportCore()
    {
        Loop.AssertOnLoop();
        var inUse = new List<int>();
        if (_sctpStreamIds is { } ids)
        {
            for (var i = 0; i < ids.Length; i++)
                if (ids[i]) inUse.Add(i);
        }
        return new TransportCoreSnapshot
        {
            TransportWideSeq = _transportWideSeq,
            NextMid = _nextMid,
            Cname = _cname,
            FirSequence = _firSequence,
            AvailableOutgoingBitrate = _bwe.AvailableBitrate,
            MaxIncomingBitrate = _maxIncomingBitrate,
            MaxOutgoingBitrate = _maxOutgoingBitrate,
            MinOutgoingBitrate = _minOutgoingBitrate,
            SctpStreamIdsInUse = inUse,
            NextSctpStreamId = _nextSctpStreamId,
        };
    }

    /// <summary>Restores <see cref="ExportCore"/> into a transport just made from a snapshot; on the loop.</summary>
    private protected void RestoreCore(TransportCoreSnapshot core)
    {
        Loop.AssertOnLoop();
        _transportWideSeq = core.TransportWideSeq;
        _nextMid = core.NextMid;
        _cname = core.Cname;
        _firSequence = core.FirSequence;
        _maxIncomingBitrate = core.MaxIncomingBitrate;
        _maxOutgoingBitrate = core.MaxOutgoingBitrate;
        _minOutgoingBitrate = core.MinOutgoingBitrate;
        if (_maxOutgoingBitrate != 0 || _minOutgoingBitrate != 0) _bwe.SetLimits(_minOutgoingBitrate, _maxOutgoingBitrate);
        if (_maxIncomingBitrate > 0) _rembTimer.StartAfter(LimitationRembInterval);
    }

    /// <summary>
    /// The SCTP stream ids the data consumers hold, as the source had them (after the data consumers were
    /// imported, so the next allocation continues where the source's would have); on the loop.
    /// </summary>
    private protected void RestoreSctpStreamIds(TransportCoreSnapshot core, int inboundStreams)
    {
        Loop.AssertOnLoop();
        if (core.SctpStreamIdsInUse.Count == 0 && _sctpStreamIds is null) return;
        var length = Math.Max(inboundStreams, core.SctpStreamIdsInUse.Count == 0 ? 0 : core.SctpStreamIdsInUse.Max() + 1);
        _sctpStreamIds = new bool[length];
        foreach (var id in core.SctpStreamIdsInUse) _sctpStreamIds[id] = true;
        _nextSctpStreamId = core.NextSctpStreamId;
    }
}
