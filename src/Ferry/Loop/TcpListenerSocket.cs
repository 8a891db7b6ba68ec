using System.Net;
using System.Runtime.InteropServices;
using Ferry.Native;

namespace Ferry.Loop;

/// <summary>Counts of one listener's connections, written on its loop, read anywhere as approximate snapshots.</summary>
internal sealed class TcpCounterSet
{
    public long ConnectionsAccepted;
    public long ConnectionsRejected;
    public long ConnectionsClosed;
    public long FramingErrors;
    public long UnauthenticatedClosed;
    public long PendingTimeouts;
    public long FramesReceived;
    public long FramesSent;
    public long BytesReceived;
    public long BytesSent;
    public long SendDrops;
}

/// <summary>
/// A non-blocking TCP listening socket on one loop (an ICE-TCP passive candidate, RFC 6544): accepts
/// connections up to a limit, owns them, and closes those that stay unauthenticated too long or
/// whose sends failed. It moves between loops with all its connections and their buffers.
/// </summary>
internal sealed unsafe class TcpListenerSocket : IFdHandler, IMovableSocket, IDisposable
{
    /// <summary>Its receiver (a transport or WebRtcServer) answers for what its connections make throw.</summary>
    ILoopFaultHandler? IFdHandler.FaultHandler => _receiver.FaultOwner;

