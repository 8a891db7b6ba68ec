using Ferry.Mobility;
using Ferry.Protocols.Ortc;

namespace Ferry.Data;

public sealed partial class DataConsumer
{
    /// <summary>
    /// This data consumer's state as plain data. Run on its loop; synchronous. Messages still in its
    /// inbox (from a producer on another loop, not yet handed to SCTP) are not carried.
    /// </summary>
    internal DataConsumerSnapshot ExportSnapshot(TimeSpan now)
    {
        Transport.Loop.AssertOnLoop();
        _ = now; // nothing of a data consumer is timed
        return new DataConsumerSnapshot
        {
            Id = Id, DataProducerId = DataProducerId, Type = Type == DataType.Direct ? "direct" : "sctp",
            SctpStream = DataProducer.ToSnapshot(SctpStreamParameters),
            Label = Label, Protocol = Protocol, Paused = _paused, DataProducerPaused = _dataProducerPaused,
            Subchannels = _subchannels.Select(s => (int)s).ToArray(),
            BufferedAmountLowThreshold = _bufferedAmountLowThreshold,
            MessagesSent = _messagesSent, BytesSent = _bytesSent,
        };
    }

    /// <summary>Takes over a snapshot's counters and threshold (on the loop, before registration).</summary>
    internal void ImportSnapshotState(DataConsumerSnapshot s)
    {
        _bufferedAmountLowThreshold = s.BufferedAmountLowThreshold;
        _messagesSent = s.MessagesSent;
        _bytesSent = s.BytesSent;
    }
}
