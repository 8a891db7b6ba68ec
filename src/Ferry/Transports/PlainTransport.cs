using System.Net;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;

namespace Ferry.Transports;

/// <summary>
/// Plain RTP and RTCP over UDP, as mediasoup's PlainTransport: no ICE, no DTLS. The remote address
/// is given to <see cref="ConnectAsync"/> or, with comedia, learnt from the first packet; SRTP, when
/// enabled, is keyed by signalling (each side gives the other its key). RTCP shares the RTP port
/// unless rtcp-mux is off, then it has its own socket.
/// </summary>
public sealed class PlainTransport : Transport
{
    private readonly UdpSocket _socket;
    private readonly UdpSocket? _rtcpSocket;

    internal override IEnumerable<IMovableSocket> Sockets => _rtcpSocket is null ? [_socket] : [_socket, _rtcpSocket];
    private readonly string _localAddress;
    private readonly string _rtcpLocalAddress;
    private SockAddr _remote;
    private SockAddr _remoteRtcp;
    private SrtpProfile _srtpProfile;
    private byte[]? _localKeyAndSalt;
    private SrtpSession? _srtpSend;
    private SrtpSession? _srtpReceive;
    private protected override SrtpSession? ReceiveSrtp => _srtpReceive;
    private protected override SrtpSession? SendSrtp => _srtpSend;
    private bool _connectCalled;
    private bool _connected;
    private volatile TransportTupleInfo _tuple;
    private volatile TransportTupleInfo? _rtcpTuple;
    private volatile SrtpParameters? _srtpParameters;

    private PlainTransport(Router router, PlainTransportOptions options, UdpSocket socket, UdpSocket? rtcpSocket, SocketReceiver receiver) : base(router, options.AppData)
    {
        receiver.Owner = this;
        _socket = socket;
        _rtcpSocket = rtcpSocket;
        RtcpMux = rtcpSocket is null;
        Comedia = options.Comedia;
        EnableSrtp = options.EnableSrtp;
        _localAddress = options.ListenInfo.AnnouncedAddress ?? options.ListenInfo.Ip;
        var rtcpInfo = options.RtcpListenInfo ?? options.ListenInfo;
        _rtcpLocalAddress = rtcpInfo.AnnouncedAddress ?? rtcpInfo.Ip;
        _tuple = LocalTuple(_localAddress, socket);
        _rtcpTuple = rtcpSocket is null ? null : LocalTuple(_rtcpLocalAddress, rtcpSocket);
        if (EnableSrtp)
        {
            SrtpProfiles.TryParseMediasoupName(options.SrtpCryptoSuite, out _srtpProfile);
            _localKeyAndSalt = SdesKeys.Generate(_srtpProfile);
            _srtpParameters = SdesKeys.ToParameters(_srtpProfile, _localKeyAndSalt);
        }
    }

