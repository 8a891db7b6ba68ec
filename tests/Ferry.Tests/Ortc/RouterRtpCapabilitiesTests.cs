using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;

namespace Ferry.Tests.Ortc;

/// <summary>Counterparts of mediasoup's test-ortc.ts for generateRouterRtpCapabilities, and H264 profile handling.</summary>
public class RouterRtpCapabilitiesTests
{
    private static Dictionary<string, CodecParameterValue> P(params (string, CodecParameterValue)[] e) => e.ToDictionary(x => x.Item1, x => x.Item2);

    [Fact]
    public void generateRouterRtpCapabilities_succeeds()
    {
        var caps = RouterRtpCapabilities.Generate(
        [
            new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2, Parameters = P(("useinbandfec", 1), ("foo", "bar")) },
            new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP8", PreferredPayloadType = 125, ClockRate = 90000 },
            new RtpCodecCapability
            {
                Kind = MediaKind.Video, MimeType = "video/H264", ClockRate = 90000, RtcpFeedback = [],
                Parameters = P(("level-asymmetry-allowed", 1), ("profile-level-id", "42e01f"), ("foo", "bar")),
            },
        ]);
        var json = JsonNode.Parse(JsonSerializer.Serialize(caps.Codecs!, OrtcJsonCodecs.Default.IReadOnlyListRtpCodecCapability))!;
        var expected = JsonNode.Parse("""
        [
          {"kind":"audio","mimeType":"audio/opus","preferredPayloadType":100,"clockRate":48000,"channels":2,
           "parameters":{"useinbandfec":1,"foo":"bar"},"rtcpFeedback":[{"type":"nack","parameter":""},{"type":"transport-cc","parameter":""}]},
          {"kind":"video","mimeType":"video/VP8","preferredPayloadType":125,"clockRate":90000,"parameters":{},
           "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""}]},
          {"kind":"video","mimeType":"video/rtx","preferredPayloadType":101,"clockRate":90000,"parameters":{"apt":125},"rtcpFeedback":[]},
          {"kind":"video","mimeType":"video/H264","preferredPayloadType":102,"clockRate":90000,
           "parameters":{"level-asymmetry-allowed":1,"profile-level-id":"42e01f","foo":"bar"},
           "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""}]},
          {"kind":"video","mimeType":"video/rtx","preferredPayloadType":103,"clockRate":90000,"parameters":{"apt":102},"rtcpFeedback":[]}
        ]
        """);
        Assert.True(JsonNode.DeepEquals(expected, json), json!.ToJsonString());
        Assert.Equal(SupportedRtpCapabilities.Value.HeaderExtensions, caps.HeaderExtensions);
    }

    [Theory]
    [InlineData("audio/chicken", 8000, 1)]
    [InlineData("audio/opus", 48000, 1)]      // opus is declared with 2 channels
    [InlineData("video/rtx", 90000, null)]
    public void generateRouterRtpCapabilities_with_unsupported_codecs_throws_UnsupportedError(string mime, int clockRate, int? channels)
    {
        var kind = mime.StartsWith("audio", StringComparison.Ordinal) ? MediaKind.Audio : MediaKind.Video;
        Assert.Throws<UnsupportedException>(() => RouterRtpCapabilities.Generate([new RtpCodecCapability { Kind = kind, MimeType = mime, ClockRate = clockRate, Channels = channels }]));
    }

    [Fact]
    public void generateRouterRtpCapabilities_with_too_many_codecs_throws()
    {
        var opus = new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 };
        var error = Assert.Throws<InvalidOperationException>(() => RouterRtpCapabilities.Generate(Enumerable.Repeat(opus, 100).ToArray()));
        Assert.Contains("cannot allocate", error.Message);
    }

    [Fact]
    public void Duplicated_payload_types_and_malformed_codecs_are_TypeErrors()
    {
        var cn = new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/CN", ClockRate = 8000 };
        var cn16 = cn with { ClockRate = 16000 };
        Assert.Equal("duplicated codec.preferredPayloadType", Assert.Throws<ArgumentException>(() => RouterRtpCapabilities.Generate([cn, cn16])).Message);
        Assert.Throws<ArgumentException>(() => RouterRtpCapabilities.Generate([cn with { MimeType = "cn" }]));
        Assert.Throws<ArgumentException>(() => RouterRtpCapabilities.Generate([cn with { MimeType = "" }]));
    }

    [Fact]
    public void Static_payload_types_and_kind_from_the_mime_type()
    {
        var caps = RouterRtpCapabilities.Generate([
            new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "audio/PCMU", ClockRate = 8000 },
            new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "video/vp9", ClockRate = 90000, Channels = 2, Parameters = P(("profile-id", 2)) },
        ]);
        Assert.Equal(0, caps.Codecs![0].PreferredPayloadType);
        Assert.Equal(MediaKind.Audio, caps.Codecs[0].Kind);
        Assert.Equal(1, caps.Codecs[0].Channels);
        Assert.Equal(MediaKind.Video, caps.Codecs[1].Kind);
        Assert.Null(caps.Codecs[1].Channels);
        Assert.Equal(100, caps.Codecs[1].PreferredPayloadType);
        Assert.Equal(101, caps.Codecs[2].PreferredPayloadType);
    }

    [Theory]
    [InlineData("42e01f", H264Profile.ConstrainedBaseline, 31)]
    [InlineData("42c01f", H264Profile.ConstrainedBaseline, 31)]
    [InlineData("4de01f", H264Profile.ConstrainedBaseline, 31)]
    [InlineData("42001f", H264Profile.Baseline, 31)]
    [InlineData("4d0032", H264Profile.Main, 50)]
    [InlineData("640032", H264Profile.High, 50)]
    [InlineData("640c1f", H264Profile.ConstrainedHigh, 31)]
    [InlineData("f4001f", H264Profile.PredictiveHigh444, 31)]
    [InlineData("42f00b", H264Profile.ConstrainedBaseline, H264ProfileLevelId.Level1B)]
    [InlineData("58a01f", H264Profile.Baseline, 31)]   // extended profile_idc 0x58 with iop 10xx0000
    public void H264_profile_level_ids_parse(string text, H264Profile profile, int level)
    {
        Assert.Equal(new H264ProfileLevelId(profile, level), H264ProfileLevelId.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("42e01")]
    [InlineData("42e0zz")]
    [InlineData("000000")]
    [InlineData("42e0ff")]        // no such level
    [InlineData("6401 1f")]
    [InlineData("99e01f")]        // unknown profile_idc
    public void Invalid_profile_level_ids_are_rejected(string text) => Assert.Null(H264ProfileLevelId.Parse(text));

    [Fact]
    public void The_answer_level_is_the_lower_unless_both_allow_asymmetry()
    {
        Assert.Equal("42e01f", H264ProfileLevelId.AnswerFor("42e01f", false, "42e034", false));
        Assert.Equal("42e034", H264ProfileLevelId.AnswerFor("42e034", true, "42e01f", true));
        Assert.Equal("42e00a", H264ProfileLevelId.AnswerFor("42e00a", false, "42f00b", false));   // level 1 < 1b
        Assert.Null(H264ProfileLevelId.AnswerFor(null, false, null, false));
        Assert.Throws<ArgumentException>(() => H264ProfileLevelId.AnswerFor("42e01f", false, "640032", false));
    }

    [Fact]
    public void Strict_matching_checks_h264_packetization_mode_and_profile()
    {
        var a = new CodecMatching.CodecView("video/H264", 90000, null, P(("packetization-mode", 1), ("profile-level-id", "4d0032")));
        Assert.True(CodecMatching.Match(a, a with { MimeType = "video/h264" }, strict: true, out var answer));
        Assert.Equal("4d0032", answer);
        Assert.False(CodecMatching.Match(a, a with { Parameters = P(("packetization-mode", 0), ("profile-level-id", "4d0032")) }, strict: true, out _));
        Assert.False(CodecMatching.Match(a, a with { Parameters = P(("packetization-mode", 1), ("profile-level-id", "42e01f")) }, strict: true, out _));
        Assert.True(CodecMatching.Match(a, a with { Parameters = P(("packetization-mode", 0)) }, strict: false, out _));
        var vp9 = new CodecMatching.CodecView("video/VP9", 90000, null, P(("profile-id", 2)));
        Assert.False(CodecMatching.Match(vp9, vp9 with { Parameters = null }, strict: true, out _));
    }
}
