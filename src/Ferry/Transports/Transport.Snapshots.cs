using System.Globalization;
using System.Text.Json;
using Ferry.Data;
using Ferry.Mobility;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;

namespace Ferry.Transports;

/// <summary>
/// Bringing producers, consumers, data producers and data consumers back to life from their snapshots
/// (exported in another worker or process): each is created as produce/consume would create it, with
/// the snapshot's id and parameters, then its state is restored on this transport's loop, times rebased
/// on this loop's clock. Every check runs before anything is registered: a refused import changes nothing.
/// </summary>
public abstract partial class Transport
{
    /// <summary>Creates a producer from <paramref name="snapshot"/>: same id, parameters, learnt SSRCs, statistics, NACK and key frame request state.</summary>
    /// <exception cref="NotSupportedException">A snapshot version this code does not read.</exception>
    /// <exception cref="ArgumentException">Invalid parameters, or a producer with the same id already in this transport or router.</exception>
    /// <exception cref="InvalidOperationException">An SSRC or MID already in this transport's listener.</exception>
    /// <exception cref="UnsupportedException">A codec this router lacks.</exception>
    public Task<Producer> ImportProducerAsync(ProducerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfClosed();
        if (snapshot.Version != ProducerSnapshot.CurrentVersion) throw new NotSupportedException($"ProducerSnapshot version {snapshot.Version} not supported");
        var kind = ParseKind(snapshot.Kind);
        var parameters = RtpParametersValidation.ValidateForProducer(kind, ParseRtpParameters(snapshot.RtpParameters));
        if ((parameters.Encodings?.Count ?? 0) != snapshot.Streams.Count) throw new ArgumentException("snapshot streams do not match the encodings");
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (_producers.ContainsKey(snapshot.Id) || Router.TryGetProducer(snapshot.Id, out _))
                throw new ArgumentException($"a Producer with same id \"{snapshot.Id}\" already exists");
            foreach (var s in snapshot.Streams)
            {
                if (s.Ssrc is { } ssrc && _ssrcTable.ContainsKey(ssrc)) throw new InvalidOperationException($"ssrc already exists in RTP listener [ssrc:{ssrc}]");
                if (s.RtxSsrc is { } rtx && _ssrcTable.ContainsKey(rtx)) throw new InvalidOperationException($"ssrc already exists in RTP listener [ssrc:{rtx}]");
            }
            parameters = ApplyCnamePolicy(parameters);
            // The same mapped SSRCs as in the exporting router: consumers and pipes there named them.
            uint? firstMapped = snapshot.Streams.Count > 0 ? snapshot.Streams[0].MappedSsrc : null;
            var mapping = RtpParametersNegotiation.GetProducerMapping(parameters, Router.RtpCapabilities, out parameters, firstMapped);
            var consumable = RtpParametersNegotiation.GetConsumableParameters(kind, parameters, Router.RtpCapabilities, mapping);
            var type = RtpParametersValidation.ProducerTypeOf(parameters);
            if (Producer.TypeName(type) != snapshot.Type) throw new ArgumentException($"snapshot type {snapshot.Type} does not match its parameters ({Producer.TypeName(type)})");
            var options = new ProducerOptions
            {
                Id = snapshot.Id, Kind = kind, RtpParameters = parameters, Paused = snapshot.Paused,
                KeyFrameRequestDelay = TimeSpan.FromTicks(snapshot.KeyFrameRequestDelayMicros * 10),
            };
            var producer = new Producer(this, options, parameters, mapping, consumable, type);
            try
            {
                producer.ImportSnapshotState(snapshot, Loop.Now);
                AddToListener(producer);
            }
            catch
            {
                producer.DiscardUnregistered();
                throw;
            }
            try
            {
                Router.AddProducer(producer);
            }
            catch
            {
                RemoveFromListener(producer);
                producer.DiscardUnregistered();
                throw;
            }
            _producers.Add(producer.Id, producer);
            Events.Emit(ObserverNewProducer, producer, Logger);
            return producer;
        });
    }

    /// <summary>
    /// Creates a consumer from <paramref name="snapshot"/> on this transport: same id, RTP parameters (output
    /// SSRCs, MID), layers, priority and paused state; its output continues the exported one's numbering.
    /// The producer it consumes (<see cref="ConsumerSnapshot.ProducerId"/>) must be in this transport's router
    /// (a pipe producer, a replica, or the producer itself).
    /// </summary>
    /// <exception cref="NotSupportedException">A snapshot version this code does not read.</exception>
    /// <exception cref="InvalidOperationException">The producer is not in this router, or does not match the snapshot; the id or an SSRC is already used on this transport.</exception>
    /// <exception cref="ArgumentException">Invalid snapshot.</exception>
    public Task<Consumer> ImportConsumerAsync(ConsumerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfClosed();
        if (snapshot.Version != ConsumerSnapshot.CurrentVersion) throw new NotSupportedException($"ConsumerSnapshot version {snapshot.Version} not supported");
        var kind = ParseKind(snapshot.Kind);
        var type = Consumer.ParseType(snapshot.Type) ?? throw new ArgumentException($"unknown consumer type \"{snapshot.Type}\"");
        var parameters = ParseRtpParameters(snapshot.RtpParameters);
        if (parameters.Encodings is not { Count: > 0 } encodings || encodings.Any(e => e.Ssrc is null)) throw new ArgumentException("consumer parameters without SSRCs");
        if ((type == ConsumerType.Pipe) != (this is PipeTransport)) throw new InvalidOperationException(type == ConsumerType.Pipe ? "a pipe consumer goes on a PipeTransport" : "only pipe consumers go on a PipeTransport");
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!Router.TryGetProducer(snapshot.ProducerId, out var producer) || producer.Closed)
                throw new InvalidOperationException($"Producer with id \"{snapshot.ProducerId}\" not found in router {Router.Id}: pipe it here before importing its consumer");
            if (producer.Kind != kind) throw new InvalidOperationException($"Producer \"{producer.Id}\" is {producer.Kind}, the snapshot's consumer {snapshot.Kind}");
            var expected = type == ConsumerType.Pipe ? type : producer.Type switch
            {
                ProducerType.Simulcast => ConsumerType.Simulcast,
                ProducerType.Svc => ConsumerType.Svc,
                _ => ConsumerType.Simple,
            };
            if (expected != type) throw new InvalidOperationException($"Producer \"{producer.Id}\" gives {Consumer.TypeName(expected)} consumers, the snapshot is {snapshot.Type}");
            if (type == ConsumerType.Pipe && encodings.Count != producer.Streams.Length) throw new InvalidOperationException("pipe consumer encodings do not match the producer's");
            if (_consumers.ContainsKey(snapshot.Id)) throw new InvalidOperationException($"a Consumer with same id \"{snapshot.Id}\" already exists");
            var ssrcs = encodings.SelectMany(e => e.Rtx?.Ssrc is { } r ? new[] { e.Ssrc!.Value, r } : [e.Ssrc!.Value]).ToList();
            foreach (var ssrc in ssrcs)
            {
                if (_consumersBySsrc.ContainsKey(ssrc)) throw new InvalidOperationException($"ssrc {ssrc} already sent by a consumer of this transport");
            }
            var options = new ConsumerOptions
            {
                ProducerId = producer.Id, RtpCapabilities = new RtpCapabilities(), Paused = snapshot.Paused, IgnoreDtx = snapshot.IgnoreDtx,
                PreferredLayers = snapshot.PreferredSpatialLayer is { } spatial ? new ConsumerLayers(spatial, snapshot.PreferredTemporalLayer) : null,
            };
            var consumer = new Consumer(this, producer, options, parameters, type, snapshot.Id);
            consumer.ImportSnapshotState(snapshot, Loop.Now);
            _consumers.Add(consumer.Id, consumer);
            _consumersBySsrc[consumer.Ssrc] = consumer;
            if (consumer.RtxSsrc is { } rtxSsrc) _consumersBySsrc[rtxSsrc] = consumer;
            foreach (var pipeSsrc in consumer.PipeSsrcs) _consumersBySsrc[pipeSsrc] = consumer;
            // A MID taken by an import is not handed out again by this transport's counter.
            if (parameters.Mid is { } mid && int.TryParse(mid, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= _nextMid && n < 99_999_999) _nextMid = n + 1;
            producer.AddConsumer(consumer);
            OnConsumerSetChanged(consumer, added: true);
            EnsureRtcpTimer();
            Events.Emit(ObserverNewConsumer, consumer, Logger);
            consumer.OnImported();
            return consumer;
        });
    }

    /// <summary>Creates a data producer from <paramref name="snapshot"/>: same id, stream, label, protocol, paused state and counters.</summary>
    /// <exception cref="NotSupportedException">A snapshot version this code does not read.</exception>
    /// <exception cref="ArgumentException">Invalid stream parameters, or a data producer with the same id already here.</exception>
    /// <exception cref="InvalidOperationException">The kind does not fit this transport (sctp without SCTP, direct on another transport), or the stream id is in use.</exception>
    public Task<DataProducer> ImportDataProducerAsync(DataProducerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfClosed();
        if (snapshot.Version != DataProducerSnapshot.CurrentVersion) throw new NotSupportedException($"DataProducerSnapshot version {snapshot.Version} not supported");
        var direct = this is DirectTransport;
        if (direct != (snapshot.Type == "direct")) throw new InvalidOperationException($"a {snapshot.Type} data producer does not fit a {GetType().Name}");
        var parameters = direct ? null : SctpStreamValidation.Validate(DataProducer.FromSnapshot(snapshot.SctpStream));
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!direct && Sctp is null) throw new InvalidOperationException("SCTP not enabled and not a direct Transport");
            if (parameters is not null)
            {
                if (parameters.StreamId >= Sctp!.Parameters.Mis) throw new ArgumentException($"streamId {parameters.StreamId} not below MIS {Sctp.Parameters.Mis}");
                if (_dataProducersByStream.ContainsKey((ushort)parameters.StreamId)) throw new InvalidOperationException($"streamId {parameters.StreamId} already in use");
            }
            if (_dataProducers.ContainsKey(snapshot.Id) || Router.TryGetDataProducer(snapshot.Id, out _))
                throw new ArgumentException($"a DataProducer with same id \"{snapshot.Id}\" already exists");
            var options = new DataProducerOptions { Id = snapshot.Id, SctpStreamParameters = parameters, Label = snapshot.Label, Protocol = snapshot.Protocol, Paused = snapshot.Paused };
            var producer = new DataProducer(this, snapshot.Id, direct ? DataType.Direct : DataType.Sctp, parameters, options);
            producer.ImportSnapshotState(snapshot);
            Router.AddDataProducer(producer);
            _dataProducers.Add(producer.Id, producer);
            if (parameters is not null) _dataProducersByStream[(ushort)parameters.StreamId] = producer;
            Events.Emit(ObserverNewDataProducer, producer, Logger);
            return producer;
        });
    }

    /// <summary>
    /// Creates a data consumer from <paramref name="snapshot"/>: same id, the same SCTP stream (the endpoint's
    /// DataChannel is on it), paused state, subchannels and counters. Its data producer must be in this router.
    /// </summary>
    /// <exception cref="NotSupportedException">A snapshot version this code does not read.</exception>
    /// <exception cref="InvalidOperationException">Data producer not found, no SCTP, the stream id or the id already in use.</exception>
    public Task<DataConsumer> ImportDataConsumerAsync(DataConsumerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfClosed();
        if (snapshot.Version != DataConsumerSnapshot.CurrentVersion) throw new NotSupportedException($"DataConsumerSnapshot version {snapshot.Version} not supported");
        var direct = this is DirectTransport;
        if (direct != (snapshot.Type == "direct")) throw new InvalidOperationException($"a {snapshot.Type} data consumer does not fit a {GetType().Name}");
        // Not the producer's validation: consumeData copies the producer's reliability under its own ordering (as mediasoup).
        var parameters = direct ? null : DataProducer.FromSnapshot(snapshot.SctpStream) ?? throw new ArgumentException("an sctp data consumer needs its stream");
        if (parameters is { StreamId: < 0 or > 65534 }) throw new ArgumentException($"invalid streamId {parameters.StreamId}");
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!Router.TryGetDataProducer(snapshot.DataProducerId, out var producer) || producer.Closed)
                throw new InvalidOperationException($"DataProducer with id \"{snapshot.DataProducerId}\" not found in router {Router.Id}");
            if (_dataConsumers.ContainsKey(snapshot.Id)) throw new InvalidOperationException($"a DataConsumer with same id \"{snapshot.Id}\" already exists");
            if (parameters is not null)
            {
                if (Sctp is not { } sctp) throw new InvalidOperationException("SCTP not enabled on this transport");
                if (parameters.StreamId >= sctp.Parameters.Mis) throw new InvalidOperationException($"streamId {parameters.StreamId} not below MIS {sctp.Parameters.Mis}");
                _sctpStreamIds ??= new bool[sctp.Parameters.Mis];
                if (_sctpStreamIds[parameters.StreamId]) throw new InvalidOperationException($"sctpStreamId {parameters.StreamId} already in use");
            }
            var options = new DataConsumerOptions { DataProducerId = producer.Id, Paused = snapshot.Paused, Subchannels = snapshot.Subchannels };
            var consumer = new DataConsumer(this, producer, snapshot.Id, direct ? DataType.Direct : DataType.Sctp, parameters, options);
            consumer.ImportSnapshotState(snapshot);
            if (parameters is not null) _sctpStreamIds![parameters.StreamId] = true;
            _dataConsumers.Add(consumer.Id, consumer);
            producer.AddConsumer(consumer);
            if (producer.Closed) consumer.OnDataProducerClosed();
            Events.Emit(ObserverNewDataConsumer, consumer, Logger);
            return consumer;
        });
    }

    private static MediaKind ParseKind(string kind) => kind switch
    {
        "audio" => MediaKind.Audio,
        "video" => MediaKind.Video,
        _ => throw new ArgumentException($"unknown kind \"{kind}\""),
    };

    private static RtpParameters ParseRtpParameters(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, OrtcJson.Default.RtpParameters) ?? throw new ArgumentException("missing rtpParameters");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"invalid rtpParameters: {e.Message}", e);
        }
    }
}
