using Orleans;

namespace Ferry.Server.Cluster.Failover;

/// <summary>
/// A node's store of copies of other nodes' rooms, for which it stands by: keyed by the standby node's id and activated
/// there (<see cref="NodePinnedPlacementAttribute"/>). The room's node sends a copy when the room changed and at least
/// once a second; if that node dies, this one brings the room back from its newest copy (<see cref="StandbyMonitor"/>).
/// </summary>
[Alias("Ferry.IRoomStandbyGrain")]
public interface IRoomStandbyGrain : IGrainWithStringKey
{
    /// <summary>Keeps <paramref name="checkpoint"/> unless a newer one of the same room and source is kept.</summary>
    [Alias("Store")]
    Task StoreAsync(RoomCheckpoint checkpoint);

    /// <summary>Forgets the copy of <paramref name="roomId"/> from <paramref name="sourceNodeId"/> (the room closed or moved).</summary>
    [Alias("Drop")]
    Task DropAsync(string roomId, string sourceNodeId);
}

/// <summary>
/// One room as its node wrote it at one instant: the router's checkpoint and the room's state (peers, who owns what),
/// both as JSON, taken together under the room's lock so they agree.
/// </summary>
[GenerateSerializer, Alias("Ferry.RoomCheckpoint")]
public sealed record RoomCheckpoint
{
    /// <summary>The room id.</summary>
    [Id(0)] public required string RoomId { get; init; }

    /// <summary>The node the room lives on.</summary>
    [Id(1)] public required string SourceNodeId { get; init; }

    /// <summary>Increases with every copy the source sends of this room: a late copy never replaces a newer one.</summary>
    [Id(2)] public long Sequence { get; init; }

    /// <summary>The router's checkpoint (engine snapshot JSON).</summary>
    [Id(3)] public required string RouterJson { get; init; }

    /// <summary>The room's state (<see cref="Rooms.RoomState"/> JSON).</summary>
    [Id(4)] public required string StateJson { get; init; }
}
