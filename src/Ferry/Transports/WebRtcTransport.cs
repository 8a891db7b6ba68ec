using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;
using Microsoft.Extensions.Logging;

namespace Ferry.Transports;

/// <summary>
/// A WebRTC transport as mediasoup has it: ICE-lite (controlled) on its own UDP sockets and TCP
/// listeners (ICE-TCP passive candidates, RFC 6544) or on a WebRtcServer's, DTLS-SRTP, and the media
/// of its producers and consumers. Packets (UDP datagrams or RFC 4571 frames) are demultiplexed per
/// RFC 7983 on the worker's loop; SRTP is protected and unprotected in place; whatever goes out goes
/// on the tuple ICE selected, UDP or TCP.
/// </summary>
public sealed partial class WebRtcTransport : Transport
{
    private const int StunResponseCapacity = 512;

    private readonly List<UdpSocket> _sockets = [];
    private readonly Dictionary<TransportTuple, Route> _tupleRoutes = new();
    private readonly IceLiteAgent _ice;
    private readonly LoopTimer _timer;
    private readonly byte[] _stunResponse = new byte[StunResponseCapacity];
    private readonly SocketReceiver _receiver;
    private DtlsEndpoint? _dtls;
    private WebRtcServer? _server;
    private DtlsRole? _localRole;
    private DtlsFingerprintValue? _remoteFingerprint;
    private SrtpSession? _srtpSend;
    private SrtpSession? _srtpReceive;
    private protected override SrtpSession? ReceiveSrtp => _srtpReceive;
    private protected override SrtpSession? SendSrtp => _srtpSend;
    private Route _selected;
    private bool _connectCalled;
    private volatile IceStateName _iceState = IceStateName.New;
    private volatile DtlsStateName _dtlsState = DtlsStateName.New;
    private volatile TransportTupleInfo? _selectedTuple;
    private volatile IceParameters _iceParameters;
    private volatile DtlsParameters _dtlsParameters;
    private bool _connected;
    private SctpLink? _sctp;

    private WebRtcTransport(Router router, WebRtcTransportOptions options, Mobility.Remote.WebRtcTransportSnapshot? imported = null)
        : base(router, options.AppData, options.InitialAvailableOutgoingBitrate, imported?.Id)
    {
        if (imported is null)
        {
            var (ufrag, password) = IceLiteAgent.GenerateCredentials();
            _ice = new IceLiteAgent(ufrag, password, TimeSpan.FromSeconds(options.IceConsentTimeout));
            _iceParameters = new IceParameters { UsernameFragment = ufrag, Password = password, IceLite = true };
            var certificate = router.Worker.DtlsContext.Certificate;
            // mediasoup-client puts the last fingerprint in its SDP: sha-256 last, which every browser accepts.
            var fingerprints = certificate.Fingerprints.OrderBy(f => f.Algorithm == "sha-256" ? 1 : 0)
                .Select(f => new DtlsFingerprint { Algorithm = f.Algorithm, Value = f.Value }).ToList();
            _dtlsParameters = new DtlsParameters { Role = DtlsRoleName.Auto, Fingerprints = fingerprints };
        }
        else
        {
            // Brought in by a move between processes: the far end's ICE and DTLS go on, with the move's new credentials added.
            _ice = ImportIce(imported, router.Loop.Now);
            _iceParameters = imported.NextIceParameters;
            _dtlsParameters = imported.DtlsParameters;
        }
        _timer = CreateOwnedTimer(OnTimer);
        _receiver = new SocketReceiver(this);
        _tcpReceiver = new TcpReceiver(this);
        IceCandidates = [];
        if (options.EnableSctp)
        {
            var parameters = new SctpParameters { Port = 5000, Os = options.NumSctpStreams.Os, Mis = options.NumSctpStreams.Mis, MaxMessageSize = options.MaxSctpMessageSize };
            _sctp = NewSctpLink(parameters, options.SctpSendBufferSize, imported?.Sctp, imported?.SctpState ?? SctpStateName.New);
        }
    }

