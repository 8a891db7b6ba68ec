using System.Text;
using Ferry.Loop;
using Ferry.Protocols.Codecs;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Rtp;

/// <summary>
/// Media going out on a transport: one producer's stream (one simulcast layer at a time) rewritten
/// to the consumer's SSRC, with sequence numbers and timestamps kept continuous across pauses, layer
/// switches and changes of source; answers NACKs from the producer's packet store and turns PLI/FIR
/// into key frame requests. Lives on its router's loop.
/// </summary>
public sealed partial class Consumer
{
    private const int OutCapacity = PacketStore.Capacity;
    private static readonly TimeSpan MaxRetransmitAge = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger;
    private readonly byte[] _rtxPayloadTypeByMedia = new byte[128];
    private readonly bool[] _acceptedPayloadType = new bool[128];
    private readonly byte[] _midValue;
    private readonly ushort[] _outToInSeq = new ushort[OutCapacity];
    private readonly uint[] _outTsOffset = new uint[OutCapacity];
    private readonly ushort[] _outSeqAt = new ushort[OutCapacity];
    private readonly bool[] _outValid = new bool[OutCapacity];
    // When each was sent (loop ticks): a move's snapshot carries only the recent ones (what a NACK can still reach).
    private readonly long[] _outSentAt = new long[OutCapacity];
    private readonly int _encodingCount;
    private Producer? _producer;
    private volatile bool _paused;
    private volatile bool _producerPaused;
    private volatile bool _closed;
    private bool _syncRequired = true;
    private bool _haveSent;
    private ushort _seqOffset;
    private uint _tsOffset;
    private ushort _syncSeq;
    private ushort _lastOutSeq;
    private ushort _lastInSeq;
    private ushort _dedupUntil;
    private RateCounter _sendRate;

    /// <summary>Send bitrate over the last second.</summary>
    internal long Bitrate(TimeSpan now) => _sendRate.Rate(now);
    private bool _dedupActive;
    private uint _lastOutTs;
    private TimeSpan _lastSentAt;
    private ushort _rtxSeq = (ushort)Random.Shared.Next(0, 0x8000);
    private int _currentEncoding = -1;
    private int _targetEncoding;
    private volatile ConsumerLayers? _currentLayers;
    private volatile ConsumerLayers? _preferredLayers;
    private int _priority = 1;
    private int _score = 10;

