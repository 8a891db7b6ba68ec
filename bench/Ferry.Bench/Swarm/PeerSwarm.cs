using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;
using Ferry.Protocols.Stun;

namespace Ferry.Bench.Swarm;

/// <summary>
/// Many WebRTC endpoints on one thread: each peer has its own UDP socket (so each gets its own
/// kernel receive buffer, as separate browsers would), a full-ICE controlling agent reduced to
/// what ICE-lite needs (nominate the one candidate, keep consent fresh), a DTLS client and SRTP.
/// All of them run on one epoll loop, the engine's own <see cref="EventLoop"/>, so a few thousand
/// peers cost one thread and no per-packet allocation. One optional media source paces RTP out
/// through a peer (into a producer) or raw to an address (into the floor forwarder).
/// Everything here runs on the loop thread; other threads go through <see cref="Loop"/>.
/// </summary>
internal sealed class PeerSwarm : IDisposable
{
    private static readonly TimeSpan BindingRetry = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ConsentInterval = TimeSpan.FromSeconds(5);

    private readonly Dictionary<int, Peer> _peers = new();
    private readonly DtlsContext _context;
    private readonly DtlsCertificate _certificate;
    private MediaSource? _source;
    // The stream's numbering outlives each start and stop, as a real sender's does across a pause:
    // a restart at a random sequence number would look like old packets to the producer.
    private readonly StreamPosition _position = new();
    // Raw sources (into the floor or a PlainTransport) continue one stream too, and keep their SRTP
    // session per key: a PlainTransport fed again after a pause sees the same ROC and no replays.
    private readonly StreamPosition _rawPosition = new();
    private readonly Dictionary<string, SrtpSession> _rawSessions = new();
    // And from the same socket per destination: a comedia PlainTransport drops what comes from another tuple.
    private readonly Dictionary<string, UdpSocket> _rawSockets = new();
    // DTLS contexts offering one SRTP profile only, so the server's transport must choose it.
    private readonly Dictionary<SrtpProfile, DtlsContext> _profileContexts = new();

    public PeerSwarm()
    {
        _certificate = DtlsCertificate.Generate();
        _context = new DtlsContext(_certificate);
        Loop = new EventLoop("bench-swarm");
        Loop.Start();
    }

    /// <summary>The swarm's loop: every method below must run on it.</summary>
    public EventLoop Loop { get; }

    /// <summary>The fingerprint the server's transports must be given (the peers are DTLS clients).</summary>
    public DtlsParameters DtlsParameters => new()
    {
        Role = DtlsRoleName.Client,
        Fingerprints = [new DtlsFingerprint { Algorithm = "sha-256", Value = _certificate.Fingerprint("sha-256").Value }],
    };

    /// <summary>Starts ICE and DTLS towards one server transport; the task completes when SRTP keys are in place.</summary>
    public Task AddPeer(int id, IceParameters ice, IPEndPoint server, DtlsFingerprint serverFingerprint, SrtpProfile? profile = null)
    {
        Loop.AssertOnLoop();
        if (_peers.ContainsKey(id)) throw new InvalidOperationException($"peer {id} exists");
        var context = _context;
        if (profile is { } p && !_profileContexts.TryGetValue(p, out context))
            _profileContexts[p] = context = new DtlsContext(_certificate, [p]);
        var peer = new Peer(this, id, ice, server, new DtlsFingerprintValue(serverFingerprint.Algorithm, serverFingerprint.Value), context);
        _peers.Add(id, peer);
        peer.Start();
        return peer.Connected.Task;
    }

    /// <summary>
    /// A peer of a PlainTransport: no ICE or DTLS, media from <paramref name="server"/> unprotected with the
    /// transport's own SDES key (plain RTP without one). Returns the port the transport must connect to.
    /// </summary>
    public int AddPlainPeer(int id, IPEndPoint server, SrtpProfile profile, byte[]? key, byte[]? salt)
    {
        Loop.AssertOnLoop();
        if (_peers.ContainsKey(id)) throw new InvalidOperationException($"peer {id} exists");
        var peer = new Peer(this, id, server, key is null ? null : new SrtpSession(profile, key, salt));
        _peers.Add(id, peer);
        return peer.Socket.LocalEndPoint.Port;
    }

