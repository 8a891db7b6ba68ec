using Ferry.Protocols.Codecs;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Microsoft.Extensions.Logging;

namespace Ferry.Rtp;

/// <summary>
/// The simulcast consumer's layer logic: which stream (spatial layer) and how many temporal layers of
/// it are forwarded, where a change may happen, and the VP8/VP9 picture numbering that keeps a receiver
/// seeing one continuous stream whatever the server switches between.
/// </summary>
/// <remarks>
/// The target layers come from the preferred layers, what is flowing and, when the transport estimates
/// its bandwidth, the allocation cap. A spatial switch waits for a key frame of the target stream. A
/// temporal switch down happens at the next frame start; a switch up waits for a frame of a higher layer
/// marked as a switching point (VP8 Y, VP9 U) or a key frame, since a frame of a higher layer can depend
/// on earlier frames of that layer the receiver never got.
/// </remarks>
public sealed partial class Consumer
{
    private int[] _temporalLayersByEncoding = [];
    private int _currentTemporal = -1;
    private int _targetTemporal;
    private ConsumerLayers? _bweCap;
    private Vp8DescriptorRewriter? _vp8;
    private Vp9DescriptorRewriter? _vp9;
    // Per output slot: the picture id and TL0PICIDX a packet went out with (-1: none), and its stream,
    // so a retransmission carries the same values and comes from the right stream's store.
    private int[] _outPictureId = [];
    private short[] _outTl0 = [];
    private byte[] _outEncoding = [];

    /// <summary>Packets of temporal layers above the one forwarded.</summary>
    internal long DroppedTemporal;

    /// <summary>The temporal layer the consumer aims for (what it forwards once a switching point allows).</summary>
    internal int TargetTemporalLayer => _targetTemporal;

    /// <summary>The stream the consumer aims for.</summary>
    internal int TargetSpatialLayer => _targetEncoding;

    /// <summary>How many temporal layers each producer encoding has (1 without a scalability mode).</summary>
    internal int TemporalLayerCount(int encoding) => (uint)encoding < (uint)_temporalLayersByEncoding.Length ? _temporalLayersByEncoding[encoding] : 1;

    /// <summary>Number of producer encodings (spatial layers of a simulcast consumer).</summary>
    internal int EncodingCount => _encodingCount;

    private void InitSimulcast(Producer producer, ConsumerOptions options)
    {
        var encodings = producer.RtpParameters.Encodings!;
        _temporalLayersByEncoding = new int[_encodingCount];
        for (var i = 0; i < _encodingCount; i++)
            _temporalLayersByEncoding[i] = Math.Max(1, ScalabilityMode.Parse(encodings[i].ScalabilityMode).TemporalLayers);
        var spatial = Math.Clamp(options.PreferredLayers?.SpatialLayer ?? _encodingCount - 1, 0, _encodingCount - 1);
        _preferredLayers = new ConsumerLayers(spatial, options.PreferredLayers?.TemporalLayer);
        _targetEncoding = spatial;
        _targetTemporal = Math.Min(_preferredLayers.TemporalLayer ?? int.MaxValue, _temporalLayersByEncoding[spatial] - 1);
        if (Codec == CodecKind.Vp8) _vp8 = new Vp8DescriptorRewriter();
        else if (Codec == CodecKind.Vp9) _vp9 = new Vp9DescriptorRewriter();
        _outPictureId = new int[OutCapacity];
        _outTl0 = new short[OutCapacity];
        _outEncoding = new byte[OutCapacity];
    }

    /// <summary>
    /// The bandwidth allocation's cap: the layers it gave (null: the transport has no estimate, follow the
    /// preferred layers). Applied at once to the target; the forwarded layers follow at the next key frame
    /// or switching point.
    /// </summary>
    internal void SetBweCap(ConsumerLayers? cap, TimeSpan now)
    {
        if (Type != ConsumerType.Simulcast || cap == _bweCap) return;
        _bweCap = cap;
        UpdateTargetLayer(now);
    }

    /// <summary>The allocation's cap, null when none.</summary>
    internal ConsumerLayers? BweCap => _bweCap;

    /// <summary>
    /// Picks the layers to forward: the preferred ones, capped by the bandwidth allocation, falling back to
    /// the best lower stream that is flowing (with all its temporal layers, as mediasoup does).
    /// </summary>
    internal void UpdateTargetLayer(TimeSpan now)
    {
        if (Type != ConsumerType.Simulcast || _producer is not { } p || _preferredLayers is not { } preferred) return;
        var spatial = preferred.SpatialLayer;
        var temporal = preferred.TemporalLayer ?? int.MaxValue;
        if (_bweCap is { } cap)
        {
            if (cap.SpatialLayer < spatial) (spatial, temporal) = (cap.SpatialLayer, cap.TemporalLayer ?? int.MaxValue);
            else if (cap.SpatialLayer == spatial) temporal = Math.Min(temporal, cap.TemporalLayer ?? int.MaxValue);
        }
        // Fall back to the best lower stream that flowed in the last second; when none did (a replica that has
        // not had its first packet yet, a producer between streams), there is nothing to judge by: keep the target.
        var flowing = spatial;
        while (flowing >= 0 && !p.Streams[flowing].FlowedWithin(TimeSpan.FromSeconds(1), now)) flowing--;
        if (flowing >= 0 && flowing < spatial)
        {
            spatial = flowing;
            temporal = int.MaxValue;
        }
        else if (flowing < 0 && spatial != _targetEncoding)
        {
            spatial = Math.Min(spatial, _targetEncoding);
        }
        temporal = Math.Min(temporal, _temporalLayersByEncoding[spatial] - 1);
        if ((temporal != _targetTemporal || spatial != _targetEncoding) && _logger.IsEnabled(LogLevel.Debug))
            LogTargetLayers(_logger, Id, spatial, temporal, _targetEncoding, _targetTemporal, _bweCap?.SpatialLayer ?? -1, _bweCap?.TemporalLayer ?? -1);
        _targetTemporal = temporal;
        if (spatial == _targetEncoding) return;
        _targetEncoding = spatial;
        if (IsActive) p.RequestKeyFrameMapped(p.Streams[spatial].MappedSsrc, now);
    }

