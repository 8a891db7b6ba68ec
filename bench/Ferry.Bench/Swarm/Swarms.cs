using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;
using Ferry.Transports;

namespace Ferry.Bench.Swarm;

/// <summary>A swarm of receiving peers, in this process or in a load-client process.</summary>
internal interface ISwarm : IAsyncDisposable
{
    /// <summary>What the server transports' connect() must be given.</summary>
    DtlsParameters DtlsParameters { get; }

    /// <summary>Starts a peer towards a server transport; completes when its SRTP keys are in place. A profile, when given, is the only one the peer offers.</summary>
    Task AddPeerAsync(int id, IceParameters ice, IPEndPoint server, DtlsFingerprint serverFingerprint, SrtpProfile? profile = null);

    /// <summary>A PlainTransport's peer receiving from <paramref name="server"/> (SRTP with the transport's key when given); its port.</summary>
    Task<int> AddPlainPeerAsync(int id, IPEndPoint server, SrtpProfile profile, byte[]? key, byte[]? salt);

    /// <summary>Paced RTP out through a connected peer.</summary>
    Task StartSourceAsync(int peerId, SourceSpec spec);

    /// <summary>Paced RTP to an address, SRTP-protected when a key is given.</summary>
    Task StartRawSourceAsync(IPEndPoint to, SourceSpec spec, SrtpProfile profile, byte[]? key, byte[]? salt);

    /// <summary>Stops the source.</summary>
    Task StopSourceAsync();

    /// <summary>Zeroes the receive counters.</summary>
    Task ResetStatsAsync();

    /// <summary>The counters summed over the peers.</summary>
    Task<SwarmStats> GetStatsAsync();

    /// <summary>Closes every peer.</summary>
    Task RemoveAllAsync();
}

/// <summary>Helpers shared by the scenarios.</summary>
internal static class SwarmExtensions
{
    /// <summary>Gives the transport the swarm's DTLS parameters and connects a new peer to its first UDP candidate.</summary>
    public static async Task ConnectTransportAsync(this ISwarm swarm, int id, WebRtcTransport transport, SrtpProfile? profile = null)
    {
        await transport.ConnectAsync(swarm.DtlsParameters).ConfigureAwait(false);
        var candidate = transport.IceCandidates.First(c => c.Protocol == TransportProtocolName.Udp);
        var server = new IPEndPoint(IPAddress.Parse(candidate.Address), candidate.Port);
        await swarm.AddPeerAsync(id, transport.IceParameters, server, transport.DtlsParameters.Fingerprints[^1], profile).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects a PlainTransport (SRTP with <paramref name="profile"/>, or plain RTP when null) to a new peer of the
    /// swarm, which unprotects with the transport's own key; returns the peer's port.
    /// </summary>
    public static async Task<int> ConnectPlainAsync(this ISwarm swarm, int id, PlainTransport transport, SrtpProfile? profile)
    {
        var server = new IPEndPoint(IPAddress.Loopback, transport.Tuple.LocalPort);
        byte[]? key = null, salt = null;
        var suite = profile ?? SrtpProfile.AesCm128HmacSha1_80;
        if (profile is { } p)
        {
            var keyAndSalt = Convert.FromBase64String(transport.SrtpParameters!.KeyBase64);
            key = keyAndSalt[..p.MasterKeyLength()];
            salt = keyAndSalt[p.MasterKeyLength()..];
        }
        var port = await swarm.AddPlainPeerAsync(id, server, suite, key, salt).ConfigureAwait(false);
        var before = transport.SrtpParameters?.KeyBase64;
        await transport.ConnectAsync("127.0.0.1", port, srtpParameters: profile is null ? null : RandomSrtpParameters(suite)).ConfigureAwait(false);
        // Same suite both ways, so connect keeps the transport's key the peer was given.
        if (transport.SrtpParameters?.KeyBase64 != before) throw new InvalidOperationException("the PlainTransport changed its SRTP key on connect");
        return port;
    }

    /// <summary>SDES parameters with a random key of <paramref name="profile"/>.</summary>
    public static SrtpParameters RandomSrtpParameters(SrtpProfile profile) => SrtpParameters(profile,
        System.Security.Cryptography.RandomNumberGenerator.GetBytes(profile.MasterKeyLength()), System.Security.Cryptography.RandomNumberGenerator.GetBytes(profile.MasterSaltLength()));

    /// <summary>SDES parameters of a key and salt.</summary>
    public static SrtpParameters SrtpParameters(SrtpProfile profile, byte[] key, byte[] salt) =>
        new() { CryptoSuite = profile.ToMediasoupName(), KeyBase64 = Convert.ToBase64String([.. key, .. salt]) };
}

/// <summary>A swarm on a thread of this process.</summary>
internal sealed class LocalSwarm : ISwarm
{
    public LocalSwarm() => Swarm = new PeerSwarm();

