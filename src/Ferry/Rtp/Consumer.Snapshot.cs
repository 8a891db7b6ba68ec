using System.Text.Json;
using Ferry.Mobility;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Rtp;

/// <summary>
/// Export and import of a consumer's state (<see cref="ConsumerSnapshot"/>). An imported consumer continues
/// its output where the exported one stopped: same SSRCs, the same input-to-output mapping (a piped copy
/// of a producer carries the original's sequence numbers and timestamps, so the next packet continues the
/// numbering and what was already sent is dropped as a duplicate), the same layers and RTX sequence.
/// </summary>
public sealed partial class Consumer
{
    // Farther than this from the last input number forwarded, the first packet after an import is not the
    // numbering the exporting side forwarded (a source that renumbers): resynchronise instead of mapping it.
    private const int MaxImportedSeqDistance = 0x1000;

    // The sent packets a snapshot carries: those sent in this time before the newest. A NACK comes within a few round
    // trips of the loss, and senders keep about this much for it (libwebrtc's packet history: 1 s at least); older
    // entries would only make every consumer's snapshot larger (the whole ring: about 9 KB of JSON each).
    internal static readonly TimeSpan SentPacketsWindow = TimeSpan.FromSeconds(1);

    private bool _imported;

    /// <summary>
    /// This consumer's state at <paramref name="now"/> as plain data. Run on its loop; synchronous. The
    /// producer's packet store is not carried; the map of recent output packets is.
    /// </summary>
    internal ConsumerSnapshot ExportSnapshot(TimeSpan now)
    {
        Loop.AssertOnLoop();
        var preferred = _preferredLayers;
        return new ConsumerSnapshot
        {
            Id = Id, ProducerId = ProducerId,
            Kind = Kind == MediaKind.Audio ? "audio" : "video",
            Type = TypeName(Type),
            RtpParameters = JsonSerializer.Serialize(RtpParameters, OrtcJson.Default.RtpParameters),
            Paused = _paused, ProducerPaused = _producerPaused, Priority = _priority, IgnoreDtx = IgnoreDtx,
            PreferredSpatialLayer = preferred?.SpatialLayer, PreferredTemporalLayer = preferred?.TemporalLayer,
            Score = _score,
            Send = new SendStreamSnapshot
            {
                HaveSent = _haveSent, SyncRequired = _syncRequired, SeqOffset = _seqOffset, TimestampOffset = _tsOffset,
                SyncSeq = _syncSeq, LastInSeq = _lastInSeq, LastOutSeq = _lastOutSeq, LastOutTimestamp = _lastOutTs,
                LastSentAgeMicros = _haveSent ? Math.Max(0, (now - _lastSentAt).Ticks / 10) : -1,
                RtxSeq = _rtxSeq,
                PacketCount = PacketCount, ByteCount = ByteCount, PayloadByteCount = PayloadByteCount, RetransmittedPackets = RetransmittedPackets,
                NackCount = NackCount, PliCount = PliCount, FirCount = FirCount,
                FractionLost = FractionLost, PacketsLost = PacketsLost, Jitter = Jitter,
                RoundTripTimeMicros = RoundTripTime is { } rtt ? rtt.Ticks / 10 : -1,
                DescriptorState = _vp8?.ExportState() ?? _vp9?.ExportState(),
                Sent = ExportSentPackets(),
            },
            Simulcast = Type != ConsumerType.Simulcast ? null : new SimulcastSnapshot
            {
                CurrentSpatialLayer = _currentEncoding, TargetSpatialLayer = _targetEncoding,
                CurrentTemporalLayer = _currentTemporal, TargetTemporalLayer = _targetTemporal,
            },
            Svc = Type != ConsumerType.Svc ? null : new SvcSnapshot
            {
                CurrentSpatialLayer = _svcCurrentSpatial, CurrentTemporalLayer = _svcCurrentTemporal,
                TargetSpatialLayer = _svcTargetSpatial, TargetTemporalLayer = _svcTargetTemporal,
                PictureTimestamp = _svcPictureTimestamp, HavePicture = _svcHavePicture,
            },
            PipeStreams = Enumerable.Range(0, _pipeSsrcs.Length).Select(i => new PipeStreamSnapshot
            {
                RtxSeq = _pipeRtxSeqs[i], HaveSent = _pipeHaveSent[i], LastSeq = _pipeLastSeq[i], LastTimestamp = _pipeLastTs[i],
                LastSentAgeMicros = _pipeHaveSent[i] ? Math.Max(0, (now - _pipeLastSentAt[i]).Ticks / 10) : -1,
                Packets = _pipePackets[i], PayloadBytes = _pipePayloadBytes[i],
            }).ToArray(),
        };
    }

