using Ferry.Protocols.Sctp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Sctp;

public class DcepTests
{
    // RFC 8832 §5.1's layout, by hand: OPEN, partial reliable (rexmit) unordered, priority 256 (normal),
    // 3 retransmissions, label "chat" (4 bytes), protocol "x" (1 byte).
    private static readonly byte[] OpenBytes =
    [
        0x03, 0x81, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x03,
        0x00, 0x04, 0x00, 0x01,
        (byte)'c', (byte)'h', (byte)'a', (byte)'t', (byte)'x',
    ];

    [Fact]
    public void Open_parses_and_writes_byte_for_byte()
    {
        Assert.True(DcepOpen.TryParse(OpenBytes, out var open));
        Assert.Equal(DataChannelType.PartialReliableRexmitUnordered, open.ChannelType);
        Assert.Equal(256, open.Priority);
        Assert.Equal(3u, open.ReliabilityParameter);
        Assert.Equal("chat", open.Label);
        Assert.Equal("x", open.Protocol);
        Assert.False(open.Ordered);
        Assert.Equal(new SctpSendOptions(true, MaxRetransmits: 3), open.SendOptions);
        Assert.Equal(OpenBytes, open.ToBytes());
    }

    [Theory]
    [InlineData(true, null, null, DataChannelType.Reliable, 0u)]
    [InlineData(false, null, null, DataChannelType.ReliableUnordered, 0u)]
    [InlineData(true, 5, null, DataChannelType.PartialReliableRexmit, 5u)]
    [InlineData(false, null, 1500, DataChannelType.PartialReliableTimedUnordered, 1500u)]
    public void Channel_types_follow_ordering_and_reliability(bool ordered, int? rexmit, int? lifetime, DataChannelType type, uint parameter)
    {
        Assert.Equal((type, parameter), DcepOpen.TypeFor(ordered, rexmit, lifetime));
        var open = new DcepOpen(type, 256, parameter, "", "");
        Assert.Equal(!ordered, open.SendOptions.Unordered);
        Assert.Equal(rexmit, open.SendOptions.MaxRetransmits);
        Assert.Equal(lifetime is { } l ? TimeSpan.FromMilliseconds(l) : null, open.SendOptions.Lifetime);
    }