    /// <summary>The local port of a peer's socket (where its media arrives).</summary>
    public int LocalPort(int id) => _peers[id].Socket.LocalEndPoint.Port;

    /// <summary>Completes with the Stopwatch timestamp of the first RTP packet the peer decrypts.</summary>
    public Task<long> FirstPacket(int id) => _peers[id].FirstPacket.Task;

    /// <summary>Closes one peer's socket and forgets it.</summary>
    public void RemovePeer(int id)
    {
        if (!_peers.Remove(id, out var peer)) return;
        if (_source?.Peer == peer) StopSource();
        peer.Dispose();
    }

    /// <summary>Closes every peer.</summary>
    public void RemoveAll()
    {
        StopSource();
        foreach (var peer in _peers.Values) peer.Dispose();
        _peers.Clear();
        foreach (var session in _rawSessions.Values) session.Dispose();
        _rawSessions.Clear();
        foreach (var socket in _rawSockets.Values) socket.Dispose();
        _rawSockets.Clear();
    }

    /// <summary>Sends paced RTP through a connected peer (it answers PLI with a key frame).</summary>
    public void StartSource(int peerId, SourceSpec spec)
    {
        StopSource();
        var peer = _peers[peerId];
        _source = new MediaSource(this, spec, _position, peer.Socket, peer.Remote, peer.SendSession ?? throw new InvalidOperationException("peer not connected"), peer);
        _source.Start();
    }

    /// <summary>Sends paced RTP to an address from a socket of its own, SRTP-protected when a key is given.</summary>
    public void StartRawSource(IPEndPoint to, SourceSpec spec, SrtpProfile profile, byte[]? key, byte[]? salt)
    {
        StopSource();
        if (!_rawSockets.TryGetValue(to.ToString(), out var socket))
            _rawSockets[to.ToString()] = socket = UdpSocket.Bind(Loop, IPAddress.Loopback, 0, 0, NullReceiver.Instance);
        SrtpSession? srtp = null;
        if (key is not null)
        {
            var name = $"{profile}:{Convert.ToHexString(key)}";
            if (!_rawSessions.TryGetValue(name, out srtp)) _rawSessions[name] = srtp = new SrtpSession(profile, key, salt);
        }
        _source = new MediaSource(this, spec, _rawPosition, socket, SockAddr.From(to), srtp, null);
        _source.Start();
    }

    /// <summary>Stops the source; a raw source's socket closes.</summary>
    public void StopSource()
    {
        _source?.Dispose();
        _source = null;
    }

    /// <summary>Packets the source has sent.</summary>
    public long SourceSent => _source?.Sent ?? 0;

    /// <summary>Zeroes the counters; sequence tracking restarts at each peer's next packet.</summary>
    public void ResetStats()
    {
        foreach (var peer in _peers.Values) peer.ResetStats();
    }

    /// <summary>Sums the peers' counters.</summary>
    public SwarmStats GetStats()
    {
        long received = 0, expected = 0, failures = 0, foreign = 0, bytes = 0;
        var active = 0;
        foreach (var peer in _peers.Values)
        {
            received += peer.Received;
            expected += peer.Expected;
            failures += peer.SrtpFailures;
            foreign += peer.Foreign;
            bytes += peer.Bytes;
            if (peer.Received > 0) active++;
        }
        var usage = Loop.ThreadUsage();
        var cpuUs = (usage.UtimeSec + usage.StimeSec) * 1_000_000 + usage.UtimeUsec + usage.StimeUsec;
        return new SwarmStats(received, expected, failures, foreign, bytes, active, _peers.Count, SourceSent, cpuUs);
    }

    public void Dispose()
    {
        try
        {
            Loop.InvokeAsync(RemoveAll).Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop is already gone; its sockets went with the process or the loop's death.
        }
        Loop.Dispose();
        _context.Dispose();
        foreach (var context in _profileContexts.Values) context.Dispose();
    }

    private sealed class NullReceiver : IUdpReceiver
    {
        public static readonly NullReceiver Instance = new();

        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
        {
        }
    }

