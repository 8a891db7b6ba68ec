using System.Collections.Concurrent;
using Ferry.Loop;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ortc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry;

/// <summary>
/// A worker: one dedicated thread running one event loop, which owns every router, transport,
/// producer and consumer created under it. Methods may be called from any thread; they post to the
/// loop and complete when it has done the work. A worker whose loop fails reports <see cref="Died"/>
/// and closes; the process goes on.
/// </summary>
public sealed class Worker : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Router> _routers = new();
    private int _closed;

    private Worker(WorkerSettings settings, ILoggerFactory loggerFactory)
    {
        Settings = settings;
        Id = Guid.NewGuid().ToString();
        LoggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<Worker>();
        var certificate = settings.DtlsCertificateFile is { } cert
            ? DtlsCertificate.LoadPem(cert, settings.DtlsPrivateKeyFile!)
            : DtlsCertificate.Generate();
        DtlsContext = new DtlsContext(certificate);
        Loop = new EventLoop($"ferry-worker-{Id[..8]}", ApplyThreadPriority);
        Loop.Died += OnLoopDied;
        Loop.Faulted += OnLoopFaulted;
    }

    private void ApplyThreadPriority()
    {
        var outcome = SchedulingPolicy.ApplyToCurrentThread(Settings.ThreadPriority);
        _threadScheduling = outcome;
        if (Settings.ThreadPriority != WorkerThreadPriority.Normal && outcome.StartsWith("normal", StringComparison.Ordinal))
            _logger.LogWarning("worker {WorkerId}: thread priority {Priority} not applied, running {Outcome}", Id, Settings.ThreadPriority, outcome);
        // A collection stops this thread too: its own threads get the same priority so others cannot stretch it.
        var logger = _logger;
        RuntimePauseThreads.RaiseAndWatch(Settings.ThreadPriority, line => logger.LogInformation("garbage collector thread {Outcome}", line));
    }

    /// <summary>
    /// How the worker's thread is scheduled, once it has started: "SCHED_RR 10", "nice -10", "normal", or
    /// "normal (… refused: errno N)" when <see cref="WorkerSettings.ThreadPriority"/> asked for more than the process may have.
    /// </summary>
    public string ThreadScheduling => Volatile.Read(ref _threadScheduling);

    private string _threadScheduling = "starting";

    /// <summary>Creates a worker and starts its thread.</summary>
    /// <exception cref="ArgumentException">Invalid settings (mediasoup's TypeError).</exception>
    public static Task<Worker> CreateAsync(WorkerSettings? settings = null, ILoggerFactory? loggerFactory = null)
    {
        settings ??= new WorkerSettings();
        settings.Validate();
        var worker = new Worker(settings, loggerFactory ?? NullLoggerFactory.Instance);
        worker.Loop.Start();
        Mobility.MobilityWarmup.Start();
        return Task.FromResult(worker);
    }

    /// <summary>Unique id of this worker.</summary>
    public string Id { get; }

    /// <summary>The settings it was created with.</summary>
    public WorkerSettings Settings { get; }

    /// <summary>Application data, from the settings.</summary>
    public object? AppData => Settings.AppData;

    /// <summary>True once closed (by <see cref="CloseAsync"/> or by dying).</summary>
    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <summary>True when the worker's loop failed.</summary>
    public bool HasDied { get; private set; }

    /// <summary>Raised once, off the worker thread, with the reason the worker's loop failed.</summary>
    public event Action<Exception>? Died;

    /// <summary>
    /// Raised on the worker thread when an exception escaped one of its objects' sockets or timers: the
    /// object (a transport, or a router for its own timers) was closed with what depends on it, and the
    /// worker goes on serving everything else. Each is a bug; it is also logged and counted (<see cref="Faults"/>).
    /// </summary>
    public event Action<WorkerFault>? Faulted;

    /// <summary>Exceptions caught on this worker's thread so far (see <see cref="Faulted"/>).</summary>
    public long Faults => Volatile.Read(ref Loop.Counters.Faults);

    /// <summary>Raised once when the worker closes, for whatever reason (mediasoup's observer "close").</summary>
    public event Action? ObserverClose;

    internal EventLoop Loop { get; }

    internal ILoggerFactory LoggerFactory { get; }

    /// <summary>The worker's DTLS certificate and SRTP profiles, shared by all its WebRtcTransports.</summary>
    internal DtlsContext DtlsContext { get; }

    /// <summary>Raised when a router is created (mediasoup's observer "newrouter").</summary>
    public event Action<Router>? ObserverNewRouter;

    /// <summary>Datagrams and bytes through this worker's sockets so far (approximate when read off the worker thread).</summary>
    public WorkerTraffic Traffic => new(Volatile.Read(ref Loop.Counters.PacketsReceived), Volatile.Read(ref Loop.Counters.PacketsSent),
        Volatile.Read(ref Loop.Counters.BytesReceived), Volatile.Read(ref Loop.Counters.BytesSent), Volatile.Read(ref Loop.Counters.SendDrops));

    /// <summary>How long this worker's UDP datagrams waited in the kernel before the worker read them (approximate off the worker thread).</summary>
    public WorkerDelayHistogram ReceiveDelay => Loop.Counters.ReceiveDelay.Snapshot();

    /// <summary>
    /// How long the RTP packets this worker's consumers sent (first transmissions) had been on the host:
    /// from the kernel's receive timestamp, on whichever worker read them, to this worker's wake that
    /// sent them, through in-memory pipes and handovers (approximate off the worker thread).
    /// </summary>
    public WorkerDelayHistogram ForwardDelay => Loop.Counters.ForwardDelay.Snapshot();

    /// <summary>The routers of this worker.</summary>
    public IReadOnlyCollection<Router> Routers => (IReadOnlyCollection<Router>)_routers.Values;

    /// <summary>Creates a router whose rtpCapabilities are generated from <paramref name="options"/>' media codecs.</summary>
    /// <exception cref="InvalidStateException">The worker is closed.</exception>
    /// <exception cref="ArgumentException">An invalid codec (mediasoup's TypeError).</exception>
    /// <exception cref="UnsupportedException">A codec Ferry does not support.</exception>
    public Task<Router> CreateRouterAsync(RouterOptions? options = null)
    {
        ThrowIfClosed();
        options ??= new RouterOptions();
        var capabilities = Ortc.RouterRtpCapabilities.Generate(options.MediaCodecs ?? []);
        var router = new Router(this, capabilities, options.AppData);
        _routers[router.Id] = router;
        Events.Emit(ObserverNewRouter, router, _logger);
        return Task.FromResult(router);
    }

    /// <summary>How many routers, transports, producers and consumers live on this worker now.</summary>
    /// <exception cref="InvalidStateException">The worker is closed.</exception>
    public Task<WorkerObjectCounts> GetObjectCountsAsync()
    {
        ThrowIfClosed();
        return Loop.InvokeAsync(() =>
        {
            int transports = 0, producers = 0, consumers = 0;
            foreach (var router in _routers.Values)
            {
                foreach (var transport in router.Transports)
                {
                    transports++;
                    producers += transport.ProducerCount;
                    consumers += transport.ConsumerCount;
                }
            }
            return new WorkerObjectCounts(_routers.Count, transports, producers, consumers);
        });
    }

    private readonly ConcurrentDictionary<string, Transports.WebRtcServer> _webRtcServers = new();

    /// <summary>Its WebRtcServers.</summary>
    public IReadOnlyCollection<Transports.WebRtcServer> WebRtcServers => (IReadOnlyCollection<Transports.WebRtcServer>)_webRtcServers.Values;

    /// <summary>Creates a WebRtcServer: shared UDP sockets and TCP listeners for many WebRtcTransports of this worker.</summary>
    /// <exception cref="ArgumentException">Invalid listen infos.</exception>
    /// <exception cref="InvalidStateException">The worker is closed.</exception>
    public Task<Transports.WebRtcServer> CreateWebRtcServerAsync(Transports.WebRtcServerOptions options)
    {
        ThrowIfClosed();
        if (options.ListenInfos is not { Count: > 0 }) throw new ArgumentException("missing listenInfos");
        foreach (var info in options.ListenInfos) info.Validate();
        return Loop.InvokeAsync(() =>
        {
            var server = Transports.WebRtcServer.Create(this, options);
            _webRtcServers[server.Id] = server;
            return server;
        });
    }

    internal void RemoveWebRtcServer(Transports.WebRtcServer server) => _webRtcServers.TryRemove(server.Id, out _);

    internal void RemoveRouter(Router router) => _routers.TryRemove(router.Id, out _);

    internal void AddRouter(Router router) => _routers[router.Id] = router;

    /// <summary>CPU and memory use of the worker's thread.</summary>
    /// <exception cref="InvalidStateException">The worker is closed.</exception>
    public Task<WorkerResourceUsage> GetResourceUsageAsync()
    {
        ThrowIfClosed();
        return Loop.InvokeAsync(() =>
        {
            var u = Loop.ThreadUsage();
            return new WorkerResourceUsage
            {
                UserTimeMs = u.UtimeSec * 1000 + u.UtimeUsec / 1000,
                SystemTimeMs = u.StimeSec * 1000 + u.StimeUsec / 1000,
                MaxRss = u.MaxRss, IxRss = u.IxRss, IdRss = u.IdRss, IsRss = u.IsRss,
                MinFlt = u.MinFlt, MajFlt = u.MajFlt, NSwap = u.NSwap, InBlock = u.InBlock, OuBlock = u.OuBlock,
                MsgSnd = u.MsgSnd, MsgRcv = u.MsgRcv, NSignals = u.NSignals, NVcsw = u.NVcsw, NIvcsw = u.NIvcsw,
            };
        });
    }

    /// <summary>Closes the worker and everything under it. Closing twice is a no-op.</summary>
    public async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try
        {
            await Loop.InvokeAsync(CloseRoutersOnLoop).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // The loop has already stopped: nothing of its routers can run any more.
        }
        Loop.Stop();
        await Loop.Exited.ConfigureAwait(false);
        Loop.Dispose();
        DtlsContext.Dispose();
        ObserverClose?.Invoke();
    }

    private void CloseRoutersOnLoop()
    {
        foreach (var router in _routers.Values) router.CloseOnLoop(RouterCloseReason.WorkerClosed);
        foreach (var server in _webRtcServers.Values) server.CloseOnLoop();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => new(CloseAsync());

    private void ThrowIfClosed()
    {
        if (Closed) throw new InvalidStateException("Worker closed");
    }

    private void OnLoopFaulted(LoopFault fault)
    {
        var what = fault.Owner?.FaultDescription;
        _logger.LogError(fault.Error, "worker {WorkerId}: {Object} threw on the worker thread and was closed; the worker goes on", Id, what ?? "a handler with no owner");
        Events.Emit(Faulted, new WorkerFault(what, fault.Error), _logger);
    }

    private void OnLoopDied(Exception reason)
    {
        HasDied = true;
        _logger.LogError(reason, "worker {WorkerId} died", Id);
        var first = Interlocked.Exchange(ref _closed, 1) == 0;
        Died?.Invoke(reason);
        if (first) ObserverClose?.Invoke();
    }
}

/// <summary>An exception caught on a worker's thread (see <see cref="Worker.Faulted"/>).</summary>
/// <param name="Object">What was closed for it ("transport …", "router …"), or null when nothing could be blamed.</param>
/// <param name="Error">The exception.</param>
public sealed record WorkerFault(string? Object, Exception Error);
