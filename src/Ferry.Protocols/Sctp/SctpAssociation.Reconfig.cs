using System.Buffers;
using System.Buffers.Binary;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// Stream reset (RFC 6525): the Outgoing SSN Reset Request and its response, both ways. A WebRTC data
/// channel closes by resetting its outgoing stream; the peer answers by resetting its own (RFC 8831 §6.7).
/// </summary>
public sealed partial class SctpAssociation
{
    private readonly SortedSet<ushort> _streamsToReset = [];
    private uint _reconfigRequestSeq;
    private ushort[]? _resetInFlight;
    private uint _resetInFlightSeq;
    private uint _resetInFlightLastTsn;
    private bool _reconfigRequestPending;
    private TimeSpan _reconfigDeadline = TimeSpan.MaxValue;

    // The peer's side.
    private uint _peerReconfigExpected;
    private uint _lastPeerRequestSeq;
    private ReconfigResult _lastPeerResult;
    private bool _haveLastPeerRequest;
    private (uint Seq, uint LastTsn, ushort[] Streams)? _deferredReset;

    /// <summary>
    /// Resets outgoing <paramref name="streams"/> (closing their data channels): messages already queued
    /// on them go first, then a RE-CONFIG request; once the peer performs it the streams restart at SSN 0
    /// (event OutgoingStreamsReset). Messages sent on them meanwhile wait for the reset and go after it.
    /// </summary>
    public void ResetStreams(TimeSpan now, ReadOnlySpan<ushort> streams)
    {
        ThrowIfExported();
        if (_finished) return;
        foreach (var id in streams)
        {
            var stream = GetOutStream(id);
            if (stream.ResetRequested) continue;
            stream.ResetRequested = true;
            stream.MessagesBeforeReset = stream.Queue.Count;
            _streamsToReset.Add(id);
        }
        TrySendReconfig(now);
    }

    /// <summary>Sends the next reset request when none is outstanding and the data before it has its TSNs.</summary>
    private void TrySendReconfig(TimeSpan now)
    {
        if (_resetInFlight is not null || _streamsToReset.Count == 0 || State != SctpState.Established) return;
        if (!_peerReconfig)
        {
            var refused = _streamsToReset.ToArray();
            _streamsToReset.Clear();
            foreach (var id in refused) ReopenStream(id, resetSsn: false);
            _events.Enqueue(new SctpEvent(SctpEventKind.OutgoingStreamsResetFailed, "the peer does not support RE-CONFIG", refused));
            return;
        }
        List<ushort>? ready = null;
        foreach (var id in _streamsToReset)
        {
            var stream = _outStreams[id];
            if (stream.MessagesBeforeReset > 0 || _currentStream == stream) continue;
            (ready ??= []).Add(id);
        }
        if (ready is null) return;
        // At most what fits a packet comfortably; the rest go in the next request.
        if (ready.Count > 256) ready.RemoveRange(256, ready.Count - 256);
        foreach (var id in ready) _streamsToReset.Remove(id);
        _resetInFlight = ready.ToArray();
        _resetInFlightSeq = _reconfigRequestSeq++;
        _resetInFlightLastTsn = _nextTsn - 1;
        _reconfigRequestPending = true;
        _reconfigDeadline = now + _rto;
    }

    private void ReopenStream(ushort id, bool resetSsn)
    {
        var stream = GetOutStream(id);
        stream.ResetRequested = false;
        stream.MessagesBeforeReset = 0;
        if (resetSsn) stream.NextSsn = 0;
        Schedule(stream);
    }

