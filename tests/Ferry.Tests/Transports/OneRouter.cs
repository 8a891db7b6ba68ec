using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>A worker with one router (the media tests' codecs): the ground most engine tests run on.</summary>
public abstract class OneRouter : IAsyncLifetime
{
    private protected Worker _worker = null!;
    private protected Router _router = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();
}
