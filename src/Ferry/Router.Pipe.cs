using Ferry.Rtp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry;

/// <summary>Plain and pipe transports, and pipeToRouter: a producer of this router made available in another.</summary>
public sealed partial class Router
{
    // Guards the pair caches of every router: a pair is registered in two routers at once, which may
    // live on different loops. Control path only, never per packet.
    private static readonly object PipePairsLock = new();

    // Per other router id: the pipe transport pair between us (pending while it is created), shared by
    // pipeToRouter calls in both directions.
    private readonly Dictionary<string, Task<PipePair>> _pipePairs = new();

    /// <summary>Creates a PlainTransport (RTP/RTCP over UDP, optional SDES-keyed SRTP).</summary>
    /// <exception cref="ArgumentException">Invalid options (mediasoup's TypeError), a TCP listen info among them.</exception>
    /// <exception cref="InvalidOperationException">The address cannot be bound.</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<PlainTransport> CreatePlainTransportAsync(PlainTransportOptions options)
    {
        ThrowIfClosed();
        if (options is null) throw new ArgumentException("missing options");
        options.Validate();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var transport = PlainTransport.Create(this, options);
            AddTransport(transport);
            return transport;
        });
    }

    /// <summary>Creates a PipeTransport, one end of a pipe to another router.</summary>
    /// <exception cref="ArgumentException">Invalid options (mediasoup's TypeError), a TCP listen info among them.</exception>
    /// <exception cref="InvalidOperationException">The address cannot be bound.</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<PipeTransport> CreatePipeTransportAsync(PipeTransportOptions options)
    {
        ThrowIfClosed();
        if (options is null) throw new ArgumentException("missing options");
        options.Validate();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var transport = PipeTransport.Create(this, options);
            AddTransport(transport);
            return transport;
        });
    }

    /// <summary>
    /// Makes a producer of this router available in another router of this process (same or another
    /// worker), as mediasoup's pipeToRouter(): a producer with the same id appears there, with the
    /// original's pause state, following its pause, resume and close. By default the pipe is an
    /// in-memory queue between the two loops (no consumer on this side, <see cref="PipeToRouterResult.PipeConsumer"/>
    /// is null) and it follows moves of either side. With <see cref="PipeToRouterOptions.OverUdp"/> (or
    /// SRTP, RTX or a listen address asked for) it is mediasoup's pair of connected PipeTransports over
    /// UDP (created once per pair of routers and reused), a pipe consumer here and a producer there;
    /// closing either half closes the other.
    /// </summary>
    /// <exception cref="ArgumentException">Missing producer id or router, this router as target, an unknown producer.</exception>
    /// <exception cref="InvalidStateException">A router is closed, the producer closed meanwhile, or it is already in the target router.</exception>
    public async Task<PipeToRouterResult> PipeToRouterAsync(PipeToRouterOptions options)
    {
        if (options is null) throw new ArgumentException("missing options");
        if (string.IsNullOrEmpty(options.ProducerId)) throw new ArgumentException("missing producerId");
        if (options.Router is null) throw new ArgumentException("Router not found");
        if (options.Router == this) throw new ArgumentException("cannot use this Router as destination");
        ThrowIfClosed();
        if (options.Router.Closed) throw new InvalidStateException("destination Router closed");
        if (!_producers.TryGetValue(options.ProducerId, out var producer)) throw new ArgumentException("Producer not found");
        if (!options.UsesUdp) return new PipeToRouterResult(null, await PipeInMemoryAsync(producer, options.Router).ConfigureAwait(false));

        var pair = await GetPipePairAsync(options.Router, options).ConfigureAwait(false);
        var (localPipe, remotePipe) = pair.Ends(this);
        Consumer? pipeConsumer = null;
        Producer? pipeProducer = null;
        try
        {
            pipeConsumer = await localPipe.ConsumeAsync(new PipeConsumerOptions { ProducerId = producer.Id }).ConfigureAwait(false);
            pipeProducer = await remotePipe.ProduceAsync(new ProducerOptions
            {
                Id = producer.Id,
                Kind = pipeConsumer.Kind,
                RtpParameters = pipeConsumer.RtpParameters,
                Paused = pipeConsumer.ProducerPaused,
                AppData = producer.AppData,
            }).ConfigureAwait(false);
            var consumer = pipeConsumer;
            var piped = pipeProducer;
            // Each half's handlers are attached on its own loop, after checking it is still open there,
            // so no close can fall between the check and the subscription.
            await remotePipe.Router.InvokeAsync(() =>
            {
                if (piped.Closed) throw new InvalidStateException("pipe Producer closed");
                piped.ObserverClose += () => Forget(consumer.CloseAsync());
            }).ConfigureAwait(false);
            await InvokeAsync(() =>
            {
                if (consumer.Closed) throw new InvalidStateException("original Producer closed");
                consumer.ObserverClose += () => Forget(piped.CloseAsync());
                consumer.ObserverPause += () => Forget(piped.PauseAsync());
                consumer.ObserverResume += () => Forget(piped.ResumeAsync());
                // The original paused or resumed between consume and produce: catch up. Posted from this
                // loop, so it reaches the other loop before whatever a later event posts.
                if (consumer.ProducerPaused != piped.Paused) Forget(consumer.ProducerPaused ? piped.PauseAsync() : piped.ResumeAsync());
            }).ConfigureAwait(false);
        }
        catch
        {
            if (pipeConsumer is not null) Forget(pipeConsumer.CloseAsync());
            if (pipeProducer is not null) Forget(pipeProducer.CloseAsync());
            throw;
        }
        return new PipeToRouterResult(pipeConsumer, pipeProducer);
    }

    /// <summary>The in-memory pipeToRouter: a pinned replica of the producer's origin in <paramref name="target"/>.</summary>
    private async Task<Producer> PipeInMemoryAsync(Producer producer, Router target)
    {
        var origin = producer.Origin ?? producer;
        await MoveLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (origin.Closed) throw new InvalidStateException("Producer closed");
            if (target.Closed) throw new InvalidStateException("destination Router closed");
            if (origin.Transport.Router == target) throw new InvalidStateException($"a Producer with id \"{origin.Id}\" already exists in the destination Router");
            await Transport.EnsureReplicaAsync(origin, target, register: true).ConfigureAwait(false);
            var replica = origin.Replicas[target].Replica;
            var wasPinned = await target.InvokeAsync(() =>
            {
                var was = replica.Pinned;
                replica.Pinned = true;
                return was;
            }).ConfigureAwait(false);
            // As mediasoup: piping the same producer to the same router twice is a duplicate id there.
            if (wasPinned) throw new InvalidStateException($"a Producer with id \"{origin.Id}\" already exists in the destination Router");
            return replica;
        }
        finally
        {
            MoveLock.Release();
        }
    }

    private Task<PipePair> GetPipePairAsync(Router remote, PipeToRouterOptions options)
    {
        TaskCompletionSource<PipePair> created;
        lock (PipePairsLock)
        {
            if (_pipePairs.TryGetValue(remote.Id, out var existing)) return existing;
            created = new TaskCompletionSource<PipePair>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pipePairs[remote.Id] = created.Task;
            remote._pipePairs[Id] = created.Task;
        }
        _ = BuildPipePairAsync(remote, options, created);
        return created.Task;
    }

    private async Task BuildPipePairAsync(Router remote, PipeToRouterOptions options, TaskCompletionSource<PipePair> result)
    {
        var transportOptions = new PipeTransportOptions
        {
            ListenInfo = options.ListenInfo ?? new TransportListenInfo { Ip = "127.0.0.1" },
            EnableRtx = options.EnableRtx,
            EnableSrtp = options.EnableSrtp,
        };
        var localTask = CreatePipeEndAsync(this, transportOptions);
        var remoteTask = CreatePipeEndAsync(remote, transportOptions);
        try
        {
            await Task.WhenAll(localTask, remoteTask).ConfigureAwait(false);
            var local = localTask.Result;
            var other = remoteTask.Result;
            await Task.WhenAll(
                local.ConnectAsync(other.Tuple.LocalAddress, other.Tuple.LocalPort, other.SrtpParameters),
                other.ConnectAsync(local.Tuple.LocalAddress, local.Tuple.LocalPort, local.SrtpParameters)).ConfigureAwait(false);
            local.ObserverClose += () => OnPipeEndClosed(remote, result.Task, other);
            other.ObserverClose += () => OnPipeEndClosed(remote, result.Task, local);
            if (local.Closed || other.Closed) throw new InvalidStateException("pipe transport closed while connecting");
            result.SetResult(new PipePair(this, local, other));
        }
        catch (Exception e)
        {
            if (localTask.IsCompletedSuccessfully) Forget(localTask.Result.CloseAsync());
            if (remoteTask.IsCompletedSuccessfully) Forget(remoteTask.Result.CloseAsync());
            ForgetPipePair(remote, result.Task);
            result.SetException(e);
        }

        static async Task<PipeTransport> CreatePipeEndAsync(Router router, PipeTransportOptions options) =>
            await router.CreatePipeTransportAsync(options).ConfigureAwait(false);
    }

    /// <summary>One end closed (or its router did): the other end closes too and the pair is no longer offered.</summary>
    private void OnPipeEndClosed(Router remote, Task<PipePair> pair, PipeTransport otherEnd)
    {
        ForgetPipePair(remote, pair);
        Forget(otherEnd.CloseAsync());
    }

    private void ForgetPipePair(Router remote, Task<PipePair> pair)
    {
        lock (PipePairsLock)
        {
            if (_pipePairs.TryGetValue(remote.Id, out var mine) && mine == pair) _pipePairs.Remove(remote.Id);
            if (remote._pipePairs.TryGetValue(Id, out var theirs) && theirs == pair) remote._pipePairs.Remove(Id);
        }
    }

    /// <summary>Runs a cross-loop command whose outcome nobody awaits; a failure (a loop gone) is only logged.</summary>
    private void Forget(Task task)
    {
        if (task.IsCompletedSuccessfully) return;
        task.ContinueWith(t => _logger.LogDebug(t.Exception, "pipe: cross-router command failed"),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Two connected pipe transports, one in each of two routers.</summary>
    private sealed class PipePair(Router first, PipeTransport firstEnd, PipeTransport secondEnd)
    {
        public (PipeTransport Local, PipeTransport Remote) Ends(Router router) => router == first ? (firstEnd, secondEnd) : (secondEnd, firstEnd);
    }
}
