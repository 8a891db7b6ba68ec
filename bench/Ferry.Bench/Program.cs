using System.Diagnostics;
using System.Globalization;
using Ferry.Bench.Swarm;

namespace Ferry.Bench;

/// <summary>
/// The bench's entry point. Verbs: <c>all</c> (every figure, under ten minutes), <c>smoke</c>
/// (seconds, small N: proves the machinery works, not its speed) and <c>load-client</c> (the
/// receiving peers, started by the bench itself as a second process).
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["load-client", ..]) return await LoadClientHost.RunAsync().ConfigureAwait(false);
        if (args.Length == 0 || args[0] is not ("all" or "smoke"))
        {
            await Console.Error.WriteLineAsync("usage: Ferry.Bench all|smoke [--out FILE] [--only forwarding,srtp,capacity,memory,moves,join,pipes,transport-moves,remote-moves,checkpoint] [--n 50,100] [--transports plain,webrtc] [--modes plain,gcm,cm] [--rounds 3] [--quiet]").ConfigureAwait(false);
            return 2;
        }
        var results = await RunAsync(args).ConfigureAwait(false);
        Console.WriteLine(results.ToTable());
        return 0;
    }

    /// <summary>Runs a bench verb and writes its JSON file; the test calls this in-process.</summary>
    public static async Task<BenchResults> RunAsync(string[] args)
    {
        var mode = args[0];
        var config = mode == "smoke" ? BenchConfig.Smoke : BenchConfig.Full;
        string? output = null;
        HashSet<string>? only = null;
        var quiet = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": output = args[++i]; break;
                case "--only": only = [.. args[++i].Split(',')]; break;
                case "--quiet": quiet = true; break;
                case "--n": config = config with { ForwardingConsumers = [.. args[++i].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))] }; break;
                case "--transports": config = config with { ForwardingTransports = [.. args[++i].Split(',').Select(x => Enum.Parse<ForwardingTransport>(x, ignoreCase: true))] }; break;
                case "--modes": config = config with { ForwardingModes = [.. args[++i].Split(',').Select(x => Enum.Parse<ForwardingMode>(x, ignoreCase: true))] }; break;
                case "--rounds": config = config with { Rounds = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        output ??= Path.Combine(RepositoryRoot(), "bench", "results", mode == "smoke" ? "smoke.json" : "latest.json");
        var results = new BenchResults
        {
            Mode = mode,
            Date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            Machine = CpuModel(),
            Cores = Environment.ProcessorCount,
            Command = $"dotnet run -c Release --project bench/Ferry.Bench -- {string.Join(' ', args)}",
        };
        var progress = new Progress(!quiet);
        var clock = Stopwatch.StartNew();
        bool Wants(string phase) => only is null || only.Contains(phase);
        var scenarios = new Scenarios(config, progress);

        if (Wants("forwarding") || Wants("capacity"))
        {
            await using var swarm = await RemoteSwarm.StartAsync().ConfigureAwait(false);
            if (Wants("forwarding")) await scenarios.ForwardingAsync(swarm, results).ConfigureAwait(false);
            if (Wants("capacity") && config.CapacityConsumers.Length > 0) await scenarios.CapacityAsync(swarm, results).ConfigureAwait(false);
        }
        if (Wants("srtp")) scenarios.SrtpCost(results);
        if (Wants("memory")) await scenarios.MemoryAsync(results).ConfigureAwait(false);
        if (Wants("moves")) await scenarios.MovesAsync(results).ConfigureAwait(false);
        if (Wants("join")) await scenarios.JoinAsync(results).ConfigureAwait(false);
        if (Wants("pipes")) await scenarios.PipesAsync(results).ConfigureAwait(false);
        if (Wants("transport-moves")) await scenarios.TransportMovesAsync(results).ConfigureAwait(false);
        if (Wants("remote-moves")) await scenarios.RemoteMovesAsync(results).ConfigureAwait(false);
        if (Wants("remote-moves") || Wants("checkpoint")) await scenarios.CheckpointCostAsync().ConfigureAwait(false);

        results.Seconds = clock.Elapsed.TotalSeconds;
        progress.Done();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, results.ToJson()).ConfigureAwait(false);
        progress.Line($"results written to {output}");
        return results;
    }

    /// <summary>The directory holding Ferry.slnx above the working directory, else the working directory.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ferry.slnx"))) return dir.FullName;
        return Environment.CurrentDirectory;
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}

