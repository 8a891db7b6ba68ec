using Ferry.Loop;
using Ferry.Ortc;
using Ferry.Protocols.Codecs;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Recovery;
using Ferry.Protocols.Rtp;
using Ferry.RtpObservers;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Rtp;

/// <summary>
/// Media coming in on a transport: one stream per encoding, mapped into the router's payload types,
/// SSRCs and header extension ids, and handed to every consumer of it. Lives on its router's loop.
/// </summary>
public sealed partial class Producer
{
    private const byte NoMapping = 0xFF;

    private readonly byte[] _payloadTypeMap = new byte[128];
    private readonly byte[] _rtxToMediaPayloadType = new byte[128];
    private readonly bool[] _isRtxPayloadType = new bool[128];
    private readonly CodecKind[] _codecByMappedPayloadType = new CodecKind[128];
    private readonly byte[] _extensionIdMap = new byte[256];
    private readonly List<Consumer> _consumers = [];
    private readonly List<RtpObserver> _observers = [];
    private readonly KeyFrameRequestManager _keyFrames;
    private readonly LoopTimer _timer;
    private readonly ILogger _logger;
    private readonly uint[] _keyFrameSsrcs = new uint[16];
    private readonly ushort[] _nackScratch = new ushort[256];
    private volatile bool _paused;
    private volatile bool _closed;

    internal Producer(Transport transport, ProducerOptions options, RtpParameters rtpParameters, RtpMapping mapping, RtpParameters consumable, ProducerType type, Producer? origin = null)
    {
        Origin = origin;
        Transport = transport;
        Id = options.Id ?? Guid.NewGuid().ToString();
        Kind = options.Kind;
        RtpParameters = rtpParameters;
        RtpMapping = mapping;
        ConsumableRtpParameters = consumable;
        Type = type;
        AppData = options.AppData;
        _paused = options.Paused;
        _logger = transport.Router.Worker.LoggerFactory.CreateLogger<Producer>();
        _keyFrames = new KeyFrameRequestManager(options.KeyFrameRequestDelay);
        _timer = transport.CreateOwnedTimer(OnTimer);

        Array.Fill(_payloadTypeMap, NoMapping);
        foreach (var m in mapping.Codecs) _payloadTypeMap[m.PayloadType] = (byte)m.MappedPayloadType;
        foreach (var codec in rtpParameters.Codecs)
        {
            var mapped = _payloadTypeMap[codec.PayloadType];
            if (codec.MimeType.EndsWith("/rtx", StringComparison.OrdinalIgnoreCase))
            {
                _isRtxPayloadType[codec.PayloadType] = true;
                if (codec.Parameters is { } p && p.TryGetValue("apt", out var apt) && apt.TryGetInt(out var aptValue) && aptValue is >= 0 and < 128)
                    _rtxToMediaPayloadType[codec.PayloadType] = (byte)aptValue;
            }
            else if (mapped != NoMapping)
            {
                _codecByMappedPayloadType[mapped] = PayloadCodecs.FromMimeType(codec.MimeType);
            }
        }
        BuildExtensionMap(rtpParameters, transport.Router.RtpCapabilities);
        var nackEnabled = Kind == MediaKind.Video && rtpParameters.Codecs.Any(c => c.RtcpFeedback?.Any(f => f.Type == "nack" && string.IsNullOrEmpty(f.Parameter)) == true);
        var mediaCodec = rtpParameters.Codecs.First(c => !c.MimeType.EndsWith("/rtx", StringComparison.OrdinalIgnoreCase));
        var encodings = rtpParameters.Encodings ?? [];
        var streams = new ReceiveStream[encodings.Count];
        for (var i = 0; i < encodings.Count; i++)
        {
            var e = encodings[i];
            // A replica's packets come through an in-memory pipe that loses nothing: no NACKs to send.
            streams[i] = new ReceiveStream(i, e.Ssrc, e.Rid, mapping.Encodings[i].MappedSsrc, (uint)mediaCodec.ClockRate, nackEnabled && origin is null ? new NackGenerator() : null)
            {
                RtxSsrc = e.Rtx?.Ssrc,
                Store = nackEnabled ? new PacketStore() : null,
            };
        }
        Streams = streams;
        UsePli = rtpParameters.Codecs.Any(c => c.RtcpFeedback?.Any(f => f.Type == "nack" && f.Parameter == "pli") == true);
        UseFir = rtpParameters.Codecs.Any(c => c.RtcpFeedback?.Any(f => f.Type == "ccm" && f.Parameter == "fir") == true);
    }

