using System.Net;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Testing.Clients;

namespace Ferry.Tests.Loop;

public class EventLoopTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private sealed class Collector : IUdpReceiver
    {
        public readonly List<byte[]> Received = new();
        public readonly TaskCompletionSource<bool> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Expected = int.MaxValue;
        public Action<UdpSocket, byte[], SockAddr>? Reply;

        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
        {
            var copy = data.ToArray();
            Received.Add(copy);
            Reply?.Invoke(socket, copy, from);
            if (Received.Count >= Expected) Done.TrySetResult(true);
        }
    }

    [Fact]
    public async Task Commands_run_on_the_loop_thread_and_return_results()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var (onLoop, threadName) = await loop.InvokeAsync(() => (loop.IsOnLoop, Thread.CurrentThread.Name));
        Assert.True(onLoop);
        Assert.Equal("t", threadName);
        Assert.False(loop.IsOnLoop);
    }

    [Fact]
    public async Task A_command_exception_faults_its_task_and_the_loop_goes_on()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        await Assert.ThrowsAsync<InvalidStateException>(() => loop.InvokeAsync<int>(() => throw new InvalidStateException("nope")));
        Assert.Equal(2, await loop.InvokeAsync(() => 2));
    }

    [Fact]
    public async Task Timers_fire_in_order_and_a_stopped_or_moved_timer_fires_once_at_its_last_deadline()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var fired = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await loop.InvokeAsync(() =>
        {
            var late = loop.CreateTimer(() => { fired.Add("late"); done.SetResult(); });
            var early = loop.CreateTimer(() => fired.Add("early"));
            var stopped = loop.CreateTimer(() => fired.Add("stopped"));
            var moved = loop.CreateTimer(() => fired.Add("moved"));
            late.StartAfter(TimeSpan.FromMilliseconds(60));
            early.StartAfter(TimeSpan.FromMilliseconds(10));
            stopped.StartAfter(TimeSpan.FromMilliseconds(20));
            stopped.Stop();
            moved.StartAfter(TimeSpan.FromMilliseconds(5));
            moved.StartAfter(TimeSpan.FromMilliseconds(30));
        });
        await done.Task.WaitAsync(Wait);
        Assert.Equal(["early", "moved", "late"], fired);
    }

    [Fact]
    public async Task A_timer_that_rearms_for_now_does_not_starve_commands()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var count = 0;
        await loop.InvokeAsync(() =>
        {
            LoopTimer? t = null;
            t = loop.CreateTimer(() => { count++; t!.Start(loop.Now); });
            t.Start(loop.Now);
        });
        // The command still gets a turn although the timer is always due.
        var seen = await loop.InvokeAsync(() => count).WaitAsync(Wait);
        Assert.True(seen >= 0);
    }

    [Fact]
    public async Task A_throwing_handler_kills_the_loop_reports_why_and_fails_later_commands()
    {
        using var loop = new EventLoop("t");
        var died = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Died += e => died.TrySetResult(e);
        loop.Start();
        loop.Post(() => throw new InvalidOperationException("boom"));
        var reason = await died.Task.WaitAsync(Wait);
        Assert.Equal("boom", reason.Message);
        await loop.Exited.WaitAsync(Wait);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => loop.InvokeAsync(() => 1).WaitAsync(Wait));
        Assert.Contains("boom", error.Message);
    }

    [Fact]
    public async Task Udp_sockets_exchange_datagrams_over_loopback_and_release_their_fds()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var server = new Collector { Expected = 100 };
        server.Reply = (socket, data, from) => socket.SendTo(data, from);
        var client = new Collector { Expected = 100 };
        var (a, b) = await loop.InvokeAsync(() =>
            (UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, server), UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, client)));
        Assert.Equal(2, await loop.InvokeAsync(() => loop.RegisteredCount));

        await loop.InvokeAsync(() =>
        {
            var to = SockAddr.From(a.LocalEndPoint);
            for (var i = 0; i < 100; i++) b.SendTo(BitConverter.GetBytes(i), to);
        });
        await client.Done.Task.WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, 100), client.Received.Select(r => BitConverter.ToInt32(r)));
        Assert.Equal(100, a.PacketsReceived);
        Assert.Equal(100, a.PacketsSent);

        await loop.InvokeAsync(() => { a.Dispose(); b.Dispose(); });
        Assert.Equal(0, await loop.InvokeAsync(() => loop.RegisteredCount));
        Assert.True(a.IsClosed);
        Assert.False(await loop.InvokeAsync(() => a.SendTo([1], SockAddr.From(b.LocalEndPoint))));
    }

    [Fact]
    public async Task A_port_range_is_honoured_and_exhaustion_is_a_clear_error()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var sink = new Collector();
        var sockets = await loop.InvokeAsync(() =>
        {
            // Find three consecutive free ports by letting the kernel pick one and using its neighbours.
            var probe = UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, sink);
            var basePort = Math.Min(probe.LocalEndPoint.Port, 65000);
            probe.Dispose();
            var list = new List<UdpSocket>();
            try
            {
                for (var i = 0; i < 3; i++) list.Add(UdpSocket.Bind(loop, IPAddress.Loopback, basePort, basePort + 2, sink));
            }
            catch (InvalidOperationException)
            {
                // Another process took one of the ports meanwhile; the assertion below tolerates it.
            }
            return (list, basePort);
        });
        Assert.All(sockets.list, s => Assert.InRange(s.LocalEndPoint.Port, sockets.basePort, sockets.basePort + 2));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            loop.InvokeAsync(() => UdpSocket.Bind(loop, IPAddress.Loopback, sockets.basePort, sockets.basePort + 2, sink)));
        Assert.Contains("no free UDP port", error.Message);
        await loop.InvokeAsync(() => sockets.list.ForEach(s => s.Dispose()));
    }

    [Fact]
    public async Task A_socket_moved_to_another_loop_loses_nothing_sent_during_the_move()
    {
        using var first = new EventLoop("first");
        using var second = new EventLoop("second");
        first.Start();
        second.Start();
        var receivedOn = new List<string>();
        var numbers = new List<int>();
        var receiver = new LambdaReceiver(data =>
        {
            lock (numbers)
            {
                numbers.Add(BitConverter.ToInt32(data));
                receivedOn.Add(Thread.CurrentThread.Name!);
            }
        });
        var socket = await first.InvokeAsync(() => UdpSocket.Bind(first, IPAddress.Loopback, 0, 0, receiver));
        using var sender = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var next = 0;
        int Received() { lock (numbers) return numbers.Count; }
        async Task SendBurstAndWait(int count)
        {
            for (var i = 0; i < count; i++) sender.Send(BitConverter.GetBytes(next++), socket.LocalEndPoint);
            var until = DateTime.UtcNow + Wait;
            while (Received() < next && DateTime.UtcNow < until) await Task.Delay(1);
        }

        await SendBurstAndWait(100);
        for (var m = 0; m < 10; m++)
        {
            var (from, to) = m % 2 == 0 ? (first, second) : (second, first);
            // Hold the target loop so the handover is in progress while a burst is sent: the burst
            // must wait in the kernel's buffer, not be lost, and be read by the target once it runs.
            using var hold = new ManualResetEventSlim();
            to.Post(() => hold.Wait());
            var moving = await from.InvokeAsync(() => socket.MoveToAsync(to, receiver));
            var before = Received();
            for (var i = 0; i < 50; i++) sender.Send(BitConverter.GetBytes(next++), socket.LocalEndPoint);
            Assert.Equal(before, Received());
            hold.Set();
            await moving.WaitAsync(Wait);
            await SendBurstAndWait(100);
            lock (numbers) Assert.Equal(to.Name, receivedOn[^1]);
        }
        Assert.Equal(1600, next);
        lock (numbers) Assert.Equal(Enumerable.Range(0, next), numbers);
        Assert.Contains("first", receivedOn);
        Assert.Contains("second", receivedOn);
        await first.InvokeAsync(() => socket.Dispose());
    }

    private sealed class LambdaReceiver(Action<byte[]> onData) : IUdpReceiver
    {
        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => onData(data.ToArray());
    }

    [Fact]
    public async Task A_datagram_carries_the_time_the_kernel_received_it_not_the_time_the_loop_read_it()
    {
        using var loop = new EventLoop("t");
        loop.Start();
        var stamps = new System.Collections.Concurrent.ConcurrentQueue<(TimeSpan Arrival, TimeSpan Now)>();
        var sink = new Collector();
        sink.Reply = (_, _, _) => stamps.Enqueue((loop.ArrivalTime, loop.Now));
        var socket = await loop.InvokeAsync(() => UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, sink));
        using var client = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        for (var attempt = 0; ; attempt++)
        {
            // The loop is busy for 300 ms; a datagram sent meanwhile waits in the kernel's buffer.
            var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sleepEnd = TimeSpan.Zero;
            loop.Post(() =>
            {
                blocked.TrySetResult();
                Thread.Sleep(300);
                sleepEnd = EventLoop.Clock;
            });
            await blocked.Task;
            var sent = EventLoop.Clock;
            client.Send([1], socket.LocalEndPoint);
            var sentBy = EventLoop.Clock;
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !stamps.IsEmpty, Wait));
            Assert.True(stamps.TryDequeue(out var stamp));
            // This machine may have run the test thread late (even between reading the clock and sending), so the
            // datagram may have left after the loop woke: then try again.
            if (sentBy >= sleepEnd - TimeSpan.FromMilliseconds(5) && attempt < 5) continue;
            // The loop distrusts a stamp that disagrees with its clock (the wall clock stepped or slewed between the
            // stamp and the turn that read it, as a VM's time sync may do) and uses the read time: try again.
            if (stamp.Arrival >= sleepEnd && attempt < 5) continue;
            Assert.True(stamp.Now >= sleepEnd, $"read at {stamp.Now}, loop busy until {sleepEnd}");
            Assert.InRange(stamp.Arrival, sent - TimeSpan.FromMilliseconds(2), sleepEnd);
            break;
        }
        // Outside a datagram the arrival time is the loop time.
        Assert.True(await loop.InvokeAsync(() => loop.ArrivalTime == loop.Now));
        await loop.InvokeAsync(socket.Dispose);
    }
}
