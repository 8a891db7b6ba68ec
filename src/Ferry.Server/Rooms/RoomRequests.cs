using System.Text.Json;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Server.Signaling;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>The request methods of mediasoup-demo's room protocol.</summary>
public sealed partial class Room
{
    private Task<ProtooResult> DispatchAsync(Peer peer, string method, JsonElement data) => method switch
    {
        "getRouterRtpCapabilities" => Task.FromResult(new ProtooResult(Router.RtpCapabilities)),
        "join" => JoinAsync(peer, data),
        "createWebRtcTransport" => CreateWebRtcTransportAsync(peer, data),
        "connectWebRtcTransport" => ConnectWebRtcTransportAsync(peer, data),
        "restartIce" => RestartIceAsync(peer, data),
        "produce" => ProduceAsync(peer, data),
        "closeProducer" => WithProducer(peer, data, async p => { await p.CloseAsync(); peer.Producers.TryRemove(p.Id, out _); }),
        "pauseProducer" => WithProducer(peer, data, p => p.PauseAsync()),
        "resumeProducer" => WithProducer(peer, data, p => p.ResumeAsync()),
        "pauseConsumer" => WithConsumer(peer, data, c => c.PauseAsync()),
        "resumeConsumer" => WithConsumer(peer, data, c => c.ResumeAsync()),
        "setConsumerPreferredLayers" => WithConsumer(peer, data, c => c.SetPreferredLayersAsync(
            new ConsumerLayers(ServerJson.Read<int>(data, "spatialLayer"), ServerJson.ReadOptional<int?>(data, "temporalLayer")))),
        "setConsumerPriority" => WithConsumer(peer, data, c => c.SetPriorityAsync(ServerJson.Read<int>(data, "priority"))),
        "requestConsumerKeyFrame" => WithConsumer(peer, data, c => c.RequestKeyFrameAsync()),
        "changeDisplayName" => ChangeDisplayNameAsync(peer, data),
        "getTransportStats" => GetTransportStatsAsync(peer, data),
        "getProducerStats" => GetProducerStatsAsync(peer, data),
        "getConsumerStats" => GetConsumerStatsAsync(peer, data),
        "produceData" => ProduceDataAsync(peer, data),
        "getDataProducerStats" => GetDataProducerStatsAsync(peer, data),
        "getDataConsumerStats" => GetDataConsumerStatsAsync(peer, data),
        "applyNetworkThrottle" or "resetNetworkThrottle" => throw new ProtooRequestException("network throttling is not supported"),
        _ => throw new ProtooRequestException($"unknown request.method \"{method}\""),
    };

    private Task<ProtooResult> JoinAsync(Peer peer, JsonElement data)
    {
        if (peer.Joined) throw new ProtooRequestException("Peer already joined");
        var displayName = CheckField("displayName", ServerJson.ReadOptional<string>(data, "displayName") ?? "");
        var device = CheckField("device", data.ValueKind == JsonValueKind.Object && data.TryGetProperty("device", out var d) ? d.Clone() : default);
        var rtpCapabilities = ServerJson.ReadOptional<RtpCapabilities>(data, "rtpCapabilities");
        // Malformed capabilities would only make every later consume fail silently: refuse them here.
        if (rtpCapabilities is not null) Ferry.Ortc.RtpParametersValidation.ValidateCapabilities(rtpCapabilities);
        var sctpCapabilities = ServerJson.ReadOptional<SctpCapabilities>(data, "sctpCapabilities");
        peer.DisplayName = displayName;
        peer.Device = device;
        peer.RtpCapabilities = rtpCapabilities;
        peer.SctpCapabilities = sctpCapabilities;
        peer.Joined = true;
        var others = JoinedPeers(except: peer).ToList();
        var peerInfos = others.Select(p => new { id = p.Id, displayName = p.DisplayName, device = p.Device.ValueKind == JsonValueKind.Undefined ? (object?)null : p.Device }).ToList();
        foreach (var other in others)
            other.Connection.Notify("newPeer", new { id = peer.Id, displayName, device = device.ValueKind == JsonValueKind.Undefined ? (object?)null : device });
        // Where to reconnect if this peer's node dies: any node serves any room (the room may come back on another).
        if (_settings.NodeUrls() is { Count: > 1 } urls) peer.Connection.Notify("ferryNodes", new { urls });
        // Each consumer's newConsumer is waited on by itself: one unanswered request delays no other.
        return Task.FromResult(new ProtooResult(new { peers = peerInfos }, () => Task.WhenAll(others.SelectMany(other =>
            other.Producers.Values.Select(producer => CreateConsumerAsync(peer, other, producer))
                .Concat(other.DataProducers.Values.Select(dataProducer => CreateDataConsumerAsync(peer, other, dataProducer)))).ToList())));
    }

