using System.Buffers.Binary;

namespace Ferry.Protocols.Dtls;

/// <summary>TLS record content types (RFC 5246 §6.2.1).</summary>
internal enum DtlsContentType : byte
{
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
}

// The imported endpoint: Ferry's own DTLS 1.2 application-data record layer, continuing an
// association whose handshake OpenSSL ran somewhere else.
public sealed partial class DtlsEndpoint
{
    private const byte AlertWarning = 1, AlertFatal = 2, AlertCloseNotify = 0;
    private const long MaxSequence = (1L << 48) - 1;

    private DtlsRecordProtection? _own;
    private ushort _readEpoch = 1;
    private byte[]? _masterSecret, _clientRandom, _serverRandom;

    /// <summary>Records dropped by Ferry's own record layer (an imported endpoint): malformed, truncated, of another epoch, replayed or too old, or failing authentication. OpenSSL drops such records silently and does not count them.</summary>
    public long DroppedRecords { get; private set; }

    /// <summary>Of <see cref="DroppedRecords"/>, those that failed AEAD authentication (forged or damaged).</summary>
    public long AuthenticationFailures { get; private set; }

    /// <summary>Of <see cref="DroppedRecords"/>, those already received or too far behind the 64-record replay window.</summary>
    public long ReplayedRecords { get; private set; }

    /// <summary>Handshake and ChangeCipherSpec records an imported endpoint ignored (the peer retransmitting its last flight); not answered, not in <see cref="DroppedRecords"/>.</summary>
    public long IgnoredHandshakeRecords { get; private set; }

    /// <summary>True for an endpoint made by <see cref="Import"/>: its application data runs on Ferry's own record layer.</summary>
    public bool IsImported => _own is not null;

    /// <summary>
    /// Continues an association exported by <see cref="ExportState"/> (on this or another server):
    /// the endpoint is already <see cref="DtlsState.Connected"/> (no Connected event is raised; the
    /// SRTP keys are <see cref="DtlsSessionState.Srtp"/>), and its application data, alerts and
    /// close_notify run on Ferry's own DTLS 1.2 record layer keyed from the exported secrets, with the
    /// sequence numbers and replay window carried on. Handshake records that arrive later are ignored
    /// (<see cref="IgnoredHandshakeRecords"/>): DTLS is never renegotiated after a move.
    /// </summary>
    /// <param name="state">What <see cref="ExportState"/> returned.</param>
    /// <param name="mtu">Largest datagram (kept for parity with the OpenSSL endpoint; one record is sent per datagram).</param>
    /// <exception cref="NotSupportedException">The state's cipher suite is not one Ferry's record layer runs.</exception>
    /// <exception cref="ArgumentException">The state is malformed (secret or random lengths, epochs, sequence numbers out of range).</exception>
    public static DtlsEndpoint Import(DtlsSessionState state, int mtu = DefaultMtu)
    {
        ArgumentNullException.ThrowIfNull(state);
        var suite = DtlsSuite.Find(state.CipherSuite)
            ?? throw new NotSupportedException($"cipher suite {state.CipherSuite} cannot be imported: Ferry's record layer runs only {DtlsSuite.OpenSslCipherList}");
        if (state.MasterSecret is not { Length: 48 }) throw new ArgumentException("the master secret must be 48 bytes", nameof(state));
        if (state.ClientRandom is not { Length: 32 } || state.ServerRandom is not { Length: 32 }) throw new ArgumentException("the randoms must be 32 bytes", nameof(state));
        if (state.ReadEpoch is < 0 or > ushort.MaxValue || state.WriteEpoch is < 0 or > ushort.MaxValue) throw new ArgumentException("epochs are 16-bit", nameof(state));
        if (state.ReadSequenceHighest is < -1 or > MaxSequence || state.WriteSequence is < 0 or > MaxSequence + 1) throw new ArgumentException("sequence numbers are 48-bit", nameof(state));
        if (state.Srtp is null || state.RemoteCertificate is null) throw new ArgumentException("SRTP keys and the remote certificate are required", nameof(state));
        return new DtlsEndpoint(state, suite, mtu);
    }

    private DtlsEndpoint(DtlsSessionState state, DtlsSuite suite, int mtu)
    {
        Role = state.Role;
        _mtu = mtu;
        _requireSrtp = true;
        _keys = state.Srtp;
        _remoteCertificate = state.RemoteCertificate.ToArray();
        // Own copies: the caller's state stays its own, and a later export hands out fresh arrays.
        _masterSecret = state.MasterSecret.ToArray();
        _clientRandom = state.ClientRandom.ToArray();
        _serverRandom = state.ServerRandom.ToArray();
        _own = new DtlsRecordProtection(suite, state.Role, _masterSecret, _clientRandom, _serverRandom);
        _readEpoch = (ushort)state.ReadEpoch;
        _readWindow = new DtlsReplayWindow { Highest = state.ReadSequenceHighest, Bitmap = state.ReadReplayBitmap };
        _writeEpoch = (ushort)state.WriteEpoch;
        _writeNext = state.WriteSequence;
        _handshakeDone = true;
        _interval = InitialRetransmit;
        State = DtlsState.Connected;
    }