    /// <summary>
    /// The output slots still describing packets among the last <see cref="OutCapacity"/> sent, and sent at most
    /// <see cref="SentPacketsWindow"/> before the newest of them, oldest first. The window is measured from the newest
    /// packet, not the clock, so an export right after an import carries the same entries (and a paused stream's last second).
    /// </summary>
    private SentPacketsSnapshot ExportSentPackets()
    {
        if (!_haveSent || Type == ConsumerType.Pipe) return new SentPacketsSnapshot();
        var newest = _lastSentAt.Ticks;
        var oldest = newest;
        var outSeqs = new List<ushort>();
        for (var back = OutCapacity - 1; back >= 0; back--)
        {
            var outSeq = (ushort)(_lastOutSeq - back);
            var slot = outSeq % OutCapacity;
            if (!_outValid[slot] || _outSeqAt[slot] != outSeq || newest - _outSentAt[slot] > SentPacketsWindow.Ticks) continue;
            outSeqs.Add(outSeq);
            oldest = Math.Min(oldest, _outSentAt[slot]);
        }
        var slots = outSeqs.Select(s => s % OutCapacity).ToArray();
        return new SentPacketsSnapshot
        {
            SpanMicros = (newest - oldest) / 10,
            OutSeqs = [.. outSeqs],
            InSeqs = slots.Select(i => _outToInSeq[i]).ToArray(),
            TimestampOffsets = slots.Select(i => _outTsOffset[i]).ToArray(),
            Encodings = _outEncoding.Length > 0 ? slots.Select(i => _outEncoding[i]).ToArray() : [],
            PictureIds = _outPictureId.Length > 0 ? slots.Select(i => _outPictureId[i]).ToArray() : [],
            Tl0PicIdxs = _outTl0.Length > 0 ? slots.Select(i => _outTl0[i]).ToArray() : [],
        };
    }

    /// <summary>
    /// Takes over a snapshot's state, times rebased on <paramref name="now"/>. Call on the loop right after
    /// construction, before the consumer is registered anywhere.
    /// </summary>
    internal void ImportSnapshotState(ConsumerSnapshot s, TimeSpan now)
    {
        _priority = Math.Clamp(s.Priority, 1, 255);
        _score = Math.Clamp(s.Score, 0, 10);
        var send = s.Send;
        _haveSent = send.HaveSent;
        _syncRequired = send.SyncRequired || !send.HaveSent;
        _seqOffset = (ushort)send.SeqOffset;
        _tsOffset = send.TimestampOffset;
        _syncSeq = (ushort)send.SyncSeq;
        _lastInSeq = (ushort)send.LastInSeq;
        _lastOutSeq = (ushort)send.LastOutSeq;
        _lastOutTs = send.LastOutTimestamp;
        if (send.LastSentAgeMicros >= 0) _lastSentAt = now - TimeSpan.FromTicks(send.LastSentAgeMicros * 10);
        _rtxSeq = (ushort)send.RtxSeq;
        PacketCount = send.PacketCount;
        ByteCount = send.ByteCount;
        PayloadByteCount = send.PayloadByteCount;
        RetransmittedPackets = send.RetransmittedPackets;
        NackCount = send.NackCount;
        PliCount = send.PliCount;
        FirCount = send.FirCount;
        FractionLost = (byte)Math.Clamp(send.FractionLost, 0, 255);
        PacketsLost = send.PacketsLost;
        Jitter = send.Jitter;
        RoundTripTime = send.RoundTripTimeMicros >= 0 ? TimeSpan.FromTicks(send.RoundTripTimeMicros * 10) : null;
        if (send.DescriptorState is { } descriptor)
        {
            _vp8?.ImportState(descriptor);
            _vp9?.ImportState(descriptor);
        }
        ImportSentPackets(send.Sent);
        if (s.Simulcast is { } sim && Type == ConsumerType.Simulcast)
        {
            _currentEncoding = Math.Clamp(sim.CurrentSpatialLayer, -1, _encodingCount - 1);
            _targetEncoding = Math.Clamp(sim.TargetSpatialLayer, 0, _encodingCount - 1);
            _currentTemporal = sim.CurrentTemporalLayer;
            _targetTemporal = sim.TargetTemporalLayer;
            if (_currentEncoding >= 0) _currentLayers = new ConsumerLayers(_currentEncoding, Math.Max(0, _currentTemporal));
        }
        if (s.Svc is { } svc && Type == ConsumerType.Svc)
        {
            _svcCurrentSpatial = Math.Clamp(svc.CurrentSpatialLayer, -1, _svcSpatialLayers - 1);
            _svcCurrentTemporal = svc.CurrentTemporalLayer;
            _svcTargetSpatial = Math.Clamp(svc.TargetSpatialLayer, 0, _svcSpatialLayers - 1);
            _svcTargetTemporal = Math.Clamp(svc.TargetTemporalLayer, 0, _svcTemporalLayers - 1);
            _svcPictureTimestamp = svc.PictureTimestamp;
            _svcHavePicture = svc.HavePicture;
            if (_svcCurrentSpatial >= 0) _currentLayers = new ConsumerLayers(_svcCurrentSpatial, _svcCurrentTemporal);
        }
        for (var i = 0; i < _pipeSsrcs.Length && i < s.PipeStreams.Count; i++)
        {
            var p = s.PipeStreams[i];
            _pipeRtxSeqs[i] = (ushort)p.RtxSeq;
            _pipeHaveSent[i] = p.HaveSent;
            _pipeLastSeq[i] = (ushort)p.LastSeq;
            _pipeLastTs[i] = p.LastTimestamp;
            if (p.LastSentAgeMicros >= 0) _pipeLastSentAt[i] = now - TimeSpan.FromTicks(p.LastSentAgeMicros * 10);
            _pipePackets[i] = p.Packets;
            _pipePayloadBytes[i] = p.PayloadBytes;
        }
        if (!_syncRequired)
        {
            // As after a switch to another copy of the producer: what the exporting side already forwarded
            // arrives here too and goes out once; the first packet is checked for the numbering.
            _dedupUntil = _lastInSeq;
            _dedupActive = true;
            _imported = true;
        }
    }

