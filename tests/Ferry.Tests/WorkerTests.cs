namespace Ferry.Tests;

/// <summary>Counterparts of mediasoup's test-Worker.ts (§9.2 of the reference), as far as the engine has them.</summary>
public class WorkerTests
{
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
        await worker.Loop.InvokeAsync(() =>
        {
            var end = DateTime.UtcNow.AddMilliseconds(200);
            var x = 0.0;
            while (DateTime.UtcNow < end) x += Math.Sqrt(x + 1);
            return x;
        });
        var after = await worker.GetResourceUsageAsync();
        Assert.True(after.UserTimeMs + after.SystemTimeMs - before.UserTimeMs - before.SystemTimeMs >= 100,
            $"cpu went from {before.UserTimeMs}+{before.SystemTimeMs} to {after.UserTimeMs}+{after.SystemTimeMs}");
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
