using System.Collections.Concurrent;
using Ferry.Loop;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.RtpObservers;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry;

/// <summary>
/// A router (a "room"): its transports, and the producers any of them may consume. Lives on its
/// worker's loop; the async methods post there.
/// </summary>
public sealed partial class Router
{
    private readonly ConcurrentDictionary<string, Transport> _transports = new();
    private readonly ConcurrentDictionary<string, Producer> _producers = new();
    private readonly ConcurrentDictionary<string, RtpObserver> _rtpObservers = new();
    private readonly ConcurrentDictionary<string, Data.DataProducer> _dataProducers = new();
    private readonly ILogger _logger;
    private volatile bool _closed;

    internal Router(Worker worker, RtpCapabilities rtpCapabilities, object? appData)
    {
        _worker = worker;
        Id = Guid.NewGuid().ToString();
        RtpCapabilities = rtpCapabilities;
        AppData = appData;
        _logger = worker.LoggerFactory.CreateLogger<Router>();
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }

    /// <summary>The worker it lives on (changes when the router moves).</summary>
    public Worker Worker => _worker;

    /// <summary>The capabilities generated from its media codecs; what clients load their device with.</summary>
    public RtpCapabilities RtpCapabilities { get; }

    /// <summary>Application data.</summary>
    public object? AppData { get; set; }

    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Its transports.</summary>
    public IReadOnlyCollection<Transport> Transports => (IReadOnlyCollection<Transport>)_transports.Values;

    /// <summary>Raised when the router closes because its worker closed.</summary>
    public event Action? WorkerClose;

    /// <summary>Raised when the router closes, for whatever reason.</summary>
    public event Action? ObserverClose;

    /// <summary>Raised when a transport is created.</summary>
    public event Action<Transport>? ObserverNewTransport;

    /// <summary>Raised when an RtpObserver is created.</summary>
    public event Action<RtpObserver>? ObserverNewRtpObserver;

    /// <summary>Its RtpObservers.</summary>
    public IReadOnlyCollection<RtpObserver> RtpObservers => (IReadOnlyCollection<RtpObserver>)_rtpObservers.Values;

    internal EventLoop Loop => _worker.Loop;

    internal ILogger Logger => _logger;

