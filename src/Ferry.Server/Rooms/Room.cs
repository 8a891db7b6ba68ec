using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;
using Ferry.RtpObservers;
using Ferry.Transports;
using Ferry.Server.Signaling;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>
/// A room of mediasoup-demo's protocol: one router, its peers, and the rule that every joined peer
/// consumes every other joined peer's producers. Requests of all peers run one at a time (a room's
/// state changes in one order); waiting on a client (newConsumer) happens outside that lock.
/// </summary>
public sealed partial class Room
{
    private readonly ConcurrentDictionary<string, Peer> _peers = new();
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ILogger _logger;
    private readonly RoomSettings _settings;

    private Room(string id, Router router, AudioLevelObserver audioLevels, RoomSettings settings, ILogger logger)
    {
        Id = id;
        Router = router;
        AudioLevels = audioLevels;
        _settings = settings;
        _logger = logger;
        WireAudioLevels(audioLevels);
    }

    private void WireAudioLevels(AudioLevelObserver audioLevels)
    {
        // mediasoup-demo's activeSpeaker notification: the loudest peer, or null on silence.
        // An observer a move left behind (in the router that relays until the far ends switched) says nothing.
        audioLevels.Volumes += volumes =>
        {
            if (AudioLevels != audioLevels) return;
            var loudest = volumes[0];
            var peerId = (loudest.Producer.AppData as IDictionary<string, object?>)?["peerId"] as string;
            foreach (var peer in JoinedPeers()) peer.Connection.Notify("activeSpeaker", new { peerId, volume = loudest.Volume });
        };
        audioLevels.Silence += () =>
        {
            if (AudioLevels != audioLevels) return;
            // An explicit null (the server's JSON leaves nulls out): the app reads peerId as null for "nobody".
            foreach (var peer in JoinedPeers()) peer.Connection.Notify("activeSpeaker", new JsonObject { ["peerId"] = null });
        };
    }

    /// <summary>The room's audio level observer (every audio producer is added to it).</summary>
    public AudioLevelObserver AudioLevels { get; private set; }

    /// <summary>Room id (the roomId of the URL).</summary>
    public string Id { get; }

    /// <summary>The room's first router (the one its audio level observer lives in).</summary>
    public Router Router { get; private set; }

    private readonly List<Router> _extraRouters = [];

    /// <summary>Every router of the room: the first, and one per other worker its transports were moved to.</summary>
    public IReadOnlyList<Router> Routers
    {
        get { lock (_extraRouters) return [Router, .. _extraRouters]; }
    }

    /// <summary>The room's router on <paramref name="worker"/>, created when it has none there.</summary>
    public async Task<Router> GetRouterOnAsync(Worker worker)
    {
        var existing = Routers.FirstOrDefault(r => r.Worker == worker && !r.Closed);
        if (existing is not null) return existing;
        var router = await worker.CreateRouterAsync(new RouterOptions { MediaCodecs = _settings.MediaCodecs });
        lock (_extraRouters) _extraRouters.Add(router);
        return router;
    }

