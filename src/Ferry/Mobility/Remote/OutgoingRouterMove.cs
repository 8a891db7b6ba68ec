namespace Ferry.Mobility.Remote;

/// <summary>
/// The source's side of a move of a whole router to another process, from its one freeze on: every
/// WebRtcTransport of the router was frozen and written out in the same loop command (so no packet of one
/// reached a consumer of another in between), and each relays its far end to the target on its own relay
/// (<see cref="Transports"/>), ending on its own once its far end's path moved. Give <see cref="Snapshot"/>
/// to the target's <see cref="RouterImportSlot.ImportAsync"/>, then <see cref="CommitAsync"/>, or
/// <see cref="AbortAsync"/> if the import failed.
/// </summary>
public sealed class OutgoingRouterMove
{
    private readonly Router _router;
    private readonly IReadOnlyList<Transports.WebRtcTransport> _transports;
    private readonly IReadOnlyList<OutgoingTransportMove> _moves;
    private int _decided;

    internal OutgoingRouterMove(Router router, RouterSnapshot snapshot, IReadOnlyList<Transports.WebRtcTransport> transports, IReadOnlyList<OutgoingTransportMove> moves, long frozenAt)
    {
        _router = router;
        _transports = transports;
        _moves = moves;
        Snapshot = snapshot;
        FrozenAtTimestamp = frozenAt;
        Completed = Task.WhenAll(moves.Select(m => m.Completed));
    }

    /// <summary>The router at the freeze: give it to <see cref="RouterImportSlot.ImportAsync"/> (as data: <see cref="SnapshotJson.Serialize(RouterSnapshot)"/>).</summary>
    public RouterSnapshot Snapshot { get; }

    /// <summary>Each transport's own move (its relay and counters), in the snapshot's order.</summary>
    public IReadOnlyList<OutgoingTransportMove> Transports => _moves;

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the freeze.</summary>
    public long FrozenAtTimestamp { get; }

    /// <summary>Completes when every transport's relay ended (each far end's path moved and its grace period passed, or its transport closed); faults if the move was aborted.</summary>
    public Task<OutgoingMoveResult[]> Completed { get; }

    /// <summary>
    /// The target imported the router: the datagrams kept for an abort are let go, and each relay runs until its far end
    /// moved. Call it before the far ends are told to move (a relay that ends first closes its transport here).
    /// </summary>
    /// <exception cref="InvalidStateException">Aborted already.</exception>
    public async Task CommitAsync()
    {
        if (Interlocked.CompareExchange(ref _decided, 1, 0) == 2) throw new InvalidStateException("the router move was aborted");
        foreach (var move in _moves) await move.CommitAsync().ConfigureAwait(false);
        await _router.InvokeAsync(() => Unlink(_transports)).ConfigureAwait(false);
    }

    /// <summary>
    /// The frozen copies here never come back: the consumers and data consumers of each stop following the producers of
    /// the others, so a transport that closes when its relay ends does not close them with producer-close events (an
    /// application would take those for the moved objects', which have the same ids). Each still closes, with the usual
    /// transport-close events, when its own relay ends. On the loop.
    /// </summary>
    private static void Unlink(IReadOnlyList<Transports.WebRtcTransport> transports)
    {
        foreach (var transport in transports)
        {
            foreach (var consumer in transport.Consumers)
                if (consumer.Producer is { } producer && producer.Transport != transport) producer.RemoveConsumer(consumer);
            foreach (var dataConsumer in transport.DataConsumers)
                if (dataConsumer.Producer is { } dataProducer && dataProducer.Transport != transport) dataProducer.RemoveConsumer(dataConsumer);
        }
    }

    /// <summary>
    /// The target could not import: every transport comes back to life here, as an aborted transport move does,
    /// in one loop command; only then does each get what its far end sent since the freeze, in order (a packet
    /// of one far end is forwarded to consumers on the others, which must be live to take it).
    /// </summary>
    /// <exception cref="InvalidStateException">Committed already.</exception>
    public Task AbortAsync()
    {
        var was = Interlocked.CompareExchange(ref _decided, 2, 0);
        if (was == 1) throw new InvalidStateException("the router move was committed");
        if (was == 2) return Task.CompletedTask;
        return _router.InvokeAsync(() => AbortOnLoop(_moves));
    }

    /// <summary>Brings every transport of <paramref name="moves"/> back to life, then replays what each relayed; on the router's loop.</summary>
    internal static void AbortOnLoop(IReadOnlyList<OutgoingTransportMove> moves)
    {
        var replays = new List<Action>(moves.Count);
        // A transport closed meanwhile has ended its relay: nothing of it to revive.
        foreach (var move in moves)
            if (!move.Completed.IsCompleted) replays.Add(move.AbortOnLoop());
        foreach (var replay in replays) replay();
    }
}
