using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Ferry.Tests.Transports;

/// <summary>
/// A second Ferry process (tests/Ferry.PipePeer, copied into pipepeer/ beside the test assembly at build)
/// driven over its stdin/stdout JSON lines: requests answered in order, events raised as they come.
/// Disposing closes its stdin (it then closes its worker and exits) and kills it if it has not exited
/// within a few seconds.
/// </summary>
internal sealed class PipePeerProcess : IAsyncDisposable
{
    /// <summary>How long one request may take (the machine may be loaded).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly Lock _stdinLock = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonObject>> _pending = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly Task _readLoop;
    private long _nextId;
    private bool _disposed;

    private PipePeerProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _stderr.Enqueue(e.Data);
            while (_stderr.Count > 200) _stderr.TryDequeue(out string? _);
        };
        _process.BeginErrorReadLine();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Where the build copied the program.</summary>
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "pipepeer", "Ferry.PipePeer.dll");

    /// <summary>Events (<c>consumer.producerpause</c>, <c>consumer.producerresume</c>, <c>consumer.producerclose</c>) with the consumer id, on a reader thread.</summary>
    public event Action<string, string>? Event;

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _disposed || _process.HasExited;

    /// <summary>After disposal: it exited on its own once its stdin closed (it was not killed).</summary>
    public bool ExitedOnItsOwn { get; private set; }

    /// <summary>After disposal: its exit code.</summary>
    public int ExitCode { get; private set; }

    /// <summary>The last lines the process wrote to stderr, for failure messages.</summary>
    public string StderrTail => string.Join('\n', _stderr);

    /// <summary>Starts the program with the dotnet host that runs the tests.</summary>
    public static PipePeerProcess Start()
    {
        Assert.True(File.Exists(DllPath), $"{DllPath} is missing: build the solution (tests/Ferry.Tests copies tests/Ferry.PipePeer's output there)");
        var start = new ProcessStartInfo(DotnetHost(), [DllPath])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return new PipePeerProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the pipe peer"));
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    /// <summary>Sends a request and returns its reply's data; a reply with an error throws <see cref="PipePeerException"/>.</summary>
    public async Task<JsonObject> RequestAsync(string method, JsonObject? data = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var line = new JsonObject { ["id"] = id, ["method"] = method, ["data"] = data ?? [] }.ToJsonString();
        JsonObject message;
        try
        {
            // Written synchronously under a lock: requests reach the process in the order they were made
            // (a pause relayed from a loop thread must not overtake the resume that follows it).
            lock (_stdinLock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                _process.StandardInput.WriteLine(line);
                _process.StandardInput.Flush();
            }
            message = await reply.Task.WaitAsync(RequestTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"pipe peer: no reply to {method} within {RequestTimeout}; stderr:\n{StderrTail}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
        if (message["error"] is { } error) throw new PipePeerException($"pipe peer: {method} failed: {error.GetValue<string>()}");
        return message["data"]?.AsObject() ?? [];
    }

    /// <summary>A request whose outcome nobody awaits (a relay from an event handler); a failure is kept for <see cref="RelayFailures"/>.</summary>
    public void Post(string method, JsonObject data)
    {
        if (_disposed) return;
        var task = RequestAsync(method, data);
        task.ContinueWith(t => RelayFailures.Enqueue($"{method}: {t.Exception?.InnerException?.Message}"),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>Failures of <see cref="Post"/>ed requests.</summary>
    public ConcurrentQueue<string> RelayFailures { get; } = new();

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                JsonObject message;
                try
                {
                    message = JsonNode.Parse(line)!.AsObject();
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
                {
                    _stderr.Enqueue($"(stdout, not JSON) {line}");
                    continue;
                }
                if (message["event"] is { } name)
                {
                    Event?.Invoke(name.GetValue<string>(), message["consumerId"]?.GetValue<string>() ?? "");
                    continue;
                }
                if (message["id"]?.GetValue<long>() is { } id && _pending.TryGetValue(id, out var reply)) reply.TrySetResult(message);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        foreach (var reply in _pending.Values) reply.TrySetException(new PipePeerException($"pipe peer exited; stderr:\n{StderrTail}"));
    }

    /// <summary>Closes its stdin and waits for it to exit (it closes its worker first); kills it after 20 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        try
        {
            lock (_stdinLock) _process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            ExitedOnItsOwn = true;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        await _readLoop;
        ExitCode = _process.ExitCode;
        _process.Dispose();
        _disposed = true;
    }
}

/// <summary>The pipe peer answered a request with an error.</summary>
internal sealed class PipePeerException(string message) : Exception(message);