    /// <summary>Binds the sockets and creates the transport; call on the router's loop.</summary>
    internal static PlainTransport Create(Router router, PlainTransportOptions options)
    {
        var receiver = new SocketReceiver();
        var socket = BindUdp(router, options.ListenInfo, receiver, allowFixedPort: true);
        UdpSocket? rtcpSocket = null;
        try
        {
            // mediasoup: a separate RTCP listen info implies no rtcp-mux; without one, rtcp-mux off
            // takes a second port on the RTP listen IP.
            if (options.RtcpListenInfo is { } rtcpInfo) rtcpSocket = BindUdp(router, rtcpInfo, receiver, allowFixedPort: true);
            else if (!options.RtcpMux) rtcpSocket = BindUdp(router, options.ListenInfo, receiver, allowFixedPort: false);
            return new PlainTransport(router, options, socket, rtcpSocket, receiver);
        }
        catch
        {
            rtcpSocket?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Binds a UDP socket as a listen info says: its port range, else its port, else the worker's range.</summary>
    internal static UdpSocket BindUdp(Router router, TransportListenInfo info, IUdpReceiver receiver, bool allowFixedPort)
    {
        var (min, max) = info.PortRange is { Min: > 0, Max: > 0 } r ? (r.Min, r.Max)
            : allowFixedPort && info.Port != 0 ? (info.Port, info.Port)
            : (router.Worker.Settings.RtcMinPort, router.Worker.Settings.RtcMaxPort);
        return UdpSocket.Bind(router.Loop, info.ParsedIp, min, max, receiver);
    }

    internal static TransportTupleInfo LocalTuple(string localAddress, UdpSocket socket) => new()
    {
        LocalAddress = localAddress,
        LocalIp = localAddress,
        LocalPort = socket.LocalEndPoint.Port,
        Protocol = TransportProtocolName.Udp,
    };

    /// <summary>RTP and RTCP share the RTP port.</summary>
    public bool RtcpMux { get; }

    /// <summary>The remote address is learnt from the first packet.</summary>
    public bool Comedia { get; }

    /// <summary>SRTP is enabled.</summary>
    public bool EnableSrtp { get; }

    /// <summary>The RTP tuple: local address and port, and the remote ones once known.</summary>
    public TransportTupleInfo Tuple => _tuple;

    /// <summary>The RTCP tuple; null with rtcp-mux.</summary>
    public TransportTupleInfo? RtcpTuple => _rtcpTuple;

    /// <summary>The local SRTP suite and key (what the remote decrypts with); null without SRTP.</summary>
    public SrtpParameters? SrtpParameters => _srtpParameters;

    /// <summary>SCTP is not yet supported: always null.</summary>
    public SctpParameters? SctpParameters => null;

    /// <summary>Raised when comedia learns the remote RTP tuple (mediasoup's "tuple" event).</summary>
    public event Action<TransportTupleInfo>? TupleChange;

    /// <summary>Raised when comedia learns the remote RTCP tuple without rtcp-mux (mediasoup's "rtcptuple" event).</summary>
    public event Action<TransportTupleInfo>? RtcpTupleChange;

    /// <summary>Packets that failed SRTP/SRTCP authentication or replay checks.</summary>
    public long SrtpFailures { get; private set; }

    /// <summary>Packets from an address other than the remote one, or before the remote is known.</summary>
    public long UnknownTupleDrops { get; private set; }

    internal override bool IsConnected => _connected;

    /// <summary>
    /// Gives the remote parameters (mediasoup's connect()): without comedia the remote <paramref name="ip"/>
    /// and <paramref name="port"/> (and <paramref name="rtcpPort"/> without rtcp-mux); with SRTP the remote's
    /// key. A remote suite other than the local one replaces it (new local keys in <see cref="SrtpParameters"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Parameters missing, forbidden or malformed (mediasoup's TypeError).</exception>
    /// <exception cref="InvalidOperationException">connect() already called.</exception>
    public Task ConnectAsync(string? ip = null, int? port = null, int? rtcpPort = null, SrtpParameters? srtpParameters = null)
    {
        ThrowIfClosed();
        (SrtpProfile Profile, byte[] KeyAndSalt)? remoteSrtp = null;
        if (EnableSrtp)
        {
            if (srtpParameters is null) throw new ArgumentException("missing srtpParameters (SRTP enabled)");
            remoteSrtp = SdesKeys.Parse(srtpParameters, _ => true);
        }
        else if (srtpParameters is not null)
        {
            throw new ArgumentException("invalid srtpParameters (SRTP not enabled)");
        }
        IPEndPoint? remote = null, remoteRtcp = null;
        if (!Comedia)
        {
            if (string.IsNullOrEmpty(ip)) throw new ArgumentException("missing ip");
            if (!PlainTransportOptions.IsStrictIp(ip, out var address)) throw new ArgumentException($"invalid ip '{ip}'");
            if (port is not (>= 1 and <= 65535)) throw new ArgumentException("missing or invalid port");
            if (RtcpMux && rtcpPort is not null) throw new ArgumentException("cannot set rtcpPort with rtcpMux enabled");
            if (!RtcpMux && rtcpPort is not (>= 1 and <= 65535)) throw new ArgumentException("missing or invalid rtcpPort (required with rtcpMux disabled)");
            remote = new IPEndPoint(address, port.Value);
            if (!RtcpMux) remoteRtcp = new IPEndPoint(address, rtcpPort!.Value);
        }
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (_connectCalled) throw new InvalidOperationException("connect() already called");
            _connectCalled = true;
            if (remoteSrtp is { } s)
            {
                if (s.Profile != _srtpProfile)
                {
                    // Both directions use one suite: follow the remote's, with fresh local keys of its size.
                    _srtpProfile = s.Profile;
                    _localKeyAndSalt = SdesKeys.Generate(_srtpProfile);
                    _srtpParameters = SdesKeys.ToParameters(_srtpProfile, _localKeyAndSalt);
                }
                _srtpSend = SdesKeys.CreateSession(_srtpProfile, _localKeyAndSalt!);
                _srtpReceive = SdesKeys.CreateSession(s.Profile, s.KeyAndSalt);
            }
            if (remote is not null)
            {
                _remote = SockAddr.From(remote);
                _tuple = _tuple with { RemoteIp = remote.Address.ToString(), RemotePort = remote.Port };
            }
            if (remoteRtcp is not null)
            {
                _remoteRtcp = SockAddr.From(remoteRtcp);
                _rtcpTuple = _rtcpTuple! with { RemoteIp = remoteRtcp.Address.ToString(), RemotePort = remoteRtcp.Port };
            }
            UpdateConnected();
        });
    }

