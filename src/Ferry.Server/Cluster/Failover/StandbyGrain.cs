using Orleans;

namespace Ferry.Server.Cluster.Failover;

/// <summary>Receives copies of other nodes' rooms for this node; see <see cref="IRoomStandbyGrain"/>.</summary>
[NodePinnedPlacement]
internal sealed class StandbyGrain(StandbyStore store, ClusterNode node) : Grain, IRoomStandbyGrain
{
    public Task StoreAsync(RoomCheckpoint checkpoint)
    {
        CheckOnItsNode();
        store.Put(checkpoint);
        return Task.CompletedTask;
    }

    public Task DropAsync(string roomId, string sourceNodeId)
    {
        CheckOnItsNode();
        store.Drop(roomId, sourceNodeId);
        return Task.CompletedTask;
    }

    /// <summary>A copy kept on another node than the one asked for would be found by nobody.</summary>
    private void CheckOnItsNode()
    {
        if (this.GetPrimaryKeyString() != node.Id) throw new InvalidOperationException($"standby of node {this.GetPrimaryKeyString()} activated on node {node.Id}: that node is not a member");
    }
}
