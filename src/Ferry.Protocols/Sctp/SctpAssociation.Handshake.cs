using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ferry.Protocols.Sctp;

/// <summary>Association start-up (RFC 9260 §5), the end (§9) and ABORT.</summary>
public sealed partial class SctpAssociation
{
    // The state cookie (our format; only we read it): what a passive side needs to build the
    // association from a COOKIE-ECHO without having kept state after its INIT-ACK (RFC 9260 §5.1.3).
    //  0 version(1) reserved(3) | 4 created, ticks of the caller's clock (8) | 12 local tag | 16 peer tag
    // 20 local initial TSN | 24 peer initial TSN | 28 peer a_rwnd | 32 peer OS(2) peer MIS(2)
    // 36 flags(1): 1 peer FORWARD-TSN, 2 peer RE-CONFIG; reserved(3) | 40 HMAC-SHA256 of bytes 0..39 (32)
    private const int CookieBody = 40;
    private const int CookieSize = CookieBody + 32;
    private const byte CookieVersion = 1;

    /// <summary>Our INIT: its fixed part and the extensions WebRTC needs (FORWARD-TSN, RE-CONFIG).</summary>
    private void QueueInit()
    {
        Span<byte> buffer = stackalloc byte[128];
        var writer = new SctpPacketWriter(buffer, _options.LocalPort, _options.RemotePort, 0);
        writer.TryBeginChunk(SctpChunkType.Init, 0, InitChunk.FixedSize + ExtensionParametersSize, out var value);
        InitChunk.WriteFixed(value, _localTag, (uint)ReceiveWindowAvailable, _options.OutboundStreams, _options.MaxInboundStreams, _initialTsn);
        WriteExtensionParameters(value[InitChunk.FixedSize..]);
        writer.EndChunk();
        var length = writer.Finish();
        EnqueueRaw(buffer[..length].ToArray());
    }

    // Forward-TSN-Supported (RFC 3758 §3.1) and Supported Extensions listing FORWARD-TSN and RE-CONFIG (RFC 5061 §4.2.7).
    private const int ExtensionParametersSize = 4 + 8;

    private static void WriteExtensionParameters(Span<byte> at)
    {
        BinaryPrimitives.WriteUInt16BigEndian(at, SctpParameter.ForwardTsnSupported);
        BinaryPrimitives.WriteUInt16BigEndian(at[2..], 4);
        BinaryPrimitives.WriteUInt16BigEndian(at[4..], SctpParameter.SupportedExtensions);
        BinaryPrimitives.WriteUInt16BigEndian(at[6..], 6);
        at[8] = SctpChunkType.ForwardTsn;
        at[9] = SctpChunkType.ReConfig;
        at[10] = at[11] = 0;
    }

    /// <summary>Reads what we need from INIT/INIT-ACK parameters; unknown ones follow their type's high bits (RFC 9260 §3.2.1).</summary>
    private static void ReadPeerParameters(ReadOnlySpan<byte> parameters, out ReadOnlySpan<byte> cookie, out bool forwardTsn, out bool reconfig, List<byte[]>? unrecognized)
    {
        cookie = default;
        forwardTsn = reconfig = false;
        var e = new SctpTlvEnumerator(parameters);
        while (e.MoveNext())
        {
            switch (e.Type)
            {
                case SctpParameter.StateCookie:
                    cookie = e.Value;
                    break;
                case SctpParameter.ForwardTsnSupported:
                    forwardTsn = true;
                    break;
                case SctpParameter.SupportedExtensions:
                    foreach (var type in e.Value)
                    {
                        if (type == SctpChunkType.ForwardTsn) forwardTsn = true;
                        if (type == SctpChunkType.ReConfig) reconfig = true;
                    }
                    break;
                case 5 or 6 or 9 or 11 or 12:
                    break;   // addresses, cookie preservative, host name, address types: one path over DTLS has no use for them
                default:
                    var action = e.Type >> 14;
                    if ((action & 1) != 0 && unrecognized is not null && unrecognized.Count < 8 && e.Raw.Length <= 256) unrecognized.Add(e.Raw.ToArray());
                    if ((action & 2) == 0) return;   // 00 and 01: stop reading parameters
                    break;
            }
        }
    }