    /// <summary>
    /// Ferry's version (the engine assembly's informational version, e.g. "1.0.0+commit"), sent where
    /// mediasoup-demo sends mediasoup's (the mediasoup-version notification).
    /// </summary>
    public static string FerryVersion { get; } =
        typeof(Router).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Router).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>When the room was created.</summary>
    public DateTime CreatedAt { get; } = DateTime.UtcNow;

    /// <summary>Its peers (joined or not).</summary>
    public IReadOnlyCollection<Peer> Peers => (IReadOnlyCollection<Peer>)_peers.Values;

    /// <summary>True once closed.</summary>
    public bool Closed { get; private set; }

    /// <summary>Raised once when the room closes (its last peer left).</summary>
    public event Action<Room>? RoomClosed;

    /// <summary>Raised after a request that may have changed the room's state (off the room's lock).</summary>
    internal event Action<Room>? Changed;

    internal static async Task<Room> CreateAsync(string id, Worker worker, RoomSettings settings, ILogger logger)
    {
        var router = await worker.CreateRouterAsync(new RouterOptions { MediaCodecs = settings.MediaCodecs });
        var audioLevels = await router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 1, Threshold = -80, Interval = 800 });
        return new Room(id, router, audioLevels, settings, logger);
    }

    /// <summary>
    /// A new WebSocket for <paramref name="peerId"/>: replaces an older connection with that id, as
    /// mediasoup-demo does. Null when the room closed meanwhile (its last peer left): the caller then
    /// takes a new room. The new peer is in before the old one leaves, so a reload never empties the room.
    /// </summary>
    /// <exception cref="ProtooRequestException">The room is full (403).</exception>
    internal async Task<Peer?> TryAddPeerAsync(string peerId, ProtooConnection connection)
    {
        await _lock.WaitAsync();
        try
        {
            if (Closed) return null;
            if (MovedTo is not null)
            {
                // A connection that found the room before it moved to another node: the close frame says where it lives now.
                throw new ProtooRequestException($"room {Id} moved to {MovedTo}", 410);
            }
            _peers.TryGetValue(peerId, out var old);
            if (old is { Closed: false, Connection: AwaitingPeerChannel awaiting })
            {
                // The room moved here from another node and this is its peer reconnecting: the session goes on.
                connection.OnRequest = (method, data) => HandleAsync(old, method, data);
                connection.Notify("mediasoup-version", new { version = FerryVersion });
                // The cluster may have changed since it joined (the room came here because a node died).
                if (_settings.NodeUrls() is { Count: > 1 } urls) connection.Notify("ferryNodes", new { urls });
                // What waited goes first; then the peer's notifications go to the connection itself.
                awaiting.Attach(connection);
                old.Connection = connection;
                _logger.LogInformation("peer {PeerId} of room {RoomId} reconnected after the room moved here", peerId, Id);
                return old;
            }
            if (old is null && _peers.Count >= _settings.MaxPeersPerRoom)
                throw new ProtooRequestException($"room \"{Id}\" is full: at most {_settings.MaxPeersPerRoom} peers (--max-peers-per-room)", 403);
            var peer = new Peer(peerId, connection);
            connection.OnRequest = (method, data) => HandleAsync(peer, method, data);
            _peers[peerId] = peer;
            // mediasoup-demo's first message to a new peer; its app shows the server's version.
            connection.Notify("mediasoup-version", new { version = FerryVersion });
            if (old is not null)
            {
                await old.Connection.CloseAsync("replaced by a new connection");
                await RemovePeerLockedAsync(old);
            }
            return peer;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The peer left (socket closed): close its transports, tell the others, close the room when empty.</summary>
    internal async Task RemovePeerAsync(Peer peer)
    {
        await _lock.WaitAsync();
        try
        {
            await RemovePeerLockedAsync(peer);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>True when <paramref name="peerId"/> is not in the room and the room has no place left.</summary>
    internal bool IsFullFor(string peerId) => !_peers.ContainsKey(peerId) && _peers.Count >= _settings.MaxPeersPerRoom;

    /// <summary>Closes the room if it has no peer (one created for a request that was then refused).</summary>
    internal async Task CloseIfEmptyAsync()
    {
        await _lock.WaitAsync();
        try
        {
            await CloseIfEmptyLockedAsync("no peer");
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task RemovePeerLockedAsync(Peer peer)
    {
        if (peer.Closed) return;
        peer.Closed = true;
        if (_peers.TryGetValue(peer.Id, out var current) && current == peer) _peers.TryRemove(peer.Id, out _);
        // The room lives on another node now: its transports here are relays that end by themselves.
        if (MovedTo is not null) return;
        if (peer.Joined)
        {
            foreach (var other in JoinedPeers(except: peer)) other.Connection.Notify("peerClosed", new { peerId = peer.Id });
        }
        foreach (var t in peer.Transports.Values) await t.Transport.CloseAsync();
        peer.Transports.Clear();
        await CloseIfEmptyLockedAsync("last peer left");
    }

    private async Task CloseIfEmptyLockedAsync(string why)
    {
        if (!_peers.IsEmpty || Closed) return;
        // Closed first, under the lock: a peer arriving now sees it and takes a new room (TryAddPeerAsync).
        Closed = true;
        RoomClosed?.Invoke(this);
        foreach (var router in Routers) await router.CloseAsync();
        _logger.LogInformation("room {RoomId} closed ({Why})", Id, why);
    }

    private IEnumerable<Peer> JoinedPeers(Peer? except = null) => _peers.Values.Where(p => p.Joined && !p.Closed && p != except);

    private async Task<ProtooResult> HandleAsync(Peer peer, string method, System.Text.Json.JsonElement data)
    {
        await _lock.WaitAsync();
        try
        {
            if (MovedTo is not null) throw new ProtooRequestException($"room {Id} moved to {MovedTo}: reconnect there", 410);
            if (peer.Closed || Closed) throw new ProtooRequestException("peer closed");
            var result = await DispatchAsync(peer, method, data);
            // What the standby's copy holds: every request but the reads may change it (consumers made after the answer
            // are caught by the next periodic copy).
            if (!method.StartsWith("get", StringComparison.Ordinal)) Changed?.Invoke(this);
            return result;
        }
        finally
        {
            _lock.Release();
        }
    }
}

/// <summary>What every room of a node is created with.</summary>
public sealed record RoomSettings
{
    /// <summary>The cluster's node URLs (sent to each peer that joins, to reconnect to if its node dies); none without a cluster.</summary>
    public Func<IReadOnlyList<string>> NodeUrls { get; init; } = () => [];

    /// <summary>The router's codecs.</summary>
    public required IReadOnlyList<Ferry.Protocols.Ortc.RtpCodecCapability> MediaCodecs { get; init; }

    /// <summary>IP the RTC sockets bind.</summary>
    public required string RtcListenIp { get; init; }

    /// <summary>Address for ICE candidates, when not the bound IP.</summary>
    public string? AnnouncedAddress { get; init; }

    /// <summary>
    /// The cap every WebRTC transport asks its endpoint to keep to (setMaxIncomingBitrate, sent as REMB);
    /// 0 for none. Default 1,500,000 bps, mediasoup-demo's webRtcTransportOptions.maxIncomingBitrate.
    /// </summary>
    public long MaxIncomingBitrate { get; init; } = 1_500_000;

    /// <summary>
    /// Where a WebRtcTransport listens, as mediasoup-demo configures it: UDP and TCP on the RTC IP, ports
    /// from the workers' RTC range, UDP first (the order is the candidates' preference, so browsers
    /// prefer UDP); only TCP when the client asks forceTcp, as mediasoup-demo filters its listen infos.
    /// </summary>
    public IReadOnlyList<TransportListenInfo> WebRtcListenInfos(bool forceTcp)
    {
        var tcp = new TransportListenInfo { Protocol = Ferry.Protocols.Ortc.TransportProtocolName.Tcp, Ip = RtcListenIp, AnnouncedAddress = AnnouncedAddress };
        if (forceTcp) return [tcp];
        return [new TransportListenInfo { Protocol = Ferry.Protocols.Ortc.TransportProtocolName.Udp, Ip = RtcListenIp, AnnouncedAddress = AnnouncedAddress }, tcp];
    }

    /// <summary>Largest size (UTF-8 bytes, as JSON) of each field a peer sends that others receive.</summary>
    public int MaxPeerFieldBytes { get; init; } = 4096;

    /// <summary>Peers (broadcasters included) in one room.</summary>
    public int MaxPeersPerRoom { get; init; } = 100;

    /// <summary>Transports of one peer.</summary>
    public int MaxTransportsPerPeer { get; init; } = 4;

    /// <summary>Producers of one peer.</summary>
    public int MaxProducersPerPeer { get; init; } = 16;

    /// <summary>Consumers of one peer.</summary>
    public int MaxConsumersPerPeer { get; init; } = 1000;

    /// <summary>Data producers of one peer.</summary>
    public int MaxDataProducersPerPeer { get; init; } = 16;

    /// <summary>Data consumers of one peer.</summary>
    public int MaxDataConsumersPerPeer { get; init; } = 1000;

    /// <summary>
    /// After a room moved by snapshot, how long a transport holds what arrives on a far end's new path until the old
    /// path's last datagrams are through (the engine's <c>PathSwitchHoldTime</c>, 100 ms by default). Browsers reorder
    /// a few packets without a sound, but hear a gap: measured with two Chromium pages under load, the 100 ms hold
    /// cost 2–3 concealments per page in 10 moves and failed 3 windows of 3, 20 ms and 0 ms passed the first window.
    /// Default 20 ms.
    /// </summary>
    public TimeSpan PathSwitchHoldTime { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Where a PlainTransport listens (UDP only, as in mediasoup).</summary>
    public TransportListenInfo PlainListenInfo => new() { Ip = RtcListenIp, AnnouncedAddress = AnnouncedAddress };
}
