using System.Collections.Concurrent;

namespace Ferry.Mobility;

/// <summary>
/// Memory for in-process pipes' rings, reused: a move creates and removes pipes, and each ring is a
/// large-object-heap array (64 KB audio, 512 KB video) whose allocation would bring garbage
/// collections, which stop every worker, at each move (285 KB allocated per transport move before,
/// measured by the transport-moves benchmark). A returned array waits here for the next pipe of its
/// size; at most <see cref="MaxKeptBytes"/> are kept, the rest left to the collector.
/// </summary>
internal static class RingMemoryPool
{
    /// <summary>Bytes kept for reuse at most, all sizes together.</summary>
    public const long MaxKeptBytes = 32L * 1024 * 1024;

    private static readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> Free = new();
    private static long _keptBytes;

    /// <summary>An array of exactly <paramref name="bytes"/>, reused when one was returned.</summary>
    public static byte[] Rent(int bytes)
    {
        if (Free.TryGetValue(bytes, out var bag) && bag.TryTake(out var memory))
        {
            Interlocked.Add(ref _keptBytes, -memory.Length);
            return memory;
        }
        Interlocked.Increment(ref _freshArrays);
        return GC.AllocateUninitializedArray<byte>(bytes);
    }

    private static long _freshArrays;

    /// <summary>Arrays allocated because none was free, since the process started.</summary>
    public static long FreshArrays => Interlocked.Read(ref _freshArrays);

    /// <summary>Gives <paramref name="memory"/> back; the caller must never touch it again.</summary>
    public static void Return(byte[] memory)
    {
        if (Interlocked.Add(ref _keptBytes, memory.Length) > MaxKeptBytes)
        {
            Interlocked.Add(ref _keptBytes, -memory.Length);
            return;
        }
        Free.GetOrAdd(memory.Length, _ => []).Add(memory);
    }

    /// <summary>Bytes waiting for reuse now.</summary>
    public static long KeptBytes => Interlocked.Read(ref _keptBytes);
}
