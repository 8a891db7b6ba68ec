using Ferry.Loop;
using Ferry.Rtp;

namespace Ferry.Mobility;

/// <summary>
/// An in-process pipe: RTP packets (already in the router's space) from an origin producer, on
/// whatever loop it lives, to its replica in another router, on that router's loop. A
/// single-producer single-consumer <see cref="PacketRing"/> of copied packets; the reader's loop is
/// woken once per batch by posting this object itself, so a steady stream costs a copy per packet and
/// no allocation.
/// </summary>
internal sealed class LocalPipe : LoopCommand
{
    // Bytes of ring per pipe: about 420 full-size video packets (a second or more of a few Mbit/s) and
    // several seconds of audio, which covers a reader loop parked or waiting for a core.
    private const int VideoRingBytes = 512 * 1024;
    private const int AudioRingBytes = 64 * 1024;

    private readonly PacketRing _ring;
    private readonly LocalPipeTransport _target;
    private readonly Producer _replica;
    private int _wakePending;

    public LocalPipe(LocalPipeTransport target, Producer replica)
    {
        _target = target;
        _replica = replica;
        _ring = new PacketRing(RingMemoryPool.Rent(replica.Kind == Protocols.Ortc.MediaKind.Audio ? AudioRingBytes : VideoRingBytes));
        _release = new ReleaseCommand(this);
    }

    private readonly ReleaseCommand _release;
    private volatile bool _memoryReturned;

    /// <summary>
    /// Writer side, on the origin's loop, once the pipe has left the origin's sinks: nothing is written
    /// any more. The ring's memory goes back to the pool on the reader's loop, after the reader's last
    /// pending wake (see <see cref="ReleaseCommand"/>).
    /// </summary>
    public void WriterDetached()
    {
        Closed = true;
        _target.Router.Loop.Post(_release);
    }

    /// <summary>
    /// Returns the ring's memory once no read can follow: on the replica's loop (following its router as
    /// the reader's wake does) and only when no wake is pending, since a pending wake would still drain
    /// the ring. The writer has stopped before this is posted, so no new wake can appear.
    /// </summary>
    private sealed class ReleaseCommand(LocalPipe pipe) : LoopCommand
    {
        public override void Run()
        {
            var loop = pipe._target.Router.Loop;
            if (!loop.IsOwnThread || Volatile.Read(ref pipe._wakePending) != 0)
            {
                loop.Post(this);
                return;
            }
            pipe._memoryReturned = true;
            RingMemoryPool.Return(pipe._ring.Memory);
        }

        // The loop stopped (its worker closed): the memory is left to the collector.
        public override void Abandon(Exception reason)
        {
        }
    }

    /// <summary>Bytes of memory the pipe holds.</summary>
    public int MemoryBytes => _ring.Capacity;

    /// <summary>The replica this pipe feeds.</summary>
    public Producer Replica => _replica;

    /// <summary>Packets the writer dropped because the reader was a full ring behind.</summary>
    public long Dropped;

    /// <summary>Packets carried.</summary>
    public long Carried;

    /// <summary>Set when the pipe is taken down: the reader ignores what is left.</summary>
    public volatile bool Closed;

    /// <summary>Writer side (the origin's loop): copies one packet in and wakes the reader if it sleeps.</summary>
    /// <param name="packet">The packet, in the router's space.</param>
    /// <param name="arrival">When it reached the host (the origin loop's <see cref="EventLoop.ArrivalTime"/>), for the reader's loop.</param>
    public void Write(ReadOnlySpan<byte> packet, TimeSpan arrival)
    {
        if (Closed) return;
        if (!_ring.TryWrite(packet, arrival.Ticks))
        {
            Dropped++;
            return;
        }
        // One wake per batch: only the write that finds the reader idle posts it. The fence keeps the
        // tail store ahead of the flag load (the reader does the reverse), so no packet is stranded.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _wakePending) == 0 && Interlocked.Exchange(ref _wakePending, 1) == 0) _target.Router.Loop.Post(this);
    }

    /// <summary>Reader side, as a posted command: drains on the replica's loop, following it if its router moved.</summary>
    public override void Run()
    {
        var loop = _target.Router.Loop;
        if (!loop.IsOnLoop)
        {
            loop.Post(this);
            return;
        }
        Volatile.Write(ref _wakePending, 0);
        Interlocked.MemoryBarrier();
        Drain();
    }

    public override void Abandon(Exception reason)
    {
    }

    /// <summary>Delivers every packet written so far to the replica. Call on the replica's loop (or while it is frozen for the caller).</summary>
    public void Drain()
    {
        if (_memoryReturned) return;
        var loop = _target.Router.Loop;
        var drained = false;
        while (_ring.TryPeek(out var packet, out var arrival))
        {
            // Every loop reads one clock, so the origin's arrival time stands here as it did there.
            loop.ArrivalTime = new TimeSpan(arrival);
            drained = true;
            if (!Closed) _target.Deliver(packet);
            _ring.Advance();
            Carried++;
        }
        if (drained) loop.ArrivalTime = loop.Now;
    }
}
