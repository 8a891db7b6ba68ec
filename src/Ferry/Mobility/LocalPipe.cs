using Ferry.Loop;
using Ferry.Rtp;

namespace Ferry.Mobility;

/// <summary>
/// An in-process pipe: RTP packets (already in the router's space) from an origin producer, on
/// whatever loop it lives, to its replica in another router, on that router's loop. A
/// single-producer single-consumer ring of copied packets; the reader's loop is woken once per batch
/// by posting this object itself, so a steady stream costs a copy per packet and no allocation.
/// </summary>
internal sealed class LocalPipe : LoopCommand
{
    // A second of a 1000 packets/s stream (1.5 MB): a reader is woken within microseconds; the ring covers a parked or
    // descheduled reader loop. (Memory per replica: sizing slots by the stream's packets would cut it; to do.)
    public const int Capacity = 1024;
    private const int SlotSize = 1500;

    private readonly byte[] _memory = GC.AllocateUninitializedArray<byte>(Capacity * SlotSize);
    private readonly int[] _lengths = new int[Capacity];
    private readonly LocalPipeTransport _target;
    private readonly Producer _replica;
    private long _head;
    private long _tail;
    private int _wakePending;

    public LocalPipe(LocalPipeTransport target, Producer replica)
    {
        _target = target;
        _replica = replica;
    }

    /// <summary>The replica this pipe feeds.</summary>
    public Producer Replica => _replica;

    /// <summary>Packets the writer dropped because the reader was a full ring behind.</summary>
    public long Dropped;

    /// <summary>Packets carried.</summary>
    public long Carried;

    /// <summary>Set when the pipe is taken down: the reader ignores what is left.</summary>
    public volatile bool Closed;

    /// <summary>Writer side (the origin's loop): copies one packet in and wakes the reader if it sleeps.</summary>
    public void Write(ReadOnlySpan<byte> packet)
    {
        if (Closed) return;
        var tail = _tail;
        if (tail - Volatile.Read(ref _head) >= Capacity || packet.Length > SlotSize)
        {
            Dropped++;
            return;
        }
        var slot = (int)(tail % Capacity);
        packet.CopyTo(_memory.AsSpan(slot * SlotSize, SlotSize));
        _lengths[slot] = packet.Length;
        Volatile.Write(ref _tail, tail + 1);
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
        var head = _head;
        var tail = Volatile.Read(ref _tail);
        while (head < tail)
        {
            var slot = (int)(head % Capacity);
            if (!Closed) _target.Deliver(_memory.AsSpan(slot * SlotSize, _lengths[slot]));
            head++;
            Carried++;
            Volatile.Write(ref _head, head);
        }
    }
}
