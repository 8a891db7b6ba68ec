using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;

namespace Ferry.Protocols.Tests.Ortc;

public class OrtcJsonTests
{
    // What mediasoup-client (Chrome111 handler) sends for produce(): audio with Opus in-band FEC.
    private const string OpusProduce = """
    {"mid":"0","codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,
      "parameters":{"minptime":10,"useinbandfec":1,"sprop-stereo":0,"usedtx":1},
      "rtcpFeedback":[{"type":"transport-cc","parameter":""},{"type":"nack","parameter":""}]}],
     "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}},
      {"uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","id":2,"encrypt":false,"parameters":{}},
      {"uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","id":3,"encrypt":false,"parameters":{}},
      {"uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","id":1,"encrypt":false,"parameters":{}}],
     "encodings":[{"ssrc":2365543322,"dtx":false}],
     "rtcp":{"cname":"7M8w3xLbC4MQ0N9g","reducedSize":true}}
    """;

    // VP8 with three simulcast rids, RTX and the extra encoding fields browsers add.
    private const string Vp8SimulcastProduce = """
    {"mid":"1","codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000,"parameters":{},
      "rtcpFeedback":[{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""},{"type":"ccm","parameter":"fir"},{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"}]},
      {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96},"rtcpFeedback":[]}],
     "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id","id":10,"encrypt":false,"parameters":{}},
      {"uri":"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id","id":11,"encrypt":false,"parameters":{}}],
     "encodings":[{"active":true,"scaleResolutionDownBy":4,"maxBitrate":500000,"rid":"r0","scalabilityMode":"L1T3","dtx":false},
      {"active":true,"scaleResolutionDownBy":2,"maxBitrate":1000000,"rid":"r1","scalabilityMode":"L1T3","dtx":false},
      {"active":true,"scaleResolutionDownBy":1,"maxBitrate":5000000,"rid":"r2","scalabilityMode":"L1T3","dtx":false}],
     "rtcp":{"cname":"7M8w3xLbC4MQ0N9g","reducedSize":true}}
    """;

    // H264 parameters mix numbers and strings.
    private const string H264Produce = """
    {"codecs":[{"mimeType":"video/H264","payloadType":102,"clockRate":90000,
      "parameters":{"level-asymmetry-allowed":1,"packetization-mode":1,"profile-level-id":"42e01f"},"rtcpFeedback":[]},
      {"mimeType":"video/rtx","payloadType":103,"clockRate":90000,"parameters":{"apt":102}}],
     "encodings":[{"ssrc":111,"rtx":{"ssrc":112}}]}
    """;

    // Router capabilities as mediasoup generates them (reference §3.5, shortened).
    private const string RouterCapabilities = """
    {"codecs":[{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2,"rtcpFeedback":[{"type":"nack","parameter":""},{"type":"transport-cc","parameter":""}],"parameters":{},"preferredPayloadType":100},
      {"kind":"video","mimeType":"video/VP8","clockRate":90000,"rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""}],"parameters":{},"preferredPayloadType":101},
      {"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}],
     "headerExtensions":[{"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1,"preferredEncrypt":false,"direction":"sendrecv"},
      {"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":5,"preferredEncrypt":false,"direction":"sendrecv"},
      {"kind":"video","uri":"urn:3gpp:video-orientation","preferredId":11,"preferredEncrypt":false,"direction":"sendrecv"},
      {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","preferredId":10,"preferredEncrypt":false,"direction":"sendrecv"}]}
    """;

