namespace Ferry.Loop;

/// <summary>
/// The runtime's threads that do the work of a stop-the-world pause: the server garbage collector's
/// (".NET Server GC", one per heap). A pause stops every worker with the rest of the process, and the
/// runtime runs these threads at ordinary priority, so on a busy machine other processes' threads
/// stretch the pause while the real-time workers stand still (measured: bench/Ferry.Bench.Pauses, docs/server.md).
/// Giving them the workers' priority makes a pause last as long as the collection itself. The
/// background collector's threads (".NET BGC") keep theirs: they run beside the workers, not while
/// the workers stand still, and must not take cores from them.
/// </summary>
internal static class RuntimePauseThreads
{
    private const string ServerGcThreadName = ".NET Server GC";
    private const string WorkerThreadPrefix = "ferry-worker-";
    // The collector may add heaps, with their threads, as the load grows (dynamic adaptation): look again now and then.
    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(10);
    private static readonly Lock Gate = new();
    private static readonly HashSet<int> Done = [];
    private static WorkerThreadPriority _applied = WorkerThreadPriority.Normal;
    private static Timer? _rescan;
    private static Action<string>? _log;

    /// <summary>
    /// As <see cref="Raise"/>, and from then on every 10 s for threads the collector starts later;
    /// <paramref name="log"/> hears of each thread changed.
    /// </summary>
    public static void RaiseAndWatch(WorkerThreadPriority priority, Action<string> log)
    {
        foreach (var line in Raise(priority)) log(line);
        if (priority == WorkerThreadPriority.Normal || !OperatingSystem.IsLinux()) return;
        lock (Gate)
        {
            _log ??= log;
            _rescan ??= new Timer(_ =>
            {
                try
                {
                    WorkerThreadPriority applied;
                    lock (Gate) applied = _applied;
                    foreach (var line in Raise(applied)) _log?.Invoke(line);
                }
                catch (Exception)
                {
                    // A timer's exception would end the process; the next scan tries again.
                }
            }, null, RescanInterval, RescanInterval);
        }
    }

    /// <summary>
    /// Gives <paramref name="priority"/> to every collector thread of this process not yet given it (the
    /// highest priority asked so far wins; none is ever lowered). Returns one line per thread changed,
    /// "name tid: outcome", for the log; empty when there is nothing to do (workstation collector,
    /// <see cref="WorkerThreadPriority.Normal"/>, or done before).
    /// </summary>
    public static IReadOnlyList<string> Raise(WorkerThreadPriority priority)
    {
        if (priority == WorkerThreadPriority.Normal || !OperatingSystem.IsLinux()) return [];
        lock (Gate)
        {
            if (priority < _applied) return [];
            if (priority > _applied)
            {
                Done.Clear();
                _applied = priority;
            }
            var changed = new List<string>();
            foreach (var (tid, name) in Threads())
            {
                if (name.StartsWith(ServerGcThreadName, StringComparison.Ordinal))
                {
                    if (Done.Add(tid)) changed.Add($"{name} {tid}: {SchedulingPolicy.ApplyToThread(tid, priority)}");
                    continue;
                }
                // A Linux thread starts with its creator's policy: a runtime thread first started from a worker
                // (the background collector, say) would run real-time beside the workers. Only workers and the
                // server collector's threads are meant to.
                if (!name.StartsWith(WorkerThreadPrefix, StringComparison.Ordinal) && RaisedAbove(tid))
                    changed.Add($"{name} {tid}: {SchedulingPolicy.ResetThread(tid)}");
            }
            return changed;
        }
    }

    /// <summary>True when thread <paramref name="tid"/> runs real-time or with a negative nice (fields 41 and 19 of its stat).</summary>
    private static bool RaisedAbove(int tid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 38 && (fields[38] != "0" || (int.TryParse(fields[16], out var nice) && nice < 0));
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>This process's threads as (tid, name); a thread that exits meanwhile is skipped.</summary>
    private static IEnumerable<(int Tid, string Name)> Threads()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var tid)) continue;
            string name;
            try
            {
                name = File.ReadAllText(Path.Combine(directory, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                continue;
            }
            yield return (tid, name);
        }
    }
}
