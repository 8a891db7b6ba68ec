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
            // Other tests' threads come and go while this lists them: one gone since the listing is skipped.
            string comm, stat;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm"));
                if (!comm.StartsWith(prefix, StringComparison.Ordinal)) continue;
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
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

    [Fact]
    public void Threads_named_as_the_server_collectors_get_a_realtime_workers_policy_and_no_other_thread_does()
    {
        // This process runs the workstation collector: stand-ins carry the names Raise looks for.
        using var release = new ManualResetEventSlim();
        var collector = new Thread(() => release.Wait()) { Name = ".NET Server GC", IsBackground = true };
        var bystander = new Thread(() => release.Wait()) { Name = "bystander-gc", IsBackground = true };
        collector.Start();
        bystander.Start();
        try
        {
            var lines = Ferry.Loop.RuntimePauseThreads.Raise(WorkerThreadPriority.Realtime);
            if (lines.Count == 1 && lines[0].Contains("refused", StringComparison.Ordinal)) return; // no privilege: said so
            // (Another test's realtime worker may have raised it first: then the policy holds already.)
            Assert.Equal(2, PolicyOfThreadNamed(".NET Server GC"));
            Assert.Equal(0, PolicyOfThreadNamed("bystander-gc"));
            Assert.Empty(Ferry.Loop.RuntimePauseThreads.Raise(WorkerThreadPriority.Realtime));
            Assert.Empty(Ferry.Loop.RuntimePauseThreads.Raise(WorkerThreadPriority.Normal));
        }
        finally
        {
            release.Set();
            collector.Join();
            bystander.Join();
        }
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
        using var holding = new ManualResetEventSlim();
        var held = router.InvokeAsync(() => { holding.Set(); Thread.Sleep(200); return 0; });
        Assert.True(holding.Wait(WaitTimeout));
        peer.Send(new byte[20], target);
        await held;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => worker.ReceiveDelay.Count >= before.Count + 1, WaitTimeout));
        var after = worker.ReceiveDelay;
        Assert.True(after.CountAbove(100_000) - before.CountAbove(100_000) == 1, $"{string.Join(",", before.Counts)} -> {string.Join(",", after.Counts)}, max {after.MaxMicros} us");
        Assert.InRange(after.MaxMicros, 100_000, 5_000_000);
        Assert.Equal(after.Count, after.Counts.Sum());
    }

    [Fact]
    public async Task A_packet_held_in_an_in_memory_pipe_while_the_receiving_worker_is_busy_counts_as_forwarded_late_there()
    {
        await using var origin = await Worker.CreateAsync();
        await using var target = await Worker.CreateAsync();
        var routerA = await origin.CreateRouterAsync(DefaultRouterOptions);
        var routerB = await target.CreateRouterAsync(DefaultRouterOptions);
        var source = await routerA.CreateDirectTransportAsync();
        var producer = await source.ProduceAsync(Vp8Producer());
        await routerA.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = producer.Id, Router = routerB });
        var sink = await routerB.CreateDirectTransportAsync();
        var consumer = await sink.ConsumeAsync(new Ferry.Rtp.ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = routerB.RtpCapabilities });
        var received = 0;
        consumer.Rtp += _ => Interlocked.Increment(ref received);

        producer.Send(Vp8Packet(11111111, 1, 3000, keyFrame: true, number: 0, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => Volatile.Read(ref received) == 1, WaitTimeout));
        var before = target.ForwardDelay;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => target.ForwardDelay.Count >= 1, WaitTimeout));
        before = target.ForwardDelay;

        // The target worker is held 200 ms; the packet waits in the pipe's ring and keeps the time it arrived.
        using var holding = new ManualResetEventSlim();
        var held = routerB.InvokeAsync(() => { holding.Set(); Thread.Sleep(200); return 0; });
        Assert.True(holding.Wait(WaitTimeout));
        producer.Send(Vp8Packet(11111111, 2, 6000, keyFrame: false, number: 1, mid: "0"));
        await held;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => Volatile.Read(ref received) == 2, WaitTimeout));
        // The consumer's listener hears the packet just before the send records its delay.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => target.ForwardDelay.Count >= before.Count + 1, WaitTimeout));
        var after = target.ForwardDelay;
        Assert.True(after.CountAbove(100_000) - before.CountAbove(100_000) == 1, $"{string.Join(",", before.Counts)} -> {string.Join(",", after.Counts)}, max {after.MaxMicros} us");
        Assert.Equal(0, origin.ForwardDelay.Count);
    }
}