    /// <summary>Creates a WebRtcTransport (ICE-lite, DTLS, SRTP) listening as the options say.</summary>
    /// <exception cref="ArgumentException">Invalid options (mediasoup's TypeError).</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<WebRtcTransport> CreateWebRtcTransportAsync(WebRtcTransportOptions options)
    {
        ThrowIfClosed();
        options.Validate();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var transport = WebRtcTransport.Create(this, options);
            AddTransport(transport);
            return transport;
        });
    }

    /// <summary>Creates a DirectTransport: RTP and RTCP injected and received from C#.</summary>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<DirectTransport> CreateDirectTransportAsync(DirectTransportOptions? options = null)
    {
        ThrowIfClosed();
        options ??= new DirectTransportOptions();
        options.Validate();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var transport = new DirectTransport(this, options);
            AddTransport(transport);
            return transport;
        });
    }

    /// <summary>Creates an AudioLevelObserver: periodic volumes of the audio producers added to it.</summary>
    /// <exception cref="ArgumentException">Invalid options (mediasoup's TypeError).</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<AudioLevelObserver> CreateAudioLevelObserverAsync(AudioLevelObserverOptions? options = null)
    {
        ThrowIfClosed();
        options ??= new AudioLevelObserverOptions();
        options.Validate();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var observer = new AudioLevelObserver(this, options);
            AddRtpObserver(observer);
            return observer;
        });
    }

    /// <summary>Creates an ActiveSpeakerObserver: the dominant speaker among the audio producers added to it.</summary>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<ActiveSpeakerObserver> CreateActiveSpeakerObserverAsync(ActiveSpeakerObserverOptions? options = null)
    {
        ThrowIfClosed();
        options ??= new ActiveSpeakerObserverOptions();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var observer = new ActiveSpeakerObserver(this, options);
            AddRtpObserver(observer);
            return observer;
        });
    }

    /// <summary>
    /// Whether an endpoint with <paramref name="rtpCapabilities"/> can consume the producer. False for an
    /// unknown producer or invalid capabilities, as mediasoup.
    /// </summary>
    public bool CanConsume(string producerId, RtpCapabilities rtpCapabilities)
    {
        if (!_producers.TryGetValue(producerId, out var producer))
        {
            _logger.LogError("canConsume() | Producer with id {ProducerId} not found", producerId);
            return false;
        }
        try
        {
            return RtpParametersNegotiation.CanConsume(producer.ConsumableRtpParameters, rtpCapabilities);
        }
        catch (Exception e) when (e is ArgumentException or UnsupportedException)
        {
            _logger.LogError(e, "canConsume() | unexpected error");
            return false;
        }
    }

    /// <summary>Closes the router and everything in it. Closing twice is a no-op.</summary>
    public async Task CloseAsync()
    {
        if (_closed) return;
        try
        {
            await InvokeAsync(() => CloseOnLoop(RouterCloseReason.Closed)).ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (Worker.Closed)
        {
            // The worker stopped meanwhile; it closed us.
        }
    }

    /// <summary>A mediasoup-style dump: ids of what the router holds and who consumes whom.</summary>
    public Task<RouterDump> DumpAsync()
    {
        ThrowIfClosed();
        return InvokeAsync(() => new RouterDump
        {
            Id = Id,
            TransportIds = _transports.Keys.Order(StringComparer.Ordinal).ToList(),
            RtpObserverIds = _rtpObservers.Keys.Order(StringComparer.Ordinal).ToList(),
            MapProducerIdConsumerIds = _producers.Values.ToDictionary(p => p.Id, p => (IReadOnlyList<string>)p.Consumers.Select(c => c.Id).ToList()),
            MapConsumerIdProducerId = _producers.Values.SelectMany(p => p.Consumers).ToDictionary(c => c.Id, c => c.ProducerId),
            MapDataProducerIdDataConsumerIds = _dataProducers.Values.Where(p => p.Transport.Router == this)
                .ToDictionary(p => p.Id, p => (IReadOnlyList<string>)p.Consumers.Select(c => c.Id).ToList()),
            MapDataConsumerIdDataProducerId = _dataProducers.Values.Where(p => p.Transport.Router == this).SelectMany(p => p.Consumers)
                .ToDictionary(c => c.Id, c => c.DataProducerId),
        });
    }

    internal bool TryGetProducer(string id, out Producer producer) => _producers.TryGetValue(id, out producer!);

    internal bool TryGetDataProducer(string id, out Data.DataProducer producer) => _dataProducers.TryGetValue(id, out producer!);

    internal void AddDataProducer(Data.DataProducer producer)
    {
        if (!_dataProducers.TryAdd(producer.Id, producer)) throw new InvalidOperationException($"a DataProducer with same id \"{producer.Id}\" already exists");
    }

    /// <summary>Registers a data producer that arrived with a moved transport (replacing an imported entry of it).</summary>
    internal void SetDataProducer(Data.DataProducer producer) => _dataProducers[producer.Id] = producer;

    internal void RemoveDataProducer(Data.DataProducer producer) => _dataProducers.TryRemove(new KeyValuePair<string, Data.DataProducer>(producer.Id, producer));

    /// <summary>
    /// Makes <paramref name="dataProducer"/> (of any router of this process) consumable in this router.
    /// Unlike RTP, data needs no replica: its consumers here get its messages through an in-memory
    /// queue into their own loop, so the producer itself is registered here until it closes.
    /// </summary>
    /// <exception cref="InvalidStateException">This router or the data producer is closed.</exception>
    public Task ImportDataProducerAsync(Data.DataProducer dataProducer)
    {
        ThrowIfClosed();
        if (dataProducer.Closed) throw new InvalidStateException("DataProducer closed");
        return dataProducer.Transport.InvokeAsync(() =>
        {
            if (dataProducer.Closed) throw new InvalidStateException("DataProducer closed");
            if (dataProducer.Transport.Router == this || dataProducer.ImportedInto.Contains(this)) return;
            _dataProducers.TryAdd(dataProducer.Id, dataProducer);
            dataProducer.ImportedInto.Add(this);
        });
    }

    internal void AddProducer(Producer producer)
    {
        if (!_producers.TryAdd(producer.Id, producer)) throw new InvalidOperationException($"a Producer with same id \"{producer.Id}\" already exists");
    }

    internal void RemoveProducer(Producer producer) => _producers.TryRemove(new KeyValuePair<string, Producer>(producer.Id, producer));

    internal void RemoveTransportEntry(Transport transport) => _transports.TryRemove(transport.Id, out _);

    internal void AddTransportEntry(Transport transport) => _transports[transport.Id] = transport;

    private Mobility.LocalPipeTransport? _localPipes;

    /// <summary>The hidden transport holding this router's replicas; created on first use, on the loop.</summary>
    internal Mobility.LocalPipeTransport LocalPipes => _localPipes ??= new Mobility.LocalPipeTransport(this);

    internal void RemoveTransport(Transport transport) => _transports.TryRemove(transport.Id, out _);

    internal void RemoveRtpObserver(RtpObserver observer) => _rtpObservers.TryRemove(observer.Id, out _);

    private void AddRtpObserver(RtpObserver observer)
    {
        _rtpObservers[observer.Id] = observer;
        Events.Emit(ObserverNewRtpObserver, observer, _logger);
    }

    private void AddTransport(Transport transport)
    {
        _transports[transport.Id] = transport;
        Events.Emit(ObserverNewTransport, transport, _logger);
    }

    internal void CloseOnLoop(RouterCloseReason reason)
    {
        Loop.AssertOnLoop();
        if (_closed) return;
        _closed = true;
        foreach (var transport in _transports.Values) transport.CloseOnLoop(TransportCloseReason.RouterClosed);
        _localPipes?.CloseOnLoop(TransportCloseReason.RouterClosed);
        _transports.Clear();
        // After the transports: their producers have already left the observers, silently.
        foreach (var observer in _rtpObservers.Values) observer.CloseOnLoop(byRouter: true);
        _rtpObservers.Clear();
        _producers.Clear();
        _dataProducers.Clear();
        Worker.RemoveRouter(this);
        if (reason == RouterCloseReason.WorkerClosed) Events.Emit(WorkerClose, _logger);
        Events.Emit(ObserverClose, _logger);
    }

    private void ThrowIfClosed()
    {
        if (_closed) throw new InvalidStateException("Router closed");
    }
}

/// <summary>What <see cref="Router.DumpAsync"/> returns (mediasoup's router dump, maps as dictionaries).</summary>
public sealed record RouterDump
{
    /// <summary>Router id.</summary>
    public required string Id { get; init; }
    /// <summary>Its transports.</summary>
    public required IReadOnlyList<string> TransportIds { get; init; }
    /// <summary>Per producer, its consumers.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> MapProducerIdConsumerIds { get; init; }
    /// <summary>Per consumer, its producer.</summary>
    public required IReadOnlyDictionary<string, string> MapConsumerIdProducerId { get; init; }
    /// <summary>Its RtpObservers.</summary>
    public IReadOnlyList<string> RtpObserverIds { get; init; } = [];
    /// <summary>Per data producer of its transports, its data consumers.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> MapDataProducerIdDataConsumerIds { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Per data consumer, its data producer.</summary>
    public IReadOnlyDictionary<string, string> MapDataConsumerIdDataProducerId { get; init; } = new Dictionary<string, string>();
}
