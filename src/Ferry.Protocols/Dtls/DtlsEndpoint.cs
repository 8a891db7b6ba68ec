using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ferry.Protocols.Dtls.Native;
using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Dtls;

/// <summary>State of a <see cref="DtlsEndpoint"/>, as mediasoup's dtlsState.</summary>
public enum DtlsState : byte
{
    /// <summary>Not started.</summary>
    New,
    /// <summary>Handshaking.</summary>
    Connecting,
    /// <summary>Handshake done, fingerprint verified, SRTP keys available.</summary>
    Connected,
    /// <summary>Handshake failed or the fingerprint did not match.</summary>
    Failed,
    /// <summary>Closed by either side.</summary>
    Closed,
}

/// <summary>
/// A sans-IO DTLS 1.2 endpoint with DTLS-SRTP (RFC 5763/5764) on OpenSSL driven through memory
/// BIOs, as mediasoup drives it: datagrams and the time go in; datagrams to send, events and the
/// next retransmission deadline come out. No thread ever blocks on a handshake.
/// <para>
/// OpenSSL's own DTLS timer reads the real clock, and an expired timer makes OpenSSL retransmit
/// by itself inside every read. So that time is only what the caller says it is (virtual time in
/// tests, the loop's time in the engine), OpenSSL's timer is set an hour long (DTLS_set_timer_cb)
/// and this class retransmits: it keeps the last flight it sent and resends it verbatim on its own
/// schedule (1 s doubling to 60 s, OpenSSL's default). A verbatim copy the peer already has is
/// dropped by the peer's replay window, which is harmless while the peer is still waiting for us;
/// the one case it would stall, a lost final flight, is covered by resending our final flight
/// whenever a handshake record arrives after we finished (RFC 6347 §4.2.4).
/// </para>
/// <para>
/// Moves: <see cref="ExportState"/> writes the association out as plain data (secrets, SRTP keys,
/// epochs, replay window, next sequence number) and freezes this endpoint; <see cref="Import"/>
/// continues it elsewhere on Ferry's own DTLS 1.2 application-data record layer (OpenSSL cannot
/// import a session). To know the record state of the OpenSSL-backed endpoint, this class reads
/// the clear record headers passing through the BIOs: the highest sequence number written per epoch,
/// and, feeding OpenSSL one received record at a time, which records it accepted.
/// </para>
/// </summary>
public sealed unsafe partial class DtlsEndpoint : IDisposable
{
    /// <summary>mediasoup's DTLS MTU.</summary>
    public const int DefaultMtu = 1350;
    /// <summary>First retransmission wait.</summary>
    public static readonly TimeSpan InitialRetransmit = TimeSpan.FromSeconds(1);
    /// <summary>Longest retransmission wait.</summary>
    public static readonly TimeSpan MaxRetransmit = TimeSpan.FromSeconds(60);
    /// <summary>Retransmissions without progress before the handshake fails (OpenSSL's DTLS1_TMO_ALERT_COUNT).</summary>
    public const int MaxTimeouts = 12;

    private const int RecordHeader = 13;
    private static readonly byte[] SrtpExporterLabel = "EXTRACTOR-dtls_srtp"u8.ToArray();

    private readonly DtlsContext? _context;
    private readonly int _mtu;
    private readonly Queue<byte[]> _outgoing = new();
    private readonly Queue<DtlsEvent> _events = new();
    private readonly byte[] _scratch = new byte[65536];
    private nint _ssl;
    private nint _rbio;
    private nint _wbio;
    private DtlsFingerprintValue? _remoteFingerprint;
    private byte[]? _remoteCertificate;
    private SrtpKeyingMaterial? _keys;
    private List<byte[]> _lastFlight = new();
    private bool _handshakeDone;
    private TimeSpan _deadline = TimeSpan.MaxValue;
    private TimeSpan _interval;
    private int _timeouts;
    private readonly bool _requireSrtp;
    // Record state seen in the clear headers on the OpenSSL path, for ExportState.
    private ushort _writeEpoch;
    private long _writeNext;
    private DtlsReplayWindow _readWindow = DtlsReplayWindow.Empty;
    // Set by ExportState: from then on this endpoint sends and accepts nothing.
    private bool _frozen;

