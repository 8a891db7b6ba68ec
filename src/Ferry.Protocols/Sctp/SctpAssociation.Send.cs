using System.Buffers;
using System.Buffers.Binary;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// The sending half: queues per stream, cutting messages into DATA chunks, the congestion window
/// (RFC 9260 §7), acknowledgement processing (§6.2.1), retransmission (§6.3, §7.2.4) and partial
/// reliability (RFC 3758).
/// </summary>
public sealed partial class SctpAssociation
{
    private const int DataChunkOverhead = 4 + DataChunk.HeaderSize;

    private readonly Dictionary<ushort, OutStream> _outStreams = new();
    private readonly Queue<OutStream> _scheduled = new();
    private readonly ChunkRing _ring = new();
    private readonly Stack<OutgoingMessage> _messagePool = new();
    private readonly Stack<OutChunk> _chunkPool = new();
    private readonly Dictionary<ushort, ushort> _forwardScratch = new();
    private OutgoingMessage? _current;
    private OutStream? _currentStream;
    private uint _nextTsn;
    private uint _cumAckPoint;
    private uint _advancedPeerAckPoint;
    private long _bufferedAmount;
    private int _flightSize;
    private int _retransmitPending;
    private bool _fastRetransmitBypass;
    private int _cwnd;
    private int _ssthresh = int.MaxValue;
    private int _partialBytesAcked;
    private bool _inFastRecovery;
    private uint _fastRecoveryExit;
    private long _peerRwnd;
    private int _outStreamCount;
    private int _inStreamCount;
    private bool _peerForwardTsn;
    private bool _peerReconfig;
    private bool _forwardTsnPending;
    private int _errorCount;
    private int _sackStamp;

    // RTO (RFC 9260 §6.3.1); one measurement per round trip, never on a retransmitted chunk (Karn).
    private TimeSpan _rto;
    private TimeSpan? _srtt;
    private TimeSpan _rttvar;
    private bool _rttPending;
    private uint _rttTsn;
    private TimeSpan _t3Deadline = TimeSpan.MaxValue;

    // RFC 9260 §7.2.1: min(4*MTU, max(2*MTU, 4380)).
    private int InitialCwnd => Math.Min(4 * _options.Mtu, Math.Max(2 * _options.Mtu, 4380));

    /// <summary>
    /// Queues a message on <paramref name="streamId"/> with payload protocol id <paramref name="ppid"/>.
    /// It is copied; it goes out as the windows allow (after the handshake, when called before it).
    /// </summary>
    public SctpSendResult Send(TimeSpan now, ushort streamId, uint ppid, ReadOnlySpan<byte> data, SctpSendOptions options = default)
    {
        ThrowIfExported();
        if (_finished || State is SctpState.ShutdownPending or SctpState.ShutdownSent or SctpState.ShutdownReceived or SctpState.ShutdownAckSent)
            return SctpSendResult.Closed;
        if (data.IsEmpty) return SctpSendResult.Empty;
        if (data.Length > _options.MaxMessageSize) return SctpSendResult.MessageTooLarge;
        var streams = State == SctpState.Established ? _outStreamCount : _options.OutboundStreams;
        if (streamId >= streams) return SctpSendResult.InvalidStream;
        // One message larger than the whole buffer still goes when nothing else waits; otherwise it could never be sent.
        if (_bufferedAmount > 0 && _bufferedAmount + data.Length > _options.SendBufferSize) return SctpSendResult.BufferFull;

        var message = _messagePool.Count > 0 ? _messagePool.Pop() : new OutgoingMessage();
        message.StreamId = streamId;
        message.Ppid = ppid;
        message.Unordered = options.Unordered;
        message.MaxRetransmits = options.MaxRetransmits is { } r ? Math.Max(0, r) : -1;
        message.ExpiresAt = options.Lifetime is { } l ? now + (l < TimeSpan.Zero ? TimeSpan.Zero : l) : TimeSpan.MaxValue;
        message.Buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(message.Buffer);
        message.Length = data.Length;
        message.Offset = 0;
        message.Ssn = 0;   // unordered messages keep it: 0 on the wire, not a pooled record's old number
        message.ChunksInRing = 0;
        message.Abandoned = false;

        var stream = GetOutStream(streamId);
        stream.Queue.Enqueue(message);
        stream.BufferedBytes += data.Length;
        _bufferedAmount += data.Length;
        Schedule(stream);
        Counters.MessagesSent++;
        return SctpSendResult.Ok;
    }

