using System.Net.Http.Json;
using System.Text.Json;
using Ferry.Cluster.Tests;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Ferry.Server.Tests.BrowserCallSteps;

namespace Ferry.Server.Tests;

/// <summary>Redis and two Ferry nodes in one cluster, each in its own process with one worker.</summary>
public sealed class TwoNodeClusterFixture : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public List<ServerProcessFixture> Nodes { get; } = [];
    public List<string> NodeIds { get; } = [];

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        for (var i = 0; i < 2; i++)
        {
            var min = 51000 + i * 1000;
            Nodes.Add(new ServerProcessFixture
            {
                // A stop drains first: half the shutdown timeout for the rooms to move and their relays to end.
                ExtraArguments = ["--cluster", Redis.Url, "--silo-port", RedisServer.FreeTcpPort().ToString(), "--workers", "1",
                    "--rtc-min-port", min.ToString(), "--rtc-max-port", (min + 999).ToString(), "--shutdown-timeout", "40"],
            });
        }
        await Task.WhenAll(Nodes.Select(n => n.InitializeAsync()));
        foreach (var node in Nodes) NodeIds.Add((await node.GetJsonAsync("/api/cluster")).GetProperty("nodeId").GetString()!);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Issue 14, moves across servers seen from the browser: a call of two Chromium pages whose room moves from one node
/// to the other and back while media and chat flow. The router snapshot and the room's state go through an Orleans
/// grain of the target node; the pages get transportMoved (new candidates) and roomMoved (reconnect the WebSocket
/// there) and the session goes on: same transports, producers, consumers and data channels, DTLS untouched.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserNodeMoveTests(TwoNodeClusterFixture cluster, ITestOutputHelper output) : IClassFixture<TwoNodeClusterFixture>
{
    [Fact]
    public async Task A_call_goes_on_while_its_room_moves_between_two_nodes_and_the_pages_follow()
    {
        var room = "node-moves-" + Guid.NewGuid().ToString("N")[..6];
        await using var pair = await BrowserPair.OpenAsync(cluster.Nodes[0].Url, room, "&video=320x240&jitterBufferTarget=80");
        var pages = new[] { pair.PageA, pair.PageB };
        await WaitForCallAsync(pages);
        await StartChatAsync(pages);

        const int Moves = 4;
        var at = 0;
        for (var move = 1; move <= Moves; move++)
        {
            await Task.Delay(3000);
            var from = cluster.Nodes[at];
            var to = 1 - at;
            var changesBefore = new Dictionary<IPage, int[]>();
            foreach (var page in pages) changesBefore[page] = await PairChangesAsync(page);
            var routerId = (await from.GetJsonAsync($"/api/rooms/{room}")).GetProperty("routers")[0].GetProperty("id").GetString()!;
            var response = await from.Http.PostAsJsonAsync($"{from.Url}/api/routers/{routerId}/move", new { nodeId = cluster.NodeIds[to] });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"move {move}: {(int)response.StatusCode} {body}\n{from.Output}\n{cluster.Nodes[to].Output}");
            output.WriteLine($"move {move} node {at} -> {to}: {body}");
            var report = JsonDocument.Parse(body).RootElement;
            Assert.Equal(4, report.GetProperty("transports").GetInt32());
            Assert.Equal(cluster.Nodes[to].Url, report.GetProperty("toUrl").GetString());
            foreach (var page in pages)
            {
                // The page reconnected its WebSocket to the new node, and each transport switched once to its candidate there.
                await page.WaitForFunctionAsync("(moves) => (window.ferry.roomMoves || 0) >= moves", move, new PageWaitForFunctionOptions { Timeout = 10000 });
                await page.WaitForFunctionAsync(
                    "async (before) => (await window.ferry.transportStats()).every((t, i) => t.selectedCandidatePairChanges >= before[i] + 1 && t.dtlsState === 'connected')",
                    changesBefore[page], new PageWaitForFunctionOptions { Timeout = 10000, PollingInterval = 100 });
            }
            // The room lives on the new node, with both peers joined there, and not on the old one.
            var there = await cluster.Nodes[to].GetJsonAsync($"/api/rooms/{room}");
            Assert.Equal(2, there.GetProperty("peers").GetArrayLength());
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await from.Http.GetAsync($"{from.Url}/api/rooms/{room}")).StatusCode);
            at = to;
        }
        await Task.Delay(2000);
        await StopChatAsync(pages);

        foreach (var page in pages)
        {
            var name = page == pair.PageA ? "A" : "B";
            var inbound = (await PageJsonAsync(page, "window.ferry.inboundStats()")).EnumerateArray().ToList();
            foreach (var s in inbound)
            {
                var kind = s.GetProperty("kind").GetString();
                output.WriteLine($"page {name} {kind}: packetsReceived {s.GetProperty("packetsReceived")}, packetsLost {s.GetProperty("packetsLost")}" +
                    (kind == "video" ? $", framesDecoded {s.GetProperty("framesDecoded")}, freezeCount {s.GetProperty("freezeCount")}" : $", concealmentEvents {s.GetProperty("concealmentEvents")}"));
                Assert.Equal(0, s.GetProperty("packetsLost").GetInt64());
            }
            Assert.All((await PageJsonAsync(page, "window.ferry.transportStats()")).EnumerateArray(), t => Assert.Equal("connected", t.GetProperty("dtlsState").GetString()));
            Assert.Equal("[]", await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)"));
            // Signaling works on the last node: a request about a transport made on the first one.
            var stats = await PageJsonAsync(page, "window.ferry.request('getTransportStats', { transportId: window.ferry.transportIds().recv })");
            Assert.Equal(JsonValueKind.Array, stats.ValueKind);
            Assert.Equal(cluster.Nodes[at].Url, await page.EvaluateAsync<string>("() => window.ferry.signalingUrl"));
        }
        await AssertChatInOrderAsync(pair, Moves * 25 + 1);
    }

    private static async Task<int[]> PairChangesAsync(IPage page) =>
        (await PageJsonAsync(page, "window.ferry.transportStats()")).EnumerateArray().Select(t => t.GetProperty("selectedCandidatePairChanges").GetInt32()).ToArray();
}

