using System.Text.Json;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Recovery;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;

namespace Ferry.Mobility.Remote;

/// <summary>
/// How far a take-over jumps each number ahead of what the copy says (<see cref="TakeoverCarryForward"/>). For a number
/// that counts packets of a stream the jump is
/// <c>ceil((age + Slack) × max(RateFactor × measured rate, floor rate)) + FixedPackets</c>: the age of the copy plus a slack
/// (what the standby cannot see: the copy's transit, the source's last instants) times the fastest the dead source could
/// have been sending, plus a constant. The rates below are the floors (and the only rates for the numbers no copy measures).
/// </summary>
public sealed record TakeoverMargins
{
    /// <summary>Added to the copy's age: its transit to the standby and the time between the copy and the source's last send. Default 500 ms.</summary>
    public TimeSpan Slack { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The measured send rate of a stream (from the copy's recent output packets) is multiplied by this. Default 2.</summary>
    public double RateFactor { get; init; } = 2;

    /// <summary>Packets per second an audio stream is assumed to send at least. Default 100 (10 ms frames).</summary>
    public int AudioPacketRate { get; init; } = 100;

    /// <summary>Packets per second a video stream is assumed to send at least. Default 1000 (about 10 Mbit/s of 1200-byte packets).</summary>
    public int VideoPacketRate { get; init; } = 1000;

    /// <summary>Added to every packet-count jump. Default 64.</summary>
    public int FixedPackets { get; init; } = 64;

    /// <summary>SRTCP packets per second per SSRC assumed (reports and feedback). Default 200.</summary>
    public int RtcpPacketRate { get; init; } = 200;

    /// <summary>DTLS records per second assumed (after the handshake they carry SCTP only). Default 5000.</summary>
    public int DtlsRecordRate { get; init; } = 5000;

    /// <summary>SCTP DATA chunks per second assumed (the outgoing TSN jump). Default 5000.</summary>
    public int SctpChunkRate { get; init; } = 5000;

    /// <summary>SCTP messages per second per outgoing stream assumed (the outgoing SSN jump). Default 1000.</summary>
    public int SctpMessageRate { get; init; } = 1000;

    /// <summary>The default margins.</summary>
    public static TakeoverMargins Default { get; } = new();
}

/// <summary>
/// Makes a copy of a router (<see cref="RouterCheckpoint"/>) that is <c>age</c> old safe to bring to life after its source
/// died: the source may have sent more since the copy, and the far end has seen it. A pure function over snapshot data:
/// nothing here touches a live object.
/// <list type="bullet">
/// <item>Outgoing RTP, per consumer: sequence number, RTX sequence number and SRTP index (with its rollover counter) jump
/// ahead by the stream's packet margin (<see cref="TakeoverMargins"/>), the timestamp by <c>(age + slack) × clock rate</c>;
/// the consumer restarts from a key frame (its mapping is chosen afresh after the jump) and answers no NACK for packets
/// of the copy. A consumer that had sent nothing in the copy starts above anything the source could have chosen (its
/// random start is below 32768). Every other SSRC the SRTP sender knows jumps by the largest packet margin.</item>
/// <item>SRTCP indices of the sender by <c>ceil((age + slack) × RtcpPacketRate) + FixedPackets</c>; the DTLS write
/// sequence by the same formula with <see cref="TakeoverMargins.DtlsRecordRate"/>; the transport-wide-cc sequence by the
/// sum of the consumers' margins; the FIR command sequence number by 16.</item>
/// <item>Incoming: replay windows and rollover estimation need nothing (the far end's next indices are newer than the
/// copy's, within half the sequence space for up to about 30 s of 1000 packets a second); each producer's NACK
/// generator starts afresh so the jump is not asked for as loss.</item>
/// <item>SCTP outgoing: the next TSN jumps by <see cref="TakeoverMargins.SctpChunkRate"/>'s margin and each stream's
/// next SSN by <see cref="TakeoverMargins.SctpMessageRate"/>'s; what the copy held to send or had outstanding is
/// dropped (the source may have delivered it: at most once), and a FORWARD-TSN (RFC 3758) moves the far end's
/// cumulative TSN and every stream's SSN to the jumped values. SCTP incoming is put in step at run time
/// (<see cref="ResyncSctpReceive"/>).</item>
/// </list>
/// A jump of a 16-bit number must stay below 2^15 (else the far end would take it for an old one): a copy too old for
/// that is refused with <see cref="ArgumentException"/>.
/// </summary>
public static class TakeoverCarryForward
{
    private const int MaxSeqJump = 0x7FFF;
    private const long MaxDtlsSequence = (1L << 48) - 1;

    /// <summary>Every transport of <paramref name="snapshot"/>, carried forward by <paramref name="age"/>.</summary>
    /// <exception cref="ArgumentException">A negative age, or one too old for a 16-bit jump.</exception>
    public static RouterSnapshot Apply(RouterSnapshot snapshot, TimeSpan age, TakeoverMargins? margins = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return snapshot with { Transports = snapshot.Transports.Select(t => Apply(t, age, margins)).ToList() };
    }

    /// <summary>One transport carried forward by <paramref name="age"/> (see the class).</summary>
    /// <exception cref="ArgumentException">A negative age, one too old for a 16-bit jump, or unreadable RTP parameters.</exception>
    public static WebRtcTransportSnapshot Apply(WebRtcTransportSnapshot snapshot, TimeSpan age, TakeoverMargins? margins = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        margins ??= TakeoverMargins.Default;
        if (age < TimeSpan.Zero) throw new ArgumentException("age must not be negative", nameof(age));
        var window = (age + margins.Slack).TotalSeconds;
        var srtpJumps = new Dictionary<uint, long>();
        var consumers = new List<ConsumerSnapshot>(snapshot.Consumers.Count);
        var twccJump = 0L;
        var largest = (long)margins.FixedPackets;
        foreach (var c in snapshot.Consumers)
        {
            var parameters = Parse(c.RtpParameters, c.Id);
            var video = c.Kind == "video";
            var floor = video ? margins.VideoPacketRate : margins.AudioPacketRate;
            var jump = PacketJump(MeasuredRate(c.Send.Sent), floor, window, margins, c.Id);
            twccJump += jump;
            largest = Math.Max(largest, jump);
            var clockRate = parameters.Codecs.Count > 0 ? parameters.Codecs[0].ClockRate : (video ? 90000 : 48000);
            var tsJump = (uint)Math.Min(uint.MaxValue / 2, Math.Ceiling(window * clockRate));
            var send = c.Send;
            send = send.HaveSent
                ? send with { LastOutSeq = (ushort)(send.LastOutSeq + jump), LastOutTimestamp = send.LastOutTimestamp + tsJump }
                // The source may have started this stream after the copy, at a random sequence number below 32768 (with rollover
                // counter 0): start above anything it could have reached, still with rollover counter 0.
                : send with { HaveSent = true, LastOutSeq = 0x7FFF + (int)jump, LastOutTimestamp = tsJump, LastSentAgeMicros = 0 };
            consumers.Add(c with
            {
                Send = send with { SyncRequired = true, RtxSeq = (ushort)(send.RtxSeq + jump), Sent = new SentPacketsSnapshot() },
            });
            foreach (var encoding in parameters.Encodings ?? [])
            {
                if (encoding.Ssrc is { } ssrc) srtpJumps[ssrc] = jump;
                if (encoding.Rtx is { } rtx) srtpJumps[rtx.Ssrc] = jump;
            }
        }
        var rtcpJump = (long)Math.Ceiling(window * margins.RtcpPacketRate) + margins.FixedPackets;
        var dtlsJump = (long)Math.Ceiling(window * margins.DtlsRecordRate) + margins.FixedPackets;
        var writeSequence = snapshot.Dtls.WriteSequence + dtlsJump;
        if (writeSequence > MaxDtlsSequence) throw new ArgumentException("the DTLS write sequence would pass 2^48 - 1: the association cannot be carried forward");
        return snapshot with
        {
            Dtls = snapshot.Dtls with { WriteSequence = writeSequence },
            SrtpSend = snapshot.SrtpSend is { } srtp ? JumpSender(srtp, srtpJumps, largest, rtcpJump) : null,
            Core = snapshot.Core with
            {
                TransportWideSeq = (ushort)(snapshot.Core.TransportWideSeq + Math.Min(MaxSeqJump, twccJump + margins.FixedPackets)),
                FirSequence = (byte)(snapshot.Core.FirSequence + 16),
            },
            Producers = snapshot.Producers.Select(FreshNack).ToList(),
            Consumers = consumers,
            Sctp = snapshot.Sctp is { } sctp ? JumpSctpSend(sctp, window, margins) : null,
        };
    }

    /// <summary>Packets per second from a consumer's recent output (0 when it shows too little).</summary>
    internal static double MeasuredRate(SentPacketsSnapshot sent) =>
        sent.OutSeqs.Length >= 2 && sent.SpanMicros > 0 ? (sent.OutSeqs.Length - 1) * 1e6 / sent.SpanMicros : 0;

    private static long PacketJump(double measured, int floor, double window, TakeoverMargins margins, string id)
    {
        var rate = Math.Max(margins.RateFactor * measured, floor);
        var jump = (long)Math.Ceiling(window * rate) + margins.FixedPackets;
        if (jump > MaxSeqJump)
            throw new ArgumentException($"consumer {id}: a jump of {jump} packets ({rate:F0}/s over {window:F2} s) passes half the sequence space: the copy is too old to carry forward");
        return jump;
    }

    private static RtpParameters Parse(string json, string id)
    {
        try
        {
            return JsonSerializer.Deserialize(json, OrtcJson.Default.RtpParameters) ?? throw new ArgumentException($"consumer {id}: no rtpParameters");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"consumer {id}: invalid rtpParameters: {e.Message}", e);
        }
    }

    /// <summary>Each SRTP stream's index (rollover counter and highest sequence number together) and SRTCP index jump.</summary>
    private static SrtpSessionState JumpSender(SrtpSessionState srtp, Dictionary<uint, long> jumps, long largest, long rtcpJump) => srtp with
    {
        Streams = srtp.Streams.Select(s =>
        {
            var stream = s with { RtcpIndex = (uint)((s.RtcpIndex + rtcpJump) & 0x7FFF_FFFF) };
            if (!s.Started) return stream;
            var index = ((long)s.Roc << 16 | s.HighestSeq) + (jumps.TryGetValue(s.Ssrc, out var jump) ? jump : largest);
            return stream with { Roc = (uint)(index >> 16), HighestSeq = (ushort)index };
        }).ToArray(),
    };

    /// <summary>The producer's streams forget what they awaited: the far end's numbers moved on while nobody listened.</summary>
    private static ProducerSnapshot FreshNack(ProducerSnapshot p) => p with
    {
        Streams = p.Streams.Select(s => s.Nack is { } nack ? s with { Nack = new NackGeneratorState { RttMicros = nack.RttMicros, GivenUp = nack.GivenUp, Recovered = nack.Recovered, NacksRequested = nack.NacksRequested } } : s).ToArray(),
    };

    /// <summary>The SCTP part of <see cref="Apply(WebRtcTransportSnapshot, TimeSpan, TakeoverMargins?)"/> alone (for tests).</summary>
    internal static DataChannelEndpointState ApplySctp(DataChannelEndpointState endpoint, TimeSpan age, TakeoverMargins? margins = null)
    {
        margins ??= TakeoverMargins.Default;
        return JumpSctpSend(endpoint, (age + margins.Slack).TotalSeconds, margins);
    }

    /// <summary>
    /// The outgoing half of the association jumps ahead (see the class): every stream's next SSN, the next TSN; nothing
    /// queued or outstanding is kept, and one abandoned placeholder chunk per stream (at least one) sits just below the
    /// new TSN, so that the association's own FORWARD-TSN carries the far end's cumulative TSN and every stream's SSN there.
    /// </summary>
    private static DataChannelEndpointState JumpSctpSend(DataChannelEndpointState endpoint, double window, TakeoverMargins margins)
    {
        var a = endpoint.Association;
        var send = a.Send;
        var tsnJump = (uint)Math.Min(int.MaxValue / 2, Math.Ceiling(window * margins.SctpChunkRate) + margins.FixedPackets);
        var ssnJump = (ushort)Math.Min(MaxSeqJump, Math.Ceiling(window * margins.SctpMessageRate) + margins.FixedPackets);
        var streams = send.Streams.Select(s => s with
        {
            Queue = [], BufferedBytes = 0, MessagesBeforeReset = 0, NextSsn = (ushort)(s.NextSsn + ssnJump),
        }).ToArray();
        // One placeholder per stream that has sent ordered messages; an unordered one when none has (the far end's cumulative TSN must still move).
        var placeholders = streams.Select(s => (s.Id, Ordered: true, Ssn: (ushort)(s.NextSsn - 1))).ToList();
        if (placeholders.Count == 0) placeholders.Add((0, false, 0));
        var nextTsn = send.NextTsn + tsnJump + (uint)placeholders.Count;
        var firstPlaceholder = nextTsn - (uint)placeholders.Count;
        var messages = new SctpOutgoingMessageState[placeholders.Count];
        var chunks = new SctpOutChunkState[placeholders.Count];
        for (var i = 0; i < placeholders.Count; i++)
        {
            var (id, ordered, ssn) = placeholders[i];
            // One byte that is never sent (the association's snapshot wants every chunk to cover bytes of its message).
            messages[i] = new SctpOutgoingMessageState { StreamId = id, Ppid = 0, Unordered = !ordered, Data = [0], Offset = 1, Ssn = ssn, ChunksInList = 1, Abandoned = true, MaxRetransmits = 0 };
            // DATA flags: B and E, U for the unordered one.
            chunks[i] = new SctpOutChunkState { Tsn = firstPlaceholder + (uint)i, Message = i, Offset = 0, Length = 1, Flags = (byte)(ordered ? 3 : 7), Ssn = ssn, Transmissions = 1, Abandoned = true };
        }
        var newSend = send with
        {
            NextTsn = nextTsn,
            CumulativeTsnAck = firstPlaceholder - 1,
            AdvancedPeerAckPoint = nextTsn - 1,
            Messages = messages,
            CurrentMessage = -1,
            Chunks = chunks,
            Streams = streams,
            Scheduled = [],
            BufferedAmount = 0,
            FlightSize = 0,
            RetransmitPending = 0,
            FastRetransmitBypass = false,
            PartialBytesAcked = 0,
            InFastRecovery = false,
            FastRecoveryExit = nextTsn - 1,
            ForwardTsnPending = a.PeerForwardTsn,
            ErrorCount = 0,
            RttPending = false,
            // Due at once: with only abandoned chunks left, its expiry sends the FORWARD-TSN (and again if that is lost).
            T3RemainingTicks = 0,
        };
        var reconfig = a.Reconfig.InFlightStreams is null ? a.Reconfig : a.Reconfig with { InFlightLastTsn = nextTsn - 1 };
        return endpoint with { Association = a with { Send = newSend, Reconfig = reconfig } };
    }

    /// <summary>
    /// The incoming half of an association brought back by a take-over, put in step with the far end on its first
    /// DATA after the take-over. The dead source may have acknowledged TSNs the copy never saw (the far end will not
    /// send them again, and ignores a SACK below what it was acknowledged), and delivered messages of ordered streams
    /// the copy did not see (whose SSNs the far end will not send again). So the cumulative TSN moves to just below
    /// <paramref name="firstTsn"/> (when given and ahead of it), with everything held below dropped; and each stream of
    /// <paramref name="firstSsns"/> (the SSN of its first ordered chunk in the far end's data) expects that SSN next,
    /// with what waited below it dropped. Nothing moves backwards. What it costs: a far end's chunk below
    /// <paramref name="firstTsn"/> that it still had outstanding (the source never acknowledged it) is acknowledged
    /// without being delivered. A far end retransmits its oldest outstanding chunk first, so this loses nothing when
    /// the first DATA the far end sends after the take-over is that retransmission (it is after an outage longer than
    /// its retransmission timeout).
    /// </summary>
    public static DataChannelEndpointState ResyncSctpReceive(DataChannelEndpointState endpoint, uint? firstTsn, IReadOnlyDictionary<ushort, ushort> firstSsns)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(firstSsns);
        var receive = endpoint.Association.Receive;
        if (firstTsn is { } tsn && Greater(tsn - 1, receive.CumulativeTsn))
        {
            var cum = tsn - 1;
            receive = receive with
            {
                CumulativeTsn = cum,
                HighestReceived = Greater(receive.HighestReceived, cum) ? receive.HighestReceived : cum,
                Received = receive.Received
                    .Where(r => Greater(r.Last, cum))
                    .Select(r => Greater(r.First, cum) ? r : r with { First = cum + 1 })
                    .ToArray(),
                Duplicates = [],
                Fragments = receive.Fragments.Where(f => Greater(f.Tsn, cum)).ToArray(),
            };
        }
        if (firstSsns.Count > 0)
        {
            var byId = receive.Streams.ToDictionary(s => s.Id);
            foreach (var (id, ssn) in firstSsns)
            {
                var stream = byId.GetValueOrDefault(id) ?? new SctpInStreamState { Id = id };
                if (!Greater16(ssn, stream.NextSsn)) continue;
                byId[id] = stream with { NextSsn = ssn, Ready = stream.Ready.Where(r => !Greater16(ssn, r.Ssn)).ToArray() };
            }
            receive = receive with { Streams = byId.Values.OrderBy(s => s.Id).ToArray() };
        }
        var held = receive.Fragments.Sum(f => (long)f.Data.Length) + receive.Streams.Sum(s => s.Ready.Sum(r => (long)(r.Data?.Length ?? 0)))
            + endpoint.Association.Messages.Sum(m => (long)m.Data.Length);
        receive = receive with { ReceiveHeld = held, SackPending = true, SackImmediate = true };
        return endpoint with { Association = endpoint.Association with { Receive = receive } };
    }

    private static bool Greater(uint a, uint b) => a != b && a - b < 0x8000_0000u;

    private static bool Greater16(ushort a, ushort b) => a != b && (ushort)(a - b) < 0x8000;
}
