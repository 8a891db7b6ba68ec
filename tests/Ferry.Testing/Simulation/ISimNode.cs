using System.Net;

namespace Ferry.Testing.Simulation;

/// <summary>
/// A participant in the simulation: usually a thin adapter around a sans-IO endpoint that feeds it
/// datagrams and timeouts and sends what it polls out through <see cref="SimNetwork.Send"/>.
/// </summary>
public interface ISimNode
{
    /// <summary>The earliest virtual time this node wants <see cref="OnTimeout"/>; <see cref="TimeSpan.MaxValue"/> for none.</summary>
    TimeSpan NextDeadline { get; }

    /// <summary>A datagram addressed to one of this node's addresses arrived.</summary>
    void OnDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data);

    /// <summary>The node's deadline has been reached (<see cref="SimNetwork.Now"/> ≥ <see cref="NextDeadline"/>).</summary>
    void OnTimeout(SimNetwork network);
}
