using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Transports;

namespace Ferry.Bench.Pauses;

/// <summary>
/// How long the runtime's stop-the-world pauses hold real-time workers on a busy machine, with the
/// server collector's threads at ordinary priority (the runtime's default) and at the workers' own
/// (what <c>Worker</c> gives them when its thread is real-time). Two real-time workers each read a
/// datagram every 2 ms from another process; a thread of this process makes garbage (~20 MB/s, a
/// churned live set) so the collector runs every second or so; two busy loops in other processes
/// keep both cores wanted, as browsers on the same machine do. Each datagram's delay from its
/// kernel receive timestamp to the worker's read (<c>Worker.ReceiveDelay</c>) says how long the
/// worker stood still. Phases alternate (ordinary, raised, ordinary, raised) so that both see the
/// same machine. Needs CAP_SYS_NICE (root): the workers run SCHED_RR.
/// <para>usage: <c>dotnet run -c Release --project bench/Ferry.Bench.Pauses [-- --seconds 15]</c></para>
/// </summary>
internal static class Program
{
    private const int SchedOther = 0, SchedRr = 2;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "send") return Send([.. args.Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture))]);
        var seconds = args.Length > 1 && args[0] == "--seconds" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;

        await using var a = await Worker.CreateAsync(new WorkerSettings { ThreadPriority = WorkerThreadPriority.Realtime }).ConfigureAwait(false);
        await using var b = await Worker.CreateAsync(new WorkerSettings { ThreadPriority = WorkerThreadPriority.Realtime }).ConfigureAwait(false);
        Worker[] workers = [a, b];
        if (workers.Any(w => !w.ThreadScheduling.StartsWith("SCHED_RR", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine($"workers are not real-time ({a.ThreadScheduling}): run as root");
            return 2;
        }
        var gcThreads = CollectorThreads();
        if (gcThreads.Count == 0)
        {
            Console.Error.WriteLine("no server collector threads: this bench needs <ServerGarbageCollection>");
            return 2;
        }
        var ports = new List<int>();
        foreach (var worker in workers)
        {
            var router = await worker.CreateRouterAsync(new RouterOptions { MediaCodecs = [] }).ConfigureAwait(false);
            var transport = await router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, Comedia = true }).ConfigureAwait(false);
            ports.Add(transport.Tuple.LocalPort);
        }

        // The sender is another process: a thread of this one would stand still with the workers.
        using var sender = StartSelf(["send", .. ports.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        var hogs = Enumerable.Range(0, 2).Select(_ => Process.Start("sh", ["-c", "while :; do :; done"])).ToList();
        using var garbage = new GarbageMaker();
        try
        {
            await Task.Delay(1000).ConfigureAwait(false);
            var totals = new Dictionary<bool, PhaseResult>();
            Console.WriteLine($"{gcThreads.Count} collector threads, {Environment.ProcessorCount} cores, 2 busy loops, phases of {seconds} s");
            Console.WriteLine(" collector threads   collections  pause ms  reads  >5 ms  >10 ms  >20 ms  >50 ms");
            foreach (var raised in new[] { false, true, false, true })
            {
                foreach (var tid in gcThreads) SetPolicy(tid, raised);
                var result = await MeasureAsync(workers, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
                Console.WriteLine($" {(raised ? "SCHED_RR 10" : "ordinary"),-18} {result.Collections,12} {result.PauseMs,9:F0} {result.Reads,6} {result.Over5,6} {result.Over10,7} {result.Over20,7} {result.Over50,7}");
                totals[raised] = totals.TryGetValue(raised, out var t) ? t.Add(result) : result;
            }
            var ordinary = totals[false];
            var real = totals[true];
            Console.WriteLine($"raised/ordinary: reads >10 ms late {Ratio(real.Over10, ordinary.Over10)}, >20 ms {Ratio(real.Over20, ordinary.Over20)}, " +
                              $"pause time per collection {Ratio(real.PauseMs / Math.Max(1, real.Collections), ordinary.PauseMs / Math.Max(1, ordinary.Collections))}");
            return 0;
        }
        finally
        {
            foreach (var hog in hogs) hog.Kill();
            sender.Kill();
        }
    }

    private static string Ratio(double x, double y) => y == 0 ? "n/a (none ordinary)" : (x / y).ToString("F2", CultureInfo.InvariantCulture);

    private sealed record PhaseResult(int Collections, double PauseMs, long Reads, long Over5, long Over10, long Over20, long Over50)
    {
        public PhaseResult Add(PhaseResult o) => new(Collections + o.Collections, PauseMs + o.PauseMs, Reads + o.Reads, Over5 + o.Over5,
            Over10 + o.Over10, Over20 + o.Over20, Over50 + o.Over50);
    }

    private static async Task<PhaseResult> MeasureAsync(Worker[] workers, TimeSpan length)
    {
        var before = workers.Select(w => w.ReceiveDelay).ToArray();
        var collections = GC.CollectionCount(0);
        var pause = GC.GetTotalPauseDuration();
        await Task.Delay(length).ConfigureAwait(false);
        var after = workers.Select(w => w.ReceiveDelay).ToArray();
        long Above(long micros) => Enumerable.Range(0, workers.Length).Sum(i => after[i].CountAbove(micros) - before[i].CountAbove(micros));
        return new PhaseResult(GC.CollectionCount(0) - collections, (GC.GetTotalPauseDuration() - pause).TotalMilliseconds,
            Enumerable.Range(0, workers.Length).Sum(i => after[i].Count - before[i].Count),
            Above(5_000), Above(10_000), Above(20_000), Above(50_000));
    }

    /// <summary>The server collector's threads of this process (named ".NET Server GC").</summary>
    private static List<int> CollectorThreads() =>
        [.. Directory.EnumerateDirectories("/proc/self/task")
            .Where(d => File.ReadAllText(Path.Combine(d, "comm")).StartsWith(".NET Server GC", StringComparison.Ordinal))
            .Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))];

    private static unsafe void SetPolicy(int tid, bool realtime)
    {
        var priority = realtime ? 10 : 0;
        if (SchedSetScheduler(tid, realtime ? SchedRr : SchedOther, &priority) != 0)
            throw new InvalidOperationException($"sched_setscheduler({tid}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern unsafe int SchedSetScheduler(int pid, int policy, int* priority);

    private static Process StartSelf(string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the sender");
    }

    /// <summary>The sending process: one 100-byte datagram to each port every 2 ms until killed.</summary>
    private static int Send(int[] ports)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var targets = ports.Select(p => new IPEndPoint(IPAddress.Loopback, p)).ToArray();
        var datagram = new byte[100];
        while (true)
        {
            foreach (var target in targets) socket.SendTo(datagram, target);
            Thread.Sleep(2);
        }
    }

    /// <summary>Short-lived arrays at ~20 MB/s and a live set whose slots are replaced at random (promotions, card marking).</summary>
    private sealed class GarbageMaker : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stopped;

        public GarbageMaker()
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "garbage" };
            _thread.Start();
        }

        private void Run()
        {
            var live = new object[20_000];
            var random = new Random(1);
            while (!_stopped)
            {
                for (var i = 0; i < 20; i++) live[random.Next(live.Length)] = new byte[random.Next(50, 400)];
                for (var i = 0; i < 200; i++) GC.KeepAlive(new byte[random.Next(20, 100)]);
                Thread.Sleep(1);
            }
        }

        public void Dispose()
        {
            _stopped = true;
            _thread.Join();
        }
    }
}
