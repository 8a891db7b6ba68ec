using System.Net;
using System.Security.Cryptography;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols.Srtp;

namespace Ferry.Bench;

/// <summary>
/// The floor an SFU is compared against: one thread, the engine's own event loop and UDP sockets
/// (the same epoll_wait, recvfrom and sendto calls), receiving each packet on one socket and
/// sending it from N sockets to N destinations, with no SFU logic at all. With SRTP it also
/// unprotects the input once and, per copy, copies the packet into a send buffer and protects it
/// under that destination's own key, which is the least any SFU must do per packet sent.
/// </summary>
internal sealed class Floor : IUdpReceiver, IAsyncDisposable
{
    private readonly UdpSocket[] _outputs;
    private readonly SockAddr[] _destinations;
    private readonly SrtpSession? _input;
    private readonly SrtpSession[]? _sessions;
    private readonly byte[] _sendBuffer = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private readonly UdpSocket _socket;

    private Floor(EventLoop loop, IReadOnlyList<IPEndPoint> destinations, bool srtp)
    {
        Loop = loop;
        _socket = UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, this);
        _outputs = new UdpSocket[destinations.Count];
        _destinations = new SockAddr[destinations.Count];
        for (var i = 0; i < destinations.Count; i++)
        {
            _outputs[i] = UdpSocket.Bind(loop, IPAddress.Loopback, 0, 0, this);
            _destinations[i] = SockAddr.From(destinations[i]);
        }
        if (srtp)
        {
            InputKey = RandomNumberGenerator.GetBytes(Profile.MasterKeyLength());
            InputSalt = RandomNumberGenerator.GetBytes(Profile.MasterSaltLength());
            _input = new SrtpSession(Profile, InputKey, InputSalt);
            _sessions = new SrtpSession[destinations.Count];
            for (var i = 0; i < _sessions.Length; i++)
                _sessions[i] = new SrtpSession(Profile, RandomNumberGenerator.GetBytes(Profile.MasterKeyLength()), RandomNumberGenerator.GetBytes(Profile.MasterSaltLength()));
        }
    }

    /// <summary>The profile the engine's DTLS negotiates with the load client (its first preference).</summary>
    public static SrtpProfile Profile => Protocols.Dtls.DtlsContext.DefaultProfiles[0];

    /// <summary>The floor's own loop (thread).</summary>
    public EventLoop Loop { get; }

    /// <summary>Where the source must send.</summary>
    public IPEndPoint InputEndPoint => _socket.LocalEndPoint;

    /// <summary>The source's SRTP key when the floor unprotects its input.</summary>
    public byte[]? InputKey { get; }

    /// <summary>The source's SRTP salt.</summary>
    public byte[]? InputSalt { get; }

    /// <summary>Packets that failed to unprotect or protect.</summary>
    public long Failures { get; private set; }

    /// <summary>Starts a floor on a loop of its own, sending to <paramref name="destinations"/>.</summary>
    public static async Task<Floor> StartAsync(IReadOnlyList<IPEndPoint> destinations, bool srtp)
    {
        var loop = new EventLoop(srtp ? "bench-floor-srtp" : "bench-floor");
        loop.Start();
        return await loop.InvokeAsync(() => new Floor(loop, destinations, srtp)).ConfigureAwait(false);
    }

    /// <summary>Thread CPU microseconds and datagrams sent so far, read on the loop.</summary>
    public Task<(long CpuMicroseconds, long PacketsSent, long AllocatedBytes)> SampleAsync() => Loop.InvokeAsync(() =>
    {
        var u = Loop.ThreadUsage();
        return ((u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec, Loop.Counters.PacketsSent, GC.GetAllocatedBytesForCurrentThread());
    });

    public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        if (socket != _socket) return;
        if (_input is null)
        {
            for (var i = 0; i < _outputs.Length; i++) _outputs[i].SendTo(data, _destinations[i]);
            return;
        }
        if (_input.UnprotectRtp(data, data.Length, out var length) != SrtpResult.Ok)
        {
            Failures++;
            return;
        }
        var plain = data[..length];
        for (var i = 0; i < _outputs.Length; i++)
        {
            plain.CopyTo(_sendBuffer);
            if (_sessions![i].ProtectRtp(_sendBuffer, length, out var protectedLength) != SrtpResult.Ok)
            {
                Failures++;
                continue;
            }
            _outputs[i].SendTo(_sendBuffer.AsSpan(0, protectedLength), _destinations[i]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Loop.InvokeAsync(() =>
        {
            _socket.Dispose();
            foreach (var s in _outputs) s.Dispose();
            _input?.Dispose();
            if (_sessions is not null) foreach (var s in _sessions) s.Dispose();
        }).ConfigureAwait(false);
        Loop.Dispose();
    }
}
