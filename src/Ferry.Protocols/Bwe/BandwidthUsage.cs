namespace Ferry.Protocols.Bwe;

/// <summary>What the delay-based detector concludes about the path (draft-ietf-rmcat-gcc-02 §5.4).</summary>
public enum BandwidthUsage : byte
{
    /// <summary>Queuing delay is steady: the path carries what is sent.</summary>
    Normal,
    /// <summary>Queuing delay grows: more is sent than the path carries.</summary>
    Overusing,
    /// <summary>Queuing delay shrinks: a queue is draining.</summary>
    Underusing,
}
