using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocols;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;
using Ferry.Protocols.Stun;

namespace Ferry.Testing.Clients;

/// <summary>
/// The far end of a WebRtcTransport for tests, built only on Ferry.Protocols: a full-ICE controlling
/// agent that nominates the server's first UDP candidate, a DTLS client (or server), SRTP, and an SCTP
/// association with data channels (as mediasoup-client: negotiated channels by stream id). Runs a
/// real UDP socket on 127.0.0.1 with its own receive thread; every protocol object is touched under
/// one lock.
/// </summary>
public sealed class WebRtcTestClient : IDisposable
{
    private static readonly DtlsCertificate Certificate = DtlsCertificate.Generate();

    private readonly object _gate = new();
    private readonly Socket _socket;
    private readonly Thread _thread;
    private readonly DtlsContext _context;
    private readonly long _origin = Environment.TickCount64;
    private readonly string _localUfrag = Convert.ToHexString(RandomNumberGenerator.GetBytes(4));
    private DtlsEndpoint? _dtls;
    private SrtpSession? _send;
    private SrtpSession? _receive;
    private IPEndPoint? _remote;
    private IceParameters? _remoteIce;
    private volatile bool _stop;
    private volatile bool _iceAnswered;
    private TimeSpan _nextBinding;
    private readonly byte[] _sendBuffer = new byte[2048];
    private readonly byte[] _sctpBuffer = new byte[1500];
    private DataChannelEndpoint? _sctp;
    private SctpParameters? _sctpParameters;

