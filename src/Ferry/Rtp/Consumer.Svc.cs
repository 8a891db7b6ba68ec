using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// The SVC consumer's layer logic: one stream whose packets carry their spatial and temporal layer
/// (VP9's descriptor, AV1's OBU extension); the consumer forwards the layers up to its target and skips
/// the rest without leaving a gap in its sequence numbers.
/// </summary>
/// <remarks>
/// A spatial switch down happens at the next picture (a new RTP timestamp), since lower layers never
/// depend on higher ones; a switch up waits for a key frame (a frame of the new layer may predict from
/// earlier frames of it the receiver never got), and asks for one. Temporal switches go down at the next
/// picture and up at a picture marked as a switching-up point (VP9 U) or a key frame. When layers above
/// the forwarded ones are dropped, the last packet of the highest forwarded layer of a picture gets the
/// RTP marker bit, which the dropped packet that ended the picture would have carried.
/// </remarks>
public sealed partial class Consumer
{
    private int _svcSpatialLayers = 1;
    private int _svcTemporalLayers = 1;
    private int _svcTargetSpatial;
    private int _svcTargetTemporal;
    private int _svcCurrentSpatial = -1;
    private int _svcCurrentTemporal = -1;
    private uint _svcPictureTimestamp;
    private bool _svcHavePicture;

    /// <summary>Packets of spatial or temporal layers above the ones an SVC consumer forwards.</summary>
    internal long DroppedSvcLayers;

    private void InitSvc(Producer producer, ConsumerOptions options)
    {
        var mode = ScalabilityMode.Parse(producer.RtpParameters.Encodings?.FirstOrDefault()?.ScalabilityMode);
        _svcSpatialLayers = Math.Max(1, mode.SpatialLayers);
        _svcTemporalLayers = Math.Max(1, mode.TemporalLayers);
        var spatial = Math.Clamp(options.PreferredLayers?.SpatialLayer ?? _svcSpatialLayers - 1, 0, _svcSpatialLayers - 1);
        _preferredLayers = new ConsumerLayers(spatial, options.PreferredLayers?.TemporalLayer);
        UpdateSvcTarget();
    }

    /// <summary>Spatial layers of an SVC consumer's stream (what setPreferredLayers is clamped to).</summary>
    internal int SvcSpatialLayers => _svcSpatialLayers;

    /// <summary>The target follows the preferred layers; going up asks the producer for a key frame.</summary>
    private void UpdateSvcTarget()
    {
        if (_preferredLayers is not { } preferred) return;
        var previous = _svcTargetSpatial;
        _svcTargetSpatial = Math.Clamp(preferred.SpatialLayer, 0, _svcSpatialLayers - 1);
        _svcTargetTemporal = Math.Clamp(preferred.TemporalLayer ?? _svcTemporalLayers - 1, 0, _svcTemporalLayers - 1);
        if (_svcCurrentSpatial >= 0 && _svcTargetSpatial > _svcCurrentSpatial && _svcTargetSpatial != previous && IsActive) RequestKeyFrame();
    }

    /// <summary>
    /// Layer selection for one packet of an SVC stream. False when it is not forwarded; then its
    /// sequence number is skipped. <paramref name="endsPicture"/>: set the marker bit on the copy sent.
    /// </summary>
    private bool SelectSvc(ref RtpPacket packet, ReceiveStream stream, bool keyFrame, out bool endsPicture)
    {
        endsPicture = false;
        var sid = stream.LastSpatialLayer;
        var tid = stream.LastTemporalLayer;
        // A payload without layer indices (or a codec without them) is forwarded as it is.
        if (sid < 0 && tid < 0) return true;
        sid = Math.Max(0, sid);
        tid = Math.Max(0, tid);
        var newPicture = !_svcHavePicture || packet.Timestamp != _svcPictureTimestamp;
        if (newPicture)
        {
            _svcHavePicture = true;
            _svcPictureTimestamp = packet.Timestamp;
            var spatial = _svcCurrentSpatial;
            var temporal = _svcCurrentTemporal;
            if (keyFrame || spatial < 0)
            {
                // A key frame starts everything afresh; before the first one nothing is forwarded.
                if (keyFrame) (spatial, temporal) = (_svcTargetSpatial, _svcTargetTemporal);
            }
            else
            {
                if (_svcTargetSpatial < spatial) spatial = _svcTargetSpatial;
                if (_svcTargetTemporal < temporal) temporal = _svcTargetTemporal;
                else if (_svcTargetTemporal > temporal && stream.LastLayerSync && tid > temporal) temporal = Math.Min(tid, _svcTargetTemporal);
            }
            SetSvcCurrent(spatial, temporal);
        }
        if (_svcCurrentSpatial < 0)
        {
            // Waiting for the first key frame: the request may have been swallowed, ask again now and then.
            AskAgainWhileWaiting(Loop.Now);
            return false;
        }
        if (sid > _svcCurrentSpatial || tid > _svcCurrentTemporal)
        {
            DroppedSvcLayers++;
            SkipRtp(stream, packet.SequenceNumber);
            return false;
        }
        endsPicture = sid == _svcCurrentSpatial && stream.LastEndsFrame && _svcCurrentSpatial < _svcSpatialLayers - 1;
        return true;
    }

    private void SetSvcCurrent(int spatial, int temporal)
    {
        if (spatial == _svcCurrentSpatial && temporal == _svcCurrentTemporal) return;
        _svcCurrentSpatial = spatial;
        _svcCurrentTemporal = temporal;
        if (spatial < 0) return;
        var layers = new ConsumerLayers(spatial, temporal);
        if (layers == _currentLayers) return;
        _currentLayers = layers;
        Events.Emit(LayersChange, layers, _logger);
    }
}