    /// <summary>Transport statistics with mediasoup's field names.</summary>
    public Task<IReadOnlyList<TransportStats>> GetStatsAsync()
    {
        ThrowIfClosed();
        return InvokeAsync(() => (IReadOnlyList<TransportStats>)
        [
            WithCommonStats(new TransportStats
            {
                Type = "plain-rtp-transport", TransportId = Id, Timestamp = (long)Loop.Now.TotalMilliseconds,
                BytesReceived = _socket.BytesReceived + (_rtcpSocket?.BytesReceived ?? 0),
                BytesSent = _socket.BytesSent + (_rtcpSocket?.BytesSent ?? 0),
                RtcpMux = RtcpMux, Comedia = Comedia, Tuple = _tuple, RtcpTuple = _rtcpTuple,
            }),
        ]);
    }

    private sealed class SocketReceiver : IUdpReceiver
    {
        // Set by the constructor: the sockets exist (and are registered) before the transport does.
        public PlainTransport? Owner;

        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => Owner?.OnDatagram(socket, data, from);

        public ILoopFaultHandler? FaultOwner => Owner;
    }

    private void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        if (Closed) return;
        CountReceived(data.Length, Loop.Now);
        switch (PacketClassifier.Classify(data))
        {
            case PacketKind.Rtp:
                OnRtp(data, from);
                break;
            case PacketKind.Rtcp:
                OnRtcp(data, from);
                break;
            default:
                UnknownTupleDrops++;
                break;
        }
    }

    private void OnRtp(Span<byte> data, in SockAddr from)
    {
        var learn = false;
        if (_remote.IsEmpty)
        {
            if (!Comedia) { UnknownTupleDrops++; return; }
            learn = true;
        }
        else if (!_remote.Equals(from))
        {
            UnknownTupleDrops++;
            return;
        }
        var length = data.Length;
        if (EnableSrtp)
        {
            if (_srtpReceive is null) { RtpPacketsDropped++; return; }
            if (UnprotectRtp(_srtpReceive, data, out length) != SrtpResult.Ok) { SrtpFailures++; return; }
        }
        // Learn only from a packet that passed SRTP: a forged packet must not steal the media.
        if (learn) LearnTuple(from);
        ReceiveRtp(data[..length]);
    }

    private void OnRtcp(Span<byte> data, in SockAddr from)
    {
        var learn = false;
        ref var expected = ref RtcpMux ? ref _remote : ref _remoteRtcp;
        if (expected.IsEmpty)
        {
            if (!Comedia) { UnknownTupleDrops++; return; }
            learn = true;
        }
        else if (!expected.Equals(from))
        {
            UnknownTupleDrops++;
            return;
        }
        var length = data.Length;
        if (EnableSrtp)
        {
            if (_srtpReceive is null) { RtcpPacketsDropped++; return; }
            if (UnprotectRtcp(_srtpReceive, data, out length) != SrtpResult.Ok) { SrtpFailures++; return; }
        }
        if (learn)
        {
            if (RtcpMux) LearnTuple(from);
            else LearnRtcpTuple(from);
        }
        ReceiveRtcp(data[..length]);
    }

    private void LearnTuple(in SockAddr from)
    {
        _remote = from;
        var endpoint = from.ToEndPoint();
        _tuple = _tuple with { RemoteIp = endpoint.Address.ToString(), RemotePort = endpoint.Port };
        Events.Emit(TupleChange, _tuple, Logger);
        UpdateConnected();
    }

    private void LearnRtcpTuple(in SockAddr from)
    {
        _remoteRtcp = from;
        var endpoint = from.ToEndPoint();
        _rtcpTuple = _rtcpTuple! with { RemoteIp = endpoint.Address.ToString(), RemotePort = endpoint.Port };
        Events.Emit(RtcpTupleChange, _rtcpTuple, Logger);
    }

    private void UpdateConnected()
    {
        var connected = !_remote.IsEmpty && (!EnableSrtp || _srtpSend is not null);
        if (connected == _connected) return;
        _connected = connected;
        if (connected) OnConnected();
    }

    private protected override void SendRtp(Span<byte> buffer, int length)
    {
        if (!_connected) return;
        if (_srtpSend is { } srtp && srtp.ProtectRtp(buffer, length, out length) != SrtpResult.Ok) return;
        _socket.SendTo(buffer[..length], _remote);
    }

    private protected override void SendRtcp(Span<byte> buffer, int length)
    {
        if (!_connected) return;
        // Without rtcp-mux and before comedia learnt the RTCP address there is nowhere to send it.
        if (!RtcpMux && _remoteRtcp.IsEmpty) return;
        if (_srtpSend is { } srtp && srtp.ProtectRtcp(buffer, length, out length) != SrtpResult.Ok) return;
        if (RtcpMux) _socket.SendTo(buffer[..length], _remote);
        else _rtcpSocket!.SendTo(buffer[..length], _remoteRtcp);
    }

    private protected override void ReleaseResources()
    {
        _socket.Dispose();
        _rtcpSocket?.Dispose();
        _srtpSend?.Dispose();
        _srtpReceive?.Dispose();
        _srtpSend = null;
        _srtpReceive = null;
        _connected = false;
    }
}