    /// <summary>Unique id (kept when piped to another router).</summary>
    public string Id { get; }

    /// <summary>audio or video.</summary>
    public MediaKind Kind { get; }

    /// <summary>The parameters the endpoint sends with, after validation and the CNAME rule.</summary>
    public RtpParameters RtpParameters { get; }

    /// <summary>simple, simulcast or svc.</summary>
    public ProducerType Type { get; }

    /// <summary>How the producer's payload types and SSRCs map into the router's.</summary>
    public RtpMapping RtpMapping { get; }

    /// <summary>The transport it arrives on.</summary>
    public Transport Transport { get; }

    /// <summary>Application data.</summary>
    public object? AppData { get; set; }

    /// <summary>True while paused.</summary>
    public bool Paused => _paused;

    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Per-stream scores, for streams that have received packets.</summary>
    public IReadOnlyList<ProducerScore> Score =>
        Streams.Where(s => s.HasPackets).Select(s => new ProducerScore(s.EncodingIndex, s.Ssrc, s.Rid, s.Score)).ToList();

    /// <summary>Raised when the producer closes because its transport closed.</summary>
    public event Action? TransportClose;
    /// <summary>Raised when the producer closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised (on the worker thread) when a stream's score changes, with every stream's score.</summary>
    public event Action<IReadOnlyList<ProducerScore>>? ScoreChange;

    /// <summary>Raised when paused.</summary>
    public event Action? ObserverPause;
    /// <summary>Raised when resumed.</summary>
    public event Action? ObserverResume;

    internal RtpParameters ConsumableRtpParameters { get; }

    /// <summary>For a replica (a copy of a producer in another router, fed through an in-memory pipe): the original.</summary>
    internal Producer? Origin { get; }

    /// <summary>For a replica: the pipe that feeds it.</summary>
    internal Mobility.LocalPipe? FeedingPipe { get; set; }

    /// <summary>
    /// For a replica: the application asked for it (pipeToRouter, ImportProducerAsync), so it stays
    /// while nothing consumes it. Replicas that moves create for themselves are removed when idle.
    /// </summary>
    internal bool Pinned { get; set; }

    /// <summary>For an origin: its replicas by router, each with the pipe that feeds it.</summary>
    internal System.Collections.Concurrent.ConcurrentDictionary<Router, Mobility.LocalPipe> Replicas { get; } = new();

    private readonly List<Mobility.LocalPipe> _sinks = [];

    /// <summary>Starts feeding a replica's pipe. Call on this producer's loop.</summary>
    internal void AddSink(Mobility.LocalPipe pipe) => _sinks.Add(pipe);

    /// <summary>Stops feeding a replica's pipe. Call on this producer's loop.</summary>
    internal void RemoveSink(Mobility.LocalPipe pipe)
    {
        if (_sinks.Remove(pipe)) pipe.WriterDetached();
    }

    internal int SinkCount => _sinks.Count;
    internal ReceiveStream[] Streams { get; }
    internal IReadOnlyList<Consumer> Consumers => _consumers;
    internal bool UsePli { get; }
    internal bool UseFir { get; }
    internal EventLoop Loop => Transport.Loop;

    /// <summary>Runs an API call on the loop; once closed it fails with InvalidStateException, as mediasoup's methods on a closed entity.</summary>
    private Task<T> InvokeOpenAsync<T>(Func<T> func) => Transport.InvokeAsync(() => _closed ? throw new InvalidStateException("Producer closed") : func());

    private Task InvokeOpenAsync(Action action) => InvokeOpenAsync(() =>
    {
        action();
        return true;
    });

    /// <summary>Stops forwarding to consumers; they see producerpause.</summary>
    public Task PauseAsync() => InvokeOpenAsync(() => SetPaused(true));

    /// <summary>Resumes forwarding; consumers see producerresume and ask for a key frame.</summary>
    public Task ResumeAsync() => InvokeOpenAsync(() => SetPaused(false));

    /// <summary>Closes the producer; its consumers close with producerclose.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : Transport.InvokeAsync(() => Transport.CloseProducerOnLoop(this, byTransport: false));

    /// <summary>Receive statistics of each stream (mediasoup's inbound-rtp stats).</summary>
    public Task<IReadOnlyList<RtpStreamStats>> GetStatsAsync() => InvokeOpenAsync(() =>
        (IReadOnlyList<RtpStreamStats>)Streams.Where(s => s.HasPackets).Select(s => RtpStreamStats.Inbound(s, Kind, MimeTypeOf(s), Loop.Now)).ToList());

