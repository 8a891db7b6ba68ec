using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Ferry.Loop;

namespace Ferry.Tests.Loop;

/// <summary>
/// The loop's ICE-TCP sockets on their own, against plain .NET sockets on 127.0.0.1: RFC 4571 frames
/// reassembled across reads, the bounded send queue under a peer that does not read, the connection
/// limit, framing errors, idle connections, and a move to another loop mid-frame.
/// </summary>
public sealed class TcpConnectionTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly EventLoop _loop = new("tcp-a");
    private readonly EventLoop _other = new("tcp-b");

    public TcpConnectionTests()
    {
        _loop.Start();
        _other.Start();
    }

    private readonly List<TcpListenerSocket> _listeners = [];

    public void Dispose()
    {
        foreach (var listener in _listeners) listener.Loop.InvokeAsync(listener.Dispose).Wait(Wait);
        _loop.Dispose();
        _other.Dispose();
    }

    /// <summary>Keeps frames (copied) and closes; can echo, and can claim (authenticate) connections.</summary>
    private sealed class Collector : ITcpReceiver
    {
        public readonly List<byte[]> Frames = [];
        public readonly List<TcpConnection> Closed = [];
        public bool Echo;
        public bool Authenticate = true;

        public void OnFrame(TcpConnection connection, Span<byte> packet)
        {
            lock (Frames) Frames.Add(packet.ToArray());
            if (Authenticate) connection.IsAuthenticated = true;
            if (Echo) connection.Send(packet);
        }

        public void OnClosed(TcpConnection connection)
        {
            lock (Closed) Closed.Add(connection);
        }

        public int FrameCount { get { lock (Frames) return Frames.Count; } }
        public int ClosedCount { get { lock (Closed) return Closed.Count; } }
    }

    private async Task<TcpListenerSocket> ListenAsync(ITcpReceiver receiver, int maxConnections = 16, TimeSpan? pendingTimeout = null)
    {
        var listener = await _loop.InvokeAsync(() => TcpListenerSocket.Bind(_loop, IPAddress.Loopback, 0, 0, receiver, maxConnections, pendingTimeout ?? TimeSpan.FromSeconds(10)));
        _listeners.Add(listener);
        return listener;
    }

    private static Socket Connect(TcpListenerSocket listener)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10000 };
        socket.Connect(listener.LocalEndPoint);
        return socket;
    }

    private static byte[] Frame(int length, int number)
    {
        var frame = new byte[2 + length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
        if (length >= 4) BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(2), number);
        for (var i = 6; i < frame.Length; i++) frame[i] = (byte)(number + i);
        return frame;
    }

    private static bool IsClosedByPeer(Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = socket.Receive(buffer);
                if (n == 0) return true;
            }
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode == SocketError.ConnectionReset;
        }
    }

    [Fact]
    public async Task Frames_are_reassembled_whatever_the_reads_cut_and_echoes_come_back_framed()
    {
        var collector = new Collector { Echo = true };
        var listener = await ListenAsync(collector);
        using var client = Connect(listener);
        var stream = new List<byte>();
        for (var i = 0; i < 200; i++) stream.AddRange(Frame(1 + i * 7 % 1500, i));
        var bytes = stream.ToArray();
        // One byte, then odd-sized pieces, then the rest in one write: frames cross every boundary.
        client.Send(bytes.AsSpan(0, 1));
        await Task.Delay(20);
        var offset = 1;
        var random = new Random(3);
        while (offset < bytes.Length / 2)
        {
            var n = Math.Min(random.Next(1, 3000), bytes.Length - offset);
            client.Send(bytes.AsSpan(offset, n));
            offset += n;
        }
        client.Send(bytes.AsSpan(offset));

        Assert.True(await WaitAsync(() => collector.FrameCount == 200));
        lock (collector.Frames)
        {
            for (var i = 0; i < 200; i++) Assert.Equal(Frame(1 + i * 7 % 1500, i)[2..], collector.Frames[i]);
        }
        var echoed = new byte[bytes.Length];
        var read = 0;
        while (read < echoed.Length) read += client.Receive(echoed, read, echoed.Length - read, SocketFlags.None);
        Assert.Equal(bytes, echoed);
        Assert.Equal(200, listener.Counters.FramesReceived);
        // The last echo can arrive before the loop thread counts it.
        Assert.True(await WaitAsync(() => listener.Counters.FramesSent == 200));
        Assert.Equal(0, listener.Counters.FramingErrors);
    }

    /// <summary>Echoes every frame and notes, on the loop thread, the bytes allocated so far at two frame counts.</summary>
    private sealed class AllocationProbe(int from, int to) : ITcpReceiver
    {
        public int Frames;
        public long AllocatedAtFrom;
        public long AllocatedAtTo;

        public void OnFrame(TcpConnection connection, Span<byte> packet)
        {
            connection.IsAuthenticated = true;
            connection.Send(packet);
            Frames++;
            if (Frames == from) AllocatedAtFrom = GC.GetAllocatedBytesForCurrentThread();
            if (Frames == to) AllocatedAtTo = GC.GetAllocatedBytesForCurrentThread();
        }

        public void OnClosed(TcpConnection connection) { }
    }

    [Fact]
    public async Task Receiving_and_sending_frames_allocates_nothing_on_the_loop()
    {
        var probe = new AllocationProbe(100, 2100);
        var listener = await ListenAsync(probe);
        using var client = Connect(listener);
        var reader = Task.Run(() =>
        {
            var buffer = new byte[1 << 16];
            var total = 0;
            while (total < 2100 * 1202) total += client.Receive(buffer);
        });
        for (var i = 0; i < 2100; i++)
        {
            client.Send(Frame(1200, i));
            if (i % 50 == 0) await Task.Delay(1);
        }
        await reader.WaitAsync(Wait);
        // The last echo can reach the client before the loop thread has noted its frame.
        Assert.True(await WaitAsync(() => Volatile.Read(ref probe.AllocatedAtTo) != 0));
        Assert.Equal(2100, Volatile.Read(ref probe.Frames));
        Assert.Equal(0, probe.AllocatedAtTo - probe.AllocatedAtFrom);
    }

    [Theory]
    [InlineData("length 0")]
    [InlineData("length 1501")]
    [InlineData("length 65535")]
    [InlineData("cut by FIN")]
    public async Task A_framing_error_closes_only_its_connection_and_is_counted(string kind)
    {
        var collector = new Collector();
        var listener = await ListenAsync(collector);
        using var good = Connect(listener);
        using var bad = Connect(listener);
        good.Send(Frame(100, 1));
        Assert.True(await WaitAsync(() => collector.FrameCount == 1));
        switch (kind)
        {
            case "length 0": bad.Send([0, 0, 1, 2, 3]); break;
            case "length 1501": bad.Send([0x05, 0xDD]); break;
            case "length 65535": bad.Send([0xFF, 0xFF, 1]); break;
            case "cut by FIN":
                bad.Send(Frame(100, 2).AsSpan(0, 50));
                bad.Shutdown(SocketShutdown.Send);
                break;
        }
        Assert.True(await WaitAsync(() => collector.ClosedCount == 1));
        Assert.True(IsClosedByPeer(bad));
        Assert.Equal(1, listener.Counters.FramingErrors);
        Assert.Equal(1, _loop.Counters.TcpFramingErrors);
        // The other connection goes on.
        good.Send(Frame(100, 3));
        Assert.True(await WaitAsync(() => collector.FrameCount == 2));
        Assert.Single(await _loop.InvokeAsync(() => listener.Connections.ToList()));
    }

    [Fact]
    public async Task A_peer_that_does_not_read_fills_the_bounded_queue_then_sends_are_dropped_whole_and_counted_never_blocking()
    {
        var collector = new Collector();
        var listener = await ListenAsync(collector);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, ReceiveTimeout = 10000 };
        client.Connect(listener.LocalEndPoint);
        client.Send(Frame(10, 0));
        Assert.True(await WaitAsync(() => collector.FrameCount == 1));
        var connection = await _loop.InvokeAsync(() => listener.Connections.Single());

        // 20 MB offered while the client reads nothing: the kernel's buffers fill, then the queue, then drops.
        const int Offered = 20_000;
        var (accepted, maxQueued, elapsed) = await _loop.InvokeAsync(() =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var payload = new byte[1000];
            var ok = 0;
            var max = 0;
            for (var i = 0; i < Offered; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, i);
                if (connection.Send(payload)) ok++;
                max = Math.Max(max, connection.Queued);
            }
            return (ok, max, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        });
        Assert.InRange(accepted, 1, Offered - 1);
        Assert.Equal(Offered - accepted, connection.SendDrops);
        Assert.Equal(Offered - accepted, listener.Counters.SendDrops);
        Assert.InRange(maxQueued, 1, 128 * 1024);
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"sending took {elapsed}");

        // Reading now drains everything accepted: whole frames, in order, numbers increasing.
        var frames = new List<int>();
        var buffer = new byte[1 << 16];
        var filled = 0;
        while (frames.Count < accepted)
        {
            filled += client.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
            var offset = 0;
            while (filled - offset >= 2)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(offset));
                Assert.Equal(1000, length);
                if (filled - offset < 2 + length) break;
                frames.Add(BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(offset + 2)));
                offset += 2 + length;
            }
            buffer.AsSpan(offset, filled - offset).CopyTo(buffer);
            filled -= offset;
        }
        Assert.Equal(accepted, frames.Count);
        Assert.Equal(0, frames[0]);
        for (var i = 1; i < frames.Count; i++) Assert.True(frames[i] > frames[i - 1]);
        for (var i = 0; i < 1000 && await _loop.InvokeAsync(() => connection.Queued) > 0; i++) await Task.Delay(10);
        Assert.Equal(0, await _loop.InvokeAsync(() => connection.Queued));
        // Writable again: sends go through.
        Assert.True(await _loop.InvokeAsync(() => connection.Send(new byte[1000])));
    }

    [Fact]
    public async Task Connections_over_the_limit_are_closed_at_accept_and_counted()
    {
        var collector = new Collector();
        var listener = await ListenAsync(collector, maxConnections: 2);
        using var a = Connect(listener);
        using var b = Connect(listener);
        Assert.True(await WaitAsync(() => listener.Counters.ConnectionsAccepted == 2));
        using var c = Connect(listener);
        Assert.True(await WaitAsync(() => listener.Counters.ConnectionsRejected == 1));
        Assert.True(IsClosedByPeer(c));
        // A slot freed by a close is taken by the next connection.
        a.Close();
        Assert.True(await WaitAsync(() => collector.ClosedCount == 1));
        using var d = Connect(listener);
        Assert.True(await WaitAsync(() => listener.Counters.ConnectionsAccepted == 3));
        d.Send(Frame(4, 9));
        Assert.True(await WaitAsync(() => collector.FrameCount == 1));
    }

    [Fact]
    public async Task An_unauthenticated_connection_is_closed_after_the_pending_timeout_and_an_authenticated_one_stays()
    {
        // The claimed connection authenticates with its first frame, sent before the idle one connects:
        // nothing depends on how quickly this thread runs after an accept.
        var collector = new Collector { Authenticate = true };
        var listener = await ListenAsync(collector, pendingTimeout: TimeSpan.FromMilliseconds(300));
        using var claimed = Connect(listener);
        claimed.Send(Frame(4, 1));
        Assert.True(await WaitAsync(() => collector.FrameCount == 1));
        using var idle = Connect(listener);
        Assert.True(await WaitAsync(() => listener.Counters.PendingTimeouts == 1));
        Assert.True(IsClosedByPeer(idle));
        // The claimed connection was accepted first, so every sweep that closed the idle one looked at it
        // too; read the counters on the loop, after that sweep's turn.
        Assert.Equal(1, await _loop.InvokeAsync(() => listener.Counters.ConnectionsClosed));
        Assert.Single(await _loop.InvokeAsync(() => listener.Connections.ToList()));
        claimed.Send(Frame(4, 2));
        Assert.True(await WaitAsync(() => collector.FrameCount == 2));
    }

    [Fact]
    public async Task A_listener_moves_to_another_loop_with_a_partial_frame_and_queued_bytes_and_nothing_is_lost()
    {
        var collector = new Collector { Echo = true };
        var listener = await ListenAsync(collector);
        using var client = Connect(listener);
        var frame = Frame(1200, 7);
        client.Send(frame.AsSpan(0, 500));
        Assert.True(await WaitAsync(() => listener.Counters.BytesReceived == 500));

        await _loop.InvokeAsync(() => listener.Detach(_other));
        // Bytes that arrive during the handover wait in the kernel.
        client.Send(frame.AsSpan(500));
        await Task.Delay(50);
        Assert.Equal(0, collector.FrameCount);
        await _other.InvokeAsync(listener.Attach);
        Assert.True(await WaitAsync(() => collector.FrameCount == 1));
        Assert.Equal(frame[2..], collector.Frames[0]);
        var echoed = new byte[frame.Length];
        var read = 0;
        while (read < echoed.Length) read += client.Receive(echoed, read, echoed.Length - read, SocketFlags.None);
        Assert.Equal(frame, echoed);
        Assert.Equal(0, await _loop.InvokeAsync(() => _loop.RegisteredCount));
        Assert.Equal(2, await _other.InvokeAsync(() => _other.RegisteredCount));

        // Closing releases both fds on the loop that owns them now; the peer sees the close.
        await _other.InvokeAsync(listener.Dispose);
        Assert.Equal(0, await _other.InvokeAsync(() => _other.RegisteredCount));
        Assert.True(IsClosedByPeer(client));
        Assert.Equal(1, collector.ClosedCount);
    }

    private static async Task<bool> WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Delay(10);
        }
        return condition();
    }
}
