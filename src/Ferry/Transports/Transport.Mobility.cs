using System.Diagnostics;
using Ferry.Loop;
using Ferry.Mobility;
using Ferry.Rtp;
using Microsoft.Extensions.Logging;

namespace Ferry.Transports;

/// <summary>
/// A transport's loop affinity and its live move to another router (on any worker of the process).
/// </summary>
public abstract partial class Transport
{
    private readonly List<LoopTimer> _ownedTimers = [];

    /// <summary>
    /// Runs <paramref name="func"/> on the loop of the router this transport is in when the command
    /// runs: a command posted just before a move follows the transport to its new router.
    /// </summary>
    internal Task<T> InvokeAsync<T>(Func<T> func)
    {
        var router = Router;
        return router.InvokeAsync(() => Router == router ? Task.FromResult(func()) : InvokeAsync(func)).Unwrap();
    }

    /// <summary>As <see cref="InvokeAsync{T}(Func{T})"/>, failing with InvalidStateException once the transport is closed (an API call on a closed transport).</summary>
    internal Task<T> InvokeOpenAsync<T>(Func<T> func) => InvokeAsync(() =>
    {
        ThrowIfClosed();
        return func();
    });

    /// <summary>As <see cref="InvokeAsync{T}(Func{T})"/> without a result.</summary>
    internal Task InvokeAsync(Action action) => InvokeAsync<bool>(() => { action(); return true; });

    /// <summary>Fire and forget on this transport's loop; failures are logged.</summary>
    internal void Post(Action action) =>
        InvokeAsync(action).ContinueWith(t => Logger.LogError(t.Exception, "transport {TransportId}: posted action failed", Id),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>A timer of this transport or of one of its producers: it moves with the transport.</summary>
    internal LoopTimer CreateOwnedTimer(Action callback)
    {
        var timer = Router.CreateTimer(callback);
        timer.FaultHandler = this;
        _ownedTimers.Add(timer);
        return timer;
    }

    internal void ReleaseOwnedTimer(LoopTimer timer)
    {
        _ownedTimers.Remove(timer);
        Router.ReleaseTimer(timer);
    }

    /// <summary>
    /// Moves this transport, with its producers and consumers, to <paramref name="target"/> (a router
    /// on any worker of this process) while media flows. Before the handover, every path the graph
    /// needs afterwards already carries media: each producer this transport consumes gets a replica
    /// in the target router (fed by an in-memory pipe), and each of its own producers gets a replica
    /// in the source router for the consumers staying there. The handover itself stops both loops at
    /// one instant, re-homes sockets and timers and switches every affected consumer to its new
    /// source at a packet boundary (duplicates from the overlap are dropped by sequence number).
    /// Replicas nobody consumes any more are removed. ICE, DTLS and SRTP are untouched.
    /// </summary>
    /// <exception cref="InvalidStateException">Something involved is closed, or the transport is not movable.</exception>
    public async Task<TransportMoveReport> MoveToAsync(Router target)
    {
        ThrowIfClosed();
        if (target.Closed) throw new InvalidStateException("target router closed");
        if (this is LocalPipeTransport) throw new InvalidStateException("pipe transports move with their router");
        if (!Movable && target.Worker != Router.Worker) throw new InvalidStateException("a transport on a WebRtcServer moves only within its worker");
        await Router.MoveLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var source = Router;
            if (source == target) return new TransportMoveReport(Id, source.Id, target.Id, source.Worker.Id, target.Worker.Id, 0, 0, [], [], TimeSpan.Zero, 0);
            var created = new List<string>();
            var removed = new List<string>();

            List<Producer> consumed;
            int producers, consumers;
            TimeSpan handover;
            long dropsBefore;
            try
            {
                // 1. Make before break: replicas of what our consumers consume, in the target router.
                consumed = await InvokeAsync(() => _consumers.Values.Select(c => c.Producer).OfType<Producer>().Select(p => p.Origin ?? p).Distinct().ToList()).ConfigureAwait(false);
                foreach (var origin in consumed)
                {
                    if (origin.Transport.Router == target || origin.Closed) continue;
                    if (await EnsureReplicaAsync(origin, target, register: true).ConfigureAwait(false)) created.Add($"{origin.Id}@{target.Id}");
                }
                // ... and of our producers in the source router, for the consumers that stay there.
                // (Observers of the source router keep watching that copy.)
                var staying = await InvokeAsync(() => _producers.Values.Where(p => p.Observers.Count > 0 || p.Consumers.Any(c => c.Transport != this)).ToList()).ConfigureAwait(false);
                foreach (var producer in staying)
                {
                    if (await EnsureReplicaAsync(producer, source, register: false).ConfigureAwait(false)) created.Add($"{producer.Id}@{source.Id}");
                }

                // 2. The handover, with both loops stopped at one instant.
                dropsBefore = source.Worker.Loop.Counters.SendDrops;
                // The loops of the producers our consumers read from are stopped too: each writes to the old
                // and the new path of a consumer, and the switch must see both paths at the same packet.
                var loops = new HashSet<EventLoop> { source.Loop };
                foreach (var origin in consumed) loops.Add(origin.Loop);
                loops.Remove(target.Loop);
                ((producers, consumers), handover) = await RunWithLoopsStoppedAsync(target.Loop, loops, () => Handover(source, target, removed)).ConfigureAwait(false);
            }
            catch
            {
                // Nothing changed hands before the handover; what the preparation created goes again.
                await RemoveIdleReplicasAsync([source, target], removed).ConfigureAwait(false);
                throw;
            }

            // 3. Break: replicas nobody consumes any more.
            await RemoveIdleReplicasAsync([source, target], removed).ConfigureAwait(false);
            return new TransportMoveReport(Id, source.Id, target.Id, source.Worker.Id, target.Worker.Id, producers, consumers, created, removed,
                handover, source.Worker.Loop.Counters.SendDrops - dropsBefore);
        }
        finally
        {
            Router.MoveLock.Release();
        }
    }

