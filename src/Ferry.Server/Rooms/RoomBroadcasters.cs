using System.Text.Json;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Server.Signaling;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>
/// mediasoup-demo's broadcasters: senders without a WebSocket (ffmpeg or GStreamer over a
/// PlainTransport, or a WebRTC client driven over HTTP) that join a room, produce, and consume only
/// what they ask for. Every joined peer consumes their producers as any other peer's.
/// </summary>
public sealed partial class Room
{
    private async Task<T> LockedAsync<T>(Func<Task<T>> action)
    {
        await _lock.WaitAsync();
        try
        {
            if (Closed) throw new ProtooRequestException("room closed");
            return await action();
        }
        finally
        {
            _lock.Release();
        }
    }

    private Peer Broadcaster(string broadcasterId) =>
        _peers.TryGetValue(broadcasterId, out var peer) && peer.IsBroadcaster && !peer.Closed ? peer
            : throw new ProtooRequestException($"broadcaster with id \"{broadcasterId}\" does not exist", 404);

    /// <summary>Adds a broadcaster; answers the peers already in the room.</summary>
    public Task<object> CreateBroadcasterAsync(string id, string displayName, JsonElement device, RtpCapabilities? rtpCapabilities) => LockedAsync<object>(() =>
    {
        if (_peers.ContainsKey(id)) throw new ProtooRequestException($"broadcaster with id \"{id}\" already exists", 409);
        if (_peers.Count >= _settings.MaxPeersPerRoom) throw new ProtooRequestException($"room \"{Id}\" is full: at most {_settings.MaxPeersPerRoom} peers (--max-peers-per-room)", 403);
        CheckField("displayName", displayName, 400);
        CheckField("device", device, 400);
        var peer = new Peer(id, SilentChannel.Instance, broadcaster: true)
        {
            DisplayName = displayName, Device = device, RtpCapabilities = rtpCapabilities, Joined = true,
        };
        var others = JoinedPeers(except: peer).ToList();
        _peers[id] = peer;
        foreach (var other in others)
            other.Connection.Notify("newPeer", new { id, displayName, device = device.ValueKind == JsonValueKind.Undefined ? (object?)null : device });
        var peers = others.Select(p => new
        {
            id = p.Id, displayName = p.DisplayName, device = p.Device.ValueKind == JsonValueKind.Undefined ? (object?)null : p.Device,
            producers = p.Producers.Values.Select(x => new { id = x.Id, kind = x.Kind }).ToList(),
        }).ToList();
        return Task.FromResult<object>(new { peers });
    });

    /// <summary>Removes a broadcaster with everything it created.</summary>
    public async Task DeleteBroadcasterAsync(string broadcasterId)
    {
        Peer peer;
        await _lock.WaitAsync();
        try { peer = Broadcaster(broadcasterId); }
        finally { _lock.Release(); }
        await RemovePeerAsync(peer);
    }

