using System.Diagnostics;

namespace Ferry.Loop;

/// <summary>
/// Stops several loops at one instant so that one of them (the leader) can change objects of all of
/// them: how a transport move switches a consumer from one path to another at the same packet on two
/// loops. Nobody sleeps in the kernel on the way: each member keeps handling its own media while the
/// others gather (its loop polls instead of waiting in epoll), every member parks only once all of
/// them are awake, and a parked member spins until released. So a parked loop's media stands still
/// for about the leader's work, not for the wake-up latency of a thread waiting for a core (which on
/// a loaded machine reaches tens of milliseconds, and which a browser's jitter buffer notices).
/// </summary>
internal sealed class LoopRendezvous
{
    private const int Gathering = 0, Parking = 1, Working = 2, Done = 3;

    private readonly EventLoop _leader;
    private readonly int _members;
    private readonly Action _work;
    private readonly TaskCompletionSource<TimeSpan> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _phase;
    private int _ready;
    private int _parked;
    private long _parkingStarted;

    private LoopRendezvous(EventLoop leader, int members, Action work)
    {
        _leader = leader;
        _members = members;
        _work = work;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on <paramref name="leader"/> while every loop of <paramref name="members"/>
    /// is parked at a turn boundary (objects of a parked loop may be touched by the leader's thread).
    /// Completes with how long the members stood still, or with the work's exception (or a loop's
    /// death) after releasing everyone.
    /// </summary>
    public static Task<TimeSpan> RunAsync(EventLoop leader, IReadOnlyCollection<EventLoop> members, Action work)
    {
        var rendezvous = new LoopRendezvous(leader, members.Count, work);
        foreach (var member in members) member.Post(new Join(rendezvous, member));
        leader.Post(new Join(rendezvous, leader));
        return rendezvous._completion.Task;
    }

    /// <summary>Called by a joined loop at the start of each turn; true once this loop is done with the rendezvous.</summary>
    internal bool Poll(EventLoop loop) => loop == _leader ? PollAsLeader() : PollAsMember(loop);

    private bool PollAsLeader()
    {
        if (Volatile.Read(ref _phase) == Gathering && Volatile.Read(ref _ready) == _members)
        {
            _parkingStarted = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref _phase, Parking, Gathering);
        }
        var phase = Volatile.Read(ref _phase);
        if (phase == Done) return true;
        if (phase != Parking || Volatile.Read(ref _parked) < _members) return false;
        // A member's death between parking and here ends the rendezvous instead (Fail wins the exchange).
        if (Interlocked.CompareExchange(ref _phase, Working, Parking) != Parking) return true;
        Exception? failure = null;
        try
        {
            _work();
        }
        catch (Exception e)
        {
            failure = e;
        }
        var stalled = Stopwatch.GetElapsedTime(_parkingStarted);
        Volatile.Write(ref _phase, Done);
        if (failure is null) _completion.TrySetResult(stalled);
        else _completion.TrySetException(failure);
        return true;
    }

    private bool PollAsMember(EventLoop loop)
    {
        var phase = Volatile.Read(ref _phase);
        if (phase == Done) return true;
        if (phase == Gathering) return false;
        loop.FrozenFor = _leader.ThreadId;
        Interlocked.Increment(ref _parked);
        // Spin, never sleep: the release must be seen within microseconds (Sleep(1) would cost a millisecond or more).
        var spin = new SpinWait();
        while (Volatile.Read(ref _phase) != Done) spin.SpinOnce(sleep1Threshold: -1);
        loop.FrozenFor = -1;
        return true;
    }

    /// <summary>Ends the rendezvous without the work (a loop died); no effect once the work has started.</summary>
    internal void Fail(Exception reason)
    {
        while (true)
        {
            var phase = Volatile.Read(ref _phase);
            // Once the work has started the leader finishes it and releases everyone.
            if (phase >= Working) return;
            if (Interlocked.CompareExchange(ref _phase, Done, phase) == phase) break;
        }
        _completion.TrySetException(reason);
    }

    /// <summary>The command that enrols a loop; abandoned (the loop died or stopped) it fails the rendezvous.</summary>
    private sealed class Join(LoopRendezvous rendezvous, EventLoop loop) : LoopCommand
    {
        public override void Run()
        {
            if (loop != rendezvous._leader) Interlocked.Increment(ref rendezvous._ready);
            loop.Enrol(rendezvous);
        }

        public override void Abandon(Exception reason) => rendezvous.Fail(reason);
    }
}
