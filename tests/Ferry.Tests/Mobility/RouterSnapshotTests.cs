using Ferry.Mobility.Remote;
using Ferry.Rtp;
using Ferry.RtpObservers;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A router's snapshot between two routers of this process (through the same relays and sockets as between
/// processes): it survives JSON, its observers come back with their ids, settings and members (or give their
/// members to the observers the target names), and an export that cannot be made freezes nothing.
/// </summary>
public sealed class RouterSnapshotTests : ThreeWorkers
{
    private static readonly IReadOnlyList<TransportListenInfo> ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }];

    [Fact]
    public async Task Observers_come_back_with_their_ids_and_members_or_give_them_to_the_ones_named_and_the_snapshot_survives_json()
    {
        var (source, target) = (_routers[0], _routers[1]);
        var (first, firstFar) = await ConnectedAsync(source);
        var (second, secondFar) = await ConnectedAsync(source);
        using var farEnds = new FarEnds(firstFar, secondFar);
        var audio1 = await first.ProduceAsync(OpusProducer(1000, audioLevelId: 10));
        var audio2 = await second.ProduceAsync(OpusProducer(2000, audioLevelId: 10));
        // A consumer of the other transport's producer: it must read the imported original at the target, with no pipe.
        var consumer = await second.ConsumeAsync(new ConsumerOptions { ProducerId = audio1.Id, RtpCapabilities = source.RtpCapabilities });
        var levels = await source.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 3, Threshold = -50, Interval = 400 });
        var speaker = await source.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 500 });
        await speaker.PauseAsync();
        foreach (var observer in new RtpObserver[] { levels, speaker })
            foreach (var producer in new[] { audio1, audio2 }) await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = producer.Id });
        // The target's room made its own audio-level observer: it takes the source's members.
        var own = await target.CreateAudioLevelObserverAsync();

        var plan = await source.GetRouterMovePlanAsync();
        Assert.Empty(plan.Obstacles);
        Assert.Equal(new[] { first.Id, second.Id }.Order(StringComparer.Ordinal), plan.TransportIds);
        var slot = await target.PrepareRouterImportAsync(new RouterImportOptions
        {
            TransportIds = plan.TransportIds, ListenInfos = ListenInfos, RtpObservers = new Dictionary<string, RtpObserver> { [levels.Id] = own },
        });
        var move = await source.ExportForMoveAsync(new RouterExportOptions { TargetRelays = slot.RelayEndPoints });
        var json = SnapshotJson.Serialize(move.Snapshot);
        Assert.Equal(json, SnapshotJson.Serialize(SnapshotJson.DeserializeRouter(json)));
        var result = await slot.ImportAsync(SnapshotJson.DeserializeRouter(json));
        await move.CommitAsync();

        Assert.Equal(plan.TransportIds, result.Transports.Select(t => t.Transport.Id).Order(StringComparer.Ordinal));
        Assert.All(result.Transports, t => Assert.Same(target, t.Transport.Router));
        Assert.DoesNotContain(result.Transports, t => t.IceParameters.UsernameFragment == first.IceParameters.UsernameFragment || t.IceParameters.UsernameFragment == second.IceParameters.UsernameFragment);
        Assert.Same(own, result.RtpObservers.Single(o => o is AudioLevelObserver));
        var made = Assert.IsType<ActiveSpeakerObserver>(result.RtpObservers.Single(o => o is ActiveSpeakerObserver));
        Assert.Equal(speaker.Id, made.Id);
        Assert.Same(target, made.Router);
        Assert.True(made.Paused);
        Assert.Equal(speaker.Interval, made.Interval);
        Assert.Equal(2, target.RtpObservers.Count);
        await target.InvokeAsync(() =>
        {
            Assert.Equal(new[] { audio1.Id, audio2.Id }, own.Producers.Select(p => p.Id));
            Assert.Equal(new[] { audio1.Id, audio2.Id }, made.Producers.Select(p => p.Id));
            Assert.All(own.Producers, p => Assert.Same(target, p.Transport.Router));
            var moved = result.Transports.Single(t => t.Transport.Id == second.Id).Transport.Consumers.Single();
            Assert.Equal(consumer.Id, moved.Id);
            Assert.Same(own.Producers[0], moved.Producer);
        });
        // The source's observers still stand (the application closes its router): with their members until those go with the relays.
        Assert.False(levels.Closed);
        Assert.Equal(2, move.Transports.Count);
    }

    [Fact]
    public async Task An_export_that_cannot_be_made_freezes_nothing()
    {
        var (source, target) = (_routers[0], _routers[1]);
        var (first, firstFar) = await ConnectedAsync(source);
        var plan = await source.GetRouterMovePlanAsync();
        await using var slot = await target.PrepareRouterImportAsync(new RouterImportOptions { TransportIds = plan.TransportIds, ListenInfos = ListenInfos });
        // A transport made since the plan has no relay at the target: the export is refused, nobody frozen.
        var (second, secondFar) = await ConnectedAsync(source);
        using var farEnds = new FarEnds(firstFar, secondFar);
        var refused = await Assert.ThrowsAsync<InvalidStateException>(() => source.ExportForMoveAsync(new RouterExportOptions { TargetRelays = slot.RelayEndPoints }));
        Assert.Contains(second.Id, refused.Message);
        Assert.Null(first.OutgoingMove);
        Assert.Null(second.OutgoingMove);

        // What a router move cannot carry is named by the plan and refuses the export: a transport not connected, one of
        // another kind, a producer piped to another router of this process.
        var unconnected = await source.CreateWebRtcTransportAsync(Loopback);
        var plain = await source.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = ListenInfos[0] });
        var audio = await first.ProduceAsync(OpusProducer());
        await source.PipeToRouterAsync(new PipeToRouterOptions { ProducerId = audio.Id, Router = _routers[2] });
        var obstacles = (await source.GetRouterMovePlanAsync()).Obstacles;
        Assert.Contains(obstacles, o => o.Contains(unconnected.Id) && o.Contains("not connected"));
        Assert.Contains(obstacles, o => o.Contains(plain.Id) && o.Contains(nameof(PlainTransport)));
        Assert.Contains(obstacles, o => o.Contains(audio.Id) && o.Contains("piped to another router"));
        var relays = (await source.GetRouterMovePlanAsync()).TransportIds.ToDictionary(id => id, _ => slot.RelayEndPoints.Values.First());
        await Assert.ThrowsAsync<InvalidStateException>(() => source.ExportForMoveAsync(new RouterExportOptions { TargetRelays = relays }));
        Assert.Null(first.OutgoingMove);
        Assert.Null(second.OutgoingMove);
        Assert.Empty(target.Transports);
    }

    /// <summary>Disposes the far ends of a test.</summary>
    private sealed class FarEnds(params IDisposable[] farEnds) : IDisposable
    {
        public void Dispose()
        {
            foreach (var far in farEnds) far.Dispose();
        }
    }
}