    private SctpLink NewSctpLink(SctpParameters parameters, int sendBufferSize, Protocols.Sctp.DataChannelEndpointState? imported, SctpStateName state) =>
        new(this, parameters, sendBufferSize, SendSctpPacket, s => Events.Emit(SctpStateChange, s, Logger), imported, state);

    internal static WebRtcTransport Create(Router router, WebRtcTransportOptions options)
    {
        var transport = new WebRtcTransport(router, options);
        try
        {
            transport.Listen(options);
        }
        catch
        {
            transport.ReleaseResources();
            throw;
        }
        return transport;
    }

    /// <summary>Always "controlled" (Ferry is ICE-lite).</summary>
    public IceRole IceRole => IceRole.Controlled;

    /// <summary>Current ICE credentials.</summary>
    public IceParameters IceParameters => _iceParameters;

    /// <summary>Host candidates, one per listen info, in preference order.</summary>
    public IReadOnlyList<IceCandidate> IceCandidates { get; private set; }

    /// <summary>ICE state.</summary>
    public IceStateName IceState => _iceState;

    /// <summary>The tuple media flows on while ICE has one selected (null before, and after ICE lost every tuple).</summary>
    public TransportTupleInfo? IceSelectedTuple => _selectedTuple;

    /// <summary>Local DTLS parameters (role auto until connect, then the negotiated role).</summary>
    public DtlsParameters DtlsParameters => _dtlsParameters;

    /// <summary>DTLS state.</summary>
    public DtlsStateName DtlsState => _dtlsState;

    /// <summary>The peer's certificate (PEM), once DTLS connected.</summary>
    public string? DtlsRemoteCert { get; private set; }

    /// <summary>port 5000, OS, MIS and maxMessageSize when SCTP is enabled; null otherwise.</summary>
    public SctpParameters? SctpParameters => _sctp?.Parameters;

    /// <summary>SCTP state when SCTP is enabled (new, connecting, connected, failed, closed); null otherwise.</summary>
    public SctpStateName? SctpState => _sctp?.State;

    /// <summary>Raised on each SCTP state change.</summary>
    public event Action<SctpStateName>? SctpStateChange;

    internal override SctpLink? Sctp => _sctp;

    /// <summary>What the SCTP association counted (bad packets, retransmissions...), when SCTP is enabled.</summary>
    public Protocols.Sctp.SctpCounters? SctpCounters => _sctp?.Counters;

    /// <summary>Raised on each ICE state change.</summary>
    public event Action<IceStateName>? IceStateChange;
    /// <summary>Raised when the selected tuple changes.</summary>
    public event Action<TransportTupleInfo>? IceSelectedTupleChange;
    /// <summary>Raised on each DTLS state change.</summary>
    public event Action<DtlsStateName>? DtlsStateChange;

    /// <summary>Datagrams that failed SRTP/SRTCP authentication or replay checks.</summary>
    public long SrtpFailures { get; private set; }

    /// <summary>Datagrams dropped because they came from a tuple ICE had not validated, or were unclassifiable.</summary>
    public long UnknownTupleDrops { get; private set; }

    internal override bool IsConnected => _connected;

    internal override IEnumerable<IMovableSocket> Sockets => _sockets.Concat<IMovableSocket>(_listeners);

