namespace Ferry;

/// <summary>
/// How the operating system schedules a worker's thread. A worker reads its sockets when the kernel
/// wakes it; on a busy machine an ordinary thread can wait tens of milliseconds for a core, which a
/// browser's jitter buffer hears as a gap. Measured on a 2-core machine with two background processes
/// (docs/engine.md): 342 datagrams read more than 10 ms late per minute with <see cref="Normal"/>,
/// 41 with <see cref="High"/>, none with <see cref="Realtime"/>.
/// </summary>
public enum WorkerThreadPriority
{
    /// <summary>As the process's other threads (mediasoup's workers are ordinary processes).</summary>
    Normal,

    /// <summary>Nice value -10 for the worker's thread: favoured, not guaranteed. Needs CAP_SYS_NICE (or root).</summary>
    High,

    /// <summary>
    /// SCHED_RR at priority 10: runs before every ordinary thread as soon as a packet wakes it (the way
    /// audio servers run their I/O threads). The kernel's real-time throttling still leaves 5% of each
    /// core to ordinary threads, and a worker's loop never busy-waits for long. Needs CAP_SYS_NICE (or
    /// root, or an RLIMIT_RTPRIO of at least 10). The server collector's threads get the same policy
    /// (with <see cref="High"/>, the same nice value): each collection stops the worker, and they do its work.
    /// </summary>
    Realtime,
}
