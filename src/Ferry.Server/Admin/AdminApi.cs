using System.Globalization;
using System.Net;
using System.Text;
using Ferry.Server.Media;
using Ferry.Server.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ferry.Server.Admin;

/// <summary>
/// The operator's view: workers and their load, rooms and where their peers' transports live, and
/// the same as Prometheus metrics. Loopback clients only, unless a bearer token is configured.
/// </summary>
internal static class AdminApi
{
    public static void Map(IEndpointRouteBuilder app, WorkerPool workers, RoomRegistry rooms, string nodeId, Cluster.RoomMover mover, string? token)
    {
        var group = app.MapGroup("").AddEndpointFilter(async (context, next) =>
            Authorized(context.HttpContext, token) ? await next(context) : Results.Unauthorized());
        group.MapGet("/api/workers", async () => Results.Json(await WorkersAsync(workers), ServerJson.Options));
        group.MapGet("/api/rooms", () => Results.Json(rooms.Rooms.Select(RoomSummary).ToList(), ServerJson.Options));
        group.MapGet("/api/rooms/{roomId}", (string roomId) =>
            rooms.Find(roomId) is { } room ? Results.Json(RoomDetail(room), ServerJson.Options) : Results.NotFound(new { error = $"room {roomId} not found" }));
        group.MapPost("/api/routers/{routerId}/move", async (string routerId, MoveRequest request) =>
        {
            var router = workers.Workers.SelectMany(w => w.Routers).FirstOrDefault(r => r.Id == routerId);
            if (router is null) return Results.NotFound(new { error = $"router {routerId} not found" });
            if (request.NodeId is { } toNode) return await MoveRoomBySnapshotAsync(workers, rooms, nodeId, mover, router, toNode, request.WorkerId);
            if (request.WorkerId is null || workers.Find(request.WorkerId) is not { } target) return Results.BadRequest(new { error = "workerId: no such worker" });
            try
            {
                return Results.Json(await router.MoveToAsync(target), ServerJson.Options);
            }
            catch (InvalidOperationException e)
            {
                return Results.Conflict(new { error = e.Message });
            }
        });
        group.MapPost("/api/transports/{transportId}/move", async (string transportId, MoveRequest request) =>
        {
            var found = rooms.Rooms.SelectMany(r => r.Peers.SelectMany(p => p.Transports.Values.Select(t => (Room: r, t.Transport)))).FirstOrDefault(x => x.Transport.Id == transportId);
            if (found.Transport is null) return Results.NotFound(new { error = $"transport {transportId} not found" });
            Router? target = null;
            if (request.RouterId is { } routerId) target = found.Room.Routers.FirstOrDefault(r => r.Id == routerId);
            else if (request.WorkerId is { } workerId && workers.Find(workerId) is { } worker) target = await found.Room.GetRouterOnAsync(worker);
            if (target is null) return Results.BadRequest(new { error = "give workerId (a worker of this node) or routerId (a router of the transport's room)" });
            try
            {
                return Results.Json(await found.Transport.MoveToAsync(target), ServerJson.Options);
            }
            catch (InvalidOperationException e)
            {
                return Results.Conflict(new { error = e.Message });
            }
        });
        group.MapPost("/api/workers/{workerId}/drain", async (string workerId) =>
        {
            if (workers.Find(workerId) is not { } worker) return Results.NotFound(new { error = $"worker {workerId} not found" });
            try
            {
                return Results.Json(new { workerId, draining = true, moves = await workers.DrainAsync(worker) }, ServerJson.Options);
            }
            catch (InvalidOperationException e)
            {
                return Results.Conflict(new { error = e.Message });
            }
        });
        group.MapPost("/api/workers/{workerId}/undrain", (string workerId) =>
        {
            if (workers.Find(workerId) is not { } worker) return Results.NotFound(new { error = $"worker {workerId} not found" });
            workers.Undrain(worker);
            return Results.Json(new { workerId, draining = false }, ServerJson.Options);
        });
        group.MapGet("/metrics", async () => Results.Text(await MetricsAsync(workers, rooms), "text/plain; version=0.0.4"));
    }

    /// <summary>Body of a move request: a worker of this node (moved in-process), or a node (moved as between servers: snapshot and relay).</summary>
    internal sealed record MoveRequest(string? WorkerId, string? RouterId = null, string? NodeId = null);

    /// <summary>
    /// A room's router moved as between servers. To this node: onto <paramref name="workerId"/> (or the least
    /// loaded other worker) through a snapshot, the path a move to another node takes.
    /// </summary>
    private static async Task<IResult> MoveRoomBySnapshotAsync(WorkerPool workers, RoomRegistry rooms, string nodeId, Cluster.RoomMover mover, Ferry.Router router, string toNode, string? workerId)
    {
        var room = rooms.Rooms.FirstOrDefault(r => r.Router == router);
        if (room is null) return Results.BadRequest(new { error = $"router {router.Id} is not the first router of a room" });
        try
        {
            // Another node: the room goes there (its peers reconnect their WebSockets there).
            if (toNode != nodeId) return Results.Json(await mover.MoveAsync(room, toNode), ServerJson.Options);
            var target = workerId is null ? workers.PickForNewRouter(except: router.Worker) : workers.Find(workerId);
            if (target is null) return Results.BadRequest(new { error = $"workerId: no worker {workerId} on this node" });
            return Results.Json(await room.RelocateAsync(target), ServerJson.Options);
        }
        catch (InvalidOperationException e)
        {
            return Results.Conflict(new { error = e.Message });
        }
    }

