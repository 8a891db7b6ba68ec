using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Ferry.Server.Tests;
using Xunit.Abstractions;

namespace Ferry.Cluster.Tests;

/// <summary>Redis and three Ferry.Server processes joined by --cluster, shared by the tests of <see cref="ClusterTests"/>.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public List<ServerProcessFixture> Nodes { get; } = [];
    public List<string> NodeIds { get; } = [];

    /// <summary>A node's options: its own silo port and media range, one worker (the machine has two cores).</summary>
    public ServerProcessFixture Node(int index, params string[] extra)
    {
        var silo = RedisServer.FreeTcpPort();
        var min = 41000 + index * 1000;
        return new ServerProcessFixture
        {
            ExtraArguments = ["--cluster", Redis.Url, "--silo-port", silo.ToString(), "--workers", "1", "--rtc-min-port", min.ToString(), "--rtc-max-port", (min + 999).ToString(), .. extra],
        };
    }

    public static string IdOf(ServerProcessFixture node) =>
        "127.0.0.1:" + node.ExtraArguments[node.ExtraArguments.ToList().IndexOf("--silo-port") + 1];

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        for (var i = 0; i < 3; i++) Nodes.Add(Node(i));
        NodeIds.AddRange(Nodes.Select(IdOf));
        await Task.WhenAll(Nodes.Select(n => n.InitializeAsync()));
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Issue 14, "Running it": several server processes are one cluster through Redis, each node's /api/cluster lists them
/// all with their load, room grains say where a room lives from any node, a killed node leaves every view within the
/// failure detection's bound, and a bad configuration ends the start with a clear error instead of a hang.
/// </summary>
public sealed partial class ClusterTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan JoinDeadline = TimeSpan.FromSeconds(20);

    /// <summary>Bound for a killed node to leave the others' view: detection is configured for about 2-4 s (docs/cluster.md).</summary>
    private static readonly TimeSpan DeathDeadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Every_node_lists_every_node_with_its_url_and_load()
    {
        foreach (var node in cluster.Nodes)
        {
            var seen = await UntilAsync(async () =>
            {
                var view = await node.GetJsonAsync("/api/cluster");
                var nodes = view.GetProperty("nodes").EnumerateArray().ToList();
                return nodes.Count == 3 && nodes.All(n => n.GetProperty("state").GetString() == "active") ? view : (JsonElement?)null;
            }, JoinDeadline, $"{node.Url} to list the three nodes as active");
            Assert.True(seen.GetProperty("clustered").GetBoolean());
            Assert.Equal(ClusterFixture.IdOf(node), seen.GetProperty("nodeId").GetString());
            var nodes = seen.GetProperty("nodes").EnumerateArray().ToList();
            Assert.Equal(cluster.NodeIds.Order(StringComparer.Ordinal), nodes.Select(n => n.GetProperty("id").GetString()!));
            for (var i = 0; i < 3; i++)
            {
                var entry = nodes.Single(n => n.GetProperty("id").GetString() == cluster.NodeIds[i]);
                Assert.Equal(cluster.Nodes[i].Url, entry.GetProperty("url").GetString());
                var worker = Assert.Single(entry.GetProperty("workers").EnumerateArray());
                Assert.True(worker.GetProperty("cpu").GetDouble() >= 0);
                Assert.Equal(0, worker.GetProperty("transports").GetInt32());
            }
        }
        var array = await cluster.Nodes[1].GetJsonAsync("/api/nodes");
        Assert.Equal(3, array.GetArrayLength());
    }

    [Fact]
    public async Task A_room_joined_on_one_node_shows_in_its_room_grain_from_the_others()
    {
        var room = "r" + Guid.NewGuid().ToString("N")[..8];
        var host = cluster.Nodes[0];
        await using (var alice = await ProtooTestClient.ConnectAsync(host.Url, room, "alice"))
        {
            var caps = await alice.RequestAsync("getRouterRtpCapabilities");
            await alice.RequestAsync("join", JsonDocument.Parse("""{"displayName":"Alice","device":{"name":"test"},"rtpCapabilities":""" + caps.GetRawText() + "}").RootElement);
            foreach (var other in cluster.Nodes.Skip(1))
            {
                var seen = await UntilAsync(async () => await RoomAsync(other, room) is { } r && r.GetProperty("peers").GetInt32() == 1 ? r : (JsonElement?)null,
                    TimeSpan.FromSeconds(10), $"{other.Url} to see alice in room {room}");
                var part = Assert.Single(seen.GetProperty("nodes").EnumerateArray());
                Assert.Equal(cluster.NodeIds[0], part.GetProperty("id").GetString());
                Assert.Equal(["alice"], part.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!));
                Assert.Single(part.GetProperty("routers").EnumerateArray());
                // The node grain's report lists the room too.
                var nodes = (await other.GetJsonAsync("/api/nodes")).EnumerateArray();
                Assert.Contains(nodes.Single(n => n.GetProperty("id").GetString() == cluster.NodeIds[0]).GetProperty("rooms").EnumerateArray(), r => r.GetProperty("id").GetString() == room);
            }
        }
        // Alice left: the room closed on its node, and its grain says it is nowhere.
        await UntilAsync(async () => await RoomAsync(cluster.Nodes[2], room) is null ? true : (bool?)null, TimeSpan.FromSeconds(10), $"room {room} to leave the room grain");
    }

    [Fact]
    public async Task A_killed_node_leaves_every_view_and_its_rooms_with_it()
    {
        await using var doomed = cluster.Node(3);
        await doomed.InitializeAsync();
        output.WriteLine($"fourth node started in {doomed.StartTime.TotalMilliseconds:F0} ms");
        var id = ClusterFixture.IdOf(doomed);
        var room = "k" + Guid.NewGuid().ToString("N")[..8];
        await using var bob = await ProtooTestClient.ConnectAsync(doomed.Url, room, "bob");
        var caps = await bob.RequestAsync("getRouterRtpCapabilities");
        await bob.RequestAsync("join", JsonDocument.Parse("""{"displayName":"Bob","rtpCapabilities":""" + caps.GetRawText() + "}").RootElement);
        foreach (var node in cluster.Nodes.Take(2))
            await UntilAsync(async () => await NodeIdsAsync(node) is var ids && ids.Contains(id) ? true : (bool?)null, JoinDeadline, $"{node.Url} to list {id}");
        await UntilAsync(async () => await RoomAsync(cluster.Nodes[0], room) is not null ? true : (bool?)null, TimeSpan.FromSeconds(10), $"room {room} in its grain");

        doomed.Signal(9);
        var killed = Stopwatch.StartNew();
        foreach (var node in cluster.Nodes.Take(2))
            await UntilAsync(async () => await NodeIdsAsync(node) is var ids && !ids.Contains(id) ? true : (bool?)null, DeathDeadline - killed.Elapsed, $"{node.Url} to drop the killed {id}");
        output.WriteLine($"killed node gone from two views after {killed.ElapsedMilliseconds} ms");
        // Its part of the room went with it: nobody else holds the room.
        Assert.Null(await RoomAsync(cluster.Nodes[1], room));
        Assert.Equal(3, (await NodeIdsAsync(cluster.Nodes[2])).Count);
    }

    [Fact]
    public async Task Bad_configuration_ends_the_start_with_a_clear_error()
    {
        var noRedis = RedisServer.FreeTcpPort();
        var siloOfFirst = ClusterFixture.IdOf(cluster.Nodes[0]).Split(':')[1];
        (string What, ServerProcessFixture Node, string Message)[] cases =
        [
            ("Redis unreachable", new ServerProcessFixture { ExtraArguments = ["--cluster", $"redis://127.0.0.1:{noRedis}", "--workers", "1"] }, $"Redis at 127.0.0.1:{noRedis}"),
            ("silo port taken", cluster.Node(4, "--silo-port", siloOfFirst), $"--silo-port {siloOfFirst} on 127.0.0.1 is taken"),
            // Bound elsewhere (127.0.0.2) but announcing the first node's address: Orleans would take it for a restart of that node.
            ("same address", cluster.Node(5, "--listen-address", "127.0.0.2", "--node-address", "127.0.0.1", "--silo-port", siloOfFirst), $"node address 127.0.0.1:{siloOfFirst} is already live"),
            ("another cluster id", cluster.Node(6, "--cluster-id", "other"), "cluster 'other' has no live node in this Redis but 'ferry' (3 live nodes) has"),
        ];
        var runs = await Task.WhenAll(cases.Select(c => c.Node.RunUntilExitAsync(TimeSpan.FromSeconds(15))));
        for (var i = 0; i < cases.Length; i++)
        {
            await using var node = cases[i].Node;
            var (code, text, elapsed) = runs[i];
            output.WriteLine($"{cases[i].What}: exit {code} after {elapsed.TotalMilliseconds:F0} ms: {text.Trim()}");
            Assert.True(code == 1, $"{cases[i].What}: exit {code?.ToString() ?? "none (still running)"}\n{text}");
            Assert.Contains("ferry: cannot start: " + cases[i].Message, text);
            Assert.True(elapsed < TimeSpan.FromSeconds(10), $"{cases[i].What}: took {elapsed}");
        }
        // The same id with --new-cluster starts a cluster of its own beside the first, which neither sees.
        await using var apart = cluster.Node(7, "--cluster-id", "other", "--new-cluster", "true");
        await apart.InitializeAsync();
        var view = await UntilAsync(async () => await apart.GetJsonAsync("/api/cluster") is var v && v.GetProperty("nodes")[0].TryGetProperty("workers", out _) ? v : (JsonElement?)null,
            TimeSpan.FromSeconds(10), "the new cluster's node to report");
        Assert.Equal("other", view.GetProperty("clusterId").GetString());
        Assert.Equal([ClusterFixture.IdOf(apart)], view.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("id").GetString()!));
        Assert.DoesNotContain(ClusterFixture.IdOf(apart), await NodeIdsAsync(cluster.Nodes[0]));
    }

    [Fact]
    public async Task A_node_without_cluster_is_a_cluster_of_its_own()
    {
        await using var alone = new ServerProcessFixture { ExtraArguments = ["--workers", "1"] };
        await alone.InitializeAsync();
        output.WriteLine($"single node started in {alone.StartTime.TotalMilliseconds:F0} ms");
        var view = await UntilAsync(async () => await alone.GetJsonAsync("/api/cluster") is var v && v.GetProperty("nodes")[0].TryGetProperty("url", out _) ? v : (JsonElement?)null,
            TimeSpan.FromSeconds(10), "the single node to report");
        Assert.False(view.GetProperty("clustered").GetBoolean());
        var node = Assert.Single(view.GetProperty("nodes").EnumerateArray());
        Assert.Equal(alone.Url, node.GetProperty("url").GetString());
        Assert.Equal("active", node.GetProperty("state").GetString());
        Assert.True(node.GetProperty("self").GetBoolean());
    }

    private static async Task<List<string>> NodeIdsAsync(ServerProcessFixture node) =>
        (await node.GetJsonAsync("/api/nodes")).EnumerateArray().Select(n => n.GetProperty("id").GetString()!).ToList();

    /// <summary>The room grain's view through <paramref name="node"/>, null when the room is on no node.</summary>
    private static async Task<JsonElement?> RoomAsync(ServerProcessFixture node, string room)
    {
        using var response = await node.Http.GetAsync($"{node.Url}/api/cluster/rooms/{room}");
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Polls <paramref name="probe"/> until it answers a value, failing with <paramref name="what"/> after <paramref name="deadline"/>.</summary>
    private static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, TimeSpan deadline, string what) where T : struct
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } value) return value;
            if (clock.Elapsed > deadline) throw new TimeoutException($"waited {deadline.TotalSeconds:F1} s for {what}");
            await Task.Delay(100);
        }
    }
}
