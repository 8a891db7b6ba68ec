using System.Buffers;
using System.Buffers.Binary;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// The receiving half: TSN tracking with gap reports and duplicates (RFC 9260 §6.2), reassembly and
/// ordered/unordered delivery per stream (§6.5, §6.6, §6.9), FORWARD-TSN (RFC 3758 §3.6).
/// </summary>
public sealed partial class SctpAssociation
{
    // TSNs above the cumulative TSN are tracked in a 65536-bit window; a chunk further ahead is dropped
    // unacknowledged (its sender retransmits it once the window has moved).
    private const int WindowBits = 1 << 16;
    private const int MaxStoredFragments = 8192;
    private const int MaxDuplicatesReported = 16;

    private readonly ulong[] _receivedBits = new ulong[WindowBits / 64];
    private readonly Dictionary<uint, InChunk> _stored = new();
    private readonly Dictionary<ushort, InStream> _inStreams = new();
    private readonly uint[] _duplicates = new uint[MaxDuplicatesReported];
    private readonly List<uint> _tsnScratch = [];
    private uint _remoteCumTsn;
    private uint _highestReceived;
    private long _receiveHeld;
    private int _duplicateCount;
    private bool _sackPending;
    private bool _sackImmediate;
    private TimeSpan _sackDeadline = TimeSpan.MaxValue;
    private int _packetsSinceSack;
    private bool _dataInPacket;

    /// <summary>a_rwnd: what is left of the receive window after what we hold (fragments, out-of-order and undelivered messages).</summary>
    private long ReceiveWindowAvailable => Math.Max(0, _options.ReceiveWindow - _receiveHeld);

    private bool IsReceived(uint tsn) => (_receivedBits[(tsn & (WindowBits - 1)) >> 6] & (1UL << (int)(tsn & 63))) != 0;

    private void SetReceived(uint tsn, bool value)
    {
        ref var word = ref _receivedBits[(tsn & (WindowBits - 1)) >> 6];
        var bit = 1UL << (int)(tsn & 63);
        word = value ? word | bit : word & ~bit;
    }

    private bool HandleData(TimeSpan now, in SctpChunk chunk)
    {
        if (State is not (SctpState.Established or SctpState.ShutdownPending or SctpState.ShutdownSent))
        {
            Counters.ChunksDropped++;
            return true;
        }
        if (!DataChunk.TryParse(chunk, out var data))
        {
            Counters.ChunksDropped++;
            return true;
        }
        if (data.Payload.IsEmpty)
        {
            // RFC 9260 §6.2: a DATA chunk without user data is answered with ABORT (cause "No User Data").
            Span<byte> tsn = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(tsn, data.Tsn);
            AbortForViolation(SctpCause.NoUserData, tsn, "DATA chunk without user data");
            return false;
        }
        _dataInPacket = true;
        Counters.DataChunksReceived++;
        if ((data.Flags & DataChunk.FlagImmediate) != 0) _sackImmediate = true;
        var tsnValue = data.Tsn;
        if (Serial.LessOrEqual(tsnValue, _remoteCumTsn) || IsReceived(tsnValue) && Serial.LessOrEqual(tsnValue, _highestReceived))
        {
            RecordDuplicate(tsnValue);
            return true;
        }
        if (tsnValue - _remoteCumTsn >= WindowBits)
        {
            Counters.ReceiveWindowDrops++;
            return true;
        }
        // Window full: take only what fills the oldest hole (the peer should not have sent more; RFC 9260 §6.2).
        if (_receiveHeld + data.Payload.Length > _options.ReceiveWindow + _options.Mtu && tsnValue != _remoteCumTsn + 1
            || _stored.Count >= MaxStoredFragments && !(data.Beginning && data.Ending))
        {
            Counters.ReceiveWindowDrops++;
            return true;
        }
        SetReceived(tsnValue, true);
        if (Serial.Greater(tsnValue, _highestReceived)) _highestReceived = tsnValue;
        if (data.StreamId >= _inStreamCount)
        {
            // Acknowledged but not delivered, and the peer is told (RFC 9260 §6.5).
            Counters.InvalidStreamChunks++;
            Span<byte> cause = stackalloc byte[8];
            BinaryPrimitives.WriteUInt16BigEndian(cause, SctpCause.InvalidStreamIdentifier);
            BinaryPrimitives.WriteUInt16BigEndian(cause[2..], 8);
            BinaryPrimitives.WriteUInt16BigEndian(cause[4..], data.StreamId);
            cause[6] = cause[7] = 0;
            QueueControlChunk(SctpChunkType.Error, 0, cause);
        }
        else
        {
            Accept(tsnValue, data);
        }
        AdvanceCumulative();
        return true;
    }

