using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Ferry.Native;

namespace Ferry.Loop;

/// <summary>
/// One dedicated thread running one loop: epoll readiness of its fds, its timers, and a queue of
/// commands from other threads. Everything registered here is touched only on this thread, which
/// is what lets the media path run without locks.
/// </summary>
internal sealed unsafe class EventLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const int WakeSlot = 0;

    // epoll_event is packed (12 bytes) on x86-64 and naturally aligned (16 bytes) elsewhere.
    private static readonly int EventStride = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private readonly ConcurrentQueue<LoopCommand> _commands = new();
    private readonly PriorityQueue<(LoopTimer Timer, long Generation), long> _timers = new();
    private readonly List<IFdHandler?> _handlers = [null];
    private readonly Stack<int> _freeSlots = new();
    private readonly Dictionary<int, int> _slotByFd = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // One timebase for every loop of the process, so deadlines stay valid when an object moves between loops.
    private static readonly long Origin = Stopwatch.GetTimestamp();
    private readonly int _epoll;
    private readonly int _wakeFd;
    private byte* _events;
    private volatile bool _stopRequested;
    private volatile bool _exitedFlag;
    private int _threadId = -1;
    private TimeSpan _now;
    private readonly Action? _threadStart;

    /// <param name="name">The loop thread's name.</param>
    /// <param name="threadStart">Runs first on the loop's thread (its scheduling, for a worker).</param>
    public EventLoop(string name, Action? threadStart = null)
    {
        Name = name;
        _threadStart = threadStart;
        _epoll = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0) throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _wakeFd = Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_wakeFd < 0)
        {
            Libc.Close(_epoll);
            throw new InvalidOperationException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        }
        Control(Libc.EPOLL_CTL_ADD, _wakeFd, Libc.EPOLLIN, WakeSlot);
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventStride));
        _thread = new Thread(Run) { IsBackground = true, Name = name };
    }

    /// <summary>
    /// Raised on the loop when it caught an exception from a handler, timer or posted action (after the
    /// blamed object was closed). Listeners must not throw; one that does is ignored.
    /// </summary>
    public event Action<LoopFault>? Faulted;

    /// <summary>Datagram counters of every socket on this loop (written on the loop, read anywhere).</summary>
    public LoopCounters Counters { get; } = new();

    /// <summary>Name of the loop's thread.</summary>
    public string Name { get; }

    /// <summary>Loop time: monotonic, read once per turn, so every component in a turn sees the same instant.</summary>
    public TimeSpan Now => _now;

    /// <summary>
    /// When the datagram being handled reached the host, on the <see cref="Now"/> timebase: the kernel's
    /// receive timestamp where the socket gives one, else <see cref="Now"/>. What transport-cc feedback
    /// reports, so that time a packet spent waiting for the loop (a busy core, a move's handover) does
    /// not look like network queuing to the sender's congestion control.
    /// </summary>
    public TimeSpan ArrivalTime { get; internal set; }

    // Wall clock minus loop time at the start of this turn, in ticks: turns a kernel timestamp into loop time.
    private long _realtimeOffset;

    /// <summary>A kernel receive timestamp (ticks of CLOCK_REALTIME) as loop time, never later than <see cref="Now"/>.</summary>
    internal TimeSpan FromRealtime(long realtimeTicks)
    {
        var ticks = realtimeTicks - _realtimeOffset;
        // A stamp ahead of the loop's clock, or absurdly old (the wall clock was stepped), is not trusted.
        return ticks > _now.Ticks || ticks < _now.Ticks - TimeSpan.TicksPerSecond ? _now : new TimeSpan(ticks);
    }

    /// <summary>Completes when the loop thread has exited (stopped or died).</summary>
    public Task Exited => _exited.Task;

    /// <summary>The exception that killed the loop, if one did.</summary>
    public Exception? DeathReason { get; private set; }

    /// <summary>Raised once, off the loop thread, when a handler, timer or posted action throws.</summary>
    public event Action<Exception>? Died;

    /// <summary>True on the loop's own thread.</summary>
    public bool IsOnLoop => Environment.CurrentManagedThreadId is var t && (t == _threadId || t == _frozenFor);

    /// <summary>
    /// True on the loop's own thread only, not on a rendezvous leader's while this loop is parked for
    /// it: what routing decisions use (the leader runs its own work meanwhile and must not start on
    /// this loop's objects, which it may touch only inside the rendezvous' work).
    /// </summary>
    public bool IsOwnThread => Environment.CurrentManagedThreadId == _threadId;

    // While frozen (see Freeze), the one thread allowed to touch this loop's objects.
    private volatile int _frozenFor = -1;

    /// <summary>While parked in a <see cref="LoopRendezvous"/>: the leader's thread, allowed to touch this loop's objects; else -1.</summary>
    internal int FrozenFor
    {
        set => _frozenFor = value;
    }

    // The rendezvous this loop leads (see LoopRendezvous): polled at the start of each turn.
    private LoopRendezvous? _rendezvous;

    /// <summary>Leads <paramref name="rendezvous"/>: asks it at the start of each turn whether every member is parked. On the loop.</summary>
    internal void Enrol(LoopRendezvous rendezvous) => _rendezvous = rendezvous;

    /// <summary>Managed id of the loop's thread.</summary>
    public int ThreadId => _threadId;

    /// <summary>Queues a reusable command (no allocation per post).</summary>
    internal void Post(LoopCommand command) => Enqueue(command);

    public void Start() => _thread.Start();

    /// <summary>Throws when called off the loop thread: a cheap guard on the single-thread rule.</summary>
    public void AssertOnLoop()
    {
        if (!IsOnLoop) throw new InvalidOperationException($"{Name}: touched off its loop thread");
    }

    /// <summary>Runs <paramref name="action"/> on the loop. An exception from it kills the worker.</summary>
    public void Post(Action action) => Enqueue(LoopCommand.FromAction(action));

    /// <summary>Runs <paramref name="func"/> on the loop; its result or exception completes the task.</summary>
    public Task<T> InvokeAsync<T>(Func<T> func)
    {
        var command = new LoopCommand<T>(func);
        Enqueue(command);
        return command.Task;
    }

    /// <summary>Runs <paramref name="action"/> on the loop; its exception faults the task.</summary>
    public Task InvokeAsync(Action action) => InvokeAsync<bool>(() => { action(); return true; });

    /// <summary>Creates a timer on this loop (call from any thread; start it on the loop).</summary>
    public LoopTimer CreateTimer(Action callback) => new(this, callback);

    /// <summary>Watches <paramref name="fd"/> for readability and calls <paramref name="handler"/>.</summary>
    public void Register(int fd, IFdHandler handler)
    {
        AssertOnLoop();
        var slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : AddSlot();
        _handlers[slot] = handler;
        _slotByFd.Add(fd, slot);
        Control(Libc.EPOLL_CTL_ADD, fd, Libc.EPOLLIN, slot);
    }

    /// <summary>Adds or removes interest in writability (TCP send queues).</summary>
    public void SetWriteInterest(int fd, bool enabled)
    {
        AssertOnLoop();
        var slot = _slotByFd[fd];
        Control(Libc.EPOLL_CTL_MOD, fd, Libc.EPOLLIN | (enabled ? Libc.EPOLLOUT : 0), slot);
    }

    /// <summary>Stops watching <paramref name="fd"/>. Call before closing it, so a reused fd number cannot reach the old handler.</summary>
    public void Unregister(int fd)
    {
        AssertOnLoop();
        if (!_slotByFd.Remove(fd, out var slot)) return;
        Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, fd, null);
        _handlers[slot] = null;
        _freeSlots.Push(slot);
    }

    /// <summary>Number of fds watched (the wake fd excluded): lets tests prove sockets are released.</summary>
    public int RegisteredCount => _slotByFd.Count;

    /// <summary>Asks the loop to finish its current turn and exit.</summary>
    public void Stop()
    {
        _stopRequested = true;
        Wake();
    }

    internal void EnqueueTimer(LoopTimer timer, TimeSpan due) => _timers.Enqueue((timer, timer.Generation), due.Ticks);

    private int AddSlot()
    {
        _handlers.Add(null);
        return _handlers.Count - 1;
    }

    private void Enqueue(LoopCommand command)
    {
        _commands.Enqueue(command);
        if (_exitedFlag) AbandonCommands();
        else Wake();
    }

    private void Wake()
    {
        // Once the loop has exited its eventfd is closed and the number may already belong to another
        // fd (a socket of another worker, the test host's pipe): writing there would corrupt it.
        if (_exitedFlag) return;
        ulong one = 1;
        Libc.Write(_wakeFd, (byte*)&one, sizeof(ulong));
    }

    private void Control(int op, int fd, uint events, int slot)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = (ulong)slot;
        if (Libc.EpollCtl(_epoll, op, fd, ev) != 0)
            throw new InvalidOperationException($"epoll_ctl({op}, fd {fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The process-wide monotonic clock every loop's <see cref="Now"/> reads (for comparisons off the loop).</summary>
    internal static TimeSpan Clock => Stopwatch.GetElapsedTime(Origin);

    private void UpdateNow()
    {
        _now = Stopwatch.GetElapsedTime(Origin);
        _realtimeOffset = Libc.RealtimeTicks() - _now.Ticks;
        ArrivalTime = _now;
    }

    private void Run()
    {
        _threadId = Environment.CurrentManagedThreadId;
        try
        {
            if (_threadStart is { } threadStart) threadStart();
            UpdateNow();
            while (!_stopRequested)
            {
                RunCommands();
                // After the commands: the last member's wake-up arrives as one.
                if (_rendezvous is { } rendezvous && rendezvous.Poll()) _rendezvous = null;
                RunTimers();
                var n = Libc.EpollWait(_epoll, _events, MaxEvents, WaitTimeoutMs());
                // Read before UpdateNow: its clock call is a P/Invoke too and would overwrite the error (a signal
                // that interrupted the wait, SIGSTOP/SIGCONT say, read as "errno 0" and killed the worker).
                var errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                UpdateNow();
                if (n < 0)
                {
                    if (errno == Libc.EINTR) continue;
                    throw new InvalidOperationException($"epoll_wait failed: errno {errno}");
                }
                for (var i = 0; i < n; i++) Dispatch(_events + i * EventStride);
            }
        }
        catch (Exception e)
        {
            DeathReason = e;
        }
        finally
        {
            _exitedFlag = true;
            AbandonCommands();
            _rendezvous?.Fail(new InvalidOperationException($"{Name} stopped during a rendezvous"));
            // The wake fd stays open until Dispose: a thread that saw the loop alive may still write to it.
            Libc.Close(_epoll);
            NativeMemory.Free(_events);
            _events = null;
            var reason = DeathReason;
            _exited.TrySetResult();
            if (reason is not null && Died is { } died) ThreadPool.QueueUserWorkItem(_ => died(reason));
        }
    }

    private void Dispatch(byte* ev)
    {
        var events = *(uint*)ev;
        var slot = (int)*(ulong*)(ev + DataOffset);
        if (slot == WakeSlot)
        {
            ulong value;
            Libc.Read(_wakeFd, (byte*)&value, sizeof(ulong));
            return;
        }
        // A handler earlier in this batch may have unregistered this one.
        var handler = _handlers[slot];
        if (handler is null) return;
        // A try block costs nothing until something throws; a throw is a bug of the handler's owner, not of the worker.
        try
        {
            if ((events & (Libc.EPOLLIN | Libc.EPOLLERR | Libc.EPOLLHUP)) != 0) handler.OnReadable();
            if ((events & Libc.EPOLLOUT) != 0 && _handlers[slot] == handler) handler.OnWritable();
        }
        catch (Exception e)
        {
            OnFault(e, handler.FaultHandler);
        }
    }

    /// <summary>Counts and reports a caught exception, and closes its owner; nothing here may throw out of the loop.</summary>
    private void OnFault(Exception error, ILoopFaultHandler? owner)
    {
        Counters.Faults++;
        if (owner is not null)
        {
            try
            {
                owner.OnLoopFault(error);
            }
            catch (Exception closing)
            {
                error = new AggregateException($"closing {owner.FaultDescription} after a fault failed too", error, closing);
            }
        }
        try
        {
            Faulted?.Invoke(new LoopFault(error, owner));
        }
        catch (Exception)
        {
            // A reporting listener that throws must not turn one object's bug into a dead worker.
        }
    }

    private void RunCommands()
    {
        // Only what was queued before this turn, so a command that posts another cannot starve I/O.
        var count = _commands.Count;
        // A fire-and-forget action that throws has no owner to blame and may have left loop-wide state
        // half done (a handover): it still ends the worker (Died). Awaited commands hand theirs to the caller.
        for (var i = 0; i < count && _commands.TryDequeue(out var command); i++) command.Run();
    }

    private void RunTimers()
    {
        var nowTicks = _now.Ticks;
        // A timer re-armed for "now" by its own callback waits for the next turn instead of spinning here.
        var budget = _timers.Count;
        while (budget-- > 0 && _timers.TryPeek(out var entry, out var due) && due <= nowTicks)
        {
            _timers.Dequeue();
            if (entry.Generation != entry.Timer.Generation) continue;
            try
            {
                entry.Timer.Fire();
            }
            catch (Exception e)
            {
                OnFault(e, entry.Timer.FaultHandler);
            }
        }
    }

    private int WaitTimeoutMs()
    {
        if (!_commands.IsEmpty || _stopRequested) return 0;
        // Skip stale entries so a stopped timer does not cause an early wake.
        while (_timers.TryPeek(out var entry, out _) && entry.Generation != entry.Timer.Generation) _timers.Dequeue();
        if (!_timers.TryPeek(out _, out var dueTicks)) return -1;
        var waitTicks = dueTicks - Stopwatch.GetElapsedTime(Origin).Ticks;
        if (waitTicks <= 0) return 0;
        // Round up: waking a little late is harmless; waking early spins.
        return (int)Math.Min(int.MaxValue, (waitTicks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);
    }

    private void AbandonCommands()
    {
        var reason = new InvalidOperationException($"{Name} has stopped" + (DeathReason is null ? "" : $": {DeathReason.Message}"));
        while (_commands.TryDequeue(out var command)) command.Abandon(reason);
    }

    /// <summary>Thread CPU usage of the loop thread; call on the loop.</summary>
    public Libc.RUsage ThreadUsage()
    {
        AssertOnLoop();
        Libc.RUsage usage;
        Libc.GetRUsage(Libc.RUSAGE_THREAD, &usage);
        return usage;
    }

    public void Dispose()
    {
        Stop();
        if (_thread.IsAlive && !IsOnLoop) _thread.Join();
        if (!_thread.IsAlive && Interlocked.Exchange(ref _wakeClosed, 1) == 0) Libc.Close(_wakeFd);
    }

    private int _wakeClosed;
}
