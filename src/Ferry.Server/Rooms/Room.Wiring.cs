using System.Text.Json.Nodes;
using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>
/// What the room listens to on each media object (scores, closes, the downlink estimate) and passes on to
/// peers. Done when an object is made and again for the object a move between processes brings to life
/// under the same id: the peer's maps then point at the new object, and a handler of the old one must not
/// remove the new one's entry (every removal checks it removes its own object).
/// </summary>
public sealed partial class Room
{
    private async Task WireTransportAsync(Peer peer, WebRtcTransport transport)
    {
        transport.DtlsStateChange += state =>
        {
            if (state is DtlsStateName.Failed or DtlsStateName.Closed)
                _logger.LogWarning("transport {TransportId} of peer {PeerId}: dtls {State}", transport.Id, peer.Id, state);
        };
        // As mediasoup-demo: the outgoing estimate of every transport goes to its peer as downlinkBwe (only a
        // transport with consumers has one).
        await transport.EnableTraceEventAsync(["bwe"]);
        transport.Trace += trace =>
        {
            if (trace.Type != "bwe" || trace.Direction != "out" || peer.Closed) return;
            peer.Connection.Notify("downlinkBwe", new
            {
                desiredBitrate = trace.Info.DesiredBitrate,
                effectiveDesiredBitrate = trace.Info.EffectiveDesiredBitrate,
                availableBitrate = trace.Info.AvailableBitrate,
            });
        };
    }

    private static void WireProducer(Peer peer, Producer producer)
    {
        peer.Producers[producer.Id] = producer;
        producer.TransportClose += () => peer.Producers.TryRemove(KeyValuePair.Create(producer.Id, producer));
        producer.ScoreChange += score =>
        {
            if (Current(peer.Producers, producer.Id, producer)) peer.Connection.Notify("producerScore", new { producerId = producer.Id, score });
        };
    }

    private static void WireConsumer(Peer consumerPeer, Consumer consumer)
    {
        consumerPeer.Consumers[consumer.Id] = consumer;
        consumer.TransportClose += () => consumerPeer.Consumers.TryRemove(KeyValuePair.Create(consumer.Id, consumer));
        consumer.ProducerClose += () =>
        {
            // A consumer left behind by a move (its successor has the id) says nothing.
            if (consumerPeer.Consumers.TryRemove(KeyValuePair.Create(consumer.Id, consumer))) consumerPeer.Connection.Notify("consumerClosed", new { consumerId = consumer.Id });
        };
        consumer.ProducerPause += () => NotifyIfCurrent("consumerPaused", new { consumerId = consumer.Id });
        consumer.ProducerResume += () => NotifyIfCurrent("consumerResumed", new { consumerId = consumer.Id });
        consumer.ScoreChange += score => NotifyIfCurrent("consumerScore", new { consumerId = consumer.Id, score });
        // No layers (the consumer or its producer paused): mediasoup-demo's server sends both as null, which
        // the anonymous object would leave out (ServerJson writes no nulls).
        consumer.LayersChange += layers => NotifyIfCurrent("consumerLayersChanged", layers is { } l
            ? new { consumerId = consumer.Id, spatialLayer = l.SpatialLayer, temporalLayer = l.TemporalLayer }
            : new JsonObject { ["consumerId"] = consumer.Id, ["spatialLayer"] = null, ["temporalLayer"] = null });

        void NotifyIfCurrent(string method, object data)
        {
            if (Current(consumerPeer.Consumers, consumer.Id, consumer)) consumerPeer.Connection.Notify(method, data);
        }
    }

    private static void WireDataProducer(Peer peer, DataProducer dataProducer)
    {
        peer.DataProducers[dataProducer.Id] = dataProducer;
        dataProducer.TransportClose += () => peer.DataProducers.TryRemove(KeyValuePair.Create(dataProducer.Id, dataProducer));
    }

    private static void WireDataConsumer(Peer consumerPeer, DataConsumer dataConsumer)
    {
        consumerPeer.DataConsumers[dataConsumer.Id] = dataConsumer;
        dataConsumer.TransportClose += () => consumerPeer.DataConsumers.TryRemove(KeyValuePair.Create(dataConsumer.Id, dataConsumer));
        dataConsumer.DataProducerClose += () =>
        {
            if (!consumerPeer.DataConsumers.TryRemove(KeyValuePair.Create(dataConsumer.Id, dataConsumer))) return;
            // The peer hears of it before its DataChannel closes (mediasoup's order): mediasoup-demo's app
            // reports a channel that closes unannounced as an error. Sent is not enough (the socket and the
            // client's reader are slower than the media path), so the reset waits for the app to close the
            // channel itself, as it does on this notification, or for a grace after the send.
            var told = consumerPeer.Connection.NotifyAsync("dataConsumerClosed", new { dataConsumerId = dataConsumer.Id });
            dataConsumer.DelayStreamReset(told.ContinueWith(_ => Task.Delay(DataChannelCloseGrace), TaskScheduler.Default).Unwrap());
        };
    }

    /// <summary>
    /// A transport a move brought to life (same id, new object) becomes the peer's, with everything on it: each
    /// object gets the appData <paramref name="appDataOf"/> gives for (kind, id) and is wired as a new one is.
    /// </summary>
    private async Task AdoptTransportAsync(Peer peer, WebRtcTransport transport, bool producing, bool consuming, bool connected, object? appData,
        Func<string, string, object?> appDataOf)
    {
        transport.AppData = appData;
        peer.Transports[transport.Id] = new PeerTransport(transport, producing, consuming) { Connected = connected };
        await WireTransportAsync(peer, transport);
        foreach (var producer in await transport.GetProducersAsync())
        {
            producer.AppData = appDataOf("producer", producer.Id);
            WireProducer(peer, producer);
        }
        foreach (var consumer in await transport.GetConsumersAsync())
        {
            consumer.AppData = appDataOf("consumer", consumer.Id);
            WireConsumer(peer, consumer);
        }
        foreach (var dataProducer in await transport.GetDataProducersAsync())
        {
            dataProducer.AppData = appDataOf("dataProducer", dataProducer.Id);
            WireDataProducer(peer, dataProducer);
        }
        foreach (var dataConsumer in await transport.GetDataConsumersAsync())
        {
            dataConsumer.AppData = appDataOf("dataConsumer", dataConsumer.Id);
            WireDataConsumer(peer, dataConsumer);
        }
    }

    /// <summary>The object the peer's map holds under <paramref name="id"/> now (a move may have replaced <paramref name="item"/>), else <paramref name="item"/>.</summary>
    private static T Latest<T>(System.Collections.Concurrent.ConcurrentDictionary<string, T> map, string id, T item) where T : class =>
        map.TryGetValue(id, out var current) ? current : item;

    /// <summary>True when <paramref name="item"/> is the object the peer's map holds under <paramref name="id"/> (not one a move replaced).</summary>
    private static bool Current<T>(System.Collections.Concurrent.ConcurrentDictionary<string, T> map, string id, T item) where T : class =>
        map.TryGetValue(id, out var current) && ReferenceEquals(current, item);
}
