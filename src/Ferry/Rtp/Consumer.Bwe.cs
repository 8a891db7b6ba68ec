using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// What the transport's bandwidth allocation needs from a consumer: which congestion feedback its
/// endpoint negotiated, what it costs, the layers it can climb with their prices, and padding on its RTX
/// stream when the transport ramps up.
/// </summary>
public sealed partial class Consumer
{
    /// <summary>Most layers a simulcast consumer climbs through (4 streams × 4 temporal layers).</summary>
    internal const int MaxAllocationLayers = 16;

    private long[] _layerBitrates = [];
    private byte[] _layerSpatial = [];
    private byte[] _layerTemporal = [];

    /// <summary>The endpoint sends transport-cc feedback for what this consumer sends (extension and feedback negotiated).</summary>
    internal bool UsesTransportCc { get; private set; }

    /// <summary>The endpoint sends REMB (abs-send-time and goog-remb negotiated, no transport-cc).</summary>
    internal bool UsesRemb { get; private set; }

    /// <summary>Counted by the bandwidth allocation: open, not paused, its producer sending, its transport connected.</summary>
    internal bool TakesPartInAllocation => IsActive;

    /// <summary>Layers of the current allocation table (simulcast), from <see cref="PrepareAllocation"/>.</summary>
    internal int AllocationCount { get; private set; }

    /// <summary>The allocation's working position in the table (-1: nothing yet).</summary>
    internal int AllocationIndex { get; set; }

    /// <summary>
    /// The last table entry at or below what the consumer already has: the layers it forwards now or the
    /// ones the last allocation gave it (its cap), whichever is higher (-1: none). Entries up to it are kept
    /// at their price; the ones above are upgrades.
    /// </summary>
    internal int AllocationKeptIndex { get; private set; }

    private void InitBwe()
    {
        static bool Has(RtpParameters p, string type) =>
            p.Codecs.Any(c => c.RtcpFeedback?.Any(f => f.Type == type) == true);
        UsesTransportCc = TransportWideCcExtensionId != 0 && Has(RtpParameters, "transport-cc");
        UsesRemb = !UsesTransportCc && AbsSendTimeExtensionId != 0 && Has(RtpParameters, "goog-remb");
        if (Type == ConsumerType.Simulcast)
        {
            _layerBitrates = new long[MaxAllocationLayers];
            _layerSpatial = new byte[MaxAllocationLayers];
            _layerTemporal = new byte[MaxAllocationLayers];
        }
    }

    /// <summary>
    /// What forwarding this consumer costs now when its layers are not chosen by the allocation (simple,
    /// SVC, audio): the bitrate of what its producer sends, as mediasoup's consumers "play fair".
    /// </summary>
    internal long FixedBitrate(TimeSpan now)
    {
        if (_producer is not { } p) return 0;
        long total = 0;
        foreach (var s in p.Streams) total += s.Layers.Bitrate(LayerBitrateMeter.Layers - 1, now);
        return total;
    }