    internal Consumer(Transport transport, Producer producer, ConsumerOptions options, RtpParameters rtpParameters, ConsumerType type, string? id = null)
    {
        Transport = transport;
        _producer = producer;
        Id = id ?? Guid.NewGuid().ToString();
        ProducerId = producer.Id;
        Kind = producer.Kind;
        RtpParameters = rtpParameters;
        Type = type;
        AppData = options.AppData;
        IgnoreDtx = options.IgnoreDtx;
        _paused = options.Paused;
        _producerPaused = producer.Paused;
        _logger = transport.Router.Worker.LoggerFactory.CreateLogger<Consumer>();
        var encoding = rtpParameters.Encodings![0];
        Ssrc = encoding.Ssrc ?? throw new InvalidOperationException("consumer encoding without ssrc");
        RtxSsrc = encoding.Rtx?.Ssrc;
        var media = rtpParameters.Codecs[0];
        ClockRate = (uint)media.ClockRate;
        Codec = PayloadCodecs.FromMimeType(media.MimeType);
        KeyFrameSupported = PayloadCodecs.SupportsKeyFrames(Codec);
        foreach (var c in rtpParameters.Codecs)
        {
            if (c.MimeType.EndsWith("/rtx", StringComparison.OrdinalIgnoreCase))
            {
                if (c.Parameters is { } p && p.TryGetValue("apt", out var apt) && apt.TryGetInt(out var a) && a is >= 0 and < 128)
                    _rtxPayloadTypeByMedia[a] = (byte)c.PayloadType;
            }
            else
            {
                _acceptedPayloadType[c.PayloadType] = true;
            }
        }
        foreach (var ext in rtpParameters.HeaderExtensions ?? [])
        {
            switch (ext.Uri)
            {
                case RtpHeaderExtensionUris.Mid: MidExtensionId = ext.Id; break;
                case RtpHeaderExtensionUris.AbsSendTime: AbsSendTimeExtensionId = ext.Id; break;
                case RtpHeaderExtensionUris.TransportWideCc01: TransportWideCcExtensionId = ext.Id; break;
            }
        }
        _midValue = Encoding.ASCII.GetBytes(rtpParameters.Mid ?? "");
        _encodingCount = producer.Streams.Length;
        if (type == ConsumerType.Pipe) InitPipe(rtpParameters);
        if (type == ConsumerType.Simulcast) InitSimulcast(producer, options);
        else if (type == ConsumerType.Svc) InitSvc(producer, options);
        InitBwe();
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }
    /// <summary>The producer consumed.</summary>
    public string ProducerId { get; }
    /// <summary>audio or video.</summary>
    public MediaKind Kind { get; }
    /// <summary>What the endpoint receives (mediasoup's rules for its rtpCapabilities).</summary>
    public RtpParameters RtpParameters { get; }
    /// <summary>simple, simulcast, svc or pipe.</summary>
    public ConsumerType Type { get; }
    /// <summary>The transport it is sent on.</summary>
    public Transport Transport { get; }
    /// <summary>Application data.</summary>
    public object? AppData { get; set; }
    /// <summary>True while paused by the application.</summary>
    public bool Paused => _paused;
    /// <summary>True while its producer is paused.</summary>
    public bool ProducerPaused => _producerPaused;
    /// <summary>True once closed.</summary>
    public bool Closed => _closed;
    /// <summary>
    /// Priority in the transport's bandwidth allocation (1..255, default 1): higher priorities choose their
    /// layers first and climb up to this many layers per round of the allocation.
    /// </summary>
    public int Priority => _priority;
    /// <summary>The layers the application prefers (simulcast/svc), null for simple consumers.</summary>
    public ConsumerLayers? PreferredLayers => _preferredLayers;
    /// <summary>The layers being forwarded, null when nothing is.</summary>
    public ConsumerLayers? CurrentLayers => _currentLayers;
    /// <summary>The current score.</summary>
    public ConsumerScore Score
    {
        get
        {
            var producerScores = _producer?.Streams.Select(s => s.Score).ToList() ?? [];
            var current = _currentEncoding >= 0 && _currentEncoding < producerScores.Count ? producerScores[_currentEncoding] : producerScores.FirstOrDefault();
            return new ConsumerScore(_score, current, producerScores);
        }
    }

    /// <summary>Raised when it closes because its transport closed.</summary>
    public event Action? TransportClose;
    /// <summary>Raised when it closes because its producer closed.</summary>
    public event Action? ProducerClose;
    /// <summary>Raised when the producer pauses.</summary>
    public event Action? ProducerPause;
    /// <summary>Raised when the producer resumes.</summary>
    public event Action? ProducerResume;
    /// <summary>Raised when the forwarded layers change (null: nothing forwarded).</summary>
    public event Action<ConsumerLayers?>? LayersChange;
    /// <summary>Raised when the score changes.</summary>
    public event Action<ConsumerScore>? ScoreChange;
    /// <summary>Raised when it closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised when it becomes effectively paused.</summary>
    public event Action? ObserverPause;
    /// <summary>Raised when it becomes effectively active again.</summary>
    public event Action? ObserverResume;
    /// <summary>Each RTP packet sent, for consumers on a DirectTransport (raised on the worker thread).</summary>
    public event Action<byte[]>? Rtp;

