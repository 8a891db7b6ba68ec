using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>One packet's fate in a transport-cc feedback: received (with its arrival time) or not.</summary>
/// <param name="Sequence">Transport-wide sequence number.</param>
/// <param name="Received">Whether it arrived.</param>
/// <param name="ArrivalMicroseconds">Arrival time in µs on the feedback sender's clock (reference time × 64 ms plus deltas), when received.</param>
public readonly record struct TransportCcResult(ushort Sequence, bool Received, long ArrivalMicroseconds);

/// <summary>
/// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1),
/// a transport-layer feedback with FMT 15:
/// <code>
/// |      base sequence number     |      packet status count      |
/// |                 reference time                | fb pkt. count |   reference time: 24-bit signed, 64 ms units
/// |          packet chunk         |         packet chunk          |   run-length or status-vector chunks
/// |         recv delta            |  recv delta   | zero padding  |   1 byte (0..63.75 ms) or 2 bytes signed, 250 µs units
/// </code>
/// Chunks: run length <c>0 SS LLLLLLLLLLLLL</c> (symbol SS repeated L times); status vector
/// <c>1 0 14×1-bit</c> or <c>1 1 7×2-bit</c>. Symbols: 0 not received, 1 small delta, 2 large delta.
/// </summary>
public static class TransportCcFeedback
{
    /// <summary>Delta and reference time units.</summary>
    public const int DeltaMicroseconds = 250;
    /// <summary>Reference time unit.</summary>
    public const int ReferenceMicroseconds = 64_000;

    /// <summary>
    /// Parses a feedback packet into <paramref name="results"/> (one per packet status). Returns how
    /// many, or -1 when malformed (chunks or deltas missing, reserved symbols, too many statuses for the span).
    /// </summary>
    public static int Parse(RtcpPacket packet, Span<TransportCcResult> results, out uint senderSsrc, out uint mediaSsrc, out byte feedbackCount)
    {
        feedbackCount = 0;
        if (!Feedback.TryParse(packet, RtcpPacketType.TransportFeedback, RtcpPacketType.FmtTransportCc, out senderSsrc, out mediaSsrc, out var fci) || fci.Length < 8)
            return -1;
        var baseSequence = BinaryPrimitives.ReadUInt16BigEndian(fci);
        var statusCount = BinaryPrimitives.ReadUInt16BigEndian(fci[2..]);
        var reference = (fci[4] << 16) | (fci[5] << 8) | fci[6];
        if ((reference & 0x800000) != 0) reference |= unchecked((int)0xFF000000);
        feedbackCount = fci[7];
        if (statusCount > results.Length) return -1;

        // First pass: the symbols.
        Span<byte> symbols = statusCount <= 4096 ? stackalloc byte[statusCount] : new byte[statusCount];
        var offset = 8;
        var filled = 0;
        while (filled < statusCount)
        {
            if (offset + 2 > fci.Length) return -1;
            var chunk = BinaryPrimitives.ReadUInt16BigEndian(fci[offset..]);
            offset += 2;
            if ((chunk & 0x8000) == 0)
            {
                var symbol = (byte)((chunk >> 13) & 0x3);
                var run = chunk & 0x1FFF;
                if (symbol == 3) return -1;
                for (var i = 0; i < run && filled < statusCount; i++) symbols[filled++] = symbol;
            }
            else if ((chunk & 0x4000) == 0)
            {
                for (var i = 13; i >= 0 && filled < statusCount; i--) symbols[filled++] = (byte)((chunk >> i) & 1);
            }
            else
            {
                for (var i = 6; i >= 0 && filled < statusCount; i--)
                {
                    var symbol = (byte)((chunk >> (2 * i)) & 0x3);
                    if (symbol == 3) return -1;
                    symbols[filled++] = symbol;
                }
            }
        }

        // Second pass: the deltas.
        long time = (long)reference * ReferenceMicroseconds;
        for (var i = 0; i < statusCount; i++)
        {
            var sequence = (ushort)(baseSequence + i);
            switch (symbols[i])
            {
                case 0:
                    results[i] = new TransportCcResult(sequence, false, 0);
                    break;
                case 1:
                    if (offset + 1 > fci.Length) return -1;
                    time += fci[offset++] * DeltaMicroseconds;
                    results[i] = new TransportCcResult(sequence, true, time);
                    break;
                default:
                    if (offset + 2 > fci.Length) return -1;
                    time += BinaryPrimitives.ReadInt16BigEndian(fci[offset..]) * DeltaMicroseconds;
                    offset += 2;
                    results[i] = new TransportCcResult(sequence, true, time);
                    break;
            }
        }
        return statusCount;
    }
}