/// <summary>Sizes and durations of a run.</summary>
internal sealed record BenchConfig
{
    public required int[] ForwardingConsumers { get; init; }
    /// <summary>Transport kinds of the forwarding matrix (WebRTC is never plain RTP).</summary>
    public ForwardingTransport[] ForwardingTransports { get; init; } = [ForwardingTransport.Plain, ForwardingTransport.WebRtc];
    /// <summary>Media protection of the forwarding matrix.</summary>
    public ForwardingMode[] ForwardingModes { get; init; } = [ForwardingMode.Plain, ForwardingMode.Gcm, ForwardingMode.Cm];
    /// <summary>Packets per SRTP cost round (srtp phase).</summary>
    public int SrtpPackets { get; init; } = 200_000;
    public required int[] CapacityConsumers { get; init; }
    public required TimeSpan Warmup { get; init; }
    public required TimeSpan Window { get; init; }
    public required int MemoryCount { get; init; }
    public required (int Consumers, int Moves)[] Moves { get; init; }
    public required int JoinSamples { get; init; }
    public required int Rounds { get; init; }
    public required (int Consumers, int Moves)[] TransportMoves { get; init; }

    /// <summary>Moves by the path between processes (snapshot, relay, ICE restart): consumers on the moved transport, moves.</summary>
    public required (int Consumers, int Moves)[] RemoteMoves { get; init; }

    /// <summary>Rate of the stream piped between workers (pipes scenario).</summary>
    public int PipePacketsPerSecond { get; init; } = 1000;

    /// <summary>~1 Mbit/s per stream: 100 packets of 1200 payload bytes a second.</summary>
    public int PacketsPerSecond { get; init; } = 100;
    public int PayloadBytes { get; init; } = 1200;

    public static BenchConfig Full => new()
    {
        ForwardingConsumers = [50, 200, 400],
        CapacityConsumers = [600, 800, 1000, 1300, 1600, 2000, 2500, 3000],
        Warmup = TimeSpan.FromSeconds(1),
        Window = TimeSpan.FromSeconds(3),
        MemoryCount = 2000,
        Moves = [(1, 200), (10, 200), (100, 100)],
        JoinSamples = 30,
        Rounds = 3,
        TransportMoves = [(1, 200), (10, 220)],
        RemoteMoves = [(1, 100), (10, 100)],
    };

    public static BenchConfig Smoke => new()
    {
        ForwardingConsumers = [4],
        // Enough for the thread CPU clock to count each round (a round of 0 µs made a ratio infinite).
        SrtpPackets = 20_000,
        CapacityConsumers = [],
        Warmup = TimeSpan.FromMilliseconds(300),
        Window = TimeSpan.FromMilliseconds(600),
        MemoryCount = 40,
        Moves = [(1, 5), (10, 5)],
        JoinSamples = 3,
        Rounds = 1,
        TransportMoves = [(1, 4), (10, 11)],
        RemoteMoves = [(10, 2)],
    };
}

/// <summary>The transports the forwarding consumers (and the producer) are on.</summary>
internal enum ForwardingTransport
{
    /// <summary>PlainTransports: SDES keys given at connect, no ICE or DTLS (mediasoup's side-by-side used these).</summary>
    Plain,

    /// <summary>WebRtcTransports: ICE and DTLS, the SRTP profile chosen by the load client's offer.</summary>
    WebRtc,
}

/// <summary>How the forwarded media is protected.</summary>
internal enum ForwardingMode
{
    /// <summary>Plain RTP (PlainTransports only).</summary>
    Plain,

    /// <summary>AEAD_AES_256_GCM.</summary>
    Gcm,

    /// <summary>AES_CM_128_HMAC_SHA1_80.</summary>
    Cm,
}

/// <summary>A one-line live status on a terminal; phase lines otherwise.</summary>
internal sealed class Progress(bool enabled)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private int _statusLength;

    private string Stamp => $"[{_clock.Elapsed:mm\\:ss}]";

    /// <summary>A line that stays.</summary>
    public void Line(string text)
    {
        if (!enabled) return;
        Clear();
        Console.Error.WriteLine($"{Stamp} {text}");
    }

    /// <summary>A status that the next one overwrites (terminals only).</summary>
    public void Status(string text)
    {
        if (!enabled || !_interactive) return;
        var line = $"{Stamp} {text}";
        Console.Error.Write("\r" + line.PadRight(_statusLength));
        _statusLength = line.Length;
    }

    public void Done() => Clear();

    private void Clear()
    {
        if (_statusLength == 0) return;
        Console.Error.Write("\r" + new string(' ', _statusLength) + "\r");
        _statusLength = 0;
    }
}