    /// <summary>Creates an endpoint in <paramref name="role"/>; the remote fingerprint may be given now or later with <see cref="SetRemoteFingerprint"/>.</summary>
    /// <param name="context">Certificate and SRTP profiles.</param>
    /// <param name="role">Client or server.</param>
    /// <param name="remoteFingerprint">The fingerprint the peer's certificate must match, when known.</param>
    /// <param name="mtu">Largest datagram.</param>
    /// <param name="requireSrtp">
    /// Fail when no SRTP profile is negotiated (the default: media needs keys). False for a transport
    /// that also carries data channels: a peer with only data channels may not offer DTLS-SRTP, and
    /// then the association connects without SRTP keys (<see cref="DtlsEvent.Keys"/> null).
    /// </param>
    public DtlsEndpoint(DtlsContext context, DtlsRole role, DtlsFingerprintValue? remoteFingerprint = null, int mtu = DefaultMtu, bool requireSrtp = true)
    {
        _requireSrtp = requireSrtp;
        _context = context;
        Role = role;
        _remoteFingerprint = remoteFingerprint;
        _mtu = mtu;
        _interval = InitialRetransmit;
        _ssl = LibSsl.SSL_new(context.Handle);
        if (_ssl == 0) throw new InvalidOperationException("SSL_new failed: " + LibSsl.TakeError());
        _rbio = LibSsl.BIO_new(LibSsl.BIO_s_mem());
        _wbio = LibSsl.BIO_new(LibSsl.BIO_s_mem());
        // An empty memory BIO must say "retry", not "end of file".
        LibSsl.BIO_ctrl(_rbio, LibSsl.BIO_C_SET_BUF_MEM_EOF_RETURN, -1, 0);
        LibSsl.BIO_ctrl(_wbio, LibSsl.BIO_C_SET_BUF_MEM_EOF_RETURN, -1, 0);
        LibSsl.SSL_set_bio(_ssl, _rbio, _wbio);
        LibSsl.SSL_ctrl(_ssl, LibSsl.SSL_CTRL_SET_MTU, mtu, 0);
        LibSsl.DTLS_set_timer_cb(_ssl, &NeverExpire);
        if (role == DtlsRole.Client) LibSsl.SSL_set_connect_state(_ssl);
        else LibSsl.SSL_set_accept_state(_ssl);
    }

    /// <summary>Our role.</summary>
    public DtlsRole Role { get; }

    /// <summary>Current state.</summary>
    public DtlsState State { get; private set; } = DtlsState.New;

    /// <summary>When <see cref="HandleTimeout"/> should run; <see cref="TimeSpan.MaxValue"/> when no retransmission is pending.</summary>
    public TimeSpan NextTimeout => _deadline;

    /// <summary>The peer's certificate (DER) once the handshake is done.</summary>
    public byte[]? RemoteCertificate => _remoteCertificate;

    /// <summary>Retransmissions made on our timer.</summary>
    public int Retransmissions { get; private set; }

    /// <summary>Sets (or replaces) the fingerprint the peer's certificate must match; checked at once if the handshake already finished.</summary>
    public void SetRemoteFingerprint(DtlsFingerprintValue fingerprint)
    {
        _remoteFingerprint = fingerprint;
        if (_remoteCertificate is not null && State == DtlsState.Connecting) VerifyAndConnect();
    }

    /// <summary>Starts the handshake (a client sends its ClientHello; a server waits for one).</summary>
    public void Start(TimeSpan now)
    {
        if (State != DtlsState.New) return;
        State = DtlsState.Connecting;
        Drive(now);
    }

