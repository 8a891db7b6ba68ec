using Ferry.Server.Media;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>The rehearsal of moves a server runs at start (<see cref="MoveWarmup"/>): it really moves, and leaves nothing behind.</summary>
public sealed class MoveWarmupTests
{
    [Fact]
    public async Task The_rehearsal_moves_every_transport_and_the_router_and_leaves_the_workers_empty()
    {
        await using var first = await Worker.CreateAsync();
        await using var second = await Worker.CreateAsync();
        var routerMoves = new List<RouterMoveReport>();
        first.ObserverNewRouter += router => router.ObserverMoved += report => { lock (routerMoves) routerMoves.Add(report); };
        var log = new WarningCollector();
        await MoveWarmup.RunAsync([first, second], FerryServer.DefaultMediaCodecs, log);
        Assert.Empty(log.Warnings);
        // The router moves come last, after both rounds of transport moves (which a failure would have cut short):
        // there and back, each with the two peers' four transports, four producers and four consumers.
        Assert.Equal(2, routerMoves.Count);
        Assert.All(routerMoves, r => Assert.Equal((4, 4, 4), (r.Transports, r.Producers, r.Consumers)));
        Assert.Equal([second.Id, first.Id], routerMoves.Select(r => r.ToWorkerId));
        foreach (var worker in new[] { first, second })
        {
            var counts = await worker.GetObjectCountsAsync();
            Assert.Equal((0, 0, 0, 0), (counts.Routers, counts.Transports, counts.Producers, counts.Consumers));
        }
    }

    private sealed class WarningCollector : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning) Warnings.Add($"{formatter(state, exception)} {exception}");
        }
    }
}
