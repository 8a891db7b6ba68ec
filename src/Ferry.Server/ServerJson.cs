using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Ferry.Protocols.Ortc;

using Ferry.Server.Signaling;

namespace Ferry.Server;

/// <summary>The server's JSON: mediasoup's conventions for the ORTC types (source-generated), reflection for the rest.</summary>
internal static class ServerJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(OrtcJson.Default, new DefaultJsonTypeInfoResolver()),
    };

    /// <summary>Reads <paramref name="name"/> of <paramref name="data"/> as <typeparamref name="T"/>, or fails the request with a clear reason.</summary>
    public static T Read<T>(JsonElement data, string name)
    {
        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty(name, out var value) || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
            throw new ProtooRequestException($"missing {name}");
        try
        {
            return value.Deserialize<T>(Options) ?? throw new ProtooRequestException($"missing {name}");
        }
        catch (JsonException e)
        {
            throw new ProtooRequestException($"invalid {name}: {e.Message}");
        }
    }

    /// <summary>An optional member: default when absent or null.</summary>
    public static T? ReadOptional<T>(JsonElement data, string name)
    {
        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty(name, out var value) || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return default;
        try
        {
            return value.Deserialize<T>(Options);
        }
        catch (JsonException e)
        {
            throw new ProtooRequestException($"invalid {name}: {e.Message}");
        }
    }

    /// <summary>A string member, required.</summary>
    public static string ReadString(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()! : throw new ProtooRequestException($"missing {name}");
}