    private void ImportSentPackets(SentPacketsSnapshot sent)
    {
        var n = sent.OutSeqs.Length;
        if (sent.InSeqs.Length != n || sent.TimestampOffsets.Length != n) return;
        // Only the oldest and newest send times travel: the others are spread evenly between them (they only decide
        // what a later export still carries, and are off by less than the window).
        var span = Math.Clamp(sent.SpanMicros, 0, SentPacketsWindow.Ticks / 10) * 10;
        for (var i = 0; i < n; i++)
        {
            var outSeq = sent.OutSeqs[i];
            var slot = outSeq % OutCapacity;
            _outSentAt[slot] = _lastSentAt.Ticks - (n > 1 ? span * (n - 1 - i) / (n - 1) : 0);
            _outSeqAt[slot] = outSeq;
            _outToInSeq[slot] = sent.InSeqs[i];
            _outTsOffset[slot] = sent.TimestampOffsets[i];
            // Answerable only where the producer keeps packets (video with NACK), as when they were sent.
            _outValid[slot] = true;
            if (_outEncoding.Length > 0 && sent.Encodings.Length == n) _outEncoding[slot] = sent.Encodings[i];
            if (_outPictureId.Length > 0 && sent.PictureIds.Length == n) _outPictureId[slot] = sent.PictureIds[i];
            if (_outTl0.Length > 0 && sent.Tl0PicIdxs.Length == n) _outTl0[slot] = sent.Tl0PicIdxs[i];
        }
    }

    /// <summary>After registration: a consumer that was waiting for a sync point asks for a key frame here too.</summary>
    internal void OnImported()
    {
        if (_syncRequired && IsActive) RequestKeyFrame();
    }

    /// <summary>The first packet forwarded after an import: far from the numbering exported, it starts a new sync point.</summary>
    private void CheckImportedSource(ushort seq)
    {
        _imported = false;
        if (_syncRequired || Math.Abs(SeqNum.Diff(seq, _lastInSeq)) <= MaxImportedSeqDistance) return;
        _dedupActive = false;
        _syncRequired = true;
    }

    internal static string TypeName(ConsumerType type) => type switch
    {
        ConsumerType.Simulcast => "simulcast",
        ConsumerType.Svc => "svc",
        ConsumerType.Pipe => "pipe",
        _ => "simple",
    };

    internal static ConsumerType? ParseType(string type) => type switch
    {
        "simple" => ConsumerType.Simple,
        "simulcast" => ConsumerType.Simulcast,
        "svc" => ConsumerType.Svc,
        "pipe" => ConsumerType.Pipe,
        _ => null,
    };
}
