using System.Net;
using System.Text.Json;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.RtpObservers;
using Ferry.Server.Signaling;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>The node a room moves to, as the source sees it (the cluster implements it with grain calls).</summary>
internal interface IRoomMoveTarget
{
    /// <summary>The target node's id.</summary>
    string NodeId { get; }

    /// <summary>The target makes a router and a relay socket per transport; answers the relays by transport id.</summary>
    Task<IReadOnlyDictionary<string, IPEndPoint>> PrepareAsync(string roomId, IReadOnlyList<string> transportIds);

    /// <summary>The target brings the room to life from its router snapshot and state, both as JSON.</summary>
    Task<RoomImportAnswer> ImportAsync(string roomId, string routerSnapshotJson, string roomStateJson);

    /// <summary>The target forgets a prepared import (the move failed before or during the import).</summary>
    Task CancelAsync(string roomId);
}

/// <summary>What the target of a room move answers: where the peers reconnect, and what each transport's far end is told.</summary>
/// <param name="Url">The target node's HTTP base URL (the peers' WebSockets go there).</param>
/// <param name="Transports">Per moved transport, its new ICE parameters and candidates.</param>
/// <param name="ImportTime">How long the target took from the snapshot's arrival to its router live.</param>
public sealed record RoomImportAnswer(string Url, IReadOnlyList<MovedTransport> Transports, TimeSpan ImportTime);

/// <summary>A transport brought to life on another node: what its far end is told.</summary>
/// <param name="Id">Transport id (kept).</param>
/// <param name="IceParameters">The credentials to restart ICE with (the old ones keep working).</param>
/// <param name="IceCandidates">The candidates on the new node.</param>
public sealed record MovedTransport(string Id, IceParameters IceParameters, IReadOnlyList<IceCandidate> IceCandidates);

/// <summary>What a room's move to another node did.</summary>
/// <param name="RoomId">The room.</param>
/// <param name="ToNodeId">The node it is on now.</param>
/// <param name="ToUrl">That node's URL.</param>
/// <param name="Transports">Transports moved.</param>
/// <param name="SnapshotBytes">Router snapshot and room state as JSON (UTF-16 characters).</param>
/// <param name="FrozenTime">From the freeze to the target live (media waits this long, relayed and held).</param>
/// <param name="TargetImportTime">Of <paramref name="FrozenTime"/>, the target's import (snapshot read to router live).</param>
/// <param name="HandoverTime">From the start of the move to the target live.</param>
public sealed record RoomNodeMove(string RoomId, string ToNodeId, string ToUrl, int Transports, int SnapshotBytes, TimeSpan FrozenTime, TimeSpan TargetImportTime, TimeSpan HandoverTime)
{
    /// <summary>Completes when every relay the move left at the source ended (its far end switched and the grace passed).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Task RelaysEnded { get; init; } = Task.CompletedTask;
}

/// <summary>
/// A room moved to another node: the router snapshot and the room's state go there as JSON, the target brings the
/// room to life with the same ids, every far end is told its transport's new candidates (transportMoved) and every
/// peer where to reconnect its WebSocket (roomMoved); the old sockets relay until each far end switched. Here the
/// room stays only as relays and as the peers' old WebSockets, which say nothing more to the room.
/// </summary>
public sealed partial class Room
{
    /// <summary>Grace for a peer of a room that arrived from another node to reconnect its WebSocket here.</summary>
    public static readonly TimeSpan ReconnectGrace = TimeSpan.FromSeconds(30);

    /// <summary>The node URL this room moved to; null while it lives here.</summary>
    public string? MovedTo { get; private set; }

