using Ferry.Mobility;
using Ferry.Protocols.Ortc;

namespace Ferry.Data;

public sealed partial class DataProducer
{
    /// <summary>This data producer's state as plain data. Run on its loop; synchronous.</summary>
    internal DataProducerSnapshot ExportSnapshot(TimeSpan now)
    {
        Transport.Loop.AssertOnLoop();
        _ = now; // nothing of a data producer is timed
        return new DataProducerSnapshot
        {
            Id = Id, Type = Type == DataType.Direct ? "direct" : "sctp",
            SctpStream = ToSnapshot(SctpStreamParameters),
            Label = Label, Protocol = Protocol, Paused = _paused,
            MessagesReceived = _messagesReceived, BytesReceived = _bytesReceived,
        };
    }

    /// <summary>Takes over a snapshot's counters (on the loop, before registration).</summary>
    internal void ImportSnapshotState(DataProducerSnapshot s)
    {
        _messagesReceived = s.MessagesReceived;
        _bytesReceived = s.BytesReceived;
    }

    internal static SctpStreamSnapshot? ToSnapshot(SctpStreamParameters? p) => p is null ? null : new SctpStreamSnapshot
    {
        StreamId = p.StreamId, Ordered = p.Ordered, MaxPacketLifeTime = p.MaxPacketLifeTime, MaxRetransmits = p.MaxRetransmits,
    };

    internal static SctpStreamParameters? FromSnapshot(SctpStreamSnapshot? s) => s is null ? null : new SctpStreamParameters
    {
        StreamId = s.StreamId, Ordered = s.Ordered, MaxPacketLifeTime = s.MaxPacketLifeTime, MaxRetransmits = s.MaxRetransmits,
    };
}