    private void HandleInit(TimeSpan now, in SctpChunk chunk)
    {
        if (!InitChunk.TryParse(chunk.Value, out var init))
        {
            Counters.ChunksDropped++;
            return;
        }
        // An INIT while shutting down goes unanswered; in every other state the answer carries our one
        // tag, so an INIT collision (both sides started at once) or a retransmitted INIT converge (§5.2.1, §5.2.2).
        if (State is SctpState.ShutdownAckSent or SctpState.ShutdownSent or SctpState.ShutdownPending or SctpState.ShutdownReceived)
        {
            Counters.ChunksDropped++;
            return;
        }
        var unrecognized = new List<byte[]>();
        ReadPeerParameters(init.Parameters, out _, out var forwardTsn, out var reconfig, unrecognized);
        Span<byte> cookie = stackalloc byte[CookieSize];
        WriteCookie(cookie, now, init.InitiateTag, init.InitialTsn, init.ARwnd, init.OutboundStreams, init.InboundStreams, forwardTsn, reconfig);

        var unrecognizedSize = 0;
        foreach (var p in unrecognized) unrecognizedSize += 4 + ((p.Length + 3) & ~3);
        var valueSize = InitChunk.FixedSize + 4 + CookieSize + ExtensionParametersSize + unrecognizedSize;
        var buffer = new byte[SctpPacket.HeaderSize + 4 + valueSize];
        var writer = new SctpPacketWriter(buffer, _options.LocalPort, _options.RemotePort, init.InitiateTag);
        writer.TryBeginChunk(SctpChunkType.InitAck, 0, valueSize, out var value);
        InitChunk.WriteFixed(value, _localTag, (uint)ReceiveWindowAvailable, _options.OutboundStreams, _options.MaxInboundStreams, _initialTsn);
        var at = value[InitChunk.FixedSize..];
        BinaryPrimitives.WriteUInt16BigEndian(at, SctpParameter.StateCookie);
        BinaryPrimitives.WriteUInt16BigEndian(at[2..], 4 + CookieSize);
        cookie.CopyTo(at[4..]);
        at = at[(4 + CookieSize)..];
        WriteExtensionParameters(at);
        at = at[ExtensionParametersSize..];
        foreach (var p in unrecognized)
        {
            BinaryPrimitives.WriteUInt16BigEndian(at, SctpParameter.UnrecognizedParameter);
            BinaryPrimitives.WriteUInt16BigEndian(at[2..], (ushort)(4 + p.Length));
            p.CopyTo(at[4..]);
            var padded = 4 + ((p.Length + 3) & ~3);
            at[(4 + p.Length)..padded].Clear();
            at = at[padded..];
        }
        writer.EndChunk();
        var length = writer.Finish();
        EnqueueRaw(buffer[..length]);
    }

    private void HandleInitAck(TimeSpan now, in SctpChunk chunk)
    {
        if (State != SctpState.CookieWait)
        {
            Counters.ChunksDropped++;
            return;
        }
        if (!InitChunk.TryParse(chunk.Value, out var init))
        {
            Counters.ChunksDropped++;
            return;
        }
        ReadPeerParameters(init.Parameters, out var cookie, out var forwardTsn, out var reconfig, null);
        if (cookie.IsEmpty || cookie.Length > 1024)
        {
            Counters.ChunksDropped++;
            return;
        }
        SetPeer(init.InitiateTag, init.InitialTsn, init.ARwnd, init.OutboundStreams, init.InboundStreams, forwardTsn, reconfig);
        _cookie = cookie.ToArray();
        State = SctpState.CookieEchoed;
        _cookieEchoPending = true;
        _t1Count = 0;
        _t1Interval = _rto;
        _t1Deadline = now + _t1Interval;
    }

    private void HandleCookieEcho(TimeSpan now, in SctpChunk chunk)
    {
        if (!TryReadCookie(chunk.Value, now, out var c, out var stale))
        {
            Counters.ChunksDropped++;
            return;
        }
        var existing = State is not (SctpState.Closed or SctpState.CookieWait or SctpState.CookieEchoed);
        if (stale && !(existing && c.PeerTag == _peerTag))
        {
            // Too old to build an association from (§5.1.5): the peer is told, and starts over with a new INIT (§5.2.6).
            // A copy for the association it already built (both tags match) is only a late duplicate: answered below.
            Counters.ChunksDropped++;
            QueueStaleCookieError(c.PeerTag);
            return;
        }
        switch (State)
        {
            case SctpState.Closed:
            case SctpState.CookieWait:
                // The peer answered our INIT-ACK before (or instead of) our own INIT being answered.
                SetPeer(c.PeerTag, c.PeerInitialTsn, c.PeerRwnd, c.PeerOutbound, c.PeerInbound, c.ForwardTsn, c.Reconfig);
                _cookieAckPending = true;
                OnEstablished(now);
                break;
            case SctpState.CookieEchoed:
                // An INIT collision: both echoed a cookie. Our tag matches; the peer's is the one its INIT carried (§5.2.4 B/D).
                if (c.PeerTag != _peerTag) SetPeer(c.PeerTag, c.PeerInitialTsn, c.PeerRwnd, c.PeerOutbound, c.PeerInbound, c.ForwardTsn, c.Reconfig);
                _cookieAckPending = true;
                OnEstablished(now);
                break;
            default:
                // Already established: the peer missed our COOKIE-ACK (§5.2.4 D). A restart (new peer tag) is not supported.
                if (c.PeerTag == _peerTag) _cookieAckPending = true;
                else Counters.ChunksDropped++;
                break;
        }
    }

