using System.Buffers;

namespace Ferry.Rtp;

/// <summary>
/// The last packets of one producer stream, already mapped into the router's space, kept once for all
/// its consumers so each can answer NACKs by re-applying its own rewrite (the memory cost is per
/// producer stream, not per consumer). Slots are indexed by sequence number modulo the capacity.
/// </summary>
internal sealed class PacketStore : IDisposable
{
    public const int Capacity = 512;
    public const int SlotSize = 1500;

    private byte[]? _memory;
    private readonly int[] _lengths = new int[Capacity];
    private readonly ushort[] _seqs = new ushort[Capacity];
    private readonly long[] _storedAtTicks = new long[Capacity];

    /// <summary>Keeps a copy of <paramref name="packet"/> (sequence number <paramref name="seq"/>).</summary>
    public void Store(ushort seq, ReadOnlySpan<byte> packet, TimeSpan now)
    {
        if (packet.Length > SlotSize) return;
        _memory ??= ArrayPool<byte>.Shared.Rent(Capacity * SlotSize);
        var slot = seq % Capacity;
        packet.CopyTo(_memory.AsSpan(slot * SlotSize, SlotSize));
        _lengths[slot] = packet.Length;
        _seqs[slot] = seq;
        _storedAtTicks[slot] = now.Ticks;
    }

    /// <summary>The stored packet <paramref name="seq"/> if still held and younger than <paramref name="maxAge"/>.</summary>
    public bool TryGet(ushort seq, TimeSpan now, TimeSpan maxAge, out ReadOnlySpan<byte> packet)
    {
        var slot = seq % Capacity;
        if (_memory is null || _lengths[slot] == 0 || _seqs[slot] != seq || now.Ticks - _storedAtTicks[slot] > maxAge.Ticks)
        {
            packet = default;
            return false;
        }
        packet = _memory.AsSpan(slot * SlotSize, _lengths[slot]);
        return true;
    }

    public void Dispose()
    {
        if (_memory is { } m) ArrayPool<byte>.Shared.Return(m);
        _memory = null;
        Array.Clear(_lengths);
    }
}
