using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// A sans-IO SCTP association as WebRTC data channels use it (RFC 8261: one association over DTLS,
/// both ports 5000, a single path): packets and the time go in, packets to send, events, messages and
/// the next deadline come out. It owns no socket, thread, timer or clock.
/// <para>
/// What it does: the four-way handshake in both roles with a signed state cookie, INIT collisions
/// (RFC 9260 §5.2); DATA with fragmentation and reassembly, ordered and unordered delivery per
/// stream, SACK with gap blocks and duplicates, delayed acknowledgement; retransmission on T3-rtx and
/// fast retransmit after three miss indications, RTO from measured RTT (Karn), congestion control
/// with slow start, congestion avoidance and fast recovery (§6-7); partial reliability (RFC 3758:
/// limited retransmissions and lifetimes, FORWARD-TSN both ways); outgoing stream reset (RFC 6525)
/// to close data channels, and answering the peer's; HEARTBEAT answering; ABORT and SHUTDOWN.
/// Bad input is counted in <see cref="Counters"/> and dropped (or answered with ABORT where the RFC
/// says so); nothing here throws on what the network sends.
/// </para>
/// <para>
/// Use: feed <see cref="HandlePacket"/> and <see cref="HandleTimeout"/> (at <see cref="NextTimeout"/>),
/// then drain <see cref="PollPacket"/> until it returns 0, <see cref="TryPollMessage"/> and
/// <see cref="TryPollEvent"/>. <see cref="Send"/>, <see cref="ResetStreams"/>, <see cref="Shutdown"/>
/// and <see cref="Abort"/> only change state; what they cause comes out of the same polls, so calling
/// them from inside an event handler is safe.
/// </para>
/// </summary>
public sealed partial class SctpAssociation : IDisposable
{
    private const int MaxControlChunks = 64;

    private readonly SctpOptions _options;
    private readonly Random? _random;
    private readonly byte[] _cookieSecret = new byte[32];
    private readonly Queue<SctpEvent> _events = new();
    private readonly Queue<SctpMessage> _messages = new();
    private readonly Queue<byte[]> _rawPackets = new();
    private readonly List<byte[]> _controlChunks = [];
    private readonly uint _localTag;
    private readonly uint _initialTsn;
    private uint _peerTag;
    private bool _finished;

    // Handshake.
    private byte[]? _cookie;
    private bool _cookieEchoPending;
    private bool _cookieAckPending;
    private TimeSpan _t1Deadline = TimeSpan.MaxValue;
    private TimeSpan _t1Interval;
    private int _t1Count;

    // Shutdown.
    private bool _shutdownChunkPending;
    private bool _shutdownAckPending;
    private TimeSpan _t2Deadline = TimeSpan.MaxValue;
    private int _t2Count;

    /// <summary>Creates an association that waits for the peer's INIT, or starts one with <see cref="Connect"/>.</summary>
    public SctpAssociation(SctpOptions? options = null)
    {
        _options = options ?? new SctpOptions();
        if (_options.Mtu < 256) throw new ArgumentException("MTU below 256 bytes", nameof(options));
        if (_options.MaxMessageSize < 1) throw new ArgumentException("max message size below 1", nameof(options));
        _random = _options.Random;
        Fill(_cookieSecret);
        _localTag = NonZeroRandom();
        _initialTsn = RandomUInt32();
        _nextTsn = _initialTsn;
        _cumAckPoint = _initialTsn - 1;
        _advancedPeerAckPoint = _cumAckPoint;
        _reconfigRequestSeq = _initialTsn;
        _rto = _options.RtoInitial;
        _t1Interval = _options.RtoInitial;
        _cwnd = InitialCwnd;
    }

    /// <summary>Current state.</summary>
    public SctpState State { get; private set; } = SctpState.Closed;

    /// <summary>True once the association has ended (closed, aborted or failed); it takes no more input.</summary>
    public bool IsFinished => _finished;

