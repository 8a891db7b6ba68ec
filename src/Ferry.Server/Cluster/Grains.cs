using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Ferry.Server.Cluster;

/// <summary>Holds the report its node last sent; see <see cref="INodeGrain"/>.</summary>
[NodePinnedPlacement]
internal sealed class NodeGrain : Grain, INodeGrain
{
    private NodeReport? _report;

    public Task UpdateAsync(NodeReport report)
    {
        // A late heartbeat of an earlier run of the same node (same id) must not overwrite the newer one.
        if (_report is null || report.StartedAt > _report.StartedAt || (report.StartedAt == _report.StartedAt && report.Sequence > _report.Sequence))
            _report = report;
        return Task.CompletedTask;
    }

    public Task<NodeReport?> GetAsync() => Task.FromResult(_report);
}

/// <summary>
/// Where a room lives across nodes; see <see cref="IRoomGrain"/>. Placed where it is first asked for (the node that
/// opened the room): the default, resource-optimised placement would gather most rooms on one node.
/// </summary>
[PreferLocalPlacement]
internal sealed class RoomGrain(IClusterMembershipService membership) : Grain, IRoomGrain
{
    /// <summary>How long a claim holds without the claiming node reporting the room (its first peer may never have joined).</summary>
    internal static readonly TimeSpan ClaimLifetime = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, RoomPart> _parts = new(StringComparer.Ordinal);
    private (string NodeId, DateTime At)? _claim;

    public Task ReportAsync(RoomPart part)
    {
        if (part.Routers.Count == 0) _parts.Remove(part.NodeId);
        else if (!_parts.TryGetValue(part.NodeId, out var known) || part.ReportedAt >= known.ReportedAt) _parts[part.NodeId] = part;
        // A claim ends when the room is somewhere: from then on its parts answer.
        if (part.Routers.Count > 0) _claim = null;
        // An empty room keeps nothing worth an activation; the next report recreates it.
        if (_parts.Count == 0 && _claim is null) DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task TakeOverAsync(string nodeId, string deadNodeId)
    {
        _parts.Remove(deadNodeId);
        _claim = (nodeId, DateTime.UtcNow);
        return Task.CompletedTask;
    }

    public Task<string> ClaimAsync(string nodeId)
    {
        var live = ClusterNode.ActiveNodeIds(membership);
        // The newest live part with routers: after a take-over the dead node's part lingers until membership drops it.
        var host = _parts.Values.Where(p => p.Routers.Count > 0 && live.Contains(p.NodeId)).MaxBy(p => p.ReportedAt);
        if (host is not null) return Task.FromResult(host.NodeId);
        if (_claim is { } claim && live.Contains(claim.NodeId) && DateTime.UtcNow - claim.At < ClaimLifetime) return Task.FromResult(claim.NodeId);
        _claim = (nodeId, DateTime.UtcNow);
        return Task.FromResult(nodeId);
    }

    public Task<IReadOnlyList<RoomPart>> GetAsync()
    {
        var live = ClusterNode.ActiveNodeIds(membership);
        // A node that died cannot say its part is gone: membership does.
        foreach (var gone in _parts.Keys.Where(id => !live.Contains(id)).ToList()) _parts.Remove(gone);
        // Asked about a room no node holds: nothing to keep this activation for.
        if (_parts.Count == 0 && _claim is null) DeactivateOnIdle();
        return Task.FromResult<IReadOnlyList<RoomPart>>(_parts.Values.OrderBy(p => p.NodeId, StringComparer.Ordinal).ToList());
    }
}

/// <summary>Places a grain on the node whose id is its key (a node grain lives and dies with its node).</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class NodePinnedPlacement : PlacementStrategy
{
    internal static readonly NodePinnedPlacement Instance = new();
}

/// <summary>Marks a grain class placed by <see cref="NodePinnedPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class NodePinnedPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public NodePinnedPlacementAttribute() : base(NodePinnedPlacement.Instance)
    {
    }
}

/// <summary>Chooses the silo whose endpoint is the grain key, or the caller's when that node is not a member.</summary>
internal sealed class NodePinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        var silo = context.GetCompatibleSilos(target).FirstOrDefault(s => s.Endpoint.ToString() == key);
        // A node that left: the activation only answers "no report", wherever it is.
        return Task.FromResult(silo ?? context.LocalSilo);
    }
}
