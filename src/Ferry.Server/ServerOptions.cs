using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Ferry.Server;

/// <summary>
/// What a Ferry node is told at start, through ASP.NET Core configuration: the command line
/// (<c>--port 3000</c>), environment variables (<c>FERRY_PORT=3000</c>) and an optional JSON file
/// (<c>--config ferry.json</c> with <c>{"Port": 3000}</c>), in that order of precedence.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>Address the HTTP/WebSocket server binds. Default 127.0.0.1.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>HTTP/WebSocket port; 0 picks a free one. Default 3000.</summary>
    public int Port { get; init; } = 3000;

    /// <summary>IP the RTC sockets (UDP, and TCP for ICE-TCP) bind. Default: the listen address.</summary>
    public string? RtcListenIp { get; init; }

    /// <summary>Address put in ICE candidates instead of the bound IP (for NAT or a public name).</summary>
    public string? AnnouncedAddress { get; init; }

    /// <summary>Lowest RTC port. Default 40000.</summary>
    public int RtcMinPort { get; init; } = 40000;

    /// <summary>Highest RTC port. Default 49999.</summary>
    public int RtcMaxPort { get; init; } = 49999;

    /// <summary>Number of workers (one thread each). Default: one per core.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// How worker threads are scheduled. Default <see cref="WorkerThreadPriority.Realtime"/> (SCHED_RR): on a
    /// busy machine an ordinary worker thread waits for a core often enough for browsers to hear it;
    /// without the privilege it runs normally and says so in the log and /api/workers.
    /// </summary>
    public WorkerThreadPriority WorkerPriority { get; init; } = WorkerThreadPriority.Realtime;

    /// <summary>PEM certificate for HTTPS/WSS; plain HTTP/WS when null.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>PEM key for <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>Bearer token the admin API and /metrics require; when null they answer only loopback clients.</summary>
    public string? AdminToken { get; init; }

    /// <summary>
    /// How long a stop (SIGTERM, Ctrl+C) may take: peers are sent a close frame and given part of it to
    /// answer, then the HTTP server and the workers stop. Default 5 s.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lowest log level. Default Information.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Bearer token the broadcaster HTTP API (/rooms/...) requires; open to every client when null, as mediasoup-demo's.</summary>
    public string? BroadcasterToken { get; init; }

    /// <summary>
    /// Bytes that may wait in a peer's outgoing queue; a peer that lets more pile up (it stopped reading)
    /// is disconnected. Default 4 MiB.
    /// </summary>
    public int SendQueueMaxBytes { get; init; } = 4 << 20;

    /// <summary>How long one message to a peer may take to go out before the peer is disconnected as stuck. Default 15 s.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the server waits for a peer's answer to its requests (newConsumer, newDataConsumer). Default 20 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Interval of WebSocket pings to every peer. Default 15 s.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a peer has to answer a ping before its connection is aborted (half-open, stalled). Default 15 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the rest of a message a peer began to send may take before the peer is closed. Default 15 s.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Largest size in bytes (UTF-8, as JSON) of each field a peer sends that others receive: displayName,
    /// device, appData, a data producer's label and protocol. Default 4096.
    /// </summary>
    public int MaxPeerFieldBytes { get; init; } = 4096;

    /// <summary>Peers (broadcasters included) in one room. Default 100.</summary>
    public int MaxPeersPerRoom { get; init; } = 100;

    /// <summary>Transports of one peer. Default 4 (a browser uses two).</summary>
    public int MaxTransportsPerPeer { get; init; } = 4;

    /// <summary>Producers of one peer. Default 16.</summary>
    public int MaxProducersPerPeer { get; init; } = 16;

    /// <summary>Consumers of one peer. Default 1000.</summary>
    public int MaxConsumersPerPeer { get; init; } = 1000;

    /// <summary>Data producers of one peer. Default 16.</summary>
    public int MaxDataProducersPerPeer { get; init; } = 16;

    /// <summary>Data consumers of one peer. Default 1000.</summary>
    public int MaxDataConsumersPerPeer { get; init; } = 1000;

    /// <summary>
    /// Redis the node meets the other nodes through (<c>redis://[user:password@]host:port[/db]</c>, <c>rediss://</c> for TLS,
    /// or StackExchange.Redis's <c>host:port,password=…</c>); null: a cluster of this node alone, needing no other service.
    /// </summary>
    public string? Cluster { get; init; }

    /// <summary>Names the cluster: nodes join only nodes of the same id (several clusters may share one Redis). Default "ferry".</summary>
    public string ClusterId { get; init; } = "ferry";

    /// <summary>
    /// Lets the first node of a cluster id start in a Redis where nodes of other cluster ids are live and none of its own
    /// (without it that is taken for a mistyped --cluster-id and refused). Default false.
    /// </summary>
    public bool NewCluster { get; init; }

    /// <summary>Port of the node's silo (node-to-node control traffic, TCP); 0 picks a free one. Default 0.</summary>
    public int SiloPort { get; init; }

    /// <summary>Port of the node's Orleans gateway for external cluster clients; 0: no gateway (none is used yet). Default 0.</summary>
    public int GatewayPort { get; init; }

    /// <summary>
    /// Address the other nodes reach this node at (its silo, and the host of its URL in /api/cluster). Default: the listen
    /// address; required with --cluster when the server listens on every address.
    /// </summary>
    public string? NodeAddress { get; init; }

    /// <summary>The options' names, environment variables and meaning, for --help.</summary>
    public static string Help => """
        Ferry: a WebRTC SFU speaking mediasoup-demo's protocol.

        Usage: dotnet run --project src/Ferry.Server -- [options]

        Options (each also an environment variable FERRY_<NAME>, e.g. FERRY_RTC_MIN_PORT=40000, and a key
        of the JSON file given by --config, e.g. {"RtcMinPort": 40000}; command line over environment over file):
          --config <file>           JSON file of options (keys ListenAddress, Port, RtcListenIp, ...)
          --listen-address <ip>     address the HTTP/WebSocket server binds (default 127.0.0.1)
          --port <n>                HTTP/WebSocket port, 0 for any (default 3000)
          --rtc-listen-ip <ip>      IP the RTC sockets (UDP and TCP) bind (default: the listen address)
          --announced-address <a>   address announced in ICE candidates (default: the RTC listen IP)
          --rtc-min-port <n>        lowest RTC port, UDP and TCP (default 40000)
          --rtc-max-port <n>        highest RTC port (default 49999)
          --workers <n>             media workers, one thread each (default: one per core)
          --worker-priority <p>     normal, high (nice -10) or realtime (SCHED_RR 10) worker threads (default realtime;
                                    without CAP_SYS_NICE the workers run normal and the log says so)
          --tls-certificate <file>  PEM certificate: serve https/wss instead of http/ws
          --tls-key <file>          PEM private key for --tls-certificate
          --admin-token <token>     bearer token for /api and /metrics (default: loopback clients only)
          --shutdown-timeout <s>    seconds a stop (SIGTERM, Ctrl+C) may take: peers are closed with a reason,
                                    then the HTTP server and workers stop (default 5)
          --log-level <level>       Trace, Debug, Information, Warning, Error (default Information)
          --broadcaster-token <t>   bearer token for the broadcaster API /rooms/... (default: open to every client)
          --send-queue-max-bytes <n>  bytes queued to one peer before it is disconnected as not reading (default 4194304)
          --send-timeout <s>        seconds one message to a peer may take to go out before it is disconnected (default 15)
          --request-timeout <s>     seconds to wait for a peer's answer to newConsumer/newDataConsumer (default 20)
          --keep-alive-interval <s> seconds between WebSocket pings (default 15)
          --keep-alive-timeout <s>  seconds a peer has to answer a ping before its connection is aborted (default 15)
          --read-timeout <s>        seconds a peer may take to finish a message it began to send (default 15)
          --max-peer-field-bytes <n>  largest displayName, device, appData, label or protocol, as JSON (default 4096)
          --max-peers-per-room <n>  peers in one room, broadcasters included (default 100)
          --max-transports-per-peer <n>  (default 4)
          --max-producers-per-peer <n>  (default 16)
          --max-consumers-per-peer <n>  (default 1000)
          --max-data-producers-per-peer <n>  (default 16)
          --max-data-consumers-per-peer <n>  (default 1000)
          --cluster <redis>         join the nodes that meet in this Redis: redis://host:port (or StackExchange.Redis's
                                    host:port,password=...); without it the node is a cluster of its own, needing nothing
          --cluster-id <id>         nodes join only nodes of the same id; clusters may share a Redis (default ferry)
          --new-cluster <bool>      allow the first node of a cluster id in a Redis where only other ids are live (default false)
          --silo-port <n>           TCP port for node-to-node control traffic, 0 for any free one (default 0)
          --gateway-port <n>        TCP port for external Orleans clients, 0 for none (default 0)
          --node-address <ip>       address the other nodes reach this one at (default: the listen address)
          --help                    this text
        """;

    // Each option's command-line name and its configuration key (also its JSON name and, upper case
    // without separators, its environment variable: FERRY_RTC_MIN_PORT is RtcMinPort).
    private static readonly Dictionary<string, string> Keys = new(StringComparer.OrdinalIgnoreCase)
    {
        ["listen-address"] = "ListenAddress",
        ["port"] = "Port",
        ["rtc-listen-ip"] = "RtcListenIp",
        ["announced-address"] = "AnnouncedAddress",
        ["rtc-min-port"] = "RtcMinPort",
        ["rtc-max-port"] = "RtcMaxPort",
        ["workers"] = "Workers",
        ["worker-priority"] = "WorkerPriority",
        ["tls-certificate"] = "TlsCertificate",
        ["tls-key"] = "TlsKey",
        ["admin-token"] = "AdminToken",
        ["shutdown-timeout"] = "ShutdownTimeout",
        ["log-level"] = "LogLevel",
        ["broadcaster-token"] = "BroadcasterToken",
        ["send-queue-max-bytes"] = "SendQueueMaxBytes",
        ["send-timeout"] = "SendTimeout",
        ["request-timeout"] = "RequestTimeout",
        ["keep-alive-interval"] = "KeepAliveInterval",
        ["keep-alive-timeout"] = "KeepAliveTimeout",
        ["read-timeout"] = "ReadTimeout",
        ["max-peer-field-bytes"] = "MaxPeerFieldBytes",
        ["max-peers-per-room"] = "MaxPeersPerRoom",
        ["max-transports-per-peer"] = "MaxTransportsPerPeer",
        ["max-producers-per-peer"] = "MaxProducersPerPeer",
        ["max-consumers-per-peer"] = "MaxConsumersPerPeer",
        ["max-data-producers-per-peer"] = "MaxDataProducersPerPeer",
        ["max-data-consumers-per-peer"] = "MaxDataConsumersPerPeer",
        ["cluster"] = "Cluster",
        ["cluster-id"] = "ClusterId",
        ["new-cluster"] = "NewCluster",
        ["silo-port"] = "SiloPort",
        ["gateway-port"] = "GatewayPort",
        ["node-address"] = "NodeAddress",
        ["config"] = "Config",
    };

    private static readonly HashSet<string> KeyNames = new(Keys.Values, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Reads options through ASP.NET Core configuration: a JSON file (<c>--config</c> or FERRY_CONFIG),
    /// then FERRY_* environment variables, then the command line, each overriding the one before.
    /// </summary>
    /// <param name="args">Command-line arguments: <c>--name value</c> or <c>--name=value</c>.</param>
    /// <param name="environment">Environment variables; the process's when null.</param>
    /// <exception cref="ArgumentException">An unknown option, a missing or bad value, an unreadable config file.</exception>
    public static ServerOptions Parse(IReadOnlyList<string> args, IDictionary<string, string?>? environment = null)
    {
        CheckArguments(args);
        environment ??= Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        // FERRY_* variables that are not options are left alone: other tools may share the prefix.
        var fromEnvironment = environment
            .Where(e => e.Key.StartsWith("FERRY_", StringComparison.Ordinal) && e.Value is not null)
            .Select(e => KeyValuePair.Create(e.Key["FERRY_".Length..].Replace("_", "", StringComparison.Ordinal), e.Value))
            .Where(e => KeyNames.Contains(e.Key))
            .ToList();
        var switches = Keys.ToDictionary(k => "--" + k.Key, k => k.Value);
        var commandLine = new ConfigurationBuilder().AddCommandLine([.. args], switches).Build();
        var configFile = commandLine["Config"] ?? fromEnvironment.FirstOrDefault(e => string.Equals(e.Key, "Config", StringComparison.OrdinalIgnoreCase)).Value;

        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!File.Exists(configFile)) throw new ArgumentException($"config file '{configFile}' not found");
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }
        builder.AddInMemoryCollection(fromEnvironment).AddCommandLine([.. args], switches);
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new ArgumentException($"config file '{configFile}': {e.Message}");
        }
        // A misspelt key in the file would otherwise be ignored without a word.
        foreach (var entry in configuration.AsEnumerable())
        {
            if (entry.Value is not null && !KeyNames.Contains(entry.Key))
                throw new ArgumentException($"unknown option '{entry.Key}' in '{configFile}'");
        }

        var options = new ServerOptions();
        string? Get(string key) => configuration[key];
        if (Get("ListenAddress") is { } listen) options = options with { ListenAddress = Ip("listen-address", listen) };
        if (Get("Port") is { } port) options = options with { Port = Int("port", port, 0, 65535) };
        if (Get("RtcListenIp") is { } rtcIp) options = options with { RtcListenIp = Ip("rtc-listen-ip", rtcIp) };
        if (Get("AnnouncedAddress") is { } announced) options = options with { AnnouncedAddress = announced };
        if (Get("RtcMinPort") is { } min) options = options with { RtcMinPort = Int("rtc-min-port", min, 1, 65535) };
        if (Get("RtcMaxPort") is { } max) options = options with { RtcMaxPort = Int("rtc-max-port", max, 1, 65535) };
        if (Get("Workers") is { } workers) options = options with { Workers = Int("workers", workers, 1, 1024) };
        if (Get("TlsCertificate") is { } cert) options = options with { TlsCertificate = cert };
        if (Get("TlsKey") is { } key) options = options with { TlsKey = key };
        if (Get("AdminToken") is { } token) options = options with { AdminToken = token };
        if (Get("WorkerPriority") is { } priority)
            options = options with { WorkerPriority = Enum.TryParse<WorkerThreadPriority>(priority, true, out var p) && Enum.IsDefined(p) && !int.TryParse(priority, out _) ? p : throw new ArgumentException($"invalid --worker-priority '{priority}' (normal, high, realtime)") };
        if (Get("ShutdownTimeout") is { } shutdown) options = options with { ShutdownTimeout = TimeSpan.FromSeconds(Int("shutdown-timeout", shutdown, 1, 600)) };
        if (Get("LogLevel") is { } level)
            options = options with { LogLevel = Enum.TryParse<LogLevel>(level, true, out var l) && Enum.IsDefined(l) ? l : throw new ArgumentException($"invalid --log-level '{level}'") };
        if (Get("BroadcasterToken") is { } broadcasterToken) options = options with { BroadcasterToken = broadcasterToken };
        if (Get("SendQueueMaxBytes") is { } queue) options = options with { SendQueueMaxBytes = Int("send-queue-max-bytes", queue, 65536, 1 << 30) };
        if (Get("SendTimeout") is { } send) options = options with { SendTimeout = Seconds("send-timeout", send) };
        if (Get("RequestTimeout") is { } request) options = options with { RequestTimeout = Seconds("request-timeout", request) };
        if (Get("KeepAliveInterval") is { } ping) options = options with { KeepAliveInterval = Seconds("keep-alive-interval", ping) };
        if (Get("KeepAliveTimeout") is { } pong) options = options with { KeepAliveTimeout = Seconds("keep-alive-timeout", pong) };
        if (Get("ReadTimeout") is { } read) options = options with { ReadTimeout = Seconds("read-timeout", read) };
        if (Get("MaxPeerFieldBytes") is { } field) options = options with { MaxPeerFieldBytes = Int("max-peer-field-bytes", field, 64, 1 << 20) };
        if (Get("MaxPeersPerRoom") is { } peers) options = options with { MaxPeersPerRoom = Int("max-peers-per-room", peers, 1, 100_000) };
        if (Get("MaxTransportsPerPeer") is { } transports) options = options with { MaxTransportsPerPeer = Int("max-transports-per-peer", transports, 1, 10_000) };
        if (Get("MaxProducersPerPeer") is { } producers) options = options with { MaxProducersPerPeer = Int("max-producers-per-peer", producers, 1, 10_000) };
        if (Get("MaxConsumersPerPeer") is { } consumers) options = options with { MaxConsumersPerPeer = Int("max-consumers-per-peer", consumers, 1, 1_000_000) };
        if (Get("MaxDataProducersPerPeer") is { } dataProducers) options = options with { MaxDataProducersPerPeer = Int("max-data-producers-per-peer", dataProducers, 1, 10_000) };
        if (Get("MaxDataConsumersPerPeer") is { } dataConsumers) options = options with { MaxDataConsumersPerPeer = Int("max-data-consumers-per-peer", dataConsumers, 1, 1_000_000) };
        if (Get("Cluster") is { } cluster) options = options with { Cluster = cluster };
        if (options.Cluster is not null) _ = Ferry.Server.Cluster.RedisAddress.ToConfiguration(options.Cluster);
        if (Get("ClusterId") is { } clusterId)
            options = options with { ClusterId = clusterId.Length is > 0 and <= 64 && clusterId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? clusterId : throw new ArgumentException($"invalid --cluster-id '{clusterId}': 1 to 64 letters, digits, '-', '_' or '.'") };
        if (Get("NewCluster") is { } newCluster) options = options with { NewCluster = bool.TryParse(newCluster, out var b) ? b : throw new ArgumentException($"invalid --new-cluster '{newCluster}': true or false") };
        if (Get("SiloPort") is { } silo) options = options with { SiloPort = Int("silo-port", silo, 0, 65535) };
        if (Get("GatewayPort") is { } gateway) options = options with { GatewayPort = Int("gateway-port", gateway, 0, 65535) };
        if (Get("NodeAddress") is { } node) options = options with { NodeAddress = Ip("node-address", node) };
        if (options.SiloPort != 0 && (options.SiloPort == options.GatewayPort || options.SiloPort == options.Port))
            throw new ArgumentException($"--silo-port {options.SiloPort} is also the {(options.SiloPort == options.Port ? "HTTP --port" : "--gateway-port")}");
        if (options.GatewayPort != 0 && options.GatewayPort == options.Port) throw new ArgumentException($"--gateway-port {options.GatewayPort} is also the HTTP --port");
        // Every address would be announced as 0.0.0.0: the other nodes could not reach this one.
        if (options.Cluster is not null && options.NodeAddress is null && IPAddress.Parse(options.ListenAddress) is var any && (any.Equals(IPAddress.Any) || any.Equals(IPAddress.IPv6Any)))
            throw new ArgumentException("--cluster with --listen-address on every address needs --node-address: the address the other nodes reach this one at");
        if (options.RtcMinPort > options.RtcMaxPort) throw new ArgumentException("--rtc-min-port is above --rtc-max-port");
        if ((options.TlsCertificate is null) != (options.TlsKey is null)) throw new ArgumentException("--tls-certificate and --tls-key go together");
        return options;
    }

    /// <summary>Unknown options and options without a value are errors here, before configuration reads the rest.</summary>
    private static void CheckArguments(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{arg}'");
            var name = arg[2..];
            var eq = name.IndexOf('=');
            if (eq >= 0) name = name[..eq];
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) i++;
            else throw new ArgumentException($"option --{name} needs a value");
            if (!Keys.ContainsKey(name)) throw new ArgumentException($"unknown option --{name}");
        }
    }

    private static string Ip(string name, string value) =>
        IPAddress.TryParse(value, out _) ? value : throw new ArgumentException($"invalid --{name} '{value}': not an IP address");

    private static TimeSpan Seconds(string name, string value) => TimeSpan.FromSeconds(Int(name, value, 1, 3600));

    private static int Int(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new ArgumentException($"invalid --{name} '{value}': expected {min}..{max}");
}
