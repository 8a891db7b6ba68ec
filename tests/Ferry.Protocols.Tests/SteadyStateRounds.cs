namespace Ferry.Protocols.Tests;

/// <summary>
/// "Allocates nothing" checks in rounds: the first round warms up, and some later round must allocate
/// nothing at all on this thread. Not necessarily the second: under a loaded test run the runtime may
/// allocate a few bytes once on this thread while it swaps in recompiled code (seen in CI: 5 KB once).
/// A per-call allocation shows in every round and fails. No closures, so the rounds may use spans.
/// </summary>
internal sealed class SteadyStateRounds
{
    /// <summary>Rounds to try before failing.</summary>
    public const int Max = 6;

    private readonly List<long> _perRound = [];
    private long _before;

    /// <summary>True once a round after the first allocated nothing.</summary>
    public bool Reached { get; private set; }

    /// <summary>Rounds run so far.</summary>
    public int Count => _perRound.Count;

    /// <summary>Call as a round starts.</summary>
    public void Begin() => _before = GC.GetAllocatedBytesForCurrentThread();

    /// <summary>Call as a round ends.</summary>
    public void End()
    {
        _perRound.Add(GC.GetAllocatedBytesForCurrentThread() - _before);
        if (_perRound.Count > 1 && _perRound[^1] == 0) Reached = true;
    }

    /// <summary>Fails, with the bytes of every round, unless a round after the first allocated nothing.</summary>
    public void AssertReached(string perRound) =>
        Assert.True(Reached, $"bytes allocated per round of {perRound}: {string.Join(", ", _perRound)}");
}
