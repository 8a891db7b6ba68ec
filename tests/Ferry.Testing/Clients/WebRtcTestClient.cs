using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocols;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;
using Ferry.Protocols.Stun;

namespace Ferry.Testing.Clients;

/// <summary>
/// The far end of a WebRtcTransport for tests, built only on Ferry.Protocols: a full-ICE controlling
/// agent that nominates the server's first UDP candidate, a DTLS client (or server), and SRTP. Runs a
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
    private readonly byte[] _feedbackBuffer = new byte[1500];
    private readonly TransportCcBuilder _transportCc = new();
    private readonly Random _linkRandom = new(17);
    private TimeSpan _busyUntil;
    private uint _lastAbsSendTime;
    private long _absSendTimeUnwrapped = -1;
    private TimeSpan _nextFeedback;
    private uint _lastMediaSsrc;
    private readonly HashSet<uint> _ssrcsSeen = [];

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

    /// <summary>The congestion feedback this client sends for the RTP it receives (as a browser would, per what it negotiated).</summary>
    public CongestionFeedback Feedback { get; set; }

    /// <summary>The header extension id of transport-wide sequence numbers in the RTP it receives (the consumer's).</summary>
    public int TransportWideCcExtensionId { get; set; }

    /// <summary>
    /// The header extension id of abs-send-time in the RTP it receives (the consumer's). When set, the simulated
    /// path runs on the sender's clock: each packet enters the bottleneck at the time the server stamped on it,
    /// so this client's own scheduling delays (a loaded machine) do not show as queuing in its feedback.
    /// </summary>
    public int AbsSendTimeExtensionId { get; set; }

    /// <summary>The value of the REMBs it sends when <see cref="Feedback"/> is REMB (bps).</summary>
    public long RembBitrate { get; set; } = 1_000_000;

    /// <summary>
    /// The simulated path the RTP it receives went through, as its feedback reports it: a bottleneck of this
    /// many bits per second (0: none) whose queue delays each packet's reported arrival, and drops it when the
    /// queue would hold more than <see cref="DownlinkMaxQueueDelay"/>.
    /// </summary>
    public long DownlinkCapacity
    {
        get { lock (_gate) return _downlinkCapacity; }
        set { lock (_gate) _downlinkCapacity = value; }
    }

    private long _downlinkCapacity;

    /// <summary>Constant one-way delay of the simulated path, added to every reported arrival.</summary>
    public TimeSpan DownlinkDelay { get; set; }

    /// <summary>Random loss on the simulated path (0..1).</summary>
    public double DownlinkLoss
    {
        get { lock (_gate) return _downlinkLoss; }
        set { lock (_gate) _downlinkLoss = value; }
    }

    private double _downlinkLoss;

    /// <summary>The most queuing the simulated bottleneck holds before it drops.</summary>
    public TimeSpan DownlinkMaxQueueDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>RTP packets the simulated path dropped (reported lost, not in <see cref="ReceivedRtp"/>).</summary>
    public long SimulatedDrops { get; private set; }

    /// <summary>Padding-only RTP packets received (counted for feedback, not kept in <see cref="ReceivedRtp"/>).</summary>
    public long PaddingReceived { get; private set; }

    /// <summary>Transport-cc feedback packets sent.</summary>
    public long FeedbackSent { get; private set; }

    /// <summary>True once DTLS connected and SRTP keys are in place.</summary>
    public bool IsConnected { get { lock (_gate) return _send is not null; } }

    /// <summary>The client's own address.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    private TimeSpan Now => TimeSpan.FromMilliseconds(Environment.TickCount64 - _origin);

    /// <summary>Runs ICE against the server's first UDP candidate and the DTLS handshake as client; waits until SRTP is ready.</summary>
    public async Task ConnectAsync(IceParameters iceParameters, IReadOnlyList<IceCandidate> candidates, DtlsParameters serverDtls, TimeSpan timeout)
    {
        var candidate = candidates.First(c => c.Protocol == TransportProtocolName.Udp);
        lock (_gate)
        {
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
            }
        }
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
                if (now >= _nextBinding) SendBinding();
                if (now >= _nextFeedback) SendFeedback(now);
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
                OnRtp(data[..rtp]);
                break;
            case PacketKind.Rtcp:
                if (_receive is null) return;
                if (_receive.UnprotectRtcp(data, data.Length, out var rtcp) != SrtpResult.Ok) { SrtpFailures++; return; }
                ReceivedRtcp.Enqueue(data[..rtcp].ToArray());
                break;
        }
    }

    /// <summary>
    /// One decrypted RTP packet: through the simulated path (queue delay, drops), recorded for the feedback,
    /// then kept unless it was dropped or is padding.
    /// </summary>
    private void OnRtp(Span<byte> data)
    {
        if (!RtpPacket.TryParse(data, out var packet)) return;
        var now = SentAt(ref packet) ?? Now;
        var arrival = now;
        var dropped = _downlinkLoss > 0 && _linkRandom.NextDouble() < _downlinkLoss;
        // What is still queued from a bottleneck just lifted arrives first: arrivals never go back in time.
        if (_busyUntil > arrival) arrival = _busyUntil;
        if (!dropped && _downlinkCapacity > 0)
        {
            var start = _busyUntil > now ? _busyUntil : now;
            var departure = start + TimeSpan.FromTicks(data.Length * 8L * TimeSpan.TicksPerSecond / _downlinkCapacity);
            if (departure - now > DownlinkMaxQueueDelay) dropped = true;
            else
            {
                _busyUntil = departure;
                arrival = departure;
            }
        }
        if (TransportWideCcExtensionId != 0 && !dropped && packet.TryGetExtension(TransportWideCcExtensionId, out var value)
            && RtpExtensionValues.TryReadTransportWideSequence(value, out var sequence))
        {
            _transportCc.OnPacket(sequence, (arrival + DownlinkDelay).Ticks / 10);
        }
        if (dropped)
        {
            SimulatedDrops++;
            return;
        }
        _ssrcsSeen.Add(packet.Ssrc);
        if (packet.PayloadLength == 0)
        {
            PaddingReceived++;
            return;
        }
        _lastMediaSsrc = packet.Ssrc;
        ReceivedRtp.Enqueue(data.ToArray());
    }

    /// <summary>The server's send time of a packet from its abs-send-time (24 bits of 1/2^18 s, wrapping every 64 s), unwrapped; null without it.</summary>
    private TimeSpan? SentAt(ref RtpPacket packet)
    {
        if (AbsSendTimeExtensionId == 0 || !packet.TryGetExtension(AbsSendTimeExtensionId, out var value)
            || !RtpExtensionValues.TryReadAbsSendTime(value, out var abs)) return null;
        if (_absSendTimeUnwrapped < 0) _absSendTimeUnwrapped = abs;
        else
        {
            var delta = (int)((abs - _lastAbsSendTime) & 0xFFFFFF);
            if (delta >= 0x800000) delta -= 0x1000000;
            _absSendTimeUnwrapped += delta;
        }
        _lastAbsSendTime = abs;
        return TimeSpan.FromTicks(_absSendTimeUnwrapped * TimeSpan.TicksPerSecond / (1 << 18));
    }

    /// <summary>Transport-cc feedback every 50 ms (as Chrome sends it) or a REMB every 250 ms.</summary>
    private void SendFeedback(TimeSpan now)
    {
        if (_send is null || _remote is null || Feedback == CongestionFeedback.None)
        {
            _nextFeedback = now + TimeSpan.FromMilliseconds(50);
            return;
        }
        if (Feedback == CongestionFeedback.TransportCc)
        {
            for (var guard = 0; guard < 8 && _transportCc.HasPending; guard++)
            {
                var length = _transportCc.Write(_feedbackBuffer, 0x5EED, _lastMediaSsrc);
                if (length <= 0) break;
                SendRtcpLocked(_feedbackBuffer.AsSpan(0, length));
                FeedbackSent++;
            }
            _nextFeedback = now + TimeSpan.FromMilliseconds(50);
            return;
        }
        Span<uint> ssrcs = stackalloc uint[16];
        var count = 0;
        foreach (var ssrc in _ssrcsSeen)
        {
            if (count < ssrcs.Length) ssrcs[count++] = ssrc;
        }
        var n = Remb.Write(_feedbackBuffer, 0x5EED, (ulong)RembBitrate, ssrcs[..count]);
        if (n > 0) SendRtcpLocked(_feedbackBuffer.AsSpan(0, n));
        _nextFeedback = now + TimeSpan.FromMilliseconds(250);
    }

    private void SendRtcpLocked(ReadOnlySpan<byte> rtcp)
    {
        rtcp.CopyTo(_sendBuffer);
        if (_send!.ProtectRtcp(_sendBuffer, rtcp.Length, out var n) != SrtpResult.Ok) return;
        _socket.SendTo(_sendBuffer.AsSpan(0, n), SocketFlags.None, _remote!);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _socket.Dispose();
        lock (_gate)
        {
            _dtls?.Dispose();
            _send?.Dispose();
            _receive?.Dispose();
        }
        _context.Dispose();
    }
}

/// <summary>What congestion feedback a test client sends for the media it receives.</summary>
public enum CongestionFeedback
{
    /// <summary>None.</summary>
    None,
    /// <summary>Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).</summary>
    TransportCc,
    /// <summary>REMB with <see cref="WebRtcTestClient.RembBitrate"/> (draft-alvestrand-rmcat-remb-03).</summary>
    Remb,
}
