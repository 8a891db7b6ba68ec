using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Ferry.Server.Cluster;

/// <summary>A configuration mistake found at start (port taken, Redis unreachable, an address already live…): the node does not start.</summary>
public sealed class ClusterStartException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The node's place in the cluster, settled before anything starts: its id, the address and ports the other nodes reach
/// it at, and (with --cluster) the Redis connection membership goes through. <see cref="PrepareAsync"/> checks what can be
/// checked up front so that a bad configuration ends the start with a message instead of a hang.
/// </summary>
public sealed class ClusterNode
{
    /// <summary>Orleans' service id, the same for every Ferry cluster (the cluster id tells clusters apart).</summary>
    public const string ServiceId = "ferry";

    /// <summary>The longest a start may wait to join the cluster before it is given up with an error.</summary>
    public static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The longest a start waits for Redis to answer.</summary>
    public static readonly TimeSpan RedisConnectTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Failure detection (see docs/cluster.md): each node probes up to <see cref="ClusterMembershipOptions.NumProbedSilos"/>
    /// others every ProbeTimeout; three missed probes make a suspicion (two were missed by live nodes while this
    /// 2-core machine ran three node starts and a test suite), and two votes (or one when fewer nodes can vote) declare
    /// a node dead. A killed node's refused connections fail each probe at once, so it leaves every view within about
    /// 1-2 s (ClusterTests); a hung one needs the probes to time out first (about 9 s measured with two missed probes).
    /// </summary>
    internal static void ConfigureMembership(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 3;
        o.NumVotesForDeathDeclaration = 2;
        o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        o.MaxJoinAttemptTime = JoinTimeout;
    }

    private ClusterNode(ServerOptions options, IPAddress listen, IPAddress address, int siloPort, int gatewayPort, ConfigurationOptions? redisConfiguration, IConnectionMultiplexer? redis)
    {
        Options = options;
        ListenAddress = listen;
        Address = address;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        RedisConfiguration = redisConfiguration;
        Redis = redis;
        Id = new IPEndPoint(address, siloPort).ToString();
    }

    /// <summary>The node id: its silo endpoint as the other nodes reach it ("127.0.0.1:11111").</summary>
    public string Id { get; }

    /// <summary>The cluster id.</summary>
    public string ClusterId => Options.ClusterId;

    /// <summary>The address the other nodes reach this node at.</summary>
    public IPAddress Address { get; }

    /// <summary>The silo port (node-to-node control traffic).</summary>
    public int SiloPort { get; }

    /// <summary>The Orleans gateway port, 0 for none.</summary>
    public int GatewayPort { get; }

    /// <summary>True when the node meets others through Redis (--cluster).</summary>
    public bool Clustered => Redis is not null;

    internal ServerOptions Options { get; }

    internal IPAddress ListenAddress { get; }

    private ConfigurationOptions? RedisConfiguration { get; }

    private IConnectionMultiplexer? Redis { get; }

    /// <summary>When the process started (UTC), reported with every heartbeat.</summary>
    internal DateTime StartedAt { get; } = DateTime.UtcNow;

    /// <summary>
    /// Settles ports and address and checks, before any listener or worker starts: the HTTP, silo and gateway ports are
    /// free, Redis answers within <see cref="RedisConnectTimeout"/>, no live node already announces this node's address,
    /// and the cluster id is one Redis knows (unless <see cref="ServerOptions.NewCluster"/>).
    /// </summary>
    /// <exception cref="ClusterStartException">What is wrong, in words an operator can act on.</exception>
    public static async Task<ClusterNode> PrepareAsync(ServerOptions options)
    {
        var listen = IPAddress.Parse(options.ListenAddress);
        var address = options.NodeAddress is { } node ? IPAddress.Parse(node)
            : listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : listen;
        if (options.Port != 0) CheckFree(listen, options.Port, "HTTP --port");
        var siloPort = options.SiloPort == 0 ? FreePort(listen) : CheckFree(listen, options.SiloPort, "--silo-port");
        var gatewayPort = options.GatewayPort == 0 ? 0 : CheckFree(listen, options.GatewayPort, "--gateway-port");
        if (options.Cluster is null) return new ClusterNode(options, listen, IPAddress.Loopback, siloPort, gatewayPort, null, null);

        var configuration = RedisAddress.ToConfiguration(options.Cluster);
        configuration.AbortOnConnectFail = true;
        configuration.ConnectTimeout = (int)RedisConnectTimeout.TotalMilliseconds;
        configuration.ConnectRetry = 1;
        configuration.ClientName = $"ferry-{options.ClusterId}";
        var where = string.Join(", ", configuration.EndPoints.Select(e => e.ToString()));
        IConnectionMultiplexer redis;
        try
        {
            redis = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(RedisConnectTimeout + TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is RedisException or TimeoutException or SocketException)
        {
            throw new ClusterStartException($"Redis at {where} (--cluster {options.Cluster}) is unreachable: {e.Message.Split('\n')[0].Split(" To allow this multiplexer")[0]}", e);
        }
        var ready = new ClusterNode(options, listen, address, siloPort, gatewayPort, configuration, redis);
        try
        {
            await new MembershipCheck(redis).RunAsync(ready);
        }
        catch
        {
            redis.Dispose();
            throw;
        }
        return ready;
    }

    /// <summary>Makes the host an Orleans silo of this cluster.</summary>
    public void Configure(WebApplicationBuilder builder)
    {
        // Orleans' own information is about its internals; warnings and errors still show.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        // Its first check after start compares with a time never set and warns of an hour-long stall.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        builder.Host.UseOrleans(silo =>
        {
            if (Redis is { } redis)
            {
                silo.UseRedisClustering(o =>
                {
                    o.ConfigurationOptions = RedisConfiguration!;
                    // The connection the start checked: no second connect that could hang.
                    o.CreateMultiplexer = _ => Task.FromResult((redis, IsShared: false));
                });
                silo.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
                silo.Configure<EndpointOptions>(o =>
                {
                    o.AdvertisedIPAddress = Address;
                    o.SiloPort = SiloPort;
                    o.GatewayPort = GatewayPort;
                    o.SiloListeningEndpoint = new IPEndPoint(ListenAddress, SiloPort);
                    o.GatewayListeningEndpoint = GatewayPort == 0 ? null : new IPEndPoint(ListenAddress, GatewayPort);
                });
            }
            else
            {
                // A cluster of one: membership in memory, nothing else to run.
                silo.UseLocalhostClustering(SiloPort, GatewayPort, null, ServiceId, ClusterId);
            }
            silo.Configure<ClusterMembershipOptions>(ConfigureMembership);
            // Move snapshots travel through grains as JSON (issue 13's state as data).
            silo.Services.AddSerializer(serializer => serializer.AddFerrySnapshots());
            silo.Services.AddPlacementDirector<NodePinnedPlacement, NodePinnedPlacementDirector>();
        });
        builder.Services.AddSingleton(this);
    }

    /// <summary>Ids (silo endpoints) of the nodes membership holds active now.</summary>
    internal static HashSet<string> ActiveNodeIds(IClusterMembershipService membership) =>
        membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.Endpoint.ToString()).ToHashSet(StringComparer.Ordinal);

    private static int CheckFree(IPAddress listen, int port, string what)
    {
        try
        {
            using var probe = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(listen, port));
            probe.Listen();
        }
        catch (SocketException e)
        {
            throw new ClusterStartException($"{what} {port} on {listen} is taken ({e.SocketErrorCode}): another process, or another node on this machine, uses it", e);
        }
        return port;
    }

    private static int FreePort(IPAddress listen)
    {
        using var probe = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(listen, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