    /// <summary>A mediasoup-style dump.</summary>
    public Task<ProducerDump> DumpAsync() => InvokeOpenAsync(() => new ProducerDump
    {
        Id = Id, Kind = Kind, Type = Type, RtpParameters = RtpParameters, RtpMapping = RtpMapping, Paused = _paused,
        RtpStreams = Streams.Select(s => new RtpStreamDump(s.EncodingIndex, s.Ssrc, s.Rid, s.MappedSsrc, s.RtxSsrc, s.Score, s.PacketCount)).ToList(),
    });

    /// <summary>Injects an RTP packet (DirectTransport producers only).</summary>
    /// <exception cref="InvalidStateException">The producer is not on a DirectTransport.</exception>
    public void Send(ReadOnlySpan<byte> rtpPacket)
    {
        if (Transport is not DirectTransport direct) throw new InvalidStateException("send() is for producers on a DirectTransport");
        direct.InjectRtp(rtpPacket);
    }

    private string MimeTypeOf(ReceiveStream s) => RtpParameters.Codecs[0].MimeType;

    private void SetPaused(bool paused)
    {
        if (_closed || _paused == paused) return;
        _paused = paused;
        foreach (var consumer in _consumers.ToArray()) consumer.OnProducerPaused(paused);
        foreach (var observer in _observers.ToArray()) observer.ProducerPauseChanged(this, paused);
        if (!paused) RequestKeyFrameForAll();
        foreach (var pipe in Replicas.Values)
        {
            var replica = pipe.Replica;
            replica.Transport.Post(() => replica.SetPaused(paused));
        }
        Events.Emit(paused ? ObserverPause : ObserverResume, _logger);
    }

    private int[]? _lastScores;

    /// <summary>After the streams' scores were recomputed (each report interval): raise ScoreChange when one moved.</summary>
    internal void OnScoresUpdated()
    {
        _lastScores ??= new int[Streams.Length];
        var changed = false;
        for (var i = 0; i < Streams.Length; i++)
        {
            if (!Streams[i].HasPackets || Streams[i].Score == _lastScores[i]) continue;
            _lastScores[i] = Streams[i].Score;
            changed = true;
        }
        if (changed && ScoreChange is { } handler) Events.Emit(handler, Score, _logger);
    }

    internal void AddConsumer(Consumer consumer) => _consumers.Add(consumer);

    internal void RemoveConsumer(Consumer consumer) => _consumers.Remove(consumer);

    internal void AddObserver(RtpObserver observer) => _observers.Add(observer);

    internal IReadOnlyList<RtpObserver> Observers => _observers;

    internal void RemoveObserver(RtpObserver observer) => _observers.Remove(observer);

    /// <summary>The router's id of ssrc-audio-level when this (audio) producer sends it, else 0.</summary>
    internal int AudioLevelExtensionId { get; private set; }

    /// <summary>Maps each extension id the endpoint uses to the router's id for that URI; mid, rid, rrid and the transport-wide sequence number are blanked (consumers write their own).</summary>
    private void BuildExtensionMap(RtpParameters parameters, RtpCapabilities router)
    {
        foreach (var ext in parameters.HeaderExtensions ?? [])
        {
            if (ext.Id is < 1 or > 255) continue;
            switch (ext.Uri)
            {
                case RtpHeaderExtensionUris.Mid: MidExtensionId = ext.Id; continue;
                case RtpHeaderExtensionUris.RtpStreamId: RidExtensionId = ext.Id; continue;
                case RtpHeaderExtensionUris.RepairedRtpStreamId: RepairedRidExtensionId = ext.Id; continue;
                // The endpoint's transport-wide numbering means nothing past this hop: a consumer that negotiated
                // the extension writes its transport's own, and one that did not (audio: mediasoup's is recvonly)
                // must not carry the sender's, which the receiver would take as the SFU's and report under it.
                case RtpHeaderExtensionUris.TransportWideCc01: TransportWideCcExtensionId = ext.Id; continue;
            }
            var routerExt = router.HeaderExtensions?.FirstOrDefault(h => h.Kind == Kind && h.Uri == ext.Uri);
            if (routerExt is null) continue;
            _extensionIdMap[ext.Id] = (byte)routerExt.PreferredId;
            if (Kind == MediaKind.Audio && ext.Uri == RtpHeaderExtensionUris.SsrcAudioLevel) AudioLevelExtensionId = routerExt.PreferredId;
        }
    }

    internal int MidExtensionId { get; private set; }
    internal int RidExtensionId { get; private set; }
    internal int RepairedRidExtensionId { get; private set; }
    internal int TransportWideCcExtensionId { get; private set; }

