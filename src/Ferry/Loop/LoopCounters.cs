namespace Ferry.Loop;

/// <summary>
/// Totals a loop keeps for its operator: written only on the loop thread (plain increments, no
/// atomics on the hot path), read from other threads as approximate snapshots. Packets and bytes
/// count UDP datagrams and ICE-TCP frames alike; the Tcp* fields are what only TCP has.
/// </summary>
internal sealed class LoopCounters
{
    public long PacketsReceived;
    public long PacketsSent;
    public long BytesReceived;
    public long BytesSent;
    /// <summary>Packets not sent: a full kernel buffer (UDP), a full or broken connection (TCP).</summary>
    public long SendDrops;
    public long TcpConnectionsAccepted;
    /// <summary>Connections closed at accept because their listener was at its limit.</summary>
    public long TcpConnectionsRejected;
    public long TcpConnectionsClosed;
    /// <summary>Streams that broke RFC 4571 framing (length 0, above the limit, cut by the peer mid-frame).</summary>
    public long TcpFramingErrors;
    /// <summary>Connections closed before ICE accepted them: not STUN first, refused credentials, unknown ufrag, idle.</summary>
    public long TcpUnauthenticatedClosed;
    /// <summary>Exceptions caught from handlers, timers and posted actions (each a bug, isolated to the object that threw).</summary>
    public long Faults;

    /// <summary>How long UDP datagrams waited in the kernel before this loop read them.</summary>
    public readonly DelayHistogram ReceiveDelay = new();

    /// <summary>How long RTP packets the consumers of this loop sent first had been on the host (retransmissions not counted).</summary>
    public readonly DelayHistogram ForwardDelay = new();
}
