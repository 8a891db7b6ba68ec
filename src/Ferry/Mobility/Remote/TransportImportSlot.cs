using System.Net;
using Ferry.Loop;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>
/// The target's side of a move of a <see cref="WebRtcTransport"/> from another process, before the
/// handover: a relay socket the source sends the far end's datagrams to from the instant it freezes
/// (they wait here, bounded, until the import finished), then <see cref="ImportAsync"/> brings the
/// transport to life from the source's snapshot.
/// </summary>
public sealed class TransportImportSlot : IAsyncDisposable
{
    private readonly Router _router;
    private readonly TransportImportOptions _options;
    private readonly RelayLink _relay;
    private readonly IReadOnlyList<Rtp.Producer> _held;
    private int _used;
    private int _released;
    private WebRtcTransport? _made;

    internal TransportImportSlot(Router router, TransportImportOptions options, RelayLink relay, IReadOnlyList<Rtp.Producer> held)
    {
        _router = router;
        _options = options;
        _relay = relay;
        _held = held;
        RelayEndPoint = relay.LocalEndPoint;
    }

    /// <summary>Where the source relays to (<see cref="TransportExportOptions.TargetRelay"/>).</summary>
    public IPEndPoint RelayEndPoint { get; }

    /// <summary>
    /// Makes the transport from <paramref name="snapshot"/> with the same id, then its producers, consumers,
    /// data producers and data consumers (the producers the consumers read must be in this router already,
    /// e.g. piped from the source, or be among the snapshot's own producers), then lets through what the
    /// relay held. Returns what the far end needs to move its path here. A failure leaves nothing behind:
    /// tell the source to abort.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown snapshot version, or listen infos that cannot serve it.</exception>
    /// <exception cref="InvalidStateException">The slot was used already, or the router closed.</exception>
    public async Task<TransportImportResult> ImportAsync(WebRtcTransportSnapshot snapshot)
    {
        var source = Check(snapshot);
        Claim();
        // Piped copies of the snapshot's producers in this router (fed from the source until now): the originals take over from them.
        var displaced = new Dictionary<string, Rtp.Producer>();
        try
        {
            var transport = await MakeAsync(snapshot, source, displaced).ConfigureAwait(false);
            await ImportObjectsAsync([(transport, snapshot)]).ConfigureAwait(false);
            await _router.InvokeAsync(() =>
            {
                TakeOver(displaced);
                PipeBack(snapshot);
                transport.ConnectAfterImport(snapshot.Core, snapshot.SctpParameters?.Mis ?? 0);
                transport.AttachRelayAfterImport();
                ReleaseHolds();
            }).ConfigureAwait(false);
            return Result(transport);
        }
        catch
        {
            await UndoAsync(displaced).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Takes the slot for one import (its relay then belongs to the import: <see cref="DisposeAsync"/> leaves it).</summary>
    /// <exception cref="InvalidStateException">Used already.</exception>
    internal void Claim()
    {
        if (Interlocked.Exchange(ref _used, 1) != 0) throw new InvalidStateException("the slot was used already");
    }

    /// <summary>What the far end of <paramref name="transport"/> must be told.</summary>
    internal static TransportImportResult Result(WebRtcTransport transport) => new(transport, transport.IceParameters, transport.IceCandidates);

    /// <summary>The checks that need no loop; returns the source's relay address.</summary>
    /// <exception cref="ArgumentException">An unknown version or an invalid source relay.</exception>
    internal static IPEndPoint Check(WebRtcTransportSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Version != WebRtcTransportSnapshot.CurrentVersion) throw new ArgumentException($"snapshot version {snapshot.Version} is not {WebRtcTransportSnapshot.CurrentVersion}");
        if (!IPEndPoint.TryParse(snapshot.SourceRelay, out var source)) throw new ArgumentException($"invalid source relay '{snapshot.SourceRelay}'");
        return source;
    }

    /// <summary>
    /// Makes the transport (not yet live: nothing relayed reaches it) with this slot's relay. With
    /// <paramref name="displaced"/>, piped copies of its producers here leave the router's map for the originals
    /// (collected there); without, such a producer makes the import of the original fail.
    /// </summary>
    internal Task<WebRtcTransport> MakeAsync(WebRtcTransportSnapshot snapshot, IPEndPoint source, Dictionary<string, Rtp.Producer>? displaced) => _router.InvokeAsync(() =>
    {
        if (_router.Closed) throw new InvalidStateException("router closed");
        if (_router.Transports.Any(t => t.Id == snapshot.Id)) throw new InvalidStateException($"a transport with id {snapshot.Id} already exists in this router");
        if (snapshot.PipedBack.Count > 0 && (_options.PipeBack is not { Closed: false } pipe || pipe.Router != _router))
            throw new ArgumentException("the snapshot has producers to pipe back: pipeBack must be an open PipeTransport of this router");
        _relay.Expect(snapshot.MoveToken, source);
        var made = WebRtcTransport.CreateImported(_router, snapshot, _options, _relay);
        _router.AddImportedTransport(made);
        _made = made;
        if (displaced is null) return made;
        foreach (var p in snapshot.Producers)
        {
            if (!_router.TryGetProducer(p.Id, out var copy)) continue;
            _router.RemoveProducer(copy);
            displaced[p.Id] = copy;
        }
        return made;
    });

    /// <summary>
    /// Imports the producers, consumers, data producers and data consumers of every transport of <paramref name="set"/>
    /// (made by <see cref="MakeAsync"/>): all producers before any consumer, all data producers before any data
    /// consumer, so a consumer may read a producer of another transport of the set.
    /// </summary>
    internal static async Task ImportObjectsAsync(IReadOnlyList<(WebRtcTransport Transport, WebRtcTransportSnapshot Snapshot)> set)
    {
        foreach (var (transport, snapshot) in set)
            foreach (var producer in snapshot.Producers) await transport.ImportProducerAsync(producer).ConfigureAwait(false);
        foreach (var (transport, snapshot) in set)
            foreach (var consumer in snapshot.Consumers) await transport.ImportConsumerAsync(consumer).ConfigureAwait(false);
        foreach (var (transport, snapshot) in set)
            foreach (var dataProducer in snapshot.DataProducers) await transport.ImportDataProducerAsync(dataProducer).ConfigureAwait(false);
        foreach (var (transport, snapshot) in set)
            foreach (var dataConsumer in snapshot.DataConsumers) await transport.ImportDataConsumerAsync(dataConsumer).ConfigureAwait(false);
    }

    /// <summary>The import failed: the transport made (or else the relay) goes without a word, displaced copies carry on, holds end.</summary>
    internal Task UndoAsync(Dictionary<string, Rtp.Producer>? displaced) => _router.InvokeAsync(() =>
    {
        if (_made is { } made) made.DiscardImported();
        else _relay.Dispose();
        // The piped copies carry on as before.
        if (displaced is not null)
        {
            foreach (var copy in displaced.Values)
                if (!copy.Closed && !_router.TryGetProducer(copy.Id, out _)) _router.AddProducer(copy);
        }
        ReleaseHolds();
    });

    /// <summary>The imported originals take the consumers and observers of their piped copies here; the copies go.</summary>
    private void TakeOver(Dictionary<string, Rtp.Producer> displaced)
    {
        foreach (var (id, copy) in displaced)
        {
            if (!_router.TryGetProducer(id, out var original)) continue;
            foreach (var consumer in copy.Consumers.ToList())
            {
                copy.RemoveConsumer(consumer);
                original.AddConsumer(consumer);
                consumer.SwitchSource(original);
            }
            foreach (var observer in copy.Observers.ToArray()) observer.SwapProducer(copy, original);
            copy.Transport.CloseProducerOnLoop(copy, byTransport: false);
        }
    }

    /// <summary>The producers consumers at the source still read go back there on the pipe, with the SSRCs its copies expect.</summary>
    private void PipeBack(WebRtcTransportSnapshot snapshot)
    {
        if (_options.PipeBack is not { } pipe) return;
        foreach (var back in snapshot.PipedBack)
        {
            if (!_router.TryGetProducer(back.ProducerId, out var producer)) throw new InvalidStateException($"producer {back.ProducerId} to pipe back was not imported");
            var parameters = Ortc.RtpParametersNegotiation.GetPipeConsumerParameters(producer.ConsumableRtpParameters, pipe.EnableRtx, back.SsrcBase, back.RtxSsrcBase);
            pipe.AddConsumerOnLoop(producer, new Rtp.ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities }, parameters, Protocols.Ortc.ConsumerType.Pipe);
        }
    }

    private void ReleaseHolds()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        foreach (var producer in _held) producer.ReleaseMoveHold();
    }

    /// <summary>Gives up the slot when it was never used (a used slot's relay belongs to its transport).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _used, 1) != 0) return;
        await _router.InvokeAsync(() =>
        {
            _relay.Dispose();
            ReleaseHolds();
        }).ConfigureAwait(false);
    }
}