    private void Listen(WebRtcTransportOptions options, int firstLocalPreference = HostCandidates.FirstLocalPreference)
    {
        if (options.WebRtcServer is { } server)
        {
            if (server.Worker != Router.Worker || server.Closed) throw new InvalidStateException("the WebRtcServer must be open and on the router's worker");
            IceCandidates = server.Candidates(options.EnableUdp, options.EnableTcp ?? true, options.PreferUdp, options.PreferTcp);
            if (IceCandidates.Count == 0) throw new ArgumentException("no listen info gives a candidate (enableUdp/enableTcp)");
            _server = server;
            server.AddUfrag(_iceParameters.UsernameFragment, this);
            return;
        }
        // Every listen info is a candidate, in the order given (mediasoup's worker): the enable/prefer
        // flags have already shaped the list when it came from the deprecated listenIps.
        var candidates = new List<IceCandidate>();
        var localPreference = firstLocalPreference;
        _highestLocalPreference = Math.Max(_highestLocalPreference, firstLocalPreference);
        var settings = Router.Worker.Settings;
        foreach (var info in options.ResolvedListenInfos())
        {
            var (min, max) = info.Ports(settings);
            int port;
            if (info.Protocol == TransportProtocolName.Tcp)
            {
                var listener = TcpListenerSocket.Bind(Loop, info.ParsedIp, min, max, _tcpReceiver, MaxTcpConnections, settings.TcpPendingTimeout);
                _listeners.Add(listener);
                port = listener.LocalEndPoint.Port;
            }
            else
            {
                var socket = UdpSocket.Bind(Loop, info.ParsedIp, min, max, _receiver);
                _sockets.Add(socket);
                port = socket.LocalEndPoint.Port;
            }
            candidates.Add(HostCandidates.Create(info.Protocol, info.AnnouncedAddress ?? info.Ip, port, localPreference));
            localPreference -= 100;
        }
        if (candidates.Count == 0) throw new ArgumentException("no listen info gives a candidate");
        IceCandidates = candidates;
    }

    private static bool IsHexPairs(string value)
    {
        if (value.Length % 3 != 2) return false;
        for (var i = 0; i < value.Length; i++)
            if (i % 3 == 2 ? value[i] != ':' : !char.IsAsciiHexDigit(value[i])) return false;
        return true;
    }