    private OutStream GetOutStream(ushort id)
    {
        if (!_outStreams.TryGetValue(id, out var stream)) _outStreams[id] = stream = new OutStream();
        return stream;
    }

    private void Schedule(OutStream stream)
    {
        if (stream.Scheduled || stream.Queue.Count == 0) return;
        stream.Scheduled = true;
        _scheduled.Enqueue(stream);
    }

    /// <summary>Something could go out now: a retransmission, or new data the congestion window allows.</summary>
    private bool HasDataToSend() => _retransmitPending > 0 || (_flightSize < _cwnd && (_current is not null || _scheduled.Count > 0));

    /// <summary>
    /// The next piece of a message to send: the message being cut continues (its fragments must have
    /// consecutive TSNs), else the next stream in round-robin order gives its oldest message.
    /// </summary>
    private bool NextMessage(TimeSpan now)
    {
        if (_current is not null) return true;
        for (var guard = _scheduled.Count; guard > 0 && _scheduled.Count > 0; guard--)
        {
            var stream = _scheduled.Dequeue();
            stream.Scheduled = false;
            if (stream.ResetRequested && stream.MessagesBeforeReset == 0) continue;   // waits for its reset; rescheduled then
            while (stream.Queue.Count > 0)
            {
                var message = stream.Queue.Peek();
                // Expired before it had a TSN: drop it quietly, no FORWARD-TSN needed.
                if (_peerForwardTsn && now >= message.ExpiresAt)
                {
                    stream.Queue.Dequeue();
                    if (stream.ResetRequested) stream.MessagesBeforeReset--;
                    Counters.MessagesAbandoned++;
                    Release(stream, message.Length);
                    message.Reset();
                    _messagePool.Push(message);
                    continue;
                }
                stream.Queue.Dequeue();
                if (stream.ResetRequested) stream.MessagesBeforeReset--;
                if (!message.Unordered) message.Ssn = stream.NextSsn++;
                _current = message;
                _currentStream = stream;
                if (!(stream.ResetRequested && stream.MessagesBeforeReset == 0)) Schedule(stream);
                return true;
            }
        }
        return false;
    }

