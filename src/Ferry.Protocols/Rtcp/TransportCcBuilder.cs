using System.Buffers.Binary;
using Ferry.Protocols.Rtp;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// The receiver side of transport-wide congestion control: records the arrival of each packet's
/// transport-wide sequence number and writes feedback packets (see <see cref="TransportCcFeedback"/>)
/// so the sender's bandwidth estimator can run. Sans-IO: arrivals (µs on any monotonic clock) go in,
/// packets come out when the caller asks (mediasoup sends every 100 ms). Allocation-free after construction.
/// </summary>
public sealed class TransportCcBuilder
{
    private const int Window = 8192;
    private const long Missing = long.MinValue;

    private readonly long[] _arrivals = new long[Window];
    private SequenceUnwrapper _unwrapper;
    private long _next = -1;     // first sequence not yet reported
    private long _highest = -1;
    private byte _feedbackCount;

    /// <summary>Creates a builder.</summary>
    public TransportCcBuilder() => Array.Fill(_arrivals, Missing);

    /// <summary>Largest feedback packet written (bytes).</summary>
    public int MaxPacketSize { get; init; } = 1200;

    /// <summary>Packets recorded but not yet reported.</summary>
    public bool HasPending => _next >= 0 && _next <= _highest;

    /// <summary>Arrivals that came after their sequence number was already reported (as lost), and were dropped.</summary>
    public long LateArrivals { get; private set; }

    /// <summary>Records the arrival of transport-wide sequence number <paramref name="sequence"/> at <paramref name="arrivalMicroseconds"/>.</summary>
    public void OnPacket(ushort sequence, long arrivalMicroseconds)
    {
        var extended = _unwrapper.Unwrap(sequence);
        if (_next < 0) _next = extended;
        if (extended < _next)
        {
            LateArrivals++;
            return;
        }
        if (extended > _highest)
        {
            // Slots between the old highest and this one may hold values from a lap ago: clear them.
            for (var s = Math.Max(_highest + 1, extended - Window + 1); s < extended; s++) _arrivals[s % Window] = Missing;
            _highest = extended;
        }
        // Keep the window: what fell out of it is reported as lost by moving the base on.
        if (_highest - _next >= Window) _next = _highest - Window + 1;
        _arrivals[extended % Window] = arrivalMicroseconds;
    }

    /// <summary>
    /// Writes one feedback packet covering the oldest unreported packets. Returns the bytes written,
    /// or 0 when nothing is pending. Call again while <see cref="HasPending"/> to report the rest (a
    /// packet is cut short at the size limit or where a delta would not fit 16 bits).
    /// </summary>
    public int Write(Span<byte> destination, uint senderSsrc, uint mediaSsrc)
    {
        // A report starts at a received packet: skip leading losses only if nothing at all was received after them.
        if (!HasPending) return 0;
        var first = _next;
        while (first <= _highest && _arrivals[first % Window] == Missing) first++;
        if (first > _highest) return 0;

        var reference = FloorDiv(_arrivals[first % Window], TransportCcFeedback.ReferenceMicroseconds);
        var time = reference * TransportCcFeedback.ReferenceMicroseconds;
        var headerLength = Feedback.HeaderLength + 8;
        var limit = Math.Min(destination.Length, MaxPacketSize);

        // Decide how many statuses fit: symbols and delta sizes, with a worst-case chunk estimate.
        Span<byte> symbols = stackalloc byte[Math.Min(Window, 8191)];
        var count = 0;
        var deltaBytes = 0;
        for (var s = _next; s <= _highest && count < symbols.Length; s++)
        {
            var arrival = _arrivals[s % Window];
            byte symbol;
            int size;
            if (arrival == Missing)
            {
                symbol = 0;
                size = 0;
            }
            else
            {
                var delta = FloorDiv(arrival - time, TransportCcFeedback.DeltaMicroseconds);
                if (delta is < short.MinValue or > short.MaxValue) break;
                symbol = delta is >= 0 and <= 255 ? (byte)1 : (byte)2;
                size = symbol;
                time += delta * TransportCcFeedback.DeltaMicroseconds;
            }
            // Worst case one 2-byte chunk per 7 statuses.
            if (headerLength + 2 * ((count + 1 + 6) / 7) + deltaBytes + size + 3 > limit) break;
            symbols[count++] = symbol;
            deltaBytes += size;
        }
        if (count == 0) return 0;

        var baseSequence = (ushort)_next;
        destination[..limit].Clear();
        var offset = headerLength;
        offset += WriteChunks(destination[offset..], symbols[..count]);

        // Deltas.
        time = reference * TransportCcFeedback.ReferenceMicroseconds;
        for (var i = 0; i < count; i++)
        {
            if (symbols[i] == 0) continue;
            var arrival = _arrivals[(_next + i) % Window];
            var delta = FloorDiv(arrival - time, TransportCcFeedback.DeltaMicroseconds);
            time += delta * TransportCcFeedback.DeltaMicroseconds;
            if (symbols[i] == 1) destination[offset++] = (byte)delta;
            else
            {
                BinaryPrimitives.WriteInt16BigEndian(destination[offset..], (short)delta);
                offset += 2;
            }
        }
        var length = (offset + 3) & ~3;
        Feedback.WriteHeader(destination, RtcpPacketType.TransportFeedback, RtcpPacketType.FmtTransportCc, senderSsrc, mediaSsrc, length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], baseSequence);
        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], (ushort)count);
        destination[16] = (byte)(reference >> 16);
        destination[17] = (byte)(reference >> 8);
        destination[18] = (byte)reference;
        destination[19] = _feedbackCount++;
        if (length > offset)
        {
            // RTCP padding: set P and put the count in the last byte.
            destination[0] |= 0x20;
            destination[length - 1] = (byte)(length - offset);
        }
        _next += count;
        return length;
    }

    private static int WriteChunks(Span<byte> destination, ReadOnlySpan<byte> symbols)
    {
        var written = 0;
        var i = 0;
        while (i < symbols.Length)
        {
            var run = 1;
            while (i + run < symbols.Length && symbols[i + run] == symbols[i] && run < 0x1FFF) run++;
            ushort chunk;
            if (run >= 14 || i + run == symbols.Length && run >= 7)
            {
                chunk = (ushort)((symbols[i] << 13) | run);
                i += run;
            }
            else
            {
                var oneBit = true;
                for (var k = i; k < Math.Min(i + 14, symbols.Length); k++) oneBit &= symbols[k] <= 1;
                if (oneBit)
                {
                    chunk = 0x8000;
                    for (var k = 0; k < 14 && i + k < symbols.Length; k++) chunk |= (ushort)(symbols[i + k] << (13 - k));
                    i += 14;
                }
                else
                {
                    chunk = 0xC000;
                    for (var k = 0; k < 7 && i + k < symbols.Length; k++) chunk |= (ushort)(symbols[i + k] << (2 * (6 - k)));
                    i += 7;
                }
            }
            BinaryPrimitives.WriteUInt16BigEndian(destination[written..], chunk);
            written += 2;
        }
        return written;
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);
}