    /// <summary>Feeds one received DTLS datagram.</summary>
    public void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        if (State is DtlsState.Failed or DtlsState.Closed || datagram.IsEmpty || _frozen) return;
        if (_own is not null)
        {
            HandleOwnDatagram(datagram);
            return;
        }
        if (State == DtlsState.New) State = DtlsState.Connecting;
        if (State == DtlsState.Connected)
        {
            // A handshake record after we finished: the peer missed our final flight and sent its own again.
            if (datagram[0] == 22) Resend();
            FeedRecords(datagram);
            return;
        }
        fixed (byte* p = datagram) LibSsl.BIO_write(_rbio, p, datagram.Length);
        if (_handshakeDone)
        {
            // A handshake record after we finished: the peer missed our final flight and sent its own again.
            if (datagram[0] == 22) Resend();
            ReadApplicationData();
        }
        else
        {
            Drive(now);
        }
    }

    /// <summary>Runs the retransmission timer.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        if (now < _deadline || State != DtlsState.Connecting || _handshakeDone || _frozen) return;
        if (++_timeouts > MaxTimeouts)
        {
            Fail("handshake timed out");
            return;
        }
        Resend();
        Retransmissions++;
        _interval = TimeSpan.FromTicks(Math.Min(_interval.Ticks * 2, MaxRetransmit.Ticks));
        _deadline = now + _interval;
    }

    /// <summary>Takes the next datagram to send, if any.</summary>
    public bool TryPollDatagram(out byte[] datagram) => _outgoing.TryDequeue(out datagram!);

    /// <summary>Takes the next event, if any.</summary>
    public bool TryPollEvent(out DtlsEvent e) => _events.TryDequeue(out e!);

    /// <summary>Sends application data (SCTP for data channels) once connected. False when not connected.</summary>
    public bool SendApplicationData(ReadOnlySpan<byte> data)
    {
        if (State != DtlsState.Connected || _frozen) return false;
        if (_own is not null) return SendOwn(DtlsContentType.ApplicationData, data);
        int written;
        fixed (byte* p = data) written = LibSsl.SSL_write(_ssl, p, data.Length);
        Flush();
        return written == data.Length;
    }

    /// <summary>Sends close_notify and closes (an endpoint frozen by <see cref="ExportState"/> closes without sending anything).</summary>
    public void Close()
    {
        if (State is DtlsState.Closed) return;
        if (State == DtlsState.Connected && !_frozen && _own is not null)
        {
            SendOwn(DtlsContentType.Alert, [AlertWarning, AlertCloseNotify]);
        }
        else if (State == DtlsState.Connected && !_frozen)
        {
            LibSsl.ERR_clear_error();
            LibSsl.SSL_shutdown(_ssl);
            Flush();
        }
        State = DtlsState.Closed;
        _deadline = TimeSpan.MaxValue;
    }

    /// <summary>
    /// Writes the association out to continue it elsewhere (<see cref="Import"/>) and freezes this
    /// endpoint: from then on it sends nothing (<see cref="SendApplicationData"/> returns false,
    /// <see cref="Close"/> sends no close_notify, no retransmission) and ignores what it receives, so
    /// the sequence numbers and replay window written out stay true; the caller disposes it.
    /// Datagrams already queued for <see cref="TryPollDatagram"/> are counted as sent: they may still be
    /// sent or dropped. Null until connected, and for an endpoint that negotiated no SRTP keys.
    /// Calling it again returns the same state.
    /// </summary>
    /// <exception cref="NotSupportedException">The negotiated suite is not one Ferry's record layer runs (never with a <see cref="DtlsContext"/>, which offers only those).</exception>
    public DtlsSessionState? ExportState()
    {
        if (State != DtlsState.Connected || _keys is null || _remoteCertificate is null) return null;
        if (_own is not null) return ExportOwn();
        var cipher = Marshal.PtrToStringUTF8(LibSsl.SSL_CIPHER_get_name(LibSsl.SSL_get_current_cipher(_ssl))) ?? "";
        if (DtlsSuite.Find(cipher) is null)
            throw new NotSupportedException($"cipher suite {cipher} cannot be exported: Ferry's record layer runs only {DtlsSuite.OpenSslCipherList}");
        var master = new byte[48];
        var client = new byte[32];
        var server = new byte[32];
        fixed (byte* m = master) LibSsl.SSL_SESSION_get_master_key(LibSsl.SSL_get_session(_ssl), m, 48);
        fixed (byte* c = client) LibSsl.SSL_get_client_random(_ssl, c, 32);
        fixed (byte* s = server) LibSsl.SSL_get_server_random(_ssl, s, 32);
        _frozen = true;
        _deadline = TimeSpan.MaxValue;
        return BuildOpenSslState(cipher, master, client, server);
    }

    /// <summary>
    /// What <see cref="ExportState"/> writes, without freezing this endpoint: it goes on sending and receiving. For a
    /// standby's periodic copy (failover): the copy's sequence numbers are those of this instant, and the side that
    /// brings it to life must move its write sequence past anything sent since. Null when <see cref="ExportState"/> would be.
    /// </summary>
    /// <exception cref="NotSupportedException">The negotiated suite is not one Ferry's record layer runs.</exception>
    public DtlsSessionState? CheckpointState()
    {
        if (State != DtlsState.Connected || _keys is null || _remoteCertificate is null || _frozen) return null;
        if (_own is not null) return OwnState();
        var cipher = Marshal.PtrToStringUTF8(LibSsl.SSL_CIPHER_get_name(LibSsl.SSL_get_current_cipher(_ssl))) ?? "";
        if (DtlsSuite.Find(cipher) is null)
            throw new NotSupportedException($"cipher suite {cipher} cannot be copied: Ferry's record layer runs only {DtlsSuite.OpenSslCipherList}");
        var master = new byte[48];
        var client = new byte[32];
        var server = new byte[32];
        fixed (byte* m = master) LibSsl.SSL_SESSION_get_master_key(LibSsl.SSL_get_session(_ssl), m, 48);
        fixed (byte* c = client) LibSsl.SSL_get_client_random(_ssl, c, 32);
        fixed (byte* s = server) LibSsl.SSL_get_server_random(_ssl, s, 32);
        return BuildOpenSslState(cipher, master, client, server);
    }

    private DtlsSessionState BuildOpenSslState(string cipher, byte[] master, byte[] client, byte[] server)
    {
        return new DtlsSessionState
        {
            Role = Role, CipherSuite = cipher, MasterSecret = master, ClientRandom = client, ServerRandom = server,
            Srtp = _keys!, RemoteCertificate = _remoteCertificate!,
            // Renegotiation is off (DtlsContext), so both directions stay in epoch 1, where our Finished was written.
            ReadEpoch = _readEpoch, ReadSequenceHighest = _readWindow.Highest, ReadReplayBitmap = _readWindow.Bitmap,
            WriteEpoch = _writeEpoch, WriteSequence = _writeNext,
        };
    }

    /// <summary>
    /// Feeds a connected OpenSSL endpoint one record at a time, so that which application-data
    /// records OpenSSL accepted (authenticated, not replayed) is known for the exported replay window.
    /// </summary>
    private void FeedRecords(ReadOnlySpan<byte> datagram)
    {
        var offset = 0;
        while (offset < datagram.Length && State == DtlsState.Connected)
        {
            var rest = datagram[offset..];
            var length = rest.Length >= RecordHeader ? Math.Min(rest.Length, RecordHeader + BinaryPrimitives.ReadUInt16BigEndian(rest[11..])) : rest.Length;
            var record = rest[..length];
            fixed (byte* p = record) LibSsl.BIO_write(_rbio, p, record.Length);
            var delivered = ReadApplicationData();
            if (delivered > 0 && length >= RecordHeader && record[0] == (byte)DtlsContentType.ApplicationData
                && BinaryPrimitives.ReadUInt16BigEndian(record[3..]) == _readEpoch)
                _readWindow.Accept(DtlsRecordProtection.ReadSequence(record));
            offset += length;
        }
    }

    private void Drive(TimeSpan now)
    {
        LibSsl.ERR_clear_error();
        var result = LibSsl.SSL_do_handshake(_ssl);
        var flight = Flush();
        if (flight.Count > 0) _lastFlight = flight;
        if (result == 1)
        {
            _handshakeDone = true;
            _deadline = TimeSpan.MaxValue;
            OnHandshakeDone();
            return;
        }
        var error = LibSsl.SSL_get_error(_ssl, result);
        if (error is not (LibSsl.SSL_ERROR_WANT_READ or LibSsl.SSL_ERROR_WANT_WRITE))
        {
            Fail("handshake failed: " + LibSsl.TakeError());
            return;
        }
        if (flight.Count > 0)
        {
            // A new flight: its retransmission schedule starts over.
            _interval = InitialRetransmit;
            _timeouts = 0;
            _deadline = now + _interval;
        }
    }

    private void Resend()
    {
        foreach (var datagram in _lastFlight) _outgoing.Enqueue((byte[])datagram.Clone());
    }

    private void OnHandshakeDone()
    {
        var peer = LibSsl.SSL_get1_peer_certificate(_ssl);
        if (peer == 0)
        {
            Fail("peer presented no certificate");
            return;
        }
        var length = LibSsl.i2d_X509(peer, null);
        var der = new byte[Math.Max(0, length)];
        fixed (byte* d = der)
        {
            var p = d;
            LibSsl.i2d_X509(peer, &p);
        }
        LibSsl.X509_free(peer);
        _remoteCertificate = der;
        // The server may finish before the signalling gave us the fingerprint; then we wait for it.
        if (_remoteFingerprint is not null) VerifyAndConnect();
    }

    private void VerifyAndConnect()
    {
        string actual;
        try
        {
            actual = DtlsCertificate.FingerprintOf(_remoteCertificate, _remoteFingerprint!.Algorithm);
        }
        catch (ArgumentException e)
        {
            Fail(e.Message);
            return;
        }
        if (!string.Equals(actual, _remoteFingerprint.Value, StringComparison.OrdinalIgnoreCase))
        {
            Fail($"remote certificate fingerprint {actual} does not match the signalled {_remoteFingerprint.Value}");
            return;
        }
        var profilePointer = LibSsl.SSL_get_selected_srtp_profile(_ssl);
        if (profilePointer == 0)
        {
            if (_requireSrtp)
            {
                Fail("no SRTP profile was negotiated");
                return;
            }
            State = DtlsState.Connected;
            _deadline = TimeSpan.MaxValue;
            _events.Enqueue(new DtlsEvent(DtlsEventKind.Connected));
            ReadApplicationData();
            return;
        }
        // struct SRTP_PROTECTION_PROFILE { const char *name; unsigned long id; }
        var profile = (SrtpProfile)(ushort)*(nuint*)(profilePointer + sizeof(nint));
        var keyLength = profile.MasterKeyLength();
        var saltLength = profile.MasterSaltLength();
        var material = new byte[2 * (keyLength + saltLength)];
        fixed (byte* m = material)
        fixed (byte* label = SrtpExporterLabel)
        {
            if (LibSsl.SSL_export_keying_material(_ssl, m, (nuint)material.Length, label, (nuint)SrtpExporterLabel.Length, null, 0, 0) != 1)
            {
                Fail("SRTP keying material export failed: " + LibSsl.TakeError());
                return;
            }
        }
        // RFC 5764 §4.2: client key, server key, client salt, server salt.
        var clientKey = material[..keyLength];
        var serverKey = material[keyLength..(2 * keyLength)];
        var clientSalt = material[(2 * keyLength)..(2 * keyLength + saltLength)];
        var serverSalt = material[(2 * keyLength + saltLength)..];
        var client = Role == DtlsRole.Client;
        _keys = new SrtpKeyingMaterial
        {
            Profile = profile,
            LocalKey = client ? clientKey : serverKey,
            LocalSalt = client ? clientSalt : serverSalt,
            RemoteKey = client ? serverKey : clientKey,
            RemoteSalt = client ? serverSalt : clientSalt,
        };
        State = DtlsState.Connected;
        _deadline = TimeSpan.MaxValue;
        _events.Enqueue(new DtlsEvent(DtlsEventKind.Connected, Keys: _keys));
        ReadApplicationData();
    }

    /// <summary>Reads what OpenSSL has decrypted; returns how many application-data records it delivered.</summary>
    private int ReadApplicationData()
    {
        if (State != DtlsState.Connected)
        {
            // Handshake done but the fingerprint is still unknown: hold application data until it is verified.
            return 0;
        }
        var delivered = 0;
        while (true)
        {
            LibSsl.ERR_clear_error();
            int n;
            fixed (byte* b = _scratch) n = LibSsl.SSL_read(_ssl, b, _scratch.Length);
            if (n > 0)
            {
                _events.Enqueue(new DtlsEvent(DtlsEventKind.ApplicationData, Data: _scratch[..n]));
                delivered++;
                continue;
            }
            var error = LibSsl.SSL_get_error(_ssl, n);
            if (error == LibSsl.SSL_ERROR_ZERO_RETURN || (LibSsl.SSL_get_shutdown(_ssl) & LibSsl.SSL_RECEIVED_SHUTDOWN) != 0)
            {
                State = DtlsState.Closed;
                // A fatal alert also ends here (OpenSSL marks it received shutdown); its text says which.
                _events.Enqueue(new DtlsEvent(DtlsEventKind.Closed, Reason: error == LibSsl.SSL_ERROR_SSL ? LibSsl.TakeError() : null));
            }
            // Anything else (a retransmitted handshake flight, a bad record) is OpenSSL's to answer or drop.
            Flush();
            return delivered;
        }
    }

    /// <summary>Moves what OpenSSL wrote into datagrams of whole records, each at most the MTU; returns them.</summary>
    private List<byte[]> Flush()
    {
        var datagrams = new List<byte[]>();
        var pending = (int)LibSsl.BIO_ctrl(_wbio, LibSsl.BIO_CTRL_PENDING, 0, 0);
        if (pending <= 0) return datagrams;
        var data = new byte[pending];
        fixed (byte* d = data) LibSsl.BIO_read(_wbio, d, pending);
        var start = 0;
        var offset = 0;
        while (offset + RecordHeader <= data.Length)
        {
            var recordLength = RecordHeader + BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(offset + 11));
            NoteWritten(data.AsSpan(offset));
            if (offset > start && offset + recordLength - start > _mtu)
            {
                datagrams.Add(data[start..offset]);
                start = offset;
            }
            offset += recordLength;
        }
        if (start < data.Length) datagrams.Add(data[start..]);
        foreach (var d in datagrams) _outgoing.Enqueue(d);
        return datagrams;
    }

    /// <summary>Tracks the highest sequence number OpenSSL wrote in its latest epoch (retransmissions get new ones, RFC 6347 §4.1).</summary>
    private void NoteWritten(ReadOnlySpan<byte> header)
    {
        var epoch = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
        var next = DtlsRecordProtection.ReadSequence(header) + 1;
        if (epoch > _writeEpoch)
        {
            _writeEpoch = epoch;
            _writeNext = next;
        }
        else if (epoch == _writeEpoch && next > _writeNext)
        {
            _writeNext = next;
        }
    }

    private void Fail(string reason)
    {
        State = DtlsState.Failed;
        _deadline = TimeSpan.MaxValue;
        _events.Enqueue(new DtlsEvent(DtlsEventKind.Failed, Reason: reason));
    }

    // OpenSSL's own timer never fires in practice: retransmission is ours (see the class remarks).
    [UnmanagedCallersOnly]
    private static uint NeverExpire(nint ssl, uint previousMicroseconds) => 3_600_000_000;

    /// <inheritdoc />
    public void Dispose()
    {
        _own?.Dispose();
        if (_ssl == 0) return;
        LibSsl.SSL_free(_ssl);   // frees both BIOs too
        _ssl = 0;
        _rbio = _wbio = 0;
    }
}
