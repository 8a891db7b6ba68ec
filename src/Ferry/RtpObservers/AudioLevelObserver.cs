using Ferry.Loop;
using Ferry.Rtp;

namespace Ferry.RtpObservers;

/// <summary>
/// Reports, every interval, the average volume of the loudest watched producers (from the
/// ssrc-audio-level header extension, RFC 6464), or silence when none reaches the threshold.
/// A producer that does not send the extension is never reported.
/// </summary>
public sealed class AudioLevelObserver : RtpObserver
{
    // Per producer sums of one interval; a class so the per-packet update is a dictionary hit, no allocation.
    private sealed class Accumulator
    {
        public long Sum;
        public int Count;
    }

    private readonly Dictionary<Producer, Accumulator> _levels = [];
    private readonly LoopTimer _timer;
    // mediasoup starts "silent": the first silence event only follows some volumes.
    private bool _silence = true;

    internal AudioLevelObserver(Router router, AudioLevelObserverOptions options, string? id = null) : base(router, options.AppData, id)
    {
        MaxEntries = options.MaxEntries;
        Threshold = options.Threshold;
        Interval = TimeSpan.FromMilliseconds(options.ClampedInterval);
        _timer = Router.CreateTimer(OnInterval);
        _timer.StartAfter(Interval);
    }

    /// <summary>Most entries in one <see cref="Volumes"/> event.</summary>
    public int MaxEntries { get; }

    /// <summary>Lowest average volume (dBov) reported.</summary>
    public int Threshold { get; }

    /// <summary>The reporting interval, after clamping.</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// Every interval in which some producers averaged at least <see cref="Threshold"/>: the loudest
    /// first, at most <see cref="MaxEntries"/>. Raised on the worker thread.
    /// </summary>
    public event Action<IReadOnlyList<AudioLevelObserverVolume>>? Volumes;

    /// <summary>Once when no producer reaches the threshold any more (not again until volumes come back).</summary>
    public event Action? Silence;

    internal override void ReceiveAudioLevel(Producer producer, byte level, bool voice)
    {
        if (Paused || !_levels.TryGetValue(producer, out var acc)) return;
        acc.Sum += level;
        acc.Count++;
    }

    private void OnInterval()
    {
        if (Closed || Paused) return;
        _timer.StartAfter(Interval);
        List<AudioLevelObserverVolume>? loud = null;
        foreach (var (producer, acc) in _levels)
        {
            if (acc.Count == 0) continue;
            // The extension carries -dBov; the mean volume is its negation.
            var volume = -(double)acc.Sum / acc.Count;
            acc.Sum = 0;
            acc.Count = 0;
            if (volume < Threshold) continue;
            (loud ??= []).Add(new AudioLevelObserverVolume(producer, (int)Math.Round(volume, MidpointRounding.AwayFromZero)));
        }
        if (loud is not null)
        {
            // Stable sort: equal volumes keep the order producers were added in.
            var sorted = loud.OrderByDescending(v => v.Volume).Take(MaxEntries).ToList();
            _silence = false;
            Events.Emit(Volumes, (IReadOnlyList<AudioLevelObserverVolume>)sorted, Logger);
        }
        else if (!_silence)
        {
            _silence = true;
            Events.Emit(Silence, Logger);
        }
    }

    private void ResetLevels()
    {
        foreach (var acc in _levels.Values)
        {
            acc.Sum = 0;
            acc.Count = 0;
        }
    }

    private protected override void OnProducerAdded(Producer producer) => _levels[producer] = new Accumulator();

    private protected override void OnProducerRemoved(Producer producer) => _levels.Remove(producer);

    private protected override void OnProducerSwapped(Producer producer, Producer replacement)
    {
        if (_levels.Remove(producer, out var acc)) _levels[replacement] = acc;
    }

    private protected override void OnPaused()
    {
        _timer.Stop();
        // Levels heard before the pause must not leak into the first interval after it.
        ResetLevels();
    }

    private protected override void OnResumed() => _timer.StartAfter(Interval);

    private protected override void OnClosed()
    {
        Router.ReleaseTimer(_timer);
        _levels.Clear();
    }
}

/// <summary>One entry of <see cref="AudioLevelObserver.Volumes"/>.</summary>
/// <param name="Producer">The audio producer.</param>
/// <param name="Volume">Its average volume over the interval, in dBov (-127 to 0).</param>
public readonly record struct AudioLevelObserverVolume(Producer Producer, int Volume);
