using Ferry.Mobility.Remote;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Ortc;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry;

/// <summary>
/// Failover without the cluster: a router's copy taken while it runs (<see cref="CheckpointAsync"/>), sent to a standby as
/// often as wanted, and the standby's router bringing the newest copy to life after the source's process died
/// (<see cref="TakeOverAsync"/>): no source, no relay, no path-switch hold; numbers the dead source may have used after
/// the copy are jumped over (<see cref="TakeoverCarryForward"/>).
/// </summary>
public sealed partial class Router
{
    // The last checkpoint sequence given out or taken over (written on the loop only).
    private long _checkpointSequence;

    /// <summary>
    /// A copy of this router for a standby, taken in one loop command while it keeps running: every WebRtcTransport that
    /// could be moved between processes (connected, its own UDP sockets, not moving) with its ICE, DTLS, SRTP and SCTP
    /// state, its producers, consumers, data producers and data consumers, and the observers' membership. Consumers and
    /// data consumers of producers not in the copy (on a transport left out, or piped in) are left out, and listed in
    /// <see cref="RouterCheckpoint.Skipped"/> with the transports left out. Each copy has a higher
    /// <see cref="RouterCheckpoint.Sequence"/> than the last.
    /// </summary>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<RouterCheckpoint> CheckpointAsync()
    {
        ThrowIfClosed();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var now = Loop.Now;
            var skipped = new List<string>();
            var transports = new List<WebRtcTransportSnapshot>(_transports.Count);
            foreach (var transport in _transports.Values.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                if (transport is not WebRtcTransport webRtc)
                {
                    skipped.Add($"transport {transport.Id} is a {transport.GetType().Name}: only WebRtcTransports are copied");
                    continue;
                }
                if (webRtc.CheckpointOnLoop(now, out var why) is { } copy) transports.Add(copy);
                else skipped.Add($"transport {transport.Id}: {why}");
            }
            var producers = transports.SelectMany(t => t.Producers).Select(p => p.Id).ToHashSet();
            var dataProducers = transports.SelectMany(t => t.DataProducers).Select(p => p.Id).ToHashSet();
            for (var i = 0; i < transports.Count; i++)
            {
                var t = transports[i];
                var orphans = t.Consumers.Where(c => !producers.Contains(c.ProducerId)).ToList();
                var dataOrphans = t.DataConsumers.Where(c => !dataProducers.Contains(c.DataProducerId)).ToList();
                if (orphans.Count + dataOrphans.Count == 0) continue;
                foreach (var c in orphans) skipped.Add($"consumer {c.Id}: its producer {c.ProducerId} is not in the copy");
                foreach (var c in dataOrphans) skipped.Add($"data consumer {c.Id}: its data producer {c.DataProducerId} is not in the copy");
                transports[i] = t with { Consumers = t.Consumers.Except(orphans).ToList(), DataConsumers = t.DataConsumers.Except(dataOrphans).ToList() };
            }
            var observers = ExportRtpObservers().Select(o => o with { ProducerIds = o.ProducerIds.Where(producers.Contains).ToList() }).ToList();
            return new RouterCheckpoint
            {
                Sequence = ++_checkpointSequence,
                TakenAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                Snapshot = new RouterSnapshot { RouterId = Id, Transports = transports, RtpObservers = observers },
                Skipped = skipped,
            };
        });
    }

    /// <summary>
    /// Brings another process's router to life here from its newest copy, after that process died: the copy is carried
    /// forward by <see cref="TakeoverOptions.CopyAge"/> (<see cref="TakeoverCarryForward.Apply(RouterSnapshot, TimeSpan, TakeoverMargins?)"/>),
    /// then every transport is made with its id (ICE keeps the copy's credentials, so the far end's checks with them pass,
    /// and adds new ones for a far end that restarts ICE; DTLS goes on, never renegotiated) on new sockets that reach the
    /// far end's known address at once, with its producers, consumers, data producers and data consumers; the observers take
    /// their membership; then all go live in one loop command, and every producer asks its far end for a key frame (the
    /// consumers wait for one: they restart from it). Nothing waits for a relay or a path switch. Returns per transport
    /// what its far end must be told. A failure at any step leaves nothing behind here.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown version, bad options, a copy too old to carry forward, or a copy this router cannot serve.</exception>
    /// <exception cref="InvalidStateException">The router is closed, or already has a transport of the copy.</exception>
    public async Task<TakeoverResult> TakeOverAsync(RouterCheckpoint checkpoint, TakeoverOptions options)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(options);
        if (checkpoint.Version != RouterCheckpoint.CurrentVersion) throw new ArgumentException($"checkpoint version {checkpoint.Version} is not {RouterCheckpoint.CurrentVersion}");
        if (checkpoint.Snapshot is null) throw new ArgumentException("the checkpoint has no snapshot");
        if (checkpoint.Snapshot.Version != RouterSnapshot.CurrentVersion) throw new ArgumentException($"router snapshot version {checkpoint.Snapshot.Version} is not {RouterSnapshot.CurrentVersion}");
        if (options.ListenInfos is not { Count: > 0 }) throw new ArgumentException("listenInfos is required");
        if (options.Margins is null) throw new ArgumentException("margins must not be null");
        foreach (var t in checkpoint.Snapshot.Transports)
        {
            if (t.Version != WebRtcTransportSnapshot.CurrentVersion) throw new ArgumentException($"transport {t.Id}: snapshot version {t.Version} is not {WebRtcTransportSnapshot.CurrentVersion}");
            if (t.PipedBack.Count > 0) throw new ArgumentException($"transport {t.Id} has producers to pipe back: a checkpoint has none");
        }
        if (checkpoint.Snapshot.Transports.Select(t => t.Id).Distinct().Count() != checkpoint.Snapshot.Transports.Count) throw new ArgumentException("a transport appears twice in the checkpoint");
        ThrowIfClosed();
        var carried = TakeoverCarryForward.Apply(checkpoint.Snapshot, options.CopyAge, options.Margins);
        var made = new List<(WebRtcTransport Transport, WebRtcTransportSnapshot Snapshot)>(carried.Transports.Count);
        List<RtpObserver> created = [];
        try
        {
            foreach (var copy in carried.Transports)
            {
                var (ufrag, password) = IceLiteAgent.GenerateCredentials();
                var snapshot = copy with { NextIceParameters = new IceParameters { UsernameFragment = ufrag, Password = password, IceLite = true } };
                made.Add((await InvokeAsync(() =>
                {
                    ThrowIfClosed();
                    if (_transports.ContainsKey(snapshot.Id)) throw new InvalidStateException($"a transport with id {snapshot.Id} already exists in this router");
                    var transport = WebRtcTransport.CreateTakenOver(this, snapshot, options.ListenInfos, options.CopyAge, options.SctpResyncWindow, options.SctpResyncSettle);
                    AddImportedTransport(transport);
                    return transport;
                }).ConfigureAwait(false), snapshot));
            }
            await TransportImportSlot.ImportObjectsAsync(made).ConfigureAwait(false);
            var observers = await InvokeAsync(() =>
            {
                var (all, madeHere) = ImportRtpObserversOnLoop(carried.RtpObservers, options.RtpObservers);
                created = madeHere;
                foreach (var (transport, s) in made) transport.ConnectAfterTakeover(s.Core, s.SctpParameters?.Mis ?? 0);
                _checkpointSequence = Math.Max(_checkpointSequence, checkpoint.Sequence);
                return all;
            }).ConfigureAwait(false);
            return new TakeoverResult(made.Select(m => TransportImportSlot.Result(m.Transport)).ToList(), observers, checkpoint.Sequence);
        }
        catch
        {
            await InvokeAsync(() =>
            {
                foreach (var (transport, _) in made) transport.SilenceBeforeDiscard();
                foreach (var (transport, _) in made) transport.DiscardImported();
                foreach (var observer in created) observer.CloseOnLoop(byRouter: false);
            }).ConfigureAwait(false);
            throw;
        }
    }
}