    internal uint Ssrc { get; }
    internal uint? RtxSsrc { get; }
    internal uint ClockRate { get; }
    internal CodecKind Codec { get; }
    internal bool KeyFrameSupported { get; }
    internal bool IgnoreDtx { get; }
    internal int MidExtensionId { get; }
    internal int AbsSendTimeExtensionId { get; }
    internal int TransportWideCcExtensionId { get; }
    internal EventLoop Loop => Transport.Loop;
    internal long PacketCount { get; private set; }
    internal long ByteCount { get; private set; }
    internal long PayloadByteCount { get; private set; }
    internal long RetransmittedPackets { get; private set; }
    internal long NackCount { get; private set; }
    internal long PliCount { get; private set; }
    internal long FirCount { get; private set; }
    internal byte FractionLost { get; private set; }
    internal int PacketsLost { get; private set; }
    internal uint Jitter { get; private set; }
    internal TimeSpan? RoundTripTime { get; private set; }
    internal Producer? Producer => _producer;
    internal bool HasSent => _haveSent;
    internal bool HasRtxListener => Rtp is not null;

    private bool IsActive => !_paused && !_producerPaused && !_closed && _producer is not null && Transport.IsConnected;

    /// <summary>Runs an API call on the loop; once closed it fails with InvalidStateException, as mediasoup's methods on a closed entity.</summary>
    private Task<T> InvokeOpenAsync<T>(Func<T> func) => Transport.InvokeAsync(() => _closed ? throw new InvalidStateException("Consumer closed") : func());

    private Task InvokeOpenAsync(Action action) => InvokeOpenAsync(() =>
    {
        action();
        return true;
    });

    /// <summary>Pauses sending.</summary>
    public Task PauseAsync() => InvokeOpenAsync(() => SetPaused(true));

    /// <summary>Resumes sending; asks the producer for a key frame and resynchronises.</summary>
    public Task ResumeAsync() => InvokeOpenAsync(() => SetPaused(false));

    /// <summary>Closes the consumer.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : Transport.InvokeAsync(() => Transport.CloseConsumerOnLoop(this, ConsumerCloseReason.Closed));

    /// <summary>Asks the producer for a key frame.</summary>
    public Task RequestKeyFrameAsync() => InvokeOpenAsync(RequestKeyFrame);

    /// <summary>Sets the preferred layers (clamped to what the producer has); simple consumers ignore it.</summary>
    /// <exception cref="ArgumentException">A negative layer.</exception>
    public Task SetPreferredLayersAsync(ConsumerLayers layers)
    {
        if (layers.SpatialLayer < 0 || layers.TemporalLayer < 0) throw new ArgumentException("invalid layers");
        return InvokeOpenAsync(() =>
        {
            if (Type == ConsumerType.Svc)
            {
                _preferredLayers = new ConsumerLayers(Math.Min(layers.SpatialLayer, _svcSpatialLayers - 1), layers.TemporalLayer);
                UpdateSvcTarget();
                return;
            }
            if (Type != ConsumerType.Simulcast) return;
            _preferredLayers = new ConsumerLayers(Math.Min(layers.SpatialLayer, _encodingCount - 1), layers.TemporalLayer);
            UpdateTargetLayer(Loop.Now);
            Transport.RequestAllocation();
        });
    }

    /// <summary>A mediasoup-style dump.</summary>
    public Task<ConsumerDump> DumpAsync() => InvokeOpenAsync(() => new ConsumerDump
    {
        Id = Id, ProducerId = ProducerId, Kind = Kind, Type = Type, RtpParameters = RtpParameters, Paused = _paused, ProducerPaused = _producerPaused, Priority = _priority,
        SupportedCodecPayloadTypes = Enumerable.Range(0, 128).Where(pt => _acceptedPayloadType[pt]).ToList(),
        RtpStream = new RtpStreamDump(0, Ssrc, null, null, RtxSsrc, _score, PacketCount),
        PreferredSpatialLayer = _preferredLayers?.SpatialLayer, PreferredTemporalLayer = _preferredLayers?.TemporalLayer,
        CurrentSpatialLayer = _currentLayers?.SpatialLayer, CurrentTemporalLayer = _currentLayers?.TemporalLayer,
        TargetSpatialLayer = Type == ConsumerType.Simulcast ? _targetEncoding : Type == ConsumerType.Svc ? _svcTargetSpatial : null,
        TargetTemporalLayer = Type == ConsumerType.Simulcast ? _targetTemporal : Type == ConsumerType.Svc ? _svcTargetTemporal : null,
    });

