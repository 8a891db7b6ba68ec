using Ferry.Loop;
using Ferry.Rtp;
using Microsoft.Extensions.Logging;

namespace Ferry.RtpObservers;

/// <summary>
/// What mediasoup's RtpObservers share: a set of audio producers of one router whose RTP the
/// observer watches, pause/resume and close. Lives on its router's loop; the async methods post there
/// and every event is raised on the loop thread.
/// </summary>
public abstract class RtpObserver
{
    // Touched only on the loop: producers add and remove themselves through the loop.
    private readonly List<Producer> _producers = [];
    private volatile bool _paused;
    private volatile bool _closed;

    // An observer made by a router move between processes keeps the id it had at the source.
    private protected RtpObserver(Router router, object? appData, string? id)
    {
        Router = router;
        Id = id ?? Guid.NewGuid().ToString();
        AppData = appData;
        Logger = router.Worker.LoggerFactory.CreateLogger(GetType());
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }

    /// <summary>The router it belongs to.</summary>
    public Router Router { get; }

    /// <summary>True while paused: packets are ignored and no event is raised.</summary>
    public bool Paused => _paused;

    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Application data.</summary>
    public object? AppData { get; set; }

    /// <summary>Raised when the observer closes because its router closed.</summary>
    public event Action? RouterClose;
    /// <summary>Raised when the observer closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised when it pauses (not when already paused).</summary>
    public event Action? ObserverPause;
    /// <summary>Raised when it resumes (not when already running).</summary>
    public event Action? ObserverResume;
    /// <summary>Raised when a producer is added by <see cref="AddProducerAsync"/>.</summary>
    public event Action<Producer>? ObserverAddProducer;
    /// <summary>Raised when a producer is removed by <see cref="RemoveProducerAsync"/> (not when the producer closes).</summary>
    public event Action<Producer>? ObserverRemoveProducer;

    internal EventLoop Loop => Router.Loop;
    internal ILogger Logger { get; }

    /// <summary>The producers it watches; read on the loop.</summary>
    internal IReadOnlyList<Producer> Producers => _producers;

    /// <summary>Stops watching: no event until resumed. Pausing a paused observer does nothing.</summary>
    /// <exception cref="InvalidStateException">The observer is closed.</exception>
    public Task PauseAsync()
    {
        ThrowIfClosed();
        return Router.InvokeAsync(() =>
        {
            ThrowIfClosed();
            PauseOnLoop();
        });
    }

    /// <summary>Pauses on the router's loop (no-op when paused).</summary>
    internal void PauseOnLoop()
    {
        if (_paused) return;
        _paused = true;
        OnPaused();
        Events.Emit(ObserverPause, Logger);
    }

