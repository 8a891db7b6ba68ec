using System.Buffers.Binary;
using Ferry.Protocols.Sctp;

namespace Ferry.Mobility.Remote;

/// <summary>What <see cref="SctpTakeoverResync.Inspect"/> decided for one packet from the far end.</summary>
internal enum SctpResyncVerdict : byte
{
    /// <summary>Give the packet to the association as it is.</summary>
    Pass,

    /// <summary>The packet is kept here (its DATA waits for the decision of where the far end is); give it to nobody.</summary>
    Held,

    /// <summary>Continue from <see cref="SctpTakeoverResync.TakeResynced"/> (the live association was spent), then feed it
    /// <see cref="SctpTakeoverResync.TakeReplay"/> in order (the held packets and this one).</summary>
    Resynced,
}

/// <summary>
/// After a take-over, finds where the far end's outgoing half really is and puts the association's incoming half there
/// (<see cref="TakeoverCarryForward.ResyncSctpReceive"/>). The dead source may have acknowledged TSNs, and delivered
/// ordered messages, that the copy never saw; the far end will never send those again, and ignores a SACK below what it
/// was acknowledged, so the copy's cumulative TSN would stall the association for good.
/// <para>
/// Where the far end is: its lowest outstanding TSN is just above what the dead source acknowledged last. The far end
/// sends it again only when its retransmission timer expires (a SACK below its ack point is dropped, so no fast
/// retransmit can be asked for), retransmitting from the lowest outstanding TSN up; in between it may send new data
/// (after a timer expiry its window has room for new chunks once the retransmissions are out). So the first DATA seen
/// is not necessarily the lowest outstanding. The DATA packets are held (not acknowledged, not delivered) until either
/// a packet goes back below the lowest TSN seen (that is the retransmission, starting at the lowest outstanding TSN),
/// or <c>settle</c> passed since the first DATA (the lowest seen is taken: the first DATA seen was the retransmission,
/// or the far end had nothing outstanding), or too many are held. Then the cumulative TSN moves to just below the
/// lowest TSN seen and each stream's next SSN to that of its lowest-TSN ordered chunk, and the held packets are fed in
/// order. A stream whose first ordered chunk comes later is put in step then (without moving the TSN).
/// Streams are found in the far end's DATA, not in the copy's channel list: mediasoup-client's channels are negotiated
/// (no DCEP), so an endpoint lists none of them.
/// </para>
/// One per association taken over, on its transport's loop; it looks at packets only until
/// <c>until</c> passed, then <see cref="Done"/>.
/// </summary>
internal sealed class SctpTakeoverResync
{
    private const int MaxHeld = 256;

    // Incoming streams whose stream sequence number was taken from the far end's data. Every other stream is watched:
    // data channels opened by DCEP are not the only ones (mediasoup-client's are negotiated: no DCEP, so the
    // endpoint lists no channel for them), and a stream the dead source first heard of after the copy needs it too.
    private readonly HashSet<ushort> _synced = [];
    private readonly TimeSpan _until;
    private readonly TimeSpan _settle;
    private readonly TimeSpan _takenOverAt;
    private readonly TimeSpan _copyAge;
    private TimeSpan _holdUntil;
    private readonly List<byte[]> _held = [];
    private bool _tsnSynced;
    private uint _syncedCumulativeTsn;
    private bool _haveData;
    private uint _lowest;
    private DataChannelEndpointState? _resynced;
    private List<byte[]>? _replay;

    /// <summary>
    /// Watches every incoming stream from the take-over at <paramref name="now"/> (the caller's clock) until
    /// <paramref name="until"/>; the source died at most <paramref name="copyAge"/> before <paramref name="now"/>.
    /// </summary>
    public SctpTakeoverResync(TimeSpan now, TimeSpan copyAge, TimeSpan until, TimeSpan settle)
    {
        _takenOverAt = now;
        _copyAge = copyAge;
        _until = until;
        _settle = settle;
    }