    /// <summary>The swarm itself (touch it through its loop).</summary>
    public PeerSwarm Swarm { get; }

    public DtlsParameters DtlsParameters => Swarm.DtlsParameters;

    public Task AddPeerAsync(int id, IceParameters ice, IPEndPoint server, DtlsFingerprint serverFingerprint, SrtpProfile? profile = null) =>
        Swarm.Loop.InvokeAsync(() => Swarm.AddPeer(id, ice, server, serverFingerprint, profile)).Unwrap();

    public Task<int> AddPlainPeerAsync(int id, IPEndPoint server, SrtpProfile profile, byte[]? key, byte[]? salt) =>
        Swarm.Loop.InvokeAsync(() => Swarm.AddPlainPeer(id, server, profile, key, salt));

    public Task StartSourceAsync(int peerId, SourceSpec spec) => Swarm.Loop.InvokeAsync(() => Swarm.StartSource(peerId, spec));

    public Task StartRawSourceAsync(IPEndPoint to, SourceSpec spec, SrtpProfile profile, byte[]? key, byte[]? salt) =>
        Swarm.Loop.InvokeAsync(() => Swarm.StartRawSource(to, spec, profile, key, salt));

    public Task StopSourceAsync() => Swarm.Loop.InvokeAsync(Swarm.StopSource);

    public Task ResetStatsAsync() => Swarm.Loop.InvokeAsync(Swarm.ResetStats);

    public Task<SwarmStats> GetStatsAsync() => Swarm.Loop.InvokeAsync(Swarm.GetStats);

    public Task RemoveAllAsync() => Swarm.Loop.InvokeAsync(Swarm.RemoveAll);

    /// <summary>Completes with the Stopwatch timestamp of the peer's first decrypted RTP packet.</summary>
    public Task<long> FirstPacketAsync(int id) => Swarm.Loop.InvokeAsync(() => Swarm.FirstPacket(id)).Unwrap();

    /// <summary>Closes one peer.</summary>
    public Task RemovePeerAsync(int id) => Swarm.Loop.InvokeAsync(() => Swarm.RemovePeer(id));

