using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Data;

/// <summary>Transports with SCTP and their far ends (ICE, DTLS and SCTP on Ferry.Protocols over real loopback UDP).</summary>
internal static class DataFixtures
{
    public static WebRtcTransportOptions SctpLoopback => Loopback with { EnableSctp = true };

    /// <summary>A WebRtcTransport with SCTP, its client connected through ICE, DTLS and SCTP.</summary>
    public static async Task<(WebRtcTransport Transport, WebRtcTestClient Client)> ConnectedSctpAsync(Router router, WebRtcTransportOptions? options = null)
    {
        var transport = await router.CreateWebRtcTransportAsync(options ?? SctpLoopback);
        var client = new WebRtcTestClient();
        await transport.ConnectAsync(client.DtlsParameters);
        await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout, transport.SctpParameters);
        await client.WaitSctpConnectedAsync(WaitTimeout);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.SctpState == SctpStateName.Connected, WaitTimeout));
        return (transport, client);
    }

    /// <summary>Message <paramref name="index"/>: its number in the first 4 bytes, then a pattern, <paramref name="size"/> bytes long.</summary>
    public static byte[] Numbered(int index, int size)
    {
        var data = new byte[Math.Max(4, size)];
        BitConverter.TryWriteBytes(data, index);
        for (var i = 4; i < data.Length; i++) data[i] = (byte)(index + i);
        return data;
    }

    public static int MessageNumber(byte[] data) => BitConverter.ToInt32(data);

    /// <summary>A chat-like data producer on stream <paramref name="streamId"/>, the sender's channel open.</summary>
    public static async Task<DataProducer> ProduceChatAsync(WebRtcTransport transport, WebRtcTestClient client, ushort streamId = 1, string label = "chat")
    {
        client.OpenDataChannel(streamId, label: label);
        return await transport.ProduceDataAsync(new DataProducerOptions
        {
            SctpStreamParameters = new SctpStreamParameters { StreamId = streamId, Ordered = true }, Label = label, Protocol = "text",
        });
    }

    /// <summary>A data consumer and the receiver's channel for its stream.</summary>
    public static async Task<DataConsumer> ConsumeAsync(WebRtcTransport transport, WebRtcTestClient client, DataProducer producer, DataConsumerOptions? options = null)
    {
        var consumer = await transport.ConsumeDataAsync(options ?? new DataConsumerOptions { DataProducerId = producer.Id });
        var p = consumer.SctpStreamParameters!;
        client.OpenDataChannel((ushort)p.StreamId, p.Ordered ?? true, p.MaxRetransmits, p.MaxPacketLifeTime, consumer.Label);
        return consumer;
    }
}