    /// <summary>Sets the priority (1..255).</summary>
    /// <exception cref="ArgumentException">Out of range.</exception>
    public Task SetPriorityAsync(int priority)
    {
        if (priority is < 1 or > 255) throw new ArgumentException("invalid priority");
        return InvokeOpenAsync(() =>
        {
            _priority = priority;
            Transport.RequestAllocation();
        });
    }

    /// <summary>Back to the default priority, 1 (mediasoup's unsetPriority).</summary>
    public Task UnsetPriorityAsync() => SetPriorityAsync(1);

    /// <summary>Statistics: the outbound stream, then the producer stream being forwarded (mediasoup's shape).</summary>
    public Task<IReadOnlyList<RtpStreamStats>> GetStatsAsync() => InvokeOpenAsync(() =>
    {
        var list = new List<RtpStreamStats> { RtpStreamStats.Outbound(this, Loop.Now) };
        if (_producer is { } p)
        {
            var index = _currentEncoding >= 0 ? _currentEncoding : 0;
            if (index < p.Streams.Length && p.Streams[index].HasPackets)
                list.Add(RtpStreamStats.Inbound(p.Streams[index], Kind, RtpParameters.Codecs[0].MimeType, Loop.Now));
        }
        return (IReadOnlyList<RtpStreamStats>)list;
    });

    private void SetPaused(bool paused)
    {
        if (_closed || _paused == paused) return;
        var wasActive = !_paused && !_producerPaused;
        _paused = paused;
        if (!paused) Resync();
        else ForgetCurrentLayers();
        Transport.RequestAllocation();
        if (_producerPaused) return;
        if (wasActive && paused) Events.Emit(ObserverPause, _logger);
        else if (!wasActive && !paused) Events.Emit(ObserverResume, _logger);
    }

    internal void OnProducerPaused(bool paused)
    {
        if (_producerPaused == paused) return;
        _producerPaused = paused;
        if (!paused) Resync();
        else ForgetCurrentLayers();
        Transport.RequestAllocation();
        Events.Emit(paused ? ProducerPause : ProducerResume, _logger);
        if (!_paused) Events.Emit(paused ? ObserverPause : ObserverResume, _logger);
    }

    /// <summary>The transport became connected: the endpoint needs a key frame to start.</summary>
    internal void OnTransportConnected() => Resync();

    /// <summary>
    /// A simulcast or SVC consumer that stops forwarding (it or its producer paused) has no current layers:
    /// <see cref="LayersChange"/> with null, as mediasoup's layerschange without layers (before its
    /// producerpause). The first picture forwarded after the resume sets them again.
    /// </summary>
    private void ForgetCurrentLayers()
    {
        if (Type == ConsumerType.Simulcast) (_currentEncoding, _currentTemporal) = (-1, -1);
        else if (Type == ConsumerType.Svc) (_svcCurrentSpatial, _svcCurrentTemporal, _svcHavePicture) = (-1, -1, false);
        else return;
        if (_currentLayers is null) return;
        _currentLayers = null;
        Events.Emit(LayersChange, null, _logger);
    }

    private void Resync()
    {
        _syncRequired = true;
        if (Type == ConsumerType.Simulcast) _currentEncoding = -1;
        if (Type == ConsumerType.Svc) (_svcCurrentSpatial, _svcHavePicture) = (-1, false);
        if (IsActive) RequestKeyFrame();
    }

    private void RequestKeyFrame()
    {
        if (Kind != MediaKind.Video || _producer is not { } p) return;
        var now = Loop.Now;
        _lastKeyFrameAsk = now;
        if (Type == ConsumerType.Simulcast) p.RequestKeyFrameMapped(p.Streams[_targetEncoding].MappedSsrc, now);
        else p.RequestKeyFrameForAll();
    }

