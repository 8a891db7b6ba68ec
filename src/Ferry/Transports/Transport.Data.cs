using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;

namespace Ferry.Transports;

/// <summary>Data producers and data consumers (mediasoup's produceData/consumeData).</summary>
public abstract partial class Transport
{
    private readonly Dictionary<string, DataProducer> _dataProducers = new();
    private readonly Dictionary<string, DataConsumer> _dataConsumers = new();
    private readonly Dictionary<ushort, DataProducer> _dataProducersByStream = new();
    private bool[]? _sctpStreamIds;
    // Streams of closed data consumers whose reset is held (DataConsumer.DelayStreamReset); their ids stay taken.
    private readonly HashSet<ushort> _heldStreamResets = [];
    private int _nextSctpStreamId;

    /// <summary>Raised when a data producer is created on it.</summary>
    public event Action<DataProducer>? ObserverNewDataProducer;
    /// <summary>Raised when a data consumer is created on it.</summary>
    public event Action<DataConsumer>? ObserverNewDataConsumer;

    /// <summary>The SCTP association of this transport, when it has one (WebRtcTransport with enableSctp).</summary>
    internal virtual SctpLink? Sctp => null;

    /// <summary>Incoming SCTP messages on a stream no data producer uses (counted, dropped).</summary>
    public long DataMessagesDropped { get; private protected set; }

    /// <summary>Its data producers (loop only).</summary>
    internal IReadOnlyCollection<DataProducer> DataProducers => _dataProducers.Values;

    /// <summary>Its data consumers (loop only).</summary>
    internal IReadOnlyCollection<DataConsumer> DataConsumers => _dataConsumers.Values;

