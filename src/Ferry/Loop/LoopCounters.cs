namespace Ferry.Loop;

/// <summary>
/// Totals a loop keeps for its operator: written only on the loop thread (plain increments, no
/// atomics on the hot path), read from other threads as approximate snapshots.
/// </summary>
internal sealed class LoopCounters
{
    public long PacketsReceived;
    public long PacketsSent;
    public long BytesReceived;
    public long BytesSent;
    public long SendDrops;
}
