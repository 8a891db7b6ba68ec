using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Ferry.Server;

/// <summary>
/// What a Ferry node is told at start: from the command line (<c>--port 3000</c>) or environment
/// variables (<c>FERRY_PORT=3000</c>), the command line winning.
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

    /// <summary>PEM certificate for HTTPS/WSS; plain HTTP/WS when null.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>PEM key for <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>Bearer token the admin API and /metrics require; when null they answer only loopback clients.</summary>
    public string? AdminToken { get; init; }

    /// <summary>Lowest log level. Default Information.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>The options' names, environment variables and meaning, for --help.</summary>
    public static string Help => """
        Ferry: a WebRTC SFU speaking mediasoup-demo's protocol.

        Usage: dotnet run --project src/Ferry.Server -- [options]

        Options (each also an environment variable FERRY_<NAME>, e.g. FERRY_PORT=3000):
          --listen-address <ip>     address the HTTP/WebSocket server binds (default 127.0.0.1)
          --port <n>                HTTP/WebSocket port, 0 for any (default 3000)
          --rtc-listen-ip <ip>      IP the RTC sockets (UDP and TCP) bind (default: the listen address)
          --announced-address <a>   address announced in ICE candidates (default: the RTC listen IP)
          --rtc-min-port <n>        lowest RTC port, UDP and TCP (default 40000)
          --rtc-max-port <n>        highest RTC port (default 49999)
          --workers <n>             media workers, one thread each (default: one per core)
          --tls-certificate <file>  PEM certificate: serve https/wss instead of http/ws
          --tls-key <file>          PEM private key for --tls-certificate
          --admin-token <token>     bearer token for /api and /metrics (default: loopback clients only)
          --log-level <level>       Trace, Debug, Information, Warning, Error (default Information)
          --help                    this text
        """;

    /// <summary>Reads options from <paramref name="args"/> and the environment.</summary>
    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static ServerOptions Parse(IReadOnlyList<string> args, IDictionary<string, string?>? environment = null)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        environment ??= Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        foreach (var (key, value) in environment)
        {
            if (key.StartsWith("FERRY_", StringComparison.Ordinal) && value is not null)
                values[key["FERRY_".Length..].Replace('_', '-').ToLowerInvariant()] = value;
        }
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{arg}'");
            var name = arg[2..];
            string value;
            var eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (i + 1 < args.Count) value = args[++i];
            else throw new ArgumentException($"option --{name} needs a value");
            values[name.ToLowerInvariant()] = value;
        }
        var options = new ServerOptions();
        foreach (var (name, value) in values)
        {
            options = name switch
            {
                "listen-address" => options with { ListenAddress = Ip(name, value) },
                "port" => options with { Port = Int(name, value, 0, 65535) },
                "rtc-listen-ip" => options with { RtcListenIp = Ip(name, value) },
                "announced-address" => options with { AnnouncedAddress = value },
                "rtc-min-port" => options with { RtcMinPort = Int(name, value, 1, 65535) },
                "rtc-max-port" => options with { RtcMaxPort = Int(name, value, 1, 65535) },
                "workers" => options with { Workers = Int(name, value, 1, 1024) },
                "tls-certificate" => options with { TlsCertificate = value },
                "tls-key" => options with { TlsKey = value },
                "admin-token" => options with { AdminToken = value },
                "log-level" => options with { LogLevel = Enum.TryParse<LogLevel>(value, true, out var l) ? l : throw new ArgumentException($"invalid --log-level '{value}'") },
                _ => throw new ArgumentException($"unknown option --{name}"),
            };
        }
        if (options.RtcMinPort > options.RtcMaxPort) throw new ArgumentException("--rtc-min-port is above --rtc-max-port");
        if ((options.TlsCertificate is null) != (options.TlsKey is null)) throw new ArgumentException("--tls-certificate and --tls-key go together");
        return options;
    }

    private static string Ip(string name, string value) =>
        IPAddress.TryParse(value, out _) ? value : throw new ArgumentException($"invalid --{name} '{value}': not an IP address");

    private static int Int(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new ArgumentException($"invalid --{name} '{value}': expected {min}..{max}");
}
