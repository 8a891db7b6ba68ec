namespace Ferry.RtpObservers;

/// <summary>Options of <see cref="Router.CreateAudioLevelObserverAsync"/>, as mediasoup's <c>AudioLevelObserverOptions</c>.</summary>
public sealed record AudioLevelObserverOptions
{
    /// <summary>Most entries in one <see cref="AudioLevelObserver.Volumes"/> event; above 0.</summary>
    public int MaxEntries { get; init; } = 1;

    /// <summary>Lowest average volume, in dBov (-127 to 0), for a producer to appear in <see cref="AudioLevelObserver.Volumes"/>.</summary>
    public int Threshold { get; init; } = -80;

    /// <summary>How often volumes are computed, in milliseconds; clamped into 250..5000.</summary>
    public int Interval { get; init; } = 1000;

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal void Validate()
    {
        if (MaxEntries < 1) throw new ArgumentException($"if given, maxEntries must be a positive integer [maxEntries:{MaxEntries}]");
        if (Threshold is < -127 or > 0) throw new ArgumentException($"if given, threshold must be a negative integer greater than -127 [threshold:{Threshold}]");
    }

    // mediasoup's worker clamps rather than rejects: a too short interval would only cost CPU.
    internal int ClampedInterval => Math.Clamp(Interval, 250, 5000);
}

/// <summary>Options of <see cref="Router.CreateActiveSpeakerObserverAsync"/>, as mediasoup's <c>ActiveSpeakerObserverOptions</c>.</summary>
public sealed record ActiveSpeakerObserverOptions
{
    /// <summary>How often the dominant speaker is decided, in milliseconds; clamped into 100..5000.</summary>
    public int Interval { get; init; } = 300;

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }

    internal int ClampedInterval => Math.Clamp(Interval, 100, 5000);
}
