using System.Security.Cryptography;
using System.Text;
using Ferry.Protocols.Net;
using Ferry.Protocols.Stun;

namespace Ferry.Protocols.Ice;

/// <summary>
/// The ICE-lite, ICE-controlled side of a WebRTC transport (RFC 8445 §2.5 and §7.3, RFC 7675
/// consent) with mediasoup's rules: answers Binding requests from the browser, learns up to
/// <see cref="MaxTuples"/> validated remote tuples, selects the nominated one, drops to
/// disconnected when consent lapses, and survives ICE restarts. Sans-IO: datagrams and time go
/// in, responses are written to the caller's buffer, events are polled.
/// </summary>
public sealed class IceLiteAgent
{
    /// <summary>Tuples remembered per transport (mediasoup's limit).</summary>
    public const int MaxTuples = 8;

    /// <summary>mediasoup's default consent timeout.</summary>
    public static readonly TimeSpan DefaultConsentTimeout = TimeSpan.FromSeconds(30);

    private readonly List<TransportTuple> _tuples = new(MaxTuples);
    private readonly Queue<IceEvent> _events = new();
    private byte[] _ufrag;
    private byte[] _password;
    private byte[]? _oldUfrag;
    private byte[]? _oldPassword;
    private TransportTuple? _selected;
    private uint _lastNomination;
    private TimeSpan _consentDeadline = TimeSpan.MaxValue;

    /// <summary>Creates an agent with local credentials.</summary>
    /// <param name="localUfrag">Local username fragment.</param>
    /// <param name="localPassword">Local password (the MESSAGE-INTEGRITY key).</param>
    /// <param name="consentTimeout">mediasoup's iceConsentTimeout: zero disables; otherwise clamped to 10-60 s. Null: 30 s.</param>
    public IceLiteAgent(string localUfrag, string localPassword, TimeSpan? consentTimeout = null)
    {
        _ufrag = Encoding.UTF8.GetBytes(localUfrag);
        _password = Encoding.UTF8.GetBytes(localPassword);
        var timeout = consentTimeout ?? DefaultConsentTimeout;
        ConsentTimeout = timeout == TimeSpan.Zero ? TimeSpan.Zero
            : TimeSpan.FromTicks(Math.Clamp(timeout.Ticks, TimeSpan.FromSeconds(10).Ticks, TimeSpan.FromSeconds(60).Ticks));
    }

    /// <summary>Current state.</summary>
    public IceState State { get; private set; } = IceState.New;

    /// <summary>The tuple media is sent to, once one is selected.</summary>
    public TransportTuple? SelectedTuple => _selected;

    /// <summary>Validated tuples, oldest first.</summary>
    public IReadOnlyList<TransportTuple> Tuples => _tuples;

    /// <summary>Current local ufrag.</summary>
    public string LocalUfrag => Encoding.UTF8.GetString(_ufrag);

    /// <summary>Current local password.</summary>
    public string LocalPassword => Encoding.UTF8.GetString(_password);

    /// <summary>The consent timeout in force (zero = disabled).</summary>
    public TimeSpan ConsentTimeout { get; }

    /// <summary>Error code of the last error response written.</summary>
    public int LastErrorCode { get; private set; }

    /// <summary>Valid Binding requests answered.</summary>
    public long RequestsAccepted { get; private set; }

    /// <summary>Requests answered with an error.</summary>
    public long RequestsRejected { get; private set; }

    /// <summary>Datagrams that were not well-formed STUN, or not requests.</summary>
    public long Dropped { get; private set; }

    /// <summary>When <see cref="HandleTimeout"/> should run next (the consent deadline).</summary>
    public TimeSpan NextTimeout => _consentDeadline;

    /// <summary>New random credentials as mediasoup makes them: 32 characters of [0-9a-z] each.</summary>
    public static (string Ufrag, string Password) GenerateCredentials() => (RandomToken(32), RandomToken(32));

    private static string RandomToken(int length) =>
        RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", length);

