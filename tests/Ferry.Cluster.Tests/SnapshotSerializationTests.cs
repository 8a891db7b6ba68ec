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

/// <summary>A live transport's (and router's) move snapshot goes through Orleans' serializer (as a grain call would carry it) and comes back equal.</summary>
public sealed class SnapshotSerializationTests
{
    [Fact]
    public async Task Transport_and_router_snapshots_round_trip_through_the_orleans_serializer()
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
        await using var services = new ServiceCollection().AddSerializer(b => b.AddFerrySnapshots()).BuildServiceProvider();

        var slot = await router.PrepareTransportImportAsync(new TransportImportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var move = await transport.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint });
        var back = RoundTrip(services, move.Snapshot, SnapshotJson.Serialize);
        Assert.Single(back.Producers);
        Assert.Single(back.Consumers);
        Assert.NotNull(back.Sctp);
        await move.AbortAsync();
        await slot.DisposeAsync();

        // A whole router's snapshot (what draining a server carries through grains): its transports and observers.
        var observer = await router.CreateActiveSpeakerObserverAsync();
        await observer.AddProducerAsync(new RtpObservers.RtpObserverAddRemoveProducerOptions { ProducerId = producer.Id });
        var plan = await router.GetRouterMovePlanAsync();
        var routerSlot = await router.PrepareRouterImportAsync(new RouterImportOptions { TransportIds = plan.TransportIds, ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var routerMove = await router.ExportForMoveAsync(new RouterExportOptions { TargetRelays = routerSlot.RelayEndPoints });
        var routerBack = RoundTrip(services, routerMove.Snapshot, SnapshotJson.Serialize);
        Assert.Single(routerBack.Transports);
        Assert.Equal(producer.Id, Assert.Single(Assert.Single(routerBack.RtpObservers).ProducerIds));
        await routerMove.AbortAsync();
        await routerSlot.DisposeAsync();
    }

    /// <summary>Through Orleans' serializer and its deep copy (what a local grain call does): both give equal data.</summary>
    private static T RoundTrip<T>(IServiceProvider services, T snapshot, Func<T, string> json) where T : class
    {
        var serializer = services.GetRequiredService<Serializer>();
        var back = serializer.Deserialize<T>(serializer.SerializeToArray(snapshot))!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json(snapshot)), JsonNode.Parse(json(back))));
        var copy = services.GetRequiredService<DeepCopier>().Copy(snapshot)!;
        Assert.Equal(json(snapshot), json(copy));
        return back;
    }
}
