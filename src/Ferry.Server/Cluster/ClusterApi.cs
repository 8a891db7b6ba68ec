using Ferry.Server.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster;

/// <summary>
/// The cluster as any node sees it: <c>GET /api/cluster</c> (the cluster id, this node's id and every live node with its
/// load and rooms), <c>GET /api/nodes</c> (the nodes alone, a JSON array) and <c>GET /api/cluster/rooms/{id}</c> (which
/// nodes hold a room's routers and peers). Same access rule as the rest of the admin API.
/// </summary>
internal static class ClusterApi
{
    // A node that membership still lists but does not answer is shown as such rather than holding the answer.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);

    /// <remarks>
    /// The grain factory and membership service are taken from <paramref name="services"/> at each request, not here:
    /// resolving them builds most of the silo, which the start does in parallel with the move warmup instead.
    /// </remarks>
    public static void Map(IEndpointRouteBuilder app, ClusterNode node, IServiceProvider services, string? token)
    {
        IGrainFactory Grains() => services.GetRequiredService<IGrainFactory>();
        IClusterMembershipService Membership() => services.GetRequiredService<IClusterMembershipService>();
        var group = app.MapGroup("").AddEndpointFilter(async (context, next) =>
            AdminApi.Authorized(context.HttpContext, token) ? await next(context) : Results.Unauthorized());
        group.MapGet("/api/cluster", async () => Results.Json(new
        {
            clusterId = node.ClusterId, nodeId = node.Id, clustered = node.Clustered, nodes = await NodesAsync(node, Grains(), Membership()),
            failover = FailoverView(services),
            forwarded = services.GetRequiredService<ForwarderCounters>() is var f
                ? new { total = Interlocked.Read(ref f.Forwarded), open = Interlocked.Read(ref f.Open), resumed = Interlocked.Read(ref f.Resumed), lost = Interlocked.Read(ref f.Lost) }
                : null,
        }, ServerJson.Options));
        group.MapGet("/api/nodes", async () => Results.Json(await NodesAsync(node, Grains(), Membership()), ServerJson.Options));
        // Drain: this node's answer waits for its rooms to move; another node's starts there and shows in GET /api/nodes.
        group.MapPost("/api/nodes/{nodeId}/drain", async (string nodeId) =>
        {
            if (nodeId == node.Id) return Results.Json(await services.GetRequiredService<NodeDrain>().DrainAsync(CancellationToken.None), ServerJson.Options);
            if (!ClusterNode.ActiveNodeIds(Membership()).Contains(nodeId)) return Results.NotFound(new { error = $"node {nodeId} is not an active member" });
            await Grains().GetGrain<IRoomHostGrain>(nodeId).StartDrainAsync().WaitAsync(CallTimeout);
            return Results.Json(new { nodeId, draining = true }, ServerJson.Options, statusCode: StatusCodes.Status202Accepted);
        });
        group.MapPost("/api/nodes/{nodeId}/undrain", async (string nodeId) =>
        {
            if (!ClusterNode.ActiveNodeIds(Membership()).Contains(nodeId)) return Results.NotFound(new { error = $"node {nodeId} is not an active member" });
            await Grains().GetGrain<IRoomHostGrain>(nodeId).UndrainAsync().WaitAsync(CallTimeout);
            return Results.Json(new { nodeId, draining = false }, ServerJson.Options);
        });
        group.MapGet("/api/cluster/rooms/{roomId}", async (string roomId) =>
        {
            IReadOnlyList<RoomPart> parts;
            try
            {
                parts = await Grains().GetGrain<IRoomGrain>(roomId).GetAsync().WaitAsync(CallTimeout);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
            {
                return Results.Json(new { error = $"room {roomId}: {e.Message}" }, ServerJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            if (parts.Count == 0) return Results.NotFound(new { error = $"room {roomId} is on no node" });
            return Results.Json(new
            {
                id = roomId,
                nodes = parts.Select(p => new { id = p.NodeId, routers = p.Routers, peers = p.Peers, reportedAt = p.ReportedAt }).ToList(),
                peers = parts.Sum(p => p.Peers.Count),
            }, ServerJson.Options);
        });
    }

    /// <summary>This node's part in failover: the copies it keeps for others, what it sent, what it took over.</summary>
    private static object FailoverView(IServiceProvider services)
    {
        var store = services.GetRequiredService<Failover.StandbyStore>();
        var replicator = services.GetRequiredService<Failover.StandbyReplicator>();
        var counters = services.GetRequiredService<Failover.FailoverCounters>();
        return new
        {
            copiesKept = store.Count, charactersKept = store.Characters, copiesSent = Interlocked.Read(ref replicator.CopiesSent), charactersSent = Interlocked.Read(ref replicator.CharactersSent),
            nodesTakenOver = counters.NodesTakenOver, roomsTakenOver = counters.RoomsTakenOver, roomsFailed = counters.RoomsFailed,
            lastDetectionMs = counters.LastDetectionMs, lastTakeoverMs = counters.LastTakeoverMs,
        };
    }

    private static async Task<List<object>> NodesAsync(ClusterNode self, IGrainFactory grains, IClusterMembershipService membership)
    {
        var members = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).OrderBy(m => m.SiloAddress.Endpoint.ToString(), StringComparer.Ordinal).ToList();
        var reports = await Task.WhenAll(members.Select(async m =>
        {
            var id = m.SiloAddress.Endpoint.ToString();
            try
            {
                return (Id: id, Report: await grains.GetGrain<INodeGrain>(id).GetAsync().WaitAsync(CallTimeout), Error: (string?)null);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
            {
                return (Id: id, Report: (NodeReport?)null, Error: e.Message);
            }
        }));
        return reports.Select(r => r.Report is { } n
            ? (object)new
            {
                id = n.Id, url = n.Url, state = n.State, self = n.Id == self.Id,
                workers = n.Workers, rooms = n.Rooms, peers = n.Rooms.Sum(x => x.Peers), transports = n.Workers.Sum(w => w.Transports),
                startedAt = n.StartedAt, reportedAt = n.ReportedAt,
            }
            // A member that has not reported yet (it is starting) or does not answer (it may be dying).
            : new { id = r.Id, url = (string?)null, state = r.Error is null ? "joining" : "unreachable", self = r.Id == self.Id, error = r.Error }).ToList();
    }
}
