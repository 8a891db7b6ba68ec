using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Mobility.Remote;

/// <summary>The JSON form of the snapshots a move between processes carries (what a control plane stores or sends).</summary>
public static class SnapshotJson
{
    /// <summary>Options for <see cref="WebRtcTransportSnapshot"/> and the records in it: camelCase, nulls left out, byte arrays as base64.</summary>
    /// <remarks>
    /// Metadata is generated at build time (<see cref="SnapshotJsonContext"/>), with reflection as the fallback for
    /// other types: the first move after a start would otherwise spend a second building serializers by reflection
    /// while its transports are frozen (measured: the first move of a room froze media 1.1–2.7 s, later ones 6–50 ms).
    /// </remarks>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            SnapshotJsonContext.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
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

    /// <summary>A router's checkpoint (failover copy) as JSON text.</summary>
    public static string Serialize(RouterCheckpoint checkpoint) => JsonSerializer.Serialize(checkpoint, Options);

    /// <summary>A router's checkpoint as UTF-8 JSON (what a standby is sent).</summary>
    public static byte[] SerializeToUtf8(RouterCheckpoint checkpoint) => JsonSerializer.SerializeToUtf8Bytes(checkpoint, Options);

    /// <summary>A router's checkpoint from JSON text.</summary>
    /// <exception cref="JsonException">Not a checkpoint.</exception>
    public static RouterCheckpoint DeserializeCheckpoint(string json) =>
        JsonSerializer.Deserialize<RouterCheckpoint>(json, Options) ?? throw new JsonException("null checkpoint");
}

/// <summary>Build-time JSON metadata for the snapshots (see <see cref="SnapshotJson.Options"/>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RouterSnapshot))]
[JsonSerializable(typeof(RouterCheckpoint))]
[JsonSerializable(typeof(WebRtcTransportSnapshot))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext
{
}
