using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Ferry.Protocols.Ortc;
using Ferry.Server.Admin;
using Ferry.Server.Cluster;
using Ferry.Server.Media;
using Ferry.Server.Rooms;
using Ferry.Server.Signaling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace Ferry.Server;

/// <summary>
/// A running Ferry node: its workers, rooms, the signaling WebSocket (protoo at <c>/?roomId=&amp;peerId=</c>),
/// the admin API, metrics and the demo page, all on one HTTP listener.
/// </summary>
public sealed class FerryServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _abortPeers;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ILogger _logger;
    private int _stopped;

    private FerryServer(WebApplication app, WorkerPool workers, RoomRegistry rooms, string url, CancellationTokenSource abortPeers, TimeSpan shutdownTimeout, ILogger logger)
    {
        _app = app;
        _abortPeers = abortPeers;
        _shutdownTimeout = shutdownTimeout;
        _logger = logger;
        Workers = workers;
        Rooms = rooms;
        Url = url;
    }

    /// <summary>Base URL (http://127.0.0.1:3000).</summary>
    public string Url { get; }

    /// <summary>The node's workers.</summary>
    public WorkerPool Workers { get; }

    /// <summary>The node's rooms.</summary>
    public RoomRegistry Rooms { get; }

    /// <summary>
    /// Cancelled when the host was asked to stop (SIGTERM, SIGINT, SIGQUIT: the host's console lifetime
    /// takes those signals); the owner then disposes the server, which stops it within the shutdown timeout.
    /// </summary>
    public CancellationToken StopRequested => _app.Lifetime.ApplicationStopping;

    /// <summary>The codecs every room's router offers (mediasoup-demo's set).</summary>
    public static IReadOnlyList<RtpCodecCapability> DefaultMediaCodecs { get; } =
    [
        new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 },
        new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP8", ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["x-google-start-bitrate"] = 1000 } },
        new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP9", ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["profile-id"] = 2, ["x-google-start-bitrate"] = 1000 } },
        new RtpCodecCapability
        {
            Kind = MediaKind.Video, MimeType = "video/h264", ClockRate = 90000,
            Parameters = new Dictionary<string, CodecParameterValue> { ["packetization-mode"] = 1, ["profile-level-id"] = "42e01f", ["level-asymmetry-allowed"] = 1, ["x-google-start-bitrate"] = 1000 },
        },
    ];

    /// <summary>The node's place in the cluster (a cluster of its own without --cluster).</summary>
    public ClusterNode Cluster => _app.Services.GetRequiredService<ClusterNode>();

    /// <summary>Starts a node with <paramref name="options"/>.</summary>
    /// <exception cref="ClusterStartException">A port is taken, Redis does not answer, the node's address is already live in
    /// the cluster, or the node did not join in time: nothing is left running.</exception>
    public static async Task<FerryServer> StartAsync(ServerOptions options)
    {
        // Checked before any worker or listener starts, so a mistake ends the start with a message, not a hang.
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var cluster = await ClusterNode.PrepareAsync(options);
        var preparedMs = System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout / 2);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Parse(options.ListenAddress), options.Port, listen =>
            {
                if (options.TlsCertificate is { } cert)
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(cert, options.TlsKey));
            });
        });
        cluster.Configure(builder);
        var localNode = new LocalNode();
        builder.Services.AddSingleton(localNode);
        builder.Services.AddSingleton<RoomMover>();
        builder.Services.AddSingleton<NodeDrain>();
        builder.Services.AddSingleton<RoomPlacement>();
        builder.Services.AddSingleton<ForwarderCounters>();
        builder.Services.AddSingleton<NodeDirectory>();
        builder.Services.AddHostedService<ClusterHeartbeat>();
        builder.Services.AddSingleton<Cluster.Failover.StandbyStore>();
        builder.Services.AddSingleton<Cluster.Failover.FailoverCounters>();
        builder.Services.AddSingleton<Cluster.Failover.StandbyReplicator>();
        builder.Services.AddHostedService(s => s.GetRequiredService<Cluster.Failover.StandbyReplicator>());
        builder.Services.AddHostedService<Cluster.Failover.StandbyMonitor>();
        var app = builder.Build();
        var hostMs = System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds;
        var loggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        var workers = await WorkerPool.CreateAsync(options.Workers, new WorkerSettings
        {
            RtcMinPort = options.RtcMinPort, RtcMaxPort = options.RtcMaxPort, LogLevel = options.LogLevel, ThreadPriority = options.WorkerPriority,
        }, loggerFactory);
        var rooms = new RoomRegistry(workers, new RoomSettings
        {
            MediaCodecs = DefaultMediaCodecs,
            RtcListenIp = options.RtcListenIp ?? options.ListenAddress,
            AnnouncedAddress = options.AnnouncedAddress,
            MaxPeerFieldBytes = options.MaxPeerFieldBytes,
            MaxPeersPerRoom = options.MaxPeersPerRoom,
            MaxTransportsPerPeer = options.MaxTransportsPerPeer,
            MaxProducersPerPeer = options.MaxProducersPerPeer,
            MaxConsumersPerPeer = options.MaxConsumersPerPeer,
            MaxDataProducersPerPeer = options.MaxDataProducersPerPeer,
            MaxDataConsumersPerPeer = options.MaxDataConsumersPerPeer,
            NodeUrls = cluster.Clustered ? () => app.Services.GetRequiredService<NodeDirectory>().Urls : () => [],
        }, loggerFactory);
        var connectionOptions = new ProtooConnectionOptions
        {
            SendQueueMaxBytes = options.SendQueueMaxBytes, SendTimeout = options.SendTimeout, RequestTimeout = options.RequestTimeout, ReadTimeout = options.ReadTimeout,
        };

        var forwarderOptions = new ForwarderOptions();

        // Pings with a deadline for the pong: a half-open connection, or one stalled inside a frame (a pong
        // cannot come through it), is aborted and its peer leaves the room.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = options.KeepAliveInterval, KeepAliveTimeout = options.KeepAliveTimeout });
        var signalingLogger = loggerFactory.CreateLogger("Ferry.Server.Signaling");
        var abortPeers = new CancellationTokenSource();
        app.Use(async (context, next) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                await next(context);
                return;
            }
            if (app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await context.Response.WriteAsync("the server is stopping");
                return;
            }
            using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, abortPeers.Token);
            if (await ForwardPeerAsync(context, rooms, forwarderOptions, signalingLogger, aborted.Token)) return;
            await AcceptPeerAsync(context, rooms, connectionOptions, signalingLogger, aborted.Token);
        });
        var web = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (Directory.Exists(web))
        {
            var files = new PhysicalFileProvider(web);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }
        AdminApi.Map(app, workers, rooms, cluster.Id, app.Services.GetRequiredService<RoomMover>(), options.AdminToken);
        BroadcasterApi.Map(app, rooms, options.BroadcasterToken);
        ClusterApi.Map(app, cluster, app.Services, options.AdminToken);
        var workersMs = System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds;
        // The rehearsal runs on the worker threads while the silo starts on the thread pool: the start waits for the
        // longer of the two, not their sum. The URL is printed (and the cluster learns it) only once both are done.
        var warmMs = 0.0;
        var warmup = Task.Run(async () =>
        {
            await MoveWarmup.RunAsync(workers.Workers, DefaultMediaCodecs, loggerFactory.CreateLogger("Ferry.Server.Media.MoveWarmup"));
            warmMs = System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds - workersMs;
        });
        try
        {
            // Orleans gives up joining after ClusterNode.JoinTimeout; this bounds the rest of the start too.
            using var startTimeout = new CancellationTokenSource(ClusterNode.JoinTimeout + TimeSpan.FromSeconds(10));
            await app.StartAsync(startTimeout.Token);
            await warmup;
        }
        catch (Exception e)
        {
            await warmup;
            await workers.DisposeAsync();
            await app.DisposeAsync();
            throw e is OperationCanceledException
                ? new ClusterStartException($"the node did not start within {(ClusterNode.JoinTimeout + TimeSpan.FromSeconds(10)).TotalSeconds:F0} s (joining cluster '{cluster.ClusterId}')", e)
                : new ClusterStartException($"the node did not start: {e.Message}", e);
        }
        // A collection stops every worker thread for its pause, and the first one, which promotes all that
        // startup made, is the longest (20+ ms on a 2-core machine, heard as audio concealment when it
        // came during a call). Done now, before any media flows; later ones find little to promote.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        loggerFactory.CreateLogger<FerryServer>().LogInformation(
            "started in {Ms:F0} ms: cluster checks {Prepared:F0} ms, host built {Host:F0} ms, workers {Workers:F0} ms, then at once move warmup {Warm:F0} ms and silo and HTTP start",
            System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds, preparedMs, hostMs - preparedMs, workersMs - hostMs, warmMs);
        var address = app.Urls.First();
        // The URL the other nodes show for this one: the node address, not a wildcard the server may listen on.
        localNode.SetReady(workers, rooms, new UriBuilder(address) { Host = cluster.Address.ToString() }.Uri.ToString().TrimEnd('/'));
        return new FerryServer(app, workers, rooms, address.TrimEnd('/'), abortPeers, options.ShutdownTimeout, loggerFactory.CreateLogger<FerryServer>());
    }

    /// <summary>
    /// A peer whose room lives on another node of the cluster: its WebSocket is accepted here and carried there
    /// (<see cref="SignalingForwarder"/>). False when the room is served here (no cluster, the room is here, placement
    /// chose this node, or the connection was forwarded to this node already).
    /// </summary>
    private static async Task<bool> ForwardPeerAsync(HttpContext context, RoomRegistry rooms, ForwarderOptions options, ILogger logger, CancellationToken aborted)
    {
        var node = context.RequestServices.GetRequiredService<ClusterNode>();
        var roomId = context.Request.Query["roomId"].ToString();
        var peerId = context.Request.Query["peerId"].ToString();
        if (!node.Clustered || roomId.Length == 0 || peerId.Length == 0 || context.Request.Headers.ContainsKey(SignalingForwarder.ForwardedHeader)) return false;
        if (!context.WebSockets.WebSocketRequestedProtocols.Contains("protoo")) return false;
        var placement = context.RequestServices.GetRequiredService<RoomPlacement>();
        RoomHost host;
        try
        {
            // A peer resuming its session (its node died) goes where the room is and never opens a new one.
            host = IsResume(context) ? await placement.FindAsync(roomId, rooms, aborted) ?? throw new RoomNotFoundException(roomId)
                : await placement.PlaceAsync(roomId, rooms, aborted);
        }
        catch (Exception e) when (e is InvalidOperationException or RoomNotFoundException)
        {
            logger.LogInformation("peer {PeerId} refused: {Reason}", peerId, e.Message);
            context.Response.StatusCode = e is RoomNotFoundException ? StatusCodes.Status404NotFound : StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync(e.Message);
            return true;
        }
        if (host.IsLocal) return false;
        using var socket = await context.WebSockets.AcceptWebSocketAsync("protoo");
        logger.LogInformation("peer {PeerId} of room {RoomId} forwarded to node {NodeId}", peerId, roomId, host.NodeId);
        var carried = await SignalingForwarder.RunAsync(socket, host, context.Request.Path + context.Request.QueryString, node.Id,
            cancel => placement.FindAsync(roomId, rooms, cancel), options, context.RequestServices.GetRequiredService<ForwarderCounters>(), logger, aborted);
        if (!carried)
        {
            try { await socket.CloseAsync((WebSocketCloseStatus)1013, $"room {roomId}'s node {host.NodeId} did not answer", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2), aborted); }
            catch (Exception close) when (close is WebSocketException or TimeoutException or OperationCanceledException) { }
        }
        return true;
    }

    /// <summary>A peer reconnecting to resume its session (<c>resume=1</c>): it never opens a new room.</summary>
    private static bool IsResume(HttpContext context) => context.Request.Query["resume"] == "1";

    private sealed class RoomNotFoundException(string roomId) : Exception($"room {roomId} is on no live node");

    private static async Task AcceptPeerAsync(HttpContext context, RoomRegistry rooms, ProtooConnectionOptions options, ILogger logger, CancellationToken aborted)
    {
        var roomId = context.Request.Query["roomId"].ToString();
        var peerId = context.Request.Query["peerId"].ToString();
        if (roomId.Length == 0 || peerId.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("roomId and peerId are required");
            return;
        }
        if (!context.WebSockets.WebSocketRequestedProtocols.Contains("protoo"))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("the protoo subprotocol is required");
            return;
        }
        // Refusals known before the upgrade answer in HTTP; the same checks are made again, atomically,
        // when the peer is added (then the answer is a close frame with the reason).
        var existing = rooms.Find(roomId);
        if (IsResume(context) && existing is not { Closed: false, MovedTo: null })
        {
            // A session to resume is in a room that lives here, or not here (yet: a take-over may be under way).
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync($"room {roomId} is not on this node");
            return;
        }
        if ((existing is null || existing.Closed) && !rooms.CanCreate)
        {
            logger.LogWarning("peer {PeerId} refused: no worker can take room {RoomId}", peerId, roomId);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync("no worker can take a new room now");
            return;
        }
        if (existing is { Closed: false } && existing.IsFullFor(peerId))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync($"room {roomId} is full");
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync("protoo");
        var connection = new ProtooConnection(socket, logger, options) { Name = $"{peerId} of room {roomId}" };
        Room room;
        Peer peer;
        try
        {
            (room, peer) = await rooms.AddPeerAsync(roomId, peerId, connection);
        }
        catch (Exception e) when (e is InvalidOperationException or ProtooRequestException)
        {
            // Never an accepted socket dropped without a word: the peer is told why.
            logger.LogWarning("peer {PeerId} refused from room {RoomId}: {Reason}", peerId, roomId, e.Message);
            var status = e is InvalidOperationException ? (WebSocketCloseStatus)1013 : WebSocketCloseStatus.PolicyViolation;
            try { await socket.CloseAsync(status, e.Message.Length > 100 ? e.Message[..100] : e.Message, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2), aborted); }
            catch (Exception close) when (close is WebSocketException or TimeoutException or OperationCanceledException) { }
            return;
        }
        logger.LogInformation("peer {PeerId} connected to room {RoomId}", peerId, roomId);
        try
        {
            await connection.RunAsync(aborted);
        }
        finally
        {
            await room.RemovePeerAsync(peer);
            logger.LogInformation("peer {PeerId} left room {RoomId}", peerId, roomId);
        }
    }

    /// <summary>
    /// A node of a cluster hands its rooms to the other nodes before it stops (a deploy: start new nodes, stop old
    /// ones): within half the shutdown timeout its rooms move and their relays run until the far ends switched.
    /// Rooms that could not move end with the node, as on a node alone.
    /// </summary>
    private async Task DrainBeforeStopAsync()
    {
        if (!Cluster.Clustered || !Rooms.Rooms.Any(r => !r.Closed && r.MovedTo is null)) return;
        var budget = _shutdownTimeout / 2;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var cancel = new CancellationTokenSource(budget);
        // The budget is checked between rooms: a move under way is finished (each is bounded by its calls' timeouts),
        // never left half done.
        var report = await _app.Services.GetRequiredService<NodeDrain>().DrainAsync(cancel.Token);
        _logger.LogInformation("stopping: {Moved} rooms moved to other nodes, {Stayed} stay", report.Moved.Count, report.Stayed.Count);
        // The moved rooms' relays end once their far ends switched (and the grace passed); rooms that stayed do not hold this.
        var left = budget - System.Diagnostics.Stopwatch.GetElapsedTime(started);
        try
        {
            if (left > TimeSpan.Zero) await Task.WhenAll(report.Moved.Select(m => m.RelaysEnded)).WaitAsync(left);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("stopping: relays of moved rooms still in use after {Seconds:F0} s (far ends that did not switch lose their media now)", budget.TotalSeconds);
        }
    }

    /// <summary>
    /// Stops the node within the shutdown timeout: every peer is sent a close frame (1001, "server
    /// shutting down") and given up to half the timeout to answer it (their transports close as they
    /// leave), connections still open then are aborted, the HTTP server stops, then the workers.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await DrainBeforeStopAsync();
        var peers = Rooms.Rooms.SelectMany(r => r.Peers).ToList();
        _logger.LogInformation("stopping: closing {Peers} peers in {Rooms} rooms", peers.Count, Rooms.Rooms.Count);
        await Task.WhenAll(peers.Select(p => p.Connection.CloseAsync("server shutting down", serverGoingAway: true)));
        var peersDeadline = _shutdownTimeout / 2;
        while (Rooms.Rooms.Any(r => r.Peers.Any(p => p.Connection is ProtooConnection)) && System.Diagnostics.Stopwatch.GetElapsedTime(started) < peersDeadline)
            await Task.Delay(20);
        await _abortPeers.CancelAsync();
        using (var stopTimeout = new CancellationTokenSource(_shutdownTimeout / 2))
        {
            try { await _app.StopAsync(stopTimeout.Token); }
            catch (OperationCanceledException) { _logger.LogWarning("the HTTP server did not stop in time"); }
        }
        // Rooms left (broadcasters have no socket to close) end with their routers when the workers close.
        await Workers.DisposeAsync();
        await _app.DisposeAsync();
        _abortPeers.Dispose();
        _logger.LogInformation("stopped in {Ms:F0} ms", System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
}
