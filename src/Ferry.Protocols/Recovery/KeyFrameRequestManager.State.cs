namespace Ferry.Protocols.Recovery;

/// <summary>A <see cref="KeyFrameRequestManager"/>'s state as plain data; times are durations from the export.</summary>
public sealed record KeyFrameRequestManagerState
{
    /// <summary>The streams it tracks.</summary>
    public IReadOnlyList<KeyFrameStreamState> Streams { get; init; } = [];
    /// <summary>Counter: requests emitted.</summary>
    public long RequestsSent { get; init; }
    /// <summary>Counter: asks folded into another request.</summary>
    public long RequestsCoalesced { get; init; }
}

/// <summary>One stream of a <see cref="KeyFrameRequestManagerState"/>.</summary>
public sealed record KeyFrameStreamState
{
    /// <summary>The stream's SSRC.</summary>
    public uint Ssrc { get; init; }
    /// <summary>Microseconds until a sent request stops waiting for its key frame; -1 when none waits.</summary>
    public long PendingForMicros { get; init; } = -1;
    /// <summary>A retry is due if the key frame does not come.</summary>
    public bool RetryOnTimeout { get; init; }
    /// <summary>Microseconds until the request-delay window ends; -1 when none is open.</summary>
    public long DelayForMicros { get; init; } = -1;
    /// <summary>Someone asked during the window.</summary>
    public bool AskedDuringDelay { get; init; }
    /// <summary>A request is to be sent at the next poll.</summary>
    public bool SendNow { get; init; }
}

public sealed partial class KeyFrameRequestManager
{
    /// <summary>The state at <paramref name="now"/>, as plain data.</summary>
    public KeyFrameRequestManagerState ExportState(TimeSpan now)
    {
        static long Until(TimeSpan deadline, TimeSpan now) => deadline == TimeSpan.MaxValue ? -1 : Math.Max(0, (deadline - now).Ticks / 10);
        var streams = new KeyFrameStreamState[_streamCount];
        for (var i = 0; i < _streamCount; i++)
        {
            ref var s = ref _streams[i];
            streams[i] = new KeyFrameStreamState
            {
                Ssrc = s.Ssrc, PendingForMicros = Until(s.PendingUntil, now), RetryOnTimeout = s.RetryOnTimeout,
                DelayForMicros = Until(s.DelayUntil, now), AskedDuringDelay = s.AskedDuringDelay, SendNow = s.SendNow,
            };
        }
        return new KeyFrameRequestManagerState { Streams = streams, RequestsSent = RequestsSent, RequestsCoalesced = RequestsCoalesced };
    }

    /// <summary>Replaces the state with <paramref name="state"/>, its times counted from <paramref name="now"/>.</summary>
    public void ImportState(KeyFrameRequestManagerState state, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(state);
        static TimeSpan At(long micros, TimeSpan now) => micros < 0 ? TimeSpan.MaxValue : now + TimeSpan.FromTicks(micros * 10);
        _streamCount = 0;
        if (_streams.Length < state.Streams.Count) _streams = new Stream[state.Streams.Count];
        foreach (var s in state.Streams)
        {
            _streams[_streamCount++] = new Stream
            {
                Ssrc = s.Ssrc, PendingUntil = At(s.PendingForMicros, now), RetryOnTimeout = s.RetryOnTimeout,
                DelayUntil = At(s.DelayForMicros, now), AskedDuringDelay = s.AskedDuringDelay, SendNow = s.SendNow,
            };
        }
        RequestsSent = state.RequestsSent;
        RequestsCoalesced = state.RequestsCoalesced;
    }
}