    private void HandleCookieAck(TimeSpan now)
    {
        if (State != SctpState.CookieEchoed) return;
        OnEstablished(now);
    }

    private void OnEstablished(TimeSpan now)
    {
        State = SctpState.Established;
        _t1Deadline = TimeSpan.MaxValue;
        _cookieEchoPending = false;
        _ssthresh = (int)Math.Min(int.MaxValue, Math.Max(_peerRwnd, 4 * _options.Mtu));
        _events.Enqueue(new SctpEvent(SctpEventKind.Connected));
        // Streams the application asked to reset before the association was up.
        TrySendReconfig(now);
    }

    private void SetPeer(uint tag, uint initialTsn, uint aRwnd, ushort peerOutbound, ushort peerInbound, bool forwardTsn, bool reconfig)
    {
        _peerTag = tag;
        _remoteCumTsn = initialTsn - 1;
        _highestReceived = _remoteCumTsn;
        _peerReconfigExpected = initialTsn;
        _peerRwnd = aRwnd;
        _outStreamCount = Math.Min(_options.OutboundStreams, peerInbound);
        _inStreamCount = Math.Min(_options.MaxInboundStreams, peerOutbound);
        _peerForwardTsn = forwardTsn;
        _peerReconfig = reconfig;
        Array.Clear(_receivedBits);
    }

    private void WriteCookie(Span<byte> cookie, TimeSpan now, uint peerTag, uint peerInitialTsn, uint peerRwnd, ushort peerOutbound, ushort peerInbound, bool forwardTsn, bool reconfig)
    {
        cookie[..CookieBody].Clear();
        cookie[0] = CookieVersion;
        BinaryPrimitives.WriteInt64BigEndian(cookie[4..], now.Ticks);
        BinaryPrimitives.WriteUInt32BigEndian(cookie[12..], _localTag);
        BinaryPrimitives.WriteUInt32BigEndian(cookie[16..], peerTag);
        BinaryPrimitives.WriteUInt32BigEndian(cookie[20..], _initialTsn);
        BinaryPrimitives.WriteUInt32BigEndian(cookie[24..], peerInitialTsn);
        BinaryPrimitives.WriteUInt32BigEndian(cookie[28..], peerRwnd);
        BinaryPrimitives.WriteUInt16BigEndian(cookie[32..], peerOutbound);
        BinaryPrimitives.WriteUInt16BigEndian(cookie[34..], peerInbound);
        cookie[36] = (byte)((forwardTsn ? 1 : 0) | (reconfig ? 2 : 0));
        HMACSHA256.HashData(_cookieSecret, cookie[..CookieBody], cookie[CookieBody..CookieSize]);
    }

    private readonly record struct Cookie(uint PeerTag, uint PeerInitialTsn, uint PeerRwnd, ushort PeerOutbound, ushort PeerInbound, bool ForwardTsn, bool Reconfig);

