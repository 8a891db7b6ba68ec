namespace Ferry.Protocols.Sctp;

/// <summary>How a data channel is opened.</summary>
public sealed record DataChannelOptions
{
    /// <summary>Label.</summary>
    public string Label { get; init; } = "";
    /// <summary>Sub-protocol.</summary>
    public string Protocol { get; init; } = "";
    /// <summary>Ordered delivery (default true).</summary>
    public bool Ordered { get; init; } = true;
    /// <summary>Partial reliability by retransmissions.</summary>
    public int? MaxRetransmits { get; init; }
    /// <summary>Partial reliability by lifetime, milliseconds.</summary>
    public int? MaxPacketLifeTime { get; init; }
    /// <summary>
    /// Negotiated out of band (both sides create it with the same <see cref="Id"/>; no DCEP), as
    /// mediasoup-client does. When false the stream id is chosen by the DTLS-role parity and a
    /// DATA_CHANNEL_OPEN is sent.
    /// </summary>
    public bool Negotiated { get; init; }
    /// <summary>The stream id (required when negotiated).</summary>
    public ushort? Id { get; init; }
}

/// <summary>A channel the endpoint knows.</summary>
public sealed class DataChannelInfo
{
    internal DataChannelInfo(ushort id, DcepOpen parameters, bool negotiated, bool locallyOpened)
    {
        Id = id;
        Parameters = parameters;
        Negotiated = negotiated;
        LocallyOpened = locallyOpened;
        SendOptions = parameters.SendOptions;
    }

    /// <summary>Stream id.</summary>
    public ushort Id { get; }
    /// <summary>Type, reliability, label and protocol.</summary>
    public DcepOpen Parameters { get; }
    /// <summary>Created on both sides without DCEP.</summary>
    public bool Negotiated { get; }
    /// <summary>We sent the DATA_CHANNEL_OPEN (or created it negotiated).</summary>
    public bool LocallyOpened { get; }
    /// <summary>For a channel we opened in-band: a DATA_CHANNEL_ACK or any message came back, so unordered sending may start (RFC 8832 §6).</summary>
    public bool Acknowledged { get; internal set; }
    /// <summary>We reset our outgoing stream (closing).</summary>
    public bool Closing { get; internal set; }
    internal SctpSendOptions SendOptions { get; }
}

/// <summary>Kinds of <see cref="DataChannelEvent"/>.</summary>
public enum DataChannelEventKind : byte
{
    /// <summary>The peer opened a channel with DATA_CHANNEL_OPEN; it was acknowledged.</summary>
    ChannelOpened,
    /// <summary>A channel we opened in-band was acknowledged.</summary>
    ChannelAcknowledged,
    /// <summary>A channel closed (the peer reset its outgoing stream; ours is reset in answer).</summary>
    ChannelClosed,
    /// <summary>Something the association reported; <see cref="DataChannelEvent.Association"/> holds it.</summary>
    Association,
}

/// <summary>Something a <see cref="DataChannelEndpoint"/> reports.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Channel">The channel, for channel events.</param>
/// <param name="Association">The association's event, for Association.</param>
public sealed record DataChannelEvent(DataChannelEventKind Kind, DataChannelInfo? Channel = null, SctpEvent? Association = null);

/// <summary>
/// A user message from a data channel. Empty messages (PPID 56/57) have <see cref="Length"/> 0.
/// Call <see cref="Release"/> exactly once.
/// </summary>
public readonly struct DataChannelMessage
{
    private readonly SctpMessage _message;

    internal DataChannelMessage(SctpMessage message) => _message = message;

    internal SctpMessage Inner => _message;

    /// <summary>Stream id (the channel).</summary>
    public ushort StreamId => _message.StreamId;
    /// <summary>PPID as received.</summary>
    public uint Ppid => _message.Ppid;
    /// <summary>True for a string (PPID 51, 54 or 56).</summary>
    public bool IsString => DataChannelPpid.IsString(_message.Ppid);
    /// <summary>Bytes of the message (empty for PPID 56/57).</summary>
    public ReadOnlySpan<byte> Data => DataChannelPpid.IsEmpty(_message.Ppid) ? ReadOnlySpan<byte>.Empty : _message.Data;
    /// <summary>Number of bytes.</summary>
    public int Length => DataChannelPpid.IsEmpty(_message.Ppid) ? 0 : _message.Length;
    /// <summary>Returns the buffer to the pool.</summary>
    public void Release() => _message.Release();
}

/// <summary>
/// WebRTC data channels (RFC 8831) over an <see cref="SctpAssociation"/>, with DCEP (RFC 8832):
/// channels opened in-band get a stream id of our DTLS role's parity (client even, server odd) and a
/// DATA_CHANNEL_OPEN, sent ordered and reliable; the peer's OPENs are checked and acknowledged;
/// messages take PPIDs 51/53 (56/57 with one ignored byte when empty); a channel closes by resetting
/// its outgoing stream, and a reset from the peer is answered by resetting ours. Sans-IO like the
/// association below it: the caller moves packets and polls.
/// </summary>
public sealed partial class DataChannelEndpoint : IDisposable
{
    private static readonly byte[] Ack = [DcepOpen.AckMessageType];
    private static readonly byte[] EmptyPlaceholder = [0];

