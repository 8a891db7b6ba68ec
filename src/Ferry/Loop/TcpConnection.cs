using System.Runtime.InteropServices;
using Ferry.Native;
using Ferry.Protocols.Net;

namespace Ferry.Loop;

/// <summary>Receives the packets of ICE-TCP connections, on their loop thread.</summary>
internal interface ITcpReceiver
{
    /// <summary>
    /// One RFC 4571 frame's packet. <paramref name="packet"/> lives in the connection's receive buffer
    /// and is valid only during the call; it may be rewritten in place. The receiver may close the
    /// connection from here.
    /// </summary>
    void OnFrame(TcpConnection connection, Span<byte> packet);

    /// <summary>The connection closed (peer, error, framing, or a local close); its fd is gone.</summary>
    void OnClosed(TcpConnection connection);

    /// <summary>The object to close when handling a frame throws; null when none (the fault is only reported).</summary>
    ILoopFaultHandler? FaultOwner => null;
}

/// <summary>Why a connection closed.</summary>
internal enum TcpCloseReason : byte
{
    /// <summary>The peer closed (FIN) or reset it.</summary>
    Peer,
    /// <summary>A read or write failed.</summary>
    Error,
    /// <summary>The peer broke RFC 4571 framing.</summary>
    Framing,
    /// <summary>ICE did not accept it: not STUN first, bad credentials or unknown ufrag.</summary>
    Unauthenticated,
    /// <summary>No ICE check succeeded on it in time.</summary>
    Timeout,
    /// <summary>Its owner closed (transport or server closing).</summary>
    Local,
}

/// <summary>
/// One accepted ICE-TCP connection on a loop: reads RFC 4571 frames into a receive buffer it owns
/// (a frame split across reads waits there), and sends frames without blocking: what the kernel
/// does not take goes into a bounded send queue that drains when the socket is writable again. A
/// packet that does not fit the queue is dropped whole and counted, as a real-time sender should
/// rather than add latency or block the loop.
/// </summary>
internal sealed unsafe class TcpConnection : IFdHandler
{
    /// <summary>Its receiver (a transport or WebRtcServer) answers for what its frames make throw.</summary>
    ILoopFaultHandler? IFdHandler.FaultHandler => Receiver.FaultOwner;

    /// <summary>
    /// Largest packet accepted from a peer. Browsers keep STUN, DTLS records and RTP/RTCP under the
    /// path MTU on TCP as on UDP, so anything longer is not ICE-TCP from a WebRTC endpoint.
    /// </summary>
    public const int MaxFrameLength = 1500;

    private const int ReceiveBufferSize = 16 * 1024;
    // Enough for a few hundred ms of video at typical bitrates; beyond that, late media is worse than lost media.
    private const int SendQueueCapacity = 128 * 1024;
    private const int MaxReadsPerWake = 8;

    private readonly byte[] _receive = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly TcpListenerSocket _listener;
    private EventLoop _loop;
    private int _fd;
    private int _received;
    private byte[]? _sendQueue;
    private int _sendHead;
    private int _sendTail;
    private bool _writeInterest;

    internal TcpConnection(TcpListenerSocket listener, EventLoop loop, int fd, in SockAddr remote, ITcpReceiver receiver)
    {
        _listener = listener;
        _loop = loop;
        _fd = fd;
        Remote = remote;
        Tuple = remote.ToTuple(TransportProtocol.Tcp);
        Receiver = receiver;
        AcceptedAt = loop.Now;
    }

    /// <summary>The peer's address.</summary>
    public SockAddr Remote { get; }

    /// <summary>The peer's address as an ICE tuple (protocol TCP).</summary>
    public TransportTuple Tuple { get; }

    /// <summary>Its listener (the local address and port).</summary>
    public TcpListenerSocket Listener => _listener;

    /// <summary>Where its frames go: the listener's owner at first; a WebRtcServer hands a claimed connection to its transport.</summary>
    public ITcpReceiver Receiver { get; set; }

    /// <summary>Set once an ICE check on it succeeded; until then it may only carry STUN and is closed when idle.</summary>
    public bool IsAuthenticated { get; set; }

    /// <summary>Loop time it was accepted at.</summary>
    public TimeSpan AcceptedAt { get; }

    /// <summary>True once a send failed hard (reset, broken pipe): it only waits to be closed.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>True once closed.</summary>
    public bool IsClosed => _fd < 0;