    // A sender may swallow a key frame request (Chrome ignores one that comes within 300 ms of the last
    // it honoured), and the producer's request manager retries only when asked again: a consumer still
    // waiting while delta frames arrive asks again, at most once per interval.
    private static readonly TimeSpan KeyFrameAskInterval = TimeSpan.FromSeconds(1);
    private TimeSpan _lastKeyFrameAsk;

    private void AskAgainWhileWaiting(TimeSpan now)
    {
        if (now - _lastKeyFrameAsk >= KeyFrameAskInterval) RequestKeyFrame();
    }

    /// <summary>
    /// Forwards one packet of the producer (already in the router's space). Copies it into the
    /// transport's send buffer, rewrites it there and sends it; the producer's buffer is untouched.
    /// </summary>
    /// <summary>Packets not forwarded: consumer inactive, older than the sync point, duplicates after a source switch.</summary>
    internal long DroppedInactive, DroppedBeforeSync, DroppedDuplicate;

    internal void SendRtp(ref RtpPacket packet, ReceiveStream stream, bool keyFrame, TimeSpan now)
    {
        if (!IsActive) { DroppedInactive++; return; }
        if (!_acceptedPayloadType[packet.PayloadType] || (IgnoreDtx && Codec == CodecKind.Opus && packet.PayloadLength <= 2))
        {
            SkipRtp(stream, packet.SequenceNumber);
            return;
        }
        if (Type == ConsumerType.Pipe) { SendPipeRtp(ref packet, stream, now); return; }
        if (Type == ConsumerType.Simulcast && !SelectSimulcast(ref packet, stream, keyFrame)) return;
        var endsPicture = false;
        if (Type == ConsumerType.Svc && !SelectSvc(ref packet, stream, keyFrame, out endsPicture)) return;
        var seq = packet.SequenceNumber;
        if (_imported) CheckImportedSource(seq);
        if (_syncRequired)
        {
            if (KeyFrameSupported && !keyFrame) { AskAgainWhileWaiting(now); return; }
            if (_haveSent)
            {
                _seqOffset = (ushort)(_lastOutSeq + 1 - seq);
                // Continue the timeline from the last packet sent, advanced by the wall time since.
                var elapsed = (uint)Math.Max(1, (now - _lastSentAt).Ticks * ClockRate / TimeSpan.TicksPerSecond);
                _tsOffset = _lastOutTs + elapsed - packet.Timestamp;
            }
            else
            {
                // mediasoup starts the output at a random offset in [1000, 32767] (libsrtp dislikes low starts).
                _seqOffset = (ushort)(Random.Shared.Next(1000, 32768) - seq);
                _tsOffset = 0;
            }
            _syncSeq = seq;
            _lastInSeq = seq;
            _syncRequired = false;
            ResyncDescriptors();
        }
        else if (SeqNum.IsNewer(_syncSeq, seq))
        {
            // Older than the point we synced at: it belongs to the previous source.
            DroppedBeforeSync++;
            return;
        }
        else if (_dedupActive)
        {
            // Just switched to another path of the same producer (a move): what the old path already
            // delivered arrives again on the new one and is forwarded once (the RFC 7198 idea).
            if (!SeqNum.IsNewer(seq, _dedupUntil)) { DroppedDuplicate++; return; }
            _dedupActive = false;
        }
        if (SeqNum.IsNewer(seq, _lastInSeq)) _lastInSeq = seq;
        var outSeq = (ushort)(seq + _seqOffset);
        var length = Rewrite(packet.Data, outSeq, _tsOffset, now, out var outTs, DescriptorRewrite.Fresh);
        if (length < 0) return;
        // The highest layer forwarded ends the picture the receiver sees (RTP marker bit).
        if (endsPicture) Transport.SendBuffer[1] |= 0x80;
        if (!_haveSent || SeqNum.IsNewer(outSeq, _lastOutSeq))
        {
            _lastOutSeq = outSeq;
            _lastOutTs = outTs;
            _lastSentAt = now;
            _haveSent = true;
        }
        var slot = outSeq % OutCapacity;
        _outSeqAt[slot] = outSeq;
        _outToInSeq[slot] = seq;
        _outTsOffset[slot] = _tsOffset;
        _outValid[slot] = stream.Store is not null;
        _outSentAt[slot] = now.Ticks;
        if (_outEncoding.Length > 0) _outEncoding[slot] = (byte)stream.EncodingIndex;
        PacketCount++;
        ByteCount += length;
        _sendRate.Add(length, now);
        PayloadByteCount += packet.PayloadLength;
        Transport.SendRtpFromConsumer(this, length);
    }