    /// <summary>Closes the replicas of <paramref name="routers"/> that nobody consumes or observes (and the application did not ask for); a closed router is skipped.</summary>
    private static async Task RemoveIdleReplicasAsync(IEnumerable<Router> routers, List<string> removed)
    {
        foreach (var router in routers)
        {
            if (router.Closed) continue;
            try
            {
                var idle = await router.InvokeAsync(() => router.LocalPipes.Producers.Where(r => !r.Pinned && r.Consumers.Count == 0 && r.Observers.Count == 0).ToList()).ConfigureAwait(false);
                foreach (var replica in idle)
                {
                    await router.InvokeAsync(() => router.LocalPipes.CloseProducerOnLoop(replica, byTransport: false)).ConfigureAwait(false);
                    removed.Add($"{replica.Id}@{router.Id}");
                }
            }
            catch (InvalidOperationException)
            {
                // The router or its worker closed meanwhile: its replicas went with it.
            }
        }
    }

    /// <summary>Creates the replica of <paramref name="origin"/> in <paramref name="router"/> unless there is one; false when it existed.</summary>
    /// <exception cref="InvalidStateException">The router or the origin closed.</exception>
    internal static async Task<bool> EnsureReplicaAsync(Producer origin, Router router, bool register)
    {
        if (origin.Replicas.ContainsKey(router)) return false;
        // Created, registered and recorded in one command on the router's loop: a close of the router,
        // which runs there too, either comes first (and this throws) or finds the replica recorded.
        var pipe = await router.InvokeAsync(() =>
        {
            if (router.Closed) throw new InvalidStateException("router closed");
            var (replica, created) = router.LocalPipes.CreateReplica(origin);
            if (register) router.AddProducer(replica);
            origin.Replicas[router] = created;
            return created;
        }).ConfigureAwait(false);
        // On the origin's loop: a pipe closed meanwhile (its replica or the origin closed) is not fed; a
        // later close removes the sink after this, on the same loop.
        await origin.Transport.InvokeAsync(() =>
        {
            if (!origin.Closed)
            {
                if (!pipe.Closed) origin.AddSink(pipe);
                return;
            }
            // The origin closed after the replica was made: its close may have missed the new entry.
            if (origin.Replicas.TryRemove(new KeyValuePair<Router, LocalPipe>(router, pipe)))
            {
                pipe.Closed = true;
                var replica = pipe.Replica;
                replica.Transport.Post(() => replica.Transport.CloseProducerOnLoop(replica, byTransport: false));
            }
        }).ConfigureAwait(false);
        if (pipe.Closed || origin.Closed) throw new InvalidStateException("producer or router closed");
        return true;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on <paramref name="runner"/> while every loop of <paramref name="others"/> is parked
    /// (a <see cref="LoopRendezvous"/>). Also returns how long media stood still on the parked loops.
    /// </summary>
    private static async Task<(T Result, TimeSpan Stalled)> RunWithLoopsStoppedAsync<T>(EventLoop runner, IReadOnlyCollection<EventLoop> others, Func<T> work)
    {
        T result = default!;
        var stalled = await LoopRendezvous.RunAsync(runner, others, () => result = work()).ConfigureAwait(false);
        return (result, stalled);
    }

    /// <summary>The switch itself: runs on the target loop with the source loop parked.</summary>
    private (int Producers, int Consumers) Handover(Router source, Router target, List<string> removed)
    {
        // Everything that can make the move impossible is checked here, at the instant of the handover
        // (the loops involved are parked, so nothing changes under it), before anything changes hands;
        // what follows only re-links objects. A failure here leaves the transport where it was.
        ThrowIfClosed();
        if (target.Closed) throw new InvalidStateException("target router closed during the move");
        if (source.Closed || Router != source) throw new InvalidStateException("source router closed or changed during the move");
        var sockets = Sockets.ToList();
        foreach (var socket in sockets) socket.Detach(target.Loop);
        foreach (var timer in _ownedTimers)
        {
            timer.Detach(target.Loop);
            source.RemoveTimerRegistration(timer);
            target.AddTimerRegistration(timer);
        }
        source.RemoveTransportEntry(this);
        Router = target;
        target.AddTransportEntry(this);
        MoveDataProducers(source, target);

        foreach (var producer in _producers.Values)
        {
            // The consumers staying in the source router switch to the replica prepared there.
            source.RemoveProducer(producer);
            var stayers = producer.Consumers.Where(c => c.Transport != this).ToList();
            if (producer.Replicas.TryGetValue(source, out var back))
            {
                source.AddProducer(back.Replica);
                foreach (var consumer in stayers)
                {
                    producer.RemoveConsumer(consumer);
                    back.Replica.AddConsumer(consumer);
                    consumer.SwitchSource(back.Replica);
                }
                foreach (var observer in producer.Observers.ToArray()) observer.SwapProducer(producer, back.Replica);
            }
            // A replica of it already in the target router gives way to the original.
            if (producer.Replicas.TryRemove(target, out var there))
            {
                there.Drain();
                there.Closed = true;
                producer.RemoveSink(there);
                var replica = there.Replica;
                foreach (var observer in replica.Observers.ToArray()) observer.SwapProducer(replica, producer);
                foreach (var consumer in replica.Consumers.ToList())
                {
                    replica.RemoveConsumer(consumer);
                    producer.AddConsumer(consumer);
                    consumer.SwitchSource(producer);
                }
                target.RemoveProducer(replica);
                target.LocalPipes.CloseProducerOnLoop(replica, byTransport: false);
                removed.Add($"{producer.Id}@{target.Id}");
            }
            target.AddProducer(producer);
        }

        foreach (var consumer in _consumers.Values)
        {
            if (consumer.Producer is not { } old) continue;
            // What the old path still holds goes out first, then the new path takes over.
            old.FeedingPipe?.Drain();
            old.RemoveConsumer(consumer);
            var origin = old.Origin ?? old;
            var next = origin.Transport.Router == target ? origin
                : origin.Replicas.TryGetValue(target, out var pipe) ? pipe.Replica
                : null;
            if (next is null)
            {
                Logger.LogWarning("transport {TransportId}: no source for consumer {ConsumerId} after the move", Id, consumer.Id);
                continue;
            }
            next.AddConsumer(consumer);
            consumer.SwitchSource(next);
        }

        foreach (var socket in sockets) socket.Attach();
        foreach (var timer in _ownedTimers) timer.Attach();
        return (_producers.Count, _consumers.Count);
    }
}

/// <summary>What a transport move did.</summary>
/// <param name="TransportId">The transport.</param>
/// <param name="FromRouterId">Its router before.</param>
/// <param name="ToRouterId">Its router now.</param>
/// <param name="FromWorkerId">The worker before.</param>
/// <param name="ToWorkerId">The worker now.</param>
/// <param name="Producers">Producers moved with it.</param>
/// <param name="Consumers">Consumers moved with it.</param>
/// <param name="PipesCreated">Replicas created before the handover, as producerId@routerId.</param>
/// <param name="PipesRemoved">Replicas removed after it.</param>
/// <param name="HandoverTime">How long media stood still: from the first loop involved parking to all of them running again.</param>
/// <param name="PacketsDropped">Packets the server dropped meanwhile.</param>
public sealed record TransportMoveReport(string TransportId, string FromRouterId, string ToRouterId, string FromWorkerId, string ToWorkerId,
    int Producers, int Consumers, IReadOnlyList<string> PipesCreated, IReadOnlyList<string> PipesRemoved, TimeSpan HandoverTime, long PacketsDropped);
