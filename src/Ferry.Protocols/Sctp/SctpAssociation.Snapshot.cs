using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// Export to and import from <see cref="SctpAssociationState"/>: an established association moves to
/// another process (or worker) and continues there as if nothing happened; the peer sees no change.
/// </summary>
public sealed partial class SctpAssociation
{
    private bool _exported;

    /// <summary>
    /// Writes everything this association needs to continue elsewhere into plain data, taking
    /// <paramref name="now"/> (this side's clock) as the base of every time: deadlines become what
    /// remains of them, send times their age. Only an established association can be exported; in any
    /// other state (handshake, shutdown, finished) this throws <see cref="InvalidOperationException"/>.
    /// <para>
    /// Afterwards this object is spent: its buffers go back to the pool, <see cref="NextTimeout"/> is
    /// <see cref="TimeSpan.MaxValue"/>, and every other call throws <see cref="InvalidOperationException"/>
    /// (so a packet fed to the old copy by mistake fails loudly instead of forking the association).
    /// <see cref="Dispose"/> stays allowed.
    /// </para>
    /// </summary>
    public SctpAssociationState Export(TimeSpan now)
    {
        ThrowIfExported();
        if (_finished || State != SctpState.Established)
            throw new InvalidOperationException($"only an established association can be exported (this one is {(_finished ? "finished" : State.ToString())})");
        var state = BuildState(now);
        _exported = true;
        _finished = true;   // NextTimeout reports nothing pending
        _t1Deadline = _t2Deadline = _t3Deadline = _sackDeadline = _reconfigDeadline = TimeSpan.MaxValue;
        ReleaseSendState();
        ReleaseReceiveState();
        while (_messages.TryDequeue(out var m)) m.Release();
        _receiveHeld = 0;
        _events.Clear();
        _rawPackets.Clear();
        _controlChunks.Clear();
        return state;
    }

    /// <summary>
    /// What <see cref="Export"/> writes, without spending the association: it goes on running here. For a
    /// standby's periodic copy (failover), where nothing but this side holds the association and a move's
    /// freeze is not wanted. Only an established association; otherwise <see cref="InvalidOperationException"/>.
    /// </summary>
    public SctpAssociationState Checkpoint(TimeSpan now)
    {
        ThrowIfExported();
        if (_finished || State != SctpState.Established)
            throw new InvalidOperationException($"only an established association can be copied (this one is {(_finished ? "finished" : State.ToString())})");
        return BuildState(now);
    }

