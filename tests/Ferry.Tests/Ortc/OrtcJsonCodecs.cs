using System.Text.Json.Serialization;
using Ferry.Protocols.Ortc;

namespace Ferry.Tests.Ortc;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IReadOnlyList<RtpCodecCapability>))]
internal sealed partial class OrtcJsonCodecs : JsonSerializerContext;