    /// <summary>True when the request presents <c>Authorization: Bearer</c> <paramref name="token"/> (compared in constant time).</summary>
    internal static bool HasBearer(HttpContext context, string token) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), Encoding.UTF8.GetBytes($"Bearer {token}"));

    internal static bool Authorized(HttpContext context, string? token)
    {
        if (token is not null) return HasBearer(context, token);
        return context.Connection.RemoteIpAddress is { } ip && IPAddress.IsLoopback(ip);
    }

    private static async Task<List<object>> WorkersAsync(WorkerPool pool)
    {
        var list = new List<object>();
        foreach (var w in pool.Workers)
        {
            var counts = w.Closed ? default : await w.GetObjectCountsAsync();
            var load = pool.LoadOf(w);
            list.Add(new
            {
                id = w.Id, closed = w.Closed, died = w.HasDied, threadScheduling = w.ThreadScheduling, draining = pool.IsDraining(w), cpu = Math.Round(load.Cpu, 4),
                routers = counts.Routers, transports = counts.Transports, producers = counts.Producers, consumers = counts.Consumers,
                packetsInPerSecond = Math.Round(load.PacketsInPerSecond, 1), packetsOutPerSecond = Math.Round(load.PacketsOutPerSecond, 1),
                receiveDelay = DelayJson(w.ReceiveDelay), forwardDelay = DelayJson(w.ForwardDelay),
            });
        }
        return list;
    }

    /// <summary>A worker's delay histogram: per bucket (upper bound in ms, null for the last) and totals.</summary>
    private static object DelayJson(WorkerDelayHistogram d) => new
    {
        count = d.Count, sumMs = d.SumMicros / 1000.0, maxMs = d.MaxMicros / 1000.0,
        buckets = d.Counts.Select((c, i) => new { leMs = i < d.BoundsMicros.Count ? d.BoundsMicros[i] / 1000.0 : (double?)null, count = c }).ToList(),
    };

    private static object RoomSummary(Room room) => new
    {
        id = room.Id, routerId = room.Router.Id, workerId = room.Router.Worker.Id,
        peers = room.Peers.Count(p => p.Joined), createdAt = room.CreatedAt,
    };

    private static object RoomDetail(Room room) => new
    {
        id = room.Id,
        routers = room.Routers.Select(r => new { id = r.Id, workerId = r.Worker.Id }).ToList(),
        peers = room.Peers.Where(p => p.Joined).Select(p => new
        {
            id = p.Id, displayName = p.DisplayName,
            transports = p.Transports.Values.Select(t => new
            {
                id = t.Transport.Id, workerId = t.Transport.Router.Worker.Id, routerId = t.Transport.Router.Id,
                producing = t.Producing, consuming = t.Consuming, iceState = (t.Transport as Ferry.Transports.WebRtcTransport)?.IceState, dtlsState = (t.Transport as Ferry.Transports.WebRtcTransport)?.DtlsState,
                iceSelectedTuple = (t.Transport as Ferry.Transports.WebRtcTransport)?.IceSelectedTuple,
                sctpState = (t.Transport as Ferry.Transports.WebRtcTransport)?.SctpState,
            }).ToList(),
            producers = p.Producers.Values.Select(x => new { id = x.Id, kind = x.Kind, type = x.Type, paused = x.Paused }).ToList(),
            consumers = p.Consumers.Values.Select(x => new { id = x.Id, producerId = x.ProducerId, kind = x.Kind, type = x.Type, paused = x.Paused, producerPaused = x.ProducerPaused }).ToList(),
            dataProducers = p.DataProducers.Values.Select(x => new { id = x.Id, label = x.Label, streamId = x.SctpStreamParameters?.StreamId, paused = x.Paused }).ToList(),
            dataConsumers = p.DataConsumers.Values.Select(x => new { id = x.Id, dataProducerId = x.DataProducerId, label = x.Label, streamId = x.SctpStreamParameters?.StreamId, paused = x.Paused }).ToList(),
        }).ToList(),
    };

    private static async Task<string> MetricsAsync(WorkerPool pool, RoomRegistry rooms)
    {
        var sb = new StringBuilder();
        void Line(string name, string labels, double value) =>
            (labels.Length == 0 ? sb.Append(name) : sb.Append(name).Append('{').Append(labels).Append('}'))
                .Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        void Histogram(string name, string help, Func<Worker, WorkerDelayHistogram> pick)
        {
            sb.Append($"# HELP {name} {help}\n# TYPE {name} histogram\n");
            foreach (var w in pool.Workers)
            {
                var d = pick(w);
                long cumulative = 0;
                for (var i = 0; i < d.Counts.Count; i++)
                {
                    cumulative += d.Counts[i];
                    var le = i < d.BoundsMicros.Count ? (d.BoundsMicros[i] / 1e6).ToString(CultureInfo.InvariantCulture) : "+Inf";
                    Line(name + "_bucket", $"worker=\"{w.Id}\",le=\"{le}\"", cumulative);
                }
                Line(name + "_sum", $"worker=\"{w.Id}\"", d.SumMicros / 1e6);
                Line(name + "_count", $"worker=\"{w.Id}\"", cumulative);
            }
        }
        sb.Append("# HELP ferry_worker_cpu Fraction of one core used by the worker thread.\n# TYPE ferry_worker_cpu gauge\n");
        var counts = new Dictionary<string, WorkerObjectCounts>();
        foreach (var w in pool.Workers.Where(w => !w.Closed)) counts[w.Id] = await w.GetObjectCountsAsync();
        foreach (var w in pool.Workers) Line("ferry_worker_cpu", $"worker=\"{w.Id}\"", pool.LoadOf(w).Cpu);
        foreach (var (name, help, pick) in new (string, string, Func<WorkerObjectCounts, int>)[]
        {
            ("ferry_worker_routers", "Routers on the worker.", c => c.Routers),
            ("ferry_worker_transports", "Transports on the worker.", c => c.Transports),
            ("ferry_worker_producers", "Producers on the worker.", c => c.Producers),
            ("ferry_worker_consumers", "Consumers on the worker.", c => c.Consumers),
        })
        {
            sb.Append($"# HELP {name} {help}\n# TYPE {name} gauge\n");
            foreach (var (id, c) in counts) Line(name, $"worker=\"{id}\"", pick(c));
        }
        sb.Append("# HELP ferry_worker_faults_total Exceptions caught on the worker thread (each closed the object that threw; the worker went on).\n# TYPE ferry_worker_faults_total counter\n");
        foreach (var w in pool.Workers) Line("ferry_worker_faults_total", $"worker=\"{w.Id}\"", w.Faults);
        sb.Append("# HELP ferry_worker_packets_received_total Datagrams received by the worker's sockets.\n# TYPE ferry_worker_packets_received_total counter\n");
        foreach (var w in pool.Workers) Line("ferry_worker_packets_received_total", $"worker=\"{w.Id}\"", w.Traffic.PacketsReceived);
        sb.Append("# HELP ferry_worker_packets_sent_total Datagrams sent by the worker's sockets.\n# TYPE ferry_worker_packets_sent_total counter\n");
        foreach (var w in pool.Workers) Line("ferry_worker_packets_sent_total", $"worker=\"{w.Id}\"", w.Traffic.PacketsSent);
        sb.Append("# HELP ferry_worker_send_drops_total Sends the kernel refused.\n# TYPE ferry_worker_send_drops_total counter\n");
        foreach (var w in pool.Workers) Line("ferry_worker_send_drops_total", $"worker=\"{w.Id}\"", w.Traffic.SendDrops);
        Histogram("ferry_worker_receive_delay_seconds", "Time UDP datagrams waited between reaching the host and the worker's read.", w => w.ReceiveDelay);
        Histogram("ferry_worker_forward_delay_seconds", "Time RTP packets the worker's consumers sent had been on the host (first transmissions).", w => w.ForwardDelay);
        // The process's garbage collections: every one stops the worker threads for its pause.
        sb.Append("# HELP ferry_process_gc_pause_seconds_total Time the garbage collector held managed threads, workers included.\n# TYPE ferry_process_gc_pause_seconds_total counter\n");
        Line("ferry_process_gc_pause_seconds_total", "", GC.GetTotalPauseDuration().TotalSeconds);
        sb.Append("# HELP ferry_process_gc_collections_total Garbage collections by generation.\n# TYPE ferry_process_gc_collections_total counter\n");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
            Line("ferry_process_gc_collections_total", $"generation=\"{generation}\"", GC.CollectionCount(generation));
        sb.Append("# HELP ferry_process_allocated_bytes_total Bytes allocated on the managed heap.\n# TYPE ferry_process_allocated_bytes_total counter\n");
        Line("ferry_process_allocated_bytes_total", "", GC.GetTotalAllocatedBytes());
        sb.Append("# HELP ferry_room_peers Joined peers in the room.\n# TYPE ferry_room_peers gauge\n");
        foreach (var r in rooms.Rooms) Line("ferry_room_peers", $"room=\"{Escape(r.Id)}\"", r.Peers.Count(p => p.Joined));
        sb.Append("# HELP ferry_room_producers Producers in the room.\n# TYPE ferry_room_producers gauge\n");
        foreach (var r in rooms.Rooms) Line("ferry_room_producers", $"room=\"{Escape(r.Id)}\"", r.Peers.Sum(p => p.Producers.Count));
        sb.Append("# HELP ferry_room_consumers Consumers in the room.\n# TYPE ferry_room_consumers gauge\n");
        foreach (var r in rooms.Rooms) Line("ferry_room_consumers", $"room=\"{Escape(r.Id)}\"", r.Peers.Sum(p => p.Consumers.Count));
        return sb.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