    /// <summary>While DATA is held: when to decide even if no packet arrives (call <see cref="Poll"/> then); else <see cref="TimeSpan.MaxValue"/>.</summary>
    public TimeSpan Deadline => !Done && !_tsnSynced && _haveData ? _holdUntil : TimeSpan.MaxValue;

    /// <summary>On the caller's timer at <see cref="Deadline"/>: decides with what was held (<see cref="SctpResyncVerdict.Resynced"/>), else <see cref="SctpResyncVerdict.Pass"/> (nothing to do).</summary>
    public SctpResyncVerdict Poll<TOwner>(TimeSpan now, TOwner owner, Func<TOwner, DataChannelEndpointState> export) =>
        now >= Deadline ? Decide(owner, export) : SctpResyncVerdict.Pass;

    /// <summary>Nothing left to put in step (or too late): packets go straight to the association.</summary>
    public bool Done { get; private set; }

    /// <summary>Times the association was put in step.</summary>
    public int Resyncs { get; private set; }

    /// <summary>The lowest TSN of the far end taken as its next (for diagnostics), once decided.</summary>
    public uint? FirstTsn { get; private set; }

    /// <summary>After <see cref="SctpResyncVerdict.Resynced"/>: the state to continue from.</summary>
    public DataChannelEndpointState TakeResynced()
    {
        var state = _resynced ?? throw new InvalidOperationException("nothing resynced");
        _resynced = null;
        return state;
    }

    /// <summary>After <see cref="SctpResyncVerdict.Resynced"/>: the packets to feed, in order.</summary>
    public List<byte[]> TakeReplay()
    {
        var replay = _replay ?? [];
        _replay = null;
        return replay;
    }

    /// <summary>
    /// Looks at one packet from the far end before the association gets it. When the state must change,
    /// <paramref name="export"/> is called with <paramref name="owner"/> (it must spend the live association and return
    /// its state) and <see cref="SctpResyncVerdict.Resynced"/> returned.
    /// </summary>
    public SctpResyncVerdict Inspect<TOwner>(ReadOnlySpan<byte> packet, TimeSpan now, TOwner owner, Func<TOwner, DataChannelEndpointState> export)
    {
        if (Done) return SctpResyncVerdict.Pass;
        if (!_tsnSynced) return InspectUnsynced(packet, now, owner, export);
        if (now > _until)
        {
            Done = true;
            return SctpResyncVerdict.Pass;
        }
        if (SctpPacket.TryParse(packet, out var parsed) != SctpParseResult.Ok) return SctpResyncVerdict.Pass;
        Dictionary<ushort, ushort>? ssns = null;
        Dictionary<ushort, uint>? tsnOf = null;
        FirstOrderedSsns(parsed, _syncedCumulativeTsn, ref ssns, ref tsnOf);
        if (ssns is null) return SctpResyncVerdict.Pass;
        Resync(export(owner), null, ssns);
        _replay = [packet.ToArray()];
        return SctpResyncVerdict.Resynced;
    }

