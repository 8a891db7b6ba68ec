using Ferry.Loop;
using Ferry.Rtp;

namespace Ferry.RtpObservers;

/// <summary>
/// Tells which watched producer is the dominant speaker, by the dominant speaker identification
/// algorithm of Volfin and Cohen over the ssrc-audio-level header extension (RFC 6464). The speaker
/// changes only when another producer out-talks the current one on the immediate, medium and long
/// time scales, so a short burst does not take over. A non-dominant producer silent for an hour
/// stops competing until it sends again.
/// </summary>
public sealed class ActiveSpeakerObserver : RtpObserver
{
    private readonly DominantSpeakerDetector<Producer> _detector = new();
    private readonly Dictionary<Producer, DominantSpeakerDetector<Producer>.Speaker> _speakers = [];
    private readonly LoopTimer _timer;

    internal ActiveSpeakerObserver(Router router, ActiveSpeakerObserverOptions options, string? id = null) : base(router, options.AppData, id)
    {
        Interval = TimeSpan.FromMilliseconds(options.ClampedInterval);
        _timer = Router.CreateTimer(OnInterval);
        _timer.StartAfter(Interval);
    }

    /// <summary>How often the dominant speaker is decided, after clamping.</summary>
    public TimeSpan Interval { get; }

    /// <summary>The dominant speaker changed; raised on the worker thread with the new one.</summary>
    public event Action<ActiveSpeakerObserverDominantSpeaker>? DominantSpeaker;

    internal override void ReceiveAudioLevel(Producer producer, byte level, bool voice)
    {
        if (Paused || !_speakers.TryGetValue(producer, out var speaker)) return;
        // The algorithm wants "louder is larger"; the extension carries -dBov (0 loudest, 127 silence).
        speaker.LevelChanged(DominantSpeakerDetector<Producer>.MaxLevel - level, Loop.Now);
    }

    internal override void ProducerPauseChanged(Producer producer, bool paused)
    {
        if (_speakers.TryGetValue(producer, out var speaker)) speaker.Paused = paused;
    }

    private void OnInterval()
    {
        if (Closed || Paused) return;
        _timer.StartAfter(Interval);
        Decide();
    }

    private void Decide()
    {
        if (_detector.Decide(Loop.Now) is { } dominant)
            Events.Emit(DominantSpeaker, new ActiveSpeakerObserverDominantSpeaker(dominant), Logger);
    }

    private protected override void OnProducerAdded(Producer producer) =>
        _speakers[producer] = _detector.Add(producer, Loop.Now, producer.Paused);

    private protected override void OnProducerRemoved(Producer producer)
    {
        if (!_speakers.Remove(producer, out var speaker)) return;
        // As mediasoup: losing the dominant speaker names another one at once rather than at the next tick.
        if (_detector.Remove(speaker) && !Paused && !Closed && !Router.Closed) Decide();
    }

    private protected override void OnPaused() => _timer.Stop();

    private protected override void OnResumed() => _timer.StartAfter(Interval);

    // The detector keeps the original producer as the speaker's identity: same id and appData.
    private protected override void OnProducerSwapped(Producer producer, Producer replacement)
    {
        if (_speakers.Remove(producer, out var speaker)) _speakers[replacement] = speaker;
    }

    private protected override void OnClosed()
    {
        Router.ReleaseTimer(_timer);
        foreach (var speaker in _speakers.Values) _detector.Remove(speaker);
        _speakers.Clear();
    }
}

/// <summary>Argument of <see cref="ActiveSpeakerObserver.DominantSpeaker"/>.</summary>
/// <param name="Producer">The producer now dominant.</param>
public readonly record struct ActiveSpeakerObserverDominantSpeaker(Producer Producer);
