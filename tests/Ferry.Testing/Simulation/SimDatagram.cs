using System.Net;

namespace Ferry.Testing.Simulation;

/// <summary>A datagram in flight or delivered in the simulation.</summary>
/// <param name="From">Sender address.</param>
/// <param name="To">Destination address.</param>
/// <param name="Data">The bytes (owned by the network; copy to keep).</param>
/// <param name="SentAt">Virtual time it was sent.</param>
public sealed record SimDatagram(IPEndPoint From, IPEndPoint To, byte[] Data, TimeSpan SentAt);
