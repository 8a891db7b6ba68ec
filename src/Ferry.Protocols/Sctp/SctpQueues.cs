using System.Buffers;

namespace Ferry.Protocols.Sctp;

/// <summary>
/// A message the application queued: its bytes (rented), how it is to be sent, and how far it has
/// been cut into DATA chunks. Pooled by the association; its buffer goes back to the pool when the
/// last of its chunks is acknowledged or abandoned.
/// </summary>
internal sealed class OutgoingMessage
{
    public ushort StreamId;
    public uint Ppid;
    public bool Unordered;
    public int MaxRetransmits;     // -1: reliable
    public TimeSpan ExpiresAt;     // MaxValue: no lifetime
    public byte[] Buffer = [];
    public int Length;
    public int Offset;             // bytes already cut into chunks
    public ushort Ssn;
    public int ChunksInRing;       // chunks cut from it and not yet retired; its buffer is recycled at zero
    public bool Abandoned;

    public bool FullyCut => Offset >= Length;
    public bool PartiallyReliable => MaxRetransmits >= 0 || ExpiresAt != TimeSpan.MaxValue;

    public void Reset()
    {
        if (Buffer.Length > 0) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = [];
        Length = Offset = ChunksInRing = 0;
        Abandoned = false;
    }
}

/// <summary>One DATA chunk with a TSN: what it carries and what became of it.</summary>
internal sealed class OutChunk
{
    public uint Tsn;
    public OutgoingMessage Message = null!;
    public int Offset;
    public int Length;
    public byte Flags;             // B/E/U as written
    public ushort Ssn;
    public TimeSpan SentAt;
    public int Transmissions;
    public int MissIndications;
    public bool Acked;             // by the cumulative TSN (then it leaves the ring) or a gap block
    public bool Abandoned;
    public bool NeedsRetransmit;
    public bool FastRetransmitted;
    public bool InFlight;
    public int GapStamp;           // the SACK that last reported it in a gap block

    public bool Outstanding => !Acked && !Abandoned;
}

/// <summary>Per outgoing stream: its queue, its next SSN, and a pending reset (RFC 6525).</summary>
internal sealed class OutStream
{
    public readonly Queue<OutgoingMessage> Queue = new();
    public ushort NextSsn;
    public long BufferedBytes;     // queued + unacknowledged, as the data channel's bufferedAmount
    public bool ResetRequested;    // waiting for the messages before the reset to go, or for the answer
    public int MessagesBeforeReset;
    public bool Scheduled;         // in the round-robin list
}

/// <summary>A received DATA chunk kept for reassembly or ordering; its bytes are rented.</summary>
internal struct InChunk
{
    public ushort StreamId;
    public ushort Ssn;
    public uint Ppid;
    public byte Flags;
    public byte[] Data;
    public int Length;

    public readonly bool Beginning => (Flags & DataChunk.FlagBeginning) != 0;
    public readonly bool Ending => (Flags & DataChunk.FlagEnd) != 0;
    public readonly bool Unordered => (Flags & DataChunk.FlagUnordered) != 0;
}

/// <summary>Per incoming stream: the SSN delivered next, and complete messages waiting for it.</summary>
internal sealed class InStream
{
    public ushort NextSsn;
    /// <summary>Complete ordered messages by SSN; a message discarded as oversized is kept with a null buffer so order moves past it.</summary>
    public readonly Dictionary<ushort, (byte[]? Buffer, int Length, uint Ppid)> Ready = new();
}

/// <summary>
/// The outstanding DATA chunks in TSN order, from the cumulative TSN ack point + 1 up: a growable
/// ring so acknowledging the oldest chunks and adding new ones cost no allocation in steady state.
/// </summary>
internal sealed class ChunkRing
{
    private OutChunk[] _items = new OutChunk[64];
    private int _head;

    public int Count { get; private set; }

    public OutChunk this[int index] => _items[(_head + index) & (_items.Length - 1)];

    public void Add(OutChunk chunk)
    {
        if (Count == _items.Length)
        {
            var larger = new OutChunk[_items.Length * 2];
            for (var i = 0; i < Count; i++) larger[i] = this[i];
            _items = larger;
            _head = 0;
        }
        _items[(_head + Count) & (_items.Length - 1)] = chunk;
        Count++;
    }

    public OutChunk RemoveFirst()
    {
        var chunk = _items[_head];
        _items[_head] = null!;
        _head = (_head + 1) & (_items.Length - 1);
        Count--;
        return chunk;
    }
}