    /// <summary>Retransmissions first (lowest TSN first), then new data while the windows allow.</summary>
    private void WriteData(ref SctpPacketWriter writer, TimeSpan now)
    {
        var sent = false;
        if (_retransmitPending > 0)
        {
            for (var i = 0; i < _ring.Count && _retransmitPending > 0; i++)
            {
                var c = _ring[i];
                if (!c.NeedsRetransmit) continue;
                if (ShouldAbandon(c, now))
                {
                    Abandon(c.Message);
                    continue;
                }
                // Fast retransmit sends one packet whatever the window (RFC 9260 §7.2.4); otherwise the window rules.
                if (!_fastRetransmitBypass && _flightSize >= _cwnd) break;
                if (!TryWriteChunk(ref writer, c)) break;
                c.NeedsRetransmit = false;
                _retransmitPending--;
                c.Transmissions++;
                c.SentAt = now;
                SetInFlight(c, true);
                _peerRwnd = Math.Max(0, _peerRwnd - c.Length);
                if (_rttPending && c.Tsn == _rttTsn) _rttPending = false;
                Counters.Retransmissions++;
                sent = true;
            }
            _fastRetransmitBypass = false;
        }
        if (_retransmitPending == 0)
        {
            while (_flightSize < _cwnd && NextMessage(now))
            {
                var message = _current!;
                var remaining = message.Length - message.Offset;
                var room = writer.Remaining - DataChunkOverhead;
                // Do not cut a sliver off a message to fill the end of a packet.
                if (room < Math.Min(remaining, 256)) break;
                var length = Math.Min(remaining, room);
                // The peer's window: one chunk may probe a zero window when nothing is in flight (§6.1 rule A).
                if (length > _peerRwnd && _flightSize > 0) break;
                var chunk = _chunkPool.Count > 0 ? _chunkPool.Pop() : new OutChunk();
                chunk.Tsn = _nextTsn++;
                chunk.Message = message;
                chunk.Offset = message.Offset;
                chunk.Length = length;
                chunk.Ssn = message.Ssn;
                chunk.Flags = (byte)((message.Offset == 0 ? DataChunk.FlagBeginning : 0)
                    | (message.Offset + length == message.Length ? DataChunk.FlagEnd : 0)
                    | (message.Unordered ? DataChunk.FlagUnordered : 0));
                chunk.Transmissions = 1;
                chunk.MissIndications = 0;
                chunk.Acked = chunk.Abandoned = chunk.NeedsRetransmit = chunk.FastRetransmitted = chunk.InFlight = false;
                chunk.SentAt = now;
                message.Offset += length;
                message.ChunksInRing++;
                if (message.FullyCut)
                {
                    _current = null;
                    _currentStream = null;
                }
                _ring.Add(chunk);
                TryWriteChunk(ref writer, chunk);
                SetInFlight(chunk, true);
                _peerRwnd = Math.Max(0, _peerRwnd - length);
                Counters.DataChunksSent++;
                if (!_rttPending)
                {
                    _rttPending = true;
                    _rttTsn = chunk.Tsn;
                }
                sent = true;
            }
        }
        if (sent && _t3Deadline == TimeSpan.MaxValue) _t3Deadline = now + _rto;
    }

    private static bool TryWriteChunk(ref SctpPacketWriter writer, OutChunk c)
    {
        if (!writer.TryBeginChunk(SctpChunkType.Data, c.Flags, DataChunk.HeaderSize + c.Length, out var value)) return false;
        DataChunk.WriteHeader(value, c.Tsn, c.Message.StreamId, c.Ssn, c.Message.Ppid);
        c.Message.Buffer.AsSpan(c.Offset, c.Length).CopyTo(value[DataChunk.HeaderSize..]);
        writer.EndChunk();
        return true;
    }

    private void SetInFlight(OutChunk c, bool inFlight)
    {
        if (c.InFlight == inFlight) return;
        c.InFlight = inFlight;
        _flightSize += inFlight ? c.Length : -c.Length;
    }

    private bool ShouldAbandon(OutChunk c, TimeSpan now)
    {
        if (!_peerForwardTsn) return false;
        var m = c.Message;
        return (m.MaxRetransmits >= 0 && c.Transmissions > m.MaxRetransmits) || now >= m.ExpiresAt;
    }

    /// <summary>Gives up a message (RFC 3758 §3.5 A): every chunk of it, and what was not yet cut.</summary>
    private void Abandon(OutgoingMessage message)
    {
        if (message.Abandoned) return;
        message.Abandoned = true;
        Counters.MessagesAbandoned++;
        var stream = GetOutStream(message.StreamId);
        for (var i = 0; i < _ring.Count; i++)
        {
            var c = _ring[i];
            if (c.Message != message || !c.Outstanding) continue;
            c.Abandoned = true;
            SetInFlight(c, false);
            if (c.NeedsRetransmit)
            {
                c.NeedsRetransmit = false;
                _retransmitPending--;
            }
            Release(stream, c.Length);
        }
        if (_current == message)
        {
            Release(stream, message.Length - message.Offset);
            message.Offset = message.Length;
            _current = null;
            _currentStream = null;
        }
        // The buffer stays until the abandoned chunks leave the ring (a FORWARD-TSN is being built from them).
    }

    private void Release(OutStream stream, long bytes)
    {
        stream.BufferedBytes -= bytes;
        _bufferedAmount -= bytes;
    }

