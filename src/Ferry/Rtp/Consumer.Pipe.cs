using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// The pipe consumer's path (type pipe, mediasoup §6.3): every stream of the producer is forwarded
/// as it arrives, each under its own SSRC from the consumer's encodings. Sequence numbers and
/// timestamps stay the producer's: the consumers of the piped producer on the other side do the
/// rewriting, so nothing here waits for key frames or resynchronises.
/// </summary>
public sealed partial class Consumer
{
    private static readonly uint[] NoSsrcs = [];

    // Per producer encoding index: the SSRC (and RTX SSRC, 0 when none) it leaves the pipe with.
    private uint[] _pipeSsrcs = NoSsrcs;
    private uint[] _pipeRtxSsrcs = NoSsrcs;
    private ushort[] _pipeRtxSeqs = [];
    private bool[] _pipeHaveSent = [];
    private uint[] _pipeLastTs = NoSsrcs;
    private ushort[] _pipeLastSeq = [];
    private TimeSpan[] _pipeLastSentAt = [];
    private uint[] _pipePackets = NoSsrcs;
    private uint[] _pipePayloadBytes = NoSsrcs;

    /// <summary>Every SSRC a pipe consumer sends with (media and RTX), for the transport's RTCP lookup; empty otherwise.</summary>
    internal uint[] PipeSsrcs { get; private set; } = NoSsrcs;

    private void InitPipe(RtpParameters rtpParameters)
    {
        var encodings = rtpParameters.Encodings!;
        var count = encodings.Count;
        _pipeSsrcs = new uint[count];
        _pipeRtxSsrcs = new uint[count];
        _pipeRtxSeqs = new ushort[count];
        _pipeHaveSent = new bool[count];
        _pipeLastTs = new uint[count];
        _pipeLastSeq = new ushort[count];
        _pipeLastSentAt = new TimeSpan[count];
        _pipePackets = new uint[count];
        _pipePayloadBytes = new uint[count];
        var all = new List<uint>();
        for (var i = 0; i < count; i++)
        {
            _pipeSsrcs[i] = encodings[i].Ssrc ?? throw new InvalidOperationException("pipe consumer encoding without ssrc");
            all.Add(_pipeSsrcs[i]);
            if (encodings[i].Rtx?.Ssrc is { } rtx)
            {
                _pipeRtxSsrcs[i] = rtx;
                all.Add(rtx);
            }
            _pipeRtxSeqs[i] = (ushort)Random.Shared.Next(0, 0x8000);
        }
        PipeSsrcs = [.. all];
    }

    /// <summary>Forwards one packet of the producer's stream under that stream's pipe SSRC, otherwise unchanged.</summary>
    private void SendPipeRtp(ref RtpPacket packet, ReceiveStream stream, TimeSpan now)
    {
        var index = stream.EncodingIndex;
        if ((uint)index >= (uint)_pipeSsrcs.Length) return;
        var buffer = Transport.SendBuffer;
        packet.Data.CopyTo(buffer);
        if (!RtpPacket.TryParse(buffer, packet.Length, out var outPacket)) return;
        outPacket.Ssrc = _pipeSsrcs[index];
        var seq = outPacket.SequenceNumber;
        if (!_pipeHaveSent[index] || SeqNum.IsNewer(seq, _pipeLastSeq[index]))
        {
            _pipeLastSeq[index] = seq;
            _pipeLastTs[index] = outPacket.Timestamp;
            _pipeLastSentAt[index] = now;
            _pipeHaveSent[index] = true;
        }
        _haveSent = true;
        _pipePackets[index]++;
        _pipePayloadBytes[index] += (uint)outPacket.PayloadLength;
        PacketCount++;
        ByteCount += outPacket.Length;
        PayloadByteCount += outPacket.PayloadLength;
        Transport.SendRtpFromConsumer(this, outPacket.Length);
    }

    /// <summary>A NACK for one of the pipe's streams: resend from the producer's store (sequence numbers are the producer's), as RTX when negotiated.</summary>
    internal void ReceivePipeNack(uint ssrc, ReadOnlySpan<ushort> lost, TimeSpan now)
    {
        NackCount++;
        if (_producer is not { } p || _closed || !Transport.IsConnected) return;
        var index = Array.IndexOf(_pipeSsrcs, ssrc);
        if (index < 0 || index >= p.Streams.Length || p.Streams[index].Store is not { } store) return;
        var buffer = Transport.SendBuffer;
        foreach (var seq in lost)
        {
            if (!store.TryGet(seq, now, MaxRetransmitAge, out var original)) continue;
            original.CopyTo(buffer);
            if (!RtpPacket.TryParse(buffer, original.Length, out var outPacket)) continue;
            outPacket.Ssrc = _pipeSsrcs[index];
            if (_pipeRtxSsrcs[index] != 0)
            {
                var rtxPt = _rtxPayloadTypeByMedia[outPacket.PayloadType];
                if (rtxPt == 0 || !outPacket.TryEncodeRtx(rtxPt, _pipeRtxSsrcs[index], _pipeRtxSeqs[index]++)) continue;
            }
            RetransmittedPackets++;
            Transport.SendRtpFromConsumer(this, outPacket.Length);
        }
    }

    /// <summary>One sender report per pipe stream that has sent, so the far side can report on each.</summary>
    private int WritePipeSenderReports(Span<byte> destination, ulong ntp, TimeSpan now)
    {
        var length = 0;
        for (var i = 0; i < _pipeSsrcs.Length; i++)
        {
            if (!_pipeHaveSent[i]) continue;
            var rtpTs = _pipeLastTs[i] + (uint)((now - _pipeLastSentAt[i]).Ticks * ClockRate / TimeSpan.TicksPerSecond);
            length += SenderReport.Write(destination[length..], _pipeSsrcs[i], ntp, rtpTs, _pipePackets[i], _pipePayloadBytes[i], []);
        }
        return length;
    }
}
