using System.Net;
using System.Runtime.InteropServices;
using Ferry.Native;

namespace Ferry.Loop;

/// <summary>Receives the datagrams of a <see cref="UdpSocket"/>, on its loop thread.</summary>
internal interface IUdpReceiver
{
    /// <summary>
    /// One datagram. <paramref name="data"/> lives in the loop's receive buffer and is valid only
    /// during the call; it may be rewritten in place (forwarding rewrites headers before sending).
    /// </summary>
    void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from);

    /// <summary>The object to close when handling a datagram throws; null when none (the fault is only reported).</summary>
    ILoopFaultHandler? FaultOwner => null;
}

/// <summary>
/// A non-blocking UDP socket on one loop: reads every queued datagram when readable, sends
/// without blocking and counts (never throws) when the kernel buffer is full.
/// </summary>
internal sealed unsafe class UdpSocket : IFdHandler, IMovableSocket, IDisposable
{
    /// <summary>Its receiver (a transport or WebRtcServer) answers for what its datagrams make throw.</summary>
    ILoopFaultHandler? IFdHandler.FaultHandler => _receiver.FaultOwner;

    // Reads per readiness before yielding to the loop's other fds and timers (epoll is level-triggered, so the rest waits).
    private const int MaxReadsPerWake = 64;
    private const int ReceiveBufferSize = 65536;

    private readonly byte[] _receiveBuffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly byte[] _control = GC.AllocateUninitializedArray<byte>(Libc.ControlBufferSize, pinned: true);
    private EventLoop _loop;
    private IUdpReceiver _receiver;
    private int _fd;

    private UdpSocket(EventLoop loop, int fd, IPEndPoint local, IUdpReceiver receiver)
    {
        _loop = loop;
        _fd = fd;
        LocalEndPoint = local;
        _receiver = receiver;
    }

    /// <summary>The bound local address and port.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Datagrams received.</summary>
    public long PacketsReceived { get; private set; }
    /// <summary>Bytes received.</summary>
    public long BytesReceived { get; private set; }
    /// <summary>Datagrams sent.</summary>
    public long PacketsSent { get; private set; }
    /// <summary>Bytes sent.</summary>
    public long BytesSent { get; private set; }
    /// <summary>Sends dropped because the kernel buffer was full or the send failed.</summary>
    public long SendDrops { get; private set; }
    /// <summary>Receive errors other than an empty queue (ICMP errors reported on the socket, for example).</summary>
    public long ReceiveErrors { get; private set; }

    /// <summary>True once closed.</summary>
    public bool IsClosed => _fd < 0;

