using Ferry.Protocols.Rtp;

namespace Ferry.Protocols.Recovery;

/// <summary>What <see cref="NackGenerator.ReceivePacket"/> learned from a packet.</summary>
public enum NackReceiveResult
{
    /// <summary>In order, or the first packet.</summary>
    InOrder,
    /// <summary>Newer than expected: the sequence numbers in between are now awaited.</summary>
    GapDetected,
    /// <summary>A packet that was missing arrived (late or retransmitted).</summary>
    Recovered,
    /// <summary>Older than the newest and not awaited: a duplicate or a packet given up on.</summary>
    Old,
    /// <summary>The gap was too large to track: the list was cleared and a key frame should be requested.</summary>
    KeyFrameRequired,
}

/// <summary>
/// Detects lost RTP packets on a receive stream and says which sequence numbers to NACK when
/// (RFC 4585 §6.2.1, with mediasoup's schedule: first NACK after a short delay, then once per RTT,
/// up to a retry limit). Sans-IO: packets and time go in; NACK lists and the next deadline come
/// out. No allocation per packet: the missing list is a fixed-capacity ring sorted by sequence.
/// </summary>
public sealed partial class NackGenerator
{
    private readonly NackGeneratorOptions _options;
    private readonly Entry[] _entries;
    private readonly long[] _keyFrames = new long[64];
    private int _head;
    private int _count;
    private int _keyFrameHead;
    private int _keyFrameCount;
    private SequenceUnwrapper _sequence;

    private struct Entry
    {
        public long Seq;
        public TimeSpan DueAt;
        public int Retries;
    }

    /// <summary>Creates a generator with <paramref name="options"/> (mediasoup's defaults when null).</summary>
    public NackGenerator(NackGeneratorOptions? options = null)
    {
        _options = options ?? new NackGeneratorOptions();
        if (_options.MaxEntries < 1) throw new ArgumentException("MaxEntries must be positive");
        _entries = new Entry[_options.MaxEntries];
        Rtt = _options.DefaultRtt;
    }

    /// <summary>Round-trip time to the sender, from RTCP; the wait between two NACKs of one packet.</summary>
    public TimeSpan Rtt { get; set; }

    /// <summary>Sequence numbers currently awaited.</summary>
    public int MissingCount => _count;

    /// <summary>Packets given up on after <see cref="NackGeneratorOptions.MaxRetries"/> NACKs or age.</summary>
    public long GivenUp { get; private set; }

    /// <summary>Packets that arrived after being awaited.</summary>
    public long Recovered { get; private set; }

    /// <summary>Sequence numbers NACKed (each retry counted).</summary>
    public long NacksRequested { get; private set; }

    /// <summary>When <see cref="PollNacks"/> next has something to say; <see cref="TimeSpan.MaxValue"/> when nothing is missing.</summary>
    public TimeSpan NextTimeout
    {
        get
        {
            var next = TimeSpan.MaxValue;
            for (var i = 0; i < _count; i++)
            {
                var due = _entries[(_head + i) % _entries.Length].DueAt;
                if (due < next) next = due;
            }
            return next;
        }
    }

    /// <summary>Feeds one received packet (original or recovered from RTX).</summary>
    /// <param name="sequenceNumber">Its RTP sequence number.</param>
    /// <param name="isKeyFrame">Whether it starts a key frame: on overflow the list is trimmed to the last key frame.</param>
    /// <param name="now">Current time.</param>
    public NackReceiveResult ReceivePacket(ushort sequenceNumber, bool isKeyFrame, TimeSpan now)
    {
        var newest = _sequence.Highest;
        var seq = _sequence.Unwrap(sequenceNumber);
        if (isKeyFrame) RememberKeyFrame(seq);
        if (newest < 0 || seq == newest + 1) return NackReceiveResult.InOrder;
        if (seq <= newest)
        {
            if (!Remove(seq)) return NackReceiveResult.Old;
            Recovered++;
            return NackReceiveResult.Recovered;
        }

        var first = newest + 1;
        ForgetTooOld(seq);
        var missing = seq - first;
        if (_count + missing > _entries.Length)
        {
            TrimToLastKeyFrame();
            if (_count + missing > _entries.Length)
            {
                GivenUp += _count;
                _count = 0;
                return NackReceiveResult.KeyFrameRequired;
            }
        }
        for (var s = first; s < seq; s++)
        {
            ref var e = ref _entries[(_head + _count) % _entries.Length];
            e = new Entry { Seq = s, DueAt = now + _options.SendNackDelay, Retries = 0 };
            _count++;
        }
        return NackReceiveResult.GapDetected;
    }

