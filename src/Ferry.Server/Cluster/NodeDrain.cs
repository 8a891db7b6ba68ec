using Ferry.Server.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster;

/// <summary>
/// Empties this node for a deploy: it takes no new rooms and moves every room it holds to the other active node
/// with the fewest rooms (the peers follow: transportMoved, roomMoved). Rooms that cannot move stay and are listed.
/// </summary>
internal sealed class NodeDrain(ClusterNode node, LocalNode local, RoomMover mover, IGrainFactory grains, IClusterMembershipService membership, ILogger<NodeDrain> logger)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Marks the node draining and moves its rooms away; answers what moved and what did not.</summary>
    public async Task<DrainReport> DrainAsync(CancellationToken cancel)
    {
        var (_, rooms, _) = await local.ReadyAsync(cancel);
        rooms.Draining = true;
        var targets = await TargetsAsync();
        var moved = new List<RoomNodeMove>();
        var failed = new List<string>();
        foreach (var room in rooms.Rooms.Where(r => !r.Closed && r.MovedTo is null).ToList())
        {
            if (cancel.IsCancellationRequested) break;
            // The node with the fewest rooms, counting what this drain already sent there.
            var target = targets.OrderBy(t => t.Value).Select(t => t.Key).FirstOrDefault();
            if (target is null)
            {
                failed.Add($"{room.Id}: no other active node");
                continue;
            }
            try
            {
                moved.Add(await mover.MoveAsync(room, target));
                targets[target]++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed.Add($"{room.Id}: {e.Message}");
                logger.LogWarning("drain: room {RoomId} stays: {Reason}", room.Id, e.Message);
            }
        }
        logger.LogInformation("drain: {Moved} rooms moved, {Failed} stay", moved.Count, failed.Count);
        return new DrainReport(node.Id, moved, failed);
    }

    /// <summary>Other active nodes that take rooms, with their rooms now.</summary>
    private async Task<Dictionary<string, int>> TargetsAsync()
    {
        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var id in ClusterNode.ActiveNodeIds(membership).Where(id => id != node.Id))
        {
            try
            {
                if (await grains.GetGrain<INodeGrain>(id).GetAsync().WaitAsync(CallTimeout) is { State: "active" } report) targets[id] = report.Rooms.Count;
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
            {
                logger.LogWarning("drain: node {Node} does not answer: {Reason}", id, e.Message);
            }
        }
        return targets;
    }
}

/// <summary>What a drain did.</summary>
/// <param name="NodeId">The drained node.</param>
/// <param name="Moved">The rooms moved away.</param>
/// <param name="Stayed">Rooms that could not move, with why.</param>
public sealed record DrainReport(string NodeId, IReadOnlyList<RoomNodeMove> Moved, IReadOnlyList<string> Stayed);
