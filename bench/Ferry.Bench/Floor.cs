using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols.Srtp;

namespace Ferry.Bench;

/// <summary>How a floor sends its copies.</summary>
internal enum FloorSend
{
    /// <summary>One <c>sendto</c> per copy, each from its own socket (as an SFU with a socket per transport sends).</summary>
    SendTo,

    /// <summary>All copies of an input packet in one <c>sendmmsg</c> from one socket (as a shared port, mediasoup's WebRtcServer, could).</summary>
    SendMmsg,
}

/// <summary>
/// The floor an SFU is compared against: one thread, the engine's own event loop and UDP sockets
/// (the same epoll_wait and recvmsg), receiving each packet on one socket and sending it to N
/// destinations, with no SFU logic at all. With SRTP it also unprotects the input once and, per
/// copy, copies the packet into a send buffer and protects it under that destination's own key
/// with <see cref="FloorSrtp"/> (libcrypto's EVP driven directly: the cheapest SRTP known here),
/// which is the least any SFU must do per packet sent. Every datagram it sends is RTP.
/// </summary>
internal sealed partial class Floor : IUdpReceiver, IAsyncDisposable
{
    private const int SendBufferBytes = 2048;
    private readonly UdpSocket[] _outputs;
    private readonly SockAddr[] _destinations;
    private readonly FloorSrtp? _input;
    private readonly FloorSrtp[]? _sessions;
    private readonly FloorSend _send;
    // One send buffer per copy when batching (the batch goes out after the last copy is protected), else one.
    private readonly byte[] _sendBuffers;
    private readonly int _batchSocket = -1;
    private readonly Libc.IoVec[] _iovecs = [];
    private readonly MmsgHdr[] _messages = [];
    private readonly UdpSocket _socket;

