using Orleans;

namespace Ferry.Server.Cluster;

/// <summary>
/// One node's control state: where it is, whether it takes placements and the load of its workers. Keyed by the node id
/// (its silo endpoint, "ip:port"), activated on that node (<see cref="NodePinnedPlacementAttribute"/>) and written by
/// that node's <see cref="ClusterHeartbeat"/>; it dies with its node, so a stale report never outlives it.
/// </summary>
[Alias("Ferry.INodeGrain")]
public interface INodeGrain : IGrainWithStringKey
{
    /// <summary>Replaces the node's report with <paramref name="report"/>.</summary>
    [Alias("Update")]
    Task UpdateAsync(NodeReport report);

    /// <summary>The last report, null before the first heartbeat.</summary>
    [Alias("Get")]
    Task<NodeReport?> GetAsync();
}

/// <summary>
/// One room across the cluster: which node hosts which of its routers and peers. Each node reports its part on every
/// change and periodically (so a room grain reactivated after its node died is rebuilt from the live nodes); parts of
/// nodes that left the membership are dropped when read.
/// </summary>
[Alias("Ferry.IRoomGrain")]
public interface IRoomGrain : IGrainWithStringKey
{
    /// <summary>Sets the part of the room on <paramref name="part"/>'s node; an empty part (no routers) removes it.</summary>
    [Alias("Report")]
    Task ReportAsync(RoomPart part);

    /// <summary>The room's parts on nodes that are live members of the cluster.</summary>
    [Alias("Get")]
    Task<IReadOnlyList<RoomPart>> GetAsync();

    /// <summary>
    /// Where the room lives or is about to: the node of a live part that holds routers, else the node of a recent
    /// claim, else <paramref name="nodeId"/>, which is recorded as the claim (two peers of a new room arriving at two
    /// nodes at once get the same answer).
    /// </summary>
    [Alias("Claim")]
    Task<string> ClaimAsync(string nodeId);

    /// <summary>
    /// <paramref name="nodeId"/> brings the room back after <paramref name="deadNodeId"/> died: the dead node's part goes
    /// (without waiting for membership to drop it) and the room is claimed for the new node until it reports its part.
    /// </summary>
    [Alias("TakeOver")]
    Task TakeOverAsync(string nodeId, string deadNodeId);
}

/// <summary>What a node says about itself every heartbeat.</summary>
[GenerateSerializer, Alias("Ferry.NodeReport")]
public sealed record NodeReport
{
    /// <summary>The node id: its silo endpoint as the others reach it ("10.0.0.5:11111").</summary>
    [Id(0)] public required string Id { get; init; }

    /// <summary>The node's HTTP base URL (signaling, admin API).</summary>
    [Id(1)] public required string Url { get; init; }

    /// <summary>"active", or "draining" when it takes no new rooms (every worker draining, or the node stopping).</summary>
    [Id(2)] public required string State { get; init; }

    /// <summary>The node's workers and their load.</summary>
    [Id(3)] public required IReadOnlyList<WorkerReport> Workers { get; init; }

    /// <summary>Open rooms on the node, with their joined peers there.</summary>
    [Id(4)] public required IReadOnlyList<RoomSummary> Rooms { get; init; }

    /// <summary>When the node process started (UTC).</summary>
    [Id(5)] public DateTime StartedAt { get; init; }

    /// <summary>When this report was made (UTC), by the node's clock.</summary>
    [Id(6)] public DateTime ReportedAt { get; init; }

    /// <summary>Heartbeats sent since the node started (a node that restarts starts again at 1).</summary>
    [Id(7)] public long Sequence { get; init; }
}

/// <summary>One worker's load, as the node's WorkerPool samples it.</summary>
[GenerateSerializer, Alias("Ferry.WorkerReport")]
public sealed record WorkerReport
{
    /// <summary>The worker id.</summary>
    [Id(0)] public required string Id { get; init; }

    /// <summary>Fraction of one core its thread used over the last sample interval.</summary>
    [Id(1)] public double Cpu { get; init; }

    /// <summary>Datagrams received per second.</summary>
    [Id(2)] public double PacketsInPerSecond { get; init; }

    /// <summary>Datagrams sent per second.</summary>
    [Id(3)] public double PacketsOutPerSecond { get; init; }

    /// <summary>Routers on the worker.</summary>
    [Id(4)] public int Routers { get; init; }

    /// <summary>Transports on the worker.</summary>
    [Id(5)] public int Transports { get; init; }

    /// <summary>Producers on the worker.</summary>
    [Id(6)] public int Producers { get; init; }

    /// <summary>Consumers on the worker.</summary>
    [Id(7)] public int Consumers { get; init; }

    /// <summary>True while the worker takes no new placements.</summary>
    [Id(8)] public bool Draining { get; init; }

    /// <summary>True when the worker is closed or died.</summary>
    [Id(9)] public bool Closed { get; init; }
}

/// <summary>A room as one node's report lists it.</summary>
[GenerateSerializer, Alias("Ferry.RoomSummary")]
public sealed record RoomSummary
{
    /// <summary>The room id.</summary>
    [Id(0)] public required string Id { get; init; }

    /// <summary>Joined peers of the room on this node.</summary>
    [Id(1)] public int Peers { get; init; }
}

/// <summary>The part of a room one node holds.</summary>
[GenerateSerializer, Alias("Ferry.RoomPart")]
public sealed record RoomPart
{
    /// <summary>The room id.</summary>
    [Id(0)] public required string RoomId { get; init; }

    /// <summary>The node id.</summary>
    [Id(1)] public required string NodeId { get; init; }

    /// <summary>The room's routers on that node; none when the room left the node.</summary>
    [Id(2)] public required IReadOnlyList<RouterPlace> Routers { get; init; }

    /// <summary>The ids of the room's joined peers whose WebSocket is on that node.</summary>
    [Id(3)] public required IReadOnlyList<string> Peers { get; init; }

    /// <summary>When the node made this report (UTC).</summary>
    [Id(4)] public DateTime ReportedAt { get; init; }

    /// <summary>True when both list the same routers and peers (what changed is sent at once, the rest periodically).</summary>
    public bool SameAs(RoomPart? other) =>
        other is not null && other.RoomId == RoomId && other.NodeId == NodeId && other.Routers.SequenceEqual(Routers) && other.Peers.SequenceEqual(Peers);
}

/// <summary>A router of a room: its id and the worker it runs on.</summary>
[GenerateSerializer, Alias("Ferry.RouterPlace")]
public sealed record RouterPlace
{
    /// <summary>The router id.</summary>
    [Id(0)] public required string Id { get; init; }

    /// <summary>The worker id.</summary>
    [Id(1)] public required string WorkerId { get; init; }
}