    private async Task<ProtooResult> CreateWebRtcTransportAsync(Peer peer, JsonElement data)
    {
        CheckLimit(peer.Transports.Count, _settings.MaxTransportsPerPeer, "transports", "max-transports-per-peer");
        var forceTcp = ServerJson.ReadOptional<bool>(data, "forceTcp");
        var producing = ServerJson.ReadOptional<bool>(data, "producing");
        var consuming = ServerJson.ReadOptional<bool>(data, "consuming");
        // mediasoup-demo: data channels on the transport when the client sent its sctpCapabilities, with its stream counts.
        var sctpCapabilities = ServerJson.ReadOptional<SctpCapabilities>(data, "sctpCapabilities");
        var numStreams = sctpCapabilities?.NumStreams;
        if (numStreams is not null && (numStreams.Os is < 1 or > 65535 || numStreams.Mis is < 1 or > 65535))
            throw new ProtooRequestException("invalid sctpCapabilities.numStreams");
        var transport = await Router.CreateWebRtcTransportAsync(new WebRtcTransportOptions
        {
            ListenInfos = _settings.WebRtcListenInfos(forceTcp),
            EnableSctp = sctpCapabilities is not null,
            NumSctpStreams = numStreams ?? new NumSctpStreams { Os = 1024, Mis = 1024 },
            AppData = new Dictionary<string, object?> { ["peerId"] = peer.Id, ["producing"] = producing, ["consuming"] = consuming },
        });
        peer.Transports[transport.Id] = new PeerTransport(transport, producing, consuming);
        // As mediasoup-demo: every endpoint is asked to keep under the incoming cap (below), and hears its downlink estimate.
        await WireTransportAsync(peer, transport);
        var result = new ProtooResult(new
        {
            id = transport.Id,
            iceParameters = transport.IceParameters,
            iceCandidates = transport.IceCandidates,
            dtlsParameters = transport.DtlsParameters,
            sctpParameters = transport.SctpParameters,
        });
        if (_settings.MaxIncomingBitrate > 0) await transport.SetMaxIncomingBitrateAsync(_settings.MaxIncomingBitrate);
        return result;
    }

    private PeerTransport FindTransport(Peer peer, JsonElement data)
    {
        var id = ServerJson.ReadString(data, "transportId");
        return peer.Transports.TryGetValue(id, out var t) ? t : throw new ProtooRequestException($"transport with id \"{id}\" not found");
    }

    private async Task<ProtooResult> ConnectWebRtcTransportAsync(Peer peer, JsonElement data)
    {
        var t = FindTransport(peer, data);
        var dtlsParameters = ServerJson.Read<DtlsParameters>(data, "dtlsParameters");
        await t.WebRtc.ConnectAsync(dtlsParameters);
        t.Connected = true;
        return new ProtooResult(null);
    }

    private async Task<ProtooResult> RestartIceAsync(Peer peer, JsonElement data)
    {
        var t = FindTransport(peer, data);
        return new ProtooResult(await t.WebRtc.RestartIceAsync());
    }