    [Fact]
    public void Truncated_mismatched_or_random_open_messages_are_refused()
    {
        for (var n = 0; n < OpenBytes.Length; n++) Assert.False(DcepOpen.TryParse(OpenBytes.AsSpan(0, n), out _));
        var longer = OpenBytes.Append((byte)0).ToArray();
        Assert.False(DcepOpen.TryParse(longer, out _));
        var badType = (byte[])OpenBytes.Clone();
        badType[1] = 0x03;
        Assert.False(DcepOpen.TryParse(badType, out _));
        var badUtf8 = (byte[])OpenBytes.Clone();
        badUtf8[12] = 0xFF;
        Assert.False(DcepOpen.TryParse(badUtf8, out _));
        var random = new Random(8832);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 40)];
            random.NextBytes(bytes);
            if (bytes.Length > 0) bytes[0] = 3;
            if (DcepOpen.TryParse(bytes, out var open)) Assert.Equal(bytes, open.ToBytes());
        }
    }

    private static SctpPair Connected(int seed, LinkConditions? conditions = null)
    {
        var pair = new SctpPair(seed, conditions);
        pair.ConnectOrFail();
        return pair;
    }

    [Fact]
    public void An_in_band_channel_gets_an_even_id_from_the_dtls_client_and_is_acknowledged()
    {
        using var pair = Connected(300);
        var channel = pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "chat", Protocol = "json", Ordered = false, MaxRetransmits = 2 })!;
        Assert.Equal(0, channel.Id);
        Assert.False(channel.Acknowledged);
        Assert.Equal(2, pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "second" })!.Id);
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => channel.Acknowledged, TimeSpan.FromSeconds(2)));
        var opened = pair.B.ChannelEvents.Where(e => e.Kind == DataChannelEventKind.ChannelOpened).Select(e => e.Channel!).ToList();
        Assert.Equal(2, opened.Count);
        Assert.Equal("chat", opened[0].Parameters.Label);
        Assert.Equal("json", opened[0].Parameters.Protocol);
        Assert.Equal(DataChannelType.PartialReliableRexmitUnordered, opened[0].Parameters.ChannelType);
        Assert.Contains(pair.A.ChannelEvents, e => e.Kind == DataChannelEventKind.ChannelAcknowledged && e.Channel == channel);
        // The server side picks odd ids.
        Assert.Equal(1, pair.B.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "from-b" })!.Id);
        Assert.Empty(pair.B.Received);   // DCEP never reaches the application
    }

    [Fact]
    public void Messages_use_the_webrtc_ppids_and_empty_ones_carry_a_placeholder()
    {
        using var pair = Connected(301);
        var channel = pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Negotiated = true, Id = 6 })!;
        pair.B.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Negotiated = true, Id = 6 });
        var e = pair.A.Endpoint;
        Assert.Equal(SctpSendResult.Ok, e.Send(pair.Net.Now, 6, "hi"u8, isString: true));
        Assert.Equal(SctpSendResult.Ok, e.Send(pair.Net.Now, 6, [1, 2], isString: false));
        Assert.Equal(SctpSendResult.Ok, e.Send(pair.Net.Now, 6, [], isString: true));
        Assert.Equal(SctpSendResult.Ok, e.Send(pair.Net.Now, 6, [], isString: false));
        Assert.Equal(SctpSendResult.InvalidStream, e.Send(pair.Net.Now, 8, [1], isString: false));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 4, TimeSpan.FromSeconds(2)));
        Assert.Equal([51u, 53u, 56u, 57u], pair.B.Received.Select(r => r.Ppid));
        Assert.Equal("hi"u8.ToArray(), pair.B.Received[0].Data);
        Assert.Empty(pair.B.Received[2].Data);
        Assert.Empty(pair.B.Received[3].Data);
        Assert.True(channel.Acknowledged);   // negotiated: no DCEP, unordered sending allowed at once
        Assert.Equal(0, pair.B.Endpoint.MessagesWithoutChannel);
    }

    [Fact]
    public void An_open_with_the_wrong_parity_is_refused_by_resetting_the_stream()
    {
        using var pair = Connected(302);
        // B is the DTLS server and must use odd ids; an even one breaks RFC 8832 §6.
        pair.B.Sctp.Send(pair.Net.Now, 4, DataChannelPpid.Dcep, new DcepOpen(DataChannelType.Reliable, 256, 0, "bad", "").ToBytes());
        pair.B.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.SctpEvents.Any(e => e.Kind == SctpEventKind.IncomingStreamsReset), TimeSpan.FromSeconds(2)));
        Assert.Equal(1, pair.A.Endpoint.RejectedOpens);
        Assert.DoesNotContain(pair.A.ChannelEvents, e => e.Kind == DataChannelEventKind.ChannelOpened);
        // A malformed one too.
        pair.B.Sctp.Send(pair.Net.Now, 7, DataChannelPpid.Dcep, [3, 0, 0]);
        pair.B.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.Endpoint.RejectedOpens == 2, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void Closing_a_channel_resets_both_halves_and_frees_its_id()
    {
        using var pair = Connected(303, LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(10), Loss = 0.1 });
        var channel = pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "c" })!;
        for (var i = 0; i < 20; i++) pair.A.Endpoint.Send(pair.Net.Now, channel.Id, [(byte)i], isString: false);
        pair.A.Endpoint.CloseChannel(pair.Net.Now, channel.Id);
        Assert.Equal(SctpSendResult.InvalidStream, pair.A.Endpoint.Send(pair.Net.Now, channel.Id, [1], isString: false));
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.A.ChannelEvents.Any(e => e.Kind == DataChannelEventKind.ChannelClosed)
            && pair.B.ChannelEvents.Any(e => e.Kind == DataChannelEventKind.ChannelClosed), TimeSpan.FromSeconds(30)));
        Assert.Equal(20, pair.B.Received.Count);
        Assert.True(pair.Net.RunUntil(() => pair.A.Endpoint.Channels.Count == 0 && pair.B.Endpoint.Channels.Count == 0, TimeSpan.FromSeconds(30)));
        // The id is reused, and the new channel starts clean.
        var again = pair.A.Endpoint.OpenChannel(pair.Net.Now, new DataChannelOptions { Label = "again" })!;
        Assert.Equal(channel.Id, again.Id);
        pair.A.Endpoint.Send(pair.Net.Now, again.Id, "x"u8, isString: true);
        pair.A.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.B.Received.Count == 21, TimeSpan.FromSeconds(30)));
        Assert.Contains(pair.B.ChannelEvents, e => e.Kind == DataChannelEventKind.ChannelOpened && e.Channel!.Parameters.Label == "again");
    }
}