    /// <summary>
    /// RE-CONFIG with one Outgoing SSN Reset Request (RFC 6525 §4.1).
    /// <code>
    /// |     Parameter Type = 13       | Parameter Length = 16 + 2 * N |
    /// |           Re-configuration Request Sequence Number            |
    /// |           Re-configuration Response Sequence Number           |
    /// |                Sender's Last Assigned TSN                     |
    /// |  Stream Number 1 (optional)   |    Stream Number 2 (optional) |
    /// </code>
    /// </summary>
    private bool WriteReconfigRequest(ref SctpPacketWriter writer)
    {
        if (_resetInFlight is not { } streams) return true;
        var parameterLength = 16 + 2 * streams.Length;
        if (!writer.TryBeginChunk(SctpChunkType.ReConfig, 0, (parameterLength + 3) & ~3, out var value)) return false;
        BinaryPrimitives.WriteUInt16BigEndian(value, SctpParameter.OutgoingSsnResetRequest);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], (ushort)parameterLength);
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], _resetInFlightSeq);
        BinaryPrimitives.WriteUInt32BigEndian(value[8..], _peerReconfigExpected - 1);
        BinaryPrimitives.WriteUInt32BigEndian(value[12..], _resetInFlightLastTsn);
        for (var i = 0; i < streams.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(value[(16 + 2 * i)..], streams[i]);
        value[parameterLength..].Clear();
        writer.EndChunk();
        return true;
    }

    private void HandleReconfig(TimeSpan now, in SctpChunk chunk)
    {
        if (State is not (SctpState.Established or SctpState.ShutdownPending or SctpState.ShutdownSent or SctpState.ShutdownReceived))
        {
            Counters.ChunksDropped++;
            return;
        }
        var e = new SctpTlvEnumerator(chunk.Value);
        var parameters = 0;
        while (e.MoveNext() && ++parameters <= 2)
        {
            switch (e.Type)
            {
                case SctpParameter.OutgoingSsnResetRequest when e.Value.Length >= 12 && e.Value.Length % 2 == 0:
                    OnPeerResetRequest(now, e.Value);
                    break;
                case SctpParameter.ReconfigurationResponse when e.Value.Length >= 8:
                    OnResetResponse(now, BinaryPrimitives.ReadUInt32BigEndian(e.Value), (ReconfigResult)BinaryPrimitives.ReadUInt32BigEndian(e.Value[4..]));
                    break;
                case SctpParameter.IncomingSsnResetRequest when e.Value.Length >= 4 && e.Value.Length % 2 == 0:
                    OnPeerIncomingResetRequest(now, e.Value);
                    break;
                case SctpParameter.SsnTsnResetRequest or SctpParameter.AddOutgoingStreamsRequest or SctpParameter.AddIncomingStreamsRequest when e.Value.Length >= 4:
                    // Not offered to WebRTC peers (they do not use them): refused, in sequence.
                    AnswerPeerRequest(BinaryPrimitives.ReadUInt32BigEndian(e.Value), () => ReconfigResult.Denied);
                    break;
                default:
                    Counters.ChunksDropped++;
                    break;
            }
        }
        if (e.IsMalformed) Counters.ChunksDropped++;
    }

    /// <summary>
    /// The peer resets its outgoing streams (our incoming ones). Performed at once when every TSN it
    /// sent before is here; otherwise answered "in progress" and performed when they are (RFC 6525 §5.2.2).
    /// </summary>
    private void OnPeerResetRequest(TimeSpan now, ReadOnlySpan<byte> value)
    {
        var seq = BinaryPrimitives.ReadUInt32BigEndian(value);
        var lastTsn = BinaryPrimitives.ReadUInt32BigEndian(value[8..]);
        var streams = new ushort[(value.Length - 12) / 2];
        for (var i = 0; i < streams.Length; i++) streams[i] = BinaryPrimitives.ReadUInt16BigEndian(value[(12 + 2 * i)..]);
        AnswerPeerRequest(seq, () =>
        {
            if (Serial.LessOrEqual(lastTsn, _remoteCumTsn))
            {
                PerformIncomingReset(streams);
                return ReconfigResult.SuccessPerformed;
            }
            _deferredReset = (seq, lastTsn, streams);
            return ReconfigResult.InProgress;
        });
    }

    /// <summary>The peer asks us to reset our outgoing streams: we do, with our own request (RFC 6525 §5.2.3).</summary>
    private void OnPeerIncomingResetRequest(TimeSpan now, ReadOnlySpan<byte> value)
    {
        var seq = BinaryPrimitives.ReadUInt32BigEndian(value);
        var streams = new ushort[(value.Length - 4) / 2];
        for (var i = 0; i < streams.Length; i++) streams[i] = BinaryPrimitives.ReadUInt16BigEndian(value[(4 + 2 * i)..]);
        AnswerPeerRequest(seq, () =>
        {
            if (streams.Length == 0) return ReconfigResult.Denied;
            ResetStreams(now, streams);
            return ReconfigResult.SuccessPerformed;
        });
    }

    /// <summary>Requests are processed in sequence; a retransmitted one gets its answer again (re-evaluated if it was in progress).</summary>
    private void AnswerPeerRequest(uint seq, Func<ReconfigResult> process)
    {
        ReconfigResult result;
        if (seq == _peerReconfigExpected)
        {
            result = process();
            _peerReconfigExpected++;
            _lastPeerRequestSeq = seq;
            _lastPeerResult = result;
            _haveLastPeerRequest = true;
        }
        else if (_haveLastPeerRequest && seq == _lastPeerRequestSeq)
        {
            if (_lastPeerResult == ReconfigResult.InProgress && _deferredReset is null) _lastPeerResult = ReconfigResult.SuccessPerformed;
            result = _lastPeerResult;
        }
        else
        {
            result = ReconfigResult.ErrorBadSequenceNumber;
        }
        Span<byte> response = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(response, SctpParameter.ReconfigurationResponse);
        BinaryPrimitives.WriteUInt16BigEndian(response[2..], 12);
        BinaryPrimitives.WriteUInt32BigEndian(response[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(response[8..], (uint)result);
        QueueControlChunk(SctpChunkType.ReConfig, 0, response);
    }

    private void CheckDeferredReset()
    {
        if (_deferredReset is not { } deferred || !Serial.LessOrEqual(deferred.LastTsn, _remoteCumTsn)) return;
        _deferredReset = null;
        PerformIncomingReset(deferred.Streams);
    }

    /// <summary>Incoming streams start over at SSN 0; what waited on them for an earlier SSN is dropped.</summary>
    private void PerformIncomingReset(ushort[] streams)
    {
        if (streams.Length == 0)
        {
            foreach (var (id, stream) in _inStreams) ResetInStream(stream);
        }
        else
        {
            foreach (var id in streams) if (_inStreams.TryGetValue(id, out var stream)) ResetInStream(stream);
        }
        _events.Enqueue(new SctpEvent(SctpEventKind.IncomingStreamsReset, Streams: streams));
    }

    private void ResetInStream(InStream stream)
    {
        stream.NextSsn = 0;
        foreach (var ready in stream.Ready.Values)
        {
            if (ready.Buffer is null) continue;
            ArrayPool<byte>.Shared.Return(ready.Buffer);
            _receiveHeld -= ready.Length;
        }
        stream.Ready.Clear();
    }

    private void OnResetResponse(TimeSpan now, uint seq, ReconfigResult result)
    {
        if (_resetInFlight is not { } streams || seq != _resetInFlightSeq) return;
        switch (result)
        {
            case ReconfigResult.InProgress:
                // Asked again later, same sequence number.
                _reconfigDeadline = now + _rto;
                return;
            case ReconfigResult.SuccessPerformed:
            case ReconfigResult.SuccessNothingToDo:
                foreach (var id in streams) ReopenStream(id, resetSsn: true);
                _events.Enqueue(new SctpEvent(SctpEventKind.OutgoingStreamsReset, Streams: streams));
                break;
            default:
                foreach (var id in streams) ReopenStream(id, resetSsn: false);
                _events.Enqueue(new SctpEvent(SctpEventKind.OutgoingStreamsResetFailed, $"peer answered {result}", streams));
                break;
        }
        _resetInFlight = null;
        _reconfigRequestPending = false;
        _reconfigDeadline = TimeSpan.MaxValue;
        TrySendReconfig(now);
    }
}
