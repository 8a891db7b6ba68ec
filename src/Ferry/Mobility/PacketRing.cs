using System.Buffers.Binary;

namespace Ferry.Mobility;

/// <summary>
/// A single-producer single-consumer ring of variable-length packets: each stored as a 2-byte length, an 8-byte stamp
/// and its bytes, back to back, so a ring holds many small audio packets or fewer video ones in the
/// same memory (fixed 1500-byte slots cost 1.5 MB per 1024 packets whatever their size). A packet
/// never wraps: when it does not fit before the end, the writer marks the rest as skipped and starts
/// again at the beginning. One thread writes, one reads; positions only grow, as byte counts.
/// </summary>
internal sealed class PacketRing
{
    /// <summary>Largest packet accepted.</summary>
    public const int MaxPacket = 1500;
    private const ushort WrapMarker = 0xFFFF;
    // Per packet: its length (2 bytes) and its stamp (8 bytes).
    private const int HeaderBytes = 10;

    private readonly byte[] _memory;
    private long _head;
    private long _tail;

    /// <param name="capacity">Bytes of the ring; at least a few packets.</param>
    public PacketRing(int capacity) : this(GC.AllocateUninitializedArray<byte>(CheckCapacity(capacity)))
    {
    }

    /// <param name="memory">The ring's memory (its length is the capacity), owned by the ring until <see cref="Memory"/> is given back.</param>
    public PacketRing(byte[] memory)
    {
        CheckCapacity(memory.Length);
        _memory = memory;
    }

    /// <summary>The ring's memory, for its owner to return to a pool once neither side will touch the ring again.</summary>
    public byte[] Memory => _memory;

    private static int CheckCapacity(int capacity) =>
        capacity < 4 * (MaxPacket + HeaderBytes) ? throw new ArgumentOutOfRangeException(nameof(capacity), "room for a few packets at least") : capacity;

    /// <summary>Bytes of memory the ring holds.</summary>
    public int Capacity => _memory.Length;

    /// <summary>True when nothing is waiting (reader side, or a hint anywhere).</summary>
    public bool IsEmpty => Volatile.Read(ref _head) == Volatile.Read(ref _tail);

    /// <summary>Writer side: copies <paramref name="packet"/> in; false when it is too large or the ring is full.</summary>
    /// <param name="packet">The packet.</param>
    /// <param name="stamp">A value carried with it (the time it reached the host, in ticks).</param>
    public bool TryWrite(ReadOnlySpan<byte> packet, long stamp = 0)
    {
        if (packet.Length > MaxPacket) return false;
        var tail = _tail;
        var position = (int)(tail % _memory.Length);
        var before = _memory.Length - position;
        var need = HeaderBytes + packet.Length;
        var skip = before < need ? before : 0;
        if (tail + skip + need - Volatile.Read(ref _head) > _memory.Length) return false;
        if (skip > 0)
        {
            // Fewer than two bytes left cannot hold a marker; the reader skips such a tail by itself.
            if (skip >= 2) BinaryPrimitives.WriteUInt16LittleEndian(_memory.AsSpan(position), WrapMarker);
            position = 0;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(_memory.AsSpan(position), (ushort)packet.Length);
        BinaryPrimitives.WriteInt64LittleEndian(_memory.AsSpan(position + 2), stamp);
        packet.CopyTo(_memory.AsSpan(position + HeaderBytes));
        // Release: the bytes are in place before the reader can see the new tail.
        Volatile.Write(ref _tail, tail + skip + need);
        return true;
    }

    /// <summary>Reader side: the next packet, valid until <see cref="Advance"/>; false when empty.</summary>
    public bool TryPeek(out Span<byte> packet) => TryPeek(out packet, out _);

    /// <summary>Reader side: the next packet and the stamp written with it; false when empty.</summary>
    public bool TryPeek(out Span<byte> packet, out long stamp)
    {
        var tail = Volatile.Read(ref _tail);
        var head = _head;
        while (head < tail)
        {
            var position = (int)(head % _memory.Length);
            var before = _memory.Length - position;
            if (before >= 2)
            {
                var length = BinaryPrimitives.ReadUInt16LittleEndian(_memory.AsSpan(position));
                if (length != WrapMarker)
                {
                    Volatile.Write(ref _head, head);
                    stamp = BinaryPrimitives.ReadInt64LittleEndian(_memory.AsSpan(position + 2));
                    packet = _memory.AsSpan(position + HeaderBytes, length);
                    return true;
                }
            }
            // A skipped end of the ring: the packet starts again at the beginning.
            head += before;
        }
        Volatile.Write(ref _head, head);
        packet = default;
        stamp = 0;
        return false;
    }

    /// <summary>Reader side: releases the packet <c>TryPeek</c> returned.</summary>
    public void Advance()
    {
        var position = (int)(_head % _memory.Length);
        var length = BinaryPrimitives.ReadUInt16LittleEndian(_memory.AsSpan(position));
        Volatile.Write(ref _head, _head + HeaderBytes + length);
    }
}