    private void RecordDuplicate(uint tsn)
    {
        Counters.DuplicateChunks++;
        _sackImmediate = true;
        if (_duplicateCount < MaxDuplicatesReported) _duplicates[_duplicateCount++] = tsn;
    }

    private void AdvanceCumulative()
    {
        while (Serial.Less(_remoteCumTsn, _highestReceived) && IsReceived(_remoteCumTsn + 1))
        {
            _remoteCumTsn++;
            SetReceived(_remoteCumTsn, false);
        }
        CheckDeferredReset();
    }

    /// <summary>After a packet with DATA: acknowledge now (gaps, duplicates, every second packet) or within the delayed-ack time (§6.2).</summary>
    private void AfterDataPacket(TimeSpan now)
    {
        _packetsSinceSack++;
        if (_sackImmediate || _packetsSinceSack >= 2 || _highestReceived != _remoteCumTsn || State == SctpState.ShutdownSent)
        {
            _sackPending = true;
            if (State == SctpState.ShutdownSent) _shutdownChunkPending = true;   // §9.2: each SACK in SHUTDOWN-SENT goes with a SHUTDOWN
        }
        else if (_sackDeadline == TimeSpan.MaxValue)
        {
            _sackDeadline = now + _options.DelayedAck;
        }
    }

    private void ClearSackState()
    {
        _sackPending = false;
        _sackImmediate = false;
        _packetsSinceSack = 0;
        _sackDeadline = TimeSpan.MaxValue;
        _duplicateCount = 0;
    }

