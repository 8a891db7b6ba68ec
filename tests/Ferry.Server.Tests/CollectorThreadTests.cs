namespace Ferry.Server.Tests;

/// <summary>
/// The server's collector threads do the work of every stop-the-world pause, which stops the real-time
/// workers too: they must run at the workers' priority, or other processes on a busy machine stretch
/// the pause (bench/Ferry.Bench.Pauses measures by how much).
/// </summary>
public sealed class CollectorThreadTests(ServerProcessFixture server) : IClassFixture<ServerProcessFixture>
{
    [Fact]
    public async Task The_server_collector_threads_run_with_the_workers_real_time_policy()
    {
        // A runtime thread first started from a worker inherits its policy until the server's next scan (every 10 s) resets it.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(25);
        while (true)
        {
            try
            {
                Check();
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    private void Check()
    {
        var threads = Directory.EnumerateDirectories($"/proc/{server.ProcessId}/task")
            .Select(d => (Name: Read(Path.Combine(d, "comm")).TrimEnd('\n'), Stat: Read(Path.Combine(d, "stat"))))
            .Where(t => t.Stat.Length > 0)
            .ToList();
        // Field 41 of /proc/…/stat is the policy (2: SCHED_RR); the fields start after the ")" closing the name.
        static int Policy(string stat) => int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[38]);
        var workers = threads.Where(t => t.Name.StartsWith("ferry-worker-", StringComparison.Ordinal)).ToList();
        var collectors = threads.Where(t => t.Name.StartsWith(".NET Server GC", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(workers);
        Assert.NotEmpty(collectors);
        Assert.All(workers, t => Assert.Equal(2, Policy(t.Stat)));
        Assert.All(collectors, t => Assert.Equal(2, Policy(t.Stat)));
        // Everything else keeps the ordinary policy (the background collector, the JIT, the thread pool).
        Assert.All(threads.Except(workers).Except(collectors), t => Assert.Equal(0, Policy(t.Stat)));
    }

    // A thread may end between listing and reading.
    private static string Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
    }
}
