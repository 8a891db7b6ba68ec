using System.Text;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Stun;
using Microsoft.Extensions.Logging;

namespace Ferry.Transports;

/// <summary>Options of <see cref="Worker.CreateWebRtcServerAsync"/>.</summary>
public sealed record WebRtcServerOptions
{
    /// <summary>The shared sockets: UDP sockets and TCP listeners (ICE-TCP passive candidates); a port of 0 takes one from the listen info's range or the worker's.</summary>
    public required IReadOnlyList<TransportListenInfo> ListenInfos { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>
/// mediasoup's WebRtcServer: many WebRtcTransports of one worker on a few shared UDP and TCP ports (a
/// deployment opens those ports, not a range). A UDP datagram is given to its transport by the ICE
/// username of a STUN request (the server's ufrag, before the colon), and then by the 5-tuple ICE
/// validated. An accepted TCP connection is given to a transport by the username of its first STUN
/// request and, once ICE accepted it, belongs to that transport: its later frames go straight there.
/// Lives on its worker's loop; transports on it move only with that worker.
/// </summary>
public sealed class WebRtcServer
{
    // The server's listeners serve every transport of the worker: a limit against exhaustion, not a working bound.
    private const int MaxTcpConnections = 4096;

    private readonly List<(UdpSocket? Udp, TcpListenerSocket? Tcp, TransportListenInfo Info)> _sockets = [];
    private readonly Dictionary<string, WebRtcTransport> _byUfrag = new(StringComparer.Ordinal);
    private readonly Dictionary<TransportTuple, WebRtcTransport> _byTuple = new();
    private readonly ILogger _logger;
    private volatile bool _closed;

    private WebRtcServer(Worker worker, WebRtcServerOptions options)
    {
        Worker = worker;
        Id = Guid.NewGuid().ToString();
        AppData = options.AppData;
        _logger = worker.LoggerFactory.CreateLogger<WebRtcServer>();
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }

    /// <summary>Its worker.</summary>
    public Worker Worker { get; }

    /// <summary>Application data.</summary>
    public object? AppData { get; set; }

    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Datagrams and TCP connections no transport claimed (unknown ufrag, unvalidated tuple, not STUN first on TCP).</summary>
    public long Unclaimed { get; private set; }

    /// <summary>What its TCP listeners and their connections did (zeros without TCP listen infos).</summary>
    public TcpStats TcpStats => TcpStats.From(_sockets.Where(s => s.Tcp is not null).Select(s => s.Tcp!.Counters));

    /// <summary>Raised when it closes.</summary>
    public event Action? ObserverClose;

    internal EventLoop Loop => Worker.Loop;

    internal static WebRtcServer Create(Worker worker, WebRtcServerOptions options)
    {
        var server = new WebRtcServer(worker, options);
        var receiver = new Receiver(server);
        try
        {
            foreach (var info in options.ListenInfos)
            {
                var (min, max) = info.Ports(worker.Settings);
                if (info.Protocol == TransportProtocolName.Tcp)
                    server._sockets.Add((null, TcpListenerSocket.Bind(worker.Loop, info.ParsedIp, min, max, receiver, MaxTcpConnections, worker.Settings.TcpPendingTimeout), info));
                else
                    server._sockets.Add((UdpSocket.Bind(worker.Loop, info.ParsedIp, min, max, receiver), null, info));
            }
        }
        catch
        {
            server.DisposeSockets();
            throw;
        }
        return server;
    }

    /// <summary>
    /// The candidates a transport on this server offers, with mediasoup's priorities: local preference
    /// 10000 for the first listen info, 100 less for each next one (skipped ones included), and 1000
    /// more for the preferred protocol.
    /// </summary>
    internal List<IceCandidate> Candidates(bool enableUdp, bool enableTcp, bool preferUdp, bool preferTcp)
    {
        var candidates = new List<IceCandidate>();
        var localPreference = HostCandidates.FirstLocalPreference;
        foreach (var (udp, tcp, info) in _sockets)
        {
            var address = info.AnnouncedAddress ?? info.Ip;
            if (udp is not null && enableUdp)
                candidates.Add(HostCandidates.Create(TransportProtocolName.Udp, address, udp.LocalEndPoint.Port, localPreference + (preferUdp ? HostCandidates.PreferenceBonus : 0)));
            else if (tcp is not null && enableTcp)
                candidates.Add(HostCandidates.Create(TransportProtocolName.Tcp, address, tcp.LocalEndPoint.Port, localPreference + (preferTcp ? HostCandidates.PreferenceBonus : 0)));
            localPreference -= 100;
        }
        return candidates;
    }

    internal void AddUfrag(string ufrag, WebRtcTransport transport) => _byUfrag[ufrag] = transport;

    internal void OnTupleValidated(TransportTuple tuple, WebRtcTransport transport) => _byTuple[tuple] = transport;

    internal void Remove(WebRtcTransport transport)
    {
        foreach (var key in _byUfrag.Where(kv => kv.Value == transport).Select(kv => kv.Key).ToList()) _byUfrag.Remove(key);
        foreach (var key in _byTuple.Where(kv => kv.Value == transport).Select(kv => kv.Key).ToList()) _byTuple.Remove(key);
    }

    private sealed class Receiver(WebRtcServer server) : IUdpReceiver, ITcpReceiver
    {
        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => server.OnDatagram(socket, data, from);

        public void OnFrame(TcpConnection connection, Span<byte> packet) => server.OnTcpFrame(connection, packet);

        // A connection closed before any transport claimed it: nothing of it is kept here.
        public void OnClosed(TcpConnection connection) { }

        // The transport a shared socket was handing a packet to when something threw answers for it.
        public ILoopFaultHandler? FaultOwner => server._dispatching;
    }

    /// <summary>The transport being handed a packet right now: left set when it throws, for the loop to blame.</summary>
    private WebRtcTransport? _dispatching;

    /// <summary>
    /// A frame from a connection no transport has claimed yet: it must be a STUN request whose USERNAME
    /// names a transport of this server, which then runs the ICE check (and takes the connection when it
    /// succeeds). Anything else closes it.
    /// </summary>
    private void OnTcpFrame(TcpConnection connection, Span<byte> packet)
    {
        if (PacketClassifier.Classify(packet) == PacketKind.Stun && StunMessage.TryParse(packet, out var message)
            && message.TryGetUsername(out var username) && FindByUsername(username) is { } transport)
        {
            _dispatching = transport;
            transport.HandleTcpFrame(connection, packet);
            _dispatching = null;
            return;
        }
        Unclaimed++;
        connection.Close(TcpCloseReason.Unauthenticated);
    }

    private void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        var tuple = from.ToTuple(TransportProtocol.Udp);
        if (_byTuple.TryGetValue(tuple, out var known))
        {
            _dispatching = known;
            known.HandleDatagram(socket, data, from, tuple);
            _dispatching = null;
            return;
        }
        if (PacketClassifier.Classify(data) == PacketKind.Stun && StunMessage.TryParse(data, out var message)
            && message.TryGetUsername(out var username) && FindByUsername(username) is { } transport)
        {
            _dispatching = transport;
            transport.HandleDatagram(socket, data, from, tuple);
            _dispatching = null;
            return;
        }
        Unclaimed++;
    }

    // USERNAME is "serverUfrag:clientUfrag"; only STUN requests (a control-rate path) get here.
    private WebRtcTransport? FindByUsername(ReadOnlySpan<byte> username)
    {
        var colon = username.IndexOf((byte)':');
        if (colon <= 0) return null;
        return _byUfrag.GetValueOrDefault(Encoding.UTF8.GetString(username[..colon]));
    }

    private void DisposeSockets()
    {
        foreach (var (udp, tcp, _) in _sockets)
        {
            udp?.Dispose();
            tcp?.Dispose();
        }
    }

    /// <summary>Closes the server; its transports close (mediasoup's listenserverclose).</summary>
    public Task CloseAsync()
    {
        if (_closed) return Task.CompletedTask;
        return Loop.InvokeAsync(CloseOnLoop);
    }

    internal void CloseOnLoop()
    {
        if (_closed) return;
        _closed = true;
        foreach (var transport in _byUfrag.Values.Distinct().ToList()) transport.OnListenServerClosed();
        DisposeSockets();
        Worker.RemoveWebRtcServer(this);
        Events.Emit(ObserverClose, _logger);
    }
}
