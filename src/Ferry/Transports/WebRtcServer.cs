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
    /// <summary>The shared sockets (UDP); a port of 0 takes one from the listen info's range or the worker's.</summary>
    public required IReadOnlyList<TransportListenInfo> ListenInfos { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>
/// mediasoup's WebRtcServer: many WebRtcTransports of one worker on a few shared UDP ports (a
/// deployment opens those ports, not a range). A datagram is given to its transport by the ICE
/// username of a STUN request (the server's ufrag, before the colon), and then by the 5-tuple ICE
/// validated. Lives on its worker's loop; transports on it move only with that worker.
/// </summary>
public sealed class WebRtcServer
{
    private readonly List<(UdpSocket Socket, TransportListenInfo Info)> _sockets = [];
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

    /// <summary>Datagrams no transport claimed (unknown ufrag, unvalidated tuple).</summary>
    public long Unclaimed { get; private set; }

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
                if (info.Protocol != TransportProtocolName.Udp) throw new UnsupportedException("ICE over TCP is not supported yet");
                var (min, max) = info.Port != 0 ? (info.Port, info.Port)
                    : info.PortRange is { } r ? (r.Min, r.Max)
                    : (worker.Settings.RtcMinPort, worker.Settings.RtcMaxPort);
                server._sockets.Add((UdpSocket.Bind(worker.Loop, info.ParsedIp, min, max, receiver), info));
            }
        }
        catch
        {
            foreach (var (socket, _) in server._sockets) socket.Dispose();
            throw;
        }
        return server;
    }

    /// <summary>The candidates a transport on this server offers, in mediasoup's priorities.</summary>
    internal List<IceCandidate> Candidates(bool enableUdp, bool preferUdp)
    {
        var candidates = new List<IceCandidate>();
        var localPreference = 10000;
        foreach (var (socket, info) in _sockets)
        {
            if (!enableUdp) continue;
            var preference = localPreference + (preferUdp ? 1000 : 0);
            var address = info.AnnouncedAddress ?? info.Ip;
            candidates.Add(new IceCandidate
            {
                Foundation = "udpcandidate", Priority = (1L << 24) * 64 + 256L * preference + 255, Address = address, Ip = address,
                Protocol = TransportProtocolName.Udp, Port = socket.LocalEndPoint.Port, Type = IceCandidateType.Host,
            });
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

    private sealed class Receiver(WebRtcServer server) : IUdpReceiver
    {
        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => server.OnDatagram(socket, data, from);
    }

    private void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        var tuple = from.ToTuple(TransportProtocol.Udp);
        if (_byTuple.TryGetValue(tuple, out var known))
        {
            known.HandleDatagram(socket, data, from, tuple);
            return;
        }
        if (PacketClassifier.Classify(data) == PacketKind.Stun && StunMessage.TryParse(data, out var message)
            && message.TryGetUsername(out var username) && FindByUsername(username) is { } transport)
        {
            transport.HandleDatagram(socket, data, from, tuple);
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
        foreach (var (socket, _) in _sockets) socket.Dispose();
        _sockets.Clear();
        Worker.RemoveWebRtcServer(this);
        Events.Emit(ObserverClose, _logger);
    }
}
