using System.Runtime.InteropServices;

namespace Ferry.Native;

/// <summary>
/// recvmsg with kernel receive timestamps (SO_TIMESTAMPNS): when a datagram reached the host, not when
/// the loop got round to reading it. Layouts are those of 64-bit Linux.
/// </summary>
internal static unsafe partial class Libc
{
    /// <summary>SO_TIMESTAMPNS (the "old" option number, whose timespec has 64-bit fields on 64-bit Linux).</summary>
    public const int SO_TIMESTAMPNS = 35;
    /// <summary>The control message type that carries it.</summary>
    public const int SCM_TIMESTAMPNS = SO_TIMESTAMPNS;
    /// <summary>clock_gettime's wall clock, the one the kernel stamps datagrams with.</summary>
    public const int CLOCK_REALTIME = 0;

    /// <summary>Room for one timestamp control message: CMSG_SPACE(sizeof(timespec)) is 32; twice that for anything else the kernel adds.</summary>
    public const int ControlBufferSize = 64;

    /// <summary>struct timespec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "clock_gettime", SetLastError = true)]
    public static partial int ClockGetTime(int clock, TimeSpec* time);

    /// <summary>CLOCK_REALTIME in 100 ns ticks since the Unix epoch.</summary>
    public static long RealtimeTicks()
    {
        TimeSpec ts;
        ClockGetTime(CLOCK_REALTIME, &ts);
        return ts.Seconds * TimeSpan.TicksPerSecond + ts.Nanoseconds / 100;
    }

    /// <summary>
    /// The SCM_TIMESTAMPNS of a control buffer recvmsg filled, in 100 ns ticks since the Unix epoch;
    /// false when there is none (the option could not be set, or the kernel gave no stamp).
    /// </summary>
    public static bool TryReadTimestamp(byte* control, nuint length, out long ticks)
    {
        // struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data aligned to 8.
        const int HeaderSize = 16;
        var limit = (long)length;
        long offset = 0;
        while (offset + HeaderSize <= limit)
        {
            var cmsgLength = *(long*)(control + offset);
            if (cmsgLength < HeaderSize || offset + cmsgLength > limit) break;
            var level = *(int*)(control + offset + 8);
            var type = *(int*)(control + offset + 12);
            if (level == SOL_SOCKET && type == SCM_TIMESTAMPNS && cmsgLength >= HeaderSize + sizeof(TimeSpec))
            {
                var ts = (TimeSpec*)(control + offset + HeaderSize);
                ticks = ts->Seconds * TimeSpan.TicksPerSecond + ts->Nanoseconds / 100;
                return true;
            }
            offset += (cmsgLength + 7) & ~7L;
        }
        ticks = 0;
        return false;
    }
}
