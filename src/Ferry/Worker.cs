using Ferry.Loop;
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
    private int _closed;

    private Worker(WorkerSettings settings, ILoggerFactory loggerFactory)
    {
        Settings = settings;
        Id = Guid.NewGuid().ToString();
        _logger = loggerFactory.CreateLogger<Worker>();
        Loop = new EventLoop($"ferry-worker-{Id[..8]}");
        Loop.Died += OnLoopDied;
    }

    /// <summary>Creates a worker and starts its thread.</summary>
    /// <exception cref="ArgumentException">Invalid settings (mediasoup's TypeError).</exception>
    public static Task<Worker> CreateAsync(WorkerSettings? settings = null, ILoggerFactory? loggerFactory = null)
    {
        settings ??= new WorkerSettings();
        settings.Validate();
        var worker = new Worker(settings, loggerFactory ?? NullLoggerFactory.Instance);
        worker.Loop.Start();
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

    /// <summary>Raised once when the worker closes, for whatever reason (mediasoup's observer "close").</summary>
    public event Action? ObserverClose;

    internal EventLoop Loop { get; }

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
        Loop.Stop();
        await Loop.Exited.ConfigureAwait(false);
        Loop.Dispose();
        ObserverClose?.Invoke();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => new(CloseAsync());

    private void ThrowIfClosed()
    {
        if (Closed) throw new InvalidStateException("Worker closed");
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
