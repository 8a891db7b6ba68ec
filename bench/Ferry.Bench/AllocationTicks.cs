using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Runtime.InteropServices;

namespace Ferry.Bench;

/// <summary>
/// The runtime's allocation samples (GCAllocationTick: one per ~100 KB a thread allocates, naming the
/// type of the object that crossed the mark) on one thread, counted by type. With
/// FERRY_BENCH_ALLOC_TICKS=1 the forwarding windows report what the worker thread still allocates:
/// rare allocations show up after enough windows, with no profiler attached.
/// </summary>
internal sealed partial class AllocationTicks : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, int> _types = new();
    private long _thread = -1;

    public static bool Enabled => Environment.GetEnvironmentVariable("FERRY_BENCH_ALLOC_TICKS") == "1";

    /// <summary>The OS id of the calling thread (to pass to <see cref="Watch"/> from the thread to watch).</summary>
    [LibraryImport("libc", EntryPoint = "gettid")]
    public static partial int CurrentOsThreadId();

    /// <summary>Counts only the samples of this OS thread from now on.</summary>
    public void Watch(long osThreadId) => Interlocked.Exchange(ref _thread, osThreadId);

    /// <summary>Type names and sample counts so far, most first.</summary>
    public IEnumerable<(string Type, int Samples)> Types => _types.OrderByDescending(t => t.Value).Select(t => (t.Key, t.Value));

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) ?? true) return;
        if (e.OSThreadId != Interlocked.Read(ref _thread)) return;
        var index = e.PayloadNames?.IndexOf("TypeName") ?? -1;
        var type = index >= 0 ? e.Payload?[index] as string ?? "?" : "?";
        _types.AddOrUpdate(type, 1, (_, n) => n + 1);
    }
}
