using System.Net;
using System.Runtime.InteropServices;
using Ferry.Native;

namespace Ferry.Loop;

/// <summary>Binds sockets to a port of a range, as mediasoup does: from a random port of the range onwards, skipping ports in use.</summary>
internal static unsafe class PortPicker
{
    /// <summary>
    /// Calls <paramref name="tryPort"/> with ports of [<paramref name="minPort"/>, <paramref name="maxPort"/>]
    /// (0 and 0: only port 0, any port) until it returns 0 (bound); an EADDRINUSE answer tries the next
    /// port, any other errno fails. Control path only.
    /// </summary>
    /// <exception cref="InvalidOperationException">No port could be bound.</exception>
    /// <exception cref="ArgumentException">An invalid range.</exception>
    public static void Bind(IPAddress address, int minPort, int maxPort, string protocol, Func<int, int> tryPort)
    {
        if (minPort == 0 && maxPort == 0)
        {
            var errno = tryPort(0);
            if (errno != 0) throw new InvalidOperationException($"{protocol} bind({address}:0) failed: errno {errno}");
            return;
        }
        if (minPort < 1 || maxPort > 65535 || minPort > maxPort) throw new ArgumentException($"invalid port range [{minPort}, {maxPort}]");
        var span = maxPort - minPort + 1;
        var start = Random.Shared.Next(span);
        for (var i = 0; i < span; i++)
        {
            var port = minPort + (start + i) % span;
            var errno = tryPort(port);
            if (errno == 0) return;
            if (errno != Libc.EADDRINUSE) throw new InvalidOperationException($"{protocol} bind({address}:{port}) failed: errno {errno}");
        }
        throw new InvalidOperationException($"no free {protocol} port in [{minPort}, {maxPort}] on {address}");
    }

    /// <summary>bind() of <paramref name="fd"/> to <paramref name="address"/>:<paramref name="port"/>; 0 or errno.</summary>
    public static int TryBind(int fd, IPAddress address, int port)
    {
        var sa = SockAddr.From(new IPEndPoint(address, port));
        fixed (byte* p = sa.AsSpan())
        {
            if (Libc.Bind(fd, p, sa.Length) == 0) return 0;
        }
        return Marshal.GetLastPInvokeError();
    }

    /// <summary>The address and port <paramref name="fd"/> is bound to.</summary>
    public static IPEndPoint LocalEndPoint(int fd)
    {
        var local = default(SockAddr);
        var length = SockAddr.Capacity;
        fixed (byte* p = local.AsSpan()) Libc.GetSockName(fd, p, &length);
        local.Length = length;
        return local.ToEndPoint();
    }
}
