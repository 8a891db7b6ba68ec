using System.Buffers;
using Ferry.Loop;
using Ferry.Native;

namespace Ferry.Mobility.Remote;

/// <summary>
/// Datagrams a moved transport holds back at a path switch, in order, until the relay says the old path's last
/// datagrams are through (<see cref="PathSwitchStats"/>). Bounded in count (and bytes: an MTU each): a full hold
/// refuses, and its owner lets everything go rather than keep more. A switch usually holds a few datagrams, so the
/// memory starts small and doubles, from the shared pool, as far as the bound; it goes back when the hold ends.
/// </summary>
internal sealed class HeldDatagrams : IDisposable
{
    // The largest datagram a path carries in practice (an MTU); larger ones are refused like a full hold.
    private const int DatagramBudget = 1500;
    private const int InitialCount = 16;

    private readonly int _capacity;
    private Entry[] _entries;
    private byte[]? _bytes;
    private int _used;

    /// <summary>A hold of at most <paramref name="capacity"/> datagrams, released by <paramref name="deadline"/> at the latest.</summary>
    public HeldDatagrams(int capacity, TimeSpan deadline)
    {
        _capacity = capacity;
        var initial = Math.Min(capacity, InitialCount);
        _entries = ArrayPool<Entry>.Shared.Rent(initial);
        _bytes = ArrayPool<byte>.Shared.Rent(initial * DatagramBudget);
        Deadline = deadline;
    }

    /// <summary>Datagrams held.</summary>
    public int Count { get; private set; }

    /// <summary>The loop time by which the hold ends, marker or not.</summary>
    public TimeSpan Deadline { get; }

    /// <summary>Keeps a copy of <paramref name="data"/> (with where it came from, for one that arrived); false when full.</summary>
    public bool TryAdd(ReadOnlySpan<byte> data, UdpSocket? socket, in SockAddr from)
    {
        if (_bytes is null || Count == _capacity || data.Length > DatagramBudget) return false;
        if (Count == _entries.Length || data.Length > _bytes.Length - _used) Grow();
        data.CopyTo(_bytes.AsSpan(_used));
        _entries[Count++] = new Entry(_used, data.Length, socket, from);
        _used += data.Length;
        return true;
    }

    /// <summary>The <paramref name="index"/>th datagram held (valid until <see cref="Dispose"/>), and where it came from.</summary>
    public Span<byte> Get(int index, out UdpSocket? socket, out SockAddr from)
    {
        ref readonly var entry = ref _entries[index];
        socket = entry.Socket;
        from = entry.From;
        return _bytes.AsSpan(entry.Offset, entry.Length);
    }

    /// <summary>The memory goes back to the pool; nothing is held any more.</summary>
    public void Dispose()
    {
        if (_bytes is { } bytes) ArrayPool<byte>.Shared.Return(bytes);
        _bytes = null;
        ArrayPool<Entry>.Shared.Return(_entries, clearArray: true);
        _entries = [];
        Count = 0;
        _used = 0;
    }

    /// <summary>Twice the room (never beyond the bound): a rare step, as a hold that grows is one the source is slow to end.</summary>
    private void Grow()
    {
        var count = Math.Min(_capacity, Math.Max(_entries.Length, Count) * 2);
        if (count > _entries.Length)
        {
            var entries = ArrayPool<Entry>.Shared.Rent(count);
            _entries.AsSpan(0, Count).CopyTo(entries);
            ArrayPool<Entry>.Shared.Return(_entries, clearArray: true);
            _entries = entries;
        }
        if (_bytes!.Length - _used < DatagramBudget && _bytes.Length < _capacity * DatagramBudget)
        {
            var bytes = ArrayPool<byte>.Shared.Rent(Math.Min(_capacity * DatagramBudget, _bytes.Length * 2));
            _bytes.AsSpan(0, _used).CopyTo(bytes);
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = bytes;
        }
    }

    private readonly record struct Entry(int Offset, int Length, UdpSocket? Socket, SockAddr From);
}