    /// <summary>
    /// Handles a STUN datagram from <paramref name="from"/>. A request gets a response written to
    /// <paramref name="response"/> (send it back to <paramref name="from"/>); anything malformed
    /// or unauthenticated changes no state.
    /// </summary>
    public IceStunResult HandleStun(ReadOnlySpan<byte> datagram, TransportTuple from, TimeSpan now, Span<byte> response, out int responseLength)
    {
        responseLength = 0;
        if (State == IceState.Closed || !StunMessage.TryParse(datagram, out var request))
        {
            Dropped++;
            return IceStunResult.Malformed;
        }
        if (request.Class != StunClass.Request)
        {
            Dropped++;
            return IceStunResult.Ignored;
        }
        if (request.Method != StunConstants.BindingMethod) return Error(request, from, 400, "Bad Request", null, response, out responseLength);
        if (!request.VerifyFingerprint()) return Error(request, from, 400, "Bad Request", null, response, out responseLength);

        foreach (var attribute in request.Attributes)
        {
            if (StunAttributeType.IsComprehensionRequired(attribute.Type) && !StunAttributeType.IsKnown(attribute.Type))
                return Error(request, from, 420, "Unknown Attribute", null, response, out responseLength, attribute.Type);
        }

        if (!request.TryGetUsername(out var username) || !request.Has(StunAttributeType.MessageIntegrity))
            return Error(request, from, 400, "Bad Request", null, response, out responseLength);
        if (!request.TryGetPriority(out _)) return Error(request, from, 400, "Bad Request", null, response, out responseLength);

        // USERNAME is "ourUfrag:theirUfrag"; the current or, until replaced, the previous credentials.
        var colon = username.IndexOf((byte)':');
        var ufrag = colon < 0 ? username : username[..colon];
        byte[]? key = null;
        var usedNew = false;
        if (ufrag.SequenceEqual(_ufrag)) { key = _password; usedNew = true; }
        else if (_oldUfrag is not null && ufrag.SequenceEqual(_oldUfrag)) key = _oldPassword;
        if (colon < 0 || key is null || !request.VerifyMessageIntegrity(key))
            return Error(request, from, 401, "Unauthorized", null, response, out responseLength);

        if (request.Has(StunAttributeType.IceControlled))
            return Error(request, from, 487, "Role Conflict", key, response, out responseLength);

        if (usedNew && _oldUfrag is not null)
        {
            // The peer has moved to the new credentials: the old ones stop working.
            _oldUfrag = null;
            _oldPassword = null;
        }

        var nominated = request.Has(StunAttributeType.UseCandidate);
        if (request.TryGetNomination(out var nomination))
        {
            nominated = nomination > _lastNomination;
            if (nominated) _lastNomination = nomination;
        }
        Accept(from, nominated, now);

        var writer = new StunWriter(response, StunConstants.BindingMethod, StunClass.SuccessResponse, request.TransactionId);
        Span<byte> address = stackalloc byte[16];
        from.WriteAddress(address);
        writer.AddXorMappedAddress(address, from.Port, from.IsIPv4);
        writer.AddMessageIntegrity(key);
        responseLength = writer.AddFingerprint();
        RequestsAccepted++;
        return IceStunResult.Success;
    }

    /// <summary>True when media from <paramref name="tuple"/> may be accepted (it passed a STUN check).</summary>
    public bool IsValidatedTuple(TransportTuple tuple) => _tuples.Contains(tuple);

    /// <summary>
    /// A valid DTLS/RTP/RTCP packet came from a known tuple: mediasoup selects it when connected or
    /// completed (the browser has switched paths). Returns false for unknown tuples, which must be dropped.
    /// </summary>
    public bool OnValidPacket(TransportTuple from)
    {
        if (!_tuples.Contains(from)) return false;
        if (State is IceState.Connected or IceState.Completed && _selected != from) Select(from);
        return true;
    }

    /// <summary>Forgets a tuple (its TCP connection closed, say); another is selected or the state drops to disconnected.</summary>
    public void RemoveTuple(TransportTuple tuple)
    {
        if (!_tuples.Remove(tuple) || _selected != tuple) return;
        if (_tuples.Count > 0 && State is IceState.Connected or IceState.Completed) Select(_tuples[0]);
        else
        {
            _selected = null;
            SetState(IceState.Disconnected);
        }
    }

    /// <summary>
    /// ICE restart: new local credentials; the ones the peer uses work until it uses the new ones (after
    /// two restarts the peer never followed, the ones it still uses, not the unused middle ones). State and tuples are kept.
    /// </summary>
    public void Restart(string ufrag, string password, TimeSpan now)
    {
        // While old credentials are still set the peer has not used the current ones: the old ones are what
        // it uses, so they stay (a second restart, or a second move, before the peer adopted the first).
        if (_oldUfrag is null)
        {
            _oldUfrag = _ufrag;
            _oldPassword = _password;
        }
        _ufrag = Encoding.UTF8.GetBytes(ufrag);
        _password = Encoding.UTF8.GetBytes(password);
        if (_consentDeadline != TimeSpan.MaxValue) _consentDeadline = now + ConsentTimeout;
    }

