namespace Ferry.Mobility.Remote;

/// <summary>
/// A copy of a whole <see cref="Router"/> taken while it runs (<see cref="Router.CheckpointAsync"/>), for a standby that
/// brings it back to life if the router's process dies (<see cref="Router.TakeOverAsync"/>). The same data a move
/// exports, without a move: no relay, no token, nothing frozen. Serialisable with System.Text.Json
/// (<see cref="SnapshotJson.Serialize(RouterCheckpoint)"/>).
/// </summary>
public sealed record RouterCheckpoint
{
    /// <summary>The version written by this build.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version; a take-over refuses one it does not know.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>
    /// Increases with every copy of the router, and across take-overs (the router that took over goes on above the copy
    /// it came from): a standby keeps the copy with the highest one (<see cref="Newest"/>), whatever order copies arrive in.
    /// </summary>
    public required long Sequence { get; init; }

    /// <summary>The source's wall clock when the copy was taken, Unix milliseconds: for logs only. The age a take-over uses is the standby's own measure (clocks of two servers differ).</summary>
    public long TakenAtUnixMs { get; init; }

    /// <summary>The router's state: every transport that could be copied, with its producers, consumers, data producers and data consumers, and the observers.</summary>
    public required RouterSnapshot Snapshot { get; init; }

    /// <summary>What the copy left out and why (transports not connected yet, of another kind, or moving; consumers of producers left out).</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Of the copy a standby holds and one that arrives, the one to keep: the other router's or the higher <see cref="Sequence"/>.</summary>
    public static RouterCheckpoint Newest(RouterCheckpoint? kept, RouterCheckpoint arrived)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        if (kept is null || kept.Snapshot.RouterId != arrived.Snapshot.RouterId) return arrived;
        return arrived.Sequence > kept.Sequence ? arrived : kept;
    }
}

/// <summary>How a router takes over another's copy (<see cref="Router.TakeOverAsync"/>).</summary>
public sealed record TakeoverOptions
{
    /// <summary>Where every transport taken over listens (UDP only), as for a new transport.</summary>
    public required IReadOnlyList<Transports.TransportListenInfo> ListenInfos { get; init; }

    /// <summary>
    /// How old the copy is: from when the standby received it to now (the standby's own clock). The carry-forward
    /// adds <see cref="TakeoverMargins.Slack"/> for what it cannot see (the copy's transit, the source's last instants).
    /// </summary>
    public required TimeSpan CopyAge { get; init; }

    /// <summary>The margins of the carry-forward (<see cref="TakeoverCarryForward"/>). Default <see cref="TakeoverMargins.Default"/>.</summary>
    public TakeoverMargins Margins { get; init; } = TakeoverMargins.Default;

    /// <summary>
    /// How long after the take-over the incoming SCTP state may still be put in step with the far end
    /// (<see cref="TakeoverCarryForward.ResyncSctpReceive"/>; a channel the far end never sends on in this time stays as the copy had it). Default 30 s.
    /// </summary>
    public TimeSpan SctpResyncWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After a take-over the far end's DATA is held, from the first that arrives, until its retransmission of the lowest
    /// TSN it has outstanding (which tells where the dead source's acknowledgements stopped; <see cref="SctpTakeoverResync"/>),
    /// at most for the time since the death (the far end's timer doubles at each expiry) plus this (its first timeout).
    /// Longer loses fewer of the far end's messages sent around the death; shorter resumes its channels sooner when the
    /// far end's first DATA after the take-over was that retransmission. Default 1 s.
    /// </summary>
    public TimeSpan SctpResyncSettle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>As <see cref="RouterImportOptions.RtpObservers"/>: observers of this router that take the copy's membership.</summary>
    public IReadOnlyDictionary<string, RtpObservers.RtpObserver> RtpObservers { get; init; } = new Dictionary<string, RtpObservers.RtpObserver>();
}

/// <summary>What a take-over returns: per transport what its far end must be told; the observers that took the membership.</summary>
/// <param name="Transports">Per transport, live: ICE parameters (the copy's keep working; these are new, for a far end that restarts ICE) and candidates, each above every candidate the far end had for it. Send both to the far end.</param>
/// <param name="RtpObservers">This router's observers that now watch the producers taken over.</param>
/// <param name="Sequence">The router's checkpoint sequence now continues above this (the copy's).</param>
public sealed record TakeoverResult(IReadOnlyList<TransportImportResult> Transports, IReadOnlyList<RtpObservers.RtpObserver> RtpObservers, long Sequence);
