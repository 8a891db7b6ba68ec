namespace Ferry.Testing.Simulation;

/// <summary>Counts of what the emulated network did, for assertions and diagnostics.</summary>
public sealed class SimStats
{
    /// <summary>Datagrams handed to the network.</summary>
    public long Sent { get; internal set; }
    /// <summary>Datagrams delivered to a node (duplicates included).</summary>
    public long Delivered { get; internal set; }
    /// <summary>Datagrams lost by random or bursty loss.</summary>
    public long Lost { get; internal set; }
    /// <summary>Datagrams dropped by a test's filter.</summary>
    public long Filtered { get; internal set; }
    /// <summary>Datagrams dropped at the tail of a full bottleneck queue.</summary>
    public long QueueDropped { get; internal set; }
    /// <summary>Extra copies made by duplication.</summary>
    public long Duplicated { get; internal set; }
    /// <summary>Datagrams held back to be overtaken.</summary>
    public long Reordered { get; internal set; }
    /// <summary>Datagrams addressed to no attached node.</summary>
    public long Unroutable { get; internal set; }

    /// <inheritdoc />
    public override string ToString() =>
        $"sent {Sent}, delivered {Delivered}, lost {Lost}, filtered {Filtered}, queue-dropped {QueueDropped}, duplicated {Duplicated}, reordered {Reordered}, unroutable {Unroutable}";
}
