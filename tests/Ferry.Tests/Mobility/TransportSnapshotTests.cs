using System.Text.Json.Nodes;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// A WebRtcTransport's snapshot is plain data: it survives JSON, an import makes a transport that exports
/// the same state again (the move's own fields aside), and bad snapshots are refused with nothing left behind.
/// The import runs on another worker of this process through the same relay and sockets as between processes.
/// </summary>
public sealed class TransportSnapshotTests : ThreeWorkers
{
    // Fields a move changes by design (its token, relay, credentials, the candidates' floor) or that are clock readings turned into durations.
    private static readonly HashSet<string> MoveFields = ["moveToken", "sourceRelay", "nextIceParameters", "highestLocalPreference", "ice"];

    [Fact]
    public async Task Export_then_import_then_export_again_gives_the_same_state()
    {
        var transport = await _routers[0].CreateWebRtcTransportAsync(Loopback with { EnableSctp = true });
        using var far = new WebRtcTestClient();
        await transport.ConnectAsync(far.DtlsParameters);
        await far.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout, transport.SctpParameters);
        await far.WaitSctpConnectedAsync(WaitTimeout);
        far.OpenDataChannel(100);
        var dataProducer = await transport.ProduceDataAsync(new Ferry.Data.DataProducerOptions { SctpStreamParameters = new SctpStreamParameters { StreamId = 100 } });
        await transport.ConsumeDataAsync(new Ferry.Data.DataConsumerOptions { DataProducerId = dataProducer.Id });
        var producer = await transport.ProduceAsync(Vp8Producer());
        await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _routers[0].RtpCapabilities });
        for (var i = 0; i < 20; i++) far.SendRtp(Vp8Packet(11111111, (ushort)(100 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => far.ReceivedRtp.Count >= 20, WaitTimeout));

        var first = await MoveAsync(transport, _routers[1]);
        var json = SnapshotJson.Serialize(first.Move.Snapshot);
        Assert.Equal(json, SnapshotJson.Serialize(SnapshotJson.Deserialize(json)));
        var second = await MoveAsync(first.Imported.Transport, _routers[2]);

        var a = Comparable(first.Move.Snapshot);
        var b = Comparable(second.Move.Snapshot);
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
        // The move's own fields: the first move's new credentials are the second's current ones, and candidates only go up.
        Assert.Equal(first.Move.Snapshot.NextIceParameters.UsernameFragment, second.Move.Snapshot.Ice.LocalUfrag);
        Assert.Equal(first.Move.Snapshot.Ice.Tuples, second.Move.Snapshot.Ice.Tuples);
        Assert.Equal(first.Move.Snapshot.Ice.Selected, second.Move.Snapshot.Ice.Selected);
        Assert.True(second.Move.Snapshot.HighestLocalPreference > first.Move.Snapshot.HighestLocalPreference);
        Assert.True(first.Imported.IceCandidates[0].Priority > transport.IceCandidates[0].Priority);
    }

    [Fact]
    public async Task A_refused_import_leaves_nothing_in_the_target_and_the_source_lives_on_after_abort()
    {
        var (transport, far) = await ConnectedAsync(_routers[0]);
        using var farScope = far;
        var video = await transport.ProduceAsync(Vp8Producer());
        await transport.ConsumeAsync(new ConsumerOptions { ProducerId = video.Id, RtpCapabilities = _routers[0].RtpCapabilities });
        var slot = await _routers[1].PrepareTransportImportAsync(new TransportImportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var move = await transport.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint });
        await Assert.ThrowsAsync<InvalidStateException>(() => transport.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint }));
        await Assert.ThrowsAsync<ArgumentException>(() => slot.ImportAsync(move.Snapshot with { Version = 2 }));
        // A consumer of a producer the target router does not have: refused after the transport was made, so it is taken down again.
        var broken = move.Snapshot with { Consumers = [move.Snapshot.Consumers[0] with { ProducerId = "no-such-producer" }] };
        var slot2 = await _routers[1].PrepareTransportImportAsync(new TransportImportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        await Assert.ThrowsAnyAsync<Exception>(() => slot2.ImportAsync(broken));
        Assert.Empty(_routers[1].Transports);
        await move.AbortAsync();
        await slot.DisposeAsync();
        Assert.Null(transport.OutgoingMove);
        // Live again where it was: a producer on it takes media from the far end.
        var producer = await transport.ProduceAsync(OpusProducer());
        far.SendRtp(OpusPacket(33333333, 1, 960, 1, mid: "1"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.GetStatsAsync().Result.FirstOrDefault()?.PacketCount == 1, WaitTimeout));
    }

    private static async Task<(OutgoingTransportMove Move, TransportImportResult Imported)> MoveAsync(WebRtcTransport transport, Router target)
    {
        var slot = await target.PrepareTransportImportAsync(new TransportImportOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var move = await transport.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint });
        var imported = await slot.ImportAsync(SnapshotJson.Deserialize(SnapshotJson.Serialize(move.Snapshot)));
        await move.CommitAsync();
        return (move, imported);
    }

    /// <summary>The snapshot as JSON without the move's own fields and with every age or remaining time (they follow the clock) set to 0.</summary>
    private static JsonNode Comparable(WebRtcTransportSnapshot snapshot)
    {
        var node = JsonNode.Parse(SnapshotJson.Serialize(snapshot))!;
        foreach (var field in MoveFields) node.AsObject().Remove(field);
        Zero(node);
        return node;
    }

    private static void Zero(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o.ToList())
                {
                    if (value is JsonValue && IsClockField(name)) o[name] = 0;
                    else Zero(value);
                }
                break;
            case JsonArray a:
                foreach (var item in a) Zero(item);
                break;
        }
    }

    private static bool IsClockField(string name)
    {
        var n = name.ToLowerInvariant();
        return n.Contains("age") || n.Contains("remaining") || n.Contains("micros") || n.Contains("since") || n.Contains("elapsed") || n.Contains("ticks") || n.Contains("left");
    }
}
