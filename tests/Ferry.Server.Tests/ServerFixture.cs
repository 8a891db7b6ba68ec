using System.Net.Http.Json;
using System.Text.Json;

namespace Ferry.Server.Tests;

/// <summary>A Ferry node on 127.0.0.1 (any free port) for one test class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public FerryServer Server { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(20) };

    public async Task InitializeAsync()
    {
        Server = await FerryServer.StartAsync(new ServerOptions { Port = 0, Workers = 2, RtcMinPort = 41000, RtcMaxPort = 48999, LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning });
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public async Task<JsonElement> GetJsonAsync(string path) =>
        await Http.GetFromJsonAsync<JsonElement>(Server.Url + path);
}
