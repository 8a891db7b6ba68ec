using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>The server's options: command line, FERRY_* variables and a JSON file through ASP.NET Core configuration.</summary>
public sealed class ServerOptionsTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("ferry-options-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string File(string json)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".json");
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Defaults_without_anything()
    {
        var o = ServerOptions.Parse([], NoEnvironment);
        Assert.Equal(new ServerOptions(), o);
        Assert.Equal("127.0.0.1", o.ListenAddress);
        Assert.Equal(3000, o.Port);
        Assert.Equal(Environment.ProcessorCount, o.Workers);
    }

    [Fact]
    public void Every_option_from_the_command_line_in_both_forms()
    {
        var o = ServerOptions.Parse(["--listen-address", "0.0.0.0", "--port=4000", "--rtc-listen-ip", "127.0.0.2", "--announced-address", "sfu.example.org",
            "--rtc-min-port", "42000", "--rtc-max-port=42100", "--workers", "3", "--tls-certificate", "c.pem", "--tls-key", "k.pem",
            "--admin-token", "s3cret", "--shutdown-timeout", "9", "--log-level", "warning"], NoEnvironment);
        Assert.Equal(new ServerOptions
        {
            ListenAddress = "0.0.0.0", Port = 4000, RtcListenIp = "127.0.0.2", AnnouncedAddress = "sfu.example.org", RtcMinPort = 42000, RtcMaxPort = 42100,
            Workers = 3, TlsCertificate = "c.pem", TlsKey = "k.pem", AdminToken = "s3cret", ShutdownTimeout = TimeSpan.FromSeconds(9), LogLevel = LogLevel.Warning,
        }, o);
    }

    [Fact]
    public void Command_line_wins_over_environment_which_wins_over_the_file()
    {
        var file = File("""{ "Port": 1111, "Workers": 5, "RtcMinPort": 40100, "AdminToken": "from-file" }""");
        var environment = new Dictionary<string, string?>
        {
            ["FERRY_PORT"] = "2222",
            ["FERRY_RTC_MIN_PORT"] = "40200",
            ["FERRY_CONFIG"] = file,
            // Not an option: left alone (tests and other tools share the prefix).
            ["FERRY_CONTROL_NO_MOVES"] = "1",
        };
        var o = ServerOptions.Parse(["--port", "3333"], environment);
        Assert.Equal(3333, o.Port);
        Assert.Equal(40200, o.RtcMinPort);
        Assert.Equal(5, o.Workers);
        Assert.Equal("from-file", o.AdminToken);
        Assert.Equal(7, ServerOptions.Parse(["--config", File("""{ "workers": 7 }""")], NoEnvironment).Workers);
    }

    [Theory]
    [InlineData("--nope", "x", "unknown option --nope")]
    [InlineData("--port", null, "needs a value")]
    [InlineData("--port", "70000", "invalid --port")]
    [InlineData("--port", "abc", "invalid --port")]
    [InlineData("--listen-address", "localhost", "not an IP address")]
    [InlineData("--workers", "0", "invalid --workers")]
    [InlineData("--log-level", "loud", "invalid --log-level")]
    [InlineData("--shutdown-timeout", "0", "invalid --shutdown-timeout")]
    [InlineData("--tls-certificate", "c.pem", "go together")]
    [InlineData("--rtc-min-port", "45000", "above --rtc-max-port")]
    [InlineData("stray", null, "unexpected argument")]
    public void Bad_options_are_errors_that_say_what_is_wrong(string name, string? value, string message)
    {
        string[] args = value is null ? [name] : [name, value];
        if (name == "--rtc-min-port") args = [.. args, "--rtc-max-port", "44000"];
        var e = Assert.Throws<ArgumentException>(() => ServerOptions.Parse(args, NoEnvironment));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_bad_environment_value_is_an_error_too()
    {
        var e = Assert.Throws<ArgumentException>(() => ServerOptions.Parse([], new Dictionary<string, string?> { ["FERRY_WORKERS"] = "many" }));
        Assert.Contains("invalid --workers", e.Message);
    }

    [Fact]
    public void A_missing_unreadable_or_misspelt_config_file_is_an_error()
    {
        Assert.Contains("not found", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--config", Path.Combine(_folder, "none.json")], NoEnvironment)).Message);
        Assert.Contains("config file", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--config", File("{ not json")], NoEnvironment)).Message);
        Assert.Contains("unknown option 'Prot'", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--config", File("""{ "Prot": 1 }""")], NoEnvironment)).Message);
    }

    [Fact]
    public void Help_lists_every_option()
    {
        foreach (var option in new[] { "--config", "--listen-address", "--port", "--rtc-listen-ip", "--announced-address", "--rtc-min-port", "--rtc-max-port",
                     "--workers", "--worker-priority", "--tls-certificate", "--tls-key", "--admin-token", "--log-level", "--help",
                     "--broadcaster-token", "--send-queue-max-bytes", "--send-timeout", "--request-timeout", "--keep-alive-interval", "--keep-alive-timeout",
                     "--read-timeout", "--max-peer-field-bytes", "--max-peers-per-room", "--max-transports-per-peer", "--max-producers-per-peer",
                     "--max-consumers-per-peer", "--max-data-producers-per-peer", "--max-data-consumers-per-peer" })
            Assert.Contains(option + " ", ServerOptions.Help);
    }

    [Fact]
    public void Limits_and_timeouts_have_defaults_and_come_from_every_source()
    {
        var d = ServerOptions.Parse([], NoEnvironment);
        Assert.Equal(4 << 20, d.SendQueueMaxBytes);
        Assert.Equal(TimeSpan.FromSeconds(15), d.SendTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), d.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), d.KeepAliveInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), d.KeepAliveTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), d.ReadTimeout);
        Assert.Equal(4096, d.MaxPeerFieldBytes);
        Assert.Equal((100, 4, 16, 1000, 16, 1000), (d.MaxPeersPerRoom, d.MaxTransportsPerPeer, d.MaxProducersPerPeer, d.MaxConsumersPerPeer, d.MaxDataProducersPerPeer, d.MaxDataConsumersPerPeer));
        Assert.Null(d.BroadcasterToken);

        var o = ServerOptions.Parse(["--send-queue-max-bytes", "100000", "--send-timeout=3", "--request-timeout", "4", "--keep-alive-interval", "5",
            "--keep-alive-timeout", "6", "--read-timeout", "7", "--max-peer-field-bytes", "512", "--max-peers-per-room", "8", "--max-transports-per-peer", "2",
            "--max-producers-per-peer", "3", "--max-consumers-per-peer", "9", "--max-data-producers-per-peer", "1", "--max-data-consumers-per-peer", "10",
            "--broadcaster-token", "b"], NoEnvironment);
        Assert.Equal(d with
        {
            SendQueueMaxBytes = 100000, SendTimeout = TimeSpan.FromSeconds(3), RequestTimeout = TimeSpan.FromSeconds(4), KeepAliveInterval = TimeSpan.FromSeconds(5),
            KeepAliveTimeout = TimeSpan.FromSeconds(6), ReadTimeout = TimeSpan.FromSeconds(7), MaxPeerFieldBytes = 512, MaxPeersPerRoom = 8, MaxTransportsPerPeer = 2,
            MaxProducersPerPeer = 3, MaxConsumersPerPeer = 9, MaxDataProducersPerPeer = 1, MaxDataConsumersPerPeer = 10, BroadcasterToken = "b",
        }, o);
        Assert.Equal(50, ServerOptions.Parse([], new Dictionary<string, string?> { ["FERRY_MAX_PEERS_PER_ROOM"] = "50" }).MaxPeersPerRoom);
        Assert.Equal(TimeSpan.FromSeconds(30), ServerOptions.Parse(["--config", File("""{ "SendTimeout": 30 }""")], NoEnvironment).SendTimeout);
        Assert.Contains("invalid --max-transports-per-peer", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--max-transports-per-peer", "0"], NoEnvironment)).Message);
        Assert.Contains("invalid --send-queue-max-bytes", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--send-queue-max-bytes", "10"], NoEnvironment)).Message);
    }

    [Fact]
    public void Worker_priority_defaults_to_realtime_and_takes_the_three_names_only()
    {
        Assert.Equal(WorkerThreadPriority.Realtime, ServerOptions.Parse([], NoEnvironment).WorkerPriority);
        Assert.Equal(WorkerThreadPriority.Normal, ServerOptions.Parse(["--worker-priority", "normal"], NoEnvironment).WorkerPriority);
        Assert.Equal(WorkerThreadPriority.High, ServerOptions.Parse([], new Dictionary<string, string?> { ["FERRY_WORKER_PRIORITY"] = "High" }).WorkerPriority);
        foreach (var bad in new[] { "fast", "2", "" })
            Assert.Contains("--worker-priority", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--worker-priority", bad], NoEnvironment)).Message);
    }

    [Fact]
    public void Cluster_options_from_the_command_line_environment_and_file()
    {
        var d = ServerOptions.Parse([], NoEnvironment);
        Assert.Null(d.Cluster);
        Assert.Equal("ferry", d.ClusterId);
        Assert.False(d.NewCluster);
        Assert.Equal(0, d.SiloPort);
        Assert.Equal(0, d.GatewayPort);
        Assert.Null(d.NodeAddress);
        var o = ServerOptions.Parse(["--cluster", "redis://127.0.0.1:6390", "--cluster-id=blue", "--new-cluster", "true", "--silo-port", "11111",
            "--gateway-port", "30000", "--node-address", "127.0.0.1"], NoEnvironment);
        Assert.Equal(new ServerOptions { Cluster = "redis://127.0.0.1:6390", ClusterId = "blue", NewCluster = true, SiloPort = 11111, GatewayPort = 30000, NodeAddress = "127.0.0.1" }, o);
        Assert.Equal(11112, ServerOptions.Parse([], new Dictionary<string, string?> { ["FERRY_SILO_PORT"] = "11112" }).SiloPort);
        Assert.Equal("10.0.0.5:6379,password=x", ServerOptions.Parse(["--config", File("""{ "Cluster": "10.0.0.5:6379,password=x" }""")], NoEnvironment).Cluster);
        // Every address is fine with --node-address, and alone without --cluster.
        Assert.Equal("10.0.0.5", ServerOptions.Parse(["--cluster", "redis://r:6379", "--listen-address", "0.0.0.0", "--node-address", "10.0.0.5"], NoEnvironment).NodeAddress);
        Assert.Null(ServerOptions.Parse(["--listen-address", "0.0.0.0"], NoEnvironment).NodeAddress);
    }

    [Theory]
    [InlineData("redis://127.0.0.1:6390", "127.0.0.1:6390", null, null, -1)]
    [InlineData("redis://redis.example:6390", "redis.example:6390", null, null, -1)]
    [InlineData("redis://:s%40cret@10.0.0.5/2", "10.0.0.5:6379", null, "s@cret", 2)]
    [InlineData("redis://ferry:pw@10.0.0.5:7000", "10.0.0.5:7000", "ferry", "pw", -1)]
    [InlineData("10.0.0.5:7000,password=pw", "10.0.0.5:7000", null, "pw", -1)]
    public void Redis_addresses_in_both_forms(string value, string endpoint, string? user, string? password, int database)
    {
        var c = Ferry.Server.Cluster.RedisAddress.ToConfiguration(value);
        Assert.Equal(endpoint, Assert.Single(c.EndPoints).ToString()!.Replace("Unspecified/", ""));
        Assert.Equal(user, c.User);
        Assert.Equal(password, c.Password);
        Assert.Equal(database, c.DefaultDatabase ?? -1);
    }

    [Theory]
    [InlineData(new[] { "--cluster", "redis://" }, "invalid --cluster")]
    [InlineData(new[] { "--cluster", "redis://h/x" }, "database number")]
    [InlineData(new[] { "--cluster", "," }, "invalid --cluster")]
    [InlineData(new[] { "--cluster-id", "a b" }, "invalid --cluster-id")]
    [InlineData(new[] { "--new-cluster", "yes" }, "invalid --new-cluster")]
    [InlineData(new[] { "--silo-port", "70000" }, "invalid --silo-port")]
    [InlineData(new[] { "--node-address", "node1" }, "invalid --node-address")]
    [InlineData(new[] { "--silo-port", "3000" }, "--silo-port 3000 is also the HTTP --port")]
    [InlineData(new[] { "--silo-port", "11111", "--gateway-port", "11111" }, "is also the --gateway-port")]
    [InlineData(new[] { "--gateway-port", "3000" }, "--gateway-port 3000 is also the HTTP --port")]
    [InlineData(new[] { "--cluster", "redis://r:6379", "--listen-address", "0.0.0.0" }, "needs --node-address")]
    public void Bad_cluster_options_say_what_is_wrong(string[] args, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => ServerOptions.Parse(args, NoEnvironment)).Message);
}
