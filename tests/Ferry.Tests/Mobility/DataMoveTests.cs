using Ferry.Data;
using Ferry.Protocols.Ortc;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Data.DataFixtures;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// Transports with open data channels move between workers while messages flow: the SCTP association
/// is a plain object of its transport and moves with it; messages between a data producer and a data
/// consumer on different loops go through an ordered queue that follows the consumer. None is lost,
/// none is duplicated, none overtakes another.
/// </summary>
public sealed class DataMoveTests : ThreeWorkers
{
    [Theory]
    [InlineData("sender")]
    [InlineData("receiver")]
    [InlineData("both")]
    public async Task Messages_arrive_exactly_once_in_order_while_data_transports_move_among_workers(string which)
    {
        var home = _routers[0];
        var (sendTransport, sender) = await ConnectedSctpAsync(home);
        var (moverTransport, mover) = await ConnectedSctpAsync(home, SctpLoopback with { SctpSendBufferSize = 16 << 20 });
        var (stayTransport, stayer) = await ConnectedSctpAsync(home, SctpLoopback with { SctpSendBufferSize = 16 << 20 });
        using var senderScope = sender;
        using var moverScope = mover;
        using var stayerScope = stayer;
        var producer = await ProduceChatAsync(sendTransport, sender);
        var moving = await ConsumeAsync(moverTransport, mover, producer);
        var staying = await ConsumeAsync(stayTransport, stayer, producer);

        const int Total = 3000;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                var message = Numbered(i, i % 100 == 0 ? 5000 : 100);
                while (sender.SendData(1, message) == Protocols.Sctp.SctpSendResult.BufferFull) await Task.Delay(2);
                if (i % 4 == 0) await Task.Delay(1);
            }
        });
        var moves = 0;
        var random = new Random(7);
        while (!sending.IsCompleted || moves < 60)
        {
            var transport = which switch
            {
                "sender" => (Transport)sendTransport,
                "receiver" => moverTransport,
                _ => random.Next(2) == 0 ? sendTransport : moverTransport,
            };
            var target = _routers[random.Next(_routers.Count)];
            await transport.MoveToAsync(target);
            Assert.Same(target, transport.Router);
            moves++;
        }
        await sending;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => mover.ReceivedData.Count >= Total && stayer.ReceivedData.Count >= Total, TimeSpan.FromSeconds(30)),
            $"mover {mover.ReceivedData.Count}, stayer {stayer.ReceivedData.Count} of {Total} after {moves} moves");
        await Task.Delay(200);
        foreach (var receiver in new[] { mover, stayer })
        {
            var got = receiver.ReceivedData.ToArray();
            Assert.Equal(Enumerable.Range(0, Total), got.Select(m => MessageNumber(m.Data)));
            for (var i = 0; i < Total; i++) Assert.Equal(Numbered(i, i % 100 == 0 ? 5000 : 100), got[i].Data);
        }
        Assert.Equal(SctpStateName.Connected, sendTransport.SctpState);
        Assert.Equal(SctpStateName.Connected, moverTransport.SctpState);
        Assert.Equal(Total, (await producer.GetStatsAsync())[0].MessagesReceived);
        Assert.Equal(Total, (await moving.GetStatsAsync())[0].MessagesSent);
        Assert.Equal(Total, (await staying.GetStatsAsync())[0].MessagesSent);

        // After the moves the producer may live in another router: it is made consumable there, and closing it still closes every consumer.
        var (lateTransport, late) = await ConnectedSctpAsync(_routers[2]);
        using var lateScope = late;
        await _routers[2].ImportDataProducerAsync(producer);
        var lateConsumer = await ConsumeAsync(lateTransport, late, producer);
        sender.SendData(1, Numbered(Total, 10));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => late.ReceivedData.Count == 1, WaitTimeout));
        // Moving the producer's transport into a router it was imported into makes it at home there.
        var other = _routers.First(r => r != sendTransport.Router);
        await other.ImportDataProducerAsync(producer);
        await sendTransport.MoveToAsync(other);
        sender.SendData(1, Numbered(Total + 1, 10));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => late.ReceivedData.Count == 2 && mover.ReceivedData.Count == Total + 2, WaitTimeout));
        Assert.Contains(producer.Id, (await other.DumpAsync()).MapDataProducerIdDataConsumerIds.Keys);
        var closed = new CountdownEvent(3);
        moving.DataProducerClose += () => closed.Signal();
        staying.DataProducerClose += () => closed.Signal();
        lateConsumer.DataProducerClose += () => closed.Signal();
        await producer.CloseAsync();
        Assert.True(closed.Wait(WaitTimeout));
        Assert.Throws<InvalidOperationException>(() => _routers[2].ConsumeDataCheck(producer.Id));
    }
}

internal static class RouterDataTestExtensions
{
    /// <summary>Throws when the router no longer knows the data producer.</summary>
    public static void ConsumeDataCheck(this Router router, string dataProducerId)
    {
        if (!router.TryGetDataProducer(dataProducerId, out _)) throw new InvalidOperationException("not found");
    }
}
