using System.Net;

namespace Ferry.Testing.Simulation;

/// <summary>
/// A deterministic network emulator in virtual time. Nodes attach at addresses; datagrams travel
/// through directed links with latency, jitter, bursty loss, reordering, duplication and a rate
/// limit; the run always advances to the earliest pending delivery or node deadline. Every random
/// draw comes from one generator seeded at construction, and events at equal times are ordered by
/// a sequence number, so the same seed replays the same run (checked with <see cref="TraceHash"/>).
/// </summary>
public sealed class SimNetwork
{
    private readonly Random _random;
    private readonly Dictionary<IPEndPoint, ISimNode> _routes = new();
    private readonly List<ISimNode> _nodes = new();
    private readonly Dictionary<(IPEndPoint From, IPEndPoint To), LinkConditions> _conditions = new();
    private readonly Dictionary<(IPEndPoint From, IPEndPoint To), LinkState> _links = new();
    private readonly PriorityQueue<InFlight, (long Ticks, long Seq)> _inFlight = new();
    private long _seq;
    private ulong _traceHash = 14695981039346656037UL;
    private readonly List<string>? _trace;

    /// <summary>Creates a network whose every random choice derives from <paramref name="seed"/>.</summary>
    /// <param name="seed">The seed; a failing test prints it so the run can be replayed.</param>
    /// <param name="keepTrace">Keep a readable line per event in <see cref="Trace"/> (for debugging a seed).</param>
    public SimNetwork(int seed, bool keepTrace = false)
    {
        Seed = seed;
        _random = new Random(seed);
        _trace = keepTrace ? new List<string>() : null;
    }

    /// <summary>The seed this network was built with.</summary>
    public int Seed { get; }

    /// <summary>Current virtual time. Starts at zero and never goes back.</summary>
    public TimeSpan Now { get; private set; }

    /// <summary>Conditions of every link without its own.</summary>
    public LinkConditions DefaultConditions { get; set; } = LinkConditions.Perfect;

    /// <summary>What happened so far.</summary>
    public SimStats Stats { get; } = new();

    /// <summary>A hash over every event (time, kind, addresses, bytes): equal for two runs exactly when they replayed identically.</summary>
    public ulong TraceHash => _traceHash;

    /// <summary>Readable events, when the network was created with keepTrace.</summary>
    public IReadOnlyList<string> Trace => (IReadOnlyList<string>?)_trace ?? Array.Empty<string>();

    /// <summary>A test's targeted drop: return true to drop the datagram as it is sent (counted in <see cref="SimStats.Filtered"/>).</summary>
    public Func<SimDatagram, bool>? DropFilter { get; set; }

    /// <summary>Called for each datagram just before it is delivered.</summary>
    public Action<SimDatagram>? OnDeliver { get; set; }

    /// <summary>A random generator derived from the seed, for test peers that need their own randomness.</summary>
    public Random Random => _random;

    /// <summary>Attaches <paramref name="node"/> at <paramref name="address"/>. A node may own several addresses.</summary>
    public void Attach(IPEndPoint address, ISimNode node)
    {
        if (!_routes.TryAdd(address, node))
            throw new InvalidOperationException($"address {address} is already attached");
        if (!_nodes.Contains(node)) _nodes.Add(node);
    }

    /// <summary>Removes the node at <paramref name="address"/>; datagrams to it become unroutable.</summary>
    public void Detach(IPEndPoint address)
    {
        if (!_routes.Remove(address, out var node)) return;
        if (!_routes.ContainsValue(node)) _nodes.Remove(node);
    }

    /// <summary>Sets the conditions of the link from <paramref name="from"/> to <paramref name="to"/> (one direction).</summary>
    public void SetLink(IPEndPoint from, IPEndPoint to, LinkConditions conditions) => _conditions[(from, to)] = conditions;

    /// <summary>Sets the conditions of both directions between two addresses.</summary>
    public void SetLinks(IPEndPoint a, IPEndPoint b, LinkConditions conditions)
    {
        SetLink(a, b, conditions);
        SetLink(b, a, conditions);
    }

    /// <summary>Sends a datagram; the bytes are copied, so the caller may reuse its buffer.</summary>
    public void Send(IPEndPoint from, IPEndPoint to, ReadOnlySpan<byte> data)
    {
        Stats.Sent++;
        var datagram = new SimDatagram(from, to, data.ToArray(), Now);
        Record('S', datagram);
        if (DropFilter?.Invoke(datagram) == true) { Stats.Filtered++; Record('F', datagram); return; }

        var conditions = _conditions.GetValueOrDefault((from, to)) ?? DefaultConditions;
        if (!_links.TryGetValue((from, to), out var link)) _links[(from, to)] = link = new LinkState();

        if (IsLost(conditions, link)) { Stats.Lost++; Record('L', datagram); return; }

        // Bottleneck: serialise behind what is already queued on this link.
        var departure = Now;
        if (conditions.RateBitsPerSecond > 0)
        {
            link.Drain(Now);
            if (conditions.QueueLimitBytes > 0 && link.QueuedBytes + data.Length > conditions.QueueLimitBytes)
            {
                Stats.QueueDropped++; Record('Q', datagram); return;
            }
            var start = link.BusyUntil > Now ? link.BusyUntil : Now;
            departure = start + TimeSpan.FromTicks(data.Length * 8L * TimeSpan.TicksPerSecond / conditions.RateBitsPerSecond);
            link.BusyUntil = departure;
            link.Enqueue(departure, data.Length);
        }

        var arrival = departure + conditions.Latency + DrawJitter(conditions);
        if (conditions.Reorder > 0 && _random.NextDouble() < conditions.Reorder)
        {
            Stats.Reordered++;
            arrival += conditions.ReorderDelay;
        }
        Schedule(arrival, datagram);

        if (conditions.Duplicate > 0 && _random.NextDouble() < conditions.Duplicate)
        {
            Stats.Duplicated++;
            Schedule(arrival + DrawJitter(conditions) + TimeSpan.FromTicks(1), datagram);
        }
    }

