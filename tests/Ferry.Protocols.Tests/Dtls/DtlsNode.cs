using System.Net;
using Ferry.Protocols.Dtls;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Dtls;

/// <summary>Runs a DtlsEndpoint on the simulated network: datagrams in, polled datagrams out, its timer as the node's deadline.</summary>
internal sealed class DtlsNode(DtlsEndpoint endpoint, IPEndPoint self, IPEndPoint peer) : ISimNode
{
    public readonly List<DtlsEvent> Events = new();
    public DtlsEndpoint Endpoint => endpoint;
    public TimeSpan NextDeadline => endpoint.NextTimeout;

    public void Start(SimNetwork network)
    {
        endpoint.Start(network.Now);
        Pump(network);
    }

    public void OnDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data)
    {
        endpoint.HandleDatagram(network.Now, data);
        Pump(network);
    }

    public void OnTimeout(SimNetwork network)
    {
        endpoint.HandleTimeout(network.Now);
        Pump(network);
    }

    public void Pump(SimNetwork network)
    {
        while (endpoint.TryPollDatagram(out var d)) network.Send(self, peer, d);
        while (endpoint.TryPollEvent(out var e)) Events.Add(e);
    }
}
