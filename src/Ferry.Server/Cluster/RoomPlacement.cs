using Ferry.Server.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster;

/// <summary>A room's node as signaling sees it: where a peer's WebSocket must be served.</summary>
/// <param name="NodeId">The node id.</param>
/// <param name="Url">Its HTTP base URL.</param>
/// <param name="IsLocal">True when it is this node.</param>
internal sealed record RoomHost(string NodeId, string Url, bool IsLocal);

/// <summary>
/// Where a peer's room lives in the cluster, and where a new room goes. A room lives on one node; a peer's WebSocket
/// may reach any node, which serves it when the room is there and forwards it otherwise
/// (<see cref="SignalingForwarder"/>). A new room goes to the node that received its first peer unless another node
/// is clearly less loaded (<see cref="KeepLocalMargin"/>); the room grain's claim makes two first peers arriving at two
/// nodes agree.
/// </summary>
internal sealed class RoomPlacement(ClusterNode node, LocalNode local, IGrainFactory grains, IClusterMembershipService membership, ILogger<RoomPlacement> logger)
{
    /// <summary>
    /// How much more loaded (in <see cref="NodeLoad.Score"/> units: a fraction of a core) the receiving node may be than
    /// the least loaded one and still take a new room: locality (no forwarding hop) wins over small differences, and
    /// idle nodes keep the rooms their peers reach.
    /// </summary>
    internal const double KeepLocalMargin = 0.2;

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LoadCacheAge = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private (DateTime At, IReadOnlyList<NodeReport> Reports)? _loads;

    /// <summary>
    /// The node that serves <paramref name="roomId"/> for a peer arriving here now: this one when the room is open
    /// here (or there is no cluster), the room's node when it lives elsewhere, and for a new room the node chosen by
    /// load, claimed in the room grain.
    /// </summary>
    /// <exception cref="InvalidOperationException">The cluster could not be asked, or the chosen node has no URL yet.</exception>
    public async Task<RoomHost> PlaceAsync(string roomId, RoomRegistry rooms, CancellationToken cancel)
    {
        if (!node.Clustered || rooms.Find(roomId) is { Closed: false, MovedTo: null }) return await LocalAsync(cancel);
        try
        {
            var candidate = await PickForNewRoomAsync(rooms, cancel);
            var hostId = await grains.GetGrain<IRoomGrain>(roomId).ClaimAsync(candidate).WaitAsync(CallTimeout, cancel);
            if (hostId == node.Id) return await LocalAsync(cancel);
            if (hostId != candidate) logger.LogDebug("room {RoomId} is on node {NodeId}", roomId, hostId);
            return new RoomHost(hostId, await UrlOfAsync(hostId, cancel), false);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
        {
            throw new InvalidOperationException($"the cluster did not answer where room {roomId} lives: {e.Message}", e);
        }
    }

    /// <summary>
    /// The node the room lives on now, or null when no live node holds it: what a forwarded connection follows when its
    /// node went away (a room is never created by this).
    /// </summary>
    public async Task<RoomHost?> FindAsync(string roomId, RoomRegistry rooms, CancellationToken cancel)
    {
        if (rooms.Find(roomId) is { Closed: false, MovedTo: null }) return await LocalAsync(cancel);
        if (!node.Clustered) return null;
        try
        {
            var parts = await grains.GetGrain<IRoomGrain>(roomId).GetAsync().WaitAsync(CallTimeout, cancel);
            var host = parts.Where(p => p.Routers.Count > 0).MaxBy(p => p.ReportedAt);
            if (host is null) return null;
            return host.NodeId == node.Id ? await LocalAsync(cancel) : new RoomHost(host.NodeId, await UrlOfAsync(host.NodeId, cancel), false);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException or InvalidOperationException)
        {
            logger.LogDebug("room {RoomId} not found in the cluster: {Error}", roomId, e.Message);
            return null;
        }
    }

    private async Task<RoomHost> LocalAsync(CancellationToken cancel) => new(node.Id, (await local.ReadyAsync(cancel)).Url, true);

    /// <summary>This node unless it is draining or clearly more loaded than the least loaded active node.</summary>
    private async Task<string> PickForNewRoomAsync(RoomRegistry rooms, CancellationToken cancel)
    {
        var reports = await LoadsAsync(cancel);
        var active = reports.Where(r => r.State == "active" && r.Url.Length > 0).ToList();
        var self = active.FirstOrDefault(r => r.Id == node.Id);
        var best = active.MinBy(NodeLoad.Score);
        if (best is null) return node.Id;
        if (self is not null && rooms.CanCreate && NodeLoad.Score(self) <= NodeLoad.Score(best) + KeepLocalMargin) return node.Id;
        return best.Id;
    }

    private async Task<IReadOnlyList<NodeReport>> LoadsAsync(CancellationToken cancel)
    {
        await _loadLock.WaitAsync(cancel);
        try
        {
            if (_loads is { } cached && DateTime.UtcNow - cached.At < LoadCacheAge) return cached.Reports;
            var live = ClusterNode.ActiveNodeIds(membership);
            var reports = await Task.WhenAll(live.Select(async id =>
            {
                try { return await grains.GetGrain<INodeGrain>(id).GetAsync().WaitAsync(CallTimeout, cancel); }
                catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException) { return null; }
            }));
            var known = reports.OfType<NodeReport>().ToList();
            _loads = (DateTime.UtcNow, known);
            return known;
        }
        finally
        {
            _loadLock.Release();
        }
    }

    private async Task<string> UrlOfAsync(string nodeId, CancellationToken cancel)
    {
        var report = await grains.GetGrain<INodeGrain>(nodeId).GetAsync().WaitAsync(CallTimeout, cancel);
        return report?.Url is { Length: > 0 } url ? url : throw new InvalidOperationException($"node {nodeId} has not reported its URL yet");
    }
}

/// <summary>A node's load as placement weighs it.</summary>
internal static class NodeLoad
{
    /// <summary>
    /// Streams (producers and consumers) one worker is counted to carry at a full core: the load a room brings before
    /// its CPU shows in the next samples (a burst of joins would otherwise all go to the node idle a second ago).
    /// </summary>
    internal const double StreamsPerCore = 400;

    /// <summary>
    /// Mean over the node's usable workers of the CPU they used (a fraction of a core) or the streams they carry over
    /// <see cref="StreamsPerCore"/>, whichever is higher; a node without a usable worker is full.
    /// </summary>
    public static double Score(NodeReport report)
    {
        var usable = report.Workers.Where(w => !w.Closed && !w.Draining).ToList();
        if (usable.Count == 0) return double.MaxValue;
        return usable.Average(w => Math.Max(w.Cpu, (w.Producers + w.Consumers) / StreamsPerCore));
    }
}