    /// <summary>Creates a client bound to an ephemeral port on 127.0.0.1.</summary>
    public WebRtcTestClient(IReadOnlyList<SrtpProfile>? profiles = null)
    {
        _context = new DtlsContext(Certificate, profiles);
        // A large receive buffer: on a loaded machine this thread can lag, and the test must see what the server sent.
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 10, ReceiveBufferSize = 4 << 20 };
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _thread = new Thread(Run) { IsBackground = true, Name = "webrtc-test-client" };
        _thread.Start();
    }

    /// <summary>The DTLS parameters to give the server's connect(): role client, sha-256 fingerprint.</summary>
    public DtlsParameters DtlsParameters => new()
    {
        Role = DtlsRoleName.Client,
        Fingerprints = [new DtlsFingerprint { Algorithm = "sha-256", Value = Certificate.Fingerprint("sha-256").Value }],
    };

    /// <summary>Decrypted RTP received, in arrival order.</summary>
    public ConcurrentQueue<byte[]> ReceivedRtp { get; } = new();

    /// <summary>Decrypted RTCP received, in arrival order.</summary>
    public ConcurrentQueue<byte[]> ReceivedRtcp { get; } = new();

    /// <summary>Datagrams that failed SRTP checks on receipt.</summary>
    public int SrtpFailures { get; private set; }

    /// <summary>True once DTLS connected and SRTP keys are in place.</summary>
    public bool IsConnected { get { lock (_gate) return _send is not null; } }

    /// <summary>The client's own address.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    private TimeSpan Now => TimeSpan.FromMilliseconds(Environment.TickCount64 - _origin);

    /// <summary>Decrypted data channel messages received: stream id, PPID, bytes (empty for PPID 56/57).</summary>
    public ConcurrentQueue<(ushort StreamId, uint Ppid, byte[] Data)> ReceivedData { get; } = new();

    /// <summary>What the SCTP association and data channels reported, in order.</summary>
    public ConcurrentQueue<DataChannelEvent> DataEvents { get; } = new();

    /// <summary>True once the SCTP association is established.</summary>
    public bool SctpConnected { get { lock (_gate) return _sctp?.Association.State == SctpState.Established; } }

    /// <summary>The SCTP association's counters (null before SCTP starts).</summary>
    public SctpCounters? SctpCounters { get { lock (_gate) return _sctp?.Association.Counters; } }

    /// <summary>Runs ICE against the server's first UDP candidate and the DTLS handshake as client; waits until SRTP is ready.</summary>
    /// <param name="iceParameters">The server's ICE credentials.</param>
    /// <param name="candidates">The server's candidates.</param>
    /// <param name="serverDtls">The server's DTLS parameters.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="sctpParameters">The server's sctpParameters: when given, an SCTP association starts once DTLS is up (as a browser's).</param>
    public async Task ConnectAsync(IceParameters iceParameters, IReadOnlyList<IceCandidate> candidates, DtlsParameters serverDtls, TimeSpan timeout, SctpParameters? sctpParameters = null)
    {
        var candidate = candidates.First(c => c.Protocol == TransportProtocolName.Udp);
        lock (_gate)
        {
            _sctpParameters = sctpParameters;
            _remote = new IPEndPoint(IPAddress.Parse(candidate.Address), candidate.Port);
            _remoteIce = iceParameters;
            var fp = serverDtls.Fingerprints[^1];
            _dtls = new DtlsEndpoint(_context, DtlsRole.Client, new DtlsFingerprintValue(fp.Algorithm, fp.Value));
            SendBinding();
        }
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (IsConnected) return;
            lock (_gate)
            {
                if (_iceAnswered && _dtls!.State == DtlsState.New)
                {
                    _dtls.Start(Now);
                    Flush();
                }
                if (_dtls!.State == DtlsState.Failed) throw new InvalidOperationException("DTLS failed");
            }
            await Task.Delay(10);
        }
        throw new TimeoutException("WebRTC test client did not connect");
    }

    /// <summary>Sets new ICE credentials after the server's restartIce().</summary>
    public void RestartIce(IceParameters iceParameters)
    {
        lock (_gate)
        {
            _remoteIce = iceParameters;
            _iceAnswered = false;
            SendBinding();
        }
    }

    /// <summary>Protects and sends a plain RTP packet.</summary>
    public void SendRtp(ReadOnlySpan<byte> rtp)
    {
        lock (_gate)
        {
            if (_send is null || _remote is null) throw new InvalidOperationException("not connected");
            rtp.CopyTo(_sendBuffer);
            if (_send.ProtectRtp(_sendBuffer, rtp.Length, out var n) != SrtpResult.Ok) throw new InvalidOperationException("protect failed");
            _socket.SendTo(_sendBuffer.AsSpan(0, n), SocketFlags.None, _remote);
        }
    }

    /// <summary>Protects and sends a plain RTCP compound.</summary>
    public void SendRtcp(ReadOnlySpan<byte> rtcp)
    {
        lock (_gate)
        {
            if (_send is null || _remote is null) throw new InvalidOperationException("not connected");
            rtcp.CopyTo(_sendBuffer);
            if (_send.ProtectRtcp(_sendBuffer, rtcp.Length, out var n) != SrtpResult.Ok) throw new InvalidOperationException("protect failed");
            _socket.SendTo(_sendBuffer.AsSpan(0, n), SocketFlags.None, _remote);
        }
    }

    /// <summary>Waits until the SCTP association is established.</summary>
    public async Task WaitSctpConnectedAsync(TimeSpan timeout)
    {
        if (!await WaitUntilAsync(() => SctpConnected, timeout)) throw new TimeoutException("SCTP did not connect");
    }

    /// <summary>Creates a negotiated data channel on <paramref name="streamId"/> (what mediasoup-client does for produceData and consumeData).</summary>
    public void OpenDataChannel(ushort streamId, bool ordered = true, int? maxRetransmits = null, int? maxPacketLifeTime = null, string label = "")
    {
        lock (_gate)
        {
            var sctp = _sctp ?? throw new InvalidOperationException("SCTP not started");
            if (sctp.OpenChannel(Now, new DataChannelOptions { Negotiated = true, Id = streamId, Ordered = ordered, MaxRetransmits = maxRetransmits, MaxPacketLifeTime = maxPacketLifeTime, Label = label }) is null)
                throw new InvalidOperationException($"stream {streamId} already has a channel");
            FlushSctp();
        }
    }

    /// <summary>Sends a message on a data channel (string: PPID 51/56, binary: 53/57).</summary>
    public SctpSendResult SendData(ushort streamId, ReadOnlySpan<byte> data, bool isString = false)
    {
        lock (_gate)
        {
            var sctp = _sctp ?? throw new InvalidOperationException("SCTP not started");
            var result = sctp.Send(Now, streamId, data, isString);
            FlushSctp();
            return result;
        }
    }

    /// <summary>Closes a data channel (resets its outgoing stream).</summary>
    public void CloseDataChannel(ushort streamId)
    {
        lock (_gate)
        {
            _sctp?.CloseChannel(Now, streamId);
            FlushSctp();
        }
    }

    /// <summary>Sends one SCTP packet as it is, inside DTLS (for bad-input tests).</summary>
    public void SendRawSctp(ReadOnlySpan<byte> packet)
    {
        lock (_gate)
        {
            if (_dtls is not { State: DtlsState.Connected } dtls) throw new InvalidOperationException("DTLS not connected");
            dtls.SendApplicationData(packet);
            Flush();
        }
    }

    /// <summary>The verification tag the server's association expects: the one on our packets once established (for crafting bad-input packets).</summary>
    public uint ServerSctpTag
    {
        get
        {
            lock (_gate) return _lastSentTag;
        }
    }

    /// <summary>Sends raw bytes to the server (for bad-input tests).</summary>
    public void SendRaw(ReadOnlySpan<byte> datagram)
    {
        lock (_gate) _socket.SendTo(datagram, SocketFlags.None, _remote!);
    }

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Delay(10);
        }
        return condition();
    }

    private void SendBinding()
    {
        if (_remoteIce is null || _remote is null) return;
        Span<byte> buffer = stackalloc byte[256];
        var tid = RandomNumberGenerator.GetBytes(12);
        var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Request, tid);
        w.AddString(StunAttributeType.Username, $"{_remoteIce.UsernameFragment}:{_localUfrag}");
        w.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
        w.AddUInt64(StunAttributeType.IceControlling, 0x1234);
        w.Add(StunAttributeType.UseCandidate, ReadOnlySpan<byte>.Empty);
        w.AddMessageIntegrity(Encoding.UTF8.GetBytes(_remoteIce.Password));
        var length = w.AddFingerprint();
        _socket.SendTo(buffer[..length], SocketFlags.None, _remote);
        _nextBinding = Now + TimeSpan.FromSeconds(2);
    }

    private void Flush()
    {
        if (_dtls is null || _remote is null) return;
        while (_dtls.TryPollDatagram(out var d)) _socket.SendTo(d, SocketFlags.None, _remote);
        while (_dtls.TryPollEvent(out var e))
        {
            if (e.Kind == DtlsEventKind.Connected)
            {
                var k = e.Keys!;
                _send = new SrtpSession(k.Profile, k.LocalKey, k.LocalSalt);
                _receive = new SrtpSession(k.Profile, k.RemoteKey, k.RemoteSalt);
                if (_sctpParameters is { } p)
                {
                    _sctp = new DataChannelEndpoint(new SctpAssociation(new SctpOptions
                    {
                        OutboundStreams = 1024, MaxInboundStreams = 1024, MaxMessageSize = p.MaxMessageSize, SendBufferSize = 4 << 20,
                    }), dtlsClient: _dtls.Role == DtlsRole.Client);
                    _sctp.Association.Connect(Now);
                    FlushSctp();
                }
            }
            else if (e.Kind == DtlsEventKind.ApplicationData && _sctp is { } sctp && e.Data is { } data)
            {
                sctp.HandlePacket(Now, data);
                FlushSctp();
            }
        }
    }

    private uint _lastSentTag;

    /// <summary>Sends what the association wants to send and takes what it delivered.</summary>
    private void FlushSctp()
    {
        if (_sctp is not { } sctp || _dtls is not { State: DtlsState.Connected } dtls) return;
        int n;
        while ((n = sctp.PollPacket(_sctpBuffer, Now)) > 0)
        {
            _lastSentTag = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(_sctpBuffer.AsSpan(4));
            dtls.SendApplicationData(_sctpBuffer.AsSpan(0, n));
        }
        while (dtls.TryPollDatagram(out var d)) _socket.SendTo(d, SocketFlags.None, _remote!);
        while (sctp.TryPollMessage(out var m))
        {
            ReceivedData.Enqueue((m.StreamId, m.Ppid, m.Data.ToArray()));
            m.Release();
        }
        while (sctp.TryPollEvent(out var e)) DataEvents.Enqueue(e);
    }

    private void Run()
    {
        var buffer = new byte[4096];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException)
            {
                n = 0;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            lock (_gate)
            {
                if (n > 0) Handle(buffer.AsSpan(0, n));
                var now = Now;
                if (_dtls is { } d && d.NextTimeout <= now)
                {
                    d.HandleTimeout(now);
                    Flush();
                }
                if (_sctp is { } sctp && sctp.Association.NextTimeout <= now)
                {
                    sctp.HandleTimeout(now);
                    FlushSctp();
                }
                if (now >= _nextBinding) SendBinding();
            }
        }
    }

    private void Handle(Span<byte> data)
    {
        switch (PacketClassifier.Classify(data))
        {
            case PacketKind.Stun:
                if (StunMessage.TryParse(data, out var message) && message.Class == StunClass.SuccessResponse) _iceAnswered = true;
                break;
            case PacketKind.Dtls:
                _dtls?.HandleDatagram(Now, data);
                Flush();
                break;
            case PacketKind.Rtp:
                if (_receive is null) return;
                if (_receive.UnprotectRtp(data, data.Length, out var rtp) != SrtpResult.Ok) { SrtpFailures++; return; }
                ReceivedRtp.Enqueue(data[..rtp].ToArray());
                break;
            case PacketKind.Rtcp:
                if (_receive is null) return;
                if (_receive.UnprotectRtcp(data, data.Length, out var rtcp) != SrtpResult.Ok) { SrtpFailures++; return; }
                ReceivedRtcp.Enqueue(data[..rtcp].ToArray());
                break;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _socket.Dispose();
        lock (_gate)
        {
            _sctp?.Dispose();
            _dtls?.Dispose();
            _send?.Dispose();
            _receive?.Dispose();
        }
        _context.Dispose();
    }
}