    /// <summary>
    /// An RTP packet (decrypted, parsed) that the transport's listener found for <paramref name="stream"/>.
    /// Maps it into the router's space in place and forwards it. False when dropped.
    /// </summary>
    internal bool ReceiveRtp(ref RtpPacket packet, ReceiveStream stream, bool isRtx, TimeSpan now)
    {
        if (_closed) return false;
        var rtxLength = packet.Length;
        if (isRtx)
        {
            var rtxPt = packet.PayloadType;
            if (!_isRtxPayloadType[rtxPt]) return false;
            stream.RtxPacketCount++;
            // Padding-only RTX is bandwidth probing: nothing to recover.
            if (packet.PayloadLength <= 2 || !packet.TryDecodeRtx(_rtxToMediaPayloadType[rtxPt], stream.Ssrc))
            {
                stream.RtxPacketsDiscarded++;
                stream.RtxBytesDiscarded += rtxLength;
                return false;
            }
        }
        var pt = packet.PayloadType;
        var mapped = _payloadTypeMap[pt];
        if (mapped == NoMapping || _isRtxPayloadType[pt]) return false;

        var seq = packet.SequenceNumber;
        var codec = _codecByMappedPayloadType[mapped];
        // One read of the payload descriptor per packet, for every consumer: key frame and temporal layer.
        var keyFrame = false;
        int temporalLayer = -1, spatialLayer = -1;
        bool endsFrame = false, layerSync = false;
        var startsFrame = packet.Timestamp != stream.LastTimestamp || !stream.HasPackets;
        if (Kind == MediaKind.Video && CodecPayload.TryRead(codec, packet.Payload, out var descriptor))
        {
            keyFrame = descriptor.IsKeyFrame;
            temporalLayer = descriptor.TemporalLayer;
            spatialLayer = descriptor.SpatialLayer;
            endsFrame = descriptor.IsEndOfFrame ?? false;
            layerSync = descriptor.IsLayerSync;
            if (descriptor.IsStartOfFrame is { } start) startsFrame = start;
        }
        if (isRtx)
        {
            // Only a retransmission that repairs a packet this server asked for goes on (mediasoup's rule).
            // Chrome pads simulcast and probes with RTX resends of packets already received: counted, they
            // inflated the layer's bitrate; forwarded, they reached the receiver as duplicates its SRTP
            // replay check discards, which transport-cc then reported as lost.
            if (stream.Nack is not { } rtxNack || !rtxNack.TryRecover(seq, keyFrame))
            {
                stream.RtxPacketsDiscarded++;
                stream.RtxBytesDiscarded += rtxLength;
                return false;
            }
            stream.RetransmittedRecovered++;
        }
        else if (stream.Nack is { } nack)
        {
            var result = nack.ReceivePacket(seq, keyFrame, now);
            if (result == NackReceiveResult.Old) return false;
            if (result == NackReceiveResult.KeyFrameRequired) RequestKeyFrame(stream.Ssrc, now);
            if (result == NackReceiveResult.GapDetected) ArmTimer(nack.NextTimeout);
        }
        // Set once the packet is accepted: a dropped one must not change what the next packet is compared with.
        stream.LastTemporalLayer = temporalLayer;
        stream.LastSpatialLayer = spatialLayer;
        stream.LastEndsFrame = endsFrame;
        stream.LastLayerSync = layerSync;
        stream.LastStartsFrame = startsFrame;
        stream.LastTimestamp = packet.Timestamp;
        stream.OnPacket(seq, packet.Timestamp, packet.Length, now);
        if (keyFrame)
        {
            stream.KeyFrames++;
            _keyFrames.KeyFrameReceived(stream.Ssrc);
        }

        packet.PayloadType = mapped;
        packet.Ssrc = stream.MappedSsrc;
        packet.RemapExtensionIds(_extensionIdMap);
        stream.Store?.Store(seq, packet.Data, now);

        if (_paused) return true;
        // Replicas in other routers get every packet, padding included, so their consumers skip the same numbers.
        var sinks = _sinks;
        for (var i = 0; i < sinks.Count; i++) sinks[i].Write(packet.Data, Transport.Loop.ArrivalTime);
        // Padding-only packets are probing; consumers never forward them.
        var consumers = _consumers;
        if (packet.PayloadLength == 0)
        {
            for (var i = 0; i < consumers.Count; i++) consumers[i].SkipRtp(stream, seq);
            return true;
        }
        if (_observers.Count > 0) FeedObservers(ref packet);
        for (var i = 0; i < consumers.Count; i++) consumers[i].SendRtp(ref packet, stream, keyFrame, now);
        return true;
    }

