using System.Net;
using System.Net.Sockets;

namespace Ferry.Tests.Transports;

/// <summary>What a test's UDP socket does with each datagram it receives.</summary>
internal delegate void DatagramHandler(EndPoint from, Span<byte> datagram);

/// <summary>The receive loop of the tests' UDP helpers (<see cref="UdpRtpPeer"/>, <see cref="UdpRelay"/>).</summary>
internal static class UdpReceiveLoop
{
    /// <summary>
    /// Hands every datagram <paramref name="socket"/> receives to <paramref name="handle"/> until
    /// <paramref name="stop"/> is cancelled; socket errors meanwhile (ICMP unreachable on loopback) are skipped.
    /// </summary>
    public static async Task RunAsync(Socket socket, CancellationToken stop, DatagramHandler handle)
    {
        var buffer = new byte[2048];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!stop.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stop);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (stop.IsCancellationRequested) return;
                continue;
            }
            handle(result.RemoteEndPoint, buffer.AsSpan(0, result.ReceivedBytes));
        }
    }
}
