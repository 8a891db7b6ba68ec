using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// A consumer that was not live for a while although its far end never stopped (its transport frozen at
/// the source of a move between processes, then brought to life at the target): what its producer
/// received meanwhile is sent now, from the producer's store, in order, as if it had been forwarded
/// then. Without it, the packets that reached the producer between the freeze and the import would be
/// lost to this consumer.
/// </summary>
public sealed partial class Consumer
{
    private byte[]? _catchUpBuffer;

    /// <summary>Replays the packets after the last one forwarded that the producer's store holds; on the loop. Returns how many were sent.</summary>
    internal int CatchUpAfterMove(TimeSpan now)
    {
        if (_syncRequired || !_haveSent || !IsActive || Type == ConsumerType.Pipe || _producer is not { } producer) return 0;
        var encoding = Type == ConsumerType.Simulcast ? _currentEncoding : 0;
        if (encoding < 0 || encoding >= producer.Streams.Length) return 0;
        var stream = producer.Streams[encoding];
        if (stream.Store is not { } store || stream.HighestExtendedSeq < 0) return 0;
        var highest = (ushort)stream.HighestExtendedSeq;
        var missing = SeqNum.Diff(highest, _lastInSeq);
        if (missing <= 0) return 0;
        // What the store can still hold; older packets are gone for this consumer as they would be for a NACK.
        missing = Math.Min(missing, PacketStore.Capacity);
        _catchUpBuffer ??= new byte[PacketStore.SlotSize];
        var sent = 0;
        for (var i = missing - 1; i >= 0; i--)
        {
            var seq = (ushort)(highest - i);
            if (!store.TryGet(seq, now, MaxRetransmitAge, out var original)) continue;
            original.CopyTo(_catchUpBuffer);
            if (!RtpPacket.TryParse(_catchUpBuffer.AsSpan(0, original.Length), out var packet)) continue;
            SendRtp(ref packet, stream, keyFrame: false, now);
            sent++;
        }
        CaughtUpPackets += sent;
        return sent;
    }

    /// <summary>Packets sent by <see cref="CatchUpAfterMove"/>.</summary>
    internal long CaughtUpPackets { get; private set; }
}
