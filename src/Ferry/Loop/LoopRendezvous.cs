using System.Diagnostics;

namespace Ferry.Loop;

/// <summary>
/// Stops several loops at one instant so that one of them (the leader) can change objects of all of
/// them: how a transport move switches a consumer from one path to another at the same packet on two
/// loops. Each member parks as soon as it gets the request; the last one to park wakes the leader,
/// which does the work at its next turn and releases them. The leader never blocks (its own media
/// flows until the work starts), and a parked member spins before it sleeps, so the usual release
/// needs no second wake-up: media on a member stands still for one wake-up of the leader plus the
/// work, which matters on a loaded machine where each wake-up of a thread waiting for a core can cost
/// milliseconds and a browser's jitter buffer notices tens of them.
/// </summary>
internal sealed class LoopRendezvous
{
    private const int Gathering = 0, Working = 1, Done = 2;

    private readonly EventLoop _leader;
    private readonly int _members;
    private readonly Action _work;
    private readonly TaskCompletionSource<TimeSpan> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Spins (yielding, never Sleep(1)) before blocking: the release usually comes within that time.
    private readonly ManualResetEventSlim _released = new(false, spinCount: 2047);
    private int _phase;
    private int _parked;
    private long _firstParked;

    private LoopRendezvous(EventLoop leader, int members, Action work)
    {
        _leader = leader;
        _members = members;
        _work = work;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on <paramref name="leader"/> while every loop of <paramref name="members"/>
    /// is parked between two commands (objects of a parked loop may be touched by the leader's thread).
    /// Completes with how long media stood still on the members (from the first parking to the release),
    /// or with the work's exception (or a loop's death) after releasing everyone.
    /// </summary>
    public static Task<TimeSpan> RunAsync(EventLoop leader, IReadOnlyCollection<EventLoop> members, Action work)
    {
        var rendezvous = new LoopRendezvous(leader, members.Count, work);
        leader.Post(new Join(rendezvous, leader));
        foreach (var member in members) member.Post(new Join(rendezvous, member));
        return rendezvous._completion.Task;
    }

    /// <summary>Called by the leader at the start of each turn; true once it is done with the rendezvous.</summary>
    internal bool Poll()
    {
        var phase = Volatile.Read(ref _phase);
        if (phase == Done) return true;
        if (Volatile.Read(ref _parked) < _members) return false;
        // A member's death meanwhile ends the rendezvous instead (Fail wins the exchange).
        if (Interlocked.CompareExchange(ref _phase, Working, Gathering) != Gathering) return true;
        Exception? failure = null;
        try
        {
            _work();
        }
        catch (Exception e)
        {
            failure = e;
        }
        var stalled = _members == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Volatile.Read(ref _firstParked));
        Release();
        if (failure is null) _completion.TrySetResult(stalled);
        else _completion.TrySetException(failure);
        return true;
    }

    private void Park(EventLoop loop)
    {
        if (Volatile.Read(ref _phase) == Done) return;
        loop.FrozenFor = _leader.ThreadId;
        Interlocked.CompareExchange(ref _firstParked, Stopwatch.GetTimestamp(), 0);
        if (Interlocked.Increment(ref _parked) == _members) _leader.Post(WakeLeader);
        _released.Wait();
        loop.FrozenFor = -1;
    }

    private static readonly Action WakeLeader = () => { };

    private void Release()
    {
        Volatile.Write(ref _phase, Done);
        _released.Set();
        // Not disposed: a member may still be returning from its wait.
    }

    /// <summary>Ends the rendezvous without the work (a loop died); no effect once the work has started.</summary>
    internal void Fail(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _phase, Done, Gathering) != Gathering) return;
        Release();
        _completion.TrySetException(reason);
    }

    /// <summary>The command that enrols a loop; abandoned (the loop died or stopped) it fails the rendezvous.</summary>
    private sealed class Join(LoopRendezvous rendezvous, EventLoop loop) : LoopCommand
    {
        public override void Run()
        {
            if (loop == rendezvous._leader) loop.Enrol(rendezvous);
            else rendezvous.Park(loop);
        }

        public override void Abandon(Exception reason) => rendezvous.Fail(reason);
    }
}
