using System.Net;
using System.Text;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Stun;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Ice;

public class IceLiteAgentTests
{
    private const string Ufrag = "localufrag";
    private const string Pwd = "localpassword0123456789abcdefghij";
    private static readonly TransportTuple A = TransportTuple.From(new IPEndPoint(IPAddress.Loopback, 50000));
    private static readonly TransportTuple B = TransportTuple.From(new IPEndPoint(IPAddress.Loopback, 50001));
    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    /// <summary>Builds a Binding request as a controlling browser sends it.</summary>
    internal static byte[] Check(string username = Ufrag + ":remote", string password = Pwd, bool useCandidate = false,
        bool priority = true, bool controlled = false, uint? nomination = null, ushort? extraAttribute = null, bool fingerprint = true, int id = 1)
    {
        var buffer = new byte[300];
        var tid = new byte[12];
        BitConverter.TryWriteBytes(tid, id);
        var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Request, tid);
        w.AddString(StunAttributeType.Username, username);
        if (priority) w.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
        w.AddUInt64(controlled ? StunAttributeType.IceControlled : StunAttributeType.IceControlling, 42);
        if (useCandidate) w.Add(StunAttributeType.UseCandidate, ReadOnlySpan<byte>.Empty);
        if (nomination is { } n) w.AddUInt32(StunAttributeType.Nomination, n);
        if (extraAttribute is { } t) w.AddUInt32(t, 0);
        w.AddMessageIntegrity(Encoding.UTF8.GetBytes(password));
        var length = fingerprint ? w.AddFingerprint() : w.Length;
        return buffer[..length];
    }

    private static (IceStunResult Result, byte[] Response) Handle(IceLiteAgent agent, byte[] request, TransportTuple from, TimeSpan now)
    {
        var response = new byte[300];
        var result = agent.HandleStun(request, from, now, response, out var n);
        return (result, response[..n]);
    }

    private static List<IceEvent> Events(IceLiteAgent agent)
    {
        var list = new List<IceEvent>();
        while (agent.TryPollEvent(out var e)) list.Add(e);
        return list;
    }

    [Fact]
    public void A_valid_check_is_answered_signed_with_the_mapped_address_and_connects()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        var (result, response) = Handle(agent, Check(), A, S(0));
        Assert.Equal(IceStunResult.Success, result);
        Assert.True(StunMessage.TryParse(response, out var m));
        Assert.Equal(StunClass.SuccessResponse, m.Class);
        Assert.True(m.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(Pwd)));
        Assert.True(m.VerifyFingerprint());
        Span<byte> address = stackalloc byte[16];
        Assert.True(m.TryGetXorMappedAddress(address, out var port, out var v4));
        Assert.Equal(50000, port);
        Assert.True(v4);
        Assert.Equal(A, new TransportTuple(address, port, TransportProtocol.Udp));
        Assert.Equal(IceState.Connected, agent.State);
        Assert.Equal(A, agent.SelectedTuple);
        Assert.Equal([IceEventKind.SelectedTupleChanged, IceEventKind.StateChanged], Events(agent).Select(e => e.Kind));
        Assert.True(agent.IsValidatedTuple(A));
        Assert.False(agent.IsValidatedTuple(B));
    }

    [Fact]
    public void Use_candidate_completes_and_a_later_nominated_tuple_is_selected()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(), A, S(0));
        Handle(agent, Check(useCandidate: true), A, S(1));
        Assert.Equal(IceState.Completed, agent.State);
        Handle(agent, Check(), B, S(2));
        Assert.Equal(A, agent.SelectedTuple);
        Handle(agent, Check(useCandidate: true), B, S(3));
        Assert.Equal(B, agent.SelectedTuple);
    }

    [Fact]
    public void Renomination_selects_only_on_a_greater_nomination()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(nomination: 5), A, S(0));
        Assert.Equal(IceState.Completed, agent.State);
        Handle(agent, Check(nomination: 4), B, S(1));
        Assert.Equal(A, agent.SelectedTuple);
        Handle(agent, Check(nomination: 6), B, S(2));
        Assert.Equal(B, agent.SelectedTuple);
    }

    [Theory]
    [InlineData("wrongufrag:remote", Pwd, 401)]
    [InlineData(Ufrag + ":remote", "wrongpassword", 401)]
    [InlineData(Ufrag, Pwd, 401)]
    public void Bad_credentials_get_401_and_change_nothing(string username, string password, int code)
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        var (result, response) = Handle(agent, Check(username, password), A, S(0));
        Assert.Equal(IceStunResult.ErrorResponse, result);
        Assert.True(StunMessage.TryParse(response, out var m));
        Assert.True(m.TryGetErrorCode(out var got, out _));
        Assert.Equal(code, got);
        Assert.Equal(StunClass.ErrorResponse, m.Class);
        Assert.Equal(IceState.New, agent.State);
        Assert.Empty(agent.Tuples);
        Assert.Empty(Events(agent));
    }

    [Fact]
    public void Missing_priority_or_fingerprint_is_400_controlled_peer_is_487_unknown_required_attribute_is_420()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Assert.Equal(IceStunResult.ErrorResponse, Handle(agent, Check(priority: false), A, S(0)).Result);
        Assert.Equal(400, agent.LastErrorCode);
        Assert.Equal(IceStunResult.ErrorResponse, Handle(agent, Check(fingerprint: false), A, S(0)).Result);
        Assert.Equal(400, agent.LastErrorCode);
        var (_, conflict) = Handle(agent, Check(controlled: true), A, S(0));
        Assert.Equal(487, agent.LastErrorCode);
        Assert.True(StunMessage.TryParse(conflict, out var m));
        Assert.True(m.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(Pwd)));
        var (_, unknown) = Handle(agent, Check(extraAttribute: 0x7F00), A, S(0));
        Assert.Equal(420, agent.LastErrorCode);
        Assert.True(StunMessage.TryParse(unknown, out var u));
        Assert.True(u.TryGetAttribute(StunAttributeType.UnknownAttributes, out var list, out _));
        Assert.Equal(new byte[] { 0x7F, 0x00 }, list.ToArray());
        Assert.Equal(IceState.New, agent.State);
        Assert.Equal(4, agent.RequestsRejected);
        // An unknown comprehension-optional attribute is fine.
        Assert.Equal(IceStunResult.Success, Handle(agent, Check(extraAttribute: 0x8F00), A, S(0)).Result);
    }

    [Fact]
    public void Consent_expires_exactly_at_the_timeout_and_every_check_renews_it()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        Assert.Equal(S(30), agent.NextTimeout);
        Handle(agent, Check(), A, S(10));
        Assert.Equal(S(40), agent.NextTimeout);
        agent.HandleTimeout(S(39.999));
        Assert.Equal(IceState.Completed, agent.State);
        Events(agent);
        agent.HandleTimeout(S(40));
        Assert.Equal(IceState.Disconnected, agent.State);
        Assert.Null(agent.SelectedTuple);
        Assert.Empty(agent.Tuples);
        Assert.Equal(TimeSpan.MaxValue, agent.NextTimeout);
        Assert.Equal([new IceEvent(IceEventKind.StateChanged, IceState.Disconnected, default)], Events(agent));
        // A new check brings it back.
        Handle(agent, Check(useCandidate: true), B, S(50));
        Assert.Equal(IceState.Completed, agent.State);
    }

    [Fact]
    public void Consent_timeout_zero_disables_it_and_others_are_clamped()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd, TimeSpan.Zero);
        Handle(agent, Check(), A, S(0));
        Assert.Equal(TimeSpan.MaxValue, agent.NextTimeout);
        Assert.Equal(S(10), new IceLiteAgent(Ufrag, Pwd, S(2)).ConsentTimeout);
        Assert.Equal(S(60), new IceLiteAgent(Ufrag, Pwd, S(600)).ConsentTimeout);
    }

    [Fact]
    public void Restart_keeps_the_old_credentials_until_the_new_ones_are_used()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        var (ufrag, pwd) = IceLiteAgent.GenerateCredentials();
        Assert.Equal(32, ufrag.Length);
        Assert.Equal(32, pwd.Length);
        Assert.Matches("^[0-9a-z]{32}$", pwd);
        agent.Restart(ufrag, pwd, S(1));
        Assert.Equal(IceState.Completed, agent.State);
        var (old, oldResponse) = Handle(agent, Check(), A, S(2));
        Assert.Equal(IceStunResult.Success, old);
        Assert.True(StunMessage.TryParse(oldResponse, out var m));
        Assert.True(m.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(Pwd)));   // signed with the password the request used
        Assert.Equal(IceStunResult.Success, Handle(agent, Check(ufrag + ":remote2", pwd), A, S(3)).Result);
        Assert.Equal(IceStunResult.ErrorResponse, Handle(agent, Check(), A, S(4)).Result);
        Assert.Equal(401, agent.LastErrorCode);
    }

    [Fact]
    public void At_most_eight_tuples_are_kept_and_the_selected_one_survives_eviction()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        for (var i = 0; i < 10; i++) Handle(agent, Check(), TransportTuple.From(new IPEndPoint(IPAddress.Loopback, 60000 + i)), S(1));
        Assert.Equal(IceLiteAgent.MaxTuples, agent.Tuples.Count);
        Assert.True(agent.IsValidatedTuple(A));
        Assert.Equal(A, agent.SelectedTuple);
    }

    [Fact]
    public void Media_from_a_known_tuple_selects_it_and_removing_the_selected_tuple_falls_back()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        Handle(agent, Check(), B, S(0));
        Assert.False(agent.OnValidPacket(TransportTuple.From(new IPEndPoint(IPAddress.Loopback, 1))));
        Assert.True(agent.OnValidPacket(B));
        Assert.Equal(B, agent.SelectedTuple);
        agent.RemoveTuple(B);
        Assert.Equal(A, agent.SelectedTuple);
        agent.RemoveTuple(A);
        Assert.Equal(IceState.Disconnected, agent.State);
    }

    [Fact]
    public void Exported_state_continues_in_a_new_agent()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        agent.Restart("newufrag", "newpassword", S(1));
        var moved = IceLiteAgent.Import(agent.Export(), clockShift: S(100));
        Assert.Equal(IceState.Completed, moved.State);
        Assert.Equal(A, moved.SelectedTuple);
        Assert.Equal(S(131), moved.NextTimeout);
        Assert.Equal(IceStunResult.Success, Handle(moved, Check(), A, S(102)).Result);              // old credentials still good
        Assert.Equal(IceStunResult.Success, Handle(moved, Check("newufrag:r", "newpassword"), A, S(103)).Result);
        Assert.Equal(IceStunResult.ErrorResponse, Handle(moved, Check(), A, S(104)).Result);
    }

    [Fact]
    public void Random_and_truncated_input_never_throws_and_never_changes_state()
    {
        var agent = new IceLiteAgent(Ufrag, Pwd);
        Handle(agent, Check(useCandidate: true), A, S(0));
        Events(agent);
        var valid = Check(useCandidate: true, id: 2);
        var response = new byte[512];
        for (var n = 0; n < valid.Length; n++) agent.HandleStun(valid.AsSpan(0, n), B, S(1), response, out _);
        var random = new Random(8445);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = valid.ToArray();
            bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
            if (random.Next(4) == 0) bytes = bytes[..random.Next(bytes.Length)];
            if (random.Next(8) == 0) random.NextBytes(bytes);
            var result = agent.HandleStun(bytes, B, S(1), response, out _);
            Assert.NotEqual(IceStunResult.Success, result);
        }
        Assert.Equal(IceState.Completed, agent.State);
        Assert.Equal(A, agent.SelectedTuple);
        Assert.False(agent.IsValidatedTuple(B));
        Assert.Empty(Events(agent));
    }

    [Fact]
    public void A_controlling_client_reaches_completed_through_a_lossy_network_and_replays_from_its_seed()
    {
        ulong Run(int seed)
        {
            var net = new SimNetwork(seed) { DefaultConditions = new LinkConditions { Latency = TimeSpan.FromMilliseconds(20), Loss = 0.3, Jitter = TimeSpan.FromMilliseconds(5) } };
            var client = SimAddress.Loopback(1, 5000);
            var server = SimAddress.Loopback(2, 6000);
            var agent = new IceLiteAgent(Ufrag, Pwd);
            var responses = 0;
            var next = TimeSpan.Zero;
            var id = 0;
            net.Attach(server, new DelegateNode((n, from, to, data) =>
            {
                var buffer = new byte[300];
                if (agent.HandleStun(data, TransportTuple.From(from), n.Now, buffer, out var length) == IceStunResult.Success)
                    n.Send(to, from, buffer.AsSpan(0, length));
            }));
            // The client retransmits a nominating check every 50 ms until it gets an answer (RFC 8445 pacing, simplified).
            net.Attach(client, new DelegateNode(
                (n, from, to, data) => { if (StunMessage.TryParse(data, out var m) && m.Class == StunClass.SuccessResponse) responses++; },
                deadline: () => responses > 0 ? TimeSpan.MaxValue : next,
                onTimeout: n => { n.Send(client, server, Check(useCandidate: true, id: ++id)); next = n.Now + TimeSpan.FromMilliseconds(50); }));
            Assert.True(net.RunUntil(() => responses > 0, TimeSpan.FromSeconds(10)), $"seed {seed}: {net.Stats}");
            Assert.Equal(IceState.Completed, agent.State);
            Assert.Equal(TransportTuple.From(client), agent.SelectedTuple);
            return net.TraceHash;
        }
        for (var seed = 1; seed <= 20; seed++) Assert.Equal(Run(seed), Run(seed));
    }
}