    /// <summary>SACK: cumulative TSN, a_rwnd, the runs of TSNs received above it, the duplicates seen since the last one.</summary>
    private bool WriteSack(ref SctpPacketWriter writer)
    {
        var room = writer.Remaining - 4 - SackChunk.FixedSize;
        if (room < 0) return false;
        var duplicates = Math.Min(_duplicateCount, room / 4 / 2);
        var maxBlocks = (room - 4 * duplicates) / 4;
        Span<uint> blocks = stackalloc uint[Math.Min(maxBlocks, 128)];
        var count = 0;
        if (Serial.Less(_remoteCumTsn, _highestReceived))
        {
            var span = _highestReceived - _remoteCumTsn;
            uint start = 0;
            var inRun = false;
            for (uint offset = 1; offset <= span && count < blocks.Length; offset++)
            {
                var received = IsReceived(_remoteCumTsn + offset);
                if (received && !inRun)
                {
                    start = offset;
                    inRun = true;
                }
                else if (!received && inRun)
                {
                    blocks[count++] = (start << 16) | (offset - 1);
                    inRun = false;
                }
            }
            if (inRun && count < blocks.Length) blocks[count++] = (start << 16) | span;
        }
        if (!writer.TryBeginChunk(SctpChunkType.Sack, 0, SackChunk.FixedSize + 4 * count + 4 * duplicates, out var value)) return false;
        BinaryPrimitives.WriteUInt32BigEndian(value, _remoteCumTsn);
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], (uint)ReceiveWindowAvailable);
        BinaryPrimitives.WriteUInt16BigEndian(value[8..], (ushort)count);
        BinaryPrimitives.WriteUInt16BigEndian(value[10..], (ushort)duplicates);
        var at = SackChunk.FixedSize;
        for (var i = 0; i < count; i++, at += 4) BinaryPrimitives.WriteUInt32BigEndian(value[at..], blocks[i]);
        for (var i = 0; i < duplicates; i++, at += 4) BinaryPrimitives.WriteUInt32BigEndian(value[at..], _duplicates[i]);
        writer.EndChunk();
        return true;
    }

    /// <summary>A new DATA chunk for a valid stream: deliver it, or keep it until its message is complete and in order.</summary>
    private void Accept(uint tsn, in DataChunk data)
    {
        if (data.Beginning && data.Ending)
        {
            // The common case, one chunk per message: one copy, straight to the application when in order.
            var buffer = Copy(data.Payload);
            _receiveHeld += data.Payload.Length;
            Complete(data.StreamId, data.Ssn, data.Unordered, data.Ppid, buffer, data.Payload.Length);
            return;
        }
        _stored[tsn] = new InChunk
        {
            StreamId = data.StreamId, Ssn = data.Ssn, Ppid = data.Ppid, Flags = data.Flags,
            Data = Copy(data.Payload), Length = data.Payload.Length,
        };
        _receiveHeld += data.Payload.Length;
        TryReassemble(tsn);
    }

    private static byte[] Copy(ReadOnlySpan<byte> payload)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(payload.Length);
        payload.CopyTo(buffer);
        return buffer;
    }

    private static bool SameMessage(in InChunk a, in InChunk b) =>
        a.StreamId == b.StreamId && a.Unordered == b.Unordered && (a.Unordered || a.Ssn == b.Ssn);

    /// <summary>Fragments of a message have consecutive TSNs from B to E (§6.9): look both ways from the one that arrived.</summary>
    private void TryReassemble(uint tsn)
    {
        var chunk = _stored[tsn];
        var first = tsn;
        var at = chunk;
        while (!at.Beginning)
        {
            if (!_stored.TryGetValue(first - 1, out var previous) || !SameMessage(previous, chunk) || previous.Ending) return;
            first--;
            at = previous;
        }
        var last = tsn;
        at = chunk;
        while (!at.Ending)
        {
            if (!_stored.TryGetValue(last + 1, out var next) || !SameMessage(next, chunk) || next.Beginning) return;
            last++;
            at = next;
        }
        long total = 0;
        for (var t = first; ; t++)
        {
            total += _stored[t].Length;
            if (t == last) break;
        }
        byte[]? buffer = null;
        if (total <= _options.MaxMessageSize) buffer = ArrayPool<byte>.Shared.Rent((int)total);
        var offset = 0;
        for (var t = first; ; t++)
        {
            _stored.Remove(t, out var piece);
            if (buffer is not null) piece.Data.AsSpan(0, piece.Length).CopyTo(buffer.AsSpan(offset));
            offset += piece.Length;
            ArrayPool<byte>.Shared.Return(piece.Data);
            if (t == last) break;
        }
        if (buffer is null)
        {
            // Larger than we accept: dropped, and (ordered) the stream moves past it.
            Counters.OversizedMessages++;
            _receiveHeld -= total;
            Complete(chunk.StreamId, chunk.Ssn, chunk.Unordered, chunk.Ppid, null, 0);
            return;
        }
        Complete(chunk.StreamId, chunk.Ssn, chunk.Unordered, chunk.Ppid, buffer, (int)total);
    }

    /// <summary>A whole message (or a discarded one, <paramref name="buffer"/> null): deliver it or hold it for its turn. Its bytes are already in <see cref="_receiveHeld"/>.</summary>
    private void Complete(ushort streamId, ushort ssn, bool unordered, uint ppid, byte[]? buffer, int length)
    {
        if (unordered)
        {
            if (buffer is not null) Deliver(streamId, ppid, unordered: true, buffer, length);
            return;
        }
        var stream = GetInStream(streamId);
        if (ssn == stream.NextSsn)
        {
            if (buffer is not null) Deliver(streamId, ppid, unordered: false, buffer, length);
            stream.NextSsn++;
            DrainReady(streamId, stream);
        }
        else if (Serial.Less(ssn, stream.NextSsn) || !stream.Ready.TryAdd(ssn, (buffer, length, ppid)))
        {
            // An SSN already delivered: a peer that reuses sequence numbers. Dropped.
            Counters.ChunksDropped++;
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _receiveHeld -= length;
            }
        }
    }

    private void DrainReady(ushort streamId, InStream stream)
    {
        while (stream.Ready.Remove(stream.NextSsn, out var ready))
        {
            if (ready.Buffer is not null) Deliver(streamId, ready.Ppid, unordered: false, ready.Buffer, ready.Length);
            stream.NextSsn++;
        }
    }

    private void Deliver(ushort streamId, uint ppid, bool unordered, byte[] buffer, int length)
    {
        _messages.Enqueue(new SctpMessage(streamId, ppid, unordered, buffer, length));
        Counters.MessagesReceived++;
    }

    private InStream GetInStream(ushort id)
    {
        if (!_inStreams.TryGetValue(id, out var stream)) _inStreams[id] = stream = new InStream();
        return stream;
    }

    /// <summary>
    /// FORWARD-TSN (RFC 3758 §3.6): the peer gave up on everything up to the new cumulative TSN. What
    /// we hold of it goes; per ordered stream named, complete messages up to its SSN are delivered and
    /// the stream continues after it.
    /// </summary>
    private void HandleForwardTsn(TimeSpan now, in SctpChunk chunk)
    {
        if (State is not (SctpState.Established or SctpState.ShutdownPending or SctpState.ShutdownSent) || !ForwardTsnChunk.TryParse(chunk.Value, out var forward))
        {
            Counters.ChunksDropped++;
            return;
        }
        _sackPending = true;
        var newCum = forward.NewCumulativeTsn;
        if (!Serial.Greater(newCum, _remoteCumTsn)) return;
        if (newCum - _remoteCumTsn >= WindowBits)
        {
            // Further than we track: nothing held is newer, start a clean window.
            Array.Clear(_receivedBits);
        }
        else
        {
            for (var t = _remoteCumTsn + 1; ; t++)
            {
                SetReceived(t, false);
                if (t == newCum) break;
            }
        }
        _remoteCumTsn = newCum;
        if (Serial.Less(_highestReceived, newCum)) _highestReceived = newCum;
        _tsnScratch.Clear();
        foreach (var tsn in _stored.Keys) if (Serial.LessOrEqual(tsn, newCum)) _tsnScratch.Add(tsn);
        foreach (var tsn in _tsnScratch)
        {
            _stored.Remove(tsn, out var piece);
            _receiveHeld -= piece.Length;
            ArrayPool<byte>.Shared.Return(piece.Data);
        }
        for (var i = 0; i < forward.StreamCount; i++)
        {
            var (streamId, ssn) = forward.Entry(i);
            if (streamId >= _inStreamCount) continue;
            var stream = GetInStream(streamId);
            if (Serial.Less(ssn, stream.NextSsn)) continue;
            while (true)
            {
                if (stream.Ready.Remove(stream.NextSsn, out var ready) && ready.Buffer is not null)
                    Deliver(streamId, ready.Ppid, unordered: false, ready.Buffer, ready.Length);
                if (stream.NextSsn++ == ssn) break;
            }
            DrainReady(streamId, stream);
        }
        AdvanceCumulative();
    }

    private void ReleaseReceiveState()
    {
        foreach (var piece in _stored.Values) ArrayPool<byte>.Shared.Return(piece.Data);
        _stored.Clear();
        foreach (var stream in _inStreams.Values)
        {
            foreach (var ready in stream.Ready.Values)
            {
                if (ready.Buffer is not null) ArrayPool<byte>.Shared.Return(ready.Buffer);
            }
            stream.Ready.Clear();
        }
        _receiveHeld = 0;
        foreach (var m in _messages) _receiveHeld += m.Length;
    }
}
