using Ferry.RtpObservers;
using Ferry.Transports;
using static Ferry.Tests.RtpObservers.ObserverFixtures;

namespace Ferry.Tests.RtpObservers;

/// <summary>
/// AudioLevelObserver over a DirectTransport: producers inject Opus packets with ssrc-audio-level, the
/// observer reports per interval (mediasoup's test-AudioLevelObserver.ts, §9.13, plus the volumes).
/// </summary>
public sealed class AudioLevelObserverTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;
    private DirectTransport _transport = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(Transports.MediaFixtures.DefaultRouterOptions);
        _transport = await _router.CreateDirectTransportAsync();
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    /// <summary>Records every volumes/silence event as text, in order.</summary>
    private static List<string> Record(AudioLevelObserver observer, Dictionary<Rtp.Producer, string> names)
    {
        var events = new List<string>();
        observer.Volumes += volumes =>
        {
            lock (events) events.Add(string.Join(",", volumes.Select(v => $"{names[v.Producer]}:{v.Volume}")));
        };
        observer.Silence += () => { lock (events) events.Add("silence"); };
        return events;
    }

    private static string[] Snapshot(List<string> events)
    {
        lock (events) return events.ToArray();
    }

    [Fact]
    public async Task Creation_reports_defaults_and_the_router_lists_it()
    {
        RtpObserver? announced = null;
        _router.ObserverNewRtpObserver += o => announced = o;
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { AppData = "foo" });
        Assert.Same(observer, announced);
        Assert.False(observer.Closed);
        Assert.False(observer.Paused);
        Assert.Equal("foo", observer.AppData);
        Assert.Equal(1, observer.MaxEntries);
        Assert.Equal(-80, observer.Threshold);
        Assert.Equal(TimeSpan.FromSeconds(1), observer.Interval);
        Assert.Same(_router, observer.Router);
        Assert.Equal([observer.Id], (await _router.DumpAsync()).RtpObserverIds);
        Assert.Same(observer, Assert.Single(_router.RtpObservers));

        var closes = 0;
        var routerCloses = 0;
        observer.ObserverClose += () => closes++;
        observer.RouterClose += () => routerCloses++;
        await observer.CloseAsync();
        await observer.CloseAsync();
        Assert.True(observer.Closed);
        Assert.Equal(1, closes);
        Assert.Equal(0, routerCloses);
        Assert.Empty((await _router.DumpAsync()).RtpObserverIds);
        await Assert.ThrowsAsync<InvalidStateException>(observer.PauseAsync);
    }

    [Theory]
    [InlineData(0, -80)]
    [InlineData(-10, -80)]
    [InlineData(1, 1)]
    [InlineData(1, -128)]
    public async Task Invalid_options_are_rejected(int maxEntries, int threshold)
    {
        await Assert.ThrowsAsync<ArgumentException>(() =>
            _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = maxEntries, Threshold = threshold }));
        Assert.Empty(_router.RtpObservers);
    }

    [Theory]
    [InlineData(10, 250)]
    [InlineData(250, 250)]
    [InlineData(777, 777)]
    [InlineData(100_000, 5000)]
    public async Task Interval_is_clamped(int interval, int expectedMs)
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { Interval = interval, Threshold = 0, MaxEntries = 3 });
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), observer.Interval);
        Assert.Equal(0, observer.Threshold);
        Assert.Equal(3, observer.MaxEntries);
    }

    [Fact]
    public async Task Volumes_are_interval_means_loudest_first_above_the_threshold_and_at_most_maxEntries()
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 3, Threshold = -50, Interval = 250 });
        var a = await AudioSourceAsync(_transport, 1001, "a");
        var b = await AudioSourceAsync(_transport, 1002, "b");
        var c = await AudioSourceAsync(_transport, 1003, "c");
        var d = await AudioSourceAsync(_transport, 1004, "d");
        var e = await AudioSourceAsync(_transport, 1005, "e");
        var names = new Dictionary<Rtp.Producer, string> { [a.Producer] = "a", [b.Producer] = "b", [c.Producer] = "c", [d.Producer] = "d", [e.Producer] = "e" };
        var events = Record(observer, names);
        foreach (var s in new[] { a, b, c, d, e })
            await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = s.Producer.Id });

        await SendBatchAsync(_router,
            (a, [-10, -31, -10, -31, -10, -31]),   // mean -20.5: rounds away from zero, as lround
            (b, Repeat(-5, 4)),
            (c, [-40, -50, -60]),                   // mean -50: exactly the threshold, kept
            (d, Repeat(-51, 3)),                    // just below the threshold
            (e, Repeat(-70, 8)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length >= 1));
        Assert.Equal("b:-5,a:-21,c:-50", Snapshot(events)[0]);

        // Four above the threshold: the quietest is cut by maxEntries.
        await SendBatchAsync(_router, (a, Repeat(-20, 3)), (b, Repeat(-5, 3)), (c, Repeat(-45, 3)), (d, Repeat(-30, 3)), (e, Repeat(-70, 3)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Count(x => x != "silence") >= 2));
        Assert.Equal("b:-5,a:-20,d:-30", Snapshot(events).Where(x => x != "silence").ElementAt(1));
    }

    [Fact]
    public async Task Silence_is_raised_once_after_volumes_and_again_only_after_new_volumes()
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { Threshold = -60, Interval = 250 });
        var a = await AudioSourceAsync(_transport, 2001, "a");
        var events = Record(observer, new() { [a.Producer] = "a" });
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });

        // Nothing heard yet: no silence either (the observer starts silent).
        await Task.Delay(700);
        Assert.Empty(Snapshot(events));

        await SendBatchAsync(_router, (a, Repeat(-30, 10)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length >= 2));
        // A quiet producer counts as silence too.
        await SendBatchAsync(_router, (a, Repeat(-90, 10)));
        await Task.Delay(1000); // four more intervals
        Assert.Equal(["a:-30", "silence"], Snapshot(events));

        await SendBatchAsync(_router, (a, Repeat(-12, 10)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length >= 4));
        await Task.Delay(600);
        Assert.Equal(["a:-30", "silence", "a:-12", "silence"], Snapshot(events));
    }

    [Fact]
    public async Task A_paused_observer_raises_nothing_and_forgets_what_it_heard()
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { Interval = 250 });
        var a = await AudioSourceAsync(_transport, 3001, "a");
        var events = Record(observer, new() { [a.Producer] = "a" });
        var transitions = new List<string>();
        observer.ObserverPause += () => { lock (transitions) transitions.Add("pause"); };
        observer.ObserverResume += () => { lock (transitions) transitions.Add("resume"); };
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });

        await observer.PauseAsync();
        await observer.PauseAsync();
        Assert.True(observer.Paused);
        await SendBatchAsync(_router, (a, Repeat(-20, 10)));
        await Task.Delay(800);
        Assert.Empty(Snapshot(events));

        await observer.ResumeAsync();
        await observer.ResumeAsync();
        Assert.False(observer.Paused);
        await SendBatchAsync(_router, (a, Repeat(-40, 10)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length >= 1));
        // Only what arrived after resume: the -20s heard while paused were never counted.
        Assert.Equal("a:-40", Snapshot(events)[0]);
        lock (transitions) Assert.Equal(["pause", "resume"], transitions);
    }

    [Fact]
    public async Task Adding_and_removing_producers_raises_events_and_checks_the_producer()
    {
        var observer = await _router.CreateAudioLevelObserverAsync();
        var a = await AudioSourceAsync(_transport, 4001, "a");
        var video = await _transport.ProduceAsync(Transports.MediaFixtures.Vp8Producer(ssrc: 4002, rtxSsrc: 4003, mid: "v"));
        var added = new List<Rtp.Producer>();
        var removed = new List<Rtp.Producer>();
        observer.ObserverAddProducer += p => added.Add(p);
        observer.ObserverRemoveProducer += p => removed.Add(p);

        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        Assert.Equal([a.Producer], added);
        await Assert.ThrowsAsync<InvalidOperationException>(() => observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = "nope" }));
        await Assert.ThrowsAsync<ArgumentException>(() => observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = video.Id }));
        await Assert.ThrowsAsync<ArgumentException>(() => observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = "" }));
        Assert.Equal([a.Producer], added);
        Assert.Equal([a.Producer], await _router.Loop.InvokeAsync(() => observer.Producers.ToList()));

        await observer.RemoveProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        Assert.Equal([a.Producer], removed);
        await Assert.ThrowsAsync<InvalidOperationException>(() => observer.RemoveProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = "nope" }));
        Assert.Empty(await _router.Loop.InvokeAsync(() => observer.Producers.ToList()));
    }

    [Fact]
    public async Task A_closed_producer_leaves_silently()
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 5, Interval = 250 });
        var a = await AudioSourceAsync(_transport, 5001, "a");
        var b = await AudioSourceAsync(_transport, 5002, "b");
        var events = Record(observer, new() { [a.Producer] = "a", [b.Producer] = "b" });
        var removed = 0;
        observer.ObserverRemoveProducer += _ => removed++;
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = b.Producer.Id });

        await a.Producer.CloseAsync();
        Assert.Equal(0, removed);
        Assert.Equal([b.Producer], await _router.Loop.InvokeAsync(() => observer.Producers.ToList()));
        await SendBatchAsync(_router, (a, Repeat(-10, 5)), (b, Repeat(-30, 5)));
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length >= 1));
        Assert.Equal("b:-30", Snapshot(events)[0]);
        Assert.False(observer.Closed);
    }

    [Fact]
    public async Task Closing_the_router_closes_it_with_routerclose()
    {
        var observer = await _router.CreateAudioLevelObserverAsync();
        var speaker = await _router.CreateActiveSpeakerObserverAsync();
        var a = await AudioSourceAsync(_transport, 6001, "a");
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        var events = new List<string>();
        observer.RouterClose += () => events.Add("alo routerclose");
        observer.ObserverClose += () => events.Add("alo close");
        speaker.RouterClose += () => events.Add("aso routerclose");
        speaker.ObserverClose += () => events.Add("aso close");

        await _router.CloseAsync();
        Assert.True(observer.Closed);
        Assert.True(speaker.Closed);
        // Each observer raises routerclose then close; the two observers may come in either order.
        Assert.Equal(["alo close", "alo routerclose", "aso close", "aso routerclose"], events.Order(StringComparer.Ordinal));
        Assert.True(events.IndexOf("alo routerclose") < events.IndexOf("alo close"));
        Assert.True(events.IndexOf("aso routerclose") < events.IndexOf("aso close"));
        Assert.Empty(_router.RtpObservers);
        await Assert.ThrowsAsync<InvalidStateException>(observer.ResumeAsync);
        await Assert.ThrowsAsync<InvalidStateException>(() => _router.CreateAudioLevelObserverAsync());
    }
}
