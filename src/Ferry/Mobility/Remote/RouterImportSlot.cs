using System.Net;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>
/// The target's side of a move of a whole router from another process, before the handover: one relay
/// socket per transport that will come (<see cref="RelayEndPoints"/>; what the source relays waits there,
/// bounded, until the import finished), then <see cref="ImportAsync"/> brings every transport to life from
/// the <see cref="RouterSnapshot"/> and lets them go live together.
/// </summary>
public sealed class RouterImportSlot : IAsyncDisposable
{
    private readonly Router _router;
    private readonly RouterImportOptions _options;
    // One single-transport slot per expected transport: each owns a relay, makes its transport, undoes it.
    private readonly IReadOnlyDictionary<string, TransportImportSlot> _slots;
    private int _used;

    internal RouterImportSlot(Router router, RouterImportOptions options, IReadOnlyDictionary<string, TransportImportSlot> slots)
    {
        _router = router;
        _options = options;
        _slots = slots;
        RelayEndPoints = slots.ToDictionary(e => e.Key, e => e.Value.RelayEndPoint);
    }

    /// <summary>Per transport id, where the source relays it to (<see cref="RouterExportOptions.TargetRelays"/>).</summary>
    public IReadOnlyDictionary<string, IPEndPoint> RelayEndPoints { get; }

    /// <summary>
    /// Makes every transport of <paramref name="snapshot"/> (same ids), then all their producers, then all their
    /// consumers (which read those producers: no pipe is needed), data producers and data consumers; the
    /// observers take their membership; then, in one loop command, every transport goes live and only then gets
    /// what its relay held. Returns, per transport, what its far end needs to move its path here. A failure at any
    /// step leaves nothing behind here: tell the source to <see cref="OutgoingRouterMove.AbortAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown version, a transport no relay was prepared for, a transport with producers to pipe back, an observer that cannot be matched, or a snapshot this router cannot serve.</exception>
    /// <exception cref="InvalidStateException">The slot was used already, or the router closed.</exception>
    public async Task<RouterImportResult> ImportAsync(RouterSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Version != RouterSnapshot.CurrentVersion) throw new ArgumentException($"router snapshot version {snapshot.Version} is not {RouterSnapshot.CurrentVersion}");
        var entries = new List<(TransportImportSlot Slot, WebRtcTransportSnapshot Snapshot, IPEndPoint Source)>(snapshot.Transports.Count);
        foreach (var transport in snapshot.Transports)
        {
            var source = TransportImportSlot.Check(transport);
            if (!_slots.TryGetValue(transport.Id, out var slot)) throw new ArgumentException($"no relay was prepared for transport {transport.Id}");
            // Everything of a router moves with it: nothing stays at the source to be fed back.
            if (transport.PipedBack.Count > 0) throw new ArgumentException($"transport {transport.Id} has producers to pipe back: a router move has none");
            entries.Add((slot, transport, source));
        }
        if (entries.Select(e => e.Snapshot.Id).Distinct().Count() != entries.Count) throw new ArgumentException("a transport appears twice in the snapshot");
        if (Interlocked.Exchange(ref _used, 1) != 0) throw new InvalidStateException("the slot was used already");
        foreach (var entry in entries) entry.Slot.Claim();
        List<RtpObserver> created = [];
        var made = new List<(WebRtcTransport Transport, WebRtcTransportSnapshot Snapshot)>(entries.Count);
        try
        {
            foreach (var (slot, transport, source) in entries) made.Add((await slot.MakeAsync(transport, source, displaced: null).ConfigureAwait(false), transport));
            await TransportImportSlot.ImportObjectsAsync(made).ConfigureAwait(false);
            var observers = await _router.InvokeAsync(() =>
            {
                var (all, madeHere) = _router.ImportRtpObserversOnLoop(snapshot.RtpObservers, _options.RtpObservers);
                created = madeHere;
                // Every transport is connected before any gets its relayed datagrams: a packet one far end sent at the
                // source after the freeze is forwarded to consumers on the others, which must take it as live ones.
                foreach (var (transport, s) in made) transport.ConnectAfterImport(s.Core, s.SctpParameters?.Mis ?? 0);
                foreach (var (transport, _) in made) transport.AttachRelayAfterImport();
                return all;
            }).ConfigureAwait(false);
            await DisposeUnusedAsync().ConfigureAwait(false);
            return new RouterImportResult(made.Select(m => TransportImportSlot.Result(m.Transport)).ToList(), observers);
        }
        catch
        {
            // All fall silent before any goes: closing one closes the data consumers of the others that read it.
            await _router.InvokeAsync(() => { foreach (var (transport, _) in made) transport.SilenceBeforeDiscard(); }).ConfigureAwait(false);
            foreach (var (slot, _, _) in entries) await slot.UndoAsync(displaced: null).ConfigureAwait(false);
            if (created.Count > 0) await _router.InvokeAsync(() => { foreach (var observer in created) observer.CloseOnLoop(byRouter: false); }).ConfigureAwait(false);
            await DisposeUnusedAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Relays of transports the snapshot did not bring (the used ones belong to their transports, made or undone).</summary>
    private async Task DisposeUnusedAsync()
    {
        foreach (var slot in _slots.Values) await slot.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Gives up the slot when it was never used: its relays go.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _used, 1) != 0) return;
        await DisposeUnusedAsync().ConfigureAwait(false);
    }
}
