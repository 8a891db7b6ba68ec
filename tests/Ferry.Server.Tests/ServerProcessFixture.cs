using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Ferry.Server.Tests;

/// <summary>
/// A Ferry node in its own process (`dotnet Ferry.Server.dll`, as an operator runs it) on 127.0.0.1,
/// for the tests that judge timing as a browser hears it: in the test host the server would share its
/// garbage collector with Playwright and xUnit, whose collections stop the worker threads too.
/// </summary>
public sealed partial class ServerProcessFixture : IAsyncLifetime
{
    private Process? _process;
    private readonly List<string> _output = [];

    /// <summary>The server's base URL (http://127.0.0.1:PORT).</summary>
    public string Url { get; private set; } = "";

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>What the server printed so far (stdout and stderr), for failure messages.</summary>
    /// <summary>The server's process id (for reading its threads from /proc).</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("not started");

    public string Output
    {
        get { lock (_output) return string.Join('\n', _output); }
    }

    /// <summary>Options added to the command line (set before <see cref="InitializeAsync"/>).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>True while the server process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Sends a POSIX signal to the server process, as an operator's `kill` would.</summary>
    public void Signal(int signal)
    {
        if (Kill(ProcessId, signal) != 0) throw new InvalidOperationException($"kill({ProcessId}, {signal}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits for the server process to exit, at most <paramref name="timeout"/>; its exit code, or null if it did not.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process!.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { return null; }
        // The exit can come before the last lines are read: the no-timeout wait also waits for the output's end.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>How long the start took, from launching the process to the line with its URL.</summary>
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        var started = Stopwatch.GetTimestamp();
        Url = await Launch().WaitAsync(TimeSpan.FromSeconds(60));
        StartTime = Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// Starts a server that is expected to refuse its configuration: waits for it to exit, at most
    /// <paramref name="timeout"/>, and answers its exit code (null if it still runs) and what it printed.
    /// </summary>
    public async Task<(int? ExitCode, string Output, TimeSpan Elapsed)> RunUntilExitAsync(TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        _ = Launch().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        var code = await WaitForExitAsync(timeout);
        return (code, Output, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Starts the process; the task answers its URL once it serves, or fails when it exits before.</summary>
    private Task<string> Launch()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ferry.Server.dll");
        var start = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var arg in new[] { dll, "--port", "0", "--workers", "2", "--rtc-min-port", "41000", "--rtc-max-port", "48999", "--log-level", "Warning" })
            start.ArgumentList.Add(arg);
        foreach (var arg in ExtraArguments) start.ArgumentList.Add(arg);
        // FERRY_SERVER_ARGS adds options for measurements (say "--worker-priority normal").
        foreach (var arg in (Environment.GetEnvironmentVariable("FERRY_SERVER_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            start.ArgumentList.Add(arg);
        var url = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start Ferry.Server");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { url.TrySetException(new InvalidOperationException($"Ferry.Server exited:\n{Output}")); return; }
            lock (_output) _output.Add(e.Data);
            if (UrlLine().Match(e.Data) is { Success: true } m) url.TrySetResult(m.Groups[1].Value);
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        return url.Task;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    public async Task<JsonElement> GetJsonAsync(string path) =>
        await Http.GetFromJsonAsync<JsonElement>(Url + path);

    /// <summary>One unlabelled value of the server's Prometheus /metrics (e.g. ferry_process_gc_pause_seconds_total).</summary>
    public async Task<double> MetricAsync(string name)
    {
        var text = await Http.GetStringAsync(Url + "/metrics");
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"{name} not in /metrics");
    }

    [GeneratedRegex(@"open (http://[^/\s]+)/")]
    private static partial Regex UrlLine();
}
