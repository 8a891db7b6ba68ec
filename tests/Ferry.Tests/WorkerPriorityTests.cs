using System.Net;
using System.Net.Sockets;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests;

/// <summary>
/// A worker's thread scheduling (what the kernel reports for the thread, or the refusal said plainly)
/// and its receive-delay histogram (a datagram left waiting in the kernel is counted as late).
/// </summary>
public sealed class WorkerPriorityTests
{
    /// <summary>The scheduling policy of the worker's thread as /proc reports it (field 41 of stat: 0 other, 2 round-robin).</summary>
    private static int PolicyOfThreadNamed(string prefix)
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith(prefix, StringComparison.Ordinal)) continue;
            var stat = File.ReadAllText(Path.Combine(task, "stat"));
            // Fields after the command name, which is in parentheses and may hold spaces: field 3 is the first.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[41 - 3]);
        }
        throw new InvalidOperationException($"no thread named {prefix}*");
    }

    [Fact]
    public async Task A_realtime_worker_runs_sched_rr_or_says_why_not_and_a_normal_one_stays_normal()
    {
        await using var realtime = await Worker.CreateAsync(new WorkerSettings { ThreadPriority = WorkerThreadPriority.Realtime });
        await using var normal = await Worker.CreateAsync(new WorkerSettings());
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => realtime.ThreadScheduling != "starting" && normal.ThreadScheduling != "starting", WaitTimeout));
        Assert.Equal("normal", normal.ThreadScheduling);
        Assert.Equal(0, PolicyOfThreadNamed(ThreadName(normal)));
        if (realtime.ThreadScheduling == "SCHED_RR 10")
            Assert.Equal(2, PolicyOfThreadNamed(ThreadName(realtime)));
        else
        {
            // Without the privilege: refused, said so, and the thread runs as any other.
            Assert.StartsWith("normal (SCHED_RR refused: errno ", realtime.ThreadScheduling);
            Assert.Equal(0, PolicyOfThreadNamed(ThreadName(realtime)));
        }
        // The worker works either way.
        var router = await realtime.CreateRouterAsync(DefaultRouterOptions);
        Assert.False(router.Closed);
    }

    // Linux keeps the first 15 bytes of a thread's name.
    private static string ThreadName(Worker worker) => $"ferry-worker-{worker.Id[..8]}"[..15];

    [Fact]
    public async Task A_datagram_left_in_the_kernel_while_the_worker_is_busy_counts_as_read_late()
    {
        await using var worker = await Worker.CreateAsync();
        var router = await worker.CreateRouterAsync(DefaultRouterOptions);
        var transport = await router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, Comedia = true });
        using var peer = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var target = new IPEndPoint(IPAddress.Loopback, transport.Tuple.LocalPort);
        peer.Send(new byte[20], target);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => worker.ReceiveDelay.Count >= 1, WaitTimeout));
        var before = worker.ReceiveDelay;
        Assert.Equal(0, before.CountAbove(50_000));

        // The worker is held for 200 ms; a datagram sent meanwhile waits in the kernel until it is free.
        var held = router.InvokeAsync(() => { Thread.Sleep(200); return 0; });
        await Task.Delay(20);
        peer.Send(new byte[20], target);
        await held;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => worker.ReceiveDelay.Count >= before.Count + 1, WaitTimeout));
        var after = worker.ReceiveDelay;
        Assert.Equal(1, after.CountAbove(100_000) - before.CountAbove(100_000));
        Assert.InRange(after.MaxMicros, 100_000, 5_000_000);
        Assert.Equal(after.Count, after.Counts.Sum());
    }
}
