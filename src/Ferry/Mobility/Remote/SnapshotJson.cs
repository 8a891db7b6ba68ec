using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Mobility.Remote;

/// <summary>The JSON form of the snapshots a move between processes carries (what a control plane stores or sends).</summary>
public static class SnapshotJson
{
    /// <summary>Options for <see cref="WebRtcTransportSnapshot"/> and the records in it: camelCase, nulls left out, byte arrays as base64.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    /// <summary>The snapshot as JSON text.</summary>
    public static string Serialize(WebRtcTransportSnapshot snapshot) => JsonSerializer.Serialize(snapshot, Options);

    /// <summary>A snapshot from JSON text.</summary>
    /// <exception cref="JsonException">Not a snapshot.</exception>
    public static WebRtcTransportSnapshot Deserialize(string json) =>
        JsonSerializer.Deserialize<WebRtcTransportSnapshot>(json, Options) ?? throw new JsonException("null snapshot");

    /// <summary>A router's snapshot as JSON text.</summary>
    public static string Serialize(RouterSnapshot snapshot) => JsonSerializer.Serialize(snapshot, Options);

    /// <summary>A router's snapshot from JSON text.</summary>
    /// <exception cref="JsonException">Not a router snapshot.</exception>
    public static RouterSnapshot DeserializeRouter(string json) =>
        JsonSerializer.Deserialize<RouterSnapshot>(json, Options) ?? throw new JsonException("null snapshot");
}
