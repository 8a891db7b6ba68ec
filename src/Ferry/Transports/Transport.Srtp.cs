using Ferry.Protocols.Srtp;
using Ferry.Rtp;

namespace Ferry.Transports;

/// <summary>
/// Per-SSRC SRTP state follows the streams: it goes when the producer or consumer that used the SSRC
/// closes, so a long-lived transport does not grow with every stream it ever carried; and a receiving
/// session that is full (<see cref="SrtpSession.MaxStreams"/>) makes room by dropping the state of an SSRC
/// no producer claims, else refuses the new SSRC (issue 16, finding 11).
/// </summary>
public abstract partial class Transport
{
    /// <summary>The session that unprotects what the endpoint sends, when the transport has SRTP keys.</summary>
    private protected virtual SrtpSession? ReceiveSrtp => null;

    /// <summary>The session that protects what this transport sends, when it has SRTP keys.</summary>
    private protected virtual SrtpSession? SendSrtp => null;

    /// <summary>The SSRCs with SRTP state, received and sent (loop only; for tests).</summary>
    internal (uint[] Receive, uint[] Send) SrtpSsrcs() =>
        (ReceiveSrtp?.Export().Streams.Select(s => s.Ssrc).ToArray() ?? [], SendSrtp?.Export().Streams.Select(s => s.Ssrc).ToArray() ?? []);

    private void ForgetSrtpStreams(Producer producer)
    {
        if (ReceiveSrtp is not { } srtp) return;
        foreach (var stream in producer.Streams)
        {
            if (stream.HasSsrc) srtp.RemoveStream(stream.Ssrc);
            if (stream.RtxSsrc is { } rtx) srtp.RemoveStream(rtx);
        }
    }

    private void ForgetSrtpStreams(Consumer consumer)
    {
        if (SendSrtp is not { } srtp) return;
        srtp.RemoveStream(consumer.Ssrc);
        if (consumer.RtxSsrc is { } rtx) srtp.RemoveStream(rtx);
        foreach (var ssrc in consumer.PipeSsrcs) srtp.RemoveStream(ssrc);
    }

    private Func<uint, bool>? _srtpStreamInUse;

    /// <summary>Unprotects an SRTP packet from the endpoint; a new SSRC that finds the session full takes the place of an unclaimed one.</summary>
    private protected SrtpResult UnprotectRtp(SrtpSession session, Span<byte> data, out int length)
    {
        var result = session.UnprotectRtp(data, data.Length, out length);
        if (result == SrtpResult.TooManyStreams && session.EvictOne(_srtpStreamInUse ??= ClaimsSsrc))
            result = session.UnprotectRtp(data, data.Length, out length);
        return result;
    }

    /// <summary>Unprotects an SRTCP packet from the endpoint, as <see cref="UnprotectRtp"/>.</summary>
    private protected SrtpResult UnprotectRtcp(SrtpSession session, Span<byte> data, out int length)
    {
        var result = session.UnprotectRtcp(data, data.Length, out length);
        if (result == SrtpResult.TooManyStreams && session.EvictOne(_srtpStreamInUse ??= ClaimsSsrc))
            result = session.UnprotectRtcp(data, data.Length, out length);
        return result;
    }

    // A producer stream (or its RTX) receives on it: its rollover counter must not be lost.
    private bool ClaimsSsrc(uint ssrc) => _ssrcTable.ContainsKey(ssrc);
}
