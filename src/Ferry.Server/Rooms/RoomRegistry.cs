using System.Collections.Concurrent;
using Ferry.Server.Media;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>The node's rooms: created on first join, on the least-loaded worker, and forgotten when empty.</summary>
public sealed class RoomRegistry
{
    private readonly ConcurrentDictionary<string, Room> _rooms = new();
    private readonly SemaphoreSlim _createLock = new(1, 1);
    private readonly WorkerPool _workers;
    private readonly RoomSettings _settings;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the registry.</summary>
    public RoomRegistry(WorkerPool workers, RoomSettings settings, ILoggerFactory loggerFactory)
    {
        _workers = workers;
        _settings = settings;
        _loggerFactory = loggerFactory;
    }

    /// <summary>The open rooms.</summary>
    public IReadOnlyCollection<Room> Rooms => (IReadOnlyCollection<Room>)_rooms.Values;

    /// <summary>The room <paramref name="roomId"/> if open.</summary>
    public Room? Find(string roomId) => _rooms.TryGetValue(roomId, out var room) ? room : null;

    /// <summary>True while the node is drained: it takes no new rooms (its rooms move to other nodes).</summary>
    public bool Draining { get; internal set; }

    /// <summary>True when a new room could be placed now (the node is not draining and has a live worker that is not).</summary>
    public bool CanCreate => !Draining && _workers.CanPlace;

    /// <summary>
    /// Adds a peer to the open room <paramref name="roomId"/> (created when there is none). A room that
    /// closed between finding it and adding (its last peer just left) is replaced by a new one.
    /// </summary>
    /// <exception cref="InvalidOperationException">No worker can take a new room.</exception>
    /// <exception cref="Signaling.ProtooRequestException">The room is full.</exception>
    internal async Task<(Room Room, Peer Peer)> AddPeerAsync(string roomId, string peerId, Signaling.ProtooConnection connection)
    {
        while (true)
        {
            var room = await GetOrCreateAsync(roomId);
            if (await room.TryAddPeerAsync(peerId, connection) is { } peer) return (room, peer);
        }
    }

    /// <summary>What every room of this node is created with.</summary>
    internal RoomSettings Settings => _settings;

    /// <summary>The node's workers.</summary>
    internal WorkerPool Workers => _workers;

    /// <summary>
    /// Registers a room that moved here from another node (its router imported into <paramref name="router"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">A room with that id is open here.</exception>
    internal async Task<Room> AdoptImportedAsync(RoomState state, Router router, Ferry.Mobility.Remote.RouterImportResult imported)
    {
        await _createLock.WaitAsync();
        try
        {
            if (_rooms.TryGetValue(state.RoomId, out var existing) && !existing.Closed) throw new InvalidOperationException($"room {state.RoomId} is open on this node");
            var room = await Room.CreateImportedAsync(state, router, imported, _settings, _loggerFactory.CreateLogger<Room>());
            Register(room);
            return room;
        }
        finally
        {
            _createLock.Release();
        }
    }

    /// <summary>Raised after a request that may have changed a room (what copies to a standby follow).</summary>
    public event Action<Room>? RoomChanged;

    /// <summary>
    /// Brings back a room of a dead node from its copy (<paramref name="age"/> old). <paramref name="claim"/> runs first,
    /// under the lock that creating rooms takes: a peer that reconnects here meanwhile waits for the room, never gets an
    /// empty new one.
    /// </summary>
    /// <exception cref="InvalidOperationException">A room with that id is open here.</exception>
    internal async Task<Room> TakeOverAsync(string stateJson, string routerJson, TimeSpan age, Func<Task> claim)
    {
        var state = System.Text.Json.JsonSerializer.Deserialize<RoomState>(stateJson, ServerJson.Options) ?? throw new System.Text.Json.JsonException("null room state");
        await _createLock.WaitAsync();
        try
        {
            if (_rooms.TryGetValue(state.RoomId, out var existing) && !existing.Closed) throw new InvalidOperationException($"room {state.RoomId} is open on this node");
            await claim();
            var room = await Room.TakeOverAsync(state, routerJson, age, _workers.PickForNewRouter(), _settings, _loggerFactory.CreateLogger<Room>());
            Register(room);
            return room;
        }
        finally
        {
            _createLock.Release();
        }
    }

    private void Register(Room room)
    {
        room.RoomClosed += r => _rooms.TryRemove(new KeyValuePair<string, Room>(r.Id, r));
        room.Changed += r => RoomChanged?.Invoke(r);
        _rooms[room.Id] = room;
    }

    /// <summary>The open room <paramref name="roomId"/>, created when there is none.</summary>
    public async Task<Room> GetOrCreateAsync(string roomId)
    {
        if (_rooms.TryGetValue(roomId, out var room) && !room.Closed) return room;
        await _createLock.WaitAsync();
        try
        {
            if (_rooms.TryGetValue(roomId, out room) && !room.Closed) return room;
            if (Draining) throw new InvalidOperationException("this node is draining: it takes no new rooms");
            room = await Room.CreateAsync(roomId, _workers.PickForNewRouter(), _settings, _loggerFactory.CreateLogger<Room>());
            Register(room);
            return room;
        }
        finally
        {
            _createLock.Release();
        }
    }
}