    /// <summary>What was counted so far.</summary>
    public SctpCounters Counters { get; } = new();

    /// <summary>Outgoing streams usable (negotiated once established).</summary>
    public int OutboundStreamCount => _outStreamCount;

    /// <summary>Incoming streams accepted (negotiated once established).</summary>
    public int InboundStreamCount => _inStreamCount;

    /// <summary>The peer announced FORWARD-TSN (partial reliability works).</summary>
    public bool PeerSupportsPartialReliability => _peerForwardTsn;

    /// <summary>The peer announced RE-CONFIG (streams can be reset).</summary>
    public bool PeerSupportsStreamReset => _peerReconfig;

    /// <summary>Bytes queued or sent and not yet acknowledged, over all streams.</summary>
    public long BufferedAmount => _bufferedAmount;

    /// <summary>Current congestion window, bytes.</summary>
    public int CongestionWindow => _cwnd;

    /// <summary>Current retransmission timeout.</summary>
    public TimeSpan Rto => _rto;

    /// <summary>Smoothed round-trip time, once measured.</summary>
    public TimeSpan? SmoothedRtt => _srtt;

    /// <summary>Our verification tag (the one the peer puts in its packets).</summary>
    public uint LocalVerificationTag => _localTag;

    /// <summary>The peer's TSN up to which everything arrived (for tests).</summary>
    internal uint CumulativeTsnReceived => _remoteCumTsn;

    internal string DebugState() =>
        $"state {State} ring {_ring.Count} (outstanding {(_ring.Count > 0 ? HasOutstanding() : false)}) rtxPending {_retransmitPending} flight {_flightSize} cwnd {_cwnd} rwnd {_peerRwnd} current {_current?.StreamId} scheduled {_scheduled.Count} " +
        $"streams [{string.Join(",", _outStreams.Where(kv => kv.Value.Queue.Count > 0 || kv.Value.ResetRequested || kv.Value.BufferedBytes != 0).Select(kv => $"{kv.Key}:q{kv.Value.Queue.Count} r{kv.Value.ResetRequested} b{kv.Value.MessagesBeforeReset} buf{kv.Value.BufferedBytes} sch{kv.Value.Scheduled}"))}] " +
        $"toReset [{string.Join(",", _streamsToReset)}] inflight [{(_resetInFlight is null ? "" : string.Join(",", _resetInFlight))}] seq {_resetInFlightSeq} t3 {_t3Deadline} reconfigDeadline {_reconfigDeadline} cum {_cumAckPoint} next {_nextTsn} adv {_advancedPeerAckPoint}";

    /// <summary>The TSN our next new DATA chunk gets (for tests).</summary>
    internal uint NextTsn => _nextTsn;

    /// <summary>When <see cref="HandleTimeout"/> should run; <see cref="TimeSpan.MaxValue"/> when nothing is pending.</summary>
    public TimeSpan NextTimeout
    {
        get
        {
            if (_finished) return TimeSpan.MaxValue;
            var due = _t1Deadline;
            if (_t2Deadline < due) due = _t2Deadline;
            if (_t3Deadline < due) due = _t3Deadline;
            if (_sackDeadline < due) due = _sackDeadline;
            if (_reconfigDeadline < due) due = _reconfigDeadline;
            return due;
        }
    }

    /// <summary>Bytes queued or unacknowledged on one stream (a data channel's bufferedAmount).</summary>
    public long GetBufferedAmount(ushort streamId) => _outStreams.TryGetValue(streamId, out var s) ? s.BufferedBytes : 0;

    /// <summary>Takes the next event, if any.</summary>
    public bool TryPollEvent(out SctpEvent e)
    {
        ThrowIfExported();
        return _events.TryDequeue(out e!);
    }

    /// <summary>Takes the next delivered message, if any; the caller must <see cref="SctpMessage.Release"/> it.</summary>
    public bool TryPollMessage(out SctpMessage message)
    {
        ThrowIfExported();
        if (!_messages.TryDequeue(out message)) return false;
        _receiveHeld -= message.Length;
        return true;
    }