    /// <summary>One endpoint: socket, ICE, DTLS, SRTP and receive counters.</summary>
    private sealed class Peer : IUdpReceiver, IDisposable
    {
        private readonly PeerSwarm _swarm;
        private readonly IceParameters _ice;
        private readonly string _localUfrag = Convert.ToHexString(RandomNumberGenerator.GetBytes(4));
        private readonly byte[] _password;
        private readonly byte[] _username;
        private readonly LoopTimer _timer;
        // Null for a PlainTransport's peer, which has neither ICE nor DTLS.
        private readonly DtlsEndpoint? _dtls;
        private readonly bool _plainRtp;
        private SrtpSession? _receive;
        private bool _iceAnswered;
        private TimeSpan _nextBinding;
        private bool _haveBase;
        private long _highest;
        private long _base;
        private bool _closed;

        public Peer(PeerSwarm swarm, int id, IPEndPoint server, SrtpSession? receive)
        {
            _swarm = swarm;
            Id = id;
            _ice = new IceParameters { UsernameFragment = "", Password = "" };
            _password = [];
            _username = [];
            Remote = SockAddr.From(server);
            Socket = UdpSocket.Bind(swarm.Loop, IPAddress.Loopback, 0, 0, this, socketBufferBytes: 1 << 20);
            _timer = swarm.Loop.CreateTimer(() => { });
            _receive = receive;
            _plainRtp = receive is null;
            Connected.TrySetResult();
        }

        public Peer(PeerSwarm swarm, int id, IceParameters ice, IPEndPoint server, DtlsFingerprintValue serverFingerprint, DtlsContext context)
        {
            _swarm = swarm;
            Id = id;
            _ice = ice;
            _password = Encoding.UTF8.GetBytes(ice.Password);
            _username = Encoding.UTF8.GetBytes($"{ice.UsernameFragment}:{_localUfrag}");
            Remote = SockAddr.From(server);
            // Large enough to absorb a scheduling hiccup of the load client at a few hundred packets per second.
            Socket = UdpSocket.Bind(swarm.Loop, IPAddress.Loopback, 0, 0, this, socketBufferBytes: 1 << 20);
            _timer = swarm.Loop.CreateTimer(OnTimer);
            _dtls = new DtlsEndpoint(context, DtlsRole.Client, serverFingerprint);
        }