    /// <summary>Moves the room to <paramref name="target"/>. A failed move leaves it here, as it was.</summary>
    /// <exception cref="InvalidOperationException">The room cannot move now, or the target refused: nothing changed.</exception>
    internal async Task<RoomNodeMove> MoveToNodeAsync(IRoomMoveTarget target)
    {
        await _lock.WaitAsync();
        try
        {
            if (Closed || MovedTo is not null) throw new InvalidOperationException($"room {Id} is closed or moved");
            if (Routers.Count != 1) throw new InvalidOperationException($"room {Id} has transports in {Routers.Count} routers: move them into one first");
            if (_peers.Values.Any(p => p.IsBroadcaster)) throw new InvalidOperationException($"room {Id} has a broadcaster: PlainTransports do not move between servers yet");
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var plan = await Router.GetRouterMovePlanAsync();
            if (plan.Obstacles.Count > 0) throw new InvalidOperationException($"room {Id} cannot move now: {string.Join("; ", plan.Obstacles)}");
            // Written before the freeze: nothing in it changes while the room's lock is held, and the media waits for what comes after.
            var state = JsonSerializer.Serialize(ExportState(), ServerJson.Options);
            var relays = await target.PrepareAsync(Id, plan.TransportIds);
            OutgoingRouterMove move;
            try
            {
                move = await Router.ExportForMoveAsync(new RouterExportOptions { TargetRelays = relays });
            }
            catch
            {
                await target.CancelAsync(Id);
                throw;
            }
            RoomImportAnswer answer;
            int bytes;
            try
            {
                var snapshot = SnapshotJson.Serialize(move.Snapshot);
                bytes = snapshot.Length + state.Length;
                answer = await target.ImportAsync(Id, snapshot, state);
            }
            catch (Exception e)
            {
                await move.AbortAsync();
                await target.CancelAsync(Id);
                throw e as InvalidOperationException ?? new InvalidOperationException($"room {Id} did not move to node {target.NodeId}: {e.Message}", e);
            }
            var frozen = System.Diagnostics.Stopwatch.GetElapsedTime(move.FrozenAtTimestamp);
            await move.CommitAsync();
            MovedTo = answer.Url;
            var byId = answer.Transports.ToDictionary(t => t.Id);
            foreach (var peer in _peers.Values)
            {
                foreach (var id in peer.Transports.Keys)
                {
                    if (byId.TryGetValue(id, out var moved))
                        peer.Connection.Notify("transportMoved", new { transportId = id, iceParameters = moved.IceParameters, iceCandidates = moved.IceCandidates });
                }
                peer.Connection.Notify("roomMoved", new { url = answer.Url });
            }
            // The source's sockets relay until the far ends switched; the router goes with the last relay.
            var source = Router;
            _ = move.Completed.ContinueWith(_ => source.CloseAsync(), TaskScheduler.Default).Unwrap();
            RoomClosed?.Invoke(this);
            var handover = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            _logger.LogInformation("room {RoomId} moved to node {Node} ({Url}): {Transports} transports, {Bytes} characters, frozen {Frozen:F1} ms, in all {Ms:F1} ms",
                Id, target.NodeId, answer.Url, answer.Transports.Count, bytes, frozen.TotalMilliseconds, handover.TotalMilliseconds);
            return new RoomNodeMove(Id, target.NodeId, answer.Url, answer.Transports.Count, bytes, frozen, answer.ImportTime, handover) { RelaysEnded = move.Completed };
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The room's peers and who owns what, as data (run under the room's lock, with the router frozen).</summary>
    private RoomState ExportState() => new()
    {
        RoomId = Id,
        AudioLevelObserverId = AudioLevels.Id,
        Peers = _peers.Values.Where(p => !p.Closed).Select(p => new PeerState
        {
            Id = p.Id,
            Joined = p.Joined,
            DisplayName = p.DisplayName,
            Device = p.Device.ValueKind == JsonValueKind.Undefined ? null : p.Device,
            RtpCapabilities = p.RtpCapabilities,
            SctpCapabilities = p.SctpCapabilities,
            Transports = p.Transports.Values.Select(t => new PeerTransportState
            {
                Id = t.Transport.Id, Producing = t.Producing, Consuming = t.Consuming, Connected = t.Connected, AppData = AppDataJson.From(t.Transport.AppData),
            }).ToList(),
            Objects =
            [
                .. p.Producers.Values.Select(o => new OwnedObjectState { Kind = "producer", Id = o.Id, AppData = AppDataJson.From(o.AppData) }),
                .. p.Consumers.Values.Select(o => new OwnedObjectState { Kind = "consumer", Id = o.Id, AppData = AppDataJson.From(o.AppData) }),
                .. p.DataProducers.Values.Select(o => new OwnedObjectState { Kind = "dataProducer", Id = o.Id, AppData = AppDataJson.From(o.AppData) }),
                .. p.DataConsumers.Values.Select(o => new OwnedObjectState { Kind = "dataConsumer", Id = o.Id, AppData = AppDataJson.From(o.AppData) }),
            ],
        }).ToList(),
    };

    /// <summary>
    /// A room that moved here from another node: its router imported into <paramref name="router"/>, its peers as
    /// they were there, each waiting (up to <see cref="ReconnectGrace"/>) for its WebSocket to reconnect here.
    /// </summary>
    internal static async Task<Room> CreateImportedAsync(RoomState state, Router router, RouterImportResult imported, RoomSettings settings, ILogger logger)
    {
        if (state.Version != RoomState.CurrentVersion) throw new NotSupportedException($"RoomState version {state.Version} not supported");
        var audioLevels = imported.RtpObservers.OfType<AudioLevelObserver>().FirstOrDefault(o => o.Id == state.AudioLevelObserverId)
            ?? throw new InvalidOperationException($"the router snapshot has no audio level observer {state.AudioLevelObserverId}");
        var room = new Room(state.RoomId, router, audioLevels, settings, logger);
        var transports = imported.Transports.ToDictionary(t => t.Transport.Id, t => t.Transport);
        foreach (var p in state.Peers)
        {
            var channel = new AwaitingPeerChannel();
            var peer = new Peer(p.Id, channel)
            {
                Joined = p.Joined, DisplayName = p.DisplayName, Device = p.Device ?? default, RtpCapabilities = p.RtpCapabilities, SctpCapabilities = p.SctpCapabilities,
            };
            room._peers[p.Id] = peer;
            var appData = p.Objects.ToDictionary(o => (o.Kind, o.Id), o => AppDataJson.To(o.AppData));
            foreach (var t in p.Transports)
            {
                if (!transports.TryGetValue(t.Id, out var transport)) throw new InvalidOperationException($"transport {t.Id} of peer {p.Id} is not in the router snapshot");
                await room.AdoptTransportAsync(peer, transport, t.Producing, t.Consuming, t.Connected, AppDataJson.To(t.AppData), (kind, id) => appData.GetValueOrDefault((kind, id)));
            }
            // A peer that never comes back leaves as one whose socket closed.
            _ = Task.Delay(ReconnectGrace).ContinueWith(async _ =>
            {
                await room._lock.WaitAsync();
                try
                {
                    // Checked under the lock: a reconnect that came just now keeps its session.
                    if (peer.Connection is not AwaitingPeerChannel) return;
                    logger.LogWarning("peer {PeerId} of room {RoomId} did not reconnect within {Grace} s after the room moved here", peer.Id, room.Id, ReconnectGrace.TotalSeconds);
                    await room.RemovePeerLockedAsync(peer);
                }
                finally
                {
                    room._lock.Release();
                }
            }, TaskScheduler.Default).Unwrap();
        }
        return room;
    }
}
