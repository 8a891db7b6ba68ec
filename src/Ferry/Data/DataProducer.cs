using System.Text;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Data;

/// <summary>
/// Messages coming in on a transport: from one SCTP stream (a DataChannel of the endpoint) or, on a
/// DirectTransport, from <see cref="Send(ReadOnlySpan{byte}, uint?, IReadOnlyList{int}?, int?)"/>.
/// Every message goes to every data consumer of it, on whatever loop each lives. Lives on its
/// transport's loop.
/// </summary>
public sealed partial class DataProducer
{
    private readonly ILogger _logger;
    private readonly object _consumersLock = new();
    // Copy-on-write: consumers are added and removed from their own loops; the message path reads it without a lock.
    private volatile DataConsumer[] _consumers = [];
    private volatile bool _paused;
    private volatile bool _closed;
    private long _messagesReceived;
    private long _bytesReceived;

    internal DataProducer(Transport transport, string id, DataType type, SctpStreamParameters? sctpStreamParameters, DataProducerOptions options)
    {
        Transport = transport;
        Id = id;
        Type = type;
        SctpStreamParameters = sctpStreamParameters;
        Label = options.Label;
        Protocol = options.Protocol;
        AppData = options.AppData;
        _paused = options.Paused;
        _logger = transport.Router.Worker.LoggerFactory.CreateLogger<DataProducer>();
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }
    /// <summary>sctp or direct.</summary>
    public DataType Type { get; }
    /// <summary>The stream the endpoint sends on (SCTP only).</summary>
    public SctpStreamParameters? SctpStreamParameters { get; }
    /// <summary>Label.</summary>
    public string Label { get; }
    /// <summary>Protocol.</summary>
    public string Protocol { get; }
    /// <summary>Application data.</summary>
    public object? AppData { get; set; }
    /// <summary>The transport it arrives on.</summary>
    public Transport Transport { get; }
    /// <summary>True while paused: messages are counted, not forwarded.</summary>
    public bool Paused => _paused;
    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Raised when it closes because its transport closed.</summary>
    public event Action? TransportClose;
    /// <summary>Raised when it closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised when paused.</summary>
    public event Action? ObserverPause;
    /// <summary>Raised when resumed.</summary>
    public event Action? ObserverResume;

    internal IReadOnlyList<DataConsumer> Consumers => _consumers;

    /// <summary>Routers other than its own where it was made consumable (<see cref="Router.ImportDataProducerAsync"/>).</summary>
    internal List<Router> ImportedInto { get; } = [];

    /// <summary>Stops forwarding; its consumers see dataproducerpause.</summary>
    public Task PauseAsync() => Transport.InvokeAsync(() => SetPaused(true));

    /// <summary>Resumes forwarding.</summary>
    public Task ResumeAsync() => Transport.InvokeAsync(() => SetPaused(false));

    /// <summary>Closes it; its consumers close with dataproducerclose.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : Transport.InvokeAsync(() => Transport.CloseDataProducerOnLoop(this, byTransport: false));

    /// <summary>mediasoup's stats.</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task<IReadOnlyList<DataProducerStats>> GetStatsAsync()
    {
        ThrowIfClosed();
        return Transport.InvokeAsync(() => (IReadOnlyList<DataProducerStats>)
        [
            new DataProducerStats
            {
                Timestamp = (long)Transport.Router.Loop.Now.TotalMilliseconds, Label = Label, Protocol = Protocol,
                MessagesReceived = _messagesReceived, BytesReceived = _bytesReceived,
            },
        ]);
    }

    /// <summary>mediasoup's dump.</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task<DataProducerDump> DumpAsync()
    {
        ThrowIfClosed();
        return Transport.InvokeAsync(() => new DataProducerDump
        {
            Id = Id, Type = Type, SctpStreamParameters = SctpStreamParameters, Label = Label, Protocol = Protocol, Paused = _paused,
        });
    }

