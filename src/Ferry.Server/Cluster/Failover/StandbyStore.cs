using System.Collections.Concurrent;
using System.Diagnostics;

namespace Ferry.Server.Cluster.Failover;

/// <summary>A copy kept on the standby, with when it arrived here (ages are measured on this node's clock).</summary>
/// <param name="Checkpoint">The copy.</param>
/// <param name="ReceivedAt">Stopwatch timestamp of its arrival.</param>
internal sealed record StoredCheckpoint(RoomCheckpoint Checkpoint, long ReceivedAt)
{
    /// <summary>How old the copy is now (its transit counted as none: a few milliseconds on a LAN).</summary>
    public TimeSpan Age => Stopwatch.GetElapsedTime(ReceivedAt);
}

/// <summary>This node's copies of other nodes' rooms, by room id. Bounded by the rooms the cluster holds.</summary>
internal sealed class StandbyStore
{
    private readonly ConcurrentDictionary<string, StoredCheckpoint> _copies = new(StringComparer.Ordinal);

    /// <summary>Copies kept now.</summary>
    public int Count => _copies.Count;

    /// <summary>Total characters of the copies kept (router and state JSON).</summary>
    public long Characters => _copies.Values.Sum(c => (long)c.Checkpoint.RouterJson.Length + c.Checkpoint.StateJson.Length);

    /// <summary>Keeps <paramref name="checkpoint"/> unless a newer copy of the room from the same source is kept.</summary>
    public void Put(RoomCheckpoint checkpoint)
    {
        var stored = new StoredCheckpoint(checkpoint, Stopwatch.GetTimestamp());
        _copies.AddOrUpdate(checkpoint.RoomId, stored, (_, known) =>
            known.Checkpoint.SourceNodeId != checkpoint.SourceNodeId || checkpoint.Sequence > known.Checkpoint.Sequence ? stored : known);
    }

    /// <summary>Forgets the copy of <paramref name="roomId"/> if it came from <paramref name="sourceNodeId"/>.</summary>
    public void Drop(string roomId, string sourceNodeId)
    {
        if (_copies.TryGetValue(roomId, out var known) && known.Checkpoint.SourceNodeId == sourceNodeId)
            _copies.TryRemove(new KeyValuePair<string, StoredCheckpoint>(roomId, known));
    }

    /// <summary>The nodes whose rooms this node stands by for.</summary>
    public IReadOnlyCollection<string> Sources() => _copies.Values.Select(c => c.Checkpoint.SourceNodeId).ToHashSet(StringComparer.Ordinal);

    /// <summary>Takes out every copy from <paramref name="sourceNodeId"/> (it died: they are being brought back).</summary>
    public IReadOnlyList<StoredCheckpoint> TakeAll(string sourceNodeId)
    {
        var taken = new List<StoredCheckpoint>();
        foreach (var (roomId, copy) in _copies)
        {
            if (copy.Checkpoint.SourceNodeId == sourceNodeId && _copies.TryRemove(new KeyValuePair<string, StoredCheckpoint>(roomId, copy))) taken.Add(copy);
        }
        return taken;
    }
}
