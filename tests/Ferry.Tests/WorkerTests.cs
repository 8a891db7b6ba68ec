using System.Runtime.InteropServices;

namespace Ferry.Tests;

/// <summary>Counterparts of mediasoup's test-Worker.ts (§9.2 of the reference), as far as the engine has them.</summary>
public partial class WorkerTests
{
    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec value);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static TimeSpan ThreadCpu()
    {
        ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var t);
        return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
    }

    [Fact]
    public async Task createWorker_succeeds_with_defaults_and_with_settings()
    {
        await using var worker = await Worker.CreateAsync();
        Assert.False(worker.Closed);
        Assert.False(worker.HasDied);
        await using var custom = await Worker.CreateAsync(new WorkerSettings { RtcMinPort = 0 + 1000, RtcMaxPort = 2000, AppData = "bar" });
        Assert.Equal("bar", custom.AppData);
        Assert.NotEqual(worker.Id, custom.Id);
    }

    [Theory]
    [InlineData(2000, 1000)]
    [InlineData(0, 1000)]
    [InlineData(1000, 70000)]
    public async Task createWorker_with_wrong_settings_rejects_with_TypeError(int min, int max)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Worker.CreateAsync(new WorkerSettings { RtcMinPort = min, RtcMaxPort = max }));
    }

    [Fact]
    public async Task createWorker_with_missing_certificate_files_rejects_with_TypeError()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Worker.CreateAsync(new WorkerSettings { DtlsCertificateFile = "/notfound/cert.pem", DtlsPrivateKeyFile = "/notfound/priv.pem" }));
    }

    [Fact]
    public async Task worker_getResourceUsage_reports_the_thread_cpu_time()
    {
        await using var worker = await Worker.CreateAsync();
        var before = await worker.GetResourceUsageAsync();
        // Burn until the loop thread itself has used 200 ms of CPU (read with clock_gettime, a different
        // call from the getrusage the worker reports), however busy the machine is.
        var burned = await worker.Loop.InvokeAsync(() =>
        {
            var start = ThreadCpu();
            var x = 0.0;
            while (ThreadCpu() - start < TimeSpan.FromMilliseconds(200)) x += Math.Sqrt(x + 1);
            return ThreadCpu() - start;
        });
        var after = await worker.GetResourceUsageAsync();
        var reported = after.UserTimeMs + after.SystemTimeMs - before.UserTimeMs - before.SystemTimeMs;
        Assert.InRange(reported, burned.TotalMilliseconds - 20, burned.TotalMilliseconds + 100);
        Assert.True(after.MaxRss > 0);
    }

    [Fact]
    public async Task worker_close_succeeds_emits_observer_close_and_later_calls_reject_with_InvalidStateError()
    {
        var worker = await Worker.CreateAsync();
        var closes = 0;
        worker.ObserverClose += () => closes++;
        await worker.CloseAsync();
        await worker.CloseAsync();
        Assert.True(worker.Closed);
        Assert.Equal(1, closes);
        await Assert.ThrowsAsync<InvalidStateException>(() => worker.GetResourceUsageAsync());
    }

    [Fact]
    public async Task worker_emits_died_when_its_loop_fails_and_the_process_goes_on()
    {
        var worker = await Worker.CreateAsync();
        var died = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.Died += e => died.TrySetResult(e);
        worker.ObserverClose += () => closed.TrySetResult();
        worker.Loop.Post(() => throw new InvalidOperationException("simulated crash"));
        var reason = await died.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("simulated crash", reason.Message);
        Assert.True(worker.HasDied);
        Assert.True(worker.Closed);
        await Assert.ThrowsAsync<InvalidStateException>(() => worker.GetResourceUsageAsync());
    }
}