    /// <summary>
    /// Binds a socket to <paramref name="address"/> on a port in [<paramref name="minPort"/>, <paramref name="maxPort"/>]
    /// (0 and 0 for any port), starting at a random port in the range as mediasoup does, and registers it on the loop.
    /// Call on the loop thread.
    /// </summary>
    public static UdpSocket Bind(EventLoop loop, IPAddress address, int minPort, int maxPort, IUdpReceiver receiver, int socketBufferBytes = 1 << 20)
    {
        loop.AssertOnLoop();
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? Libc.AF_INET6 : Libc.AF_INET;
        var fd = Libc.Socket(family, Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_UDP);
        if (fd < 0) throw new InvalidOperationException($"socket() failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (family == Libc.AF_INET6) Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 1);
            Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, socketBufferBytes);
            Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, socketBufferBytes);
            // Kernel receive timestamps for transport-cc (EventLoop.ArrivalTime); without them the loop time stands in.
            Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_TIMESTAMPNS, 1);
            PortPicker.Bind(address, minPort, maxPort, "UDP", port => PortPicker.TryBind(fd, address, port));
            var socket = new UdpSocket(loop, fd, PortPicker.LocalEndPoint(fd), receiver);
            loop.Register(fd, socket);
            return socket;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>Sends one datagram; false (and a counted drop) when the kernel would block or refuses it.</summary>
    public bool SendTo(ReadOnlySpan<byte> data, in SockAddr to)
    {
        if (_fd < 0) { SendDrops++; _loop.Counters.SendDrops++; return false; }
        nint sent;
        fixed (byte* p = data)
        fixed (byte* a = to.Bytes)
        {
            sent = Libc.SendTo(_fd, p, data.Length, Libc.MSG_DONTWAIT, a, to.Length);
        }
        if (sent < 0) { SendDrops++; _loop.Counters.SendDrops++; return false; }
        PacketsSent++;
        _loop.Counters.PacketsSent++;
        _loop.Counters.BytesSent += data.Length;
        BytesSent += data.Length;
        return true;
    }

    void IFdHandler.OnReadable() => Read(MaxReadsPerWake);

    /// <summary>
    /// Hands the receiver, now, up to <paramref name="max"/> datagrams the kernel holds for this socket (without waiting
    /// for the loop to find it readable); the number read. For a relay that must pass on everything that arrived before
    /// a marker goes out after it. On the loop thread.
    /// </summary>
    public int ReadQueued(int max)
    {
        _loop.AssertOnLoop();
        return Read(max);
    }

    private int Read(int max)
    {
        var from = default(SockAddr);
        var i = 0;
        for (; i < max && _fd >= 0; i++)
        {
            nint n;
            Libc.MsgHdr message;
            fixed (byte* buffer = _receiveBuffer)
            fixed (byte* a = from.AsSpan())
            fixed (byte* control = _control)
            {
                var iov = new Libc.IoVec { Base = buffer, Length = (nuint)_receiveBuffer.Length };
                message = new Libc.MsgHdr { Name = a, NameLength = (uint)SockAddr.Capacity, Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)_control.Length };
                n = Libc.RecvMsg(_fd, &message, Libc.MSG_DONTWAIT);
                if (n >= 0 && Libc.TryReadTimestamp(control, message.ControlLength, out var stamp))
                {
                    _loop.ArrivalTime = _loop.FromRealtime(stamp);
                    _loop.Counters.ReceiveDelay.Record(_loop.Now - _loop.ArrivalTime);
                }
            }
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() != Libc.EAGAIN) ReceiveErrors++;
                return i;
            }
            from.Length = (int)message.NameLength;
            PacketsReceived++;
            BytesReceived += n;
            _loop.Counters.PacketsReceived++;
            _loop.Counters.BytesReceived += n;
            _receiver.OnDatagram(this, _receiveBuffer.AsSpan(0, (int)n), from);
            _loop.ArrivalTime = _loop.Now;
        }
        return i;
    }

    /// <summary>
    /// Hands the socket to another loop: unregistered here, registered there, same fd, so what
    /// arrives meanwhile waits in the kernel's buffer. Call on the current loop; completes on the target.
    /// </summary>
    public Task MoveToAsync(EventLoop target, IUdpReceiver receiver)
    {
        _loop.AssertOnLoop();
        _loop.Unregister(_fd);
        return target.InvokeAsync(() =>
        {
            _loop = target;
            _receiver = receiver;
            target.Register(_fd, this);
        });
    }

    /// <summary>
    /// First half of a move, on the current loop: stops watching the fd here (what arrives waits in
    /// the kernel's buffer) and hands the socket to <paramref name="target"/>.
    /// </summary>
    public void Detach(EventLoop target)
    {
        _loop.AssertOnLoop();
        if (_fd >= 0) _loop.Unregister(_fd);
        _loop = target;
    }

    /// <summary>Second half of a move, on the new loop: watches the fd here.</summary>
    public void Attach()
    {
        _loop.AssertOnLoop();
        if (_fd >= 0) _loop.Register(_fd, this);
    }

    /// <summary>Unregisters and closes the fd. Call on the loop thread.</summary>
    public void Dispose()
    {
        if (_fd < 0) return;
        _loop.AssertOnLoop();
        _loop.Unregister(_fd);
        Libc.Close(_fd);
        _fd = -1;
    }
}
