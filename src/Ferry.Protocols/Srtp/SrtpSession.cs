using System.Buffers.Binary;
using Ferry.Protocols.Rtp;

namespace Ferry.Protocols.Srtp;

/// <summary>
/// One direction of SRTP and SRTCP (RFC 3711, RFC 7714) under one master key: protects what we
/// send, or unprotects what we receive, in place in the caller's buffer. Keys are derived once
/// (key derivation rate 0, as WebRTC uses); per-SSRC state (rollover counter, highest sequence,
/// replay windows, SRTCP index) is created on first sight of an SSRC. Bad input returns a result,
/// never throws, and changes no state; steady-state traffic allocates nothing.
/// </summary>
public sealed class SrtpSession : IDisposable
{
    private readonly SrtpCipher _cipher;
    private readonly Dictionary<uint, SrtpStreamContext> _streams = new();
    private readonly byte[] _masterKey;
    private readonly byte[] _masterSalt;

    /// <summary>Creates a session for <paramref name="profile"/> from a master key and salt (as DTLS-SRTP exports or SDES/PlainTransport signals them).</summary>
    /// <exception cref="ArgumentException">Key or salt of the wrong length for the profile.</exception>
    public SrtpSession(SrtpProfile profile, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
        : this(profile, SrtpCipher.Create(profile, masterKey, masterSalt), masterKey.ToArray(), masterSalt.ToArray())
    {
    }

    internal SrtpSession(SrtpProfile profile, SrtpCipher cipher, byte[] masterKey, byte[] masterSalt)
    {
        Profile = profile;
        _cipher = cipher;
        _masterKey = masterKey;
        _masterSalt = masterSalt;
    }

    /// <summary>The protection profile.</summary>
    public SrtpProfile Profile { get; }

    /// <summary>Bytes an SRTP packet grows by when protected.</summary>
    public int RtpOverhead => _cipher.RtpTagLength;

    /// <summary>Bytes an SRTCP packet grows by when protected (index and tag).</summary>
    public int RtcpOverhead => 4 + _cipher.RtcpTagLength;

    /// <summary>Number of SSRCs with state.</summary>
    public int StreamCount => _streams.Count;

    /// <summary>Default of <see cref="MaxStreams"/>: far above what one endpoint sends (a few SSRCs per producer).</summary>
    public const int DefaultMaxStreams = 2048;

    /// <summary>
    /// Most SSRCs a receiving session keeps state for. A packet of a new SSRC beyond it is dropped
    /// (<see cref="SrtpResult.TooManyStreams"/>) before authentication, so a peer spraying SSRCs cannot grow
    /// memory without bound. Sending is not limited: its SSRCs are the local side's own.
    /// </summary>
    public int MaxStreams { get; set; } = DefaultMaxStreams;

    /// <summary>Packets of a new SSRC that found the session full (<see cref="SrtpResult.TooManyStreams"/>).</summary>
    public long StreamsRefused { get; private set; }

    /// <summary>
    /// Packets (SRTP and SRTCP) dropped because their tag did not verify (<see cref="SrtpResult.AuthenticationFailed"/>):
    /// forged, corrupted or under another key. Counted, never thrown: a flood of them costs no exceptions.
    /// </summary>
    public long AuthenticationFailures { get; private set; }

    /// <summary>States removed by <see cref="EvictOne"/> to make room.</summary>
    public long StreamsEvicted { get; private set; }

    /// <summary>
    /// Encrypts and tags an RTP packet of <paramref name="length"/> bytes in place; the buffer
    /// needs <see cref="RtpOverhead"/> bytes of room after it. Resending the same packet (a NACKed
    /// retransmission without RTX) is allowed, as mediasoup allows repeated transmission.
    /// </summary>
    public SrtpResult ProtectRtp(Span<byte> buffer, int length, out int newLength)
    {
        newLength = length;
        if ((uint)length > (uint)buffer.Length || !RtpPacket.TryGetHeaderLength(buffer[..length], out var headerLength)) return SrtpResult.Malformed;
        if (length + RtpOverhead > buffer.Length) return SrtpResult.BufferTooSmall;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]);
        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        var stream = Stream(ssrc);
        var (roc, _) = stream.EstimateIndex(seq);
        newLength = _cipher.ProtectRtp(buffer, length, headerLength, ssrc, roc, seq);
        stream.UpdateRtp(roc, seq);
        return SrtpResult.Ok;
    }

    /// <summary>Verifies, replay-checks and decrypts an SRTP packet in place; <paramref name="newLength"/> excludes the tag.</summary>
    public SrtpResult UnprotectRtp(Span<byte> buffer, int length, out int newLength)
    {
        newLength = length;
        if ((uint)length > (uint)buffer.Length || !RtpPacket.TryGetHeaderLength(buffer[..length], out var headerLength)) return SrtpResult.Malformed;
        if (length - RtpOverhead < headerLength) return SrtpResult.Malformed;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]);
        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        _streams.TryGetValue(ssrc, out var stream);
        if (stream is null && _streams.Count >= MaxStreams) return Refuse();
        var (roc, index) = stream?.EstimateIndex(seq) ?? (0u, (long)seq);
        if (stream is not null)
        {
            var replay = stream.RtpReplay.Check(index);
            if (replay != SrtpResult.Ok) return replay;
        }
        if (!_cipher.UnprotectRtp(buffer, length, headerLength, ssrc, roc, seq, out newLength))
        {
            newLength = length;
            AuthenticationFailures++;
            return SrtpResult.AuthenticationFailed;
        }
        stream ??= Stream(ssrc);
        stream.UpdateRtp(roc, seq);
        stream.RtpReplay.Accept(index);
        return SrtpResult.Ok;
    }

    /// <summary>Encrypts and tags a (compound) RTCP packet in place; needs <see cref="RtcpOverhead"/> bytes of room.</summary>
    public SrtpResult ProtectRtcp(Span<byte> buffer, int length, out int newLength)
    {
        newLength = length;
        if ((uint)length > (uint)buffer.Length || length < 8 || buffer[0] >> 6 != 2) return SrtpResult.Malformed;
        if (length + RtcpOverhead > buffer.Length) return SrtpResult.BufferTooSmall;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]);
        var stream = Stream(ssrc);
        var index = stream.NextRtcpIndex();
        newLength = _cipher.ProtectRtcp(buffer, length, ssrc, index);
        return SrtpResult.Ok;
    }

    /// <summary>Verifies, replay-checks and decrypts an SRTCP packet in place; <paramref name="newLength"/> excludes index and tag.</summary>
    public SrtpResult UnprotectRtcp(Span<byte> buffer, int length, out int newLength)
    {
        newLength = length;
        if ((uint)length > (uint)buffer.Length || length < 8 + RtcpOverhead || buffer[0] >> 6 != 2) return SrtpResult.Malformed;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]);
        var trailer = BinaryPrimitives.ReadUInt32BigEndian(buffer[(length - RtcpOverhead + (_cipher is AesGcmCipher ? _cipher.RtcpTagLength : 0))..]);
        var encrypted = (trailer & 0x80000000u) != 0;
        var index = trailer & 0x7FFFFFFFu;
        _streams.TryGetValue(ssrc, out var stream);
        if (stream is null && _streams.Count >= MaxStreams) return Refuse();
        if (stream is not null)
        {
            var replay = stream.RtcpReplay.Check(index);
            if (replay != SrtpResult.Ok) return replay;
        }
        if (!_cipher.UnprotectRtcp(buffer, length, ssrc, index, encrypted, out newLength))
        {
            newLength = length;
            AuthenticationFailures++;
            return SrtpResult.AuthenticationFailed;
        }
        (stream ??= Stream(ssrc)).RtcpReplay.Accept(index);
        return SrtpResult.Ok;
    }

    /// <summary>Everything needed to continue this session elsewhere (another worker or server).</summary>
    public SrtpSessionState Export() => new()
    {
        Profile = Profile,
        MasterKey = (byte[])_masterKey.Clone(),
        MasterSalt = (byte[])_masterSalt.Clone(),
        Streams = _streams.Values.Select(s => s.Export()).ToArray(),
    };

    /// <summary>Rebuilds a session from <see cref="Export"/>'s state; it continues with no gap and keeps rejecting replays.</summary>
    public static SrtpSession Import(SrtpSessionState state)
    {
        var session = new SrtpSession(state.Profile, state.MasterKey, state.MasterSalt);
        foreach (var s in state.Streams) session._streams[s.Ssrc] = SrtpStreamContext.Import(s);
        return session;
    }

    /// <summary>Forgets the state of one SSRC (its stream ended).</summary>
    public bool RemoveStream(uint ssrc) => _streams.Remove(ssrc);

    /// <summary>
    /// Forgets the state of one SSRC that <paramref name="inUse"/> says no stream needs, if there is one:
    /// room for a new SSRC once the session is full. Scans at most every SSRC; allocates nothing.
    /// </summary>
    public bool EvictOne(Func<uint, bool> inUse)
    {
        ArgumentNullException.ThrowIfNull(inUse);
        foreach (var ssrc in _streams.Keys)
        {
            if (inUse(ssrc)) continue;
            _streams.Remove(ssrc);
            StreamsEvicted++;
            // Enumeration ends here, so removing during it is safe.
            return true;
        }
        return false;
    }

    private SrtpResult Refuse()
    {
        StreamsRefused++;
        return SrtpResult.TooManyStreams;
    }

    private SrtpStreamContext Stream(uint ssrc)
    {
        if (!_streams.TryGetValue(ssrc, out var stream)) _streams[ssrc] = stream = new SrtpStreamContext(ssrc);
        return stream;
    }

    /// <inheritdoc />
    public void Dispose() => _cipher.Dispose();
}
