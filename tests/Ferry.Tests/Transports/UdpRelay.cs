using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Tests.Transports;

/// <summary>
/// A man in the middle of a UDP pipe on 127.0.0.1: end A connects to <see cref="PortForA"/>, end B to
/// <see cref="PortForB"/>; what A sends goes on to B from the B-side socket and back, so each end sees one
/// constant remote. Datagrams from A to B for which <see cref="DropAToB"/> says so are dropped (counted).
/// </summary>
internal sealed class UdpRelay : IDisposable
{
    private readonly Socket _facingA = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _facingB = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _a;
    private readonly IPEndPoint _b;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private long _dropped;

    public UdpRelay(int portOfA, int portOfB, Func<byte[], bool> dropAToB)
    {
        _a = new IPEndPoint(IPAddress.Loopback, portOfA);
        _b = new IPEndPoint(IPAddress.Loopback, portOfB);
        DropAToB = dropAToB;
        _facingA.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _facingB.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _loops = [Task.Run(() => ForwardAsync(_facingA, _a, _facingB, _b, DropAToB)), Task.Run(() => ForwardAsync(_facingB, _b, _facingA, _a, _ => false))];
    }

    /// <summary>Where end A sends (its connect port).</summary>
    public int PortForA => ((IPEndPoint)_facingA.LocalEndPoint!).Port;

    /// <summary>Where end B sends (its connect port).</summary>
    public int PortForB => ((IPEndPoint)_facingB.LocalEndPoint!).Port;

    /// <summary>Decides, per datagram from A, whether it is lost.</summary>
    public Func<byte[], bool> DropAToB { get; }

    /// <summary>Datagrams dropped so far.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Datagrams from anywhere but the expected end (none expected).</summary>
    public ConcurrentQueue<EndPoint> Strangers { get; } = new();

    private Task ForwardAsync(Socket from, IPEndPoint expected, Socket to, IPEndPoint destination, Func<byte[], bool> drop) =>
        UdpReceiveLoop.RunAsync(from, _stop.Token, (remote, received) =>
        {
            if (!remote.Equals(expected))
            {
                Strangers.Enqueue(remote);
                return;
            }
            var datagram = received.ToArray();
            if (drop(datagram))
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            try
            {
                to.SendTo(datagram, destination);
            }
            catch (SocketException)
            {
                // The other end went away (ICMP unreachable on loopback): nothing to forward to.
            }
        });

    public void Dispose()
    {
        _stop.Cancel();
        _facingA.Dispose();
        _facingB.Dispose();
        try { Task.WaitAll(_loops, TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