    /// <summary>A transport for a broadcaster: "plain" (comedia, rtcpMux as given) or "webrtc".</summary>
    public Task<object> CreateBroadcasterTransportAsync(string broadcasterId, string type, bool comedia, bool rtcpMux) => LockedAsync<object>(async () =>
    {
        var peer = Broadcaster(broadcasterId);
        CheckLimit(peer.Transports.Count, _settings.MaxTransportsPerPeer, "transports", "max-transports-per-peer");
        switch (type)
        {
            case "webrtc":
            {
                var t = await Router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = _settings.WebRtcListenInfos(forceTcp: false) });
                peer.Transports[t.Id] = new PeerTransport(t, Producing: true, Consuming: true);
                return new { id = t.Id, iceParameters = t.IceParameters, iceCandidates = t.IceCandidates, dtlsParameters = t.DtlsParameters, sctpParameters = t.SctpParameters };
            }
            case "plain":
            {
                var t = await Router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = _settings.PlainListenInfo, Comedia = comedia, RtcpMux = rtcpMux });
                peer.Transports[t.Id] = new PeerTransport(t, Producing: true, Consuming: true) { Connected = true };
                return new { id = t.Id, ip = t.Tuple.LocalAddress, port = t.Tuple.LocalPort, rtcpPort = t.RtcpTuple?.LocalPort };
            }
            default:
                throw new ProtooRequestException("type must be \"plain\" or \"webrtc\"", 400);
        }
    });

    private PeerTransport BroadcasterTransport(string broadcasterId, string transportId) =>
        Broadcaster(broadcasterId).Transports.TryGetValue(transportId, out var t) ? t
            : throw new ProtooRequestException($"transport with id \"{transportId}\" does not exist", 404);

    /// <summary>Connects a broadcaster's WebRTC transport (DTLS parameters) or plain transport (ip/port, when not comedia).</summary>
    public Task<object> ConnectBroadcasterTransportAsync(string broadcasterId, string transportId, DtlsParameters? dtls, string? ip, int? port, int? rtcpPort) => LockedAsync<object>(async () =>
    {
        var t = BroadcasterTransport(broadcasterId, transportId);
        switch (t.Transport)
        {
            case WebRtcTransport web:
                await web.ConnectAsync(dtls ?? throw new ProtooRequestException("missing dtlsParameters", 400));
                break;
            case PlainTransport plain:
                await plain.ConnectAsync(ip, port, rtcpPort);
                break;
        }
        t.Connected = true;
        return new { };
    });

    /// <summary>A broadcaster's producer; every joined peer consumes it.</summary>
    public async Task<object> CreateBroadcasterProducerAsync(string broadcasterId, string transportId, MediaKind kind, RtpParameters rtpParameters)
    {
        Peer peer = null!;
        Producer producer = null!;
        List<Peer> others = [];
        await LockedAsync<object>(async () =>
        {
            peer = Broadcaster(broadcasterId);
            var t = BroadcasterTransport(broadcasterId, transportId);
            CheckLimit(peer.Producers.Count, _settings.MaxProducersPerPeer, "producers", "max-producers-per-peer");
            producer = await t.Transport.ProduceAsync(new ProducerOptions
            {
                Kind = kind, RtpParameters = rtpParameters, AppData = new Dictionary<string, object?> { ["peerId"] = peer.Id },
            });
            peer.Producers[producer.Id] = producer;
            producer.TransportClose += () => peer.Producers.TryRemove(producer.Id, out _);
            if (kind == MediaKind.Audio) await AudioLevels.AddProducerAsync(new Ferry.RtpObservers.RtpObserverAddRemoveProducerOptions { ProducerId = producer.Id });
            others = JoinedPeers(except: peer).ToList();
            return producer;
        });
        // As mediasoup-demo: the answer does not wait for the peers' newConsumer answers (a silent peer would hold it).
        _ = Task.WhenAll(others.Select(other => CreateConsumerAsync(other, peer, producer)).ToList()).ContinueWith(
            t => _logger.LogWarning(t.Exception, "consumers of broadcaster {PeerId}", peer.Id), TaskContinuationOptions.OnlyOnFaulted);
        return new { id = producer.Id };
    }

    /// <summary>A broadcaster consumes a producer of the room (paused until it asks to resume).</summary>
    public Task<object> CreateBroadcasterConsumerAsync(string broadcasterId, string transportId, string producerId) => LockedAsync<object>(async () =>
    {
        var peer = Broadcaster(broadcasterId);
        var t = BroadcasterTransport(broadcasterId, transportId);
        if (peer.RtpCapabilities is not { } caps) throw new ProtooRequestException("broadcaster does not have rtpCapabilities", 400);
        CheckLimit(peer.Consumers.Count, _settings.MaxConsumersPerPeer, "consumers", "max-consumers-per-peer");
        var producer = _peers.Values.SelectMany(p => p.Producers.Values).FirstOrDefault(p => p.Id == producerId)
            ?? throw new ProtooRequestException($"producer with id \"{producerId}\" does not exist", 404);
        await t.Transport.Router.ImportProducerAsync(producer);
        if (!t.Transport.Router.CanConsume(producerId, caps)) throw new ProtooRequestException("cannot consume", 400);
        var consumer = await t.Transport.ConsumeAsync(new ConsumerOptions { ProducerId = producerId, RtpCapabilities = caps, Paused = true });
        peer.Consumers[consumer.Id] = consumer;
        consumer.TransportClose += () => peer.Consumers.TryRemove(consumer.Id, out _);
        consumer.ProducerClose += () => peer.Consumers.TryRemove(consumer.Id, out _);
        return new { id = consumer.Id, producerId, kind = consumer.Kind, rtpParameters = consumer.RtpParameters, type = consumer.Type };
    });

    /// <summary>Resumes a broadcaster's consumer.</summary>
    public Task<object> ResumeBroadcasterConsumerAsync(string broadcasterId, string consumerId) => LockedAsync<object>(async () =>
    {
        var peer = Broadcaster(broadcasterId);
        if (!peer.Consumers.TryGetValue(consumerId, out var consumer)) throw new ProtooRequestException($"consumer with id \"{consumerId}\" does not exist", 404);
        await consumer.ResumeAsync();
        return new { };
    });
}
