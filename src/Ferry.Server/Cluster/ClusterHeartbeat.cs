using Ferry.Server.Media;
using Ferry.Server.Rooms;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Ferry.Server.Cluster;

/// <summary>What the heartbeat reports on: the node's workers, rooms and URL, known once the server has started.</summary>
internal sealed class LocalNode
{
    private readonly TaskCompletionSource<(WorkerPool Workers, RoomRegistry Rooms, string Url)> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void SetReady(WorkerPool workers, RoomRegistry rooms, string url) => _ready.TrySetResult((workers, rooms, url));

    public Task<(WorkerPool Workers, RoomRegistry Rooms, string Url)> ReadyAsync(CancellationToken cancel) => _ready.Task.WaitAsync(cancel);
}

/// <summary>
/// Keeps this node's grains current: every <see cref="Interval"/> the node grain gets the workers' load and the rooms,
/// and each room grain gets this node's part of the room when it changed, and every <see cref="FullReportEvery"/> beats
/// in any case (a room grain reactivated elsewhere after its node died starts empty and is rebuilt so).
/// </summary>
internal sealed class ClusterHeartbeat(ClusterNode node, LocalNode local, IGrainFactory grains, IHostApplicationLifetime lifetime, NodeDirectory directory,
    Orleans.Runtime.IClusterMembershipService membership, ILogger<ClusterHeartbeat> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private const int FullReportEvery = 10;
    private static readonly TimeSpan DirectoryCallTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, RoomPart> _sent = new(StringComparer.Ordinal);
    private long _sequence;
    private int _failures;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        (WorkerPool Workers, RoomRegistry Rooms, string Url) ready;
        try
        {
            ready = await local.ReadyAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await BeatAsync(ready.Workers, ready.Rooms, ready.Url).WaitAsync(CallTimeout, stoppingToken);
                if (_failures > 0) logger.LogInformation("cluster heartbeat works again after {Failures} failures", _failures);
                _failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Calls in flight while a node is being declared dead fail or time out; the next beat retries.
                if (_failures++ == 0) logger.LogWarning("cluster heartbeat failed: {Error}", e.Message);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
        await LeaveRoomsAsync();
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task BeatAsync(WorkerPool pool, RoomRegistry rooms, string url)
    {
        var now = DateTime.UtcNow;
        var workers = new List<WorkerReport>();
        foreach (var w in pool.Workers)
        {
            var load = pool.LoadOf(w);
            WorkerObjectCounts counts = default;
            if (!w.Closed)
            {
                try { counts = await w.GetObjectCountsAsync(); }
                catch (InvalidOperationException) { } // closed meanwhile
            }
            workers.Add(new WorkerReport
            {
                Id = w.Id, Cpu = Math.Round(load.Cpu, 4), PacketsInPerSecond = Math.Round(load.PacketsInPerSecond, 1), PacketsOutPerSecond = Math.Round(load.PacketsOutPerSecond, 1),
                Routers = counts.Routers, Transports = counts.Transports, Producers = counts.Producers, Consumers = counts.Consumers,
                Draining = pool.IsDraining(w), Closed = w.Closed,
            });
        }
        // A room that moved away only relays here until its far ends switched: its place is the new node's report.
        var open = rooms.Rooms.Where(r => !r.Closed && r.MovedTo is null).ToList();
        var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
        var report = new NodeReport
        {
            Id = node.Id, Url = url, State = stopping || !rooms.CanCreate ? "draining" : "active", Workers = workers,
            Rooms = open.Select(r => new RoomSummary { Id = r.Id, Peers = r.Peers.Count(p => p.Joined) }).OrderBy(r => r.Id, StringComparer.Ordinal).ToList(),
            StartedAt = node.StartedAt, ReportedAt = now, Sequence = ++_sequence,
        };
        var calls = new List<Task> { grains.GetGrain<INodeGrain>(node.Id).UpdateAsync(report) };

        var full = _sequence % FullReportEvery == 1;
        var current = new Dictionary<string, RoomPart>(StringComparer.Ordinal);
        foreach (var room in open)
        {
            var part = new RoomPart
            {
                RoomId = room.Id, NodeId = node.Id, ReportedAt = now,
                Routers = room.Routers.Select(r => new RouterPlace { Id = r.Id, WorkerId = r.Worker.Id }).ToList(),
                Peers = room.Peers.Where(p => p.Joined).Select(p => p.Id).Order(StringComparer.Ordinal).ToList(),
            };
            current[room.Id] = part;
            if (full || !part.SameAs(_sent.GetValueOrDefault(room.Id))) calls.Add(grains.GetGrain<IRoomGrain>(room.Id).ReportAsync(part));
        }
        foreach (var gone in _sent.Keys.Where(id => !current.ContainsKey(id)))
            calls.Add(grains.GetGrain<IRoomGrain>(gone).ReportAsync(new RoomPart { RoomId = gone, NodeId = node.Id, ReportedAt = now, Routers = [], Peers = [] }));
        // Read first, with its own bounds: a report to a room grain whose node just died may hang this beat.
        if (node.Clustered && await ReadDirectoryAsync(url))
        {
            // The peers learn the new list: where to reconnect if this node dies.
            foreach (var room in open) room.NotifyNodeUrls(directory.Urls);
        }
        await Task.WhenAll(calls);
        // Only what reached the grains counts as sent: a failed beat is repeated whole.
        _sent.Clear();
        foreach (var (id, part) in current) _sent[id] = part;
    }

    /// <summary>
    /// Reads the active nodes' URLs, this node's first (a node that has not reported yet is left out until the next
    /// read); true when the list changed.
    /// </summary>
    private async Task<bool> ReadDirectoryAsync(string url)
    {
        var others = ClusterNode.ActiveNodeIds(membership).Where(id => id != node.Id).Order(StringComparer.Ordinal).ToList();
        // A node that just died may still be listed active: its grain does not answer, and must not hold the list back.
        var reports = await Task.WhenAll(others.Select(async id =>
        {
            try { return await grains.GetGrain<INodeGrain>(id).GetAsync().WaitAsync(DirectoryCallTimeout); }
            catch (Exception e) when (e is TimeoutException or OrleansException or Orleans.Runtime.SiloUnavailableException) { return null; }
        }));
        List<string> urls = [url, .. reports.Where(r => r is { State: "active" }).Select(r => r!.Url)];
        if (urls.SequenceEqual(directory.Urls)) return false;
        directory.Set(urls);
        return true;
    }

    /// <summary>A stopping node takes its parts out of the room grains rather than leave them to failure detection.</summary>
    private async Task LeaveRoomsAsync()
    {
        if (_sent.Count == 0) return;
        var now = DateTime.UtcNow;
        try
        {
            await Task.WhenAll(_sent.Keys.Select(id => grains.GetGrain<IRoomGrain>(id).ReportAsync(new RoomPart { RoomId = id, NodeId = node.Id, ReportedAt = now, Routers = [], Peers = [] })))
                .WaitAsync(TimeSpan.FromSeconds(1));
        }
        catch (Exception e)
        {
            logger.LogDebug("rooms not left at stop: {Error}", e.Message);
        }
    }
}
