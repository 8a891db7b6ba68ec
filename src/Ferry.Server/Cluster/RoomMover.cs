using System.Net;
using System.Text.Json;
using Ferry.Server.Rooms;
using Orleans;

namespace Ferry.Server.Cluster;

/// <summary>Moves this node's rooms to other nodes through their <see cref="IRoomHostGrain"/>.</summary>
internal sealed class RoomMover(IGrainFactory grains, ClusterNode node)
{
    /// <summary>Bound on each call to the target (the import of a large room included).</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Moves <paramref name="room"/> to node <paramref name="nodeId"/>.</summary>
    /// <exception cref="InvalidOperationException">The room cannot move or the target refused; nothing changed.</exception>
    public Task<RoomNodeMove> MoveAsync(Room room, string nodeId)
    {
        if (nodeId == node.Id) throw new InvalidOperationException($"room {room.Id} is on node {nodeId} already");
        return room.MoveToNodeAsync(new GrainTarget(grains.GetGrain<IRoomHostGrain>(nodeId), nodeId));
    }

    private sealed class GrainTarget(IRoomHostGrain grain, string nodeId) : IRoomMoveTarget
    {
        public string NodeId => nodeId;

        public async Task<IReadOnlyDictionary<string, IPEndPoint>> PrepareAsync(string roomId, IReadOnlyList<string> transportIds)
        {
            var relays = await Call(grain.PrepareRoomImportAsync(roomId, transportIds.ToList()));
            return relays.ToDictionary(r => r.Key, r => IPEndPoint.Parse(r.Value));
        }

        public async Task<RoomImportAnswer> ImportAsync(string roomId, string routerSnapshotJson, string roomStateJson) =>
            JsonSerializer.Deserialize<RoomImportAnswer>(await Call(grain.ImportRoomAsync(roomId, routerSnapshotJson, roomStateJson)), ServerJson.Options)
            ?? throw new InvalidOperationException("empty answer from the target");

        public async Task CancelAsync(string roomId)
        {
            try
            {
                await grain.CancelRoomImportAsync(roomId).WaitAsync(CallTimeout);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
            {
                // The target forgets an unused import by itself.
            }
        }

        private async Task<T> Call<T>(Task<T> call)
        {
            try
            {
                return await call.WaitAsync(CallTimeout);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or Orleans.Runtime.SiloUnavailableException)
            {
                throw new InvalidOperationException($"node {nodeId}: {e.Message}", e);
            }
        }
    }
}
