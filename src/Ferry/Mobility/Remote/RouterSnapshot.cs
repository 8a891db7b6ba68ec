namespace Ferry.Mobility.Remote;

/// <summary>
/// A whole <see cref="Router"/> as versioned plain data: what the source of a router move between processes
/// writes out at its one freeze and the target brings to life. Every WebRtcTransport of the router (each
/// with its producers, consumers, data producers and data consumers: the consumers read producers of the
/// same set, so no pipe between the processes is needed) and which producers each RtpObserver watches.
/// Serialisable with System.Text.Json (<see cref="SnapshotJson.Serialize(RouterSnapshot)"/>).
/// </summary>
public sealed record RouterSnapshot
{
    /// <summary>The version written by this build.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version; an importer refuses one it does not know.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The source router's id (for the record: the target router keeps its own).</summary>
    public required string RouterId { get; init; }

    /// <summary>
    /// The router's WebRtcTransports, each frozen at the same instant with its own relay and token. Imported
    /// together: every transport's producers before any consumer, data producers before any data consumer.
    /// </summary>
    public required IReadOnlyList<WebRtcTransportSnapshot> Transports { get; init; }

    /// <summary>The router's audio-level and active-speaker observers and the producers each watches.</summary>
    public IReadOnlyList<RtpObserverSnapshot> RtpObservers { get; init; } = [];
}

/// <summary>
/// An RtpObserver's settings and membership. Its measurements (levels of the current interval, the dominant
/// speaker detector's history) are not carried: they build up again within an interval or two.
/// </summary>
public sealed record RtpObserverSnapshot
{
    /// <summary>The type of an <see cref="RtpObservers.AudioLevelObserver"/>.</summary>
    public const string AudioLevelType = "audioLevel";

    /// <summary>The type of an <see cref="RtpObservers.ActiveSpeakerObserver"/>.</summary>
    public const string ActiveSpeakerType = "activeSpeaker";

    /// <summary>The observer's id (kept when the target makes it).</summary>
    public required string Id { get; init; }

    /// <summary><see cref="AudioLevelType"/> or <see cref="ActiveSpeakerType"/>.</summary>
    public required string Type { get; init; }

    /// <summary>Paused when exported.</summary>
    public bool Paused { get; init; }

    /// <summary>The reporting interval in milliseconds, after clamping.</summary>
    public int IntervalMs { get; init; }

    /// <summary>maxEntries (audio level).</summary>
    public int MaxEntries { get; init; } = 1;

    /// <summary>threshold in dBov (audio level).</summary>
    public int Threshold { get; init; } = -80;

    /// <summary>The producers it watches, in the order they were added (each is among the snapshot's producers).</summary>
    public IReadOnlyList<string> ProducerIds { get; init; } = [];
}