    private readonly Dictionary<ushort, DataChannelInfo> _channels = new();
    private readonly Queue<DataChannelEvent> _events = new();
    private readonly Queue<DataChannelMessage> _messages = new();
    private TimeSpan _now;

    /// <summary>Wraps <paramref name="association"/>; <paramref name="dtlsClient"/> picks the stream id parity.</summary>
    public DataChannelEndpoint(SctpAssociation association, bool dtlsClient)
    {
        Association = association;
        DtlsClient = dtlsClient;
    }

    /// <summary>The association underneath.</summary>
    public SctpAssociation Association { get; }

    /// <summary>Our DTLS role is client (we choose even stream ids); settable until the first channel, since DTLS may finish after the endpoint exists.</summary>
    public bool DtlsClient { get; set; }

    /// <summary>The channels open or closing.</summary>
    public IReadOnlyDictionary<ushort, DataChannelInfo> Channels => _channels;

    /// <summary>DCEP messages that were malformed or broke the rules (the channel was refused).</summary>
    public long RejectedOpens { get; private set; }

    /// <summary>User messages on streams with no channel (delivered anyway; the engine decides).</summary>
    public long MessagesWithoutChannel { get; private set; }

    /// <summary>Feeds a packet and processes what it produced.</summary>
    public void HandlePacket(TimeSpan now, ReadOnlySpan<byte> packet)
    {
        ThrowIfExported();
        _now = now;
        Association.HandlePacket(now, packet);
        Process(now);
    }

