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

    /// <summary>The open room <paramref name="roomId"/>, created when there is none.</summary>
    public async Task<Room> GetOrCreateAsync(string roomId)
    {
        if (_rooms.TryGetValue(roomId, out var room) && !room.Closed) return room;
        await _createLock.WaitAsync();
        try
        {
            if (_rooms.TryGetValue(roomId, out room) && !room.Closed) return room;
            room = await Room.CreateAsync(roomId, _workers.PickForNewRouter(), _settings, _loggerFactory.CreateLogger<Room>());
            room.RoomClosed += r => _rooms.TryRemove(new KeyValuePair<string, Room>(r.Id, r));
            _rooms[roomId] = room;
            return room;
        }
        finally
        {
            _createLock.Release();
        }
    }
}
