using Ferry.Server;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ServerOptions.Help);
    return 0;
}
ServerOptions options;
try
{
    options = ServerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ferry: {e.Message}\n\n{ServerOptions.Help}");
    return 2;
}
FerryServer started;
try
{
    started = await FerryServer.StartAsync(options);
}
catch (Ferry.Server.Cluster.ClusterStartException e)
{
    Console.Error.WriteLine($"ferry: cannot start: {e.Message}");
    return 1;
}
await using var server = started;
Console.WriteLine($"Ferry is running: open {server.Url}/ in two browser tabs to see a call through it (Ctrl+C stops).");
// The host's console lifetime takes SIGTERM, SIGINT and SIGQUIT and asks the host to stop; disposing the
// server (leaving this scope) then closes peers, the HTTP server and workers within --shutdown-timeout.
var stop = new TaskCompletionSource();
using var stopRegistration = server.StopRequested.Register(() => stop.TrySetResult());
await stop.Task;
return 0;
