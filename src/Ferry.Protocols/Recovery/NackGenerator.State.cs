namespace Ferry.Protocols.Recovery;

/// <summary>
/// A <see cref="NackGenerator"/>'s state as plain data, to continue it on another worker or server.
/// Deadlines are durations from the moment of the export, so they mean the same on any clock.
/// </summary>
public sealed record NackGeneratorState
{
    /// <summary>Highest extended sequence number seen, -1 before the first.</summary>
    public long HighestSeq { get; init; } = -1;
    /// <summary>Awaited sequence numbers (extended), oldest first.</summary>
    public long[] MissingSeqs { get; init; } = [];
    /// <summary>Per awaited number: microseconds from the export until its next NACK is due (0 when overdue).</summary>
    public long[] MissingDueInMicros { get; init; } = [];
    /// <summary>Per awaited number: NACKs already sent for it.</summary>
    public int[] MissingRetries { get; init; } = [];
    /// <summary>Extended sequence numbers of the last key frames, oldest first.</summary>
    public long[] KeyFrameSeqs { get; init; } = [];
    /// <summary>Round-trip time in microseconds.</summary>
    public long RttMicros { get; init; }
    /// <summary>Counter: packets given up on.</summary>
    public long GivenUp { get; init; }
    /// <summary>Counter: packets recovered.</summary>
    public long Recovered { get; init; }
    /// <summary>Counter: sequence numbers NACKed.</summary>
    public long NacksRequested { get; init; }
}

public sealed partial class NackGenerator
{
    /// <summary>The state at <paramref name="now"/>, as plain data.</summary>
    public NackGeneratorState ExportState(TimeSpan now)
    {
        var seqs = new long[_count];
        var due = new long[_count];
        var retries = new int[_count];
        for (var i = 0; i < _count; i++)
        {
            var e = _entries[(_head + i) % _entries.Length];
            seqs[i] = e.Seq;
            due[i] = Math.Max(0, (e.DueAt - now).Ticks / 10);
            retries[i] = e.Retries;
        }
        var keyFrames = new long[_keyFrameCount];
        for (var i = 0; i < _keyFrameCount; i++) keyFrames[i] = _keyFrames[(_keyFrameHead + i) % _keyFrames.Length];
        return new NackGeneratorState
        {
            HighestSeq = _sequence.Highest, MissingSeqs = seqs, MissingDueInMicros = due, MissingRetries = retries, KeyFrameSeqs = keyFrames,
            RttMicros = Rtt.Ticks / 10, GivenUp = GivenUp, Recovered = Recovered, NacksRequested = NacksRequested,
        };
    }

    /// <summary>
    /// Replaces the state with <paramref name="state"/>, its deadlines counted from <paramref name="now"/>.
    /// Entries beyond this generator's capacity (the newest kept) are dropped.
    /// </summary>
    /// <exception cref="ArgumentException">The awaited numbers' arrays differ in length.</exception>
    public void ImportState(NackGeneratorState state, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.MissingDueInMicros.Length != state.MissingSeqs.Length || state.MissingRetries.Length != state.MissingSeqs.Length)
            throw new ArgumentException("inconsistent NACK state");
        Reset();
        _sequence = Rtp.SequenceUnwrapper.FromHighest(state.HighestSeq);
        var skip = Math.Max(0, state.MissingSeqs.Length - _entries.Length);
        for (var i = skip; i < state.MissingSeqs.Length; i++)
        {
            _entries[_count++] = new Entry { Seq = state.MissingSeqs[i], DueAt = now + TimeSpan.FromTicks(state.MissingDueInMicros[i] * 10), Retries = state.MissingRetries[i] };
        }
        var kskip = Math.Max(0, state.KeyFrameSeqs.Length - _keyFrames.Length);
        for (var i = kskip; i < state.KeyFrameSeqs.Length; i++) _keyFrames[_keyFrameCount++] = state.KeyFrameSeqs[i];
        Rtt = TimeSpan.FromTicks(state.RttMicros * 10);
        GivenUp = state.GivenUp;
        Recovered = state.Recovered;
        NacksRequested = state.NacksRequested;
    }
}
