using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Mobility;

/// <summary>Three workers with one router each: the ground the move tests run on.</summary>
public abstract class ThreeWorkers : IAsyncLifetime
{
    private protected readonly List<Worker> _workers = [];
    private protected readonly List<Router> _routers = [];

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            var worker = await Worker.CreateAsync();
            _workers.Add(worker);
            _routers.Add(await worker.CreateRouterAsync(DefaultRouterOptions));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var w in _workers) await w.CloseAsync();
    }
}
