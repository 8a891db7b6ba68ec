using Ferry.Server.Rooms;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Ferry.Server.Cluster.Failover;

/// <summary>
/// Keeps a copy of each of this node's rooms on another node, its standby: sent when the room changed (a peer joined,
/// a transport, producer or consumer came or went) and at least every <see cref="RefreshInterval"/>. A room keeps its
/// standby while that node is active; a room that closed or moved away is dropped there. Rooms with a broadcaster's
/// PlainTransport are not copied (PlainTransports have no snapshot yet).
/// </summary>
internal sealed class StandbyReplicator(ClusterNode node, LocalNode local, IGrainFactory grains, IClusterMembershipService membership, ILogger<StandbyReplicator> logger) : BackgroundService
{
    /// <summary>Longest time between two copies of a room.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a change waits for more changes before its copy goes (a join makes several in a row).</summary>
    private static readonly TimeSpan ChangeDebounce = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, (string Standby, long Sequence)> _sent = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0, 1);
    private int _failures;

    /// <summary>Copies sent since start.</summary>
    public long CopiesSent;

    /// <summary>Characters of JSON sent since start.</summary>
    public long CharactersSent;

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
        rooms.RoomChanged += _ => Signal();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(RefreshInterval, stoppingToken);
                await Task.Delay(ChangeDebounce, stoppingToken);
                await CopyAllAsync(rooms, stoppingToken);
                _failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                if (_failures++ == 0) logger.LogWarning("copies to standbys failed: {Error}", e.Message);
            }
        }
    }

    private void Signal()
    {
        try { _changed.Release(); }
        catch (SemaphoreFullException) { } // a copy is due already
    }

    private async Task CopyAllAsync(RoomRegistry rooms, CancellationToken stop)
    {
        var live = ClusterNode.ActiveNodeIds(membership);
        var candidates = live.Where(id => id != node.Id).ToList();
        var open = rooms.Rooms.Where(r => !r.Closed && r.MovedTo is null && !r.HasBroadcasters).ToList();
        var calls = new List<Task>();
        foreach (var room in open)
        {
            var standby = _sent.TryGetValue(room.Id, out var known) && live.Contains(known.Standby) ? known.Standby : await PickStandbyAsync(candidates, stop);
            if (standby is null) continue;
            (string Router, string State) copy;
            try
            {
                copy = await room.CheckpointAsync();
            }
            catch (InvalidOperationException)
            {
                continue; // closed or moving meanwhile
            }
            var sequence = (known.Standby == standby ? known.Sequence : 0) + 1;
            _sent[room.Id] = (standby, sequence);
            var checkpoint = new RoomCheckpoint { RoomId = room.Id, SourceNodeId = node.Id, Sequence = sequence, RouterJson = copy.Router, StateJson = copy.State };
            if (known.Standby is { } previous && previous != standby) calls.Add(DropAsync(previous, room.Id));
            calls.Add(grains.GetGrain<IRoomStandbyGrain>(standby).StoreAsync(checkpoint).WaitAsync(CallTimeout, stop));
            Interlocked.Increment(ref CopiesSent);
            Interlocked.Add(ref CharactersSent, copy.Router.Length + copy.State.Length);
        }
        foreach (var gone in _sent.Keys.Where(id => !open.Any(r => r.Id == id)).ToList())
        {
            calls.Add(DropAsync(_sent[gone].Standby, gone));
            _sent.Remove(gone);
        }
        await Task.WhenAll(calls);
    }

    private async Task DropAsync(string standby, string roomId)
    {
        try { await grains.GetGrain<IRoomStandbyGrain>(standby).DropAsync(roomId, node.Id).WaitAsync(CallTimeout); }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException or InvalidOperationException) { }
    }

    /// <summary>The least loaded other active node (ties: the lowest id), or null when this node is alone.</summary>
    private async Task<string?> PickStandbyAsync(IReadOnlyList<string> candidates, CancellationToken stop)
    {
        var reports = await Task.WhenAll(candidates.Select(async id =>
        {
            try { return await grains.GetGrain<INodeGrain>(id).GetAsync().WaitAsync(CallTimeout, stop); }
            catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException) { return null; }
        }));
        return reports.OfType<NodeReport>().Where(r => r.State == "active").OrderBy(NodeLoad.Score).ThenBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault()?.Id;
    }
}