    /// <summary>Hands the packet's audio level (read after mapping, so by the router's id) to the observers watching it.</summary>
    private void FeedObservers(ref RtpPacket packet)
    {
        if (AudioLevelExtensionId == 0 || !packet.TryGetExtension(AudioLevelExtensionId, out var value)) return;
        if (!RtpExtensionValues.TryReadAudioLevel(value, out var voice, out var level)) return;
        var observers = _observers;
        for (var i = 0; i < observers.Count; i++) observers[i].ReceiveAudioLevel(this, level, voice);
    }

    internal void ReceiveSenderReport(ReceiveStream stream, ulong ntp, uint rtpTimestamp, TimeSpan now) => stream.OnSenderReport(ntp, rtpTimestamp, now);

    /// <summary>A consumer (or the application) wants a key frame of <paramref name="mappedSsrc"/>'s stream.</summary>
    internal void RequestKeyFrameMapped(uint mappedSsrc, TimeSpan now)
    {
        if (Kind != MediaKind.Video || _paused || _closed) return;
        foreach (var s in Streams)
        {
            if (s.MappedSsrc == mappedSsrc && s.HasSsrc) RequestKeyFrame(s.Ssrc, now);
        }
    }

    internal void RequestKeyFrameForAll(bool afresh = false)
    {
        if (Kind != MediaKind.Video || _paused || _closed) return;
        var now = Loop.Now;
        foreach (var s in Streams)
        {
            if (!s.HasSsrc) continue;
            // The path to the sender changed (a take-over): earlier requests went nowhere, so none may hold this one back.
            if (afresh) _keyFrames.Forget(s.Ssrc);
            RequestKeyFrame(s.Ssrc, now);
        }
    }

    private void RequestKeyFrame(uint ssrc, TimeSpan now)
    {
        _keyFrames.KeyFrameNeeded(ssrc, now);
        ArmTimer(_keyFrames.NextTimeout);
    }

    private void ArmTimer(TimeSpan due)
    {
        if (due < _timer.Due) _timer.Start(due);
    }

    private void OnTimer()
    {
        if (_closed) return;
        var now = Loop.Now;
        var n = _keyFrames.PollRequests(now, _keyFrameSsrcs);
        for (var i = 0; i < n; i++)
        {
            var stream = Streams.FirstOrDefault(s => s.Ssrc == _keyFrameSsrcs[i]);
            if (stream is null) continue;
            if (UsePli || !UseFir) stream.PliCount++;
            else stream.FirCount++;
            Transport.SendKeyFrameRequest(stream.Ssrc, useFir: !UsePli && UseFir);
        }
        var next = _keyFrames.NextTimeout;
        foreach (var s in Streams)
        {
            if (s.Nack is not { } nack) continue;
            var count = nack.PollNacks(now, _nackScratch);
            if (count > 0)
            {
                s.NackCount++;
                s.NackPacketCount += count;
                Transport.SendNack(s.Ssrc, _nackScratch.AsSpan(0, count));
            }
            if (nack.NextTimeout < next) next = nack.NextTimeout;
        }
        if (next != TimeSpan.MaxValue) _timer.Start(next);
    }

    internal void CloseOnLoop(bool byTransport)
    {
        if (_closed) return;
        _closed = true;
        Transport.ReleaseOwnedTimer(_timer);
        foreach (var s in Streams) s.Store?.Dispose();
        foreach (var pipe in Replicas.Values)
        {
            pipe.Closed = true;
            var replica = pipe.Replica;
            replica.Transport.Post(() => replica.Transport.CloseProducerOnLoop(replica, byTransport: false));
        }
        Replicas.Clear();
        foreach (var sink in _sinks) sink.WriterDetached();
        _sinks.Clear();
        if (Origin is { } origin && FeedingPipe is { } feeding)
        {
            feeding.Closed = true;
            origin.Replicas.TryRemove(new KeyValuePair<Router, Mobility.LocalPipe>(Transport.Router, feeding));
            origin.Transport.Post(() => origin.RemoveSink(feeding));
        }
        foreach (var consumer in _consumers.ToArray()) consumer.OnProducerClosed();
        _consumers.Clear();
        foreach (var observer in _observers.ToArray()) observer.ProducerClosed(this);
        _observers.Clear();
        if (byTransport) Events.Emit(TransportClose, _logger);
        Events.Emit(ObserverClose, _logger);
    }
}