/// <summary>
/// Issue 14, deploy: a call on node A; node A gets SIGTERM, hands the room to node B, waits for the relays and
/// exits 0; the call goes on there (the pages followed), with nothing lost.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserDeployTests(TwoNodeClusterFixture cluster, ITestOutputHelper output) : IClassFixture<TwoNodeClusterFixture>
{
    [Fact]
    public async Task A_node_stopped_with_sigterm_hands_its_call_to_the_other_node_and_exits_0()
    {
        var room = "deploy-" + Guid.NewGuid().ToString("N")[..6];
        var (old, next) = (cluster.Nodes[0], cluster.Nodes[1]);
        await using var pair = await BrowserPair.OpenAsync(old.Url, room, "&video=320x240&jitterBufferTarget=80");
        var pages = new[] { pair.PageA, pair.PageB };
        await WaitForCallAsync(pages);
        await StartChatAsync(pages);
        // The drain picks among nodes whose report says active: wait until the old node sees the new one so.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!(await old.GetJsonAsync("/api/nodes")).EnumerateArray().Any(n => n.GetProperty("url").ValueKind == JsonValueKind.String
                   && n.GetProperty("url").GetString() == next.Url && n.GetProperty("state").GetString() == "active"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the old node never saw the new one active");
            await Task.Delay(100);
        }
        old.Signal(15);
        var exit = await old.WaitForExitAsync(TimeSpan.FromSeconds(45));
        output.WriteLine(string.Join('\n', old.Output.Split('\n').Where(l => l.Contains("drain") || l.Contains("stopping") || l.Contains("stopped") || l.Contains("moved"))));
        Assert.True(exit == 0, $"exit {exit?.ToString() ?? "none within 45 s"}\n{old.Output}");
        foreach (var page in pages)
        {
            await page.WaitForFunctionAsync("() => (window.ferry.roomMoves || 0) === 1", null, new PageWaitForFunctionOptions { Timeout = 5000 });
            Assert.Equal(next.Url, await page.EvaluateAsync<string>("() => window.ferry.signalingUrl"));
        }
        var frames = new Dictionary<IPage, long>();
        foreach (var page in pages) frames[page] = await VideoFramesAsync(page);
        await Task.Delay(3000);
        await StopChatAsync(pages);
        foreach (var page in pages)
        {
            // Media goes on from the new node, with the old one gone.
            Assert.True(await VideoFramesAsync(page) > frames[page] + 30, "video stopped after the old node exited");
            foreach (var s in (await PageJsonAsync(page, "window.ferry.inboundStats()")).EnumerateArray())
                Assert.Equal(0, s.GetProperty("packetsLost").GetInt64());
            Assert.All((await PageJsonAsync(page, "window.ferry.transportStats()")).EnumerateArray(), t => Assert.Equal("connected", t.GetProperty("dtlsState").GetString()));
            Assert.Equal("[]", await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)"));
        }
        var there = await next.GetJsonAsync($"/api/rooms/{room}");
        Assert.Equal(2, there.GetProperty("peers").GetArrayLength());
        await AssertChatInOrderAsync(pair, 1);
    }

    private static async Task<long> VideoFramesAsync(IPage page) =>
        (await PageJsonAsync(page, "window.ferry.inboundStats()")).EnumerateArray().Where(s => s.GetProperty("kind").GetString() == "video")
            .Sum(s => s.GetProperty("framesDecoded").GetInt64());
}