    private async Task<ProtooResult> ProduceAsync(Peer peer, JsonElement data)
    {
        if (!peer.Joined) throw new ProtooRequestException("Peer not yet joined");
        var t = FindTransport(peer, data);
        if (!t.Connected) throw new ProtooRequestException($"transport with id \"{t.Transport.Id}\" is not connected (call connectWebRtcTransport first)");
        CheckLimit(peer.Producers.Count, _settings.MaxProducersPerPeer, "producers", "max-producers-per-peer");
        var kind = ServerJson.Read<MediaKind>(data, "kind");
        var rtpParameters = ServerJson.Read<RtpParameters>(data, "rtpParameters");
        var appData = new Dictionary<string, object?>();
        if (data.TryGetProperty("appData", out var a) && CheckField("appData", a).ValueKind == JsonValueKind.Object)
        {
            foreach (var p in a.EnumerateObject()) appData[p.Name] = p.Value.Clone();
        }
        appData["peerId"] = peer.Id;
        var producer = await t.Transport.ProduceAsync(new ProducerOptions { Kind = kind, RtpParameters = rtpParameters, AppData = appData });
        WireProducer(peer, producer);
        if (kind == MediaKind.Audio) await AudioLevels.AddProducerAsync(new Ferry.RtpObservers.RtpObserverAddRemoveProducerOptions { ProducerId = producer.Id });
        var others = JoinedPeers(except: peer).ToList();
        // Every peer is asked at once: a silent one costs only itself.
        return new ProtooResult(new { id = producer.Id }, () => Task.WhenAll(others.Select(other => CreateConsumerAsync(other, peer, producer)).ToList()));
    }

    /// <summary>
    /// mediasoup-demo's _createConsumer: a paused consumer on the peer's consuming transport, the
    /// newConsumer request to its client, and resume once the client has it (so the first packet it
    /// gets is from a key frame).
    /// </summary>
    private async Task CreateConsumerAsync(Peer consumerPeer, Peer producerPeer, Producer producer)
    {
        Consumer consumer;
        await _lock.WaitAsync();
        try
        {
            // Broadcasters consume only what they ask for through the HTTP API.
            if (consumerPeer.Closed || consumerPeer.IsBroadcaster || producer.Closed || consumerPeer.RtpCapabilities is not { } caps) return;
            if (consumerPeer.Consumers.Count >= _settings.MaxConsumersPerPeer)
            {
                _logger.LogWarning("peer {PeerId} not given a consumer of {ProducerId}: it has {Max} (--max-consumers-per-peer)", consumerPeer.Id, producer.Id, _settings.MaxConsumersPerPeer);
                return;
            }
            var transport = consumerPeer.Transports.Values.FirstOrDefault(t => t.Consuming)?.Transport;
            if (transport is null)
            {
                _logger.LogWarning("peer {PeerId} has no consuming transport", consumerPeer.Id);
                return;
            }
            // The consuming transport may live in another router of the room (it was moved): bring the producer there.
            await transport.Router.ImportProducerAsync(producer);
            if (!transport.Router.CanConsume(producer.Id, caps)) return;
            consumer = await transport.ConsumeAsync(new ConsumerOptions
            {
                ProducerId = producer.Id, RtpCapabilities = caps, Paused = true, EnableRtx = true, IgnoreDtx = true,
            });
            // In the peer's map before the lock goes: a move of the room from now on carries it and replaces it there.
            WireConsumer(consumerPeer, consumer);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            _logger.LogWarning(e, "consume failed for peer {PeerId}", consumerPeer.Id);
            return;
        }
        finally
        {
            _lock.Release();
        }
        var connection = consumerPeer.Connection;
        try
        {
            await connection.RequestAsync("newConsumer", new
            {
                peerId = producerPeer.Id,
                producerId = producer.Id,
                id = consumer.Id,
                kind = consumer.Kind,
                rtpParameters = consumer.RtpParameters,
                type = consumer.Type,
                appData = producer.AppData,
                producerPaused = consumer.ProducerPaused,
            });
            // The room may have moved while the client answered: the consumer is the one the peer's map holds now.
            var current = Latest(consumerPeer.Consumers, consumer.Id, consumer);
            await current.ResumeAsync();
            // A consumer made and resumed by the server, not by a request: the standby's copy must learn it now, or a
            // take-over within the next periodic copy would bring it back paused.
            Changed?.Invoke(this);
            consumerPeer.Connection.Notify("consumerScore", new { consumerId = current.Id, score = current.Score });
        }
        catch (Exception e) when (e is ProtooRequestException or TimeoutException or InvalidOperationException)
        {
            _logger.LogWarning("newConsumer to peer {PeerId} failed: {Reason}", consumerPeer.Id, e.Message);
            var current = Latest(consumerPeer.Consumers, consumer.Id, consumer);
            await current.CloseAsync();
            consumerPeer.Consumers.TryRemove(KeyValuePair.Create(current.Id, current));
        }
    }

