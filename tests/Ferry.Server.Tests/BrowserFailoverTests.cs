using System.Diagnostics;
using System.Text.Json;
using Ferry.Cluster.Tests;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Ferry.Server.Tests.BrowserCallSteps;

namespace Ferry.Server.Tests;

/// <summary>Redis and three Ferry nodes, each its own process with one worker; nodes killed by a test are replaced by new ones.</summary>
public sealed class ThreeNodeClusterFixture : IAsyncLifetime
{
    private int _started;

    public RedisServer Redis { get; private set; } = null!;
    public List<ServerProcessFixture> Nodes { get; } = [];

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => StartNodeAsync()));
    }

    /// <summary>Starts one more node (its own silo port and media range) and adds it to <see cref="Nodes"/>.</summary>
    public async Task<ServerProcessFixture> StartNodeAsync()
    {
        var index = Interlocked.Increment(ref _started) - 1;
        var min = 53000 + index * 500;
        var node = new ServerProcessFixture
        {
            ExtraArguments = ["--cluster", Redis.Url, "--silo-port", RedisServer.FreeTcpPort().ToString(), "--workers", "1",
                "--rtc-min-port", min.ToString(), "--rtc-max-port", (min + 499).ToString(), "--shutdown-timeout", "10"],
        };
        await node.InitializeAsync();
        lock (Nodes) Nodes.Add(node);
        return node;
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Issue 15, failover: a call of two Chromium pages whose room lives on one node, one page's WebSocket on that node
/// and the other's on another node. The room's node is killed with SIGKILL; its standby brings the room back from its
/// newest copy, the page whose WebSocket died reconnects to a live node, the other page's forwarded connection follows
/// by itself, both are told their transports' new candidates, and the call goes on: same transports, producers and
/// consumers, no new join, DTLS never renegotiated. Repeated, with a new node started after each kill.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserFailoverTests(ThreeNodeClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ThreeNodeClusterFixture>
{
    private const int Kills = 3;

    [Fact]
    public async Task When_the_node_of_a_call_is_killed_the_call_comes_back_on_another_node_with_the_same_ids()
    {
        var room = "failover-" + Guid.NewGuid().ToString("N")[..6];
        var nodes = cluster.Nodes.ToList();
        await using var pair = await BrowserPair.OpenAsync(nodes[0].Url, room, "&video=320x240&jitterBufferTarget=80", serverUrlB: nodes[1].Url);
        var pages = new[] { pair.PageA, pair.PageB };
        await WaitForCallAsync(pages);
        var ids = new Dictionary<IPage, string>();
        foreach (var page in pages) ids[page] = await IdsAsync(page);
        await StartChatAsync(pages);
        var detections = new List<double>();
        var mediaBack = new List<double>();
        for (var kill = 1; kill <= Kills; kill++)
        {
            var live = cluster.Nodes.Where(n => n.IsRunning).ToList();
            var host = await HostOfAsync(live, room);
            // The standby holds a copy, and each page knows the live nodes.
            await UntilAsync(async () => (await Task.WhenAll(live.Where(n => n != host).Select(n => n.GetJsonAsync("/api/cluster"))))
                .Any(c => c.GetProperty("failover").GetProperty("copiesKept").GetInt32() >= 1), TimeSpan.FromSeconds(15), "a standby copy of the room");
            foreach (var page in pages)
                await page.WaitForFunctionAsync("(n) => (window.ferry.nodeUrls || []).length >= n", live.Count, new PageWaitForFunctionOptions { Timeout = 15000 });
            var frames = new Dictionary<IPage, long>();
            foreach (var page in pages) frames[page] = await VideoFramesAsync(page);
            output.WriteLine($"kill {kill}: node {host.Url} (of {live.Count})");
            host.Signal(9);
            var clock = Stopwatch.StartNew();
            foreach (var page in pages)
            {
                await page.WaitForFunctionAsync("async (before) => (await window.ferry.inboundStats()).filter(s => s.kind === 'video').reduce((n, s) => n + s.framesDecoded, 0) > before + 30",
                    frames[page], new PageWaitForFunctionOptions { Timeout = 20000, PollingInterval = 100 });
            }
            mediaBack.Add(clock.Elapsed.TotalMilliseconds);
            ServerProcessFixture newHost;
            try
            {
                newHost = await HostOfAsync(cluster.Nodes.Where(n => n.IsRunning && n != host).ToList(), room);
            }
            catch (TimeoutException)
            {
                foreach (var n in cluster.Nodes.Where(n => n.IsRunning))
                    output.WriteLine($"--- {n.Url}\n{string.Join('\n', n.Output.Split('\n').Where(l => !l.Contains("Orleans")).TakeLast(30))}");
                throw;
            }
            var failover = (await newHost.GetJsonAsync("/api/cluster")).GetProperty("failover");
            detections.Add(failover.GetProperty("lastDetectionMs").GetDouble());
            output.WriteLine($"kill {kill}: video decoded again on both pages after {clock.ElapsedMilliseconds} ms; room on {newHost.Url}; {failover}");
            foreach (var page in pages)
            {
                // The same session: no new join, the same transports, producers and consumers, DTLS connected throughout.
                Assert.Equal(ids[page], await IdsAsync(page));
                Assert.All((await PageJsonAsync(page, "window.ferry.transportStats()")).EnumerateArray(), t => Assert.Equal("connected", t.GetProperty("dtlsState").GetString()));
            }
            var there = await newHost.GetJsonAsync($"/api/rooms/{room}");
            Assert.True(2 == there.GetProperty("peers").GetArrayLength() && failover.GetProperty("roomsFailed").GetInt32() == 0,
                $"the room came back with {there.GetProperty("peers").GetArrayLength()} peers: {there}\n{newHost.Output}");
            await cluster.StartNodeAsync();
        }
        await StopChatAsync(pages);

        // The chat works after the kills: every line sent now arrives once and in order (lines in flight at a kill may be lost).
        foreach (var page in pages)
            await page.EvaluateAsync("() => { for (let i = 0; i < 20; i++) window.ferry.sendChat(`after ${i}`); }");
        foreach (var (from, to) in new[] { (pair.PageA, pair.PageB), (pair.PageB, pair.PageA) })
        {
            try
            {
                await to.WaitForFunctionAsync("() => window.ferry.chat.filter(m => !m.mine && m.text.startsWith('after ')).length >= 20", null, new PageWaitForFunctionOptions { Timeout = 10000 });
            }
            catch (TimeoutException)
            {
                var lines = (await PageJsonAsync(to, "window.ferry.chat.filter(m => !m.mine).map(m => m.text)")).EnumerateArray().Select(e => e.GetString()).ToList();
                var sent = (await PageJsonAsync(from, "window.ferry.chat.filter(m => m.mine).map(m => m.text)")).EnumerateArray().Select(e => e.GetString()).ToList();
                throw new TimeoutException($"{(from == pair.PageA ? "A->B" : "B->A")}: sent {sent.Count}, last sent {string.Join(",", sent.TakeLast(3))}; received {lines.Count}, last received {string.Join(",", lines.TakeLast(5))}; state {await from.EvaluateAsync<string>("() => window.ferry.chatProducer?.readyState")}");
            }
            var received = (await PageJsonAsync(to, "window.ferry.chat.filter(m => !m.mine && m.text.startsWith('after ')).map(m => m.text)")).EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Equal(Enumerable.Range(0, 20).Select(i => $"after {i}"), received);
        }
        foreach (var page in pages) Assert.Equal("[]", await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)"));
        output.WriteLine($"detection ms: {string.Join(", ", detections.Select(d => d.ToString("F0")))}; media back ms: {string.Join(", ", mediaBack.Select(d => d.ToString("F0")))}");
        output.WriteLine($"media back p50 {Percentile(mediaBack, 0.5):F0} ms, max {mediaBack.Max():F0} ms; detection p50 {Percentile(detections, 0.5):F0} ms, max {detections.Max():F0} ms");
    }

    /// <summary>The page's transports, producers and consumers, as one string to compare.</summary>
    private static async Task<string> IdsAsync(IPage page) => await page.EvaluateAsync<string>(
        "() => JSON.stringify([window.ferry.transportIds(), [...window.ferry.producers.keys()].sort(), [...window.ferry.consumers.keys()].sort(), [...window.ferry.dataConsumers.keys()].sort()])");

    private static async Task<long> VideoFramesAsync(IPage page) =>
        (await PageJsonAsync(page, "window.ferry.inboundStats()")).EnumerateArray().Where(s => s.GetProperty("kind").GetString() == "video")
            .Sum(s => s.GetProperty("framesDecoded").GetInt64());

    /// <summary>The live node that holds the room.</summary>
    private static async Task<ServerProcessFixture> HostOfAsync(IReadOnlyList<ServerProcessFixture> live, string room)
    {
        ServerProcessFixture? host = null;
        await UntilAsync(async () =>
        {
            foreach (var node in live)
            {
                using var response = await node.Http.GetAsync($"{node.Url}/api/rooms/{room}");
                if (response.IsSuccessStatusCode) { host = node; return true; }
            }
            return false;
        }, TimeSpan.FromSeconds(15), $"a live node holding room {room}");
        return host!;
    }

    private static async Task UntilAsync(Func<Task<bool>> probe, TimeSpan deadline, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await probe())
        {
            if (clock.Elapsed > deadline) throw new TimeoutException($"waited {deadline.TotalSeconds:F0} s for {what}");
            await Task.Delay(100);
        }
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];
    }
}