    /// <summary>Runs timers.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        ThrowIfExported();
        _now = now;
        Association.HandleTimeout(now);
        Process(now);
    }

    /// <summary>The next packet to send (see <see cref="SctpAssociation.PollPacket"/>).</summary>
    public int PollPacket(Span<byte> buffer, TimeSpan now)
    {
        ThrowIfExported();
        _now = now;
        return Association.PollPacket(buffer, now);
    }

    /// <summary>Takes the next event.</summary>
    public bool TryPollEvent(out DataChannelEvent e)
    {
        ThrowIfExported();
        // What the application did directly on the association (Abort, Shutdown) surfaces here too.
        Process(_now);
        return _events.TryDequeue(out e!);
    }

    /// <summary>Takes the next user message; the caller releases it.</summary>
    public bool TryPollMessage(out DataChannelMessage message)
    {
        ThrowIfExported();
        Process(_now);
        return _messages.TryDequeue(out message);
    }

    /// <summary>Opens a channel; returns its info (its stream id), or null when no stream id is free or the id is taken.</summary>
    public DataChannelInfo? OpenChannel(TimeSpan now, DataChannelOptions options)
    {
        ThrowIfExported();
        var (type, parameter) = DcepOpen.TypeFor(options.Ordered, options.MaxRetransmits, options.MaxPacketLifeTime);
        var parameters = new DcepOpen(type, 256, parameter, options.Label, options.Protocol);
        ushort id;
        if (options.Id is { } requested)
        {
            id = requested;
            if (_channels.ContainsKey(id)) return null;
        }
        else
        {
            if (options.Negotiated) throw new ArgumentException("a negotiated channel needs an id");
            if (!TryPickId(out id)) return null;
        }
        var channel = new DataChannelInfo(id, parameters, options.Negotiated, locallyOpened: true) { Acknowledged = options.Negotiated };
        _channels[id] = channel;
        if (!options.Negotiated) Association.Send(now, id, DataChannelPpid.Dcep, parameters.ToBytes());
        return channel;
    }

    private bool TryPickId(out ushort id)
    {
        var limit = Association.State == SctpState.Established ? Association.OutboundStreamCount : ushort.MaxValue;
        for (var i = DtlsClient ? 0 : 1; i < Math.Min(limit, 65535); i += 2)
        {
            if (!_channels.ContainsKey((ushort)i))
            {
                id = (ushort)i;
                return true;
            }
        }
        id = 0;
        return false;
    }

    /// <summary>Sends a string or binary message on a channel (PPID by kind; an empty one as PPID 56/57 with one byte).</summary>
    public SctpSendResult Send(TimeSpan now, ushort id, ReadOnlySpan<byte> data, bool isString)
    {
        var ppid = data.IsEmpty ? (isString ? DataChannelPpid.StringEmpty : DataChannelPpid.BinaryEmpty)
            : isString ? DataChannelPpid.String : DataChannelPpid.Binary;
        return Send(now, id, ppid, data);
    }

    /// <summary>Sends with an explicit PPID (mediasoup's send(message, ppid)); an empty-PPID message carries one placeholder byte.</summary>
    public SctpSendResult Send(TimeSpan now, ushort id, uint ppid, ReadOnlySpan<byte> data)
    {
        ThrowIfExported();
        if (!_channels.TryGetValue(id, out var channel) || channel.Closing) return SctpSendResult.InvalidStream;
        var options = channel.SendOptions;
        // RFC 8832 §6: until the peer acknowledged (or sent anything), the opener sends ordered.
        if (!channel.Acknowledged && options.Unordered) options = options with { Unordered = false };
        if (DataChannelPpid.IsEmpty(ppid) || data.IsEmpty) data = EmptyPlaceholder;
        return Association.Send(now, id, ppid, data, options);
    }

    /// <summary>Closes a channel: its outgoing stream is reset; the peer answers by resetting its own.</summary>
    public void CloseChannel(TimeSpan now, ushort id)
    {
        ThrowIfExported();
        if (!_channels.TryGetValue(id, out var channel) || channel.Closing) return;
        channel.Closing = true;
        ResetStream(now, id);
    }

    /// <summary>
    /// Resets our outgoing half of stream <paramref name="id"/> (with or without a channel), once per
    /// use of the stream: the peer's answering reset is not answered again.
    /// </summary>
    public void ResetStream(TimeSpan now, ushort id)
    {
        ThrowIfExported();
        if (_outReset.Add(id)) Association.ResetStreams(now, [id]);
    }

    // Per stream id, since it was last free: our outgoing half reset (asked, then done), the peer's half reset.
    private readonly HashSet<ushort> _outReset = [];
    private readonly HashSet<ushort> _outResetDone = [];
    private readonly HashSet<ushort> _inReset = [];

    private void Process(TimeSpan now)
    {
        while (Association.TryPollMessage(out var message))
        {
            if (message.Ppid == DataChannelPpid.Dcep)
            {
                OnDcep(now, message);
                message.Release();
                continue;
            }
            if (_channels.TryGetValue(message.StreamId, out var channel)) channel.Acknowledged = true;
            else MessagesWithoutChannel++;
            _messages.Enqueue(new DataChannelMessage(message));
        }
        while (Association.TryPollEvent(out var e))
        {
            if (e.Kind == SctpEventKind.IncomingStreamsReset) OnIncomingReset(now, e.Streams ?? []);
            else if (e.Kind == SctpEventKind.OutgoingStreamsReset) OnOutgoingReset(e.Streams ?? [], done: true);
            else if (e.Kind == SctpEventKind.OutgoingStreamsResetFailed) OnOutgoingReset(e.Streams ?? [], done: false);
            _events.Enqueue(new DataChannelEvent(DataChannelEventKind.Association, Association: e));
        }
    }

    private void OnDcep(TimeSpan now, SctpMessage message)
    {
        var data = message.Data;
        var id = message.StreamId;
        if (data.Length == 1 && data[0] == DcepOpen.AckMessageType)
        {
            if (_channels.TryGetValue(id, out var mine) && mine.LocallyOpened && !mine.Acknowledged)
            {
                mine.Acknowledged = true;
                _events.Enqueue(new DataChannelEvent(DataChannelEventKind.ChannelAcknowledged, mine));
            }
            return;
        }
        // RFC 8832 §6: an OPEN on a used stream, with the wrong parity for the peer's role, or malformed, is refused by closing the stream.
        var peerParity = DtlsClient ? 1 : 0;
        if (!DcepOpen.TryParse(data, out var open) || _channels.ContainsKey(id) || (id & 1) != peerParity || message.Unordered)
        {
            RejectedOpens++;
            if (!_channels.ContainsKey(id)) ResetStream(now, id);
            return;
        }
        var channel = new DataChannelInfo(id, open, negotiated: false, locallyOpened: false) { Acknowledged = true };
        _channels[id] = channel;
        Association.Send(now, id, DataChannelPpid.Dcep, Ack);
        _events.Enqueue(new DataChannelEvent(DataChannelEventKind.ChannelOpened, channel));
    }

    private void OnIncomingReset(TimeSpan now, ushort[] streams)
    {
        IEnumerable<ushort> ids = streams.Length == 0 ? _channels.Keys.ToList() : streams;
        foreach (var id in ids)
        {
            // A data channel is a pair of streams: the peer closed its half, ours follows (RFC 8831 §6.7),
            // also for a stream we have no channel for, so the peer's channel can finish closing.
            _inReset.Add(id);
            ResetStream(now, id);
            if (_channels.TryGetValue(id, out var channel))
            {
                channel.Closing = true;
                _events.Enqueue(new DataChannelEvent(DataChannelEventKind.ChannelClosed, channel));
            }
            ForgetIfDone(id);
        }
    }

    private void OnOutgoingReset(ushort[] streams, bool done)
    {
        foreach (var id in streams)
        {
            if (done) _outResetDone.Add(id);
            else _outReset.Remove(id);   // refused: the stream stays as it was
            ForgetIfDone(id);
        }
    }

    // The stream id is free again once both halves were reset.
    private void ForgetIfDone(ushort id)
    {
        if (!_inReset.Contains(id) || !_outResetDone.Contains(id)) return;
        _inReset.Remove(id);
        _outReset.Remove(id);
        _outResetDone.Remove(id);
        _channels.Remove(id);
    }

    /// <summary>Releases undelivered messages and the association's buffers.</summary>
    public void Dispose()
    {
        while (_messages.TryDequeue(out var m)) m.Release();
        Association.Dispose();
    }
}
