using Ferry.Loop;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry;

/// <summary>
/// A whole router moving to a router in another process in one freeze (what draining a server moves a room
/// with): every WebRtcTransport goes by the single-transport move (its snapshot, its relay, its path switch),
/// but all are frozen in one loop command and brought to life together, so consumers on the target read the
/// producers imported with them and no pipe between the processes is needed.
/// </summary>
public sealed partial class Router
{
    /// <summary>What moving this router to another process involves (the transports to prepare relays for) and what prevents it now.</summary>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<RouterMovePlan> GetRouterMovePlanAsync()
    {
        ThrowIfClosed();
        return InvokeAsync(() => new RouterMovePlan(_transports.Keys.Order(StringComparer.Ordinal).ToList(), RouterMoveObstacles()));
    }

    /// <summary>
    /// Hands this whole router over to another process (whose router prepared a <see cref="RouterImportSlot"/> for
    /// the transports of <see cref="GetRouterMovePlanAsync"/>). In one loop command every WebRtcTransport is
    /// frozen and written out with its producers, consumers, data producers and data consumers, and the observers'
    /// membership with them; from then on each transport's far end is relayed to the target on its own relay. Give
    /// <see cref="OutgoingRouterMove.Snapshot"/> to <see cref="RouterImportSlot.ImportAsync"/>, then
    /// <see cref="OutgoingRouterMove.CommitAsync"/>, or <see cref="OutgoingRouterMove.AbortAsync"/> if it failed (every
    /// transport lives on here). The router itself stays, with its observers, until the application closes it.
    /// </summary>
    /// <exception cref="ArgumentException">A relay address missing.</exception>
    /// <exception cref="InvalidStateException">Closed, or the router cannot move now (<see cref="RouterMovePlan.Obstacles"/>), or the relays given do not name exactly its transports.</exception>
    public Task<OutgoingRouterMove> ExportForMoveAsync(RouterExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.TargetRelays);
        if (options.TargetRelays.Values.Any(r => r is null)) throw new ArgumentException("targetRelays has a transport without a relay address");
        ThrowIfClosed();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var obstacles = RouterMoveObstacles();
            if (obstacles.Count > 0) throw new InvalidStateException($"the router cannot move now: {string.Join("; ", obstacles)}");
            var transports = _transports.Values.Cast<WebRtcTransport>().OrderBy(t => t.Id, StringComparer.Ordinal).ToList();
            var unnamed = transports.Where(t => !options.TargetRelays.ContainsKey(t.Id)).Select(t => t.Id).ToList();
            var gone = options.TargetRelays.Keys.Where(id => !_transports.ContainsKey(id)).ToList();
            if (unnamed.Count > 0 || gone.Count > 0)
                throw new InvalidStateException($"the target's relays do not match the router's transports (no relay for: {string.Join(", ", unnamed)}; no transport for: {string.Join(", ", gone)}): plan again");
            // From here to the return the loop handles nothing else: this is the one instant the whole router stops being live here.
            var frozenAt = System.Diagnostics.Stopwatch.GetTimestamp();
            var moves = new List<OutgoingTransportMove>(transports.Count);
            try
            {
                foreach (var transport in transports)
                {
                    moves.Add(transport.FreezeForMove(new TransportExportOptions
                    {
                        TargetRelay = options.TargetRelays[transport.Id],
                        RelayGracePeriod = options.RelayGracePeriod,
                        AbortReplayCapacity = options.AbortReplayCapacity,
                    }, frozenAt));
                }
            }
            catch
            {
                // Those frozen already come back to life (nothing reached their relays: this is still the same command).
                OutgoingRouterMove.AbortOnLoop(moves);
                throw;
            }
            var snapshot = new RouterSnapshot { RouterId = Id, Transports = moves.Select(m => m.Snapshot).ToList(), RtpObservers = ExportRtpObservers() };
            return new OutgoingRouterMove(this, snapshot, transports, moves, frozenAt);
        });
    }

    /// <summary>
    /// Prepares this router to receive a whole router from another process: binds one relay socket per transport
    /// named (<see cref="RouterMovePlan.TransportIds"/> of the source). Give <see cref="RouterImportSlot.RelayEndPoints"/>
    /// to the source's <see cref="ExportForMoveAsync(RouterExportOptions)"/>, and its snapshot to <see cref="RouterImportSlot.ImportAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public async Task<RouterImportSlot> PrepareRouterImportAsync(RouterImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.TransportIds);
        if (options.TransportIds.Distinct().Count() != options.TransportIds.Count) throw new ArgumentException("transportIds names a transport twice");
        if (options.ListenInfos is not { Count: > 0 }) throw new ArgumentException("listenInfos is required");
        var transportOptions = new TransportImportOptions
        {
            ListenInfos = options.ListenInfos,
            RelayListenIp = options.RelayListenIp,
            RelayGracePeriod = options.RelayGracePeriod,
            PendingCapacity = options.PendingCapacity,
            PathSwitchHoldTime = options.PathSwitchHoldTime,
            PathSwitchHoldCapacity = options.PathSwitchHoldCapacity,
        };
        var slots = new Dictionary<string, TransportImportSlot>(options.TransportIds.Count);
        try
        {
            foreach (var id in options.TransportIds) slots[id] = await PrepareTransportImportAsync(transportOptions).ConfigureAwait(false);
        }
        catch
        {
            foreach (var slot in slots.Values) await slot.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new RouterImportSlot(this, options, slots);
    }

    /// <summary>Why an export of this router now would be refused; on the loop.</summary>
    private List<string> RouterMoveObstacles()
    {
        var obstacles = new List<string>();
        foreach (var transport in _transports.Values)
        {
            if (transport is not WebRtcTransport webRtc) obstacles.Add($"transport {transport.Id} is a {transport.GetType().Name}: only WebRtcTransports move with a router");
            else if (webRtc.RemoteMoveObstacle() is { } why) obstacles.Add($"transport {transport.Id}: {why}");
        }
        // What a router move carries is what its transports hold: feeds to or from other routers of this process would be cut.
        foreach (var producer in _producers.Values)
        {
            if (producer.Transport is Mobility.LocalPipeTransport) obstacles.Add($"producer {producer.Id} is piped in from another router of this process");
            else if (!producer.Replicas.IsEmpty) obstacles.Add($"producer {producer.Id} is piped to another router of this process");
        }
        foreach (var dataProducer in _dataProducers.Values)
        {
            if (dataProducer.Transport.Router != this) obstacles.Add($"data producer {dataProducer.Id} of another router is consumed here");
            else if (dataProducer.ImportedInto.Count > 0) obstacles.Add($"data producer {dataProducer.Id} is consumed in another router of this process");
        }
        return obstacles;
    }

    /// <summary>The observers' settings and membership; on the loop.</summary>
    private List<RtpObserverSnapshot> ExportRtpObservers() => _rtpObservers.Values.Where(o => !o.Closed).OrderBy(o => o.Id, StringComparer.Ordinal).Select(o => o switch
    {
        AudioLevelObserver level => new RtpObserverSnapshot
        {
            Id = o.Id, Type = RtpObserverSnapshot.AudioLevelType, Paused = o.Paused, IntervalMs = (int)level.Interval.TotalMilliseconds,
            MaxEntries = level.MaxEntries, Threshold = level.Threshold, ProducerIds = o.Producers.Select(p => p.Id).ToList(),
        },
        ActiveSpeakerObserver speaker => new RtpObserverSnapshot
        {
            Id = o.Id, Type = RtpObserverSnapshot.ActiveSpeakerType, Paused = o.Paused, IntervalMs = (int)speaker.Interval.TotalMilliseconds,
            ProducerIds = o.Producers.Select(p => p.Id).ToList(),
        },
        _ => throw new InvalidOperationException($"observer {o.Id} is a {o.GetType().Name}, which has no snapshot"),
    }).ToList();

    /// <summary>
    /// The snapshot's observers take their membership here (imported producers join them), each in the observer
    /// <paramref name="given"/> for its id, else this router's observer with its id, else a new one of its type,
    /// settings and id. Everything is checked before anything changes. Returns the observers in the snapshot's order
    /// and those this call made (for an undo). On the loop.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown type, bad settings, an observer of another type or router, or a producer that was not imported.</exception>
    internal (List<RtpObserver> All, List<RtpObserver> Created) ImportRtpObserversOnLoop(IReadOnlyList<RtpObserverSnapshot> snapshots, IReadOnlyDictionary<string, RtpObserver> given)
    {
        Loop.AssertOnLoop();
        var plan = new List<(RtpObserverSnapshot Snapshot, RtpObserver? Existing, List<Rtp.Producer> Producers)>(snapshots.Count);
        foreach (var s in snapshots)
        {
            var existing = given.TryGetValue(s.Id, out var named) ? named : _rtpObservers.GetValueOrDefault(s.Id);
            var type = existing switch
            {
                null => s.Type,
                AudioLevelObserver => RtpObserverSnapshot.AudioLevelType,
                _ => RtpObserverSnapshot.ActiveSpeakerType,
            };
            if (s.Type is not (RtpObserverSnapshot.AudioLevelType or RtpObserverSnapshot.ActiveSpeakerType)) throw new ArgumentException($"observer {s.Id}: unknown type \"{s.Type}\"");
            if (type != s.Type) throw new ArgumentException($"observer {s.Id} is {s.Type}, the one here for it {type}");
            if (existing is { } e && (e.Router != this || e.Closed)) throw new ArgumentException($"the observer given for {s.Id} is not an open observer of this router");
            if (existing is null && s.Type == RtpObserverSnapshot.AudioLevelType) AudioLevelSettings(s).Validate();
            var producers = new List<Rtp.Producer>(s.ProducerIds.Count);
            foreach (var id in s.ProducerIds)
            {
                if (!TryGetProducer(id, out var producer) || producer.Kind != MediaKind.Audio) throw new ArgumentException($"observer {s.Id} watches producer {id}, which is not an imported audio producer");
                producers.Add(producer);
            }
            plan.Add((s, existing, producers));
        }
        var all = new List<RtpObserver>(plan.Count);
        var created = new List<RtpObserver>();
        foreach (var (s, existing, producers) in plan)
        {
            var observer = existing ?? MakeRtpObserver(s);
            if (existing is null) created.Add(observer);
            foreach (var producer in producers) observer.AddImportedProducer(producer);
            all.Add(observer);
        }
        return (all, created);
    }

    private RtpObserver MakeRtpObserver(RtpObserverSnapshot s)
    {
        RtpObserver observer = s.Type == RtpObserverSnapshot.AudioLevelType
            ? new AudioLevelObserver(this, AudioLevelSettings(s), s.Id)
            : new ActiveSpeakerObserver(this, new ActiveSpeakerObserverOptions { Interval = s.IntervalMs }, s.Id);
        if (s.Paused) observer.PauseOnLoop();
        AddRtpObserver(observer);
        return observer;
    }

    private static AudioLevelObserverOptions AudioLevelSettings(RtpObserverSnapshot s) =>
        new() { MaxEntries = s.MaxEntries, Threshold = s.Threshold, Interval = s.IntervalMs };
}
