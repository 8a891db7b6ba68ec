using System.Net;

namespace Ferry.Testing.Simulation;

/// <summary>An <see cref="ISimNode"/> made of functions, for small test peers.</summary>
public sealed class DelegateNode : ISimNode
{
    private readonly Func<TimeSpan> _deadline;
    private readonly Action<SimNetwork, IPEndPoint, IPEndPoint, byte[]> _onDatagram;
    private readonly Action<SimNetwork> _onTimeout;

    /// <summary>Creates a node from its three callbacks; <paramref name="deadline"/> and <paramref name="onTimeout"/> may be null for a node without timers.</summary>
    public DelegateNode(
        Action<SimNetwork, IPEndPoint, IPEndPoint, byte[]> onDatagram,
        Func<TimeSpan>? deadline = null,
        Action<SimNetwork>? onTimeout = null)
    {
        _onDatagram = onDatagram;
        _deadline = deadline ?? (() => TimeSpan.MaxValue);
        _onTimeout = onTimeout ?? (_ => { });
    }

    /// <inheritdoc />
    public TimeSpan NextDeadline => _deadline();

    /// <inheritdoc />
    public void OnDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data) =>
        _onDatagram(network, from, to, data.ToArray());

    /// <inheritdoc />
    public void OnTimeout(SimNetwork network) => _onTimeout(network);
}

/// <summary>Loopback addresses for simulated hosts (the simulation never touches a real socket, but tests keep to 127.0.0.0/8 by habit).</summary>
public static class SimAddress
{
    /// <summary>127.0.0.<paramref name="host"/>:<paramref name="port"/>.</summary>
    public static IPEndPoint Loopback(byte host, int port) => new(new IPAddress([127, 0, 0, host]), port);
}
