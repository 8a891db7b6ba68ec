using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Tests.Ortc;

/// <summary>
/// ORTC inputs written as mediasoup's tests write them (JSON), and outputs compared as JSON so a test
/// states every field the way mediasoup's <c>toEqual</c> does.
/// </summary>
internal static class OrtcTestData
{
    public const string Mid = RtpHeaderExtensionUris.Mid;
    public const string AbsSendTime = RtpHeaderExtensionUris.AbsSendTime;
    public const string TransportCc = RtpHeaderExtensionUris.TransportWideCc01;
    public const string FrameMarking07 = "http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07";
    public const string FrameMarking = "urn:ietf:params:rtp-hdrext:framemarking";
    public const string AudioLevel = RtpHeaderExtensionUris.SsrcAudioLevel;
    public const string VideoOrientation = RtpHeaderExtensionUris.VideoOrientation;
    public const string TimeOffset = RtpHeaderExtensionUris.TimeOffset;
    public const string AbsCaptureTime = RtpHeaderExtensionUris.AbsCaptureTime;
    public const string PlayoutDelay = RtpHeaderExtensionUris.PlayoutDelay;

    /// <summary>The five feedbacks of every supported video codec, in mediasoup's order, as JSON.</summary>
    public const string VideoFeedbackJson =
        """[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""}]""";

    public static RtpParameters Params(string json) => JsonSerializer.Deserialize(json, OrtcJson.Default.RtpParameters)!;

    public static RtpCapabilities Caps(string json) => JsonSerializer.Deserialize(json, OrtcJson.Default.RtpCapabilities)!;

    public static IReadOnlyList<RtpCodecCapability> MediaCodecs(string json) =>
        JsonSerializer.Deserialize(json, OrtcJsonCodecs.Default.IReadOnlyListRtpCodecCapability)!;

    public static RtpCapabilities Router(string mediaCodecsJson) => RouterRtpCapabilities.Generate(MediaCodecs(mediaCodecsJson));

    public static JsonNode Json(RtpParameters parameters) => JsonNode.Parse(JsonSerializer.Serialize(parameters, OrtcJson.Default.RtpParameters))!;

    /// <summary>The header extension a consumer carries, as mediasoup writes it.</summary>
    public static string Ext(string uri, int id) => $$"""{"uri":"{{uri}}","id":{{id}},"encrypt":false,"parameters":{} }""";

    public static string Exts(params (string Uri, int Id)[] extensions) => "[" + string.Join(",", extensions.Select(e => Ext(e.Uri, e.Id))) + "]";

    public static void JsonEqual(string expected, JsonNode? actual)
    {
        var expectedNode = JsonNode.Parse(expected);
        Assert.True(JsonNode.DeepEquals(expectedNode, actual), $"expected {expectedNode?.ToJsonString()}\n  actual {actual?.ToJsonString()}");
    }

    /// <summary>Producer mapping, then consumable parameters, as Transport.produce() chains them.</summary>
    public static (RtpMapping Mapping, RtpParameters Producer, RtpParameters Consumable) Produce(MediaKind kind, RtpParameters parameters, RtpCapabilities router, uint? firstMappedSsrc = null)
    {
        var mapping = RtpParametersNegotiation.GetProducerMapping(parameters, router, out var producer, firstMappedSsrc);
        return (mapping, producer, RtpParametersNegotiation.GetConsumableParameters(kind, producer, router, mapping));
    }

    /// <summary>mediasoup's random SSRC range, [100000000, 999999999).</summary>
    public static void InSsrcRange(uint? ssrc)
    {
        Assert.NotNull(ssrc);
        Assert.InRange(ssrc.Value, 100_000_000u, 999_999_998u);
    }
}