    /// <summary>Why a receiver sits on the layers it does: each change of the target, with the allocation's cap (-1: none).</summary>
    [LoggerMessage(EventId = 3100, Level = LogLevel.Debug,
        Message = "Consumer {ConsumerId} targets layers {Spatial}.{Temporal} (was {WasSpatial}.{WasTemporal}; bandwidth cap {CapSpatial}.{CapTemporal})")]
    private static partial void LogTargetLayers(ILogger logger, string consumerId, int spatial, int temporal, int wasSpatial, int wasTemporal, int capSpatial, int capTemporal);

    /// <summary>
    /// Simulcast stream and temporal layer selection for one packet. False when the packet is not to be
    /// forwarded (another stream, a key frame still awaited, a temporal layer above the current one).
    /// </summary>
    private bool SelectSimulcast(ref RtpPacket packet, ReceiveStream stream, bool keyFrame)
    {
        if (stream.EncodingIndex != _currentEncoding)
        {
            if (stream.EncodingIndex != _targetEncoding) return false;
            if (KeyFrameSupported && !keyFrame)
            {
                AskAgainWhileWaiting(Loop.Now);
                return false;
            }
            _currentEncoding = stream.EncodingIndex;
            _syncRequired = true;
            _currentTemporal = _targetTemporal;
            EmitLayersIfChanged();
        }
        var tid = stream.LastTemporalLayer;
        if (tid < 0) return true;
        if (stream.LastStartsFrame && _currentTemporal != _targetTemporal)
        {
            if (_targetTemporal < _currentTemporal || keyFrame) SetCurrentTemporal(_targetTemporal);
            else if (stream.LastLayerSync && tid > _currentTemporal && tid <= _targetTemporal) SetCurrentTemporal(tid);
        }
        if (tid <= _currentTemporal) return true;
        // A layer above the one forwarded: its sequence number and picture are skipped so the receiver sees no gap.
        DroppedTemporal++;
        SkipRtp(stream, packet.SequenceNumber);
        if (!_syncRequired)
        {
            _vp8?.Drop(packet.Payload);
            _vp9?.Drop(packet.Payload);
        }
        return false;
    }

    private void SetCurrentTemporal(int temporal)
    {
        if (temporal == _currentTemporal) return;
        _currentTemporal = temporal;
        EmitLayersIfChanged();
    }

    private void EmitLayersIfChanged()
    {
        var layers = new ConsumerLayers(_currentEncoding, Math.Max(0, _currentTemporal));
        if (layers == _currentLayers) return;
        _currentLayers = layers;
        Events.Emit(LayersChange, layers, _logger);
    }

    /// <summary>A sync point: VP8/VP9 numbering continues from the last value sent.</summary>
    private void ResyncDescriptors()
    {
        _vp8?.SwitchSource();
        _vp9?.SwitchSource();
    }

    /// <summary>
    /// Rewrites the payload descriptor of the packet in the send buffer: fresh values for a packet sent
    /// the first time, the recorded ones for a retransmission.
    /// </summary>
    private void RewriteDescriptor(Span<byte> payload, int slot, bool retransmission)
    {
        if (retransmission)
        {
            var pictureId = _outPictureId[slot];
            var tl0 = _outTl0[slot];
            if (_vp8 is not null)
            {
                if (pictureId >= 0) Vp8PayloadDescriptor.TryWritePictureId(payload, pictureId);
                if (tl0 >= 0) Vp8PayloadDescriptor.TryWriteTl0PicIdx(payload, (byte)tl0);
            }
            else if (_vp9 is not null)
            {
                if (pictureId >= 0) Vp9PayloadDescriptor.TryWritePictureId(payload, pictureId);
                if (tl0 >= 0) Vp9PayloadDescriptor.TryWriteTl0PicIdx(payload, (byte)tl0);
            }
            return;
        }
        int writtenPictureId = -1, writtenTl0 = -1;
        var parsed = _vp8 is { } vp8 ? vp8.TryRewrite(payload, out writtenPictureId, out writtenTl0)
            : _vp9 is not { } vp9 || vp9.TryRewrite(payload, out writtenPictureId, out writtenTl0);
        if (!parsed) MalformedDescriptors++;
        _outPictureId[slot] = writtenPictureId;
        _outTl0[slot] = (short)writtenTl0;
    }

    /// <summary>Packets whose VP8/VP9 descriptor did not parse: forwarded with the numbers they came with.</summary>
    internal long MalformedDescriptors;
}
