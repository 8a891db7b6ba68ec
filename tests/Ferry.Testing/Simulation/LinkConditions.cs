namespace Ferry.Testing.Simulation;

/// <summary>
/// How one direction of a simulated link treats datagrams. Every random choice is drawn from
/// the network's seeded generator, so a run replays exactly from its seed.
/// </summary>
public sealed record LinkConditions
{
    /// <summary>A perfect link: no delay, loss, reordering or limit.</summary>
    public static readonly LinkConditions Perfect = new();

    /// <summary>One-way propagation delay.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Extra delay drawn uniformly from [0, Jitter) per datagram. Jitter alone reorders datagrams sent closer together than it.</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>Probability that a datagram is lost while the link is in its good state.</summary>
    public double Loss { get; init; }

    /// <summary>
    /// Bursty loss (Gilbert-Elliott): probability per datagram of moving from the good state to
    /// the bad state. Zero keeps the link in the good state (independent loss only).
    /// </summary>
    public double BurstStart { get; init; }

    /// <summary>Probability per datagram of leaving the bad state.</summary>
    public double BurstEnd { get; init; } = 1;

    /// <summary>Probability that a datagram is lost while the link is in its bad state.</summary>
    public double BurstLoss { get; init; } = 1;

    /// <summary>Probability that a datagram is held back by <see cref="ReorderDelay"/>, so later ones overtake it.</summary>
    public double Reorder { get; init; }

    /// <summary>How long a reordered datagram is held back.</summary>
    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Probability that a datagram is delivered twice (the copy after an extra jitter draw).</summary>
    public double Duplicate { get; init; }

    /// <summary>Bottleneck rate in bits per second (0 = unlimited). Datagrams queue behind each other.</summary>
    public long RateBitsPerSecond { get; init; }

    /// <summary>Largest number of bytes waiting in the bottleneck queue; more is dropped at the tail. 0 = unlimited.</summary>
    public int QueueLimitBytes { get; init; }
}