    public ValueTask DisposeAsync()
    {
        Swarm.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The parent's side of a load-client process: one request per line on its stdin, one reply per
/// line on its stdout ("id ok ..." or "id err ..."), matched by id, so slow requests (a peer's
/// handshake) never hold up quick ones (stats).
/// </summary>
internal sealed class RemoteSwarm : ISwarm
{
    private readonly Process _process;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<string>> _pending = new();
    private readonly Lock _writeGate = new();
    private readonly Thread _reader;
    private int _nextRequest;

    private RemoteSwarm(Process process, DtlsParameters dtls)
    {
        _process = process;
        DtlsParameters = dtls;
        _reader = new Thread(ReadReplies) { IsBackground = true, Name = "bench-remote-swarm" };
        _reader.Start();
    }

    public DtlsParameters DtlsParameters { get; }

    /// <summary>Starts this executable with the load-client verb and waits for its greeting.</summary>
    public static async Task<RemoteSwarm> StartAsync()
    {
        var info = SelfLauncher.StartInfo("load-client");
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = false;
        info.UseShellExecute = false;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the load client");
        var hello = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var parts = hello?.Split(' ');
        if (parts is not ["hello", var algorithm, var value])
        {
            try { process.Kill(); } catch (InvalidOperationException) { }
            throw new InvalidOperationException($"load client said '{hello}'");
        }
        var dtls = new DtlsParameters { Role = DtlsRoleName.Client, Fingerprints = [new DtlsFingerprint { Algorithm = algorithm, Value = value }] };
        return new RemoteSwarm(process, dtls);
    }

    public Task AddPeerAsync(int id, IceParameters ice, IPEndPoint server, DtlsFingerprint serverFingerprint, SrtpProfile? profile = null) =>
        Request($"add {id} {ice.UsernameFragment} {ice.Password} {server.Address} {server.Port} {serverFingerprint.Algorithm} {serverFingerprint.Value} {(profile is { } p ? (ushort)p : 0)}");

    public async Task<int> AddPlainPeerAsync(int id, IPEndPoint server, SrtpProfile profile, byte[]? key, byte[]? salt) =>
        int.Parse(await Request($"plain {id} {server.Address} {server.Port} {(ushort)profile} {(key is null ? "-" : Convert.ToHexString(key))} {(salt is null ? "-" : Convert.ToHexString(salt))}").ConfigureAwait(false), CultureInfo.InvariantCulture);

    public Task StartSourceAsync(int peerId, SourceSpec spec) =>
        Request($"source {peerId} {spec.PacketsPerSecond} {spec.PayloadBytes} {spec.Ssrc} {spec.KeyFrameInterval}");

    public Task StartRawSourceAsync(IPEndPoint to, SourceSpec spec, SrtpProfile profile, byte[]? key, byte[]? salt) =>
        Request($"raw {to.Address} {to.Port} {spec.PacketsPerSecond} {spec.PayloadBytes} {spec.Ssrc} {spec.KeyFrameInterval} {(ushort)profile} " +
                $"{(key is null ? "-" : Convert.ToHexString(key))} {(salt is null ? "-" : Convert.ToHexString(salt))}");

    public Task StopSourceAsync() => Request("stop");

    public Task ResetStatsAsync() => Request("reset");

    public async Task<SwarmStats> GetStatsAsync() => LoadClientHost.ParseStats(await Request("stats").ConfigureAwait(false));

    public Task RemoveAllAsync() => Request("remove-all");

    private Task<string> Request(string command)
    {
        var id = Interlocked.Increment(ref _nextRequest);
        var tcs = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        lock (_writeGate)
        {
            _process.StandardInput.WriteLine($"{id} {command}");
            _process.StandardInput.Flush();
        }
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private void ReadReplies()
    {
        while (_process.StandardOutput.ReadLine() is { } line)
        {
            var parts = line.Split(' ', 3);
            if (parts.Length < 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var id) || !_pending.TryRemove(id, out var tcs)) continue;
            var rest = parts.Length > 2 ? parts[2] : "";
            if (parts[1] == "ok") tcs.TrySetResult(rest);
            else tcs.TrySetException(new InvalidOperationException($"load client: {rest}"));
        }
        foreach (var tcs in _pending.Values) tcs.TrySetException(new InvalidOperationException("load client exited"));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            lock (_writeGate) _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}

/// <summary>The load-client process: a <see cref="LocalSwarm"/> driven by lines on stdin.</summary>
internal static class LoadClientHost
{
    public static async Task<int> RunAsync()
    {
        await using var swarm = new LocalSwarm();
        var output = Console.Out;
        var gate = new Lock();
        void Reply(string line)
        {
            lock (gate)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }
        var fp = swarm.DtlsParameters.Fingerprints[0];
        Reply($"hello {fp.Algorithm} {fp.Value}");
        var running = new List<Task>();
        // stdin closing means the parent is done (or gone): stop with it.
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            var parts = line.Split(' ');
            if (parts.Length < 2) continue;
            var id = parts[0];
            running.Add(Task.Run(async () =>
            {
                try
                {
                    Reply($"{id} ok {await Handle(swarm, parts).ConfigureAwait(false)}");
                }
                catch (Exception e)
                {
                    Reply($"{id} err {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                }
            }));
            running.RemoveAll(t => t.IsCompleted);
        }
        return 0;
    }

    private static async Task<string> Handle(LocalSwarm swarm, string[] p)
    {
        static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);
        switch (p[1])
        {
            case "add":
                await swarm.AddPeerAsync(I(p[2]), new IceParameters { UsernameFragment = p[3], Password = p[4] },
                    new IPEndPoint(IPAddress.Parse(p[5]), I(p[6])), new DtlsFingerprint { Algorithm = p[7], Value = p[8] },
                    p.Length > 9 && p[9] != "0" ? (SrtpProfile)ushort.Parse(p[9], CultureInfo.InvariantCulture) : null).ConfigureAwait(false);
                return "";
            case "plain":
                return (await swarm.AddPlainPeerAsync(I(p[2]), new IPEndPoint(IPAddress.Parse(p[3]), I(p[4])), (SrtpProfile)ushort.Parse(p[5], CultureInfo.InvariantCulture),
                    p[6] == "-" ? null : Convert.FromHexString(p[6]), p[7] == "-" ? null : Convert.FromHexString(p[7])).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture);
            case "source":
                await swarm.StartSourceAsync(I(p[2]), new SourceSpec(I(p[3]), I(p[4]), uint.Parse(p[5], CultureInfo.InvariantCulture), I(p[6]))).ConfigureAwait(false);
                return "";
            case "raw":
                await swarm.StartRawSourceAsync(new IPEndPoint(IPAddress.Parse(p[2]), I(p[3])),
                    new SourceSpec(I(p[4]), I(p[5]), uint.Parse(p[6], CultureInfo.InvariantCulture), I(p[7])), (SrtpProfile)ushort.Parse(p[8], CultureInfo.InvariantCulture),
                    p[9] == "-" ? null : Convert.FromHexString(p[9]), p[10] == "-" ? null : Convert.FromHexString(p[10])).ConfigureAwait(false);
                return "";
            case "stop":
                await swarm.StopSourceAsync().ConfigureAwait(false);
                return "";
            case "reset":
                await swarm.ResetStatsAsync().ConfigureAwait(false);
                return "";
            case "stats":
                return FormatStats(await swarm.GetStatsAsync().ConfigureAwait(false));
            case "remove-all":
                await swarm.RemoveAllAsync().ConfigureAwait(false);
                return "";
            default:
                throw new ArgumentException($"unknown command '{p[1]}'");
        }
    }

    private static string FormatStats(SwarmStats s) => string.Join(' ', new long[]
        { s.Received, s.Expected, s.SrtpFailures, s.Foreign, s.Bytes, s.ActivePeers, s.Peers, s.SourceSent, s.CpuMicroseconds }
        .Select(v => v.ToString(CultureInfo.InvariantCulture)));

    public static SwarmStats ParseStats(string line)
    {
        var v = line.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        return new SwarmStats(v[0], v[1], v[2], v[3], v[4], (int)v[5], (int)v[6], v[7], v[8]);
    }
}

/// <summary>How to start this same program again with another verb (the load client).</summary>
internal static class SelfLauncher
{
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var dll = typeof(SelfLauncher).Assembly.Location;
        var apphost = Path.Combine(AppContext.BaseDirectory, Path.GetFileNameWithoutExtension(dll));
        ProcessStartInfo info;
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info = new ProcessStartInfo(self);
            info.ArgumentList.Add(dll);
        }
        else if (File.Exists(apphost) && Path.GetFullPath(self ?? "") == Path.GetFullPath(apphost))
        {
            info = new ProcessStartInfo(apphost);
        }
        else
        {
            // Hosted by something else (a test runner): run the dll with the host the SDK names, or the one on PATH.
            info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
            info.ArgumentList.Add(dll);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }
}