    /// <summary>Runs the consent check: when it lapsed, every tuple is dropped and the state goes to disconnected.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        if (now < _consentDeadline) return;
        _consentDeadline = TimeSpan.MaxValue;
        _tuples.Clear();
        _selected = null;
        SetState(IceState.Disconnected);
    }

    /// <summary>Closes the agent; it answers nothing afterwards.</summary>
    public void Close()
    {
        _tuples.Clear();
        _selected = null;
        _consentDeadline = TimeSpan.MaxValue;
        SetState(IceState.Closed);
    }

    /// <summary>Takes the next event, if any.</summary>
    public bool TryPollEvent(out IceEvent e) => _events.TryDequeue(out e);

    /// <summary>The agent's state as plain data.</summary>
    public IceLiteAgentState Export() => new()
    {
        LocalUfrag = LocalUfrag,
        LocalPassword = LocalPassword,
        OldUfrag = _oldUfrag is null ? null : Encoding.UTF8.GetString(_oldUfrag),
        OldPassword = _oldPassword is null ? null : Encoding.UTF8.GetString(_oldPassword),
        State = State,
        Tuples = _tuples.ToArray(),
        Selected = _selected,
        LastNomination = _lastNomination,
        ConsentTimeout = ConsentTimeout,
        ConsentDeadline = _consentDeadline,
    };

    /// <summary>Rebuilds an agent from <see cref="Export"/>; <paramref name="clockShift"/> converts the exporter's clock to this one.</summary>
    public static IceLiteAgent Import(IceLiteAgentState state, TimeSpan clockShift = default)
    {
        var agent = new IceLiteAgent(state.LocalUfrag, state.LocalPassword, state.ConsentTimeout)
        {
            State = state.State,
            _selected = state.Selected,
            _lastNomination = state.LastNomination,
            _consentDeadline = state.ConsentDeadline == TimeSpan.MaxValue ? TimeSpan.MaxValue : state.ConsentDeadline + clockShift,
        };
        agent._oldUfrag = state.OldUfrag is null ? null : Encoding.UTF8.GetBytes(state.OldUfrag);
        agent._oldPassword = state.OldPassword is null ? null : Encoding.UTF8.GetBytes(state.OldPassword);
        agent._tuples.AddRange(state.Tuples);
        return agent;
    }

    private void Accept(TransportTuple from, bool nominated, TimeSpan now)
    {
        if (!_tuples.Contains(from))
        {
            if (_tuples.Count == MaxTuples)
            {
                // Evict the oldest tuple that is not the selected one.
                var victim = _tuples.FindIndex(t => t != _selected);
                _tuples.RemoveAt(victim);
            }
            _tuples.Add(from);
        }
        switch (State)
        {
            case IceState.New or IceState.Disconnected:
                Select(from);
                SetState(nominated ? IceState.Completed : IceState.Connected);
                break;
            case IceState.Connected:
                if (nominated)
                {
                    Select(from);
                    SetState(IceState.Completed);
                }
                break;
            case IceState.Completed:
                if (nominated) Select(from);
                break;
        }
        if (ConsentTimeout > TimeSpan.Zero) _consentDeadline = now + ConsentTimeout;
    }

    private void Select(TransportTuple tuple)
    {
        if (_selected == tuple) return;
        _selected = tuple;
        _events.Enqueue(new IceEvent(IceEventKind.SelectedTupleChanged, State, tuple));
    }

    private void SetState(IceState state)
    {
        if (State == state) return;
        State = state;
        _events.Enqueue(new IceEvent(IceEventKind.StateChanged, state, default));
    }

    private IceStunResult Error(StunMessage request, TransportTuple from, int code, string reason, byte[]? key, Span<byte> response, out int length, ushort unknownAttribute = 0)
    {
        _ = from;
        var writer = new StunWriter(response, request.Method, StunClass.ErrorResponse, request.TransactionId);
        writer.AddErrorCode(code, reason);
        if (code == 420)
        {
            Span<byte> v = stackalloc byte[2];
            v[0] = (byte)(unknownAttribute >> 8);
            v[1] = (byte)unknownAttribute;
            writer.Add(StunAttributeType.UnknownAttributes, v);
        }
        if (key is not null) writer.AddMessageIntegrity(key);
        length = writer.AddFingerprint();
        LastErrorCode = code;
        RequestsRejected++;
        return IceStunResult.ErrorResponse;
    }
}