    private static void RoundTrips<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        var value = JsonSerializer.Deserialize(json, info)!;
        var back = JsonSerializer.Serialize(value, info);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(back)), $"\n{json}\n!=\n{back}");
    }

    [Theory]
    [InlineData(OpusProduce)]
    [InlineData(Vp8SimulcastProduce)]
    [InlineData(H264Produce)]
    public void Producer_rtp_parameters_round_trip_exactly(string json) => RoundTrips(json, OrtcJson.Default.RtpParameters);

    [Fact]
    public void Router_capabilities_round_trip_exactly() => RoundTrips(RouterCapabilities, OrtcJson.Default.RtpCapabilities);

    [Fact]
    public void Parameter_values_keep_their_json_types()
    {
        var p = JsonSerializer.Deserialize(H264Produce, OrtcJson.Default.RtpParameters)!;
        var parameters = p.Codecs[0].Parameters!;
        Assert.False(parameters["packetization-mode"].IsString);
        Assert.True(parameters["packetization-mode"].TryGetInt(out var mode) && mode == 1);
        Assert.Equal("42e01f", parameters["profile-level-id"].Text);
        Assert.True(p.Codecs[1].Parameters!["apt"].TryGetInt(out var apt) && apt == 102);
        Assert.Equal(112u, p.Encodings![0].Rtx!.Ssrc);
        var vp8 = JsonSerializer.Deserialize(Vp8SimulcastProduce, OrtcJson.Default.RtpParameters)!;
        Assert.Equal(["r0", "r1", "r2"], vp8.Encodings!.Select(e => e.Rid));
        Assert.True(vp8.Encodings![0].Extra!["active"].GetBoolean());
    }

    [Fact]
    public void Transport_parameters_use_mediasoups_names()
    {
        var candidates = new List<IceCandidate>
        {
            new() { Foundation = "udpcandidate", Priority = 1076302079, Address = "127.0.0.1", Ip = "127.0.0.1", Protocol = TransportProtocolName.Udp, Port = 40000, Type = IceCandidateType.Host },
            new() { Foundation = "tcpcandidate", Priority = 1076276479, Address = "127.0.0.1", Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp, Port = 40001, Type = IceCandidateType.Host, TcpType = IceTcpCandidateType.Passive },
        };
        var json = JsonSerializer.Serialize<IReadOnlyList<IceCandidate>>(candidates, OrtcJson.Default.IReadOnlyListIceCandidate);
        Assert.Equal("""[{"foundation":"udpcandidate","priority":1076302079,"address":"127.0.0.1","ip":"127.0.0.1","protocol":"udp","port":40000,"type":"host"},{"foundation":"tcpcandidate","priority":1076276479,"address":"127.0.0.1","ip":"127.0.0.1","protocol":"tcp","port":40001,"type":"host","tcpType":"passive"}]""", json);

        var sctp = JsonSerializer.Serialize(new SctpParameters { Port = 5000, Os = 1024, Mis = 1024, MaxMessageSize = 262144 }, OrtcJson.Default.SctpParameters);
        Assert.Equal("""{"port":5000,"OS":1024,"MIS":1024,"maxMessageSize":262144}""", sctp);
        var dtls = JsonSerializer.Deserialize("""{"role":"client","fingerprints":[{"algorithm":"sha-256","value":"AB:CD"}]}""", OrtcJson.Default.DtlsParameters)!;
        Assert.Equal(DtlsRoleName.Client, dtls.Role);
        Assert.Equal("""{"role":"auto","fingerprints":[{"algorithm":"sha-256","value":"AB:CD"}]}""",
            JsonSerializer.Serialize(dtls with { Role = DtlsRoleName.Auto }, OrtcJson.Default.DtlsParameters));
        var ice = JsonSerializer.Serialize(new IceParameters { UsernameFragment = "u", Password = "p", IceLite = true }, OrtcJson.Default.IceParameters);
        Assert.Equal("""{"usernameFragment":"u","password":"p","iceLite":true}""", ice);
    }

    [Fact]
    public void Missing_required_fields_are_named_in_the_error()
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"codecs":[{"payloadType":1,"clockRate":1}]}""", OrtcJson.Default.RtpParameters));
        Assert.Contains("mimeType", error.Message);
        error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"mid":"0"}""", OrtcJson.Default.RtpParameters));
        Assert.Contains("codecs", error.Message);
    }

    [Fact]
    public void Bad_values_are_clear_errors_and_unknown_fields_are_ignored()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"codecs":[{"kind":"smell","mimeType":"a/b","clockRate":1}]}""", OrtcJson.Default.RtpCapabilities));
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"codecs":[{"mimeType":"a/b","payloadType":1,"clockRate":1,"parameters":{"x":true}}]}""", OrtcJson.Default.RtpParameters));
        Assert.Contains("strings or numbers", error.Message);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"codecs":[{"mimeType":"a/b","payloadType":"1","clockRate":1}]}""", OrtcJson.Default.RtpParameters));
        var p = JsonSerializer.Deserialize("""{"codecs":[],"somethingNew":{"a":1}}""", OrtcJson.Default.RtpParameters)!;
        Assert.Empty(p.Codecs);
    }

    [Theory]
    [InlineData("L1T3", 1, 3, false)]
    [InlineData("L3T3", 3, 3, false)]
    [InlineData("L3T3_KEY", 3, 3, true)]
    [InlineData("L2T2h", 2, 2, false)]
    [InlineData("S2T3", 2, 3, false)]
    [InlineData("L16T16", 16, 16, false)]
    [InlineData("L20T3", 20, 3, false)]
    [InlineData("L4T7_KEY_SHIFT", 4, 7, true)]
    [InlineData("S0T3", 1, 1, false)]
    [InlineData("S1T0", 1, 1, false)]
    [InlineData("S200T3", 1, 1, false)]
    [InlineData("garbage", 1, 1, false)]
    [InlineData(null, 1, 1, false)]
    public void Scalability_modes_parse_as_mediasoup_does(string? mode, int spatial, int temporal, bool ksvc) =>
        Assert.Equal(new ScalabilityMode(spatial, temporal, ksvc), ScalabilityMode.Parse(mode));

    [Fact]
    public void Random_json_never_throws_anything_but_JsonException()
    {
        var random = new Random(7);
        var samples = new[] { OpusProduce, Vp8SimulcastProduce, H264Produce, RouterCapabilities };
        for (var i = 0; i < 3000; i++)
        {
            var s = samples[random.Next(samples.Length)].ToCharArray();
            for (var k = random.Next(1, 4); k > 0; k--) s[random.Next(s.Length)] = "{}[]\",:0a-"[random.Next(10)];
            var text = new string(s)[..random.Next(s.Length + 1)];
            try
            {
                JsonSerializer.Deserialize(text, OrtcJson.Default.RtpParameters);
                JsonSerializer.Deserialize(text, OrtcJson.Default.RtpCapabilities);
            }
            catch (JsonException)
            {
            }
        }
    }
}