    private const int Backlog = 128;
    private const int MaxAcceptsPerWake = 16;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);
    // After EMFILE the listener stays readable: without a pause the loop would spin on accept.
    private static readonly TimeSpan AcceptPause = TimeSpan.FromMilliseconds(200);

    private readonly List<TcpConnection> _connections = [];
    private readonly ITcpReceiver _receiver;
    private readonly TimeSpan _pendingTimeout;
    private readonly LoopTimer _timer;
    private EventLoop _loop;
    private int _fd;
    private bool _acceptPaused;
    private TimeSpan _acceptResumeAt;

    private TcpListenerSocket(EventLoop loop, int fd, IPEndPoint local, ITcpReceiver receiver, int maxConnections, TimeSpan pendingTimeout)
    {
        _loop = loop;
        _fd = fd;
        LocalEndPoint = local;
        _receiver = receiver;
        MaxConnections = maxConnections;
        _pendingTimeout = pendingTimeout;
        _timer = loop.CreateTimer(Sweep);
    }

    /// <summary>The bound local address and port.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Connections beyond this many are closed as soon as they are accepted.</summary>
    public int MaxConnections { get; }

    /// <summary>Its open connections (loop only).</summary>
    public IReadOnlyList<TcpConnection> Connections => _connections;

    /// <summary>What its connections did.</summary>
    public TcpCounterSet Counters { get; } = new();

    /// <summary>True once closed.</summary>
    public bool IsClosed => _fd < 0;

    /// <summary>The loop it is on now.</summary>
    public EventLoop Loop => _loop;

    /// <summary>
    /// Binds and listens on <paramref name="address"/>, on a port of [<paramref name="minPort"/>, <paramref name="maxPort"/>]
    /// (0 and 0 for any port), and registers on the loop. New connections' frames go to <paramref name="receiver"/>.
    /// Call on the loop thread.
    /// </summary>
    public static TcpListenerSocket Bind(EventLoop loop, IPAddress address, int minPort, int maxPort, ITcpReceiver receiver, int maxConnections, TimeSpan pendingTimeout)
    {
        loop.AssertOnLoop();
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? Libc.AF_INET6 : Libc.AF_INET;
        var fd = -1;
        try
        {
            PortPicker.Bind(address, minPort, maxPort, "TCP", port =>
            {
                // A fresh socket per port: one that bound but could not listen cannot be bound again.
                if (fd < 0) fd = NewSocket(family);
                var errno = PortPicker.TryBind(fd, address, port);
                if (errno != 0) return errno;
                if (Libc.Listen(fd, Backlog) == 0) return 0;
                errno = Marshal.GetLastPInvokeError();
                Libc.Close(fd);
                fd = -1;
                return errno;
            });
            var listener = new TcpListenerSocket(loop, fd, PortPicker.LocalEndPoint(fd), receiver, maxConnections, pendingTimeout);
            loop.Register(fd, listener);
            return listener;
        }
        catch
        {
            if (fd >= 0) Libc.Close(fd);
            throw;
        }
    }

    private static int NewSocket(int family)
    {
        var fd = Libc.Socket(family, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_TCP);
        if (fd < 0) throw new InvalidOperationException($"socket() failed: errno {Marshal.GetLastPInvokeError()}");
        if (family == Libc.AF_INET6) Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 1);
        // Lets a restarted server listen again while its old connections sit in TIME_WAIT.
        Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
        return fd;
    }

    void IFdHandler.OnReadable()
    {
        for (var i = 0; i < MaxAcceptsPerWake && _fd >= 0; i++)
        {
            var remote = default(SockAddr);
            var length = SockAddr.Capacity;
            int fd;
            fixed (byte* a = remote.AsSpan())
            {
                fd = Libc.Accept4(_fd, a, &length, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            }
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Libc.EMFILE or Libc.ENFILE or Libc.ENOBUFS or Libc.ENOMEM) PauseAccepting();
                // EAGAIN: nothing left; ECONNABORTED and the like: that one connection is gone, the rest waits for the next wake.
                return;
            }
            remote.Length = length;
            if (_connections.Count >= MaxConnections)
            {
                Libc.Close(fd);
                Counters.ConnectionsRejected++;
                _loop.Counters.TcpConnectionsRejected++;
                continue;
            }
            // Media packets must leave as they are produced, not wait for Nagle to fill a segment.
            Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
            var connection = new TcpConnection(this, _loop, fd, remote, _receiver);
            _connections.Add(connection);
            _loop.Register(fd, connection);
            Counters.ConnectionsAccepted++;
            _loop.Counters.TcpConnectionsAccepted++;
            if (!_timer.IsArmed) _timer.StartAfter(SweepDelay());
        }
    }

    private TimeSpan SweepDelay() => _pendingTimeout < SweepInterval ? _pendingTimeout : SweepInterval;

    private void PauseAccepting()
    {
        _acceptPaused = true;
        _acceptResumeAt = _loop.Now + AcceptPause;
        _loop.Unregister(_fd);
        _timer.Start(_acceptResumeAt);
    }

    /// <summary>Asks for a sweep on the next loop turn (a connection broke while sending).</summary>
    internal void ScheduleSweep()
    {
        if (_fd >= 0) _timer.Start(_loop.Now);
    }

    /// <summary>Closes broken connections and those still unauthenticated after the pending timeout; resumes accepting after a pause.</summary>
    private void Sweep()
    {
        if (_fd < 0) return;
        var now = _loop.Now;
        var pending = false;
        for (var i = _connections.Count - 1; i >= 0; i--)
        {
            if (i >= _connections.Count) continue;
            var c = _connections[i];
            if (c.IsBroken) c.Close(TcpCloseReason.Error);
            else if (!c.IsAuthenticated && now - c.AcceptedAt >= _pendingTimeout) c.Close(TcpCloseReason.Timeout);
            else if (!c.IsAuthenticated) pending = true;
        }
        if (_acceptPaused)
        {
            if (now >= _acceptResumeAt)
            {
                _acceptPaused = false;
                _loop.Register(_fd, this);
            }
            else
            {
                _timer.Start(_acceptResumeAt);
                return;
            }
        }
        if (pending) _timer.StartAfter(SweepDelay());
    }

    internal void OnConnectionClosed(TcpConnection connection, TcpCloseReason reason)
    {
        _connections.Remove(connection);
        // The reason first, the total last: a reader that sees the total sees why.
        if (reason == TcpCloseReason.Timeout) Counters.PendingTimeouts++;
        if (reason is TcpCloseReason.Unauthenticated or TcpCloseReason.Timeout)
        {
            Counters.UnauthenticatedClosed++;
            _loop.Counters.TcpUnauthenticatedClosed++;
        }
        Counters.ConnectionsClosed++;
        _loop.Counters.TcpConnectionsClosed++;
    }

    /// <summary>First half of a move: the listening fd, every connection and the sweep timer leave this loop.</summary>
    public void Detach(EventLoop target)
    {
        _loop.AssertOnLoop();
        if (_fd >= 0 && !_acceptPaused) _loop.Unregister(_fd);
        foreach (var c in _connections) c.Detach(target);
        _timer.Detach(target);
        _loop = target;
    }

    /// <summary>Second half of a move, on the new loop: fds watched and the timer armed there.</summary>
    public void Attach()
    {
        _loop.AssertOnLoop();
        if (_fd >= 0 && !_acceptPaused) _loop.Register(_fd, this);
        foreach (var c in _connections) c.Attach();
        _timer.Attach();
    }

    /// <summary>Closes every connection (their receivers are told) and the listening socket. Call on the loop thread.</summary>
    public void Dispose()
    {
        if (_fd < 0) return;
        _loop.AssertOnLoop();
        foreach (var c in _connections.ToArray()) c.Close(TcpCloseReason.Local);
        _timer.Stop();
        if (!_acceptPaused) _loop.Unregister(_fd);
        Libc.Close(_fd);
        _fd = -1;
    }

    /// <inheritdoc />
    public override string ToString() => $"tcp listener {LocalEndPoint}";
}