    /// <summary>
    /// Injects a binary message (DirectTransport data producers only). PPID 53 by default, 57 for an
    /// empty one; a message for subchannels goes only to consumers subscribed to one of them (and to
    /// <paramref name="requiredSubchannel"/> when given).
    /// </summary>
    /// <exception cref="InvalidStateException">Not on a DirectTransport, or closed.</exception>
    public void Send(ReadOnlySpan<byte> message, uint? ppid = null, IReadOnlyList<int>? subchannels = null, int? requiredSubchannel = null)
    {
        ThrowIfClosed();
        if (Transport is not DirectTransport) throw new InvalidStateException("send() is for data producers on a DirectTransport");
        var p = ppid ?? (message.IsEmpty ? DataChannelPpid.BinaryEmpty : DataChannelPpid.Binary);
        InjectDirect(p, message, subchannels, requiredSubchannel);
    }

    /// <summary>Injects a string message (PPID 51, or 56 when empty) on a DirectTransport.</summary>
    /// <exception cref="InvalidStateException">Not on a DirectTransport, or closed.</exception>
    public void Send(string message, uint? ppid = null, IReadOnlyList<int>? subchannels = null, int? requiredSubchannel = null)
    {
        ThrowIfClosed();
        if (Transport is not DirectTransport) throw new InvalidStateException("send() is for data producers on a DirectTransport");
        var bytes = Encoding.UTF8.GetBytes(message);
        InjectDirect(ppid ?? (bytes.Length == 0 ? DataChannelPpid.StringEmpty : DataChannelPpid.String), bytes, subchannels, requiredSubchannel);
    }

    private void InjectDirect(uint ppid, ReadOnlySpan<byte> message, IReadOnlyList<int>? subchannels, int? required)
    {
        // mediasoup sends one placeholder byte for the empty PPIDs; consumers get it as the message.
        var copy = message.IsEmpty ? [(byte)' '] : message.ToArray();
        var channels = subchannels?.Select(s => (ushort)s).Distinct().ToArray();
        ushort? requiredChannel = required is { } r ? (ushort)r : null;
        Transport.Post(() => Receive(ppid, copy, channels, requiredChannel));
    }

    /// <summary>One message from the endpoint, on this producer's loop: counted, then forwarded unless paused.</summary>
    internal void Receive(uint ppid, ReadOnlySpan<byte> data, ushort[]? subchannels = null, ushort? requiredSubchannel = null)
    {
        if (_closed) return;
        _messagesReceived++;
        _bytesReceived += data.Length;
        if (_paused) return;
        foreach (var consumer in _consumers) consumer.Deliver(ppid, data, subchannels, requiredSubchannel);
    }

    internal void AddConsumer(DataConsumer consumer)
    {
        lock (_consumersLock) _consumers = [.. _consumers, consumer];
    }

    internal void RemoveConsumer(DataConsumer consumer)
    {
        lock (_consumersLock) _consumers = _consumers.Where(c => c != consumer).ToArray();
    }

    private void SetPaused(bool paused)
    {
        if (_closed || _paused == paused) return;
        _paused = paused;
        foreach (var consumer in _consumers) consumer.Transport.RunOnLoop(() => consumer.OnDataProducerPaused(paused));
        Events.Emit(paused ? ObserverPause : ObserverResume, _logger);
    }

    /// <summary>Closes on its loop: consumers (on their loops) close with dataproducerclose.</summary>
    internal void CloseOnLoop(bool byTransport)
    {
        if (_closed) return;
        _closed = true;
        DataConsumer[] consumers;
        lock (_consumersLock)
        {
            consumers = _consumers;
            _consumers = [];
        }
        foreach (var consumer in consumers) consumer.Transport.RunOnLoop(() => consumer.OnDataProducerClosed());
        if (byTransport) Events.Emit(TransportClose, _logger);
        Events.Emit(ObserverClose, _logger);
    }

    private void ThrowIfClosed()
    {
        if (_closed) throw new InvalidStateException("DataProducer closed");
    }
}