    /// <summary>A chunk leaves the ring (the cumulative ack passed it): its bytes are released, its message recycled after its last chunk.</summary>
    private void Retire(OutChunk c)
    {
        SetInFlight(c, false);
        if (c.NeedsRetransmit)
        {
            c.NeedsRetransmit = false;
            _retransmitPending--;
        }
        var message = c.Message;
        if (!c.Abandoned) Release(GetOutStream(message.StreamId), c.Length);
        if (--message.ChunksInRing == 0 && message.FullyCut && _current != message)
        {
            message.Reset();
            _messagePool.Push(message);
        }
        c.Message = null!;
        _chunkPool.Push(c);
    }

    private void MarkForRetransmit(OutChunk c)
    {
        if (!c.Outstanding || c.NeedsRetransmit) return;
        SetInFlight(c, false);
        c.NeedsRetransmit = true;
        _retransmitPending++;
    }

    /// <summary>Moves the cumulative ack point to <paramref name="cum"/>, retiring the chunks it passes.</summary>
    private void AcknowledgeCumulative(TimeSpan now, uint cum, out int newlyAcked)
    {
        newlyAcked = 0;
        while (_cumAckPoint != cum && _ring.Count > 0)
        {
            var c = _ring.RemoveFirst();
            _cumAckPoint = c.Tsn;
            if (!c.Acked && !c.Abandoned)
            {
                newlyAcked += c.Length;
                if (_rttPending && c.Tsn == _rttTsn && c.Transmissions == 1) UpdateRto(now - c.SentAt);
            }
            Retire(c);
        }
        _cumAckPoint = cum;
        if (Serial.Less(_advancedPeerAckPoint, _cumAckPoint)) _advancedPeerAckPoint = _cumAckPoint;
        if (newlyAcked > 0) _errorCount = 0;
    }

