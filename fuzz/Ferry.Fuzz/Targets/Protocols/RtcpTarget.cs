using Ferry.Protocols.Bwe;
using Ferry.Protocols.Rtcp;

namespace Ferry.Fuzz;

/// <summary>
/// Compound RTCP (RFC 3550 §6, RFC 4585, RFC 3611, transport-wide cc, REMB), as a transport reads a
/// decrypted datagram. Input: one datagram. Every packet of the compound goes through every reader
/// (each checks its own type and FMT), with the buffers the engine gives them; transport-cc feedback
/// also goes through the send-side bandwidth estimator, which reads it to steer the bitrate.
/// </summary>
internal static class RtcpTarget
{
    // The parse buffer the estimator gives transport-cc (4096 statuses); reused, as the estimator reuses its own.
    [ThreadStatic] private static TransportCcResult[]? _results;

    public static void Run(ReadOnlySpan<byte> input)
    {
        RtcpCompoundEnumerator.IsValid(input);
        SendSideBandwidthEstimator? estimator = null;
        Span<uint> ssrcs = stackalloc uint[4];
        Span<ushort> lost = stackalloc ushort[1024];
        Span<DlrrItem> dlrr = stackalloc DlrrItem[8];
        var results = _results ??= new TransportCcResult[4096];
        var e = new RtcpCompoundEnumerator(input);
        while (e.MoveNext())
        {
            var p = e.Current;
            _ = p.Type;
            _ = p.Count;
            _ = p.SenderSsrc;
            _ = p.Body.Length;
            if (SenderReport.TryParse(p, out var sr))
            {
                _ = sr.Ssrc + sr.NtpTimestamp + sr.RtpTimestamp + sr.PacketCount + sr.OctetCount;
                foreach (var block in sr.ReportBlocks) ReadBlock(block);
            }
            if (ReceiverReport.TryParse(p, out var rr))
            {
                _ = rr.Ssrc;
                foreach (var block in rr.ReportBlocks)
                {
                    ReadBlock(block);
                    Estimator(ref estimator).OnReceiverReportLoss(block.FractionLost, TimeSpan.FromMilliseconds(100));
                }
            }
            SourceDescription.TryGetCname(p, null, out _);
            SourceDescription.TryGetCname(p, 0x01020304, out _);
            Bye.ReadSsrcs(p, ssrcs);
            Bye.TryGetReason(p, out _);
            AppPacket.TryParse(p, out _, out _, out _, out _);
            if (GenericNack.TryParse(p, out _, out _))
            {
                var n = GenericNack.ReadLost(p, lost);
                if (n < 0 || n > lost.Length) throw new FuzzInvariantException($"NACK read {n} sequence numbers into {lost.Length}");
            }
            PictureLossIndication.TryParse(p, out _, out _);
            FullIntraRequest.TryParse(p, out _, out _, out _);
            if (Remb.TryParse(p, out _, out var bitrate, ssrcs, out _)) Estimator(ref estimator).OnRemb(bitrate, TimeSpan.FromMilliseconds(150));
            Remb.TryParse(p, out _, out _, Span<uint>.Empty, out _);
            var statuses = TransportCcFeedback.Parse(p, results, out _, out _, out _);
            if (statuses > results.Length) throw new FuzzInvariantException($"transport-cc parsed {statuses} statuses into {results.Length}");
            if (p.Type == RtcpPacketType.TransportFeedback && p.Count == RtcpPacketType.FmtTransportCc) Estimator(ref estimator).OnTransportCcFeedback(p, TimeSpan.FromMilliseconds(200));
            ExtendedReport.TryGetRrtr(p, out _, out _);
            ExtendedReport.ReadDlrr(p, dlrr);
        }
        _ = estimator?.AvailableBitrate;
    }

    /// <summary>An estimator that sent packets 0-63 (it only reads feedback about packets it sent), made when a packet needs one.</summary>
    private static SendSideBandwidthEstimator Estimator(ref SendSideBandwidthEstimator? estimator)
    {
        if (estimator is not null) return estimator;
        estimator = new SendSideBandwidthEstimator(1_000_000);
        for (var s = 0; s < 64; s++) estimator.OnPacketSent((ushort)s, 1000, TimeSpan.FromMilliseconds(s));
        return estimator;
    }

    private static void ReadBlock(in ReportBlock block) =>
        NtpTime.RoundTrip(0x12345678, block.LastSenderReport, block.DelaySinceLastSenderReport);
}