    private SctpResyncVerdict InspectUnsynced<TOwner>(ReadOnlySpan<byte> packet, TimeSpan now, TOwner owner, Func<TOwner, DataChannelEndpointState> export)
    {
        var lowest = 0u;
        var haveData = false;
        if (SctpPacket.TryParse(packet, out var parsed) == SctpParseResult.Ok)
        {
            foreach (var chunk in parsed.Chunks)
            {
                // DATA (type 0): the TSN at the start of the value.
                if (chunk.Type != 0 || chunk.Value.Length < 12) continue;
                var tsn = BinaryPrimitives.ReadUInt32BigEndian(chunk.Value);
                if (!haveData || SerialGreater(lowest, tsn)) lowest = tsn;
                haveData = true;
            }
        }
        var late = now > _until;
        if (!haveData)
        {
            // SACKs of our data and the rest need not wait: only the far end's DATA depends on where it is.
            if (!late) return SctpResyncVerdict.Pass;
            if (!_haveData)
            {
                Done = true;
                return SctpResyncVerdict.Pass;
            }
            _held.Add(packet.ToArray());
            return Decide(owner, export);
        }
        var wentBack = _haveData && SerialGreater(_lowest, lowest);
        if (!_haveData || wentBack) _lowest = lowest;
        if (!_haveData)
        {
            _haveData = true;
            // The far end's retransmission timer doubles at each expiry since the death, so its next expiry after t
            // (from the death) comes before 2t plus its first timeout: hold until then, with t taken when its DATA first
            // arrives here (the source died at most the copy's age before the take-over).
            var sinceDeath = _copyAge + (now - _takenOverAt);
            _holdUntil = Min(now + sinceDeath + _settle, _until);
        }
        _held.Add(packet.ToArray());
        // Decided: the far end went back (its retransmission from the lowest outstanding TSN), or the hold time
        // passed, or holding more would cost too much.
        if (!wentBack && now < _holdUntil && _held.Count < MaxHeld && !late) return SctpResyncVerdict.Held;
        return Decide(owner, export);
    }

    private SctpResyncVerdict Decide<TOwner>(TOwner owner, Func<TOwner, DataChannelEndpointState> export)
    {
        Dictionary<ushort, ushort>? ssns = null;
        var cum = _lowest - 1;
        // Each unsynced stream's SSN is that of its lowest-TSN ordered chunk above the new cumulative TSN, over all held packets.
        Dictionary<ushort, uint>? tsnOf = null;
        foreach (var held in _held)
        {
            if (SctpPacket.TryParse(held, out var p) == SctpParseResult.Ok) FirstOrderedSsns(p, cum, ref ssns, ref tsnOf);
        }
        FirstTsn = _lowest;
        Resync(export(owner), _lowest, ssns ?? []);
        _tsnSynced = true;
        _syncedCumulativeTsn = cum;
        _replay = [.. _held];
        _held.Clear();
        return SctpResyncVerdict.Resynced;
    }

    /// <summary>Per unsynced stream, the SSN of its ordered chunk of lowest TSN above <paramref name="cum"/> (accumulated over calls).</summary>
    private void FirstOrderedSsns(in SctpPacket parsed, uint cum, ref Dictionary<ushort, ushort>? ssns, ref Dictionary<ushort, uint>? tsnOf)
    {
        foreach (var chunk in parsed.Chunks)
        {
            if (chunk.Type != 0 || chunk.Value.Length < 12 || (chunk.Flags & 4) != 0) continue;
            var tsn = BinaryPrimitives.ReadUInt32BigEndian(chunk.Value);
            var streamId = BinaryPrimitives.ReadUInt16BigEndian(chunk.Value[4..]);
            // Ordered chunks of a stream already in step, or ones the cumulative TSN passed, say nothing.
            if (!SerialGreater(tsn, cum) || _synced.Contains(streamId)) continue;
            ssns ??= [];
            tsnOf ??= [];
            if (!tsnOf.TryGetValue(streamId, out var seen) || SerialGreater(seen, tsn))
            {
                tsnOf[streamId] = tsn;
                ssns[streamId] = BinaryPrimitives.ReadUInt16BigEndian(chunk.Value[6..]);
            }
        }
    }

    private void Resync(DataChannelEndpointState state, uint? firstTsn, Dictionary<ushort, ushort> ssns)
    {
        // A plain-data step, as the copy was: the association is written out, set where the far end is, brought back.
        _resynced = TakeoverCarryForward.ResyncSctpReceive(state, firstTsn, ssns);
        _synced.UnionWith(ssns.Keys);
        Resyncs++;
    }

    private static bool SerialGreater(uint a, uint b) => a != b && a - b < 0x8000_0000u;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