    /// <summary>A cookie we signed, for our tag, not older than the cookie lifetime (RFC 9260 §5.1.5).</summary>
    private bool TryReadCookie(ReadOnlySpan<byte> value, TimeSpan now, out Cookie cookie, out bool stale)
    {
        cookie = default;
        stale = false;
        if (value.Length != CookieSize || value[0] != CookieVersion) return false;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_cookieSecret, value[..CookieBody], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, value[CookieBody..CookieSize])) return false;
        var created = new TimeSpan(BinaryPrimitives.ReadInt64BigEndian(value[4..]));
        if (created > now) return false;
        stale = now - created > _options.CookieLifetime;
        if (BinaryPrimitives.ReadUInt32BigEndian(value[12..]) != _localTag) return false;
        var peerTag = BinaryPrimitives.ReadUInt32BigEndian(value[16..]);
        if (peerTag == 0) return false;
        cookie = new Cookie(peerTag, BinaryPrimitives.ReadUInt32BigEndian(value[24..]), BinaryPrimitives.ReadUInt32BigEndian(value[28..]),
            BinaryPrimitives.ReadUInt16BigEndian(value[32..]), BinaryPrimitives.ReadUInt16BigEndian(value[34..]),
            (value[36] & 1) != 0, (value[36] & 2) != 0);
        return true;
    }

    /// <summary>ERROR "Stale Cookie" (RFC 9260 §3.3.10.3), in a packet tagged for the peer the cookie names.</summary>
    private void QueueStaleCookieError(uint peerTag)
    {
        var buffer = new byte[SctpPacket.HeaderSize + 4 + 8];
        var writer = new SctpPacketWriter(buffer, _options.LocalPort, _options.RemotePort, peerTag);
        writer.TryBeginChunk(SctpChunkType.Error, 0, 8, out var value);
        BinaryPrimitives.WriteUInt16BigEndian(value, SctpCause.StaleCookie);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], 8);
        // Measure of staleness (µs): how much more lifetime would have been needed; a nominal value does.
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], 1_000_000);
        writer.EndChunk();
        EnqueueRaw(buffer[..writer.Finish()]);
    }

    /// <summary>An ERROR chunk: a stale cookie while we wait for COOKIE-ACK restarts the handshake (§5.2.6); the rest is counted.</summary>
    private void HandleError(TimeSpan now, in SctpChunk chunk)
    {
        Counters.ChunksDropped++;
        var e = new SctpTlvEnumerator(chunk.Value);
        if (State != SctpState.CookieEchoed || !e.MoveNext() || e.Type != SctpCause.StaleCookie) return;
        State = SctpState.CookieWait;
        _peerTag = 0;
        _cookie = null;
        _cookieEchoPending = false;
        QueueInit();
        _t1Interval = _options.RtoInitial;
        _t1Deadline = now + _t1Interval;
    }

    private void OnT1Expired(TimeSpan now)
    {
        if (++_t1Count > _options.MaxInitRetransmits)
        {
            Fail("no answer to " + (State == SctpState.CookieWait ? "INIT" : "COOKIE-ECHO"));
            return;
        }
        if (State == SctpState.CookieWait) QueueInit();
        else if (State == SctpState.CookieEchoed) _cookieEchoPending = true;
        else
        {
            _t1Deadline = TimeSpan.MaxValue;
            return;
        }
        _t1Interval = Min(_t1Interval + _t1Interval, _options.RtoMax);
        _t1Deadline = now + _t1Interval;
    }

    private void HandleAbort(in SctpChunk chunk)
    {
        var reason = "ABORT";
        var e = new SctpTlvEnumerator(chunk.Value);
        if (e.MoveNext()) reason = "ABORT: " + SctpCause.Describe(e.Type);
        Finish(SctpEventKind.Aborted, reason);
    }

    /// <summary>Queues an ABORT packet with one error cause; <paramref name="reflected"/> sets the T bit (tag taken from the packet answered).</summary>
    private void QueueAbort(uint tag, bool reflected, ushort cause, ReadOnlySpan<byte> causeInfo)
    {
        var buffer = new byte[SctpPacket.HeaderSize + 8 + ((causeInfo.Length + 3) & ~3)];
        var writer = new SctpPacketWriter(buffer, _options.LocalPort, _options.RemotePort, tag);
        writer.TryBeginChunk(SctpChunkType.Abort, (byte)(reflected ? 1 : 0), 4 + causeInfo.Length, out var value);
        BinaryPrimitives.WriteUInt16BigEndian(value, cause);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], (ushort)(4 + causeInfo.Length));
        causeInfo.CopyTo(value[4..]);
        writer.EndChunk();
        EnqueueRaw(buffer[..writer.Finish()]);
    }

    /// <summary>A protocol violation by the peer: ABORT it (RFC 9260 §6.2, §6.2.1) and fail.</summary>
    private void AbortForViolation(ushort cause, ReadOnlySpan<byte> info, string reason)
    {
        if (_peerTag != 0) QueueAbort(_peerTag, reflected: false, cause, info);
        Fail(reason);
    }

    /// <summary>
    /// Starts a graceful shutdown (RFC 9260 §9.2): no more sends; once every queued message is
    /// acknowledged, SHUTDOWN, SHUTDOWN-ACK, SHUTDOWN-COMPLETE. Before the association is up it simply closes.
    /// </summary>
    public void Shutdown(TimeSpan now)
    {
        ThrowIfExported();
        if (_finished) return;
        switch (State)
        {
            case SctpState.Established:
                State = SctpState.ShutdownPending;
                CheckShutdown(now);
                break;
            case SctpState.Closed:
            case SctpState.CookieWait:
            case SctpState.CookieEchoed:
                Finish(SctpEventKind.Closed, "shut down before the association was up");
                break;
        }
    }

    private bool AllSent => _ring.Count == 0 && _current is null && _scheduled.Count == 0 && !AnyQueued();

    private bool AnyQueued()
    {
        foreach (var s in _outStreams.Values) if (s.Queue.Count > 0) return true;
        return false;
    }

    /// <summary>Moves a pending shutdown on once our data is all acknowledged.</summary>
    private void CheckShutdown(TimeSpan now)
    {
        if (State == SctpState.ShutdownPending && AllSent)
        {
            State = SctpState.ShutdownSent;
            StartT2(now);
            _shutdownChunkPending = true;
        }
        else if (State == SctpState.ShutdownReceived && AllSent)
        {
            State = SctpState.ShutdownAckSent;
            StartT2(now);
            _shutdownAckPending = true;
        }
    }

    private void StartT2(TimeSpan now)
    {
        _t2Count = 0;
        _t2Deadline = now + _rto;
        _t3Deadline = TimeSpan.MaxValue;
    }

    private void HandleShutdown(TimeSpan now, in SctpChunk chunk)
    {
        if (chunk.Value.Length < 4 || State is SctpState.Closed or SctpState.CookieWait or SctpState.CookieEchoed)
        {
            Counters.ChunksDropped++;
            return;
        }
        // SHUTDOWN acknowledges data like a SACK without gap blocks (RFC 9260 §9.2).
        var cum = BinaryPrimitives.ReadUInt32BigEndian(chunk.Value);
        if (!Serial.Less(cum, _cumAckPoint) && Serial.Less(cum, _nextTsn)) AcknowledgeCumulative(now, cum, out _);
        switch (State)
        {
            case SctpState.Established:
            case SctpState.ShutdownPending:
                State = SctpState.ShutdownReceived;
                _sackPending = true;
                CheckShutdown(now);
                break;
            case SctpState.ShutdownSent:
                // Both sides shut down at once.
                State = SctpState.ShutdownAckSent;
                StartT2(now);
                _shutdownAckPending = true;
                break;
            case SctpState.ShutdownAckSent:
                _shutdownAckPending = true;
                break;
            case SctpState.ShutdownReceived:
                CheckShutdown(now);
                break;
        }
    }

    private void HandleShutdownAck()
    {
        if (State is not (SctpState.ShutdownSent or SctpState.ShutdownAckSent))
        {
            Counters.ChunksDropped++;
            return;
        }
        var buffer = new byte[SctpPacket.HeaderSize + 4];
        var writer = new SctpPacketWriter(buffer, _options.LocalPort, _options.RemotePort, _peerTag);
        writer.TryAddChunk(SctpChunkType.ShutdownComplete, 0, []);
        EnqueueRaw(buffer[..writer.Finish()]);
        Finish(SctpEventKind.Closed, "shut down");
    }

    private void HandleShutdownComplete()
    {
        if (State != SctpState.ShutdownAckSent)
        {
            Counters.ChunksDropped++;
            return;
        }
        Finish(SctpEventKind.Closed, "shut down");
    }

    private void OnT2Expired(TimeSpan now)
    {
        if (++_t2Count > _options.MaxAssociationRetransmits)
        {
            Fail("no answer to " + (State == SctpState.ShutdownSent ? "SHUTDOWN" : "SHUTDOWN-ACK"));
            return;
        }
        if (State == SctpState.ShutdownSent) _shutdownChunkPending = true;
        else if (State == SctpState.ShutdownAckSent) _shutdownAckPending = true;
        else
        {
            _t2Deadline = TimeSpan.MaxValue;
            return;
        }
        _rto = Min(_rto + _rto, _options.RtoMax);
        _t2Deadline = now + _rto;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Queues a whole packet (INIT, INIT-ACK, ABORT...); bounded, so a flood of INITs cannot grow it.</summary>
    private void EnqueueRaw(byte[] packet)
    {
        if (_rawPackets.Count < 16) _rawPackets.Enqueue(packet);
    }
}
