using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocols;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;
using Ferry.Protocols.Stun;

namespace Ferry.Testing.Clients;

/// <summary>
/// The far end of a WebRtcTransport for tests, built only on Ferry.Protocols: a full-ICE controlling
/// agent that nominates the server's first candidate of its protocol, a DTLS client (or server), SRTP,
/// and an SCTP association with data channels (as mediasoup-client: negotiated channels by stream id).
/// Runs a real socket on 127.0.0.1 with its own receive thread: UDP, or in TCP mode an ICE-TCP active
/// connection to the server's passive candidate, every packet framed as RFC 4571 says. Every protocol
/// object is touched under one lock.
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
    private IPEndPoint? _pendingRemote;
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
    private readonly byte[] _frameBuffer = new byte[Rfc4571Framing.HeaderLength + 2048];
    private readonly ManualResetEventSlim _tcpConnected = new();
    private volatile bool _tcpClosedByPeer;
    private readonly byte[] _sctpBuffer = new byte[1500];
    private DataChannelEndpoint? _sctp;
    private SctpParameters? _sctpParameters;

    /// <summary>Creates a client bound to an ephemeral port on 127.0.0.1, speaking ICE over <paramref name="protocol"/>.</summary>
    public WebRtcTestClient(IReadOnlyList<SrtpProfile>? profiles = null, TransportProtocolName protocol = TransportProtocolName.Udp)
    {
        _context = new DtlsContext(Certificate, profiles);
        Protocol = protocol;
        // A large receive buffer: on a loaded machine this thread can lag, and the test must see what the server sent.
        _socket = protocol == TransportProtocolName.Tcp
            ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10, ReceiveBufferSize = 4 << 20, NoDelay = true }
            : new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 10, ReceiveBufferSize = 4 << 20 };
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _thread = new Thread(Run) { IsBackground = true, Name = "webrtc-test-client" };
        _thread.Start();
    }

    /// <summary>UDP, or TCP (ICE-TCP active, RFC 4571 framing).</summary>
    public TransportProtocolName Protocol { get; }

    /// <summary>TCP mode: the server closed (FIN) or reset the connection.</summary>
    public bool TcpClosedByPeer => _tcpClosedByPeer;

    /// <summary>The DTLS parameters to give the server's connect(): role client, sha-256 fingerprint.</summary>
    public DtlsParameters DtlsParameters => new()
    {
        Role = DtlsRoleName.Client,
        Fingerprints = [new DtlsFingerprint { Algorithm = "sha-256", Value = Certificate.Fingerprint("sha-256").Value }],
    };

    /// <summary>Decrypted RTP received, in arrival order.</summary>
    public ConcurrentQueue<byte[]> ReceivedRtp { get; } = new();

    /// <summary>When each packet of <see cref="ReceivedRtp"/> arrived (Stopwatch timestamps, same order).</summary>
    public ConcurrentQueue<long> ReceivedRtpAt { get; } = new();

    /// <summary>
    /// The UDP port each packet of <see cref="ReceivedRtp"/> came from (same order; 0 over TCP): after a move
    /// between processes it tells the relay (the old address) from the direct path (the new one).
    /// </summary>
    public ConcurrentQueue<int> ReceivedRtpFromPort { get; } = new();

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

    /// <summary>Decrypted data channel messages received: stream id, PPID, bytes (empty for PPID 56/57).</summary>
    public ConcurrentQueue<(ushort StreamId, uint Ppid, byte[] Data)> ReceivedData { get; } = new();

    /// <summary>What the SCTP association and data channels reported, in order.</summary>
    public ConcurrentQueue<DataChannelEvent> DataEvents { get; } = new();

    /// <summary>True once the SCTP association is established.</summary>
    public bool SctpConnected { get { lock (_gate) return _sctp?.Association.State == SctpState.Established; } }

    /// <summary>The SCTP association's counters (null before SCTP starts).</summary>
    public SctpCounters? SctpCounters { get { lock (_gate) return _sctp?.Association.Counters; } }

    /// <summary>
    /// Runs ICE against the server's first candidate of the client's protocol (in TCP mode: connects to
    /// it first) and the DTLS handshake as client; waits until SRTP is ready.
    /// </summary>
    /// <param name="iceParameters">The server's ICE credentials.</param>
    /// <param name="candidates">The server's candidates.</param>
    /// <param name="serverDtls">The server's DTLS parameters.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="sctpParameters">The server's sctpParameters: when given, an SCTP association starts once DTLS is up (as a browser's).</param>
    public async Task ConnectAsync(IceParameters iceParameters, IReadOnlyList<IceCandidate> candidates, DtlsParameters serverDtls, TimeSpan timeout, SctpParameters? sctpParameters = null)
    {
        OpenPath(candidates);
        lock (_gate)
        {
            _sctpParameters = sctpParameters;
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

    /// <summary>
    /// Points the client at the server's first candidate of its protocol without running ICE: in TCP
    /// mode the connection is open afterwards, for tests that send the server bytes of their own.
    /// </summary>
    public void OpenPath(IReadOnlyList<IceCandidate> candidates)
    {
        var candidate = candidates.First(c => c.Protocol == Protocol);
        if (Protocol == TransportProtocolName.Tcp && candidate.TcpType != IceTcpCandidateType.Passive)
            throw new InvalidOperationException("a TCP candidate to connect to must be passive");
        var remote = new IPEndPoint(IPAddress.Parse(candidate.Address), candidate.Port);
        lock (_gate)
        {
            if (_remote is not null) return;
            if (Protocol == TransportProtocolName.Tcp) _socket.Connect(remote);
            _remote = remote;
        }
        if (Protocol == TransportProtocolName.Tcp) _tcpConnected.Set();
    }

    /// <summary>
    /// ICE only, no DTLS: opens the path to the server's first candidate of the client's protocol and
    /// sends Binding requests (nominating) until one is answered with success; false on timeout or
    /// when the server refused (see <see cref="StunErrorResponses"/>). For tests of tuples and credentials.
    /// </summary>
    public async Task<bool> IceOnlyAsync(IceParameters iceParameters, IReadOnlyList<IceCandidate> candidates, TimeSpan timeout)
    {
        OpenPath(candidates);
        lock (_gate)
        {
            _remoteIce = iceParameters;
            _iceAnswered = false;
            SendBinding();
        }
        return await WaitUntilAsync(() => _iceAnswered || StunErrorResponses > 0, timeout) && _iceAnswered;
    }

    /// <summary>STUN error responses received (401 for wrong credentials, say).</summary>
    public int StunErrorResponses { get; private set; }

    /// <summary>TCP mode: closes the connection (FIN) as a browser leaving would; the client sends nothing afterwards.</summary>
    public void CloseTcp()
    {
        lock (_gate)
        {
            _socket.Shutdown(SocketShutdown.Both);
            _remote = null;
        }
    }

    /// <summary>Path switches made by <see cref="MovePath"/> (a success response from the new candidate).</summary>
    public int PathSwitches { get; private set; }

    /// <summary>DTLS handshake records received after SRTP was up (0 when no handshake ever ran again).</summary>
    public int DtlsHandshakeRecordsAfterConnect { get; private set; }

    /// <summary>Where the client sends now.</summary>
    public IPEndPoint? Remote { get { lock (_gate) return _remote; } }

    /// <summary>
    /// What a browser does when the server moved the transport to another process and signalled an ICE
    /// restart with a new candidate: new remote credentials, checks (nominating) to the new candidate and to
    /// the old address, and once the new candidate answers, everything goes there. UDP only.
    /// </summary>
    public void MovePath(IceParameters iceParameters, IceCandidate candidate)
    {
        lock (_gate)
        {
            _remoteIce = iceParameters;
            _pendingRemote = new IPEndPoint(IPAddress.Parse(candidate.Address), candidate.Port);
            SendBinding();
        }
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
            SendPacket(_sendBuffer.AsSpan(0, n));
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
            SendPacket(_sendBuffer.AsSpan(0, n));
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

    /// <summary>
    /// Sends raw bytes to the server (for bad-input tests): one datagram over UDP; over TCP the bytes go
    /// on the stream as they are, without framing (a test writes its own, good or bad).
    /// </summary>
    public void SendRaw(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (Protocol == TransportProtocolName.Udp)
            {
                _socket.SendTo(bytes, SocketFlags.None, _remote!);
                return;
            }
            try
            {
                _socket.Send(bytes);
            }
            catch (SocketException)
            {
                // The server closed the connection on an earlier write: what the test sends now is lost, as it would be.
                _tcpClosedByPeer = true;
            }
        }
    }

    /// <summary>Sends one packet as it is (no SRTP): a datagram, or an RFC 4571 frame over TCP.</summary>
    public void SendUnprotected(ReadOnlySpan<byte> packet)
    {
        lock (_gate) SendPacket(packet);
    }

    /// <summary>One packet to the server: a datagram, or one frame (header and packet in one write, so frames never interleave).</summary>
    private void SendPacket(ReadOnlySpan<byte> packet)
    {
        if (_remote is null) return;
        if (Protocol == TransportProtocolName.Udp)
        {
            _socket.SendTo(packet, SocketFlags.None, _remote);
            return;
        }
        if (_tcpClosedByPeer) return;
        Rfc4571Framing.WriteHeader(_frameBuffer, packet.Length);
        packet.CopyTo(_frameBuffer.AsSpan(Rfc4571Framing.HeaderLength));
        try
        {
            _socket.Send(_frameBuffer.AsSpan(0, Rfc4571Framing.HeaderLength + packet.Length));
        }
        catch (SocketException)
        {
            _tcpClosedByPeer = true;
        }
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
        SendPacket(buffer[..length]);
        if (_pendingRemote is { } pending)
        {
            _socket.SendTo(buffer[..length], SocketFlags.None, pending);
            // Until the new candidate answers, as often as a browser's checks go.
            _nextBinding = Now + TimeSpan.FromMilliseconds(50);
            return;
        }
        _nextBinding = Now + TimeSpan.FromSeconds(2);
    }

    private void Flush()
    {
        if (_dtls is null || _remote is null) return;
        while (_dtls.TryPollDatagram(out var d)) SendPacket(d);
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
        if (Protocol == TransportProtocolName.Tcp)
        {
            RunTcp();
            return;
        }
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
                if (n > 0) Handle(buffer.AsSpan(0, n), from as IPEndPoint);
                OnTick();
            }
        }
    }

    /// <summary>TCP mode: reads the stream, hands over every whole frame, keeps a partial one for the next read.</summary>
    private void RunTcp()
    {
        while (!_stop && !_tcpConnected.Wait(10)) { }
        var buffer = new byte[Rfc4571Framing.HeaderLength + Rfc4571Framing.MaxPacketLength + 65536];
        var filled = 0;
        while (!_stop)
        {
            var n = 0;
            if (!_tcpClosedByPeer)
            {
                try
                {
                    n = _socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                    // On a stream, 0 is the peer's FIN.
                    if (n == 0) _tcpClosedByPeer = true;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                }
                catch (SocketException)
                {
                    _tcpClosedByPeer = true;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
            else
            {
                Thread.Sleep(10);
            }
            lock (_gate)
            {
                filled += n;
                var offset = 0;
                while (Rfc4571Framing.TryReadFrame(buffer.AsSpan(offset, filled - offset), Rfc4571Framing.MaxPacketLength, out var length) == FrameReadResult.Frame)
                {
                    Handle(buffer.AsSpan(offset + Rfc4571Framing.HeaderLength, length), null);
                    offset += Rfc4571Framing.HeaderLength + length;
                }
                buffer.AsSpan(offset, filled - offset).CopyTo(buffer);
                filled -= offset;
                if (!_tcpClosedByPeer) OnTick();
            }
        }
    }

    /// <summary>Timers: DTLS retransmissions and the periodic Binding request (consent).</summary>
    private void OnTick()
    {
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
        if (now >= _nextFeedback) SendFeedback(now);
    }

    private void Handle(Span<byte> data, IPEndPoint? from)
    {
        switch (PacketClassifier.Classify(data))
        {
            case PacketKind.Stun:
                if (StunMessage.TryParse(data, out var message))
                {
                    if (message.Class == StunClass.SuccessResponse && _pendingRemote is { } pending && pending.Equals(from))
                    {
                        // The nominated check to the new candidate succeeded: everything goes there from now on (as a browser's selected pair).
                        _remote = pending;
                        _pendingRemote = null;
                        PathSwitches++;
                    }
                    if (message.Class == StunClass.SuccessResponse) _iceAnswered = true;
                    else if (message.Class == StunClass.ErrorResponse) StunErrorResponses++;
                }
                break;
            case PacketKind.Dtls:
                // Content type 22: a handshake record (a new handshake, or a retransmitted flight) after the session was up.
                if (_send is not null && data.Length > 0 && data[0] == 22) DtlsHandshakeRecordsAfterConnect++;
                _dtls?.HandleDatagram(Now, data);
                Flush();
                break;
            case PacketKind.Rtp:
                if (_receive is null) return;
                if (_receive.UnprotectRtp(data, data.Length, out var rtp) != SrtpResult.Ok) { SrtpFailures++; return; }
                OnRtp(data[..rtp], from?.Port ?? 0);
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
    private void OnRtp(Span<byte> data, int fromPort)
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
        ReceivedRtpAt.Enqueue(System.Diagnostics.Stopwatch.GetTimestamp());
        ReceivedRtpFromPort.Enqueue(fromPort);
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
        _tcpConnected.Dispose();
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
