namespace Ferry.Loop;

/// <summary>
/// A reusable one-shot timer owned by one <see cref="EventLoop"/>. Starting it again moves its
/// deadline (stale entries in the loop's queue are skipped by generation), so a component that
/// re-arms on every packet costs a heap push, not an allocation.
/// </summary>
internal sealed class LoopTimer
{
    private EventLoop _loop;
    private readonly Action _callback;
    internal long Generation;

    /// <summary>The object to close when the callback throws (its transport or router); null: only reported.</summary>
    internal ILoopFaultHandler? FaultHandler { get; set; }

    internal LoopTimer(EventLoop loop, Action callback)
    {
        _loop = loop;
        _callback = callback;
    }

    /// <summary>When it fires next, or <see cref="TimeSpan.MaxValue"/> when stopped.</summary>
    public TimeSpan Due { get; private set; } = TimeSpan.MaxValue;

    /// <summary>True while armed.</summary>
    public bool IsArmed => Due != TimeSpan.MaxValue;

    /// <summary>Fires at loop time <paramref name="due"/> (now or in the past means on the next turn).</summary>
    public void Start(TimeSpan due)
    {
        _loop.AssertOnLoop();
        Due = due;
        Generation++;
        if (due != TimeSpan.MaxValue) _loop.EnqueueTimer(this, due);
    }

    /// <summary>Fires after <paramref name="delay"/> from the loop's current time.</summary>
    public void StartAfter(TimeSpan delay) => Start(_loop.Now + delay);

    /// <summary>Disarms the timer.</summary>
    public void Stop()
    {
        Due = TimeSpan.MaxValue;
        Generation++;
    }

    /// <summary>
    /// First half of a move to another loop, on the current loop: entries already queued here go
    /// stale and the timer now belongs to <paramref name="target"/>; its deadline is kept.
    /// </summary>
    internal void Detach(EventLoop target)
    {
        _loop.AssertOnLoop();
        Generation++;
        _loop = target;
    }

    /// <summary>Second half of a move, on the new loop: re-arms the kept deadline there.</summary>
    internal void Attach()
    {
        _loop.AssertOnLoop();
        if (Due != TimeSpan.MaxValue) Start(Due);
    }

    internal void Fire()
    {
        Due = TimeSpan.MaxValue;
        _callback();
    }
}