    /// <summary>Starts the association (sends INIT). Browsers do the same at once, which the INIT collision rules resolve.</summary>
    public void Connect(TimeSpan now)
    {
        ThrowIfExported();
        if (_finished || State != SctpState.Closed) return;
        State = SctpState.CookieWait;
        QueueInit();
        _t1Count = 0;
        _t1Interval = _options.RtoInitial;
        _t1Deadline = now + _t1Interval;
    }

    /// <summary>Feeds one received SCTP packet (a DTLS application-data record's payload).</summary>
    public void HandlePacket(TimeSpan now, ReadOnlySpan<byte> data)
    {
        ThrowIfExported();
        Counters.PacketsReceived++;
        switch (SctpPacket.TryParse(data, out var packet))
        {
            case SctpParseResult.TooShort:
                Counters.MalformedPackets++;
                return;
            case SctpParseResult.BadChecksum:
                Counters.ChecksumErrors++;
                return;
        }
        if (_finished) return;
        if (packet.SourcePort != _options.RemotePort || packet.DestinationPort != _options.LocalPort)
        {
            Counters.VerificationTagErrors++;
            return;
        }

        // First pass: the packet's shape and the tag rules of RFC 9260 §8.5, before anything changes.
        var count = 0;
        var hasInit = false;
        var reflected = false;
        var walk = packet.Chunks;
        while (walk.MoveNext())
        {
            var c = walk.Current;
            count++;
            if (c.Type == SctpChunkType.Init) hasInit = true;
            if ((c.Type is SctpChunkType.Abort or SctpChunkType.ShutdownComplete) && (c.Flags & 1) != 0) reflected = true;
        }
        if (walk.IsMalformed || count == 0)
        {
            Counters.MalformedPackets++;
            return;
        }
        var tag = packet.VerificationTag;
        var tagOk = hasInit ? count == 1 && tag == 0
            : reflected ? _peerTag != 0 && tag == _peerTag
            : tag == _localTag;
        if (!tagOk)
        {
            Counters.VerificationTagErrors++;
            return;
        }

        _dataInPacket = false;
        foreach (var chunk in packet.Chunks)
        {
            if (!HandleChunk(now, chunk) || _finished) break;
        }
        if (_dataInPacket && !_finished) AfterDataPacket(now);
    }