    /// <summary>Gives the remote DTLS parameters; returns once the local role is decided (mediasoup's connect()).</summary>
    /// <exception cref="ArgumentException">No fingerprint, or an unknown algorithm.</exception>
    /// <exception cref="InvalidOperationException">connect() already called.</exception>
    public Task ConnectAsync(DtlsParameters dtlsParameters)
    {
        ThrowIfClosed();
        if (dtlsParameters is null) throw new ArgumentException("missing dtlsParameters");
        if (dtlsParameters.Fingerprints is not { Count: > 0 }) throw new ArgumentException("empty fingerprints");
        Ortc.RtpParametersValidation.CheckList(dtlsParameters.Fingerprints, "fingerprints", 8);
        foreach (var f in dtlsParameters.Fingerprints)
        {
            if (f.Algorithm is not ("sha-1" or "sha-224" or "sha-256" or "sha-384" or "sha-512")) throw new ArgumentException($"invalid fingerprint algorithm '{f.Algorithm}'");
            // Hex pairs separated by colons, at most SHA-512's 64 bytes: anything else could never match a certificate.
            if (f.Value is not { Length: >= 2 and <= 191 } || !IsHexPairs(f.Value)) throw new ArgumentException("invalid fingerprint value");
        }
        if (dtlsParameters.Role is { } r && !Enum.IsDefined(r)) throw new ArgumentException($"invalid dtlsParameters.role {r}");
        var fingerprint = dtlsParameters.Fingerprints[0];
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (_connectCalled) throw new InvalidOperationException("connect() already called");
            _connectCalled = true;
            _remoteFingerprint = new DtlsFingerprintValue(fingerprint.Algorithm, fingerprint.Value);
            var role = dtlsParameters.Role switch
            {
                DtlsRoleName.Client => DtlsRole.Server,
                DtlsRoleName.Server => DtlsRole.Client,
                _ => DtlsRole.Client,
            };
            if (_dtls is not null)
            {
                // Started as server when ICE connected before connect(); the role stands.
                _dtls.SetRemoteFingerprint(_remoteFingerprint);
                role = _dtls.Role;
            }
            _localRole = role;
            _dtlsParameters = _dtlsParameters with { Role = role == DtlsRole.Client ? DtlsRoleName.Client : DtlsRoleName.Server };
            MaybeStartDtls();
            Pump();
        });
    }

    /// <summary>New ICE credentials; the old ones keep working until the peer uses the new ones.</summary>
    public Task<IceParameters> RestartIceAsync()
    {
        ThrowIfClosed();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var (ufrag, password) = IceLiteAgent.GenerateCredentials();
            _ice.Restart(ufrag, password, Loop.Now);
            _server?.AddUfrag(ufrag, this);
            _iceParameters = new IceParameters { UsernameFragment = ufrag, Password = password, IceLite = true };
            Pump();
            return _iceParameters;
        });
    }

    /// <summary>Transport statistics with mediasoup's field names.</summary>
    public Task<IReadOnlyList<TransportStats>> GetStatsAsync() => InvokeOpenAsync(() => (IReadOnlyList<TransportStats>)
    [
        WithCommonStats(new TransportStats
        {
            Type = "webrtc-transport", TransportId = Id, Timestamp = (long)Loop.Now.TotalMilliseconds,
            BytesReceived = _sockets.Sum(s => s.BytesReceived) + _listeners.Sum(l => l.Counters.BytesReceived),
            BytesSent = _sockets.Sum(s => s.BytesSent) + _listeners.Sum(l => l.Counters.BytesSent),
            IceRole = "controlled", IceState = _iceState, IceSelectedTuple = _selectedTuple, DtlsState = _dtlsState,
            Tcp = _listeners.Count > 0 ? TcpStats : null,
            SctpState = _sctp?.State,
        }),
    ]);

    private protected override TransportDump AddKindDump(TransportDump dump) => dump with
    {
        IceRole = "controlled", IceParameters = _iceParameters, IceCandidates = IceCandidates, IceState = _iceState,
        IceSelectedTuple = _selectedTuple, DtlsParameters = _dtlsParameters, DtlsState = _dtlsState,
        Tcp = _listeners.Count > 0 ? TcpStats : null,
    };

    private sealed class SocketReceiver(WebRtcTransport owner) : IUdpReceiver
    {
        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => owner.HandleDatagram(socket, data, from, from.ToTuple(TransportProtocol.Udp));

        public ILoopFaultHandler? FaultOwner => owner;
    }

    /// <summary>A transport on a WebRtcServer moves only with that server's worker.</summary>
    internal override bool Movable => _server is null;

    /// <summary>The server this transport's sockets belong to closed: the transport closes (mediasoup's listenserverclose).</summary>
    internal void OnListenServerClosed()
    {
        _server = null;
        CloseOnLoop(TransportCloseReason.ListenServerClosed);
    }

    /// <summary>One datagram from the tuple <paramref name="tuple"/>, from its own socket or its WebRtcServer.</summary>
    internal void HandleDatagram(UdpSocket socket, Span<byte> data, in SockAddr from, TransportTuple tuple)
    {
        InjectedReceiveFault?.Invoke();
        // Brought in by a move and still relayed: the far end's first datagrams on its new path may wait for its last on the old one.
        if (_relayIn is not null && HoldFromFarEnd(socket, data, from, tuple)) return;
        HandlePacket(new Route(socket, from), data, tuple);
    }

    /// <summary>One packet (a UDP datagram or the content of an ICE-TCP frame) that came by <paramref name="route"/>.</summary>
    private void HandlePacket(in Route route, Span<byte> data, TransportTuple tuple)
    {
        if (Closed) return;
        if (_movingOut is { } move)
        {
            // Frozen for a move between processes: the target alone holds live state.
            move.FromFarEnd(tuple, data);
            return;
        }
        var now = Loop.Now;
        CountReceived(data.Length, now);
        switch (PacketClassifier.Classify(data))
        {
            case PacketKind.Stun:
                OnStun(route, data, tuple, now);
                break;
            case PacketKind.Dtls:
                if (!_ice.OnValidPacket(tuple)) { UnknownTupleDrops++; return; }
                if (_dtls is null) { UnknownTupleDrops++; return; }
                _dtls.HandleDatagram(now, data);
                Pump();
                break;
            case PacketKind.Rtp:
                if (!_ice.OnValidPacket(tuple)) { UnknownTupleDrops++; return; }
                if (_srtpReceive is null) { RtpPacketsDropped++; return; }
                if (UnprotectRtp(_srtpReceive, data, out var rtpLength) != SrtpResult.Ok) { SrtpFailures++; return; }
                PumpIce();
                if (_takeover is { MediaSeen: false }) OnTakeoverMedia();
                ReceiveRtp(data[..rtpLength]);
                break;
            case PacketKind.Rtcp:
                if (!_ice.OnValidPacket(tuple)) { UnknownTupleDrops++; return; }
                if (_srtpReceive is null) { RtcpPacketsDropped++; return; }
                if (UnprotectRtcp(_srtpReceive, data, out var rtcpLength) != SrtpResult.Ok) { SrtpFailures++; return; }
                PumpIce();
                ReceiveRtcp(data[..rtcpLength]);
                break;
            default:
                UnknownTupleDrops++;
                break;
        }
    }

    private IceStunResult OnStun(in Route route, ReadOnlySpan<byte> data, TransportTuple tuple, TimeSpan now)
    {
        var result = _ice.HandleStun(data, tuple, now, _stunResponse, out var length);
        if (result == IceStunResult.Success)
        {
            if (!_tupleRoutes.TryGetValue(tuple, out var known))
            {
                _tupleRoutes[tuple] = route;
                // UDP datagrams reach a WebRtcServer's transport by tuple; TCP frames come by their connection.
                if (route.Tcp is null) _server?.OnTupleValidated(tuple, this);
            }
            else if (known.Relay is not null && route.Relay is null)
            {
                // The far end's checks now reach this process directly (it restarted ICE towards the move's
                // target, or took the new candidate alone): its tuple is sent to directly from now on.
                _tupleRoutes[tuple] = route;
                if (_ice.SelectedTuple == tuple) _selected = route;
            }
            else if (route.Tcp is not null && known.Tcp != route.Tcp)
            {
                // The same remote address and port on another connection (the tuple key has no local port):
                // the connection that just passed a check is the one to use.
                _tupleRoutes[tuple] = route;
                if (_ice.SelectedTuple == tuple) _selected = route;
            }
        }
        if (length > 0) route.Send(_stunResponse.AsSpan(0, length));
        Pump();
        if (result == IceStunResult.Success && route.Relay is null && _relayIn is not null && _ice.SelectedTuple == tuple) OnFarEndPathMoved();
        if (result == IceStunResult.Success && _takeover is not null) OnTakeoverCheck(tuple);
        return result;
    }

    /// <summary>Processes what the ICE agent and DTLS endpoint produced: events, datagrams, deadlines.</summary>
    private void Pump()
    {
        PumpIce();
        if (_dtls is { } dtls)
        {
            while (dtls.TryPollDatagram(out var datagram)) SendRaw(datagram);
            while (dtls.TryPollEvent(out var e)) OnDtlsEvent(e);
        }
        ArmTimer();
    }

    private void PumpIce()
    {
        while (_ice.TryPollEvent(out var e))
        {
            switch (e.Kind)
            {
                case IceEventKind.StateChanged:
                    _iceState = (IceStateName)(byte)e.State;
                    if (_ice.SelectedTuple is null && _selectedTuple is not null)
                    {
                        // Consent lapsed, or the selected TCP connection closed with no other valid tuple: nothing to send to.
                        _selected = default;
                        _selectedTuple = null;
                    }
                    Events.Emit(IceStateChange, _iceState, Logger);
                    if (e.State is Protocols.Ice.IceState.Connected or Protocols.Ice.IceState.Completed) MaybeStartDtls();
                    UpdateConnected();
                    break;
                case IceEventKind.SelectedTupleChanged:
                    if (!_tupleRoutes.TryGetValue(e.Tuple, out var route)) break;
                    _selected = route;
                    _selectedTuple = TupleInfo(route, e.Tuple);
                    Events.Emit(IceSelectedTupleChange, _selectedTuple, Logger);
                    break;
            }
        }
        // Forget routes of tuples the agent dropped, so the table stays bounded by its 8 tuples.
        if (_tupleRoutes.Count > IceLiteAgent.MaxTuples)
        {
            foreach (var stale in _tupleRoutes.Keys.Where(t => !_ice.IsValidatedTuple(t)).ToList()) _tupleRoutes.Remove(stale);
        }
    }

    /// <summary>DTLS starts once ICE is connected and the role is known; an unknown role becomes server (the peer starts).</summary>
    private void MaybeStartDtls()
    {
        if (_dtls is not null || Closed) return;
        if (_ice.State is not (Protocols.Ice.IceState.Connected or Protocols.Ice.IceState.Completed)) return;
        var role = _localRole ?? DtlsRole.Server;
        _dtls = new DtlsEndpoint(Router.Worker.DtlsContext, role, _remoteFingerprint, requireSrtp: _sctp is null);
        if (_localRole is null) _dtlsParameters = _dtlsParameters with { Role = DtlsRoleName.Server };
        SetDtlsState(DtlsStateName.Connecting);
        _dtls.Start(Loop.Now);
    }

    private void OnDtlsEvent(DtlsEvent e)
    {
        switch (e.Kind)
        {
            case DtlsEventKind.Connected:
                _srtpSend?.Dispose();
                _srtpReceive?.Dispose();
                _srtpSend = _srtpReceive = null;
                // No keys: a data-channel-only peer that offered no DTLS-SRTP (allowed when SCTP is enabled).
                if (e.Keys is { } keys)
                {
                    _srtpSend = new SrtpSession(keys.Profile, keys.LocalKey, keys.LocalSalt);
                    _srtpReceive = new SrtpSession(keys.Profile, keys.RemoteKey, keys.RemoteSalt);
                }
                if (_dtls?.RemoteCertificate is { } der) DtlsRemoteCert = ToPem(der);
                SetDtlsState(DtlsStateName.Connected);
                UpdateConnected();
                _sctp?.Start(_dtls!.Role == DtlsRole.Client);
                break;
            case DtlsEventKind.ApplicationData:
                if (_sctp is { } sctp) HandleSctpFromFarEnd(sctp, e.Data ?? []);
                else DataMessagesDropped++;
                break;
            case DtlsEventKind.Failed:
                Logger.LogWarning("transport {TransportId}: DTLS failed: {Reason}", Id, e.Reason);
                SetDtlsState(DtlsStateName.Failed);
                UpdateConnected();
                _sctp?.OnDtlsGone(failed: true);
                break;
            case DtlsEventKind.Closed:
                SetDtlsState(DtlsStateName.Closed);
                UpdateConnected();
                _sctp?.OnDtlsGone(failed: false);
                break;
        }
    }

    private static string ToPem(byte[] der) =>
        "-----BEGIN CERTIFICATE-----\n" + Convert.ToBase64String(der, Base64FormattingOptions.InsertLineBreaks).Replace("\r\n", "\n") + "\n-----END CERTIFICATE-----\n";

    private void SetDtlsState(DtlsStateName state)
    {
        if (_dtlsState == state) return;
        _dtlsState = state;
        Events.Emit(DtlsStateChange, state, Logger);
    }

    private void UpdateConnected()
    {
        var connected = _iceState is IceStateName.Connected or IceStateName.Completed && _dtlsState == DtlsStateName.Connected;
        if (connected == _connected) return;
        _connected = connected;
        if (connected) OnConnected();
    }

    private void ArmTimer()
    {
        var due = _ice.NextTimeout;
        if (_dtls is { } d && d.NextTimeout < due) due = d.NextTimeout;
        if (_takeover?.Sctp is { } resync && resync.Deadline < due) due = resync.Deadline;
        if (due != _timer.Due)
        {
            if (due == TimeSpan.MaxValue) _timer.Stop();
            else _timer.Start(due);
        }
    }

    private void OnTimer()
    {
        // Frozen for a move between processes: consent and retransmissions run at the target now.
        if (Closed || _movingOut is not null) return;
        var now = Loop.Now;
        _ice.HandleTimeout(now);
        _dtls?.HandleTimeout(now);
        PollSctpResync();
        Pump();
    }

    /// <summary>The tuple as mediasoup reports it: the local side is the candidate's (announced) address and port.</summary>
    private TransportTupleInfo TupleInfo(in Route route, TransportTuple remote)
    {
        var protocol = route.Tcp is null ? TransportProtocolName.Udp : TransportProtocolName.Tcp;
        var local = route.LocalEndPoint;
        var candidate = IceCandidates.FirstOrDefault(c => c.Protocol == protocol && c.Port == local.Port);
        var address = candidate?.Address ?? local.Address.ToString();
        return new TransportTupleInfo
        {
            LocalAddress = address, LocalIp = address, LocalPort = local.Port,
            RemoteIp = remote.Address.ToString(), RemotePort = remote.Port, Protocol = protocol,
        };
    }

    /// <summary>An SCTP packet goes out as DTLS application data.</summary>
    private bool SendSctpPacket(ReadOnlySpan<byte> packet)
    {
        if (_dtls is not { State: Protocols.Dtls.DtlsState.Connected } dtls || !dtls.SendApplicationData(packet)) return false;
        while (dtls.TryPollDatagram(out var datagram)) SendRaw(datagram);
        return true;
    }

    private void SendRaw(ReadOnlySpan<byte> datagram)
    {
        if (_selected.IsSet && _movingOut is null) SendSelected(datagram);
    }

    private protected override void SendRtp(Span<byte> buffer, int length)
    {
        if (_srtpSend is null || !_selected.IsSet || _movingOut is not null) return;
        if (_firstRtpAfterImportPending) NoteFirstRtpAfterImport();
        if (_srtpSend.ProtectRtp(buffer, length, out var protectedLength) != SrtpResult.Ok) return;
        SendSelected(buffer[..protectedLength]);
    }

    private protected override void SendRtcp(Span<byte> buffer, int length)
    {
        if (_srtpSend is null || !_selected.IsSet || _movingOut is not null) return;
        if (_srtpSend.ProtectRtcp(buffer, length, out var protectedLength) != SrtpResult.Ok) return;
        SendSelected(buffer[..protectedLength]);
    }

    private protected override void ReleaseResources()
    {
        _server?.Remove(this);
        ReleaseOwnedTimer(_timer);
        if (_movedAway)
        {
            // Moved to another process: its SCTP association and DTLS session live on there, so nothing is said to the far end.
            _sctp?.ReleaseSilently();
            _dtls?.Dispose();
            _dtls = null;
        }
        else
        {
            _sctp?.Release();
            if (_dtls is { } dtls)
            {
                // Tell the peer (close_notify), as mediasoup does on close.
                dtls.Close();
                while (dtls.TryPollDatagram(out var datagram)) SendRaw(datagram);
                dtls.Dispose();
                _dtls = null;
            }
        }
        _movingOut?.OnTransportClosed();
        ReleaseRelayIn();
        _ice.Close();
        _iceState = IceStateName.Closed;
        _dtlsState = DtlsStateName.Closed;
        _selectedTuple = null;
        ReleaseTcp();
        foreach (var socket in _sockets) socket.Dispose();
        _sockets.Clear();
        _selected = default;
        _srtpSend?.Dispose();
        _srtpReceive?.Dispose();
        _srtpSend = null;
        _srtpReceive = null;
        _connected = false;
    }
}
