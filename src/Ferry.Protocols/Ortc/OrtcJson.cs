using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Protocols.Ortc;

/// <summary>
/// Serialization of the ORTC types with mediasoup's JSON conventions: camelCase names, optional
/// fields omitted when absent, enumerations as their exact strings, unknown fields ignored, missing
/// required fields rejected with a <see cref="JsonException"/> that names them. Source-generated.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(RtpCapabilities))]
[JsonSerializable(typeof(RtpParameters))]
[JsonSerializable(typeof(IceParameters))]
[JsonSerializable(typeof(IReadOnlyList<IceCandidate>))]
[JsonSerializable(typeof(DtlsParameters))]
[JsonSerializable(typeof(SctpCapabilities))]
[JsonSerializable(typeof(SctpParameters))]
[JsonSerializable(typeof(SctpStreamParameters))]
[JsonSerializable(typeof(SrtpParameters))]
[JsonSerializable(typeof(TransportTupleInfo))]
[JsonSerializable(typeof(MediaKind))]
[JsonSerializable(typeof(ProducerType))]
[JsonSerializable(typeof(ConsumerType))]
[JsonSerializable(typeof(SctpStateName))]
[JsonSerializable(typeof(DataType))]
public sealed partial class OrtcJson : JsonSerializerContext;
