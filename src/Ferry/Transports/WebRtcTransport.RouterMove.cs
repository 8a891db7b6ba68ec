namespace Ferry.Transports;

/// <summary>What a move of a whole router between processes needs of each of its transports beyond a transport move.</summary>
public sealed partial class WebRtcTransport
{
    /// <summary>
    /// A router import failed and this transport (made from a snapshot, not live) is about to be discarded with the
    /// others of its router: from now on it sends nothing. Otherwise, when another of them is discarded first, its
    /// data producer's close would have this transport's data consumer reset its stream towards the far end, whose
    /// association lives on at the source (and DTLS records from here would take sequence numbers the source uses next).
    /// </summary>
    internal void SilenceBeforeDiscard()
    {
        Loop.AssertOnLoop();
        _movedAway = true;
        if (_sctp is { } sctp) sctp.Frozen = true;
    }
}
