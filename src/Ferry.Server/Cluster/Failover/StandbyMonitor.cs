using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ferry.Server.Rooms;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster.Failover;

/// <summary>Counts of this node's take-overs.</summary>
public sealed class FailoverCounters
{
    /// <summary>Nodes this node found dead and took rooms over from.</summary>
    public long NodesTakenOver;

    /// <summary>Rooms brought back here from a dead node's copies.</summary>
    public long RoomsTakenOver;

    /// <summary>Rooms whose copy could not be brought back.</summary>
    public long RoomsFailed;

    /// <summary>From the verdict to the last room live here, of the last take-over (milliseconds).</summary>
    public double LastTakeoverMs;

    /// <summary>From the first failed probe to the verdict, of the last take-over (milliseconds).</summary>
    public double LastDetectionMs;
}

/// <summary>
/// Watches the nodes this one keeps copies for, and brings their rooms back here when one dies. Death is seen fast by
/// this node's own probe (a TCP connect to the node's silo endpoint every <see cref="ProbeInterval"/>; a killed
/// process refuses at once, a vanished machine times out) after <see cref="FailedProbesForVerdict"/> failures in a
/// row, or by Orleans membership, whichever says so first. Before bringing anything back the dead node is declared
/// dead in the membership table (<see cref="IClusterMembershipService.TryKill"/>), so a node that was only slow stops
/// itself instead of serving the same room twice.
/// </summary>
internal sealed class StandbyMonitor(ClusterNode node, LocalNode local, StandbyStore store, IGrainFactory grains, IClusterMembershipService membership,
    FailoverCounters counters, ILogger<StandbyMonitor> logger) : BackgroundService
{
    /// <summary>Time between probes of a watched node.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(150);

    /// <summary>How long a probe may take.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(300);

    /// <summary>Failed probes in a row that make the verdict.</summary>
    public const int FailedProbesForVerdict = 2;

    private readonly Dictionary<string, (int Failures, long FirstFailureAt)> _probes = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!node.Clustered) return;
        RoomRegistry rooms;
        try
        {
            rooms = (await local.ReadyAsync(stoppingToken)).Rooms;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        using var timer = new PeriodicTimer(ProbeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var sources = store.Sources();
                foreach (var gone in _probes.Keys.Where(k => !sources.Contains(k)).ToList()) _probes.Remove(gone);
                if (sources.Count == 0) continue;
                var members = membership.CurrentSnapshot.Members;
                var verdicts = await Task.WhenAll(sources.Select(async source => (Source: source, Dead: await ProbeAsync(source, members, stoppingToken))));
                foreach (var (source, dead) in verdicts.Where(v => v.Dead))
                {
                    var detection = _probes.TryGetValue(source, out var p) && p.FirstFailureAt != 0 ? Stopwatch.GetElapsedTime(p.FirstFailureAt) : TimeSpan.Zero;
                    _probes.Remove(source);
                    await TakeOverAsync(source, rooms, detection);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>True when <paramref name="source"/> is dead: membership says so, or the probes failed enough times in a row.</summary>
    private async Task<bool> ProbeAsync(string source, IReadOnlyDictionary<SiloAddress, ClusterMember> members, CancellationToken stop)
    {
        var member = members.Values.Where(m => m.SiloAddress.Endpoint.ToString() == source).MaxBy(m => m.SiloAddress.Generation);
        if (member is { Status: SiloStatus.Dead }) return true;
        var alive = await ConnectsAsync(source, stop);
        var state = _probes.GetValueOrDefault(source);
        if (alive)
        {
            _probes[source] = (0, 0);
            return false;
        }
        state = (state.Failures + 1, state.FirstFailureAt == 0 ? Stopwatch.GetTimestamp() : state.FirstFailureAt);
        _probes[source] = state;
        return state.Failures >= FailedProbesForVerdict;
    }

    private static async Task<bool> ConnectsAsync(string endpoint, CancellationToken stop)
    {
        if (!IPEndPoint.TryParse(endpoint, out var target)) return true;
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await socket.ConnectAsync(target, timeout.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Declares <paramref name="source"/> dead and brings back every room this node has a copy of.</summary>
    private async Task TakeOverAsync(string source, RoomRegistry rooms, TimeSpan detection)
    {
        var started = Stopwatch.GetTimestamp();
        var copies = store.TakeAll(source);
        logger.LogWarning("node {NodeId} is dead ({Detection:F0} ms after its first failed probe): taking over {Rooms} rooms", source, detection.TotalMilliseconds, copies.Count);
        Interlocked.Increment(ref counters.NodesTakenOver);
        counters.LastDetectionMs = detection.TotalMilliseconds;
        // Fencing: a node that was only slow learns it was declared dead and stops, rather than serve these rooms too.
        var silo = membership.CurrentSnapshot.Members.Values.Where(m => m.SiloAddress.Endpoint.ToString() == source).MaxBy(m => m.SiloAddress.Generation)?.SiloAddress;
        var fence = silo is null ? Task.CompletedTask : FenceAsync(silo);
        await Task.WhenAll(copies.Select(copy => TakeOverRoomAsync(copy, source, rooms)));
        counters.LastTakeoverMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await fence;
        logger.LogInformation("take-over of node {NodeId}: rooms live in {Ms:F0} ms, node declared dead after {Fence:F0} ms",
            source, counters.LastTakeoverMs, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task FenceAsync(SiloAddress silo)
    {
        try { await membership.TryKill(silo).WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (Exception e) { logger.LogWarning("could not declare node {Silo} dead: {Error}", silo, e.Message); }
    }

    private async Task TakeOverRoomAsync(StoredCheckpoint copy, string source, RoomRegistry rooms)
    {
        var roomId = copy.Checkpoint.RoomId;
        try
        {
            // The room grain points at this node first (under the registry's create lock): peers that reconnect meanwhile wait here for the room.
            var age = copy.Age;
            var clock = Stopwatch.StartNew();
            var claimed = TimeSpan.Zero;
            var room = await rooms.TakeOverAsync(copy.Checkpoint.StateJson, copy.Checkpoint.RouterJson, age, async () =>
            {
                await grains.GetGrain<IRoomGrain>(roomId).TakeOverAsync(node.Id, source).WaitAsync(TimeSpan.FromSeconds(3));
                claimed = clock.Elapsed;
            });
            var imported = clock.Elapsed;
            await grains.GetGrain<IRoomGrain>(roomId).ReportAsync(new RoomPart
            {
                RoomId = roomId, NodeId = node.Id, ReportedAt = DateTime.UtcNow,
                Routers = room.Routers.Select(r => new RouterPlace { Id = r.Id, WorkerId = r.Worker.Id }).ToList(),
                Peers = room.Peers.Where(p => p.Joined).Select(p => p.Id).Order(StringComparer.Ordinal).ToList(),
            }).WaitAsync(TimeSpan.FromSeconds(3));
            Interlocked.Increment(ref counters.RoomsTakenOver);
            logger.LogInformation("room {RoomId} of dead node {NodeId} is live here from a copy {Age:F0} ms old: claimed after {Claim:F0} ms, imported after {Import:F0} ms, reported after {Report:F0} ms",
                roomId, source, age.TotalMilliseconds, claimed.TotalMilliseconds, imported.TotalMilliseconds, clock.Elapsed.TotalMilliseconds);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref counters.RoomsFailed);
            logger.LogError(e, "room {RoomId} of dead node {NodeId} could not be brought back", roomId, source);
        }
    }
}
