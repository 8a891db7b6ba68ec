using Microsoft.Extensions.Logging;

namespace Ferry.Server.Media;

/// <summary>A worker's load as the admin API reports it.</summary>
/// <param name="Cpu">Fraction of one core used by its thread over the last sample interval.</param>
/// <param name="PacketsInPerSecond">Datagrams received per second over the last interval.</param>
/// <param name="PacketsOutPerSecond">Datagrams sent per second over the last interval.</param>
public sealed record WorkerLoad(double Cpu, double PacketsInPerSecond, double PacketsOutPerSecond);

/// <summary>
/// The node's workers (one thread each), the load each carries, sampled every two seconds, and the
/// choice of a worker for a new room.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(2);

    private readonly List<Worker> _workers;
    private readonly Dictionary<string, (double CpuMs, WorkerTraffic Traffic, DateTime At)> _last = new();
    private readonly Dictionary<string, WorkerLoad> _loads = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly Task _sampler;
    private readonly object _gate = new();
    private readonly HashSet<string> _draining = new();

    private WorkerPool(List<Worker> workers, ILogger logger)
    {
        _workers = workers;
        _logger = logger;
        foreach (var w in workers) _loads[w.Id] = new WorkerLoad(0, 0, 0);
        _sampler = SampleLoopAsync();
    }

    /// <summary>Starts <paramref name="count"/> workers.</summary>
    public static async Task<WorkerPool> CreateAsync(int count, WorkerSettings settings, ILoggerFactory loggerFactory)
    {
        var workers = new List<Worker>();
        for (var i = 0; i < count; i++) workers.Add(await Worker.CreateAsync(settings, loggerFactory));
        return new WorkerPool(workers, loggerFactory.CreateLogger<WorkerPool>());
    }

    /// <summary>The workers, alive or not.</summary>
    public IReadOnlyList<Worker> Workers => _workers;

    /// <summary>The last sampled load of <paramref name="worker"/>.</summary>
    public WorkerLoad LoadOf(Worker worker)
    {
        lock (_gate) return _loads.TryGetValue(worker.Id, out var load) ? load : new WorkerLoad(0, 0, 0);
    }

    /// <summary>The live, not draining worker with the fewest routers, then the least CPU, for a new room.</summary>
    /// <exception cref="InvalidOperationException">Every worker died or is draining.</exception>
    public Worker PickForNewRouter(Worker? except = null) =>
        _workers.Where(w => !w.Closed && !IsDraining(w) && w != except).OrderBy(w => w.Routers.Count).ThenBy(w => LoadOf(w).Cpu).FirstOrDefault()
        ?? throw new InvalidOperationException("no live worker to place on");

    /// <summary>True when some live worker takes placements.</summary>
    public bool CanPlace => _workers.Any(w => !w.Closed && !IsDraining(w));

    /// <summary>The worker with this id.</summary>
    public Worker? Find(string workerId) => _workers.FirstOrDefault(w => w.Id == workerId);

    /// <summary>True while the worker takes no new placements.</summary>
    public bool IsDraining(Worker worker)
    {
        lock (_gate) return _draining.Contains(worker.Id);
    }

    /// <summary>
    /// Stops placing on <paramref name="worker"/> and moves every router on it to the other workers
    /// (each to the least-loaded one at that moment). Returns the moves made.
    /// </summary>
    /// <exception cref="InvalidOperationException">No other worker can take the routers.</exception>
    public async Task<IReadOnlyList<RouterMoveReport>> DrainAsync(Worker worker)
    {
        lock (_gate)
        {
            // Refused before anything changes: draining the last worker would leave nowhere to place a room.
            if (!_workers.Any(w => w != worker && !w.Closed && !_draining.Contains(w.Id)))
                throw new InvalidOperationException($"worker {worker.Id} is the last one taking rooms: no other worker can take its routers");
            _draining.Add(worker.Id);
        }
        var reports = new List<RouterMoveReport>();
        foreach (var router in worker.Routers.ToList())
        {
            if (router.Closed) continue;
            reports.Add(await router.MoveToAsync(PickForNewRouter(except: worker)));
        }
        return reports;
    }

    /// <summary>Lets the worker take placements again.</summary>
    public void Undrain(Worker worker)
    {
        lock (_gate) _draining.Remove(worker.Id);
    }

    private async Task SampleLoopAsync()
    {
        using var timer = new PeriodicTimer(SampleInterval);
        try
        {
            do
            {
                foreach (var worker in _workers.Where(w => !w.Closed))
                {
                    try
                    {
                        var usage = await worker.GetResourceUsageAsync();
                        var cpuMs = (double)(usage.UserTimeMs + usage.SystemTimeMs);
                        var traffic = worker.Traffic;
                        var now = DateTime.UtcNow;
                        lock (_gate)
                        {
                            if (_last.TryGetValue(worker.Id, out var last))
                            {
                                var seconds = Math.Max(0.001, (now - last.At).TotalSeconds);
                                _loads[worker.Id] = new WorkerLoad(
                                    Math.Clamp((cpuMs - last.CpuMs) / 1000 / seconds, 0, 1),
                                    (traffic.PacketsReceived - last.Traffic.PacketsReceived) / seconds,
                                    (traffic.PacketsSent - last.Traffic.PacketsSent) / seconds);
                            }
                            _last[worker.Id] = (cpuMs, traffic, now);
                        }
                    }
                    catch (InvalidOperationException)
                    {
                        // Closed meanwhile.
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "worker load sampling stopped");
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        foreach (var worker in _workers) await worker.CloseAsync();
        _stop.Dispose();
    }
}