    /// <summary>Watches again. Resuming a running observer does nothing.</summary>
    /// <exception cref="InvalidStateException">The observer is closed.</exception>
    public Task ResumeAsync()
    {
        ThrowIfClosed();
        return Router.InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!_paused) return;
            _paused = false;
            OnResumed();
            Events.Emit(ObserverResume, Logger);
        });
    }

    /// <summary>Closes the observer; nothing else is affected. Closing twice is a no-op.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : Router.InvokeAsync(() => CloseOnLoop(byRouter: false));

    /// <summary>Starts watching an audio producer of the router.</summary>
    /// <exception cref="ArgumentException">Missing producerId, or the producer is not audio (mediasoup's TypeError).</exception>
    /// <exception cref="InvalidOperationException">No such producer in the router, or already added.</exception>
    /// <exception cref="InvalidStateException">The observer is closed.</exception>
    public Task AddProducerAsync(RtpObserverAddRemoveProducerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfClosed();
        if (string.IsNullOrEmpty(options.ProducerId)) throw new ArgumentException("missing producerId");
        return Router.InvokeAsync(() =>
        {
            ThrowIfClosed();
            var producer = FindProducer(options.ProducerId);
            if (producer.Kind != Protocols.Ortc.MediaKind.Audio) throw new ArgumentException("not an audio Producer");
            if (_producers.Contains(producer)) throw new InvalidOperationException("Producer already in map");
            Watch(producer);
            Events.Emit(ObserverAddProducer, producer, Logger);
        });
    }

    /// <summary>
    /// A producer brought in by a router move between processes joins, as it was a member at the source (on the
    /// loop; no event: the membership is not new to the application). Already watched: nothing changes.
    /// </summary>
    internal void AddImportedProducer(Producer producer)
    {
        if (!_producers.Contains(producer)) Watch(producer);
    }

    private void Watch(Producer producer)
    {
        _producers.Add(producer);
        producer.AddObserver(this);
        OnProducerAdded(producer);
    }

    /// <summary>Stops watching a producer. A producer of the router that is not watched is ignored.</summary>
    /// <exception cref="ArgumentException">Missing producerId.</exception>
    /// <exception cref="InvalidOperationException">No such producer in the router.</exception>
    /// <exception cref="InvalidStateException">The observer is closed.</exception>
    public Task RemoveProducerAsync(RtpObserverAddRemoveProducerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfClosed();
        if (string.IsNullOrEmpty(options.ProducerId)) throw new ArgumentException("missing producerId");
        return Router.InvokeAsync(() =>
        {
            ThrowIfClosed();
            var producer = FindProducer(options.ProducerId);
            // mediasoup emits removeproducer whatever; an event for a producer never added would only mislead.
            if (!Detach(producer)) return;
            Events.Emit(ObserverRemoveProducer, producer, Logger);
        });
    }

    private Producer FindProducer(string id)
    {
        if (!Router.TryGetProducer(id, out var producer) || producer.Closed)
            throw new InvalidOperationException($"Producer with id \"{id}\" not found");
        return producer;
    }

    private bool Detach(Producer producer)
    {
        if (!_producers.Remove(producer)) return false;
        producer.RemoveObserver(this);
        OnProducerRemoved(producer);
        return true;
    }

    /// <summary>
    /// The producer moved to another router and <paramref name="replacement"/> (its copy that stays in
    /// this observer's router) takes its place, with its accumulated state. Call on this router's loop.
    /// </summary>
    internal void SwapProducer(Producer producer, Producer replacement)
    {
        var index = _producers.IndexOf(producer);
        if (index < 0) return;
        _producers[index] = replacement;
        producer.RemoveObserver(this);
        replacement.AddObserver(this);
        OnProducerSwapped(producer, replacement);
    }

    private protected abstract void OnProducerSwapped(Producer producer, Producer replacement);

    /// <summary>The producer closed: it leaves silently, as in mediasoup (no removeproducer event).</summary>
    internal void ProducerClosed(Producer producer)
    {
        if (_producers.Remove(producer)) OnProducerRemoved(producer);
    }

    /// <summary>
    /// An audio level read from a packet of a watched producer (hot path: no allocation, loop thread).
    /// <paramref name="level"/> is RFC 6464's value, the level in -dBov: 0 is the loudest, 127 silence.
    /// </summary>
    internal abstract void ReceiveAudioLevel(Producer producer, byte level, bool voice);

    /// <summary>A watched producer paused or resumed.</summary>
    internal virtual void ProducerPauseChanged(Producer producer, bool paused)
    {
    }

    private protected abstract void OnProducerAdded(Producer producer);

    private protected abstract void OnProducerRemoved(Producer producer);

    private protected abstract void OnPaused();

    private protected abstract void OnResumed();

    /// <summary>Releases timers and state; called once on close, on the loop.</summary>
    private protected abstract void OnClosed();

    internal void CloseOnLoop(bool byRouter)
    {
        Loop.AssertOnLoop();
        if (_closed) return;
        _closed = true;
        foreach (var producer in _producers) producer.RemoveObserver(this);
        _producers.Clear();
        OnClosed();
        if (!byRouter) Router.RemoveRtpObserver(this);
        if (byRouter) Events.Emit(RouterClose, Logger);
        Events.Emit(ObserverClose, Logger);
    }

    private protected void ThrowIfClosed()
    {
        if (_closed) throw new InvalidStateException("RtpObserver closed");
    }
}

/// <summary>Argument of <see cref="RtpObserver.AddProducerAsync"/> and <see cref="RtpObserver.RemoveProducerAsync"/>.</summary>
public sealed record RtpObserverAddRemoveProducerOptions
{
    /// <summary>Id of a producer of the observer's router.</summary>
    public required string ProducerId { get; init; }
}
