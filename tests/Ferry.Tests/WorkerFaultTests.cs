using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Transports;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests;

/// <summary>
/// A bug in one router must not take the worker down (issue 16): an exception on the worker thread
/// closes the object that threw, with what depends on it, is reported (event, log, counter), and
/// the worker goes on serving its other routers. Faults are injected on the media path and in a timer.
/// </summary>
public sealed class WorkerFaultTests
{
    [Fact]
    public async Task A_fault_closes_the_object_that_threw_and_the_worker_serves_the_rest()
    {
        await using var worker = await Worker.CreateAsync();
        var faulty = await worker.CreateRouterAsync(DefaultRouterOptions);
        var healthy = await worker.CreateRouterAsync(DefaultRouterOptions);
        var faults = new List<WorkerFault>();
        var faulted = new SemaphoreSlim(0);
        worker.Faulted += f => { lock (faults) faults.Add(f); faulted.Release(); };

        using var bad = await CallAsync(faulty);
        using var good = await CallAsync(healthy);
        var badProducer = await bad.SendTransport.ProduceAsync(Vp8Producer());
        var badConsumer = await bad.RecvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = badProducer.Id, RtpCapabilities = faulty.RtpCapabilities });
        var goodProducer = await good.SendTransport.ProduceAsync(Vp8Producer());
        await good.RecvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = goodProducer.Id, RtpCapabilities = healthy.RtpCapabilities });
        ushort seq = 1;
        async Task FlowsAsync()
        {
            var before = good.Receiver.ReceivedRtp.Count;
            for (var i = 0; i < 10; i++, seq++) good.Sender.SendRtp(Vp8Packet(11111111, seq, seq * 3000u, keyFrame: seq == 1, number: seq, mid: "0"));
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => good.Receiver.ReceivedRtp.Count >= before + 10, WaitTimeout));
        }
        await FlowsAsync();

        // A bug on the media path of one transport: its next datagram throws on the worker thread.
        bad.SendTransport.InjectedReceiveFault = () => throw new InvalidOperationException("injected receive fault");
        bad.Sender.SendRtp(Vp8Packet(11111111, 1, 3000, keyFrame: true, number: 1, mid: "0"));
        Assert.True(await faulted.WaitAsync(WaitTimeout));
        Assert.Equal($"transport {bad.SendTransport.Id}", faults[0].Object);
        Assert.Equal("injected receive fault", faults[0].Error.Message);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bad.SendTransport.Closed && badProducer.Closed && badConsumer.Closed, WaitTimeout));
        Assert.False(worker.HasDied);
        Assert.Equal(1, worker.Faults);
        await FlowsAsync();

        // A bug in a timer of another transport (its producers' and consumers' timers are the transport's).
        var timed = await faulty.CreateWebRtcTransportAsync(Loopback);
        await timed.InvokeAsync(() => timed.CreateOwnedTimer(() => throw new InvalidOperationException("injected timer fault")).StartAfter(TimeSpan.Zero));
        Assert.True(await faulted.WaitAsync(WaitTimeout));
        Assert.Equal($"transport {timed.Id}", faults[1].Object);
        Assert.True(timed.Closed);
        Assert.False(faulty.Closed);

        // A bug in a router's own timer (an observer's) closes that router only.
        await faulty.InvokeAsync(() => faulty.CreateTimer(() => throw new InvalidOperationException("injected router fault")).StartAfter(TimeSpan.Zero));
        Assert.True(await faulted.WaitAsync(WaitTimeout));
        Assert.Equal($"router {faulty.Id}", faults[2].Object);
        Assert.True(faulty.Closed);
        Assert.True(bad.RecvTransport.Closed);
        Assert.False(healthy.Closed);
        Assert.Equal(3, worker.Faults);
        Assert.False(worker.HasDied);
        await FlowsAsync();
        Assert.NotNull(await worker.GetResourceUsageAsync());
    }

    [Fact]
    public async Task A_fault_behind_a_shared_WebRtcServer_socket_closes_the_transport_it_was_for()
    {
        await using var worker = await Worker.CreateAsync();
        var server = await worker.CreateWebRtcServerAsync(new WebRtcServerOptions { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] });
        var router = await worker.CreateRouterAsync(DefaultRouterOptions);
        var faulted = new TaskCompletionSource<WorkerFault>(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.Faulted += f => faulted.TrySetResult(f);
        async Task<(WebRtcTransport, WebRtcTestClient)> ConnectedAsync()
        {
            var transport = await router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { WebRtcServer = server });
            var client = new WebRtcTestClient();
            await transport.ConnectAsync(client.DtlsParameters);
            await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout);
            return (transport, client);
        }
        var (victim, victimClient) = await ConnectedAsync();
        var (other, otherClient) = await ConnectedAsync();
        using var victimScope = victimClient;
        using var otherScope = otherClient;

        victim.InjectedReceiveFault = () => throw new InvalidOperationException("injected");
        victimClient.SendRtp(Vp8Packet(11111111, 1, 3000, keyFrame: true, number: 1, mid: "0"));
        var fault = await faulted.Task.WaitAsync(WaitTimeout);
        Assert.Equal($"transport {victim.Id}", fault.Object);
        Assert.True(victim.Closed);
        Assert.False(other.Closed);
        Assert.False(server.Closed);
        Assert.False(worker.HasDied);
    }
}