    /// <summary>
    /// A packet of the forwarded stream that is deliberately not sent (padding-only probing, DTX,
    /// a codec the endpoint lacks): later packets shift down by one so the endpoint sees no gap
    /// and counts no loss. Only in-order skips shift; an old packet's number is already spoken for.
    /// </summary>
    internal void SkipRtp(ReceiveStream stream, ushort seq)
    {
        if (!_haveSent || _syncRequired || !IsActive) return;
        if (Type == ConsumerType.Simulcast && stream.EncodingIndex != _currentEncoding) return;
        if (!SeqNum.IsNewer(seq, _lastInSeq)) return;
        _lastInSeq = seq;
        _seqOffset--;
    }

    /// <summary>Copies <paramref name="source"/> into the transport's send buffer and applies this consumer's rewrite; returns the length.</summary>
    private int Rewrite(ReadOnlySpan<byte> source, ushort outSeq, uint tsOffset, TimeSpan now, out uint outTs, DescriptorRewrite descriptor)
    {
        var buffer = Transport.SendBuffer;
        source.CopyTo(buffer);
        outTs = 0;
        if (!RtpPacket.TryParse(buffer, source.Length, out var outPacket)) return -1;
        // Before any header extension changes size, so the payload is where the parse found it.
        if (descriptor != DescriptorRewrite.None && (_vp8 is not null || _vp9 is not null))
            RewriteDescriptor(outPacket.Payload, outSeq % OutCapacity, descriptor == DescriptorRewrite.Retransmission);
        outPacket.Ssrc = Ssrc;
        outPacket.SequenceNumber = outSeq;
        outTs = outPacket.Timestamp + tsOffset;
        outPacket.Timestamp = outTs;
        if (MidExtensionId != 0 && _midValue.Length > 0) outPacket.TryAddOrReplaceExtension(MidExtensionId, _midValue);
        if (AbsSendTimeExtensionId != 0)
        {
            Span<byte> abs = stackalloc byte[3];
            RtpExtensionValues.TryWriteAbsSendTime(abs, RtpExtensionValues.ToAbsSendTime(now));
            outPacket.TryAddOrReplaceExtension(AbsSendTimeExtensionId, abs);
        }
        if (TransportWideCcExtensionId != 0)
        {
            Span<byte> tcc = stackalloc byte[2];
            RtpExtensionValues.TryWriteTransportWideSequence(tcc, Transport.NextTransportWideSequence());
            outPacket.TryAddOrReplaceExtension(TransportWideCcExtensionId, tcc);
        }
        return outPacket.Length;
    }

    /// <summary>A NACK from the endpoint: resend what the producer's store still holds, as RTX when negotiated.</summary>
    internal void ReceiveNack(ReadOnlySpan<ushort> lost, TimeSpan now)
    {
        NackCount++;
        if (_producer is not { } p || _closed) return;
        foreach (var outSeq in lost)
        {
            var slot = outSeq % OutCapacity;
            if (!_outValid[slot] || _outSeqAt[slot] != outSeq) continue;
            // A simulcast consumer's packet came from whichever stream it forwarded then.
            var index = _outEncoding.Length > 0 ? _outEncoding[slot] : 0;
            if (index >= p.Streams.Length || p.Streams[index].Store is not { } store) continue;
            if (!store.TryGet(_outToInSeq[slot], now, MaxRetransmitAge, out var original)) continue;
            var length = Rewrite(original, outSeq, _outTsOffset[slot], now, out _, DescriptorRewrite.Retransmission);
            if (length < 0) continue;
            if (RtxSsrc is { } rtxSsrc)
            {
                if (!RtpPacket.TryParse(Transport.SendBuffer, length, out var rtx)) continue;
                var rtxPt = _rtxPayloadTypeByMedia[rtx.PayloadType];
                if (rtxPt == 0 || !rtx.TryEncodeRtx(rtxPt, rtxSsrc, _rtxSeq++)) continue;
                length = rtx.Length;
            }
            RetransmittedPackets++;
            Transport.SendRtpFromConsumer(this, length, retransmission: true);
        }
    }

