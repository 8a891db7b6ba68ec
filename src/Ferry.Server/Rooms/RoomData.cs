using System.Text.Json;
using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Server.Signaling;

namespace Ferry.Server.Rooms;

/// <summary>Data channels in mediasoup-demo's room protocol: produceData, newDataConsumer, dataConsumerClosed, stats.</summary>
public sealed partial class Room
{
    /// <summary>How long a data consumer's stream waits, after dataConsumerClosed went out, for the peer to close its DataChannel before the server resets it.</summary>
    public static readonly TimeSpan DataChannelCloseGrace = TimeSpan.FromSeconds(1);

    private async Task<ProtooResult> ProduceDataAsync(Peer peer, JsonElement data)
    {
        if (!peer.Joined) throw new ProtooRequestException("Peer not yet joined");
        CheckLimit(peer.DataProducers.Count, _settings.MaxDataProducersPerPeer, "data producers", "max-data-producers-per-peer");
        var t = FindTransport(peer, data);
        var sctpStreamParameters = ServerJson.Read<SctpStreamParameters>(data, "sctpStreamParameters");
        var label = CheckField("label", ServerJson.ReadOptional<string>(data, "label") ?? "");
        var protocol = CheckField("protocol", ServerJson.ReadOptional<string>(data, "protocol") ?? "");
        var appData = new Dictionary<string, object?>();
        if (data.TryGetProperty("appData", out var a) && CheckField("appData", a).ValueKind == JsonValueKind.Object)
        {
            foreach (var p in a.EnumerateObject()) appData[p.Name] = p.Value.Clone();
        }
        appData["peerId"] = peer.Id;
        DataProducer dataProducer;
        try
        {
            dataProducer = await t.Transport.ProduceDataAsync(new DataProducerOptions
            {
                SctpStreamParameters = sctpStreamParameters, Label = label, Protocol = protocol, AppData = appData,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ProtooRequestException(e.Message);
        }
        WireDataProducer(peer, dataProducer);
        var others = JoinedPeers(except: peer).ToList();
        return new ProtooResult(new { id = dataProducer.Id }, async () =>
        {
            // mediasoup-demo gives every other peer a data consumer of "chat" producers (its "bot" producers go to its bot, which Ferry has not).
            if (dataProducer.Label != "chat") return;
            await Task.WhenAll(others.Select(other => CreateDataConsumerAsync(other, peer, dataProducer)).ToList());
        });
    }

    /// <summary>
    /// mediasoup-demo's _createDataConsumer: a data consumer on the peer's consuming transport (when the
    /// peer uses data channels at all), then the newDataConsumer request with its stream parameters.
    /// </summary>
    private async Task CreateDataConsumerAsync(Peer consumerPeer, Peer producerPeer, DataProducer dataProducer)
    {
        DataConsumer dataConsumer;
        await _lock.WaitAsync();
        try
        {
            if (consumerPeer.Closed || consumerPeer.IsBroadcaster || dataProducer.Closed || consumerPeer.SctpCapabilities is null) return;
            if (consumerPeer.DataConsumers.Count >= _settings.MaxDataConsumersPerPeer)
            {
                _logger.LogWarning("peer {PeerId} not given a data consumer of {DataProducerId}: it has {Max} (--max-data-consumers-per-peer)", consumerPeer.Id, dataProducer.Id, _settings.MaxDataConsumersPerPeer);
                return;
            }
            var transport = consumerPeer.Transports.Values.FirstOrDefault(t => t.Consuming)?.Transport;
            if (transport is null)
            {
                _logger.LogWarning("peer {PeerId} has no consuming transport for data", consumerPeer.Id);
                return;
            }
            // The consuming transport may live in another router of the room (it was moved).
            await transport.Router.ImportDataProducerAsync(dataProducer);
            dataConsumer = await transport.ConsumeDataAsync(new DataConsumerOptions { DataProducerId = dataProducer.Id });
            WireDataConsumer(consumerPeer, dataConsumer);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            _logger.LogWarning(e, "consumeData failed for peer {PeerId}", consumerPeer.Id);
            return;
        }
        finally
        {
            _lock.Release();
        }
        var connection = consumerPeer.Connection;
        try
        {
            await connection.RequestAsync("newDataConsumer", new
            {
                peerId = producerPeer.Id,
                dataProducerId = dataProducer.Id,
                id = dataConsumer.Id,
                sctpStreamParameters = dataConsumer.SctpStreamParameters,
                label = dataConsumer.Label,
                protocol = dataConsumer.Protocol,
                appData = dataProducer.AppData,
            });
            // Made by the server, not by a request: the standby's copy must learn it now.
            Changed?.Invoke(this);
        }
        catch (Exception e) when (e is ProtooRequestException or TimeoutException or InvalidOperationException)
        {
            _logger.LogWarning("newDataConsumer to peer {PeerId} failed: {Reason}", consumerPeer.Id, e.Message);
            var current = Latest(consumerPeer.DataConsumers, dataConsumer.Id, dataConsumer);
            await current.CloseAsync();
            consumerPeer.DataConsumers.TryRemove(KeyValuePair.Create(current.Id, current));
        }
    }

    private static async Task<ProtooResult> GetDataProducerStatsAsync(Peer peer, JsonElement data)
    {
        var id = ServerJson.ReadString(data, "dataProducerId");
        if (!peer.DataProducers.TryGetValue(id, out var dataProducer)) throw new ProtooRequestException($"dataProducer with id \"{id}\" not found");
        return new ProtooResult(await dataProducer.GetStatsAsync());
    }

    private static async Task<ProtooResult> GetDataConsumerStatsAsync(Peer peer, JsonElement data)
    {
        var id = ServerJson.ReadString(data, "dataConsumerId");
        if (!peer.DataConsumers.TryGetValue(id, out var dataConsumer)) throw new ProtooRequestException($"dataConsumer with id \"{id}\" not found");
        return new ProtooResult(await dataConsumer.GetStatsAsync());
    }
}