    /// <summary>Runs the timers that are due.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        ThrowIfExported();
        if (_finished) return;
        if (now >= _t1Deadline) OnT1Expired(now);
        if (_finished) return;
        if (now >= _t2Deadline) OnT2Expired(now);
        if (_finished) return;
        if (now >= _t3Deadline) OnT3Expired(now);
        if (_finished) return;
        if (now >= _sackDeadline)
        {
            _sackDeadline = TimeSpan.MaxValue;
            _sackPending = true;
        }
        if (now >= _reconfigDeadline)
        {
            // No answer to our stream reset request: send it again with the same sequence number (RFC 6525 §5.1.1).
            _reconfigRequestPending = true;
            _reconfigDeadline = now + _rto;
        }
    }

    /// <summary>
    /// Writes the next packet to send into <paramref name="buffer"/> (at least the MTU long) and returns
    /// its length, or 0 when there is nothing to send now. Call until it returns 0.
    /// </summary>
    public int PollPacket(Span<byte> buffer, TimeSpan now)
    {
        ThrowIfExported();
        if (_rawPackets.TryDequeue(out var raw))
        {
            if (raw.Length > buffer.Length) return 0;
            raw.CopyTo(buffer);
            Counters.PacketsSent++;
            return raw.Length;
        }
        if (_finished || _peerTag == 0 || buffer.Length < SctpPacket.HeaderSize + 16) return 0;
        var writer = new SctpPacketWriter(buffer[..Math.Min(buffer.Length, _options.Mtu)], _options.LocalPort, _options.RemotePort, _peerTag);

        // Control chunks go before DATA (RFC 9260 §6.10); COOKIE-ECHO and COOKIE-ACK first of all (§5.1).
        if (_cookieEchoPending && _cookie is not null && writer.TryAddChunk(SctpChunkType.CookieEcho, 0, _cookie)) _cookieEchoPending = false;
        if (_cookieAckPending && writer.TryAddChunk(SctpChunkType.CookieAck, 0, [])) _cookieAckPending = false;
        var dataAllowed = State is SctpState.Established or SctpState.ShutdownPending or SctpState.ShutdownReceived;
        var receiving = State is SctpState.Established or SctpState.ShutdownPending or SctpState.ShutdownSent or SctpState.ShutdownReceived;
        if (receiving)
        {
            // A delayed SACK rides along with anything else we send.
            var delayed = _sackDeadline != TimeSpan.MaxValue && (dataAllowed && HasDataToSend() || _controlChunks.Count > 0);
            if ((_sackPending || delayed) && WriteSack(ref writer)) ClearSackState();
        }
        if (_forwardTsnPending && State != SctpState.Closed && WriteForwardTsn(ref writer)) _forwardTsnPending = false;
        for (var i = 0; i < _controlChunks.Count;)
        {
            var chunk = _controlChunks[i];
            if (chunk.Length <= writer.Remaining)
            {
                WriteRawChunk(ref writer, chunk);
                _controlChunks.RemoveAt(i);
            }
            else if (!writer.HasChunks)
            {
                _controlChunks.RemoveAt(i);   // never fits any packet: drop it rather than stall
            }
            else
            {
                i++;
            }
        }
        if (_reconfigRequestPending && WriteReconfigRequest(ref writer)) _reconfigRequestPending = false;
        if (_shutdownChunkPending && State == SctpState.ShutdownSent && writer.TryBeginChunk(SctpChunkType.Shutdown, 0, 4, out var cum))
        {
            BinaryPrimitives.WriteUInt32BigEndian(cum, _remoteCumTsn);
            writer.EndChunk();
            _shutdownChunkPending = false;
        }
        if (_shutdownAckPending && State == SctpState.ShutdownAckSent && writer.TryAddChunk(SctpChunkType.ShutdownAck, 0, [])) _shutdownAckPending = false;
        if (dataAllowed) WriteData(ref writer, now);
        if (!writer.HasChunks) return 0;
        Counters.PacketsSent++;
        return writer.Finish();
    }

    /// <summary>Sends ABORT (cause: user-initiated abort) and ends the association at once.</summary>
    public void Abort(string? reason = null)
    {
        ThrowIfExported();
        if (_finished) return;
        if (_peerTag != 0)
        {
            var info = System.Text.Encoding.UTF8.GetBytes(reason ?? "");
            if (info.Length > 256) info = info[..256];
            QueueAbort(_peerTag, reflected: false, SctpCause.UserInitiatedAbort, info);
        }
        Finish(SctpEventKind.Closed, "aborted locally" + (reason is null ? "" : ": " + reason));
    }

    private bool HandleChunk(TimeSpan now, in SctpChunk chunk)
    {
        switch (chunk.Type)
        {
            case SctpChunkType.Data: return HandleData(now, chunk);
            case SctpChunkType.Init: HandleInit(now, chunk); return false;
            case SctpChunkType.InitAck: HandleInitAck(now, chunk); return false;
            case SctpChunkType.Sack: return HandleSack(now, chunk);
            case SctpChunkType.Heartbeat: HandleHeartbeat(chunk); return true;
            case SctpChunkType.HeartbeatAck: return true;   // we send no heartbeats: the ICE consent checks watch the path
            case SctpChunkType.Abort: HandleAbort(chunk); return false;
            case SctpChunkType.Shutdown: HandleShutdown(now, chunk); return true;
            case SctpChunkType.ShutdownAck: HandleShutdownAck(); return false;
            case SctpChunkType.ShutdownComplete: HandleShutdownComplete(); return false;
            case SctpChunkType.Error: HandleError(now, chunk); return true;
            case SctpChunkType.CookieEcho: HandleCookieEcho(now, chunk); return true;
            case SctpChunkType.CookieAck: HandleCookieAck(now); return true;
            case SctpChunkType.ForwardTsn: HandleForwardTsn(now, chunk); return true;
            case SctpChunkType.ReConfig: HandleReconfig(now, chunk); return true;
        }
        // Unknown type: its two high bits say what to do (RFC 9260 §3.2).
        Counters.ChunksDropped++;
        var action = chunk.Type >> 6;
        if ((action & 1) != 0 && _peerTag != 0 && chunk.Raw.Length <= 256)
        {
            var cause = new byte[4 + chunk.Raw.Length];
            BinaryPrimitives.WriteUInt16BigEndian(cause, SctpCause.UnrecognizedChunkType);
            BinaryPrimitives.WriteUInt16BigEndian(cause.AsSpan(2), (ushort)cause.Length);
            chunk.Raw.CopyTo(cause.AsSpan(4));
            QueueControlChunk(SctpChunkType.Error, 0, cause);
        }
        return (action & 2) != 0;
    }

    private void HandleHeartbeat(in SctpChunk chunk)
    {
        if (_peerTag == 0 || State is SctpState.Closed or SctpState.CookieWait) { Counters.ChunksDropped++; return; }
        // The HEARTBEAT-ACK echoes the Heartbeat Info parameter as it came (RFC 9260 §8.3); a huge one is not worth a packet.
        if (chunk.Value.Length > 1024) { Counters.ChunksDropped++; return; }
        QueueControlChunk(SctpChunkType.HeartbeatAck, 0, chunk.Value);
        Counters.HeartbeatsAnswered++;
    }

    /// <summary>Queues a chunk to go with the next packet (bounded: a flood of requests cannot grow it).</summary>
    private void QueueControlChunk(byte type, byte flags, ReadOnlySpan<byte> value)
    {
        if (_controlChunks.Count >= MaxControlChunks) return;
        var chunk = new byte[(4 + value.Length + 3) & ~3];
        chunk[0] = type;
        chunk[1] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), (ushort)(4 + value.Length));
        value.CopyTo(chunk.AsSpan(4));
        _controlChunks.Add(chunk);
    }

    private static void WriteRawChunk(ref SctpPacketWriter writer, byte[] chunk)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(chunk.AsSpan(2));
        writer.TryAddChunk(chunk[0], chunk[1], chunk.AsSpan(4, length - 4));
    }

    /// <summary>Ends the association: timers off, queues released, one event.</summary>
    private void Finish(SctpEventKind kind, string reason)
    {
        if (_finished) return;
        _finished = true;
        State = SctpState.Closed;
        _t1Deadline = _t2Deadline = _t3Deadline = _sackDeadline = _reconfigDeadline = TimeSpan.MaxValue;
        ReleaseSendState();
        ReleaseReceiveState();
        _events.Enqueue(new SctpEvent(kind, reason));
    }

    private void Fail(string reason) => Finish(SctpEventKind.Failed, reason);

    private uint RandomUInt32()
    {
        Span<byte> b = stackalloc byte[4];
        Fill(b);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    private uint NonZeroRandom()
    {
        while (true)
        {
            var v = RandomUInt32();
            if (v != 0) return v;
        }
    }

    private void Fill(Span<byte> bytes)
    {
        if (_random is not null) _random.NextBytes(bytes);
        else RandomNumberGenerator.Fill(bytes);
    }

    /// <summary>Returns every pooled buffer it holds. Messages already polled stay the caller's.</summary>
    public void Dispose()
    {
        ReleaseSendState();
        ReleaseReceiveState();
        while (_messages.TryDequeue(out var m)) m.Release();
        _receiveHeld = 0;
    }
}