    internal void ReceiveKeyFrameRequest(bool fir)
    {
        if (fir) FirCount++;
        else PliCount++;
        if (IsActive) RequestKeyFrame();
    }

    internal void ReceiveReportBlock(in ReportBlock block, TimeSpan now, uint arrivalCompact)
    {
        FractionLost = block.FractionLost;
        PacketsLost = block.CumulativeLost;
        Jitter = block.Jitter;
        if (NtpTime.RoundTrip(arrivalCompact, block.LastSenderReport, block.DelaySinceLastSenderReport) is { } rtt) RoundTripTime = rtt;
        var score = Math.Clamp((int)Math.Round(10 * (1 - block.FractionLost / 256.0 * 4)), 0, 10);
        if (score != _score)
        {
            _score = score;
            Events.Emit(ScoreChange, Score, _logger);
        }
    }

    /// <summary>Writes this consumer's sender report at <paramref name="ntp"/>; 0 when it has sent nothing.</summary>
    internal int WriteSenderReport(Span<byte> destination, ulong ntp, TimeSpan now)
    {
        if (Type == ConsumerType.Pipe) return WritePipeSenderReports(destination, ntp, now);
        if (!_haveSent) return 0;
        var rtpTs = _lastOutTs + (uint)((now - _lastSentAt).Ticks * ClockRate / TimeSpan.TicksPerSecond);
        return SenderReport.Write(destination, Ssrc, ntp, rtpTs, (uint)PacketCount, (uint)PayloadByteCount, []);
    }

    /// <summary>
    /// Feeds this consumer from another copy of the same producer (the original or a replica in
    /// this consumer's router) from the next packet on; the same input numbers keep the output
    /// continuous, duplicates from the overlap are dropped. Call with both producers' loops stopped.
    /// </summary>
    internal void SwitchSource(Producer source)
    {
        _producer = source;
        if (_haveSent && !_syncRequired)
        {
            _dedupUntil = _lastInSeq;
            _dedupActive = true;
        }
    }

    internal void OnProducerClosed()
    {
        _producer = null;
        Transport.CloseConsumerOnLoop(this, ConsumerCloseReason.ProducerClosed);
    }

    internal void CloseOnLoop(ConsumerCloseReason reason)
    {
        if (_closed) return;
        _closed = true;
        _producer?.RemoveConsumer(this);
        _producer = null;
        if (reason == ConsumerCloseReason.TransportClosed) Events.Emit(TransportClose, _logger);
        else if (reason == ConsumerCloseReason.ProducerClosed) Events.Emit(ProducerClose, _logger);
        Events.Emit(ObserverClose, _logger);
    }

    internal void EmitRtp(ReadOnlySpan<byte> packet)
    {
        if (Rtp is { } handler) Events.Emit(handler, packet.ToArray(), _logger);
    }
}

/// <summary>What a consumer's rewrite does to a VP8/VP9 payload descriptor.</summary>
internal enum DescriptorRewrite : byte
{
    /// <summary>Left as it is.</summary>
    None,
    /// <summary>A packet sent the first time: the next continuous values.</summary>
    Fresh,
    /// <summary>A retransmission: the values the packet first went out with.</summary>
    Retransmission,
}

/// <summary>Why a consumer closed.</summary>
internal enum ConsumerCloseReason : byte
{
    Closed,
    TransportClosed,
    ProducerClosed,
}
