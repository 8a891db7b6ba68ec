using System.Text.Json.Nodes;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Server.Cluster;
using Ferry.Testing.Clients;
using Ferry.Transports;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Ferry.Cluster.Tests;

/// <summary>A live transport's move snapshot goes through Orleans' serializer (as a grain call would carry it) and comes back equal.</summary>
public sealed class SnapshotSerializationTests
{
    [Fact]
    public async Task A_transport_snapshot_round_trips_through_the_orleans_serializer()
    {
        await using var worker = await Worker.CreateAsync();
        var router = await worker.CreateRouterAsync(new RouterOptions
        {
            MediaCodecs = [new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 }],
        });
        var transport = await router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }], EnableSctp = true });
        using var far = new WebRtcTestClient();
        await transport.ConnectAsync(far.DtlsParameters);
        await far.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, TimeSpan.FromSeconds(10), transport.SctpParameters);
        await far.WaitSctpConnectedAsync(TimeSpan.FromSeconds(10));
        var producer = await transport.ProduceAsync(new ProducerOptions
        {
            Kind = MediaKind.Audio,
            RtpParameters = new RtpParameters
            {
                Codecs = [new RtpCodecParameters { MimeType = "audio/opus", PayloadType = 111, ClockRate = 48000, Channels = 2 }],
                Encodings = [new RtpEncodingParameters { Ssrc = 1234 }],
            },
        });
        await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities });
        var slot = await router.PrepareTransportImportAsync(new TransportImportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var move = await transport.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint });

        await using var services = new ServiceCollection().AddSerializer(b => b.AddFerrySnapshots()).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var bytes = serializer.SerializeToArray(move.Snapshot);
        var back = serializer.Deserialize<WebRtcTransportSnapshot>(bytes)!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(SnapshotJson.Serialize(move.Snapshot)), JsonNode.Parse(SnapshotJson.Serialize(back))));
        Assert.Single(back.Producers);
        Assert.Single(back.Consumers);
        Assert.NotNull(back.Sctp);
        // Orleans' deep copy (what a local grain call does) gives equal data too.
        var copy = services.GetRequiredService<DeepCopier>().Copy(move.Snapshot)!;
        Assert.Equal(SnapshotJson.Serialize(move.Snapshot), SnapshotJson.Serialize(copy));
        await move.AbortAsync();
        await slot.DisposeAsync();
    }
}
