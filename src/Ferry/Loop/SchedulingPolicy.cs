using System.Runtime.InteropServices;
using Ferry.Native;

namespace Ferry.Loop;

/// <summary>Applies a <see cref="WorkerThreadPriority"/> to a thread: a loop's as it starts, or one of the runtime's (<see cref="RuntimePauseThreads"/>).</summary>
internal static unsafe class SchedulingPolicy
{
    /// <summary>Static priority under SCHED_RR: above every ordinary thread, below the kernel's own real-time threads (50 and up).</summary>
    public const int RealtimePriority = 10;

    /// <summary>Nice value for <see cref="WorkerThreadPriority.High"/>.</summary>
    public const int HighNice = -10;

    /// <summary>
    /// Sets the calling thread's scheduling; a refusal (no privilege) leaves it as it was. Returns what
    /// holds afterwards, for the operator: "SCHED_RR 10", "nice -10", "normal", or "normal (… refused: errno N)".
    /// </summary>
    public static string ApplyToCurrentThread(WorkerThreadPriority priority) => ApplyToThread(Libc.GetTid(), priority);

    /// <summary>Gives thread <paramref name="tid"/> of this process the ordinary policy and nice 0; what holds afterwards.</summary>
    public static string ResetThread(int tid)
    {
        var zero = 0;
        var policy = Libc.SchedSetScheduler(tid, Libc.SCHED_OTHER, &zero) == 0;
        var nice = Libc.SetPriority(Libc.PRIO_PROCESS, (uint)tid, 0) == 0;
        return policy && nice ? "normal (inherited priority reset)" : $"reset refused: errno {Marshal.GetLastPInvokeError()}";
    }

    /// <summary>As <see cref="ApplyToCurrentThread"/> for thread <paramref name="tid"/> of this process.</summary>
    public static string ApplyToThread(int tid, WorkerThreadPriority priority)
    {
        switch (priority)
        {
            case WorkerThreadPriority.Realtime:
            {
                var value = RealtimePriority;
                return Libc.SchedSetScheduler(tid, Libc.SCHED_RR, &value) == 0
                    ? $"SCHED_RR {RealtimePriority}"
                    : $"normal (SCHED_RR refused: errno {Marshal.GetLastPInvokeError()})";
            }
            case WorkerThreadPriority.High:
                return Libc.SetPriority(Libc.PRIO_PROCESS, (uint)tid, HighNice) == 0
                    ? $"nice {HighNice}"
                    : $"normal (nice {HighNice} refused: errno {Marshal.GetLastPInvokeError()})";
            default:
                return "normal";
        }
    }
}