        public int Id { get; }
        public UdpSocket Socket { get; }
        public SockAddr Remote { get; }
        public SrtpSession? SendSession { get; private set; }
        public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<long> FirstPacket { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long Received { get; private set; }
        public long Bytes { get; private set; }
        public long SrtpFailures { get; private set; }
        public long Foreign { get; private set; }
        public long Expected => _haveBase ? _highest - _base + 1 : 0;
        public bool KeyFrameRequested { get; set; }

        private TimeSpan Now => _swarm.Loop.Now;

        public void Start()
        {
            SendBinding();
            ArmTimer();
        }

        public void ResetStats()
        {
            Received = Bytes = SrtpFailures = Foreign = 0;
            _haveBase = false;
        }

        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
        {
            if (_closed) return;
            // The floor forwarder sends from its own sockets: count what it delivers, nothing more.
            if (!from.Equals(Remote))
            {
                Foreign++;
                Bytes += data.Length;
                return;
            }
            switch (PacketClassifier.Classify(data))
            {
                case PacketKind.Stun when _dtls is not null:
                    if (StunMessage.TryParse(data, out var message) && message.Class == StunClass.SuccessResponse && !_iceAnswered)
                    {
                        _iceAnswered = true;
                        _nextBinding = Now + ConsentInterval;
                        _dtls.Start(Now);
                        Flush();
                    }
                    break;
                case PacketKind.Dtls when _dtls is not null:
                    _dtls.HandleDatagram(Now, data);
                    Flush();
                    break;
                case PacketKind.Rtp:
                    OnRtp(data);
                    break;
                case PacketKind.Rtcp:
                    OnRtcp(data);
                    break;
            }
        }

        private void OnRtp(Span<byte> data)
        {
            var length = data.Length;
            if (!_plainRtp && (_receive is null || _receive.UnprotectRtp(data, data.Length, out length) != SrtpResult.Ok))
            {
                SrtpFailures++;
                return;
            }
            var seq = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            if (!_haveBase)
            {
                _haveBase = true;
                _base = _highest = seq;
            }
            else
            {
                // Extend the 16-bit number around the highest seen (RFC 3550 A.1, without the probation).
                var delta = (short)(ushort)(seq - (ushort)_highest);
                var extended = _highest + delta;
                if (extended > _highest) _highest = extended;
            }
            Received++;
            Bytes += length;
            if (!FirstPacket.Task.IsCompleted) FirstPacket.TrySetResult(Stopwatch.GetTimestamp());
        }

        private void OnRtcp(Span<byte> data)
        {
            var length = data.Length;
            if (!_plainRtp && (_receive is null || _receive.UnprotectRtcp(data, data.Length, out length) != SrtpResult.Ok))
            {
                SrtpFailures++;
                return;
            }
            var e = new RtcpCompoundEnumerator(data[..length]);
            while (e.MoveNext())
            {
                var p = e.Current;
                if (p.Type == RtcpPacketType.PayloadFeedback && p.Count == 1 && PictureLossIndication.TryParse(p, out _, out _)) KeyFrameRequested = true;
            }
        }

        private void Flush()
        {
            if (_dtls is null) return;
            while (_dtls.TryPollDatagram(out var datagram)) Socket.SendTo(datagram, Remote);
            while (_dtls.TryPollEvent(out var e))
            {
                switch (e.Kind)
                {
                    case DtlsEventKind.Connected:
                        var k = e.Keys!;
                        SendSession = new SrtpSession(k.Profile, k.LocalKey, k.LocalSalt);
                        _receive = new SrtpSession(k.Profile, k.RemoteKey, k.RemoteSalt);
                        Connected.TrySetResult();
                        break;
                    case DtlsEventKind.Failed:
                        Connected.TrySetException(new InvalidOperationException($"peer {Id}: DTLS failed: {e.Reason}"));
                        break;
                }
            }
            ArmTimer();
        }

        private void SendBinding()
        {
            Span<byte> buffer = stackalloc byte[256];
            Span<byte> tid = stackalloc byte[12];
            RandomNumberGenerator.Fill(tid);
            var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Request, tid);
            w.Add(StunAttributeType.Username, _username);
            w.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
            w.AddUInt64(StunAttributeType.IceControlling, 0x1234);
            w.Add(StunAttributeType.UseCandidate, ReadOnlySpan<byte>.Empty);
            w.AddMessageIntegrity(_password);
            var length = w.AddFingerprint();
            Socket.SendTo(buffer[..length], Remote);
            // Until answered, retry quickly; afterwards keep consent alive.
            _nextBinding = Now + (_iceAnswered ? ConsentInterval : BindingRetry);
        }

        private void ArmTimer()
        {
            if (_closed || _dtls is null) return;
            var due = _nextBinding;
            if (_dtls.NextTimeout < due) due = _dtls.NextTimeout;
            if (due != _timer.Due) _timer.Start(due);
        }

        private void OnTimer()
        {
            if (_closed || _dtls is null) return;
            var now = Now;
            if (_dtls.NextTimeout <= now)
            {
                _dtls.HandleTimeout(now);
                Flush();
            }
            if (_nextBinding <= now) SendBinding();
            ArmTimer();
        }

        public void Dispose()
        {
            if (_closed) return;
            _closed = true;
            _timer.Stop();
            Socket.Dispose();
            _dtls?.Dispose();
            SendSession?.Dispose();
            _receive?.Dispose();
            Connected.TrySetCanceled();
        }
    }

    /// <summary>
    /// Paced VP8-shaped RTP: steady rate by absolute deadlines (so timer slack does not lower the
    /// rate), a key frame every <see cref="SourceSpec.KeyFrameInterval"/> packets and on PLI.
    /// </summary>
    private sealed class MediaSource : IDisposable
    {
        private readonly PeerSwarm _swarm;
        private readonly SourceSpec _spec;
        private readonly UdpSocket _socket;
        private readonly SockAddr _to;
        private readonly SrtpSession? _srtp;
        private readonly Peer? _peer;
        private readonly LoopTimer _timer;
        private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
        private readonly byte[] _payload;
        private readonly StreamPosition _position;
        private TimeSpan _start;
        private bool _stopped;

