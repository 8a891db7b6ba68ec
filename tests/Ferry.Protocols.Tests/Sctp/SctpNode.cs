using System.Net;
using System.Text.Json;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

/// <summary>Runs an SctpAssociation (inside a DataChannelEndpoint) on the simulated network.</summary>
internal sealed class SctpNode : ISimNode, IDisposable
{
    private readonly byte[] _buffer = new byte[2048];
    private readonly IPEndPoint _self;
    private readonly IPEndPoint _peer;

    public SctpNode(SctpOptions options, IPEndPoint self, IPEndPoint peer, bool dtlsClient)
    {
        Endpoint = new DataChannelEndpoint(new SctpAssociation(options), dtlsClient);
        _self = self;
        _peer = peer;
    }

    public DataChannelEndpoint Endpoint { get; private set; }

    /// <summary>This node's clock runs this far ahead of the network's (a node imported elsewhere has another clock).</summary>
    public TimeSpan ClockOffset { get; set; }

    /// <summary>While true, Pump leaves messages and events in the endpoint (so a snapshot holds some).</summary>
    public bool Hold { get; set; }

    public TimeSpan LocalNow(SimNetwork network) => network.Now + ClockOffset;

    /// <summary>
    /// Moves the endpoint "to another process": export at this clock, through JSON, import with a clock
    /// <paramref name="newOffset"/> ahead of the network's. Returns the snapshot.
    /// </summary>
    /// <summary>Continues with <paramref name="endpoint"/> (imported at this node's clock plus <paramref name="offsetChange"/>).</summary>
    public void Adopt(DataChannelEndpoint endpoint, TimeSpan offsetChange)
    {
        Endpoint.Dispose();
        Endpoint = endpoint;
        ClockOffset += offsetChange;
    }

    public DataChannelEndpointState Move(SimNetwork network, TimeSpan newOffset)
    {
        var old = Endpoint;
        var state = old.Export(LocalNow(network));
        state = JsonSerializer.Deserialize<DataChannelEndpointState>(JsonSerializer.Serialize(state))!;
        old.Dispose();
        ClockOffset = newOffset;
        Endpoint = DataChannelEndpoint.Import(state, LocalNow(network));
        return state;
    }
    public SctpAssociation Sctp => Endpoint.Association;
    public List<(ushort Stream, uint Ppid, byte[] Data)> Received { get; } = [];
    public List<SctpEvent> SctpEvents { get; } = [];
    public List<DataChannelEvent> ChannelEvents { get; } = [];
    public List<byte[]> SentPackets { get; } = [];
    public bool KeepSentPackets { get; set; }

    public bool Connected => Sctp.State == SctpState.Established;

    public TimeSpan NextDeadline => Sctp.NextTimeout is var t && t != TimeSpan.MaxValue ? t - ClockOffset : t;

    public void OnDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data)
    {
        Endpoint.HandlePacket(LocalNow(network), data);
        Pump(network);
    }

    public void OnTimeout(SimNetwork network)
    {
        Endpoint.HandleTimeout(LocalNow(network));
        Pump(network);
    }

    public void Pump(SimNetwork network)
    {
        while (!Hold && Endpoint.TryPollMessage(out var m))
        {
            Received.Add((m.StreamId, m.Ppid, m.Data.ToArray()));
            m.Release();
        }
        while (!Hold && Endpoint.TryPollEvent(out var e))
        {
            ChannelEvents.Add(e);
            if (e.Association is { } a) SctpEvents.Add(a);
        }
        int n;
        while ((n = Endpoint.PollPacket(_buffer, LocalNow(network))) > 0)
        {
            if (KeepSentPackets) SentPackets.Add(_buffer[..n]);
            network.Send(_self, _peer, _buffer.AsSpan(0, n));
        }
    }

    public void Dispose() => Endpoint.Dispose();
}

/// <summary>Two nodes on one simulated network.</summary>
internal sealed class SctpPair : IDisposable
{
    public static readonly IPEndPoint AddressA = SimAddress.Loopback(1, 5000);
    public static readonly IPEndPoint AddressB = SimAddress.Loopback(2, 5000);

    public SctpPair(int seed, LinkConditions? conditions = null, SctpOptions? a = null, SctpOptions? b = null, bool connect = true, bool bothConnect = false)
    {
        Net = new SimNetwork(seed) { DefaultConditions = conditions ?? LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(10) } };
        var random = new Random(seed);
        A = new SctpNode((a ?? new SctpOptions()) with { Random = new Random(random.Next()) }, AddressA, AddressB, dtlsClient: true);
        B = new SctpNode((b ?? new SctpOptions()) with { Random = new Random(random.Next()) }, AddressB, AddressA, dtlsClient: false);
        Net.Attach(AddressA, A);
        Net.Attach(AddressB, B);
        if (connect)
        {
            A.Sctp.Connect(Net.Now);
            if (bothConnect) B.Sctp.Connect(Net.Now);
            A.Pump(Net);
            B.Pump(Net);
        }
    }

    public SimNetwork Net { get; }
    public SctpNode A { get; }
    public SctpNode B { get; }

    public bool BothConnected => A.Connected && B.Connected;

    public void ConnectOrFail(TimeSpan? timeout = null) =>
        Assert.True(Net.RunUntil(() => BothConnected, timeout ?? TimeSpan.FromSeconds(30)), $"not connected (seed {Net.Seed}): {Net.Stats}");

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}