    /// <summary>Frames received.</summary>
    public long FramesReceived { get; private set; }
    /// <summary>Frames accepted for sending (sent or queued).</summary>
    public long FramesSent { get; private set; }
    /// <summary>Bytes received, framing included.</summary>
    public long BytesReceived { get; private set; }
    /// <summary>Bytes accepted for sending, framing included.</summary>
    public long BytesSent { get; private set; }
    /// <summary>Packets dropped: queue full, connection broken or closed.</summary>
    public long SendDrops { get; private set; }

    /// <summary>Bytes waiting in the send queue.</summary>
    public int Queued => _sendTail - _sendHead;

    /// <summary>
    /// Sends one packet as one frame; false (and a counted drop) when it cannot be sent whole now.
    /// No allocation: the header and the packet go out in one sendmsg, and only what the kernel did
    /// not take is copied, into the queue.
    /// </summary>
    public bool Send(ReadOnlySpan<byte> packet)
    {
        if (_fd < 0 || IsBroken || packet.Length is 0 or > Rfc4571Framing.MaxPacketLength) return Drop();
        var total = Rfc4571Framing.HeaderLength + packet.Length;
        Span<byte> header = stackalloc byte[Rfc4571Framing.HeaderLength];
        Rfc4571Framing.WriteHeader(header, packet.Length);
        if (_sendHead != _sendTail)
        {
            // Frames queue behind the unsent bytes: sending now would interleave them.
            if (!TryEnqueue(header, packet, 0)) return Drop();
            return Accepted(total);
        }
        nint sent;
        fixed (byte* h = header)
        fixed (byte* p = packet)
        {
            var iov = stackalloc Libc.IoVec[2];
            iov[0] = new Libc.IoVec { Base = h, Length = (nuint)header.Length };
            iov[1] = new Libc.IoVec { Base = p, Length = (nuint)packet.Length };
            var message = new Libc.MsgHdr { Iov = iov, IovLength = 2 };
            sent = Libc.SendMsg(_fd, &message, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
        }
        if (sent == total) return Accepted(total);
        if (sent < 0)
        {
            if (!IsTransient(Marshal.GetLastPInvokeError()))
            {
                Break();
                return Drop();
            }
            sent = 0;
        }
        // Part of the frame (or none) went out: the rest must follow, or the stream loses its framing.
        // The queue is empty here, so a frame always fits.
        TryEnqueue(header, packet, (int)sent);
        SetWriteInterest(true);
        return Accepted(total);
    }

    private bool Accepted(int total)
    {
        FramesSent++;
        BytesSent += total;
        _listener.Counters.FramesSent++;
        _listener.Counters.BytesSent += total;
        _loop.Counters.PacketsSent++;
        _loop.Counters.BytesSent += total;
        return true;
    }

    private bool Drop()
    {
        SendDrops++;
        _listener.Counters.SendDrops++;
        _loop.Counters.SendDrops++;
        return false;
    }

    private static bool IsTransient(int errno) => errno is Libc.EAGAIN or Libc.EINTR or Libc.ENOBUFS or Libc.ENOMEM;

    /// <summary>Appends header+packet, skipping the first <paramref name="skip"/> bytes already written; false when it does not fit.</summary>
    private bool TryEnqueue(ReadOnlySpan<byte> header, ReadOnlySpan<byte> packet, int skip)
    {
        var length = header.Length + packet.Length - skip;
        // Allocated on the first send the kernel does not take whole, then kept: most connections never need it.
        _sendQueue ??= GC.AllocateUninitializedArray<byte>(SendQueueCapacity, pinned: true);
        if (_sendQueue.Length - _sendTail < length && _sendHead > 0)
        {
            _sendQueue.AsSpan(_sendHead, _sendTail - _sendHead).CopyTo(_sendQueue);
            _sendTail -= _sendHead;
            _sendHead = 0;
        }
        if (_sendQueue.Length - _sendTail < length) return false;
        var destination = _sendQueue.AsSpan(_sendTail, length);
        if (skip < header.Length)
        {
            header[skip..].CopyTo(destination);
            packet.CopyTo(destination[(header.Length - skip)..]);
        }
        else
        {
            packet[(skip - header.Length)..].CopyTo(destination);
        }
        _sendTail += length;
        return true;
    }

    void IFdHandler.OnWritable()
    {
        while (_fd >= 0 && _sendHead < _sendTail)
        {
            nint sent;
            fixed (byte* q = _sendQueue)
            {
                sent = Libc.Send(_fd, q + _sendHead, _sendTail - _sendHead, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
            }
            if (sent < 0)
            {
                if (IsTransient(Marshal.GetLastPInvokeError())) return;
                Break();
                return;
            }
            _sendHead += (int)sent;
        }
        _sendHead = _sendTail = 0;
        SetWriteInterest(false);
    }

    /// <summary>
    /// A hard send error. The close is left to the listener's next sweep rather than done here: a send
    /// runs inside the transport's forwarding path, which must not see its tuples change under it.
    /// </summary>
    private void Break()
    {
        if (IsBroken) return;
        IsBroken = true;
        _sendHead = _sendTail = 0;
        SetWriteInterest(false);
        _listener.ScheduleSweep();
    }

    private void SetWriteInterest(bool enabled)
    {
        if (_writeInterest == enabled || _fd < 0) return;
        _writeInterest = enabled;
        _loop.SetWriteInterest(_fd, enabled);
    }

    void IFdHandler.OnReadable()
    {
        for (var i = 0; i < MaxReadsPerWake && _fd >= 0; i++)
        {
            var free = _receive.Length - _received;
            nint n;
            fixed (byte* buffer = _receive)
            {
                n = Libc.Recv(_fd, buffer + _received, free, Libc.MSG_DONTWAIT);
            }
            if (n == 0)
            {
                // FIN: a frame cut in the middle is the peer's framing error, counted before the close.
                if (_received > 0) CountFramingError();
                Close(TcpCloseReason.Peer);
                return;
            }
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EAGAIN) return;
                if (errno == Libc.EINTR) continue;
                Close(TcpCloseReason.Error);
                return;
            }
            _received += (int)n;
            BytesReceived += n;
            _listener.Counters.BytesReceived += n;
            _loop.Counters.BytesReceived += n;
            if (!DeliverFrames()) return;
            // A short read drained the kernel's buffer: another recv would only report EAGAIN.
            if (n < free) return;
        }
    }

