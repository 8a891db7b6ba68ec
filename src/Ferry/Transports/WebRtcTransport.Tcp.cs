using System.Net;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;

namespace Ferry.Transports;

/// <summary>
/// ICE over TCP (RFC 6544, passive candidates only, RFC 4571 framing): a connection carries nothing
/// but STUN until an ICE check on it succeeds; then it is a tuple like a UDP one, and DTLS, SRTP, RTP
/// and RTCP flow over it unchanged. A connection that closes takes its tuple with it.
/// </summary>
public sealed partial class WebRtcTransport
{
    // A browser opens one connection per local interface and candidate pair: a handful per transport.
    // The limit is there so a stranger cannot pile connections on a transport's port.
    private const int MaxTcpConnections = 16;

    private readonly List<TcpListenerSocket> _listeners = [];
    // Connections ICE accepted for this transport, its own listeners' or its WebRtcServer's.
    private readonly List<TcpConnection> _tcpConnections = [];
    private readonly TcpReceiver _tcpReceiver;

    /// <summary>What the transport's own ICE-TCP listeners and their connections did (zeros without TCP listen infos).</summary>
    public TcpStats TcpStats => TcpStats.From(_listeners.Select(l => l.Counters));

    /// <summary>How to reach a validated tuple: a UDP socket and the peer's address, or a TCP connection.</summary>
    private readonly struct Route
    {
        public readonly UdpSocket? Udp;
        public readonly SockAddr Address;
        public readonly TcpConnection? Tcp;
        // A far end known only through the source of a move between processes: what goes to it goes back through the relay.
        public readonly Mobility.Remote.RelayLink? Relay;
        public readonly Protocols.Net.TransportTuple FarEnd;

        public Route(UdpSocket udp, in SockAddr address)
        {
            Udp = udp;
            Address = address;
            Tcp = null;
            Relay = null;
            FarEnd = default;
        }

        public Route(TcpConnection tcp)
        {
            Udp = null;
            Address = default;
            Tcp = tcp;
            Relay = null;
            FarEnd = default;
        }

        public Route(Mobility.Remote.RelayLink relay, in Protocols.Net.TransportTuple farEnd)
        {
            Udp = null;
            Address = default;
            Tcp = null;
            Relay = relay;
            FarEnd = farEnd;
        }

        public bool IsSet => Udp is not null || Tcp is not null || Relay is not null;

        public IPEndPoint LocalEndPoint => Tcp?.Listener.LocalEndPoint ?? Relay?.LocalEndPoint ?? Udp!.LocalEndPoint;

        public bool Send(ReadOnlySpan<byte> packet) =>
            Tcp is { } connection ? connection.Send(packet) : Relay is { } relay ? relay.Send(FarEnd, packet) : Udp!.SendTo(packet, Address);
    }

    private sealed class TcpReceiver(WebRtcTransport owner) : ITcpReceiver
    {
        public void OnFrame(TcpConnection connection, Span<byte> packet) => owner.HandleTcpFrame(connection, packet);

        public void OnClosed(TcpConnection connection) => owner.OnTcpClosed(connection);

        public ILoopFaultHandler? FaultOwner => owner;
    }

    /// <summary>
    /// A frame from a connection of this transport's listener, or the first one of a WebRtcServer's
    /// connection whose STUN USERNAME named this transport.
    /// </summary>
    internal void HandleTcpFrame(TcpConnection connection, Span<byte> packet)
    {
        if (Closed)
        {
            connection.Close(TcpCloseReason.Local);
            return;
        }
        if (connection.IsAuthenticated)
        {
            HandlePacket(new Route(connection), packet, connection.Tuple);
            return;
        }
        // Until an ICE check succeeds on it, a connection may carry only STUN: anything else (media,
        // DTLS, garbage) or a check ICE refuses (wrong credentials, malformed) ends it. ICE answers
        // first, so a peer with the wrong password is told why.
        var result = PacketClassifier.Classify(packet) == PacketKind.Stun
            ? OnStun(new Route(connection), packet, connection.Tuple, Loop.Now)
            : IceStunResult.Malformed;
        if (result != IceStunResult.Success)
        {
            connection.Close(TcpCloseReason.Unauthenticated);
            return;
        }
        connection.IsAuthenticated = true;
        // A WebRtcServer's connection is this transport's from now on: its frames come straight here.
        connection.Receiver = _tcpReceiver;
        _tcpConnections.Add(connection);
    }

    /// <summary>A connection closed: ICE forgets its tuple (selecting another, or going disconnected when it was the last).</summary>
    private void OnTcpClosed(TcpConnection connection)
    {
        _tcpConnections.Remove(connection);
        if (Closed || !connection.IsAuthenticated) return;
        var tuple = connection.Tuple;
        // Another connection may have taken this tuple over (and the selection with it); then the tuple stays valid.
        if (_tupleRoutes.TryGetValue(tuple, out var route) && route.Tcp != connection) return;
        if (_selected.Tcp == connection) _selected = default;
        _tupleRoutes.Remove(tuple);
        _ice.RemoveTuple(tuple);
        Pump();
    }

    /// <summary>On close: the connections ICE gave this transport (a WebRtcServer's too), then its own listeners.</summary>
    private void ReleaseTcp()
    {
        foreach (var connection in _tcpConnections.ToArray()) connection.Close(TcpCloseReason.Local);
        _tcpConnections.Clear();
        foreach (var listener in _listeners) listener.Dispose();
    }
}