    /// <summary>
    /// Feeds a retransmission (decoded from RTX): true when <paramref name="sequenceNumber"/> was awaited,
    /// which it no longer is. Anything else changes nothing: a retransmission nobody asked for (a sender's
    /// padding or probe resends packets already received) tells nothing about the stream.
    /// </summary>
    /// <param name="sequenceNumber">The original packet's sequence number.</param>
    /// <param name="isKeyFrame">Whether it starts a key frame.</param>
    public bool TryRecover(ushort sequenceNumber, bool isKeyFrame)
    {
        if (_sequence.Highest < 0) return false;
        var seq = _sequence.Peek(sequenceNumber);
        if (seq >= _sequence.Highest || !Remove(seq)) return false;
        if (isKeyFrame) RememberKeyFrame(seq);
        Recovered++;
        return true;
    }

    /// <summary>
    /// Writes the sequence numbers to NACK now into <paramref name="output"/> (in increasing order) and
    /// schedules their retries. Entries beyond the output's length wait for the next call.
    /// </summary>
    /// <returns>How many were written.</returns>
    public int PollNacks(TimeSpan now, Span<ushort> output)
    {
        var written = 0;
        var kept = 0;
        // Compact in place while walking: entries that ran out of retries drop out.
        for (var i = 0; i < _count; i++)
        {
            var e = _entries[(_head + i) % _entries.Length];
            if (e.DueAt <= now && written < output.Length)
            {
                if (e.Retries >= _options.MaxRetries)
                {
                    GivenUp++;
                    continue;
                }
                output[written++] = (ushort)e.Seq;
                e.Retries++;
                e.DueAt = now + Rtt;
                NacksRequested++;
            }
            _entries[(_head + kept) % _entries.Length] = e;
            kept++;
        }
        _count = kept;
        return written;
    }

    /// <summary>Forgets everything (a new stream, or a key frame made the old losses irrelevant).</summary>
    public void Reset()
    {
        _count = 0;
        _head = 0;
        _keyFrameCount = 0;
        _sequence = default;
    }

    private bool Remove(long seq)
    {
        // Binary search over the sorted ring.
        int lo = 0, hi = _count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            var s = _entries[(_head + mid) % _entries.Length].Seq;
            if (s == seq)
            {
                for (var i = mid; i < _count - 1; i++)
                    _entries[(_head + i) % _entries.Length] = _entries[(_head + i + 1) % _entries.Length];
                _count--;
                return true;
            }
            if (s < seq) lo = mid + 1;
            else hi = mid - 1;
        }
        return false;
    }

    private void ForgetTooOld(long newest)
    {
        while (_count > 0 && newest - _entries[_head].Seq > _options.MaxPacketAge)
        {
            _head = (_head + 1) % _entries.Length;
            _count--;
            GivenUp++;
        }
    }

    private void TrimToLastKeyFrame()
    {
        if (_keyFrameCount == 0) return;
        var lastKeyFrame = _keyFrames[(_keyFrameHead + _keyFrameCount - 1) % _keyFrames.Length];
        while (_count > 0 && _entries[_head].Seq < lastKeyFrame)
        {
            _head = (_head + 1) % _entries.Length;
            _count--;
            GivenUp++;
        }
    }

    private void RememberKeyFrame(long seq)
    {
        if (_keyFrameCount > 0 && _keyFrames[(_keyFrameHead + _keyFrameCount - 1) % _keyFrames.Length] >= seq) return;
        if (_keyFrameCount == _keyFrames.Length)
        {
            _keyFrameHead = (_keyFrameHead + 1) % _keyFrames.Length;
            _keyFrameCount--;
        }
        _keyFrames[(_keyFrameHead + _keyFrameCount) % _keyFrames.Length] = seq;
        _keyFrameCount++;
    }
}
