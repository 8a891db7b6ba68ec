using System.Diagnostics;
using Ferry.RtpObservers;
using Ferry.Transports;
using static Ferry.Tests.RtpObservers.ObserverFixtures;

namespace Ferry.Tests.RtpObservers;

/// <summary>
/// ActiveSpeakerObserver over a DirectTransport, with packets paced at about 20 ms. Speakers have a
/// -90 dBov background and talk at -10 dBov (mediasoup's test-ActiveSpeakerObserver.ts, §9.13, plus
/// the detection itself; its timing is covered on virtual time by DominantSpeakerDetectorTests).
/// </summary>
public sealed class ActiveSpeakerObserverTests : IAsyncLifetime
{
    private const int Noise = -90;
    private const int Speech = -10;

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

    private static List<Rtp.Producer> Record(ActiveSpeakerObserver observer)
    {
        var events = new List<Rtp.Producer>();
        observer.DominantSpeaker += e => { lock (events) events.Add(e.Producer); };
        return events;
    }

    private static Rtp.Producer[] Snapshot(List<Rtp.Producer> events)
    {
        lock (events) return events.ToArray();
    }

    /// <summary>Both sources send one packet every ~20 ms for <paramref name="ms"/> (or until <paramref name="until"/>).</summary>
    private async Task TalkAsync(int ms, (Source Source, int DBov)[] sources, Func<bool>? until = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < ms && until?.Invoke() != true)
        {
            await SendBatchAsync(_router, sources.Select(s => (s.Source, new[] { s.DBov })).ToArray());
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Creation_clamps_the_interval_and_the_router_lists_it()
    {
        RtpObserver? announced = null;
        _router.ObserverNewRtpObserver += o => announced = o;
        var observer = await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { AppData = 7 });
        Assert.Same(observer, announced);
        Assert.Equal(TimeSpan.FromMilliseconds(300), observer.Interval);
        Assert.Equal(7, observer.AppData);
        Assert.False(observer.Paused);
        Assert.Equal([observer.Id], (await _router.DumpAsync()).RtpObserverIds);
        Assert.Equal(TimeSpan.FromMilliseconds(100), (await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 10 })).Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(5000), (await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 60_000 })).Interval);
        await observer.CloseAsync();
        Assert.True(observer.Closed);
        Assert.Equal(2, (await _router.DumpAsync()).RtpObserverIds.Count);
    }

    [Fact]
    public async Task The_dominant_speaker_changes_after_sustained_speech_and_not_on_a_short_burst()
    {
        var observer = await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 100 });
        var a = await AudioSourceAsync(_transport, 7001, "a");
        var b = await AudioSourceAsync(_transport, 7002, "b");
        var events = Record(observer);
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = b.Producer.Id });

        // Backgrounds first (each speaker's own floor), then a talks.
        await TalkAsync(400, [(a, Noise), (b, Noise)]);
        await TalkAsync(1200, [(a, Speech), (b, Noise)]);
        Assert.Equal([a.Producer], Snapshot(events));

        // a pauses for breath and b interjects for 200 ms (two decisions or more): b leads on the
        // immediate and medium scales, a still on the long one.
        await TalkAsync(200, [(a, Noise), (b, Speech)]);
        await TalkAsync(800, [(a, Speech), (b, Noise)]);
        Assert.Equal([a.Producer], Snapshot(events));

        // a stops, b talks: b takes over.
        await TalkAsync(5000, [(a, Noise), (b, Speech)], until: () => Snapshot(events).Length >= 2);
        Assert.Equal([a.Producer, b.Producer], Snapshot(events));
    }

    [Fact]
    public async Task Closing_the_dominant_producer_nominates_another_at_once_and_only_added_producers_count()
    {
        var observer = await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 100 });
        var a = await AudioSourceAsync(_transport, 8001, "a");
        var b = await AudioSourceAsync(_transport, 8002, "b");
        var outsider = await AudioSourceAsync(_transport, 8003, "c");
        var events = Record(observer);
        var removed = 0;
        observer.ObserverRemoveProducer += _ => removed++;
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = b.Producer.Id });
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length == 1));
        Assert.Equal([a.Producer], Snapshot(events));

        // A producer not added talks as loud as it can: it is never a candidate.
        await TalkAsync(300, [(outsider, Noise)]);
        await TalkAsync(1200, [(outsider, Speech), (a, Noise), (b, Noise)]);
        Assert.Equal([a.Producer], Snapshot(events));

        await a.Producer.CloseAsync();
        Assert.Equal([a.Producer, b.Producer], Snapshot(events));
        Assert.Equal(0, removed);
    }

    [Fact]
    public async Task A_paused_observer_decides_nothing_until_resumed()
    {
        var observer = await _router.CreateActiveSpeakerObserverAsync(new ActiveSpeakerObserverOptions { Interval = 100 });
        var a = await AudioSourceAsync(_transport, 9001, "a");
        var events = Record(observer);
        await observer.PauseAsync();
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = a.Producer.Id });
        await Task.Delay(500);
        Assert.Empty(Snapshot(events));

        await observer.ResumeAsync();
        Assert.True(await WaitUntilAsync(() => Snapshot(events).Length == 1));
        Assert.Equal([a.Producer], Snapshot(events));
    }
}
