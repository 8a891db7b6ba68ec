namespace Ferry.Protocols.Recovery;

/// <summary>Tuning of a <see cref="NackGenerator"/>. Defaults are mediasoup's.</summary>
public sealed record NackGeneratorOptions
{
    /// <summary>Wait after a gap is seen before the first NACK, so slight reordering does not trigger one. Default 10 ms.</summary>
    public TimeSpan SendNackDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Largest number of sequence numbers waiting for retransmission. Default 1000.</summary>
    public int MaxEntries { get; init; } = 1000;

    /// <summary>NACKs sent for one sequence number before giving it up. Default 10.</summary>
    public int MaxRetries { get; init; } = 10;

    /// <summary>A missing packet more than this many sequence numbers behind the newest is forgotten. Default 10000.</summary>
    public int MaxPacketAge { get; init; } = 10000;

    /// <summary>Round-trip time assumed until RTCP measures one; the wait between NACKs for one packet. Default 100 ms.</summary>
    public TimeSpan DefaultRtt { get; init; } = TimeSpan.FromMilliseconds(100);
}
