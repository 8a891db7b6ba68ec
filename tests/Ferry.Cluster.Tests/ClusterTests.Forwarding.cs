using System.Text.Json;
using Ferry.Server.Tests;

namespace Ferry.Cluster.Tests;

/// <summary>
/// Issue 14, "One room space": a peer's WebSocket may reach any node. The room lives on one node; a peer that reaches
/// another is carried there message by message, and the room, its router and its transports stay on the room's node.
/// </summary>
public sealed partial class ClusterTests
{
    [Fact]
    public async Task A_peer_whose_websocket_reaches_another_node_joins_the_room_where_it_lives()
    {
        var room = "f" + Guid.NewGuid().ToString("N")[..8];
        await using var alice = await ProtooTestClient.ConnectAsync(cluster.Nodes[0].Url, room, "alice");
        var caps = await alice.RequestAsync("getRouterRtpCapabilities");
        await alice.RequestAsync("join", JoinData("Alice", caps));
        await UntilAsync(async () => await RoomAsync(cluster.Nodes[1], room) is not null ? true : (bool?)null, TimeSpan.FromSeconds(10), $"room {room} in its grain");

        // Bob reaches node 1: his requests are answered by node 0, which holds the room.
        await using var bob = await ProtooTestClient.ConnectAsync(cluster.Nodes[1].Url, room, "bob");
        var bobCaps = await bob.RequestAsync("getRouterRtpCapabilities");
        Assert.Equal(caps.GetRawText(), bobCaps.GetRawText());
        var joined = await bob.RequestAsync("join", JoinData("Bob", bobCaps));
        Assert.Equal(["alice"], joined.GetProperty("peers").EnumerateArray().Select(p => p.GetProperty("id").GetString()!));
        var newPeer = await alice.WaitNotificationAsync("newPeer");
        Assert.Equal("bob", newPeer.GetProperty("id").GetString());
        // His transport is on node 0's worker: its candidate's port is in node 0's media range (41000-41999).
        var transport = await bob.RequestAsync("createWebRtcTransport", new { forceTcp = false, producing = false, consuming = true, sctpCapabilities = new { numStreams = new { OS = 1024, MIS = 1024 } } });
        var port = transport.GetProperty("iceCandidates")[0].GetProperty("port").GetInt32();
        Assert.InRange(port, 41000, 41999);
        var part = Assert.Single((await RoomAsync(cluster.Nodes[2], room))!.Value.GetProperty("nodes").EnumerateArray());
        Assert.Equal(cluster.NodeIds[0], part.GetProperty("id").GetString());
        await UntilAsync(async () => (await cluster.Nodes[0].GetJsonAsync($"/api/rooms/{room}")).GetProperty("peers").GetArrayLength() == 2 ? true : (bool?)null,
            TimeSpan.FromSeconds(5), "both peers on node 0");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await cluster.Nodes[1].Http.GetAsync($"{cluster.Nodes[1].Url}/api/rooms/{room}")).StatusCode);

        // Bob leaves on node 1: node 0 sees him go.
        await bob.DisposeAsync();
        var closed = await alice.WaitNotificationAsync("peerClosed");
        Assert.Equal("bob", closed.GetProperty("peerId").GetString());
    }

    [Fact]
    public async Task The_first_peers_of_a_new_room_arriving_at_two_nodes_at_once_meet_in_one_room()
    {
        for (var round = 0; round < 3; round++)
        {
            var room = "n" + Guid.NewGuid().ToString("N")[..8];
            var clients = await Task.WhenAll(
                ProtooTestClient.ConnectAsync(cluster.Nodes[1].Url, room, "carol"),
                ProtooTestClient.ConnectAsync(cluster.Nodes[2].Url, room, "dave"));
            try
            {
                var caps = await clients[0].RequestAsync("getRouterRtpCapabilities");
                await Task.WhenAll(clients.Select((c, i) => c.RequestAsync("join", JoinData(i == 0 ? "Carol" : "Dave", caps))));
                // Whoever joined second saw the first: one room, on one node.
                var seen = await Task.WhenAny(clients[0].WaitNotificationAsync("newPeer"), clients[1].WaitNotificationAsync("newPeer"));
                Assert.True(seen.IsCompletedSuccessfully);
                var parts = (await UntilAsync(async () => await RoomAsync(cluster.Nodes[0], room) is { } r && r.GetProperty("peers").GetInt32() == 2 ? r : (JsonElement?)null,
                    TimeSpan.FromSeconds(10), $"room {room} with both peers")).GetProperty("nodes").EnumerateArray().ToList();
                output.WriteLine($"round {round}: room {room} on {parts.Single().GetProperty("id").GetString()}");
            }
            finally
            {
                foreach (var c in clients) await c.DisposeAsync();
            }
        }
    }

    private static JsonElement JoinData(string name, JsonElement caps) =>
        JsonDocument.Parse($$"""{"displayName":"{{name}}","device":{"name":"test"},"rtpCapabilities":{{caps.GetRawText()}}}""").RootElement;
}
