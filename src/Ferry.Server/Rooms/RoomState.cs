using System.Text.Json;
using Ferry.Protocols.Ortc;

namespace Ferry.Server.Rooms;

/// <summary>
/// What a room knows beyond its router's snapshot, as plain data: its peers (who they are, what they can
/// receive) and which peer owns which transport, producer and consumer, with the application's appData (the
/// engine does not carry appData). Moves with the router snapshot when a room moves to another node.
/// </summary>
public sealed record RoomState
{
    /// <summary>The version this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version; an importer refuses one it does not know.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The room id.</summary>
    public required string RoomId { get; init; }

    /// <summary>The room's audio level observer (its id in the router snapshot).</summary>
    public required string AudioLevelObserverId { get; init; }

    /// <summary>The peers.</summary>
    public required IReadOnlyList<PeerState> Peers { get; init; }
}

/// <summary>One peer of a <see cref="RoomState"/>.</summary>
public sealed record PeerState
{
    /// <summary>Peer id.</summary>
    public required string Id { get; init; }

    /// <summary>True after join.</summary>
    public bool Joined { get; init; }

    /// <summary>Display name.</summary>
    public string DisplayName { get; init; } = "";

    /// <summary>The device the client described (opaque).</summary>
    public JsonElement? Device { get; init; }

    /// <summary>What it can receive.</summary>
    public RtpCapabilities? RtpCapabilities { get; init; }

    /// <summary>Its SCTP capabilities (null: no data channels).</summary>
    public SctpCapabilities? SctpCapabilities { get; init; }

    /// <summary>Its transports.</summary>
    public IReadOnlyList<PeerTransportState> Transports { get; init; } = [];

    /// <summary>Its producers, consumers, data producers and data consumers (ids with appData).</summary>
    public IReadOnlyList<OwnedObjectState> Objects { get; init; } = [];
}

/// <summary>A transport of a <see cref="PeerState"/>.</summary>
public sealed record PeerTransportState
{
    /// <summary>Transport id.</summary>
    public required string Id { get; init; }

    /// <summary>Used to send.</summary>
    public bool Producing { get; init; }

    /// <summary>Used to receive.</summary>
    public bool Consuming { get; init; }

    /// <summary>connectWebRtcTransport succeeded.</summary>
    public bool Connected { get; init; }

    /// <summary>The transport's appData as JSON.</summary>
    public JsonElement? AppData { get; init; }
}

/// <summary>A producer, consumer, data producer or data consumer a peer owns.</summary>
public sealed record OwnedObjectState
{
    /// <summary>"producer", "consumer", "dataProducer" or "dataConsumer".</summary>
    public required string Kind { get; init; }

    /// <summary>Object id.</summary>
    public required string Id { get; init; }

    /// <summary>Its appData as JSON.</summary>
    public JsonElement? AppData { get; init; }
}

/// <summary>appData as JSON and back (strings and booleans come back as such, so code reading them by type still works).</summary>
internal static class AppDataJson
{
    public static JsonElement? From(object? appData) => appData is null ? null : JsonSerializer.SerializeToElement(appData, ServerJson.Options);

    public static object? To(JsonElement? json)
    {
        if (json is not { ValueKind: JsonValueKind.Object } element) return null;
        var result = new Dictionary<string, object?>();
        foreach (var property in element.EnumerateObject())
        {
            result[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Null => null,
                _ => property.Value.Clone(),
            };
        }
        return result;
    }
}