        public MediaSource(PeerSwarm swarm, SourceSpec spec, StreamPosition position, UdpSocket socket, SockAddr to, SrtpSession? srtp, Peer? peer)
        {
            _swarm = swarm;
            _spec = spec;
            _position = position;
            _socket = socket;
            _to = to;
            _srtp = srtp;
            _peer = peer;
            _timer = swarm.Loop.CreateTimer(OnTimer);
            _payload = new byte[spec.PayloadBytes];
            RandomNumberGenerator.Fill(_payload);
        }

        public Peer? Peer => _peer;
        public long Sent { get; private set; }

        public void Start()
        {
            _start = _swarm.Loop.Now;
            _timer.Start(_start);
        }

        private void OnTimer()
        {
            if (_stopped) return;
            var now = _swarm.Loop.Now;
            var due = (long)((now - _start).TotalSeconds * _spec.PacketsPerSecond) + 1;
            // After a long stall send a small burst, not everything missed: a real sender drops frames.
            if (due - Sent > 20) Sent = due - 20;
            while (Sent < due) SendOne();
            var next = _start + TimeSpan.FromSeconds(Sent / (double)_spec.PacketsPerSecond);
            _timer.Start(next);
        }

        private void SendOne()
        {
            var keyFrame = Sent % _spec.KeyFrameInterval == 0 || _peer is { KeyFrameRequested: true };
            if (_peer is not null) _peer.KeyFrameRequested = false;
            var timestamp = (uint)(_position.Index++ * 90000 / _spec.PacketsPerSecond);
            var w = new RtpPacketWriter(_buffer, 96, _position.Seq++, timestamp, _spec.Ssrc, marker: true);
            w.AddExtension(4, "0"u8);
            _payload[0] = 0x10; // VP8 descriptor: S=1, partition 0
            _payload[1] = keyFrame ? (byte)0x00 : (byte)0x01; // VP8 header: P=0 marks a key frame
            var length = w.SetPayload(_payload);
            if (_srtp is not null && _srtp.ProtectRtp(_buffer, length, out length) != SrtpResult.Ok) return;
            _socket.SendTo(_buffer.AsSpan(0, length), _to);
            Sent++;
        }

        public void Dispose()
        {
            _stopped = true;
            _timer.Stop();
            // A raw source's socket and SRTP session stay with the swarm (the stream continues at the next start).
        }
    }
}

/// <summary>Where the swarm's stream is: next sequence number and packet index (for timestamps).</summary>
internal sealed class StreamPosition
{
    public ushort Seq = (ushort)Random.Shared.Next(0, 0x10000);
    public long Index;
}

/// <summary>What a media source sends.</summary>
/// <param name="PacketsPerSecond">Steady packet rate.</param>
/// <param name="PayloadBytes">RTP payload size.</param>
/// <param name="Ssrc">SSRC of the stream.</param>
/// <param name="KeyFrameInterval">A key frame every this many packets.</param>
internal sealed record SourceSpec(int PacketsPerSecond, int PayloadBytes, uint Ssrc, int KeyFrameInterval = 200);

/// <summary>Counters of a swarm, summed over its peers.</summary>
/// <param name="Received">RTP packets decrypted.</param>
/// <param name="Expected">Packets the peers should have had, from the sequence numbers seen.</param>
/// <param name="SrtpFailures">Datagrams that failed SRTP checks.</param>
/// <param name="Foreign">Datagrams from other sources than the peer's server (the floor forwarder).</param>
/// <param name="Bytes">Bytes received.</param>
/// <param name="ActivePeers">Peers that received at least one packet.</param>
/// <param name="Peers">Peers.</param>
/// <param name="SourceSent">Packets the source sent.</param>
/// <param name="CpuMicroseconds">CPU time of the swarm's thread so far.</param>
internal sealed record SwarmStats(long Received, long Expected, long SrtpFailures, long Foreign, long Bytes, int ActivePeers, int Peers, long SourceSent, long CpuMicroseconds)
{
    /// <summary>Packets lost: expected but never received (never negative).</summary>
    public long Lost => Math.Max(0, Expected - Received);
}
