using System.Text;
using Ferry.Loop;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Microsoft.Extensions.Logging;

namespace Ferry.Transports;

/// <summary>
/// What every transport kind shares: its producers and consumers, the lookup of incoming RTP to
/// producer streams (by SSRC, then MID, then RID, as mediasoup's RtpListener), RTCP handling and the
/// periodic reports. Subclasses move the bytes (sockets, SRTP). Lives on its router's loop.
/// </summary>
public abstract partial class Transport
{
    private static readonly DateTime NtpEpoch = new(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly Dictionary<string, Producer> _producers = new();
    private readonly Dictionary<string, Consumer> _consumers = new();
    private readonly Dictionary<uint, (Producer Producer, ReceiveStream Stream, bool Rtx)> _ssrcTable = new();
    private readonly Dictionary<string, Producer> _midTable = new();
    private readonly Dictionary<uint, Consumer> _consumersBySsrc = new();
    private readonly byte[] _sendBuffer = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private readonly byte[] _rtcpBuffer = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private readonly ushort[] _nackScratch = new ushort[1024];
    private readonly LoopTimer _rtcpTimer;
    private readonly LoopTimer _transportCcTimer;
    private readonly TransportCcBuilder _transportCc = new();
    private uint _transportCcMediaSsrc;
    private readonly uint _rtcpSsrc = RtpParametersNegotiation.RandomSsrc();
    private string? _cname;
    private int _nextMid;
    private ushort _transportWideSeq;
    private volatile bool _closed;

    /// <summary>Common construction: call on the loop.</summary>
    private protected Transport(Router router, object? appData, long initialAvailableOutgoingBitrate = 600_000, string? id = null)
    {
        Router = router;
        // A transport brought in by a move between processes keeps its id.
        Id = id ?? Guid.NewGuid().ToString();
        AppData = appData;
        Logger = router.Worker.LoggerFactory.CreateLogger(GetType());
        _rtcpTimer = CreateOwnedTimer(OnRtcpTimer);
        _transportCcTimer = CreateOwnedTimer(OnTransportCcTimer);
        InitBwe(initialAvailableOutgoingBitrate);
    }

    /// <summary>Unique id.</summary>
    public string Id { get; }

    /// <summary>The router it belongs to.</summary>
    public Router Router { get; private set; }

    /// <summary>Application data.</summary>
    public object? AppData { get; set; }

    /// <summary>True once closed.</summary>
    public bool Closed => _closed;

    /// <summary>Raised when the transport closes because its router closed.</summary>
    public event Action? RouterClose;
    /// <summary>Raised when the transport closes because its WebRtcServer closed.</summary>
    public event Action? ListenServerClose;

    /// <summary>False for transports that cannot change loops on their own (those on a WebRtcServer).</summary>
    internal virtual bool Movable => true;

    /// <summary>Raised when the transport closes, for whatever reason.</summary>
    public event Action? ObserverClose;
    /// <summary>Raised when a producer is created on it.</summary>
    public event Action<Producer>? ObserverNewProducer;
    /// <summary>Raised when a consumer is created on it.</summary>
    public event Action<Consumer>? ObserverNewConsumer;

    internal EventLoop Loop => Router.Loop;
    internal ILogger Logger { get; }

    /// <summary>Scratch space a consumer rewrites an outgoing packet in (room for the SRTP tag).</summary>
    internal Span<byte> SendBuffer => _sendBuffer;

    /// <summary>True when media can flow (for WebRTC: ICE and DTLS connected).</summary>
    internal abstract bool IsConnected { get; }

    /// <summary>Packets dropped on the way in: unknown SSRC or payload type, malformed.</summary>
    public long RtpPacketsDropped { get; private protected set; }

    /// <summary>RTCP packets that failed to parse.</summary>
    public long RtcpPacketsDropped { get; private protected set; }

    /// <summary>Creates a producer from what the endpoint sends (mediasoup's transport.produce()).</summary>
    /// <exception cref="ArgumentException">Invalid parameters (TypeError).</exception>
    /// <exception cref="UnsupportedException">A codec the router lacks.</exception>
    /// <exception cref="InvalidOperationException">A duplicated id, SSRC or MID.</exception>
    public Task<Producer> ProduceAsync(ProducerOptions options)
    {
        ThrowIfClosed();
        if (options is null) throw new ArgumentException("missing options");
        var parameters = RtpParametersValidation.ValidateForProducer(options.Kind, options.RtpParameters);
        return InvokeAsync(() => ProduceOnLoop(options, parameters));
    }

    /// <summary>The body of <see cref="ProduceAsync"/> on the loop, for <paramref name="parameters"/> already validated.</summary>
    internal Producer ProduceOnLoop(ProducerOptions options, RtpParameters parameters)
    {
        {
            ThrowIfClosed();
            if (options.Id is { } id && _producers.ContainsKey(id)) throw new ArgumentException($"a Producer with same id \"{id}\" already exists");
            parameters = ApplyCnamePolicy(parameters);
            var mapping = RtpParametersNegotiation.GetProducerMapping(parameters, Router.RtpCapabilities, out parameters);
            var consumable = RtpParametersNegotiation.GetConsumableParameters(options.Kind, parameters, Router.RtpCapabilities, mapping);
            var type = RtpParametersValidation.ProducerTypeOf(parameters);
            var producer = new Producer(this, options, parameters, mapping, consumable, type);
            AddToListener(producer);
            try
            {
                Router.AddProducer(producer);
            }
            catch
            {
                RemoveFromListener(producer);
                throw;
            }
            _producers.Add(producer.Id, producer);
            Events.Emit(ObserverNewProducer, producer, Logger);
            return producer;
        }
    }

    /// <summary>Creates a consumer of a producer of this router for an endpoint with the given capabilities.</summary>
    /// <exception cref="InvalidOperationException">Producer not found.</exception>
    /// <exception cref="UnsupportedException">No codec the endpoint can receive.</exception>
    public Task<Consumer> ConsumeAsync(ConsumerOptions options)
    {
        ThrowIfClosed();
        if (options is null) throw new ArgumentException("missing options");
        if (string.IsNullOrEmpty(options.ProducerId)) throw new ArgumentException("missing producerId");
        if (options.Mid is "") throw new ArgumentException("if given, mid must be a non empty string");
        // A pipe's consumer takes every stream of the producer as it is: no capabilities to negotiate against.
        var pipe = this as PipeTransport;
        if (pipe is null) RtpParametersValidation.ValidateCapabilities(options.RtpCapabilities);
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (!Router.TryGetProducer(options.ProducerId, out var producer) || producer.Closed)
                throw new InvalidOperationException($"Producer with id \"{options.ProducerId}\" not found");
            var enableRtx = options.EnableRtx ?? producer.Kind == MediaKind.Video;
            var parameters = pipe is not null
                ? RtpParametersNegotiation.GetPipeConsumerParameters(producer.ConsumableRtpParameters, pipe.EnableRtx)
                : RtpParametersNegotiation.GetConsumerParameters(producer.ConsumableRtpParameters, options.RtpCapabilities, enableRtx);
            if (pipe is null) parameters = parameters with { Mid = options.Mid ?? NextMid() };
            var type = pipe is not null ? ConsumerType.Pipe : producer.Type switch
            {
                ProducerType.Simulcast => ConsumerType.Simulcast,
                ProducerType.Svc => ConsumerType.Svc,
                _ => ConsumerType.Simple,
            };
            return AddConsumerOnLoop(producer, options, parameters, type);
        });
    }

    /// <summary>The rest of <see cref="ConsumeAsync"/> on the loop, once the consumer's parameters and type are decided.</summary>
    internal Consumer AddConsumerOnLoop(Producer producer, ConsumerOptions options, RtpParameters parameters, ConsumerType type)
    {
        {
            var consumer = new Consumer(this, producer, options, parameters, type);
            _consumers.Add(consumer.Id, consumer);
            _consumersBySsrc[consumer.Ssrc] = consumer;
            if (consumer.RtxSsrc is { } rtx) _consumersBySsrc[rtx] = consumer;
            foreach (var pipeSsrc in consumer.PipeSsrcs) _consumersBySsrc[pipeSsrc] = consumer;
            producer.AddConsumer(consumer);
            OnConsumerSetChanged(consumer, added: true);
            EnsureRtcpTimer();
            Events.Emit(ObserverNewConsumer, consumer, Logger);
            if (IsConnected) consumer.OnTransportConnected();
            return consumer;
        }
    }

    /// <summary>The sockets this transport reads (UDP sockets, TCP listeners with their connections), handed to another loop when it or its router moves.</summary>
    internal virtual IEnumerable<Loop.IMovableSocket> Sockets => [];

    internal int ProducerCount => _producers.Count;

    /// <summary>Its producers (loop only).</summary>
    internal IReadOnlyCollection<Producer> Producers => _producers.Values;

    /// <summary>Its consumers (loop only).</summary>
    internal IReadOnlyCollection<Consumer> Consumers => _consumers.Values;

    /// <summary>Adds a replica producer (see <see cref="Mobility.LocalPipeTransport"/>); the caller decides when the router's map gets it.</summary>
    internal void AddReplicaProducer(Producer replica)
    {
        AddToListener(replica);
        _producers.Add(replica.Id, replica);
    }
    internal int ConsumerCount => _consumers.Count;

    /// <summary>A mediasoup-style dump: producers, consumers and where incoming RTP goes.</summary>
    public Task<TransportDump> DumpAsync() => InvokeOpenAsync(() => AddKindDump(new TransportDump
    {
        Id = Id, Direct = this is DirectTransport,
        ProducerIds = _producers.Keys.ToList(), ConsumerIds = _consumers.Keys.ToList(),
        MapSsrcConsumerId = _consumers.Values.ToDictionary(c => c.Ssrc, c => c.Id),
        MapRtxSsrcConsumerId = _consumers.Values.Where(c => c.RtxSsrc is not null).ToDictionary(c => c.RtxSsrc!.Value, c => c.Id),
        RtpListener = new RtpListenerDump(_ssrcTable.ToDictionary(kv => kv.Key, kv => kv.Value.Producer.Id), _midTable.ToDictionary(kv => kv.Key, kv => kv.Value.Id)),
        TraceEventTypes = _traceEventTypes,
        DataProducerIds = _dataProducers.Keys.ToList(), DataConsumerIds = _dataConsumers.Keys.ToList(),
        SctpParameters = Sctp?.Parameters, SctpState = Sctp?.State,
        SctpListener = Sctp is null ? null : _dataProducersByStream.ToDictionary(kv => (int)kv.Key, kv => kv.Value.Id),
    }));

    /// <summary>Adds the fields of the transport's kind to its dump (on the loop).</summary>
    private protected virtual TransportDump AddKindDump(TransportDump dump) => dump;

    /// <summary>Its producers.</summary>
    public Task<IReadOnlyList<Producer>> GetProducersAsync() => InvokeAsync(() => (IReadOnlyList<Producer>)_producers.Values.ToList());

    /// <summary>Its consumers.</summary>
    public Task<IReadOnlyList<Consumer>> GetConsumersAsync() => InvokeAsync(() => (IReadOnlyList<Consumer>)_consumers.Values.ToList());

    /// <summary>Closes the transport, its producers (their consumers elsewhere close too) and its consumers.</summary>
    public Task CloseAsync() => _closed ? Task.CompletedTask : InvokeAsync(() => CloseOnLoop(TransportCloseReason.Closed));

    private string NextMid()
    {
        var mid = _nextMid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // MID is limited to 8 bytes in the header extension: wrap as mediasoup does.
        _nextMid = _nextMid + 1 >= 100_000_000 ? 0 : _nextMid + 1;
        return mid;
    }

    /// <summary>mediasoup's CNAME rule: every producer of a transport carries the first CNAME seen (or a generated one).</summary>
    private protected virtual RtpParameters ApplyCnamePolicy(RtpParameters parameters)
    {
        _cname ??= parameters.Rtcp?.Cname is { Length: > 0 } c ? c : Convert.ToHexString(Guid.NewGuid().ToByteArray())[..8].ToLowerInvariant();
        return parameters with { Rtcp = (parameters.Rtcp ?? new RtcpParameters()) with { Cname = _cname } };
    }

    private void AddToListener(Producer producer)
    {
        var encodings = producer.RtpParameters.Encodings!;
        foreach (var stream in producer.Streams)
        {
            if (stream.HasSsrc && _ssrcTable.ContainsKey(stream.Ssrc)) throw new InvalidOperationException($"ssrc already exists in RTP listener [ssrc:{stream.Ssrc}]");
            if (stream.RtxSsrc is { } r && _ssrcTable.ContainsKey(r)) throw new InvalidOperationException($"ssrc already exists in RTP listener [ssrc:{r}]");
        }
        if (producer.RtpParameters.Mid is { } mid && _midTable.ContainsKey(mid)) throw new InvalidOperationException($"MID already exists in RTP listener [mid:{mid}]");
        foreach (var stream in producer.Streams)
        {
            if (stream.HasSsrc) _ssrcTable[stream.Ssrc] = (producer, stream, false);
            if (stream.RtxSsrc is { } r) _ssrcTable[r] = (producer, stream, true);
        }
        if (producer.RtpParameters.Mid is { } m) _midTable[m] = producer;
        _ = encodings;
    }

    private void RemoveFromListener(Producer producer)
    {
        foreach (var key in _ssrcTable.Where(kv => kv.Value.Producer == producer).Select(kv => kv.Key).ToList()) _ssrcTable.Remove(key);
        if (producer.RtpParameters.Mid is { } mid && _midTable.TryGetValue(mid, out var p) && p == producer) _midTable.Remove(mid);
    }

    /// <summary>A decrypted RTP packet from the endpoint: find its producer stream and hand it over.</summary>
    private protected void ReceiveRtp(Span<byte> data)
    {
        if (!RtpPacket.TryParse(data, data.Length, out var packet))
        {
            RtpPacketsDropped++;
            return;
        }
        var now = Loop.Now;
        if (!_ssrcTable.TryGetValue(packet.Ssrc, out var entry) && !TryLearnSsrc(ref packet, out entry))
        {
            RtpPacketsDropped++;
            return;
        }
        CountRtpReceived(data.Length, entry.Rtx, now);
        var ccId = entry.Producer.TransportWideCcExtensionId;
        if (ccId != 0 && packet.TryGetExtension(ccId, out var cc) && RtpExtensionValues.TryReadTransportWideSequence(cc, out var ccSeq))
        {
            // When it reached the host, not when the loop read it: see EventLoop.ArrivalTime.
            _transportCc.OnPacket(ccSeq, Loop.ArrivalTime.Ticks / 10);
            _transportCcMediaSsrc = packet.Ssrc;
            if (!_transportCcTimer.IsArmed) _transportCcTimer.StartAfter(TransportCcInterval);
        }
        if (!entry.Producer.ReceiveRtp(ref packet, entry.Stream, entry.Rtx, now)) RtpPacketsDropped++;
    }

    // mediasoup sends transport-wide feedback every 100 ms; the sender's estimator runs on it.
    private static readonly TimeSpan TransportCcInterval = TimeSpan.FromMilliseconds(100);

    private void OnTransportCcTimer()
    {
        if (_closed || !IsConnected) return;
        for (var guard = 0; guard < 16 && _transportCc.HasPending; guard++)
        {
            var length = _transportCc.Write(_rtcpBuffer, _rtcpSsrc, _transportCcMediaSsrc);
            if (length <= 0) break;
            SendOwnRtcp(length);
        }
    }

    /// <summary>An unknown SSRC: match it by MID and RID (or for a single unsignalled encoding) and remember it.</summary>
    private bool TryLearnSsrc(ref RtpPacket packet, out (Producer Producer, ReceiveStream Stream, bool Rtx) entry)
    {
        entry = default;
        Producer? producer = null;
        foreach (var candidate in _producers.Values)
        {
            if (candidate.MidExtensionId == 0 || !packet.TryGetExtension(candidate.MidExtensionId, out var midBytes)) continue;
            if (candidate.RtpParameters.Mid is { } mid && midBytes.Length == mid.Length && Encoding.ASCII.GetString(midBytes) == mid)
            {
                producer = candidate;
                break;
            }
        }
        if (producer is null) return false;
        var isRtx = false;
        ReceiveStream? stream = null;
        if (producer.RidExtensionId != 0 && packet.TryGetExtension(producer.RidExtensionId, out var rid))
            stream = FindByRid(producer, rid);
        else if (producer.RepairedRidExtensionId != 0 && packet.TryGetExtension(producer.RepairedRidExtensionId, out var rrid))
        {
            stream = FindByRid(producer, rrid);
            isRtx = true;
        }
        else if (producer.Streams.Length == 1 && producer.Streams[0].Rid is null)
        {
            stream = producer.Streams[0];
            isRtx = stream.HasSsrc && stream.Ssrc != packet.Ssrc;
        }
        if (stream is null) return false;
        if (isRtx)
        {
            if (!stream.HasSsrc) return false;
            stream.RtxSsrc = packet.Ssrc;
        }
        else
        {
            if (stream.HasSsrc) _ssrcTable.Remove(stream.Ssrc);
            stream.Ssrc = packet.Ssrc;
            stream.HasSsrc = true;
        }
        entry = (producer, stream, isRtx);
        _ssrcTable[packet.Ssrc] = entry;
        return true;
    }

    private static ReceiveStream? FindByRid(Producer producer, ReadOnlySpan<byte> rid)
    {
        foreach (var s in producer.Streams)
        {
            if (s.Rid is { } r && r.Length == rid.Length && Encoding.ASCII.GetString(rid) == r) return s;
        }
        return null;
    }

    /// <summary>A decrypted RTCP compound from the endpoint.</summary>
    private protected void ReceiveRtcp(ReadOnlySpan<byte> data)
    {
        var now = Loop.Now;
        var e = new RtcpCompoundEnumerator(data);
        while (e.MoveNext())
        {
            var p = e.Current;
            switch (p.Type)
            {
                case RtcpPacketType.SenderReport when SenderReport.TryParse(p, out var sr):
                    if (_ssrcTable.TryGetValue(sr.Ssrc, out var entry) && !entry.Rtx) entry.Producer.ReceiveSenderReport(entry.Stream, sr.NtpTimestamp, sr.RtpTimestamp, now);
                    foreach (var block in sr.ReportBlocks) OnReportBlock(block, now);
                    break;
                case RtcpPacketType.ReceiverReport when ReceiverReport.TryParse(p, out var rr):
                    foreach (var block in rr.ReportBlocks) OnReportBlock(block, now);
                    break;
                case RtcpPacketType.PayloadFeedback:
                    if (p.Count == 1 && PictureLossIndication.TryParse(p, out _, out var pliSsrc))
                    {
                        if (_consumersBySsrc.TryGetValue(pliSsrc, out var c)) c.ReceiveKeyFrameRequest(fir: false);
                    }
                    else if (p.Count == 4 && FullIntraRequest.TryParse(p, out _, out var firSsrc, out _))
                    {
                        if (_consumersBySsrc.TryGetValue(firSsrc, out var c)) c.ReceiveKeyFrameRequest(fir: true);
                    }
                    else if (p.Count == RtcpPacketType.FmtAfb)
                    {
                        OnRembFeedback(p, now);
                    }
                    break;
                case RtcpPacketType.TransportFeedback when p.Count == RtcpPacketType.FmtTransportCc:
                    OnTransportCcFeedback(p, now);
                    break;
                case RtcpPacketType.TransportFeedback when p.Count == 1 && GenericNack.TryParse(p, out _, out var nackSsrc):
                    if (_consumersBySsrc.TryGetValue(nackSsrc, out var nc) && (nackSsrc == nc.Ssrc || nc.Type == ConsumerType.Pipe))
                    {
                        var n = GenericNack.ReadLost(p, _nackScratch);
                        if (nc.Type == ConsumerType.Pipe) nc.ReceivePipeNack(nackSsrc, _nackScratch.AsSpan(0, n), now);
                        else nc.ReceiveNack(_nackScratch.AsSpan(0, n), now);
                    }
                    break;
            }
        }
        if (e.IsMalformed) RtcpPacketsDropped++;
    }

    private void OnReportBlock(in ReportBlock block, TimeSpan now)
    {
        if (_consumersBySsrc.TryGetValue(block.Ssrc, out var consumer) && block.Ssrc == consumer.Ssrc)
        {
            consumer.ReceiveReportBlock(block, now, NtpTime.ToCompact(NtpNow()));
            OnConsumerReportBlock(consumer, block, now);
        }
    }

    private static ulong NtpNow() => NtpTime.FromTimeSpan(DateTime.UtcNow - NtpEpoch);

    /// <summary>
    /// Sends the packet a consumer rewrote into <see cref="SendBuffer"/> (a retransmission when
    /// <paramref name="retransmission"/>); the estimator records it when it carries a transport-wide number.
    /// </summary>
    internal void SendRtpFromConsumer(Consumer consumer, int length, bool retransmission = false)
    {
        if (consumer.HasRtxListener) consumer.EmitRtp(_sendBuffer.AsSpan(0, length));
        var now = Loop.Now;
        if (retransmission)
        {
            _rtxBytesSent += length;
            _rtxSendRate.Add(length, now);
        }
        else
        {
            _rtpBytesSent += length;
            _rtpSendRate.Add(length, now);
            Loop.Counters.ForwardDelay.Record(now - Loop.ArrivalTime);
        }
        if (consumer.TransportWideCcExtensionId != 0) _bwe.OnPacketSent(_lastTransportWideSeq, length, now);
        CountSent(length, now);
        SendRtp(_sendBuffer, length);
    }

    /// <summary>Sends an RTCP compound this transport wrote into its RTCP buffer.</summary>
    private void SendOwnRtcp(int length)
    {
        CountSent(length, Loop.Now);
        SendRtcp(_rtcpBuffer, length);
    }

    /// <summary>Sends a plain RTP packet of <paramref name="length"/> bytes held in <paramref name="buffer"/> (which has room for an SRTP tag).</summary>
    private protected abstract void SendRtp(Span<byte> buffer, int length);

    /// <summary>Sends a plain RTCP compound held in <paramref name="buffer"/> (room for the SRTCP trailer).</summary>
    private protected abstract void SendRtcp(Span<byte> buffer, int length);

    internal virtual void SendKeyFrameRequest(uint mediaSsrc, bool useFir)
    {
        if (!IsConnected) return;
        var length = useFir
            ? FullIntraRequest.Write(_rtcpBuffer, _rtcpSsrc, mediaSsrc, _firSequence++)
            : PictureLossIndication.Write(_rtcpBuffer, _rtcpSsrc, mediaSsrc);
        SendOwnRtcp(length);
    }

    private byte _firSequence;

    internal void SendNack(uint mediaSsrc, ReadOnlySpan<ushort> lost)
    {
        if (!IsConnected) return;
        var length = GenericNack.Write(_rtcpBuffer, _rtcpSsrc, mediaSsrc, lost);
        if (length > 0) SendOwnRtcp(length);
    }

    /// <summary>Starts the report timer once there is something to report on.</summary>
    private protected void EnsureRtcpTimer()
    {
        if (!_rtcpTimer.IsArmed && !_closed) _rtcpTimer.StartAfter(RtcpInterval());
    }

    // RFC 3550 §6.3.1: randomised in [0.5, 1.5] of the interval so reports of many transports do not align.
    private static TimeSpan RtcpInterval() => TimeSpan.FromMilliseconds(1000 * (0.5 + Random.Shared.NextDouble()));

    private void OnRtcpTimer()
    {
        if (_closed) return;
        _rtcpTimer.StartAfter(RtcpInterval());
        if (!IsConnected) return;
        var now = Loop.Now;
        foreach (var consumer in _consumers.Values) consumer.UpdateTargetLayer(now);
        SendReports(now);
    }

    /// <summary>A sender report (+SDES CNAME) per sending consumer, receiver reports for every receiving stream; split to stay under the MTU.</summary>
    private void SendReports(TimeSpan now)
    {
        const int Budget = 1100;
        var ntp = NtpNow();
        var length = 0;
        Span<byte> buffer = _rtcpBuffer;
        foreach (var consumer in _consumers.Values)
        {
            if (!consumer.HasSent || consumer.Closed) continue;
            if (length > Budget) { SendOwnRtcp(length); length = 0; }
            length += consumer.WriteSenderReport(buffer[length..], ntp, now);
            var cname = consumer.Producer?.RtpParameters.Rtcp?.Cname;
            if (cname is not null) length += SourceDescription.WriteCname(buffer[length..], consumer.Ssrc, cname);
        }
        Span<ReportBlock> blocks = stackalloc ReportBlock[31];
        var count = 0;
        foreach (var producer in _producers.Values)
        {
            foreach (var stream in producer.Streams)
            {
                if (!stream.HasPackets) continue;
                blocks[count++] = stream.BuildReportBlock(now);
                if (count == blocks.Length)
                {
                    length = FlushReceiverReport(buffer, length, blocks[..count]);
                    count = 0;
                }
            }
        }
        if (count > 0) length = FlushReceiverReport(buffer, length, blocks[..count]);
        foreach (var producer in _producers.Values) producer.OnScoresUpdated();
        if (length > 0) SendOwnRtcp(length);
    }

    private int FlushReceiverReport(Span<byte> buffer, int length, ReadOnlySpan<ReportBlock> blocks)
    {
        if (length + 8 + blocks.Length * ReportBlock.Size > Budget2)
        {
            SendOwnRtcp(length);
            length = 0;
        }
        return length + ReceiverReport.Write(buffer[length..], _rtcpSsrc, blocks);
    }

    private const int Budget2 = 1400;

    /// <summary>Called by subclasses when media can start flowing.</summary>
    private protected void OnConnected()
    {
        EnsureRtcpTimer();
        OnConnectedBwe();
        foreach (var consumer in _consumers.Values.ToArray()) consumer.OnTransportConnected();
        foreach (var producer in _producers.Values.ToArray()) producer.RequestKeyFrameForAll();
    }

    internal void CloseProducerOnLoop(Producer producer, bool byTransport)
    {
        if (!_producers.Remove(producer.Id)) return;
        RemoveFromListener(producer);
        ForgetSrtpStreams(producer);
        Router.RemoveProducer(producer);
        producer.CloseOnLoop(byTransport);
    }

    internal void CloseConsumerOnLoop(Consumer consumer, ConsumerCloseReason reason)
    {
        if (!_consumers.Remove(consumer.Id)) return;
        _consumersBySsrc.Remove(consumer.Ssrc);
        if (consumer.RtxSsrc is { } rtx) _consumersBySsrc.Remove(rtx);
        foreach (var pipeSsrc in consumer.PipeSsrcs) _consumersBySsrc.Remove(pipeSsrc);
        ForgetSrtpStreams(consumer);
        consumer.CloseOnLoop(reason);
        OnConsumerSetChanged(consumer, added: false);
    }

    internal void CloseOnLoop(TransportCloseReason reason)
    {
        Loop.AssertOnLoop();
        if (_closed) return;
        _closed = true;
        ReleaseOwnedTimer(_rtcpTimer);
        ReleaseOwnedTimer(_transportCcTimer);
        ReleaseBwe();
        foreach (var producer in _producers.Values.ToArray()) CloseProducerOnLoop(producer, byTransport: true);
        foreach (var consumer in _consumers.Values.ToArray()) CloseConsumerOnLoop(consumer, ConsumerCloseReason.TransportClosed);
        CloseDataOnLoop();
        ReleaseResources();
        if (reason != TransportCloseReason.RouterClosed) Router.RemoveTransport(this);
        if (reason == TransportCloseReason.RouterClosed) Events.Emit(RouterClose, Logger);
        if (reason == TransportCloseReason.ListenServerClosed) Events.Emit(ListenServerClose, Logger);
        Events.Emit(ObserverClose, Logger);
    }

    /// <summary>Releases sockets, timers and crypto state; called once on close, on the loop.</summary>
    private protected abstract void ReleaseResources();

    private protected void ThrowIfClosed()
    {
        if (_closed) throw new InvalidStateException("Transport closed");
    }
}

/// <summary>Why a transport closed.</summary>
internal enum TransportCloseReason : byte
{
    Closed,
    RouterClosed,
    ListenServerClosed,
}