    /// <summary>Hands every whole frame in the buffer to the receiver and keeps the partial one; false once closed.</summary>
    private bool DeliverFrames()
    {
        var offset = 0;
        while (true)
        {
            var result = Rfc4571Framing.TryReadFrame(_receive.AsSpan(offset, _received - offset), MaxFrameLength, out var length);
            if (result == FrameReadResult.NeedMore) break;
            if (result != FrameReadResult.Frame)
            {
                CountFramingError();
                Close(TcpCloseReason.Framing);
                return false;
            }
            FramesReceived++;
            _listener.Counters.FramesReceived++;
            _loop.Counters.PacketsReceived++;
            Receiver.OnFrame(this, _receive.AsSpan(offset + Rfc4571Framing.HeaderLength, length));
            if (_fd < 0) return false;
            offset += Rfc4571Framing.HeaderLength + length;
        }
        if (offset > 0)
        {
            // At most one partial frame (under 1502 bytes) moves to the front.
            _receive.AsSpan(offset, _received - offset).CopyTo(_receive);
            _received -= offset;
        }
        return true;
    }

    private void CountFramingError()
    {
        _listener.Counters.FramingErrors++;
        _loop.Counters.TcpFramingErrors++;
    }

    /// <summary>First half of a move (with its listener): stops watching the fd here; buffers and queue stay as they are.</summary>
    internal void Detach(EventLoop target)
    {
        _loop.AssertOnLoop();
        if (_fd >= 0) _loop.Unregister(_fd);
        _loop = target;
    }

    /// <summary>Second half of a move, on the new loop: watches the fd, and its writability when bytes are queued.</summary>
    internal void Attach()
    {
        _loop.AssertOnLoop();
        if (_fd < 0) return;
        _loop.Register(_fd, this);
        if (_writeInterest) _loop.SetWriteInterest(_fd, true);
    }

    /// <summary>Closes the fd and tells the listener and the receiver. Call on the loop thread; a second call does nothing.</summary>
    public void Close(TcpCloseReason reason)
    {
        if (_fd < 0) return;
        _loop.AssertOnLoop();
        _loop.Unregister(_fd);
        // Counted before the fd closes, so whoever sees the close (the peer, a test) sees the counts.
        _listener.OnConnectionClosed(this, reason);
        Libc.Close(_fd);
        _fd = -1;
        _writeInterest = false;
        _sendHead = _sendTail = 0;
        Receiver.OnClosed(this);
    }

    /// <inheritdoc />
    public override string ToString() => $"tcp {Remote} -> {_listener.LocalEndPoint}";
}