    /// <summary>
    /// Creates a data producer (mediasoup's transport.produceData()): on an SCTP transport the endpoint
    /// sends its messages on <see cref="DataProducerOptions.SctpStreamParameters"/>' stream; on a
    /// DirectTransport the application injects them with <see cref="DataProducer.Send(ReadOnlySpan{byte}, uint?, IReadOnlyList{int}?, int?)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid sctpStreamParameters or id (TypeError).</exception>
    /// <exception cref="InvalidOperationException">No SCTP on a non-direct transport, or a stream id already in use.</exception>
    public Task<DataProducer> ProduceDataAsync(DataProducerOptions options)
    {
        ThrowIfClosed();
        if (options is null) throw new ArgumentException("missing options");
        if (options.Id is "") throw new ArgumentException("if given, id must be a non empty string");
        var direct = this is DirectTransport;
        var parameters = direct ? null : SctpStreamValidation.Validate(options.SctpStreamParameters);
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!direct && Sctp is not { } sctp) throw new InvalidOperationException("SCTP not enabled and not a direct Transport");
            if (parameters is not null)
            {
                if (parameters.StreamId >= Sctp!.Parameters.Mis) throw new ArgumentException($"streamId {parameters.StreamId} not below MIS {Sctp.Parameters.Mis}");
                if (_dataProducersByStream.ContainsKey((ushort)parameters.StreamId)) throw new InvalidOperationException($"streamId {parameters.StreamId} already in use");
            }
            var id = options.Id ?? Guid.NewGuid().ToString();
            if (_dataProducers.ContainsKey(id)) throw new ArgumentException($"a DataProducer with same id \"{id}\" already exists");
            var producer = new DataProducer(this, id, direct ? DataType.Direct : DataType.Sctp, parameters, options);
            Router.AddDataProducer(producer);
            _dataProducers.Add(id, producer);
            if (parameters is not null) _dataProducersByStream[(ushort)parameters.StreamId] = producer;
            Events.Emit(ObserverNewDataProducer, producer, Logger);
            return producer;
        });
    }

    /// <summary>
    /// Creates a data consumer of a data producer of this router (mediasoup's transport.consumeData()).
    /// On an SCTP transport it gets a stream id of its own (round robin over a table of MIS entries,
    /// freed when it closes) and the producer's parameters unless overridden.
    /// </summary>
    /// <exception cref="ArgumentException">Missing dataProducerId or bad overrides (TypeError).</exception>
    /// <exception cref="InvalidOperationException">Data producer not found, no SCTP, or no stream id left.</exception>
    public Task<DataConsumer> ConsumeDataAsync(DataConsumerOptions options)
    {
        ThrowIfClosed();
        if (options is null || string.IsNullOrEmpty(options.DataProducerId)) throw new ArgumentException("missing dataProducerId");
        if (options.MaxPacketLifeTime is not null && options.MaxRetransmits is not null) throw new ArgumentException("cannot provide both maxPacketLifeTime and maxRetransmits");
        if (options.MaxPacketLifeTime is < 0 or > 65535 || options.MaxRetransmits is < 0 or > 65535) throw new ArgumentException("invalid maxPacketLifeTime or maxRetransmits");
        var direct = this is DirectTransport;
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!Router.TryGetDataProducer(options.DataProducerId, out var producer) || producer.Closed)
                throw new InvalidOperationException($"DataProducer with id \"{options.DataProducerId}\" not found");
            SctpStreamParameters? parameters = null;
            if (!direct)
            {
                if (Sctp is not { } sctp) throw new ArgumentException("missing sctpParameters.MIS");
                // mediasoup copies the producer's parameters and applies the overrides given.
                var b = producer.SctpStreamParameters ?? new SctpStreamParameters { StreamId = 0, Ordered = true };
                var overridden = b with
                {
                    Ordered = options.Ordered ?? b.Ordered ?? true,
                    MaxPacketLifeTime = options.MaxPacketLifeTime ?? (options.MaxRetransmits is null ? b.MaxPacketLifeTime : null),
                    MaxRetransmits = options.MaxRetransmits ?? (options.MaxPacketLifeTime is null ? b.MaxRetransmits : null),
                };
                var streamId = AllocateSctpStreamId(sctp.Parameters.Mis);
                parameters = overridden with { StreamId = streamId };
            }
            var consumer = new DataConsumer(this, producer, Guid.NewGuid().ToString(), direct ? DataType.Direct : DataType.Sctp, parameters, options);
            _dataConsumers.Add(consumer.Id, consumer);
            producer.AddConsumer(consumer);
            // The producer closed between the lookup and the registration (it lives on another loop): so does this one.
            if (producer.Closed) consumer.OnDataProducerClosed();
            Events.Emit(ObserverNewDataConsumer, consumer, Logger);
            return consumer;
        });
    }

    private int AllocateSctpStreamId(int mis)
    {
        _sctpStreamIds ??= new bool[mis];
        for (var i = 0; i < _sctpStreamIds.Length; i++)
        {
            var id = (_nextSctpStreamId + i) % _sctpStreamIds.Length;
            if (_sctpStreamIds[id]) continue;
            _sctpStreamIds[id] = true;
            _nextSctpStreamId = id + 1;
            return id;
        }
        throw new InvalidOperationException("no sctpStreamId available");
    }

    /// <summary>Its data producers.</summary>
    public Task<IReadOnlyList<DataProducer>> GetDataProducersAsync() => InvokeAsync(() => (IReadOnlyList<DataProducer>)_dataProducers.Values.ToList());

    /// <summary>Its data consumers.</summary>
    public Task<IReadOnlyList<DataConsumer>> GetDataConsumersAsync() => InvokeAsync(() => (IReadOnlyList<DataConsumer>)_dataConsumers.Values.ToList());

    /// <summary>Runs <paramref name="action"/> now when on this transport's loop, else posts it there.</summary>
    internal void RunOnLoop(Action action)
    {
        if (Loop.IsOwnThread && !Router.InTransit) action();
        else Post(action);
    }

    /// <summary>A message from the endpoint on an SCTP stream: to the data producer of that stream.</summary>
    internal void OnSctpMessage(ushort streamId, uint ppid, ReadOnlySpan<byte> data)
    {
        if (!_dataProducersByStream.TryGetValue(streamId, out var producer))
        {
            DataMessagesDropped++;
            return;
        }
        producer.Receive(ppid, data);
    }

    /// <summary>Sends a data consumer's message to the endpoint (SCTP stream, or the Message event of a direct consumer).</summary>
    internal virtual SctpSendResult SendDataMessage(DataConsumer consumer, uint ppid, ReadOnlySpan<byte> data)
    {
        if (Sctp is not { } sctp || consumer.SctpStreamParameters is not { } p) return SctpSendResult.Closed;
        return sctp.Send((ushort)p.StreamId, ppid, data, consumer.SendOptions);
    }

    internal void CloseDataProducerOnLoop(DataProducer producer, bool byTransport)
    {
        if (!_dataProducers.Remove(producer.Id)) return;
        if (producer.SctpStreamParameters is { } p)
        {
            _dataProducersByStream.Remove((ushort)p.StreamId);
            // The endpoint's DataChannel closes: its stream is reset (mediasoup resets it too).
            if (!byTransport) Sctp?.ResetStream((ushort)p.StreamId);
        }
        Router.RemoveDataProducer(producer);
        foreach (var router in producer.ImportedInto) router.RemoveDataProducer(producer);
        producer.CloseOnLoop(byTransport);
    }

    internal void CloseDataConsumerOnLoop(DataConsumer consumer, DataConsumerCloseReason reason)
    {
        if (!_dataConsumers.Remove(consumer.Id)) return;
        // The close events first, then the stream reset (mediasoup's order): a DataProducerClose listener
        // tells the endpoint before its DataChannel closes, and may hold the reset until it has.
        var hold = consumer.CloseOnLoop(reason);
        if (consumer.SctpStreamParameters is not { } p) return;
        var streamId = (ushort)p.StreamId;
        if (reason == DataConsumerCloseReason.TransportClosed) FreeSctpStreamId(streamId);
        else if (hold is null || hold.IsCompleted) ResetSctpStream(streamId);
        else
        {
            _heldStreamResets.Add(streamId);
            hold.ContinueWith(_ => Post(() =>
                {
                    // Not when the endpoint closed its half meanwhile (answered already), nor on a closed transport.
                    if (!Closed && _heldStreamResets.Remove(streamId)) ResetSctpStream(streamId);
                }), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The endpoint reset its half of <paramref name="streams"/> (all when empty): its DataChannel closed, so a
    /// held reset has nothing left to wait for, and the association answered with ours already.
    /// </summary>
    internal void OnSctpIncomingReset(IReadOnlyCollection<ushort> streams)
    {
        if (_heldStreamResets.Count == 0) return;
        foreach (var id in streams.Count == 0 ? _heldStreamResets.ToArray() : streams)
        {
            if (_heldStreamResets.Remove(id)) FreeSctpStreamId(id);
        }
    }

    // The id is free only once reset: a consumer given it earlier would have its stream reset under it.
    private void ResetSctpStream(ushort streamId)
    {
        Sctp?.ResetStream(streamId);
        FreeSctpStreamId(streamId);
    }

    private void FreeSctpStreamId(ushort streamId)
    {
        if (_sctpStreamIds is { } table && streamId < table.Length) table[streamId] = false;
    }

    /// <summary>Closes every data producer and consumer (the transport is closing).</summary>
    private void CloseDataOnLoop()
    {
        foreach (var producer in _dataProducers.Values.ToArray()) CloseDataProducerOnLoop(producer, byTransport: true);
        foreach (var consumer in _dataConsumers.Values.ToArray()) CloseDataConsumerOnLoop(consumer, DataConsumerCloseReason.TransportClosed);
    }

    /// <summary>Data producers leave the source router's map for the target's during a move (their consumers keep them by reference).</summary>
    private void MoveDataProducers(Router source, Router target)
    {
        foreach (var producer in _dataProducers.Values)
        {
            source.RemoveDataProducer(producer);
            // It may have been imported into the target already: it is simply at home there now.
            producer.ImportedInto.Remove(target);
            target.SetDataProducer(producer);
        }
    }
}