    private bool HandleSack(TimeSpan now, in SctpChunk chunk)
    {
        if (State is SctpState.Closed or SctpState.CookieWait or SctpState.CookieEchoed) { Counters.ChunksDropped++; return true; }
        if (!SackChunk.TryParse(chunk.Value, out var sack)) { Counters.ChunksDropped++; return true; }
        var cum = sack.CumulativeTsnAck;
        if (Serial.Less(cum, _cumAckPoint)) return true;   // older than what we know: out of order, ignore (§6.2.1)
        if (!Serial.Less(cum, _nextTsn))
        {
            Span<byte> info = stackalloc byte[0];
            AbortForViolation(SctpCause.ProtocolViolation, info, "SACK acknowledges a TSN never sent");
            return false;
        }
        var flightBefore = _flightSize;
        var cumAdvanced = cum != _cumAckPoint;
        AcknowledgeCumulative(now, cum, out var newlyAcked);
        var highestNewlyAcked = cumAdvanced ? cum : 0;
        var haveHighest = cumAdvanced;

        // Gap blocks: mark, and take back (revoke) marks a block no longer reports.
        _sackStamp++;
        for (var b = 0; b < sack.GapBlockCount; b++)
        {
            var (start, end) = sack.GapBlock(b);
            if (start == 0 || end < start) continue;
            for (int offset = start; offset <= end && offset - 1 < _ring.Count; offset++)
            {
                var c = _ring[offset - 1];
                if (c.Abandoned) continue;
                c.GapStamp = _sackStamp;
                if (!c.Acked)
                {
                    c.Acked = true;
                    SetInFlight(c, false);
                    if (c.NeedsRetransmit)
                    {
                        c.NeedsRetransmit = false;
                        _retransmitPending--;
                    }
                    newlyAcked += c.Length;
                    if (_rttPending && c.Tsn == _rttTsn && c.Transmissions == 1) UpdateRto(now - c.SentAt);
                    if (!haveHighest || Serial.Greater(c.Tsn, highestNewlyAcked)) highestNewlyAcked = c.Tsn;
                    haveHighest = true;
                }
            }
        }
        for (var i = 0; i < _ring.Count; i++)
        {
            var c = _ring[i];
            if (c.Acked && !c.Abandoned && c.GapStamp != _sackStamp)
            {
                c.Acked = false;   // revoked (§6.2.1): outstanding again
                SetInFlight(c, true);
            }
        }
        if (newlyAcked > 0) _errorCount = 0;

        // Fast retransmit: a third miss indication under the HTNA rule (§7.2.4).
        var marked = false;
        if (sack.GapBlockCount > 0 && haveHighest)
        {
            for (var i = 0; i < _ring.Count; i++)
            {
                var c = _ring[i];
                if (!Serial.Less(c.Tsn, highestNewlyAcked)) break;
                if (!c.Outstanding || c.NeedsRetransmit || c.FastRetransmitted) continue;
                if (++c.MissIndications >= 3)
                {
                    c.FastRetransmitted = true;
                    if (ShouldAbandon(c, now)) Abandon(c.Message);
                    else
                    {
                        MarkForRetransmit(c);
                        marked = true;
                    }
                }
            }
        }
        if (marked)
        {
            if (!_inFastRecovery)
            {
                _inFastRecovery = true;
                _fastRecoveryExit = _nextTsn - 1;
                _ssthresh = Math.Max(_cwnd / 2, 4 * _options.Mtu);
                _cwnd = _ssthresh;
                _partialBytesAcked = 0;
                Counters.FastRetransmits++;
            }
            _fastRetransmitBypass = true;
        }

        // Congestion window (§7.2.1, §7.2.2): grows only when the window was in use.
        if (cumAdvanced && !_inFastRecovery && newlyAcked > 0)
        {
            if (_cwnd <= _ssthresh)
            {
                if (flightBefore >= _cwnd) _cwnd += Math.Min(newlyAcked, _options.Mtu);
            }
            else
            {
                _partialBytesAcked += newlyAcked;
                if (_partialBytesAcked >= _cwnd && flightBefore >= _cwnd)
                {
                    _partialBytesAcked -= _cwnd;
                    _cwnd += _options.Mtu;
                }
            }
        }
        if (_inFastRecovery && !Serial.Less(_cumAckPoint, _fastRecoveryExit)) _inFastRecovery = false;

        _peerRwnd = Math.Max(0, (long)sack.ARwnd - _flightSize);

        AdvancePeerAckPoint();

        // T3-rtx (§6.3.2): stopped when nothing is outstanding, restarted when the earliest outstanding was
        // acknowledged. While only abandoned chunks hold the peer back it keeps running, so a lost
        // FORWARD-TSN is sent again (RFC 3758 §3.5 C3).
        var forwardOwed = Serial.Greater(_advancedPeerAckPoint, _cumAckPoint);
        if (!HasOutstanding() && !forwardOwed) _t3Deadline = TimeSpan.MaxValue;
        else if (cumAdvanced || _t3Deadline == TimeSpan.MaxValue) _t3Deadline = now + _rto;

        CheckShutdown(now);
        TrySendReconfig(now);
        return true;
    }

    private bool HasOutstanding()
    {
        for (var i = 0; i < _ring.Count; i++) if (_ring[i].Outstanding) return true;
        return false;
    }

    /// <summary>RFC 3758 §3.5 C1-C2: move the advanced peer ack point over abandoned chunks; a FORWARD-TSN tells the peer.</summary>
    private void AdvancePeerAckPoint()
    {
        if (!_peerForwardTsn) return;
        for (var i = 0; i < _ring.Count; i++)
        {
            var c = _ring[i];
            if (Serial.LessOrEqual(c.Tsn, _advancedPeerAckPoint)) continue;
            if (!c.Abandoned || c.Tsn != _advancedPeerAckPoint + 1) break;
            _advancedPeerAckPoint = c.Tsn;
        }
        if (Serial.Greater(_advancedPeerAckPoint, _cumAckPoint)) _forwardTsnPending = true;
    }

