using System.Runtime.InteropServices;

namespace Ferry.Native;

/// <summary>Thread scheduling calls: a worker thread's nice value or real-time policy.</summary>
internal static unsafe partial class Libc
{
    public const int PRIO_PROCESS = 0;
    public const int SCHED_OTHER = 0;
    public const int SCHED_FIFO = 1;
    public const int SCHED_RR = 2;

    [LibraryImport(Lib, EntryPoint = "gettid")]
    public static partial int GetTid();

    /// <summary>setpriority(PRIO_PROCESS, tid, nice): on Linux the nice value of that one thread.</summary>
    [LibraryImport(Lib, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, uint who, int prio);

    /// <summary>sched_setscheduler(tid, policy, &amp;param): a thread's policy and static priority (0: the calling thread).</summary>
    [LibraryImport(Lib, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetScheduler(int pid, int policy, int* priority);
}