    /// <summary>
    /// Builds an association from <paramref name="state"/> (from <see cref="Export"/>, here or in
    /// another process), with every time rebased on <paramref name="now"/> of this side's clock. It
    /// continues exactly where the exported one stopped: same tags and TSNs, the same messages queued,
    /// outstanding and half reassembled. Throws <see cref="ArgumentException"/> for a snapshot of
    /// another version or one whose parts do not fit together.
    /// </summary>
    public static SctpAssociation Import(SctpAssociationState state, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Version != SctpAssociationState.CurrentVersion)
            throw new ArgumentException($"SCTP snapshot version {state.Version}, this code reads {SctpAssociationState.CurrentVersion}", nameof(state));
        Check(state.State == SctpState.Established, "state is not Established");
        Check(state.CookieSecret is { Length: 32 }, "cookie secret is not 32 bytes");
        return new SctpAssociation(state, now);
    }

    private SctpAssociation(SctpAssociationState s, TimeSpan now)
    {
        var o = s.Options ?? throw Invalid("no options");
        _options = new SctpOptions
        {
            LocalPort = o.LocalPort, RemotePort = o.RemotePort, OutboundStreams = o.OutboundStreams, MaxInboundStreams = o.MaxInboundStreams,
            MaxMessageSize = o.MaxMessageSize, SendBufferSize = o.SendBufferSize, ReceiveWindow = o.ReceiveWindow, Mtu = o.Mtu,
            RtoInitial = TimeSpan.FromTicks(o.RtoInitialTicks), RtoMin = TimeSpan.FromTicks(o.RtoMinTicks), RtoMax = TimeSpan.FromTicks(o.RtoMaxTicks),
            MaxInitRetransmits = o.MaxInitRetransmits, MaxAssociationRetransmits = o.MaxAssociationRetransmits,
            DelayedAck = TimeSpan.FromTicks(o.DelayedAckTicks), CookieLifetime = TimeSpan.FromTicks(o.CookieLifetimeTicks),
        };
        Check(_options.Mtu >= 256 && _options.MaxMessageSize >= 1, "options out of range");
        s.CookieSecret.CopyTo(_cookieSecret, 0);
        _localTag = s.LocalTag;
        _initialTsn = s.LocalInitialTsn;
        _t1Interval = _options.RtoInitial;
        try
        {
            Restore(s, now);
        }
        catch
        {
            Dispose();   // the buffers rented so far go back
            throw;
        }
    }

    private static void Check([DoesNotReturnIf(false)] bool condition, string what)
    {
        if (!condition) throw Invalid(what);
    }

    private static ArgumentException Invalid(string what) => new($"SCTP snapshot does not fit together: {what}", "state");

    private void ThrowIfExported()
    {
        if (_exported) ThrowExported();
    }

    [DoesNotReturn]
    private static void ThrowExported() =>
        throw new InvalidOperationException("this SCTP association was exported; only the one imported from its snapshot may be used");

    private static long? Remaining(TimeSpan deadline, TimeSpan now) => deadline == TimeSpan.MaxValue ? null : (deadline - now).Ticks;

    private static TimeSpan Rebase(long? remaining, TimeSpan now) => remaining is { } r ? now + TimeSpan.FromTicks(r) : TimeSpan.MaxValue;

    private static byte[] Bytes(byte[] buffer, int length) => buffer.AsSpan(0, length).ToArray();

    private static byte[] Rent(byte[] data)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buffer, 0);
        return buffer;
    }

    private SctpAssociationState BuildState(TimeSpan now)
    {
        // Outgoing messages get table indices in a fixed walk (chunks, the message being cut, queues by
        // stream id), so an imported association exports the same table again.
        var index = new Dictionary<OutgoingMessage, int>(ReferenceEqualityComparer.Instance);
        var messages = new List<SctpOutgoingMessageState>();
        int IndexOf(OutgoingMessage m)
        {
            if (index.TryGetValue(m, out var i)) return i;
            index[m] = i = messages.Count;
            messages.Add(new SctpOutgoingMessageState
            {
                StreamId = m.StreamId, Ppid = m.Ppid, Unordered = m.Unordered, MaxRetransmits = m.MaxRetransmits,
                LifetimeRemainingTicks = Remaining(m.ExpiresAt, now), Data = Bytes(m.Buffer, m.Length), Offset = m.Offset,
                Ssn = m.Ssn, ChunksInList = m.ChunksInRing, Abandoned = m.Abandoned,
            });
            return i;
        }

        var chunks = new SctpOutChunkState[_ring.Count];
        for (var i = 0; i < chunks.Length; i++)
        {
            var c = _ring[i];
            chunks[i] = new SctpOutChunkState
            {
                Tsn = c.Tsn, Message = IndexOf(c.Message), Offset = c.Offset, Length = c.Length, Flags = c.Flags, Ssn = c.Ssn,
                SentAgoTicks = (now - c.SentAt).Ticks, Transmissions = c.Transmissions, MissIndications = c.MissIndications,
                Acked = c.Acked, Abandoned = c.Abandoned, NeedsRetransmit = c.NeedsRetransmit, FastRetransmitted = c.FastRetransmitted,
                InFlight = c.InFlight, GapStamp = c.GapStamp,
            };
        }
        var current = _current is null ? -1 : IndexOf(_current);
        var streamIds = new Dictionary<OutStream, ushort>(ReferenceEqualityComparer.Instance);
        var outStreams = new List<SctpOutStreamState>();
        foreach (var (id, stream) in _outStreams.OrderBy(kv => kv.Key))
        {
            streamIds[stream] = id;
            var queue = new int[stream.Queue.Count];
            var q = 0;
            foreach (var m in stream.Queue) queue[q++] = IndexOf(m);
            outStreams.Add(new SctpOutStreamState
            {
                Id = id, Queue = queue, NextSsn = stream.NextSsn, BufferedBytes = stream.BufferedBytes,
                ResetRequested = stream.ResetRequested, MessagesBeforeReset = stream.MessagesBeforeReset,
            });
        }

        var send = new SctpSendState
        {
            NextTsn = _nextTsn, CumulativeTsnAck = _cumAckPoint, AdvancedPeerAckPoint = _advancedPeerAckPoint,
            Messages = messages.ToArray(), CurrentMessage = current, Chunks = chunks, Streams = outStreams.ToArray(),
            Scheduled = _scheduled.Select(s => streamIds[s]).ToArray(),
            BufferedAmount = _bufferedAmount, FlightSize = _flightSize, RetransmitPending = _retransmitPending,
            FastRetransmitBypass = _fastRetransmitBypass, Cwnd = _cwnd, Ssthresh = _ssthresh, PartialBytesAcked = _partialBytesAcked,
            InFastRecovery = _inFastRecovery, FastRecoveryExit = _fastRecoveryExit, PeerRwnd = _peerRwnd,
            ForwardTsnPending = _forwardTsnPending, ErrorCount = _errorCount, SackStamp = _sackStamp,
            RtoTicks = _rto.Ticks, SrttTicks = _srtt?.Ticks, RttvarTicks = _rttvar.Ticks, RttPending = _rttPending, RttTsn = _rttTsn,
            T3RemainingTicks = Remaining(_t3Deadline, now),
        };

        // The received-TSN bits above the cumulative TSN, as runs.
        var ranges = new List<SctpTsnRange>();
        if (Serial.Less(_remoteCumTsn, _highestReceived))
        {
            var span = _highestReceived - _remoteCumTsn;
            uint start = 0;
            var inRun = false;
            for (uint offset = 1; offset <= span + 1; offset++)
            {
                var received = offset <= span && IsReceived(_remoteCumTsn + offset);
                if (received && !inRun)
                {
                    start = offset;
                    inRun = true;
                }
                else if (!received && inRun)
                {
                    ranges.Add(new SctpTsnRange { First = _remoteCumTsn + start, Last = _remoteCumTsn + offset - 1 });
                    inRun = false;
                }
            }
        }
        var cum = _remoteCumTsn;
        var receive = new SctpReceiveState
        {
            CumulativeTsn = _remoteCumTsn, HighestReceived = _highestReceived, Received = ranges.ToArray(),
            Duplicates = _duplicates.AsSpan(0, _duplicateCount).ToArray(),
            // Fragments may sit below the cumulative TSN (their message still lacks a later piece): ordered relative to it.
            Fragments = _stored.OrderBy(kv => (int)(kv.Key - cum)).Select(kv => new SctpFragmentState
            {
                Tsn = kv.Key, StreamId = kv.Value.StreamId, Ssn = kv.Value.Ssn, Ppid = kv.Value.Ppid, Flags = kv.Value.Flags,
                Data = Bytes(kv.Value.Data, kv.Value.Length),
            }).ToArray(),
            Streams = _inStreams.OrderBy(kv => kv.Key).Select(kv => new SctpInStreamState
            {
                Id = kv.Key, NextSsn = kv.Value.NextSsn,
                Ready = kv.Value.Ready.OrderBy(r => (ushort)(r.Key - kv.Value.NextSsn)).Select(r => new SctpReadyMessageState
                {
                    Ssn = r.Key, Ppid = r.Value.Ppid, Data = r.Value.Buffer is null ? null : Bytes(r.Value.Buffer, r.Value.Length),
                }).ToArray(),
            }).ToArray(),
            ReceiveHeld = _receiveHeld, SackPending = _sackPending, SackImmediate = _sackImmediate,
            SackRemainingTicks = Remaining(_sackDeadline, now), PacketsSinceSack = _packetsSinceSack,
        };

        var reconfig = new SctpReconfigState
        {
            NextRequestSeq = _reconfigRequestSeq, StreamsToReset = _streamsToReset.ToArray(),
            InFlightStreams = _resetInFlight?.ToArray(), InFlightSeq = _resetInFlightSeq, InFlightLastTsn = _resetInFlightLastTsn,
            RequestPending = _reconfigRequestPending, RequestRemainingTicks = Remaining(_reconfigDeadline, now),
            PeerExpectedSeq = _peerReconfigExpected, LastPeerRequestSeq = _lastPeerRequestSeq, LastPeerResult = (uint)_lastPeerResult,
            HaveLastPeerRequest = _haveLastPeerRequest,
            DeferredReset = _deferredReset is { } d ? new SctpDeferredResetState { Seq = d.Seq, LastTsn = d.LastTsn, Streams = d.Streams.ToArray() } : null,
        };

        var k = Counters;
        return new SctpAssociationState
        {
            Options = new SctpOptionsState
            {
                LocalPort = _options.LocalPort, RemotePort = _options.RemotePort, OutboundStreams = _options.OutboundStreams,
                MaxInboundStreams = _options.MaxInboundStreams, MaxMessageSize = _options.MaxMessageSize, SendBufferSize = _options.SendBufferSize,
                ReceiveWindow = _options.ReceiveWindow, Mtu = _options.Mtu, RtoInitialTicks = _options.RtoInitial.Ticks,
                RtoMinTicks = _options.RtoMin.Ticks, RtoMaxTicks = _options.RtoMax.Ticks, MaxInitRetransmits = _options.MaxInitRetransmits,
                MaxAssociationRetransmits = _options.MaxAssociationRetransmits, DelayedAckTicks = _options.DelayedAck.Ticks,
                CookieLifetimeTicks = _options.CookieLifetime.Ticks,
            },
            State = State, LocalTag = _localTag, PeerTag = _peerTag, LocalInitialTsn = _initialTsn, CookieSecret = _cookieSecret.ToArray(),
            CookieAckPending = _cookieAckPending, OutboundStreamCount = _outStreamCount, InboundStreamCount = _inStreamCount,
            PeerForwardTsn = _peerForwardTsn, PeerReconfig = _peerReconfig,
            Send = send, Receive = receive, Reconfig = reconfig,
            RawPackets = _rawPackets.Select(p => p.ToArray()).ToArray(),
            ControlChunks = _controlChunks.Select(c => c.ToArray()).ToArray(),
            Events = _events.Select(e => new SctpEventState { Kind = e.Kind, Reason = e.Reason, Streams = e.Streams?.ToArray() }).ToArray(),
            Messages = _messages.Select(m => new SctpMessageState { StreamId = m.StreamId, Ppid = m.Ppid, Unordered = m.Unordered, Data = m.Data.ToArray() }).ToArray(),
            Counters = new SctpCountersState
            {
                PacketsReceived = k.PacketsReceived, PacketsSent = k.PacketsSent, MalformedPackets = k.MalformedPackets,
                ChecksumErrors = k.ChecksumErrors, VerificationTagErrors = k.VerificationTagErrors, ChunksDropped = k.ChunksDropped,
                DataChunksReceived = k.DataChunksReceived, DuplicateChunks = k.DuplicateChunks, InvalidStreamChunks = k.InvalidStreamChunks,
                ReceiveWindowDrops = k.ReceiveWindowDrops, OversizedMessages = k.OversizedMessages, MessagesReceived = k.MessagesReceived,
                MessagesSent = k.MessagesSent, DataChunksSent = k.DataChunksSent, Retransmissions = k.Retransmissions,
                FastRetransmits = k.FastRetransmits, T3Expirations = k.T3Expirations, MessagesAbandoned = k.MessagesAbandoned,
                HeartbeatsAnswered = k.HeartbeatsAnswered,
            },
        };
    }

    private void Restore(SctpAssociationState s, TimeSpan now)
    {
        State = s.State;
        _peerTag = s.PeerTag;
        Check(_peerTag != 0, "no peer tag");
        _cookieAckPending = s.CookieAckPending;
        _outStreamCount = s.OutboundStreamCount;
        _inStreamCount = s.InboundStreamCount;
        _peerForwardTsn = s.PeerForwardTsn;
        _peerReconfig = s.PeerReconfig;

        var send = s.Send ?? throw Invalid("no send state");
        _nextTsn = send.NextTsn;
        _cumAckPoint = send.CumulativeTsnAck;
        _advancedPeerAckPoint = send.AdvancedPeerAckPoint;
        var messages = new OutgoingMessage[send.Messages.Length];
        for (var i = 0; i < messages.Length; i++)
        {
            var m = send.Messages[i];
            Check(m.Data is not null && m.Offset >= 0 && m.Offset <= m.Data.Length, "outgoing message offset");
            messages[i] = new OutgoingMessage
            {
                StreamId = m.StreamId, Ppid = m.Ppid, Unordered = m.Unordered, MaxRetransmits = m.MaxRetransmits,
                ExpiresAt = Rebase(m.LifetimeRemainingTicks, now), Buffer = Rent(m.Data), Length = m.Data.Length, Offset = m.Offset,
                Ssn = m.Ssn, ChunksInRing = m.ChunksInList, Abandoned = m.Abandoned,
            };
        }
        OutgoingMessage MessageAt(int i)
        {
            Check(i >= 0 && i < messages.Length, "message index out of range");
            return messages[i];
        }
        var expected = _cumAckPoint;
        foreach (var c in send.Chunks)
        {
            Check(c.Tsn == ++expected, "outstanding chunks are not consecutive from the cumulative ack point");
            var message = MessageAt(c.Message);
            Check(c.Offset >= 0 && c.Length > 0 && c.Offset + c.Length <= message.Length, "chunk outside its message");
            _ring.Add(new OutChunk
            {
                Tsn = c.Tsn, Message = message, Offset = c.Offset, Length = c.Length, Flags = c.Flags, Ssn = c.Ssn,
                SentAt = now - TimeSpan.FromTicks(c.SentAgoTicks), Transmissions = c.Transmissions, MissIndications = c.MissIndications,
                Acked = c.Acked, Abandoned = c.Abandoned, NeedsRetransmit = c.NeedsRetransmit, FastRetransmitted = c.FastRetransmitted,
                InFlight = c.InFlight, GapStamp = c.GapStamp,
            });
        }
        Check(expected + 1 == _nextTsn, "outstanding chunks do not reach the next TSN");
        foreach (var st in send.Streams)
        {
            Check(!_outStreams.ContainsKey(st.Id), "outgoing stream listed twice");
            var stream = GetOutStream(st.Id);
            foreach (var i in st.Queue) stream.Queue.Enqueue(MessageAt(i));
            stream.NextSsn = st.NextSsn;
            stream.BufferedBytes = st.BufferedBytes;
            stream.ResetRequested = st.ResetRequested;
            stream.MessagesBeforeReset = st.MessagesBeforeReset;
        }
        foreach (var id in send.Scheduled)
        {
            Check(_outStreams.TryGetValue(id, out var stream) && !stream.Scheduled, "scheduled stream unknown or listed twice");
            stream.Scheduled = true;
            _scheduled.Enqueue(stream);
        }
        if (send.CurrentMessage >= 0)
        {
            _current = MessageAt(send.CurrentMessage);
            Check(_outStreams.TryGetValue(_current.StreamId, out _currentStream), "current message on an unknown stream");
        }
        _bufferedAmount = send.BufferedAmount;
        _flightSize = send.FlightSize;
        _retransmitPending = send.RetransmitPending;
        _fastRetransmitBypass = send.FastRetransmitBypass;
        _cwnd = send.Cwnd;
        _ssthresh = send.Ssthresh;
        _partialBytesAcked = send.PartialBytesAcked;
        _inFastRecovery = send.InFastRecovery;
        _fastRecoveryExit = send.FastRecoveryExit;
        _peerRwnd = send.PeerRwnd;
        _forwardTsnPending = send.ForwardTsnPending;
        _errorCount = send.ErrorCount;
        _sackStamp = send.SackStamp;
        _rto = TimeSpan.FromTicks(send.RtoTicks);
        _srtt = send.SrttTicks is { } srtt ? TimeSpan.FromTicks(srtt) : null;
        _rttvar = TimeSpan.FromTicks(send.RttvarTicks);
        _rttPending = send.RttPending;
        _rttTsn = send.RttTsn;
        _t3Deadline = Rebase(send.T3RemainingTicks, now);

        var receive = s.Receive ?? throw Invalid("no receive state");
        _remoteCumTsn = receive.CumulativeTsn;
        _highestReceived = receive.HighestReceived;
        Check(Serial.LessOrEqual(_remoteCumTsn, _highestReceived) && _highestReceived - _remoteCumTsn < WindowBits, "highest received TSN outside the window");
        foreach (var range in receive.Received)
        {
            Check(Serial.Less(_remoteCumTsn, range.First) && Serial.LessOrEqual(range.First, range.Last) && Serial.LessOrEqual(range.Last, _highestReceived), "received TSN range outside the window");
            for (var t = range.First; ; t++)
            {
                SetReceived(t, true);
                if (t == range.Last) break;
            }
        }
        Check(receive.Duplicates.Length <= MaxDuplicatesReported, "too many duplicates");
        receive.Duplicates.CopyTo(_duplicates, 0);
        _duplicateCount = receive.Duplicates.Length;
        foreach (var f in receive.Fragments)
        {
            Check(f.Data is not null && !_stored.ContainsKey(f.Tsn), "fragment without bytes or listed twice");
            _stored[f.Tsn] = new InChunk { StreamId = f.StreamId, Ssn = f.Ssn, Ppid = f.Ppid, Flags = f.Flags, Data = Rent(f.Data), Length = f.Data.Length };
        }
        foreach (var st in receive.Streams)
        {
            Check(!_inStreams.ContainsKey(st.Id), "incoming stream listed twice");
            var stream = GetInStream(st.Id);
            stream.NextSsn = st.NextSsn;
            foreach (var r in st.Ready)
            {
                var added = stream.Ready.TryAdd(r.Ssn, (r.Data is null ? null : Rent(r.Data), r.Data?.Length ?? 0, r.Ppid));
                Check(added, "ready message listed twice");
            }
        }
        _receiveHeld = receive.ReceiveHeld;
        _sackPending = receive.SackPending;
        _sackImmediate = receive.SackImmediate;
        _sackDeadline = Rebase(receive.SackRemainingTicks, now);
        _packetsSinceSack = receive.PacketsSinceSack;

        var reconfig = s.Reconfig ?? throw Invalid("no reconfig state");
        _reconfigRequestSeq = reconfig.NextRequestSeq;
        foreach (var id in reconfig.StreamsToReset) _streamsToReset.Add(id);
        _resetInFlight = reconfig.InFlightStreams?.ToArray();
        _resetInFlightSeq = reconfig.InFlightSeq;
        _resetInFlightLastTsn = reconfig.InFlightLastTsn;
        _reconfigRequestPending = reconfig.RequestPending;
        _reconfigDeadline = Rebase(reconfig.RequestRemainingTicks, now);
        _peerReconfigExpected = reconfig.PeerExpectedSeq;
        _lastPeerRequestSeq = reconfig.LastPeerRequestSeq;
        _lastPeerResult = (ReconfigResult)reconfig.LastPeerResult;
        _haveLastPeerRequest = reconfig.HaveLastPeerRequest;
        _deferredReset = reconfig.DeferredReset is { } d ? (d.Seq, d.LastTsn, d.Streams.ToArray()) : null;

        foreach (var p in s.RawPackets) _rawPackets.Enqueue(p.ToArray());
        foreach (var c in s.ControlChunks)
        {
            Check(c.Length >= 4, "control chunk shorter than its header");
            _controlChunks.Add(c.ToArray());
        }
        foreach (var e in s.Events) _events.Enqueue(new SctpEvent(e.Kind, e.Reason, e.Streams?.ToArray()));
        foreach (var m in s.Messages) _messages.Enqueue(new SctpMessage(m.StreamId, m.Ppid, m.Unordered, Rent(m.Data), m.Data.Length));

        var k = s.Counters ?? throw Invalid("no counters");
        Counters.PacketsReceived = k.PacketsReceived;
        Counters.PacketsSent = k.PacketsSent;
        Counters.MalformedPackets = k.MalformedPackets;
        Counters.ChecksumErrors = k.ChecksumErrors;
        Counters.VerificationTagErrors = k.VerificationTagErrors;
        Counters.ChunksDropped = k.ChunksDropped;
        Counters.DataChunksReceived = k.DataChunksReceived;
        Counters.DuplicateChunks = k.DuplicateChunks;
        Counters.InvalidStreamChunks = k.InvalidStreamChunks;
        Counters.ReceiveWindowDrops = k.ReceiveWindowDrops;
        Counters.OversizedMessages = k.OversizedMessages;
        Counters.MessagesReceived = k.MessagesReceived;
        Counters.MessagesSent = k.MessagesSent;
        Counters.DataChunksSent = k.DataChunksSent;
        Counters.Retransmissions = k.Retransmissions;
        Counters.FastRetransmits = k.FastRetransmits;
        Counters.T3Expirations = k.T3Expirations;
        Counters.MessagesAbandoned = k.MessagesAbandoned;
        Counters.HeartbeatsAnswered = k.HeartbeatsAnswered;
    }
}
