using System.Collections.Concurrent;
using System.Text.Json;
using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Server.Signaling;
using Ferry.Transports;

namespace Ferry.Server.Rooms;

/// <summary>One participant of a room: its signaling connection and its media objects.</summary>
public sealed class Peer
{
    internal Peer(string id, IPeerChannel connection, bool broadcaster = false)
    {
        Id = id;
        Connection = connection;
        IsBroadcaster = broadcaster;
    }

    /// <summary>A sender without a WebSocket (mediasoup-demo's broadcaster HTTP API): it consumes only what it asks for.</summary>
    public bool IsBroadcaster { get; }

    /// <summary>The peerId of the WebSocket URL.</summary>
    public string Id { get; }

    /// <summary>Its protoo connection (silent for a broadcaster; waiting while it reconnects to a room that moved here).</summary>
    public IPeerChannel Connection { get; internal set; }

    /// <summary>True after join.</summary>
    public bool Joined { get; internal set; }

    /// <summary>Name shown to others.</summary>
    public string DisplayName { get; internal set; } = "";

    /// <summary>The device description the client sent (opaque).</summary>
    public JsonElement Device { get; internal set; }

    /// <summary>What the peer can receive.</summary>
    public RtpCapabilities? RtpCapabilities { get; internal set; }

    /// <summary>The SCTP capabilities the client sent at join (null: it uses no data channels).</summary>
    public SctpCapabilities? SctpCapabilities { get; internal set; }

    /// <summary>True once the peer left.</summary>
    public bool Closed { get; internal set; }

    /// <summary>Its transports by id.</summary>
    public ConcurrentDictionary<string, PeerTransport> Transports { get; } = new();

    /// <summary>Its producers by id.</summary>
    public ConcurrentDictionary<string, Producer> Producers { get; } = new();

    /// <summary>Its consumers by id.</summary>
    public ConcurrentDictionary<string, Consumer> Consumers { get; } = new();

    /// <summary>Its data producers by id.</summary>
    public ConcurrentDictionary<string, DataProducer> DataProducers { get; } = new();

    /// <summary>Its data consumers by id.</summary>
    public ConcurrentDictionary<string, DataConsumer> DataConsumers { get; } = new();
}

/// <summary>A peer's transport and what the client said it is for.</summary>
/// <param name="Transport">The transport.</param>
/// <param name="Producing">Used to send.</param>
/// <param name="Consuming">Used to receive.</param>
public sealed record PeerTransport(Transport Transport, bool Producing, bool Consuming)
{
    /// <summary>The transport as a WebRtcTransport, or a clear refusal.</summary>
    public WebRtcTransport WebRtc => Transport as WebRtcTransport ?? throw new Signaling.ProtooRequestException($"transport with id \"{Transport.Id}\" is not a WebRTC transport");

    /// <summary>True once connectWebRtcTransport succeeded.</summary>
    public bool Connected { get; set; }
}
