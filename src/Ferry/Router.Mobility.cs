using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Loop;
using Ferry.Rtp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry;

/// <summary>
/// The router's loop affinity and its move to another worker. Everything of a router runs on the
/// loop of the worker it is on; a move hands the whole graph (sockets, timers, state) to another
/// loop at a command boundary, so nothing is copied and ICE, DTLS and SRTP continue as they were.
/// </summary>
public sealed partial class Router
{
    private readonly List<LoopTimer> _timers = [];
    private readonly ConcurrentQueue<Action> _parked = new();
    private volatile Worker _worker;
    private volatile bool _inTransit;
    private int _moving;

    /// <summary>True between the two halves of a move (commands arriving then wait for the second half).</summary>
    internal bool InTransit => _inTransit;

    /// <summary>
    /// Runs <paramref name="func"/> on the router's loop. If the router moves after the command is
    /// posted, the command follows it (and waits for the move to finish), so API calls never touch
    /// the router from a loop that no longer owns it.
    /// </summary>
    internal Task<T> InvokeAsync<T>(Func<T> func)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Dispatch(() =>
        {
            try { tcs.TrySetResult(func()); }
            catch (Exception e) { tcs.TrySetException(e); }
        }, tcs);
        return tcs.Task;
    }

    /// <summary>As <see cref="InvokeAsync{T}(Func{T})"/> without a result.</summary>
    internal Task InvokeAsync(Action action) => InvokeAsync<bool>(() => { action(); return true; });

    /// <summary>Runs <paramref name="action"/> on the router's loop, following a move; exceptions are logged, never thrown into the loop.</summary>
    internal void Post(Action action) => Dispatch(() =>
    {
        try { action(); }
        catch (Exception e) { _logger.LogError(e, "router {RouterId}: posted action failed", Id); }
    }, (TaskCompletionSource<bool>?)null);

    private void Dispatch<T>(Action run, TaskCompletionSource<T>? tcs)
    {
        var loop = Loop;
        var posted = loop.InvokeAsync(() =>
        {
            if (!Loop.IsOnLoop) Dispatch(run, tcs);   // moved after this was posted: follow it
            else if (_inTransit) _parked.Enqueue(run); // arrived before the move's second half: wait for it
            else run();
        });
        if (tcs is not null)
            posted.ContinueWith(t => tcs.TrySetException(t.Exception!.InnerExceptions), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Creates a timer on the router's loop that moves with the router.</summary>
    internal LoopTimer CreateTimer(Action callback)
    {
        var timer = Loop.CreateTimer(callback);
        timer.FaultHandler = this;
        lock (_timers) _timers.Add(timer);
        return timer;
    }

    internal void AddTimerRegistration(LoopTimer timer)
    {
        lock (_timers) _timers.Add(timer);
    }

    internal void RemoveTimerRegistration(LoopTimer timer)
    {
        lock (_timers) _timers.Remove(timer);
    }

    /// <summary>Forgets a timer of a closed object.</summary>
    internal void ReleaseTimer(LoopTimer timer)
    {
        timer.Stop();
        lock (_timers) _timers.Remove(timer);
    }

    /// <summary>
    /// Moves the router, with every transport, producer and consumer in it, to <paramref name="target"/>.
    /// Sockets stop being read on the source loop and are read on the target loop (what arrives in
    /// between waits in the kernel's buffer), timers keep their deadlines, protocol state is untouched.
    /// </summary>
    /// <exception cref="InvalidStateException">The router or a worker is closed, or another move of this router is running.</exception>
    public async Task<RouterMoveReport> MoveToAsync(Worker target)
    {
        ThrowIfClosed();
        if (target.Closed) throw new InvalidStateException("target worker closed");
        if (_transports.Values.Any(t => !t.Movable)) throw new InvalidStateException("the router has transports on a WebRtcServer, which stays on its worker");
        if (Interlocked.Exchange(ref _moving, 1) != 0) throw new InvalidStateException("a move of this router is already running");
        await MoveLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var source = _worker;
            if (source == target) return new RouterMoveReport(Id, source.Id, target.Id, 0, 0, 0, TimeSpan.Zero, 0);
            var done = new TaskCompletionSource<RouterMoveReport>(TaskCreationOptions.RunContinuationsAsynchronously);
            // First half on the source loop, between two commands: nothing of the router runs here after it.
            await InvokeAsync(() =>
            {
                ThrowIfClosed();
                var started = Stopwatch.GetTimestamp();
                var dropsBefore = source.Loop.Counters.SendDrops;
                _inTransit = true;
                var sockets = new List<IMovableSocket>();
                foreach (var transport in _transports.Values) sockets.AddRange(transport.Sockets);
                if (_localPipes is not null) sockets.AddRange(_localPipes.Sockets);
                foreach (var socket in sockets) socket.Detach(target.Loop);
                List<LoopTimer> timers;
                lock (_timers) timers = [.. _timers];
                foreach (var timer in timers) timer.Detach(target.Loop);
                source.RemoveRouter(this);
                target.AddRouter(this);
                _worker = target;
                var transports = _transports.Count;
                var producers = _producers.Count;
                var consumers = _transports.Values.Sum(t => t.ConsumerCount);
                // Second half on the target loop.
                target.Loop.InvokeAsync(() =>
                {
                    foreach (var socket in sockets) socket.Attach();
                    foreach (var timer in timers) timer.Attach();
                    _inTransit = false;
                    while (_parked.TryDequeue(out var parked)) parked();
                    var handover = Stopwatch.GetElapsedTime(started);
                    done.TrySetResult(new RouterMoveReport(Id, source.Id, target.Id, transports, producers, consumers, handover,
                        source.Loop.Counters.SendDrops - dropsBefore));
                }).ContinueWith(t => done.TrySetException(t.Exception!.InnerExceptions), CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }).ConfigureAwait(false);
            var report = await done.Task.ConfigureAwait(false);
            ObserverMoved?.Invoke(report);
            return report;
        }
        finally
        {
            MoveLock.Release();
            Volatile.Write(ref _moving, 0);
        }
    }

    /// <summary>
    /// Moves in a process run one at a time: a transport move stops two loops at once, and two such
    /// moves in opposite directions must never wait on each other.
    /// </summary>
    internal static readonly SemaphoreSlim MoveLock = new(1, 1);

    /// <summary>
    /// Makes <paramref name="producer"/> (of any router of this process) consumable in this router: the
    /// producer itself when it is here, else its replica here, fed by an in-memory pipe from the
    /// original (created on first use; it keeps the producer's id, pause state and close).
    /// </summary>
    /// <exception cref="InvalidStateException">This router or the producer is closed.</exception>
    public async Task<Producer> ImportProducerAsync(Producer producer)
    {
        ThrowIfClosed();
        var origin = producer.Origin ?? producer;
        if (origin.Closed) throw new InvalidStateException("producer closed");
        await MoveLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (origin.Transport.Router == this) return origin;
            await Transport.EnsureReplicaAsync(origin, this, register: true).ConfigureAwait(false);
            var replica = origin.Replicas[this].Replica;
            await InvokeAsync(() => replica.Pinned = true).ConfigureAwait(false);
            return replica;
        }
        finally
        {
            MoveLock.Release();
        }
    }

    /// <summary>Raised after each completed move, off the worker threads.</summary>
    public event Action<RouterMoveReport>? ObserverMoved;
}

/// <summary>What a router move did.</summary>
/// <param name="RouterId">The router.</param>
/// <param name="FromWorkerId">Where it was.</param>
/// <param name="ToWorkerId">Where it is now.</param>
/// <param name="Transports">Transports moved with it.</param>
/// <param name="Producers">Producers moved with it.</param>
/// <param name="Consumers">Consumers moved with it.</param>
/// <param name="HandoverTime">From the source loop letting go to the target loop reading the sockets.</param>
/// <param name="PacketsDropped">Packets the server dropped meanwhile (sends the kernel refused on the source loop).</param>
public sealed record RouterMoveReport(string RouterId, string FromWorkerId, string ToWorkerId, int Transports, int Producers, int Consumers,
    TimeSpan HandoverTime, long PacketsDropped);