    private static async Task<ProtooResult> WithProducer(Peer peer, JsonElement data, Func<Producer, Task> action)
    {
        var id = ServerJson.ReadString(data, "producerId");
        if (!peer.Producers.TryGetValue(id, out var producer)) throw new ProtooRequestException($"producer with id \"{id}\" not found");
        await action(producer);
        return new ProtooResult(null);
    }

    private static async Task<ProtooResult> WithConsumer(Peer peer, JsonElement data, Func<Consumer, Task> action)
    {
        var id = ServerJson.ReadString(data, "consumerId");
        if (!peer.Consumers.TryGetValue(id, out var consumer)) throw new ProtooRequestException($"consumer with id \"{id}\" not found");
        await action(consumer);
        return new ProtooResult(null);
    }

    private Task<ProtooResult> ChangeDisplayNameAsync(Peer peer, JsonElement data)
    {
        if (!peer.Joined) throw new ProtooRequestException("Peer not yet joined");
        var displayName = CheckField("displayName", ServerJson.ReadString(data, "displayName"));
        var old = peer.DisplayName;
        peer.DisplayName = displayName;
        foreach (var other in JoinedPeers(except: peer))
            other.Connection.Notify("peerDisplayNameChanged", new { peerId = peer.Id, displayName, oldDisplayName = old });
        return Task.FromResult(new ProtooResult(null));
    }

    private async Task<ProtooResult> GetTransportStatsAsync(Peer peer, JsonElement data) =>
        new(await FindTransport(peer, data).WebRtc.GetStatsAsync());

    private static async Task<ProtooResult> GetProducerStatsAsync(Peer peer, JsonElement data)
    {
        var id = ServerJson.ReadString(data, "producerId");
        if (!peer.Producers.TryGetValue(id, out var producer)) throw new ProtooRequestException($"producer with id \"{id}\" not found");
        return new ProtooResult(await producer.GetStatsAsync());
    }

    private static async Task<ProtooResult> GetConsumerStatsAsync(Peer peer, JsonElement data)
    {
        var id = ServerJson.ReadString(data, "consumerId");
        if (!peer.Consumers.TryGetValue(id, out var consumer)) throw new ProtooRequestException($"consumer with id \"{id}\" not found");
        return new ProtooResult(await consumer.GetStatsAsync());
    }

    /// <summary>
    /// A field others will receive (every peer gets a copy queued): refused above the size limit, so one
    /// peer cannot make the server hold its input once per other peer.
    /// </summary>
    private string CheckField(string name, string value, int code = 500)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(value);
        if (bytes > _settings.MaxPeerFieldBytes) throw FieldTooLarge(name, bytes, code);
        return value;
    }

    private JsonElement CheckField(string name, JsonElement value, int code = 500)
    {
        if (value.ValueKind == JsonValueKind.Undefined) return value;
        var bytes = System.Text.Encoding.UTF8.GetByteCount(value.GetRawText());
        if (bytes > _settings.MaxPeerFieldBytes) throw FieldTooLarge(name, bytes, code);
        return value;
    }

    private ProtooRequestException FieldTooLarge(string name, int bytes, int code) =>
        new($"{name} too large: {bytes} bytes, at most {_settings.MaxPeerFieldBytes} (--max-peer-field-bytes)", code);

    private static void CheckLimit(int count, int max, string what, string option)
    {
        if (count >= max) throw new ProtooRequestException($"too many {what}: at most {max} per peer (--{option})", 429);
    }
}