    /// <summary>
    /// Builds the table of layers this simulcast consumer climbs, lowest first: each flowing stream up to
    /// the preferred one, each of its temporal layers (only up to the preferred temporal layer on the
    /// preferred stream), with what forwarding it costs. Streams without media are skipped. Returns the count.
    /// </summary>
    internal int PrepareAllocation(TimeSpan now)
    {
        AllocationIndex = -1;
        AllocationKeptIndex = -1;
        AllocationCount = 0;
        if (Type != ConsumerType.Simulcast || _producer is not { } p || _preferredLayers is not { } preferred) return 0;
        // What the consumer already has, in the table's order (stream, then temporal layer). A layer the
        // allocation gave stays given until an allocation takes it back: the consumer may still be waiting
        // for the switching point or key frame that lets it forward it, and judging it again as an upgrade
        // would take it back as soon as the padding that made room for it stopped. When the stream it has
        // stops, the lower streams' layers count as kept (a step down, not an upgrade).
        var kept = -1;
        if (_currentEncoding >= 0) kept = LayerOrder(_currentEncoding, Math.Max(0, _currentTemporal));
        if (_bweCap is { } cap) kept = Math.Max(kept, LayerOrder(cap.SpatialLayer, cap.TemporalLayer ?? LayerBitrateMeter.Layers - 1));
        var count = 0;
        for (var s = 0; s <= preferred.SpatialLayer && s < p.Streams.Length; s++)
        {
            var layers = Math.Min(_temporalLayersByEncoding[s], LayerBitrateMeter.Layers);
            var top = s == preferred.SpatialLayer ? Math.Min(preferred.TemporalLayer ?? layers - 1, layers - 1) : layers - 1;
            var meter = p.Streams[s].Layers;
            if (meter.Bitrate(LayerBitrateMeter.Layers - 1, now) == 0) continue;
            for (var t = 0; t <= top && count < MaxAllocationLayers; t++)
            {
                _layerSpatial[count] = (byte)s;
                _layerTemporal[count] = (byte)t;
                // A stream without temporal information counts everything as layer 0: its upper layers cost nothing more.
                _layerBitrates[count] = meter.Bitrate(t, now);
                if (LayerOrder(s, t) <= kept) AllocationKeptIndex = count;
                count++;
            }
        }
        AllocationCount = count;
        return count;
    }

    private static int LayerOrder(int spatial, int temporal) => spatial * 256 + temporal;

    /// <summary>What forwarding up to table entry <paramref name="index"/> costs (bps); 0 for -1.</summary>
    internal long AllocationBitrate(int index) => index < 0 ? 0 : _layerBitrates[index];

    /// <summary>
    /// The layers of table entry <paramref name="index"/>, as a cap: the meter's top temporal layer counts the
    /// layers above it too, so it caps nothing within its stream.
    /// </summary>
    internal ConsumerLayers AllocationLayers(int index) =>
        new(_layerSpatial[index], _layerTemporal[index] == LayerBitrateMeter.Layers - 1 ? null : _layerTemporal[index]);

    /// <summary>Whether this consumer can carry padding now: video with RTX, transport-cc, already sending, ids that fit one-byte extensions.</summary>
    internal bool CanSendPadding =>
        Kind == MediaKind.Video && RtxSsrc is not null && UsesTransportCc && _haveSent && IsActive
        && _rtxPayloadTypeByMedia[RtpParameters.Codecs[0].PayloadType] != 0
        && TransportWideCcExtensionId <= 14 && MidExtensionId <= 14 && AbsSendTimeExtensionId <= 14;

    /// <summary>
    /// Writes a padding-only packet on the RTX stream (as libwebrtc pads: the media stream's numbering is
    /// untouched, the receiver counts it for its feedback and drops it) carrying transport-wide sequence
    /// number <paramref name="transportSequence"/>. Returns its length.
    /// </summary>
    internal int WritePadding(Span<byte> buffer, int paddingBytes, ushort transportSequence, TimeSpan now)
    {
        var rtxPt = _rtxPayloadTypeByMedia[RtpParameters.Codecs[0].PayloadType];
        var w = new RtpPacketWriter(buffer, rtxPt, _rtxSeq++, _lastOutTs, RtxSsrc!.Value);
        if (MidExtensionId != 0 && _midValue.Length > 0) w.AddExtension(MidExtensionId, _midValue);
        Span<byte> value = stackalloc byte[3];
        if (AbsSendTimeExtensionId != 0)
        {
            RtpExtensionValues.TryWriteAbsSendTime(value, RtpExtensionValues.ToAbsSendTime(now));
            w.AddExtension(AbsSendTimeExtensionId, value);
        }
        RtpExtensionValues.TryWriteTransportWideSequence(value, transportSequence);
        w.AddExtension(TransportWideCcExtensionId, value[..2]);
        return w.AddPadding(Math.Clamp(paddingBytes, 1, 255));
    }
}