    /// <summary>
    /// Processes the next event (a delivery or a node deadline) if it is due no later than
    /// <paramref name="limit"/>; otherwise moves the clock to <paramref name="limit"/> (when finite) and returns false.
    /// </summary>
    public bool Step(TimeSpan limit)
    {
        var deliveryAt = _inFlight.TryPeek(out _, out var key) ? new TimeSpan(key.Ticks) : TimeSpan.MaxValue;
        ISimNode? due = null;
        var deadline = TimeSpan.MaxValue;
        foreach (var node in _nodes)
        {
            var d = node.NextDeadline;
            if (d < deadline) { deadline = d; due = node; }
        }

        var next = deliveryAt <= deadline ? deliveryAt : deadline;
        if (next == TimeSpan.MaxValue || next > limit)
        {
            if (limit != TimeSpan.MaxValue && limit > Now) Now = limit;
            return false;
        }
        if (next > Now) Now = next;

        if (deliveryAt <= deadline)
        {
            var item = _inFlight.Dequeue();
            Deliver(item.Datagram);
        }
        else
        {
            Mix('T', _nodes.IndexOf(due!));
            _trace?.Add($"{Now.TotalMilliseconds,10:F3} T node{_nodes.IndexOf(due!)}");
            due!.OnTimeout(this);
            if (due.NextDeadline > Now) _stuckSteps = 0;
            else if (++_stuckSteps > 100_000)
                throw new InvalidOperationException($"a node keeps asking for a timeout at {Now} without moving its deadline (seed {Seed})");
            return true;
        }
        _stuckSteps = 0;
        return true;
    }

    private int _stuckSteps;

    /// <summary>Runs until <paramref name="condition"/> holds (checked after every event) or <paramref name="timeout"/> of virtual time passes.</summary>
    /// <returns>True when the condition was met.</returns>
    public bool RunUntil(Func<bool> condition, TimeSpan timeout)
    {
        var limit = Now + timeout;
        if (condition()) return true;
        while (Step(limit))
        {
            if (condition()) return true;
        }
        return condition();
    }

    /// <summary>Runs every event due within the next <paramref name="duration"/> and leaves the clock at its end.</summary>
    public void RunFor(TimeSpan duration)
    {
        var limit = Now + duration;
        while (Step(limit)) { }
    }

    private void Deliver(SimDatagram datagram)
    {
        if (!_routes.TryGetValue(datagram.To, out var node))
        {
            Stats.Unroutable++; Record('U', datagram); return;
        }
        Stats.Delivered++;
        Record('D', datagram);
        OnDeliver?.Invoke(datagram);
        node.OnDatagram(this, datagram.From, datagram.To, datagram.Data);
    }

    private void Schedule(TimeSpan at, SimDatagram datagram) =>
        _inFlight.Enqueue(new InFlight(datagram), (at.Ticks, _seq++));

    private bool IsLost(LinkConditions c, LinkState link)
    {
        if (c.BurstStart > 0)
        {
            // Gilbert-Elliott: move between states first, then lose with the state's probability.
            if (link.Bad) { if (_random.NextDouble() < c.BurstEnd) link.Bad = false; }
            else if (_random.NextDouble() < c.BurstStart) link.Bad = true;
            if (link.Bad) return _random.NextDouble() < c.BurstLoss;
        }
        return c.Loss > 0 && _random.NextDouble() < c.Loss;
    }

    private TimeSpan DrawJitter(LinkConditions c) =>
        c.Jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)(_random.NextDouble() * c.Jitter.Ticks)) : TimeSpan.Zero;

    private void Record(char kind, SimDatagram d)
    {
        Mix(kind, d.From.Port, d.To.Port, d.Data.Length);
        foreach (var b in d.Data) MixByte(b);
        _trace?.Add($"{Now.TotalMilliseconds,10:F3} {kind} {d.From} -> {d.To} {d.Data.Length}B");
    }

    private void Mix(char kind, params ReadOnlySpan<int> values)
    {
        MixLong(Now.Ticks);
        MixByte((byte)kind);
        foreach (var v in values) MixLong(v);
    }

    private void MixLong(long v)
    {
        for (var i = 0; i < 8; i++) MixByte((byte)(v >> (8 * i)));
    }

    private void MixByte(byte b) => _traceHash = (_traceHash ^ b) * 1099511628211UL;

    private readonly record struct InFlight(SimDatagram Datagram);

    private sealed class LinkState
    {
        private readonly Queue<(TimeSpan Departure, int Bytes)> _queued = new();
        public bool Bad;
        public TimeSpan BusyUntil;
        public int QueuedBytes;

        public void Enqueue(TimeSpan departure, int bytes)
        {
            _queued.Enqueue((departure, bytes));
            QueuedBytes += bytes;
        }

        public void Drain(TimeSpan now)
        {
            while (_queued.TryPeek(out var head) && head.Departure <= now)
            {
                _queued.Dequeue();
                QueuedBytes -= head.Bytes;
            }
        }
    }
}