    /// <summary>FORWARD-TSN: the new cumulative TSN and, per ordered stream skipped, its highest skipped SSN.</summary>
    private bool WriteForwardTsn(ref SctpPacketWriter writer)
    {
        if (!Serial.Greater(_advancedPeerAckPoint, _cumAckPoint)) return true;
        _forwardScratch.Clear();
        for (var i = 0; i < _ring.Count; i++)
        {
            var c = _ring[i];
            if (Serial.Greater(c.Tsn, _advancedPeerAckPoint)) break;
            if (c.Abandoned && (c.Flags & DataChunk.FlagUnordered) == 0)
            {
                var stream = c.Message.StreamId;
                if (!_forwardScratch.TryGetValue(stream, out var ssn) || Serial.Less(ssn, c.Ssn)) _forwardScratch[stream] = c.Ssn;
            }
        }
        var size = 4 + 4 * _forwardScratch.Count;
        if (!writer.TryBeginChunk(SctpChunkType.ForwardTsn, 0, size, out var value)) return false;
        BinaryPrimitives.WriteUInt32BigEndian(value, _advancedPeerAckPoint);
        var at = 4;
        foreach (var (stream, ssn) in _forwardScratch)
        {
            BinaryPrimitives.WriteUInt16BigEndian(value[at..], stream);
            BinaryPrimitives.WriteUInt16BigEndian(value[(at + 2)..], ssn);
            at += 4;
        }
        writer.EndChunk();
        return true;
    }

    private void OnT3Expired(TimeSpan now)
    {
        if (!HasOutstanding())
        {
            _t3Deadline = TimeSpan.MaxValue;
            if (Serial.Greater(_advancedPeerAckPoint, _cumAckPoint))
            {
                // Only abandoned chunks remain: the FORWARD-TSN that skips them was lost.
                if (++_errorCount > _options.MaxAssociationRetransmits)
                {
                    Fail("retransmission limit reached");
                    return;
                }
                _forwardTsnPending = true;
                _rto = Min(_rto + _rto, _options.RtoMax);
                _t3Deadline = now + _rto;
            }
            return;
        }
        Counters.T3Expirations++;
        if (++_errorCount > _options.MaxAssociationRetransmits)
        {
            Fail("retransmission limit reached");
            return;
        }
        // §6.3.3 E1-E3 and §7.2.3: back off, collapse the window, and treat everything outstanding as lost.
        _ssthresh = Math.Max(_cwnd / 2, 4 * _options.Mtu);
        _cwnd = _options.Mtu;
        _partialBytesAcked = 0;
        _inFastRecovery = false;
        _rto = Min(_rto + _rto, _options.RtoMax);
        _rttPending = false;
        for (var i = 0; i < _ring.Count; i++)
        {
            var c = _ring[i];
            if (!c.Outstanding) continue;
            if (ShouldAbandon(c, now)) Abandon(c.Message);
            else MarkForRetransmit(c);
        }
        AdvancePeerAckPoint();
        _t3Deadline = now + _rto;
    }

    private void UpdateRto(TimeSpan r)
    {
        _rttPending = false;
        if (r < TimeSpan.Zero) r = TimeSpan.Zero;
        if (_srtt is not { } srtt)
        {
            _srtt = r;
            _rttvar = r / 2;
        }
        else
        {
            // RTO.Alpha = 1/8, RTO.Beta = 1/4.
            var delta = srtt > r ? srtt - r : r - srtt;
            _rttvar = _rttvar * 0.75 + delta * 0.25;
            _srtt = srtt * 0.875 + r * 0.125;
        }
        var rto = _srtt.Value + 4 * _rttvar;
        _rto = rto < _options.RtoMin ? _options.RtoMin : rto > _options.RtoMax ? _options.RtoMax : rto;
    }

    private void ReleaseSendState()
    {
        while (_ring.Count > 0) _ring.RemoveFirst().Message?.Reset();
        foreach (var stream in _outStreams.Values)
        {
            while (stream.Queue.TryDequeue(out var m)) m.Reset();
            stream.BufferedBytes = 0;
        }
        _current?.Reset();
        _current = null;
        _currentStream = null;
        _scheduled.Clear();
        _bufferedAmount = 0;
        _flightSize = 0;
        _retransmitPending = 0;
    }
}
