using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Ferry.Loop;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Data;

/// <summary>
/// Messages of one data producer going out on a transport: on an SCTP stream of its own (a
/// DataChannel the endpoint creates with <see cref="SctpStreamParameters"/>), or, on a
/// DirectTransport, through the <see cref="Message"/> event. Lives on its transport's loop; its
/// producer may live on another (after a move), and then messages reach it through an ordered
/// in-memory queue that follows the transport wherever it goes.
/// </summary>
public sealed partial class DataConsumer
{
    private readonly ILogger _logger;
    private readonly Inbox _inbox;
    private DataProducer? _producer;
    private volatile bool _paused;
    private volatile bool _dataProducerPaused;
    private volatile bool _closed;
    private volatile ushort[] _subchannels;
    private long _messagesSent;
    private long _bytesSent;
    private long _bufferedAmountLowThreshold;
    // Set while DataProducerClose is raised (on the loop): only then may a handler hold the stream reset.
    private bool _raisingDataProducerClose;
    private Task? _streamResetHold;

    internal DataConsumer(Transport transport, DataProducer producer, string id, DataType type, SctpStreamParameters? sctpStreamParameters, DataConsumerOptions options)
    {
        Transport = transport;
        _producer = producer;
        Id = id;
        DataProducerId = producer.Id;
        Type = type;
        SctpStreamParameters = sctpStreamParameters;
        Label = producer.Label;
        Protocol = producer.Protocol;
        AppData = options.AppData;
        _paused = options.Paused;
        _dataProducerPaused = producer.Paused;
        _subchannels = Normalize(options.Subchannels ?? []);
        _logger = transport.Router.Worker.LoggerFactory.CreateLogger<DataConsumer>();
        _inbox = new Inbox(this);
        if (sctpStreamParameters is { } p)
        {
            SendOptions = new SctpSendOptions(
                Unordered: p.Ordered == false,
                MaxRetransmits: p.MaxRetransmits,
                Lifetime: p.MaxPacketLifeTime is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
        }
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }
    /// <summary>The data producer it consumes.</summary>
    public string DataProducerId { get; }
    /// <summary>sctp or direct.</summary>
    public DataType Type { get; }
    /// <summary>The stream it sends on and how (SCTP only): what the endpoint's DataChannel is created with.</summary>
    public SctpStreamParameters? SctpStreamParameters { get; }
    /// <summary>The producer's label.</summary>
    public string Label { get; }
    /// <summary>The producer's protocol.</summary>
    public string Protocol { get; }
    /// <summary>Application data.</summary>
    public object? AppData { get; set; }
    /// <summary>The transport it sends on.</summary>
    public Transport Transport { get; }
    /// <summary>Paused by the application.</summary>
    public bool Paused => _paused;
    /// <summary>Its data producer is paused.</summary>
    public bool DataProducerPaused => _dataProducerPaused;
    /// <summary>True once closed.</summary>
    public bool Closed => _closed;
    /// <summary>The subchannels it is subscribed to (a copy).</summary>
    public IReadOnlyList<int> Subchannels => _subchannels.Select(s => (int)s).ToList();

    /// <summary>Raised when it closes because its transport closed.</summary>
    public event Action? TransportClose;
    /// <summary>Raised when it closes because its data producer closed.</summary>
    public event Action? DataProducerClose;
    /// <summary>Raised when its data producer pauses.</summary>
    public event Action? DataProducerPause;
    /// <summary>Raised when its data producer resumes.</summary>
    public event Action? DataProducerResume;
    /// <summary>DirectTransport only: a message (its bytes and PPID), raised on the worker thread.</summary>
    public event Action<byte[], uint>? Message;
    /// <summary>A message was dropped because the SCTP send buffer was full.</summary>
    public event Action? SctpSendBufferFull;
    /// <summary>Raised when it closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised when it stops sending (paused, or its producer paused).</summary>
    public event Action? ObserverPause;
    /// <summary>Raised when it sends again.</summary>
    public event Action? ObserverResume;

    internal SctpSendOptions SendOptions { get; }
    internal DataProducer? Producer => _producer;

    /// <summary>Stops sending.</summary>
    public Task PauseAsync() => Transport.InvokeAsync(() => SetPaused(true));

    /// <summary>Sends again.</summary>
    public Task ResumeAsync() => Transport.InvokeAsync(() => SetPaused(false));

    /// <summary>Closes it; its SCTP stream is reset, which closes the endpoint's DataChannel.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : Transport.InvokeAsync(() => Transport.CloseDataConsumerOnLoop(this, DataConsumerCloseReason.Closed));

    /// <summary>How long <see cref="DelayStreamReset"/> holds the reset at most when not told.</summary>
    public static readonly TimeSpan DefaultStreamResetHold = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Called from a <see cref="DataProducerClose"/> handler: the SCTP stream reset that closes the
    /// endpoint's DataChannel waits until <paramref name="until"/> completes, at most
    /// <paramref name="limit"/> (<see cref="DefaultStreamResetHold"/> when null), or until the endpoint
    /// closes the channel itself (its reset is then answered at once). The application can so tell its
    /// endpoint first, in mediasoup's order (mediasoup-demo's dataConsumerClosed): an endpoint whose
    /// channel closes unannounced reports an error. The stream id stays taken until the reset.
    /// </summary>
    /// <param name="until">Completes when the endpoint has been told (its outcome is ignored).</param>
    /// <param name="limit">The longest wait.</param>
    /// <exception cref="InvalidStateException">Not called from a DataProducerClose handler.</exception>
    public void DelayStreamReset(Task until, TimeSpan? limit = null)
    {
        ArgumentNullException.ThrowIfNull(until);
        if (!_raisingDataProducerClose) throw new InvalidStateException("DelayStreamReset is only valid in a DataProducerClose handler");
        // WhenAny never faults, so the reset runs whatever the application's task does.
        Task bounded = Task.WhenAny(until, Task.Delay(limit ?? DefaultStreamResetHold));
        _streamResetHold = _streamResetHold is null ? bounded : Task.WhenAll(_streamResetHold, bounded);
    }

    /// <summary>mediasoup's stats.</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task<IReadOnlyList<DataConsumerStats>> GetStatsAsync()
    {
        ThrowIfClosed();
        return Transport.InvokeAsync(() => (IReadOnlyList<DataConsumerStats>)
        [
            new DataConsumerStats
            {
                Timestamp = (long)Transport.Router.Loop.Now.TotalMilliseconds, Label = Label, Protocol = Protocol,
                MessagesSent = _messagesSent, BytesSent = _bytesSent, BufferedAmount = BufferedAmountOnLoop(),
            },
        ]);
    }

    /// <summary>mediasoup's dump.</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task<DataConsumerDump> DumpAsync()
    {
        ThrowIfClosed();
        return Transport.InvokeAsync(() => new DataConsumerDump
        {
            Id = Id, DataProducerId = DataProducerId, Type = Type, SctpStreamParameters = SctpStreamParameters, Label = Label, Protocol = Protocol,
            BufferedAmountLowThreshold = _bufferedAmountLowThreshold, Paused = _paused, DataProducerPaused = _dataProducerPaused, Subchannels = Subchannels,
        });
    }

    /// <summary>Bytes queued in SCTP for the endpoint and not yet acknowledged.</summary>
    public Task<long> GetBufferedAmountAsync() => Transport.InvokeAsync(BufferedAmountOnLoop);

    /// <summary>Sets the bufferedamountlow threshold (kept for dumps).</summary>
    public Task SetBufferedAmountLowThresholdAsync(long threshold) => Transport.InvokeAsync(() => { _bufferedAmountLowThreshold = threshold; });

    /// <summary>Replaces the subscribed subchannels; returns the resulting set.</summary>
    public Task<IReadOnlyList<int>> SetSubchannelsAsync(IReadOnlyList<int> subchannels) => Transport.InvokeAsync(() =>
    {
        _subchannels = Normalize(subchannels);
        return Subchannels;
    });

    /// <summary>Adds a subchannel; returns the resulting set.</summary>
    public Task<IReadOnlyList<int>> AddSubchannelAsync(int subchannel) => Transport.InvokeAsync(() =>
    {
        _subchannels = Normalize([.. _subchannels.Select(s => (int)s), subchannel]);
        return Subchannels;
    });

    /// <summary>Removes a subchannel (no-op when absent); returns the resulting set.</summary>
    public Task<IReadOnlyList<int>> RemoveSubchannelAsync(int subchannel) => Transport.InvokeAsync(() =>
    {
        var value = (ushort)subchannel;
        _subchannels = _subchannels.Where(s => s != value).ToArray();
        return Subchannels;
    });

    /// <summary>Sends a message straight to this consumer's endpoint (PPID 53, or 57 when empty, unless given).</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task SendAsync(byte[] message, uint? ppid = null)
    {
        ThrowIfClosed();
        var p = ppid ?? (message.Length == 0 ? DataChannelPpid.BinaryEmpty : DataChannelPpid.Binary);
        return Transport.InvokeAsync(() => SendOnLoop(p, message, force: true));
    }

    /// <summary>Sends a string straight to this consumer's endpoint (PPID 51, or 56 when empty, unless given).</summary>
    /// <exception cref="InvalidStateException">Closed.</exception>
    public Task SendAsync(string message, uint? ppid = null)
    {
        ThrowIfClosed();
        var bytes = Encoding.UTF8.GetBytes(message);
        var p = ppid ?? (bytes.Length == 0 ? DataChannelPpid.StringEmpty : DataChannelPpid.String);
        return Transport.InvokeAsync(() => SendOnLoop(p, bytes, force: true));
    }

    private static ushort[] Normalize(IEnumerable<int> values) => values.Select(v => (ushort)v).Distinct().Order().ToArray();

    private long BufferedAmountOnLoop() => Type == DataType.Sctp && SctpStreamParameters is { } p ? Transport.Sctp?.BufferedAmount((ushort)p.StreamId) ?? 0 : 0;

    /// <summary>
    /// A message from the producer, on the producer's loop. Sent at once when this consumer lives on
    /// that loop and nothing queued waits before it; otherwise copied into the inbox, drained on this
    /// consumer's loop in order.
    /// </summary>
    internal void Deliver(uint ppid, ReadOnlySpan<byte> data, ushort[]? subchannels, ushort? requiredSubchannel)
    {
        if (_closed || !Subscribed(subchannels, requiredSubchannel)) return;
        if (Transport.Loop.IsOwnThread && _inbox.IsEmpty && !Transport.Router.InTransit)
        {
            SendOnLoop(ppid, data, force: false);
            return;
        }
        _inbox.Enqueue(ppid, data);
    }

    // mediasoup's rule (reference §2.13): with a required subchannel the consumer must have it; with a
    // list it must have one of them; with neither every consumer gets the message.
    private bool Subscribed(ushort[]? subchannels, ushort? required)
    {
        var mine = _subchannels;
        if (required is { } r && Array.IndexOf(mine, r) < 0) return false;
        if (subchannels is { Length: > 0 })
        {
            foreach (var s in subchannels) if (Array.IndexOf(mine, s) >= 0) return true;
            return false;
        }
        return true;
    }

    private void SendOnLoop(uint ppid, ReadOnlySpan<byte> data, bool force)
    {
        if (_closed) return;
        if (!force && (_paused || _dataProducerPaused)) return;
        switch (Transport.SendDataMessage(this, ppid, data))
        {
            case SctpSendResult.Ok:
                _messagesSent++;
                _bytesSent += data.Length;
                break;
            case SctpSendResult.BufferFull:
                Events.Emit(SctpSendBufferFull, _logger);
                break;
        }
    }

    /// <summary>DirectTransport: hands the message to the application.</summary>
    internal void RaiseMessage(uint ppid, ReadOnlySpan<byte> data)
    {
        if (Message is { } handler) Events.Emit(handler, data.ToArray(), ppid, _logger);
    }

    private void SetPaused(bool paused)
    {
        if (_closed || _paused == paused) return;
        var wasActive = !_paused && !_dataProducerPaused;
        _paused = paused;
        if (_dataProducerPaused) return;
        if (wasActive && paused) Events.Emit(ObserverPause, _logger);
        else if (!wasActive && !paused) Events.Emit(ObserverResume, _logger);
    }

    internal void OnDataProducerPaused(bool paused)
    {
        if (_closed || _dataProducerPaused == paused) return;
        _dataProducerPaused = paused;
        Events.Emit(paused ? DataProducerPause : DataProducerResume, _logger);
        if (!_paused) Events.Emit(paused ? ObserverPause : ObserverResume, _logger);
    }

    internal void OnDataProducerClosed()
    {
        if (_closed) return;
        Transport.CloseDataConsumerOnLoop(this, DataConsumerCloseReason.DataProducerClosed);
    }

    /// <summary>Closes it and raises its close events; answers what the stream reset must wait for, if anything.</summary>
    internal Task? CloseOnLoop(DataConsumerCloseReason reason)
    {
        if (_closed) return null;
        _closed = true;
        _producer?.RemoveConsumer(this);
        _producer = null;
        _inbox.Clear();
        if (reason == DataConsumerCloseReason.TransportClosed) Events.Emit(TransportClose, _logger);
        else if (reason == DataConsumerCloseReason.DataProducerClosed)
        {
            _raisingDataProducerClose = true;
            try { Events.Emit(DataProducerClose, _logger); }
            finally { _raisingDataProducerClose = false; }
        }
        Events.Emit(ObserverClose, _logger);
        var hold = _streamResetHold;
        _streamResetHold = null;
        return hold;
    }

    private void ThrowIfClosed()
    {
        if (_closed) throw new InvalidStateException("DataConsumer closed");
    }

    /// <summary>
    /// Messages from a producer on another loop: a multi-producer queue of copies (pooled buffers), and
    /// this object posted as the command that drains it, once per batch, on the consumer's loop as it
    /// is when the command runs (it follows moves).
    /// </summary>
    private sealed class Inbox(DataConsumer owner) : LoopCommand
    {
        private readonly ConcurrentQueue<(byte[] Buffer, int Length, uint Ppid)> _queue = new();
        private int _wakePending;

        public bool IsEmpty => _queue.IsEmpty;

        public void Enqueue(uint ppid, ReadOnlySpan<byte> data)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Length));
            data.CopyTo(buffer);
            _queue.Enqueue((buffer, data.Length, ppid));
            if (Interlocked.Exchange(ref _wakePending, 1) == 0) owner.Transport.Loop.Post(this);
        }

        public override void Run()
        {
            var transport = owner.Transport;
            if (!transport.Loop.IsOwnThread || transport.Router.InTransit)
            {
                // Moved (or moving) since this was posted: follow it.
                transport.Loop.Post(this);
                return;
            }
            Volatile.Write(ref _wakePending, 0);
            while (_queue.TryDequeue(out var item))
            {
                owner.SendOnLoop(item.Ppid, item.Buffer.AsSpan(0, item.Length), force: false);
                ArrayPool<byte>.Shared.Return(item.Buffer);
            }
        }

        public override void Abandon(Exception reason) => Clear();

        public void Clear()
        {
            while (_queue.TryDequeue(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }
}

/// <summary>Why a data consumer closed.</summary>
internal enum DataConsumerCloseReason : byte
{
    Closed,
    TransportClosed,
    DataProducerClosed,
}