    private Floor(EventLoop loop, IReadOnlyList<IPEndPoint> destinations, SrtpProfile? profile, FloorSend send)
    {
        Loop = loop;
        _send = send;
        _socket = UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, this);
        _destinations = new SockAddr[destinations.Count];
        for (var i = 0; i < destinations.Count; i++) _destinations[i] = SockAddr.From(destinations[i]);
        if (send == FloorSend.SendTo)
        {
            _outputs = new UdpSocket[destinations.Count];
            for (var i = 0; i < destinations.Count; i++) _outputs[i] = UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, this);
            _sendBuffers = GC.AllocateUninitializedArray<byte>(SendBufferBytes, pinned: true);
        }
        else
        {
            _outputs = [];
            _batchSocket = Libc.Socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_UDP);
            if (_batchSocket < 0) throw new InvalidOperationException($"socket() failed: errno {Marshal.GetLastPInvokeError()}");
            // Room for a whole batch in the kernel's send accounting (loopback delivers at once, but the check comes first).
            Libc.SetIntOption(_batchSocket, Libc.SOL_SOCKET, Libc.SO_SNDBUF, 8 << 20);
            if (PortPicker.TryBind(_batchSocket, IPAddress.Loopback, 0) != 0) throw new InvalidOperationException("bind() failed");
            _sendBuffers = GC.AllocateUninitializedArray<byte>(SendBufferBytes * destinations.Count, pinned: true);
            _iovecs = GC.AllocateArray<Libc.IoVec>(destinations.Count, pinned: true);
            _messages = GC.AllocateArray<MmsgHdr>(destinations.Count, pinned: true);
            // Destination addresses are pinned for the floor's life: the headers point at them once, here.
            _destinationsPinned = GC.AllocateArray<SockAddr>(destinations.Count, pinned: true);
            _destinations.CopyTo(_destinationsPinned, 0);
            unsafe
            {
                fixed (byte* buffers = _sendBuffers)
                fixed (Libc.IoVec* iov = _iovecs)
                fixed (SockAddr* to = _destinationsPinned)
                {
                    for (var i = 0; i < destinations.Count; i++)
                    {
                        iov[i].Base = buffers + i * SendBufferBytes;
                        _messages[i].Header.Iov = iov + i;
                        _messages[i].Header.IovLength = 1;
                        _messages[i].Header.Name = (byte*)(to + i);
                        _messages[i].Header.NameLength = (uint)_destinationsPinned[i].Length;
                    }
                }
            }
        }
        if (profile is { } p)
        {
            InputKey = RandomNumberGenerator.GetBytes(p.MasterKeyLength());
            InputSalt = RandomNumberGenerator.GetBytes(p.MasterSaltLength());
            _input = FloorSrtp.ForUnprotect(p, InputKey, InputSalt);
            _sessions = new FloorSrtp[destinations.Count];
            for (var i = 0; i < _sessions.Length; i++)
                _sessions[i] = FloorSrtp.ForProtect(p, RandomNumberGenerator.GetBytes(p.MasterKeyLength()), RandomNumberGenerator.GetBytes(p.MasterSaltLength()));
        }
    }

    private readonly SockAddr[] _destinationsPinned = [];

    /// <summary>The floor's own loop (thread).</summary>
    public EventLoop Loop { get; }

    /// <summary>Where the source must send.</summary>
    public IPEndPoint InputEndPoint => _socket.LocalEndPoint;

    /// <summary>The source's SRTP key when the floor unprotects its input.</summary>
    public byte[]? InputKey { get; }

    /// <summary>The source's SRTP salt.</summary>
    public byte[]? InputSalt { get; }

    /// <summary>Packets that failed to unprotect, or copies the kernel refused.</summary>
    public long Failures { get; private set; }

    /// <summary>RTP packets sent (read on the loop, or with <see cref="Volatile"/> for a live status).</summary>
    public long RtpSent;

    /// <summary>Starts a floor on a loop of its own, sending to <paramref name="destinations"/>; SRTP when <paramref name="profile"/> is given.</summary>
    public static async Task<Floor> StartAsync(IReadOnlyList<IPEndPoint> destinations, SrtpProfile? profile, FloorSend send)
    {
        var loop = new EventLoop("bench-floor");
        loop.Start();
        return await loop.InvokeAsync(() => new Floor(loop, destinations, profile, send)).ConfigureAwait(false);
    }

    /// <summary>Thread CPU microseconds, RTP packets sent and bytes allocated so far, read on the loop.</summary>
    public Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)> SampleAsync() => Loop.InvokeAsync(() =>
    {
        var u = Loop.ThreadUsage();
        return ((u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec, RtpSent, GC.GetAllocatedBytesForCurrentThread());
    });

    public unsafe void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        if (socket != _socket) return;
        var length = data.Length;
        if (_input is not null && !_input.UnprotectRtp(data, data.Length, out length))
        {
            Failures++;
            return;
        }
        var plain = data[..length];
        if (_send == FloorSend.SendTo)
        {
            for (var i = 0; i < _outputs.Length; i++)
            {
                if (_sessions is null)
                {
                    if (_outputs[i].SendTo(plain, _destinations[i])) RtpSent++;
                    else Failures++;
                    continue;
                }
                plain.CopyTo(_sendBuffers);
                var n = _sessions[i].ProtectRtp(_sendBuffers, length);
                if (_outputs[i].SendTo(_sendBuffers.AsSpan(0, n), _destinations[i])) RtpSent++;
                else Failures++;
            }
            return;
        }
        for (var i = 0; i < _destinations.Length; i++)
        {
            var buffer = _sendBuffers.AsSpan(i * SendBufferBytes, SendBufferBytes);
            plain.CopyTo(buffer);
            _iovecs[i].Length = (nuint)(_sessions is null ? length : _sessions[i].ProtectRtp(buffer, length));
        }
        fixed (MmsgHdr* messages = _messages)
        {
            var done = 0;
            while (done < _messages.Length)
            {
                var sent = SendMmsg(_batchSocket, messages + done, (uint)Math.Min(MaxBatch, _messages.Length - done), Libc.MSG_DONTWAIT);
                if (sent <= 0)
                {
                    // A full buffer or an error: the rest of this packet's copies are lost, as a sendto would lose them.
                    Failures += _messages.Length - done;
                    break;
                }
                done += sent;
            }
            RtpSent += done;
        }
    }

    // UIO_MAXIOV: the most messages one sendmmsg takes.
    private const int MaxBatch = 1024;

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MmsgHdr
    {
        public Libc.MsgHdr Header;
        public uint Length;
    }

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    private static unsafe partial int SendMmsg(int fd, MmsgHdr* messages, uint count, int flags);

    public async ValueTask DisposeAsync()
    {
        await Loop.InvokeAsync(() =>
        {
            _socket.Dispose();
            foreach (var s in _outputs) s.Dispose();
            if (_batchSocket >= 0) Libc.Close(_batchSocket);
            _input?.Dispose();
            if (_sessions is not null) foreach (var s in _sessions) s.Dispose();
        }).ConfigureAwait(false);
        Loop.Dispose();
    }
}
