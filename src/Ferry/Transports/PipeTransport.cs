using System.Net;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;
using Ferry.Rtp;

namespace Ferry.Transports;

/// <summary>
/// One end of a pipe between two routers (mediasoup's PipeTransport): RTP and RTCP over one UDP
/// socket to a remote set by <see cref="ConnectAsync"/>, optionally SRTP (AEAD_AES_256_GCM) with keys
/// exchanged by the application. Its consumers are pipe consumers, forwarding every stream of their
/// producer; its producers keep the CNAME (and the id) they are given.
/// </summary>
public sealed class PipeTransport : Transport
{
    private readonly UdpSocket _socket;

    internal override IEnumerable<IMovableSocket> Sockets => [_socket];
    private readonly byte[]? _localKeyAndSalt;
    private SockAddr _remote;
    private SrtpSession? _srtpSend;
    private SrtpSession? _srtpReceive;
    private protected override SrtpSession? ReceiveSrtp => _srtpReceive;
    private protected override SrtpSession? SendSrtp => _srtpSend;
    private bool _connectCalled;
    private bool _connected;
    private volatile TransportTupleInfo _tuple;

    private PipeTransport(Router router, PipeTransportOptions options, UdpSocket socket, SocketReceiver receiver) : base(router, options.AppData)
    {
        receiver.Owner = this;
        _socket = socket;
        EnableRtx = options.EnableRtx;
        EnableSrtp = options.EnableSrtp;
        _tuple = PlainTransport.LocalTuple(options.ListenInfo.AnnouncedAddress ?? options.ListenInfo.Ip, socket);
        if (EnableSrtp)
        {
            _localKeyAndSalt = SdesKeys.Generate(SrtpProfile.AeadAes256Gcm);
            SrtpParameters = SdesKeys.ToParameters(SrtpProfile.AeadAes256Gcm, _localKeyAndSalt);
        }
    }

    /// <summary>Binds the socket and creates the transport; call on the router's loop.</summary>
    internal static PipeTransport Create(Router router, PipeTransportOptions options)
    {
        var receiver = new SocketReceiver();
        var socket = PlainTransport.BindUdp(router, options.ListenInfo, receiver, allowFixedPort: true);
        try
        {
            return new PipeTransport(router, options, socket, receiver);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Pipe consumers offer RTX and answer NACKs.</summary>
    public bool EnableRtx { get; }

    /// <summary>SRTP is enabled.</summary>
    public bool EnableSrtp { get; }

    /// <summary>The tuple: local address and port, and the remote ones once connected.</summary>
    public TransportTupleInfo Tuple => _tuple;

    /// <summary>The local SRTP suite (always AEAD_AES_256_GCM) and key, for the other end's connect; null without SRTP.</summary>
    public SrtpParameters? SrtpParameters { get; }

    /// <summary>SCTP is not yet supported: always null.</summary>
    public SctpParameters? SctpParameters => null;

    /// <summary>Packets that failed SRTP/SRTCP authentication or replay checks.</summary>
    public long SrtpFailures { get; private set; }

    /// <summary>Packets from an address other than the remote one, or before connect.</summary>
    public long UnknownTupleDrops { get; private set; }

    internal override bool IsConnected => _connected;

    /// <summary>Creates a pipe consumer: every stream of the producer, with new SSRCs (mediasoup's pipeTransport.consume()).</summary>
    /// <exception cref="InvalidOperationException">Producer not found.</exception>
    public Task<Consumer> ConsumeAsync(PipeConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The capabilities are not used for a pipe (its parameters come from the producer alone).
        return ConsumeAsync(new ConsumerOptions { ProducerId = options.ProducerId, RtpCapabilities = Router.RtpCapabilities, AppData = options.AppData });
    }

    /// <summary>Sets the other end's address and, with SRTP, its key (mediasoup's connect()).</summary>
    /// <exception cref="ArgumentException">Missing or malformed ip/port; SRTP parameters missing, forbidden or not AEAD_AES_256_GCM.</exception>
    /// <exception cref="InvalidOperationException">connect() already called.</exception>
    public Task ConnectAsync(string ip, int port, SrtpParameters? srtpParameters = null)
    {
        ThrowIfClosed();
        byte[]? remoteKey = null;
        if (EnableSrtp)
        {
            if (srtpParameters is null) throw new ArgumentException("missing srtpParameters (SRTP enabled)");
            remoteKey = SdesKeys.Parse(srtpParameters, p => p == SrtpProfile.AeadAes256Gcm).KeyAndSalt;
        }
        else if (srtpParameters is not null)
        {
            throw new ArgumentException("invalid srtpParameters (SRTP not enabled)");
        }
        if (string.IsNullOrEmpty(ip)) throw new ArgumentException("missing ip");
        if (!PlainTransportOptions.IsStrictIp(ip, out var address)) throw new ArgumentException($"invalid ip '{ip}'");
        if (port is < 1 or > 65535) throw new ArgumentException("missing or invalid port");
        var remote = new IPEndPoint(address, port);
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (_connectCalled) throw new InvalidOperationException("connect() already called");
            _connectCalled = true;
            if (remoteKey is not null)
            {
                _srtpSend = SdesKeys.CreateSession(SrtpProfile.AeadAes256Gcm, _localKeyAndSalt!);
                _srtpReceive = SdesKeys.CreateSession(SrtpProfile.AeadAes256Gcm, remoteKey);
            }
            _remote = SockAddr.From(remote);
            _tuple = _tuple with { RemoteIp = address.ToString(), RemotePort = port };
            _connected = true;
            OnConnected();
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
                Type = "pipe-transport", TransportId = Id, Timestamp = (long)Loop.Now.TotalMilliseconds,
                BytesReceived = _socket.BytesReceived, BytesSent = _socket.BytesSent, Tuple = _tuple,
            }),
        ]);
    }

    /// <summary>mediasoup: pipe transports keep each producer's own CNAME (it is the original producer's).</summary>
    private protected override RtpParameters ApplyCnamePolicy(RtpParameters parameters) => parameters;

    private sealed class SocketReceiver : IUdpReceiver
    {
        public PipeTransport? Owner;

        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => Owner?.OnDatagram(data, from);

        public ILoopFaultHandler? FaultOwner => Owner;
    }

    private void OnDatagram(Span<byte> data, in SockAddr from)
    {
        if (Closed) return;
        CountReceived(data.Length, Loop.Now);
        if (!_connected || !_remote.Equals(from))
        {
            UnknownTupleDrops++;
            return;
        }
        int length;
        switch (PacketClassifier.Classify(data))
        {
            case PacketKind.Rtp:
                length = data.Length;
                if (_srtpReceive is { } rtpSrtp && UnprotectRtp(rtpSrtp, data, out length) != SrtpResult.Ok) { SrtpFailures++; return; }
                ReceiveRtp(data[..length]);
                break;
            case PacketKind.Rtcp:
                length = data.Length;
                if (_srtpReceive is { } rtcpSrtp && UnprotectRtcp(rtcpSrtp, data, out length) != SrtpResult.Ok) { SrtpFailures++; return; }
                ReceiveRtcp(data[..length]);
                break;
            default:
                UnknownTupleDrops++;
                break;
        }
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
        if (_srtpSend is { } srtp && srtp.ProtectRtcp(buffer, length, out length) != SrtpResult.Ok) return;
        _socket.SendTo(buffer[..length], _remote);
    }

    private protected override void ReleaseResources()
    {
        _socket.Dispose();
        _srtpSend?.Dispose();
        _srtpReceive?.Dispose();
        _srtpSend = null;
        _srtpReceive = null;
        _connected = false;
    }
}
