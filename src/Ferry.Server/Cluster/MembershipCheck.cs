using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StackExchange.Redis;

namespace Ferry.Server.Cluster;

/// <summary>
/// Reads the membership tables in Redis (Orleans' Redis clustering: one hash per cluster, <c>ferry/members/{clusterId}</c>,
/// a JSON entry per node generation) before this node joins, and refuses two mistakes Orleans would not: a node whose
/// address is already live (Orleans would take the newcomer for a restart of that node and declare the live one dead),
/// and a node whose cluster id is unknown where other clusters are live (a mistyped id would start a cluster of its own).
/// An entry counts as live when membership says active and its silo port accepts a connection: entries of nodes killed
/// without a word stay "active" in the table until the others declare them dead.
/// </summary>
internal sealed class MembershipCheck(IConnectionMultiplexer redis)
{
    private const string KeyPrefix = ClusterNode.ServiceId + "/members/";
    private const int StatusActive = 3;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(1);

    private sealed record Entry(string ClusterId, string Endpoint, string HostName, string StartTime);

    public async Task RunAsync(ClusterNode node)
    {
        var entries = new List<Entry>();
        var db = redis.GetDatabase();
        foreach (var key in await KeysAsync())
        {
            var clusterId = key[KeyPrefix.Length..];
            foreach (var field in await db.HashGetAllAsync(key))
            {
                if (!field.Name.ToString().StartsWith('S') || Parse(clusterId, field.Value.ToString()) is not { } entry) continue;
                entries.Add(entry);
            }
        }
        var live = (await Task.WhenAll(entries.Select(async e => (Entry: e, Live: await AcceptsAsync(e.Endpoint))))).Where(x => x.Live).Select(x => x.Entry).ToList();

        if (live.FirstOrDefault(e => e.Endpoint == node.Id) is { } same)
            throw new ClusterStartException($"node address {node.Id} is already live in cluster '{same.ClusterId}' (host {same.HostName}, started {same.StartTime}): " +
                "give this node its own --node-address or --silo-port");
        if (!node.Options.NewCluster && live.Count > 0 && !live.Any(e => e.ClusterId == node.ClusterId))
        {
            var others = string.Join(", ", live.GroupBy(e => e.ClusterId).Select(g => $"'{g.Key}' ({g.Count()} live node{(g.Count() == 1 ? "" : "s")})"));
            throw new ClusterStartException($"cluster '{node.ClusterId}' has no live node in this Redis but {others} has: is --cluster-id right? " +
                $"(--new-cluster true starts cluster '{node.ClusterId}' beside them)");
        }
    }

    private async Task<List<string>> KeysAsync()
    {
        var keys = new List<string>();
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
            await foreach (var key in server.KeysAsync(pattern: KeyPrefix + "*")) keys.Add(key.ToString());
        return keys.Distinct().ToList();
    }

    /// <summary>An active entry's endpoint ("ip:port"), or null for other states and entries not understood.</summary>
    private static Entry? Parse(string clusterId, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (!root.TryGetProperty("Status", out var status) || status.ValueKind != JsonValueKind.Number || status.GetInt32() != StatusActive) return null;
            // "127.0.0.1:11111@155615525": endpoint, then the generation.
            var address = root.GetProperty("SiloAddress").GetProperty("SiloAddress").GetString() ?? "";
            var at = address.LastIndexOf('@');
            return new Entry(clusterId, at > 0 ? address[..at] : address,
                root.TryGetProperty("HostName", out var host) ? host.GetString() ?? "?" : "?",
                root.TryGetProperty("StartTime", out var start) ? start.GetString() ?? "?" : "?");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    private static async Task<bool> AcceptsAsync(string endpoint)
    {
        if (!IPEndPoint.TryParse(endpoint, out var ep)) return false;
        using var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(ep, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