    private DtlsSessionState ExportOwn()
    {
        _frozen = true;
        return OwnState();
    }

    private DtlsSessionState OwnState()
    {
        return new DtlsSessionState
        {
            Role = Role, CipherSuite = _own!.Suite.OpenSslName,
            MasterSecret = _masterSecret!.ToArray(), ClientRandom = _clientRandom!.ToArray(), ServerRandom = _serverRandom!.ToArray(),
            Srtp = _keys!, RemoteCertificate = _remoteCertificate!.ToArray(),
            ReadEpoch = _readEpoch, ReadSequenceHighest = _readWindow.Highest, ReadReplayBitmap = _readWindow.Bitmap,
            WriteEpoch = _writeEpoch, WriteSequence = _writeNext,
        };
    }

    /// <summary>Protects one record and queues it as one datagram; false when too large or the sequence numbers are spent.</summary>
    internal bool SendOwn(DtlsContentType type, ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.Length > DtlsRecordProtection.MaxPlaintext || _writeNext > MaxSequence) return false;
        // The datagram array is what TryPollDatagram hands out; sealing writes straight into it.
        var datagram = new byte[_own!.Overhead + plaintext.Length];
        _own.Seal((byte)type, _writeEpoch, _writeNext, plaintext, datagram);
        _writeNext++;
        _outgoing.Enqueue(datagram);
        return true;
    }

    private void HandleOwnDatagram(ReadOnlySpan<byte> datagram)
    {
        var offset = 0;
        while (offset < datagram.Length && State == DtlsState.Connected)
        {
            var rest = datagram[offset..];
            if (rest.Length < RecordHeader)
            {
                DroppedRecords++;
                return;
            }
            var length = RecordHeader + BinaryPrimitives.ReadUInt16BigEndian(rest[11..]);
            if (length > rest.Length)
            {
                // A truncated record: its length cannot be trusted, so nothing after it can be found either.
                DroppedRecords++;
                return;
            }
            HandleOwnRecord(rest[..length]);
            offset += length;
        }
    }

    private void HandleOwnRecord(ReadOnlySpan<byte> record)
    {
        var type = (DtlsContentType)record[0];
        if (type is DtlsContentType.Handshake or DtlsContentType.ChangeCipherSpec)
        {
            IgnoredHandshakeRecords++;
            return;
        }
        var sequence = DtlsRecordProtection.ReadSequence(record);
        if (BinaryPrimitives.ReadUInt16BigEndian(record[1..]) != DtlsRecordProtection.Version
            || BinaryPrimitives.ReadUInt16BigEndian(record[3..]) != _readEpoch)
        {
            DroppedRecords++;
            return;
        }
        if (record.Length < _own!.Overhead || record.Length > _own.Overhead + DtlsRecordProtection.MaxPlaintext)
        {
            DroppedRecords++;
            return;
        }
        // The cheap check first; the window moves only once the record has authenticated.
        if (!_readWindow.IsFresh(sequence))
        {
            ReplayedRecords++;
            DroppedRecords++;
            return;
        }
        if (!_own.TryOpen(record, _scratch, out var length))
        {
            AuthenticationFailures++;
            DroppedRecords++;
            return;
        }
        _readWindow.Accept(sequence);
        switch (type)
        {
            case DtlsContentType.ApplicationData:
                // Empty records carry nothing (OpenSSL skips them too).
                if (length > 0) _events.Enqueue(new DtlsEvent(DtlsEventKind.ApplicationData, Data: _scratch[..length]));
                break;
            case DtlsContentType.Alert when length == 2:
                if (_scratch[1] == AlertCloseNotify)
                {
                    State = DtlsState.Closed;
                    _events.Enqueue(new DtlsEvent(DtlsEventKind.Closed));
                }
                else if (_scratch[0] == AlertFatal)
                {
                    // As the OpenSSL path: a fatal alert ends the association as Closed, naming the alert.
                    State = DtlsState.Closed;
                    _events.Enqueue(new DtlsEvent(DtlsEventKind.Closed, Reason: $"fatal alert {_scratch[1]} from the peer"));
                }
                // Warnings other than close_notify change nothing in DTLS 1.2 without renegotiation.
                break;
            default:
                DroppedRecords++;
                break;
        }
    }
}
