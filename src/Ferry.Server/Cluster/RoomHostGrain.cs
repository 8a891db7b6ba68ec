using System.Net;
using System.Text.Json;
using Ferry.Mobility.Remote;
using Ferry.Server.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster;

/// <summary>
/// A node's side of rooms moving to it, keyed by the node id and living on that node (<see cref="NodePinnedPlacementAttribute"/>):
/// the source asks it to prepare (a router and a relay socket per transport), then to import the router snapshot
/// and the room's state. Media never passes here: only the snapshot, once.
/// </summary>
[Alias("Ferry.IRoomHostGrain")]
public interface IRoomHostGrain : IGrainWithStringKey
{
    /// <summary>Makes a router for <paramref name="roomId"/> and binds a relay per transport; answers "ip:port" by transport id.</summary>
    [Alias("Prepare")]
    Task<Dictionary<string, string>> PrepareRoomImportAsync(string roomId, List<string> transportIds);

    /// <summary>Brings the room to life; answers a <see cref="RoomImportAnswer"/> as JSON.</summary>
    [Alias("Import")]
    Task<string> ImportRoomAsync(string roomId, string routerSnapshotJson, string roomStateJson);

    /// <summary>Forgets a prepared import (its router closes).</summary>
    [Alias("Cancel")]
    Task CancelRoomImportAsync(string roomId);

    /// <summary>Starts draining this node (it answers at once; the node's report shows the rooms leaving).</summary>
    [Alias("Drain")]
    Task StartDrainAsync();

    /// <summary>The node takes new rooms again.</summary>
    [Alias("Undrain")]
    Task UndrainAsync();
}

/// <inheritdoc cref="IRoomHostGrain"/>
[NodePinnedPlacement]
internal sealed class RoomHostGrain(LocalNode local, NodeDrain drain, ClusterNode node, ILogger<RoomHostGrain> logger) : Grain, IRoomHostGrain
{
    /// <summary>A prepared import not used within this long is given up (the source died or gave up).</summary>
    private static readonly TimeSpan PreparedFor = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, (Router Router, RouterImportSlot Slot)> _prepared = new(StringComparer.Ordinal);

    /// <summary>
    /// Placement puts a node's grain on that node, but on the caller's when the node is not a member (leaving,
    /// restarting): such an activation must not act for the node it is not.
    /// </summary>
    private void CheckOnItsNode()
    {
        if (this.GetPrimaryKeyString() == node.Id) return;
        DeactivateOnIdle();
        throw new InvalidOperationException($"node {this.GetPrimaryKeyString()} is not a member of the cluster now");
    }

    public async Task<Dictionary<string, string>> PrepareRoomImportAsync(string roomId, List<string> transportIds)
    {
        CheckOnItsNode();
        var (workers, rooms, _) = await local.ReadyAsync(CancellationToken.None);
        if (rooms.Draining) throw new InvalidOperationException($"node {node.Id} is draining: it takes no rooms");
        if (rooms.Find(roomId) is { Closed: false }) throw new InvalidOperationException($"room {roomId} is open on node {this.GetPrimaryKeyString()}");
        if (!workers.CanPlace) throw new InvalidOperationException($"node {this.GetPrimaryKeyString()} has no worker that takes rooms");
        await CancelRoomImportAsync(roomId);
        var router = await workers.PickForNewRouter().CreateRouterAsync(new RouterOptions { MediaCodecs = rooms.Settings.MediaCodecs });
        try
        {
            var slot = await router.PrepareRouterImportAsync(new RouterImportOptions
            {
                TransportIds = transportIds,
                ListenInfos = rooms.Settings.WebRtcListenInfos(forceTcp: false).Where(l => l.Protocol == Ferry.Protocols.Ortc.TransportProtocolName.Udp).ToList(),
                RelayListenIp = rooms.Settings.RtcListenIp,
                PathSwitchHoldTime = rooms.Settings.PathSwitchHoldTime,
            });
            _prepared[roomId] = (router, slot);
            IGrainTimer? timer = null;
            timer = this.RegisterGrainTimer(async () =>
            {
                timer?.Dispose();
                if (_prepared.TryGetValue(roomId, out var still) && still.Slot == slot) await CancelRoomImportAsync(roomId);
            }, PreparedFor, Timeout.InfiniteTimeSpan);
            return slot.RelayEndPoints.ToDictionary(e => e.Key, e => e.Value.ToString());
        }
        catch
        {
            await router.CloseAsync();
            throw;
        }
    }

    public async Task<string> ImportRoomAsync(string roomId, string routerSnapshotJson, string roomStateJson)
    {
        CheckOnItsNode();
        if (!_prepared.Remove(roomId, out var prepared)) throw new InvalidOperationException($"no import of room {roomId} prepared on node {this.GetPrimaryKeyString()}");
        var (_, rooms, url) = await local.ReadyAsync(CancellationToken.None);
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            // Everything that can refuse is checked before the import: once the router is live here, the source cannot abort cleanly.
            var state = JsonSerializer.Deserialize<RoomState>(roomStateJson, ServerJson.Options) ?? throw new JsonException("null room state");
            if (state.Version != RoomState.CurrentVersion || state.RoomId != roomId) throw new InvalidOperationException($"room state of {state.RoomId} version {state.Version} does not fit");
            if (rooms.Find(roomId) is { Closed: false }) throw new InvalidOperationException($"room {roomId} was opened on node {node.Id} meanwhile");
            var imported = await prepared.Slot.ImportAsync(SnapshotJson.DeserializeRouter(routerSnapshotJson));
            var live = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            await rooms.AdoptImportedAsync(state, prepared.Router, imported);
            logger.LogInformation("room {RoomId} arrived: {Transports} transports, {Peers} peers; router live after {Live:F1} ms, room after {Ms:F1} ms",
                roomId, imported.Transports.Count, state.Peers.Count, live.TotalMilliseconds, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            var answer = new RoomImportAnswer(url, imported.Transports.Select(t => new MovedTransport(t.Transport.Id, t.IceParameters, t.IceCandidates)).ToList(), live);
            return JsonSerializer.Serialize(answer, ServerJson.Options);
        }
        catch
        {
            await prepared.Slot.DisposeAsync();
            await prepared.Router.CloseAsync();
            throw;
        }
    }

    public Task StartDrainAsync()
    {
        CheckOnItsNode();
        // Outside the grain's turn: the drain calls other nodes' grains and may take a while.
        _ = Task.Run(() => drain.DrainAsync(CancellationToken.None)).ContinueWith(t => logger.LogError(t.Exception, "drain failed"),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task UndrainAsync()
    {
        CheckOnItsNode();
        (await local.ReadyAsync(CancellationToken.None)).Rooms.Draining = false;
    }

    public async Task CancelRoomImportAsync(string roomId)
    {
        if (!_prepared.Remove(roomId, out var prepared)) return;
        await prepared.Slot.DisposeAsync();
        await prepared.Router.CloseAsync();
    }
}
