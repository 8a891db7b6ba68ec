using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>
/// Transports move between routers on different workers while media flows: the producer's transport
/// and the consumers' transports, in any order, hundreds of times. The far ends (ICE, DTLS and SRTP
/// built on Ferry.Protocols) see every packet once, in order, with continuous numbers.
/// </summary>
public sealed class TransportMoveTests : ThreeWorkers
{
    private static void AssertExactlyOnceInOrder(WebRtcTestClient receiver, int total)
    {
        var received = receiver.ReceivedRtp.ToArray();
        Assert.Equal(Enumerable.Range(0, total), received.Select(NumberOf));
        RtpPacket.TryParse(received[0], out var first);
        var firstSeq = first.SequenceNumber;
        var ssrc = first.Ssrc;
        for (var i = 0; i < received.Length; i++)
        {
            RtpPacket.TryParse(received[i], out var p);
            Assert.Equal((ushort)(firstSeq + i), p.SequenceNumber);
            Assert.Equal(ssrc, p.Ssrc);
        }
        Assert.Equal(0, receiver.SrtpFailures);
    }

    [Theory]
    [InlineData("sender")]
    [InlineData("receiver")]
    [InlineData("both")]
    public async Task Media_flows_exactly_once_while_producer_and_consumer_transports_move_among_routers_on_all_workers(string which)
    {
        var home = _routers[0];
        var (sendTransport, sender) = await ConnectedAsync(home);
        var (moverTransport, mover) = await ConnectedAsync(home);
        var (stayTransport, stayer) = await ConnectedAsync(home);
        using var senderScope = sender;
        using var moverScope = mover;
        using var stayerScope = stayer;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var moving = await moverTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });
        var staying = await stayTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });

        const int Total = 3000;
        var sending = Task.Run(() =>
        {
            for (var i = 0; i < Total; i++)
            {
                sender.SendRtp(Vp8Packet(11111111, (ushort)(60000 + i), (uint)(i * 300), keyFrame: i == 0, number: i, mid: "0"));
                if (i % 4 == 0) Thread.Sleep(1);
            }
        });
        var reports = new List<TransportMoveReport>();
        var random = new Random(5);
        while (!sending.IsCompleted || reports.Count < 200)
        {
            // Any of the two moving transports, to any router (the stayer's router stays the home one).
            var transport = which switch
            {
                "sender" => (Transport)sendTransport,
                "receiver" => moverTransport,
                _ => random.Next(2) == 0 ? sendTransport : moverTransport,
            };
            var target = _routers[random.Next(_routers.Count)];
            reports.Add(await transport.MoveToAsync(target));
            Assert.Same(target, transport.Router);
        }
        await sending;
        var ok = await WebRtcTestClient.WaitUntilAsync(() => mover.ReceivedRtp.Count >= Total && stayer.ReceivedRtp.Count >= Total, WaitTimeout);
        if (!ok)
        {
            var ps = await producer.GetStatsAsync();
            Assert.Fail($"mover {mover.ReceivedRtp.Count}, stayer {stayer.ReceivedRtp.Count} of {Total} after {reports.Count} moves; producer got {ps.FirstOrDefault()?.PacketCount}; " +
                $"mover drops {moving.DroppedInactive}/{moving.DroppedBeforeSync}/{moving.DroppedDuplicate}, stayer drops {staying.DroppedInactive}/{staying.DroppedBeforeSync}/{staying.DroppedDuplicate}");
        }
        await Task.Delay(300);
        AssertExactlyOnceInOrder(mover, Total);
        AssertExactlyOnceInOrder(stayer, Total);
        Assert.All(reports, r => Assert.Equal(0, r.PacketsDropped));
        Assert.Contains(reports, r => r.FromWorkerId != r.ToWorkerId);
        Assert.Equal(DtlsStateName.Connected, moverTransport.DtlsState);
        Assert.Equal(IceStateName.Completed, sendTransport.IceState);
        Assert.False(moving.Closed);
        Assert.False(staying.Closed);

        // No replica is left that nobody consumes, and every consumer has its producer.
        foreach (var router in _routers)
        {
            var replicas = await router.InvokeAsync(() => router.LocalPipes.Producers.Select(r => r.Consumers.Count).ToList());
            Assert.All(replicas, count => Assert.True(count > 0));
        }
        Assert.NotNull(moving.Producer);
        Assert.NotNull(staying.Producer);
        Assert.Equal(producer.Id, moving.ProducerId);
    }

    [Fact]
    public async Task Moving_back_home_removes_the_pipes_and_closing_the_producer_still_closes_every_consumer()
    {
        var home = _routers[0];
        var (sendTransport, sender) = await ConnectedAsync(home);
        var (recvTransport, receiver) = await ConnectedAsync(home);
        using var senderScope = sender;
        using var receiverScope = receiver;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });

        var away = await recvTransport.MoveToAsync(_routers[1]);
        Assert.Equal([$"{producer.Id}@{_routers[1].Id}"], away.PipesCreated);
        Assert.True(_routers[1].CanConsume(producer.Id, home.RtpCapabilities));
        var back = await recvTransport.MoveToAsync(home);
        Assert.Contains($"{producer.Id}@{_routers[1].Id}", back.PipesRemoved);
        Assert.False(_routers[1].CanConsume(producer.Id, home.RtpCapabilities));

        await recvTransport.MoveToAsync(_routers[2]);
        var closed = new TaskCompletionSource();
        consumer.ProducerClose += () => closed.TrySetResult();
        await producer.CloseAsync();
        await closed.Task.WaitAsync(WaitTimeout);
        Assert.True(consumer.Closed);
        Assert.False(_routers[2].CanConsume(producer.Id, home.RtpCapabilities));
    }
    [Fact]
    public async Task A_simulcast_consumer_keeps_picture_ids_continuous_while_transports_move_and_it_switches_streams()
    {
        var home = _routers[0];
        var (sendTransport, sender) = await ConnectedAsync(home);
        var (recvTransport, receiver) = await ConnectedAsync(home);
        using var senderScope = sender;
        using var receiverScope = receiver;
        var producer = await sendTransport.ProduceAsync(SimulcastVp8Producer(1000, 2000));
        // No congestion feedback: the layers follow the preferred ones only, whatever bursts a busy machine makes of the sending.
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions
        {
            ProducerId = producer.Id, RtpCapabilities = WithoutCongestionFeedback(home.RtpCapabilities), PreferredLayers = new ConsumerLayers(1, 2),
        });
        Assert.False(consumer.UsesTransportCc || consumer.UsesRemb);
        var low = new Transports.Vp8StreamSource(1000, 100, 100, 10, 10_000);
        var high = new Transports.Vp8StreamSource(2000, 65000, 32000, 250, 20_000);
        const int Frames = 600;
        // Key frames every 100 frames; at frame 250 the consumer asks for the low stream without its top temporal layer.
        var expected = new List<int>();
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < Frames; i++)
            {
                var key = i % 100 == 0;
                var l = low.Next(keyFrame: key);
                var h = high.Next(keyFrame: key);
                sender.SendRtp(l.Packet);
                sender.SendRtp(h.Packet);
                // From frame 251 the high stream loses its top temporal layer at once; the low one follows at its key frame.
                if (i <= 250 || (i < 300 && h.Tid <= 1)) expected.Add(h.Number);
                else if (i >= 300 && l.Tid <= 1) expected.Add(l.Number);
                if (i == 250)
                {
                    Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= expected.Count, WaitTimeout));
                    await consumer.SetPreferredLayersAsync(new ConsumerLayers(0, 1));
                }
                Thread.Sleep(3);
            }
        });
        var moves = 0;
        var random = new Random(11);
        while (!sending.IsCompleted)
        {
            var transport = random.Next(3) == 0 ? (Transport)sendTransport : recvTransport;
            await transport.MoveToAsync(_routers[random.Next(_routers.Count)]);
            moves++;
        }
        await sending;
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= expected.Count, WaitTimeout),
            $"received {receiver.ReceivedRtp.Count} of {expected.Count} after {moves} moves; missing " +
            string.Join(",", expected.Except(receiver.ReceivedRtp.ToArray().Select(p => ReadVp8Frame(p).Number)).Take(40)) +
            $"; drops {consumer.DroppedInactive}/{consumer.DroppedBeforeSync}/{consumer.DroppedDuplicate}/{consumer.DroppedTemporal}");
        await Task.Delay(200);
        var frames = receiver.ReceivedRtp.ToArray().Select(ReadVp8Frame).ToList();
        Assert.Equal(expected, frames.Select(f => f.Number));
        AssertContinuousPictures(frames);
        Assert.True(moves >= 5, $"only {moves} moves");
        Assert.Equal(new ConsumerLayers(0, 1), consumer.CurrentLayers);
    }

    [Fact]
    public async Task A_move_whose_target_router_closes_meanwhile_fails_and_leaves_the_transport_where_it_was_with_media_flowing()
    {
        var home = _routers[0];
        using var call = await CallAsync(home);
        var producer = await call.SendTransport.ProduceAsync(Vp8Producer());
        await call.RecvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = home.RtpCapabilities });
        var number = 0;
        var failures = 0;
        for (var round = 0; round < 20; round++)
        {
            var target = await _workers[1 + round % 2].CreateRouterAsync(DefaultRouterOptions);
            var move = call.RecvTransport.MoveToAsync(target);
            // Close the target at some point of the move: before, during or after its preparation.
            if (round % 4 != 0) await Task.Delay(round % 3);
            await target.CloseAsync();
            try
            {
                await move;
                // The move won the race: the transport closed with its new router. Nothing more to see here.
                Assert.True(call.RecvTransport.Closed);
                return;
            }
            catch (InvalidStateException)
            {
                failures++;
            }
            catch (InvalidOperationException)
            {
                failures++;
            }
            // Everything as it was: same router, no copy of the producer left anywhere, media flowing.
            Assert.False(call.RecvTransport.Closed);
            Assert.Same(home, call.RecvTransport.Router);
            // (The copy made in the closed router goes with it, on that router's loop.)
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => producer.Replicas.IsEmpty, WaitTimeout));
            Assert.Equal(0, await home.InvokeAsync(() => home.LocalPipes.Producers.Count));
            var before = call.Receiver.ReceivedRtp.Count;
            for (var i = 0; i < 5; i++, number++)
                call.Sender.SendRtp(Vp8Packet(11111111, (ushort)(1000 + number), (uint)(number * 3000), keyFrame: number == 0, number: number, mid: "0"));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => call.Receiver.ReceivedRtp.Count >= before + 5, WaitTimeout));
        }
        Assert.Equal(20, failures);
        AssertExactlyOnceInOrder(call.Receiver, number);
    }
}
