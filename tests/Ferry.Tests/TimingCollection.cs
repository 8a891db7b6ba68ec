namespace Ferry.Tests;

/// <summary>
/// Tests whose subject is timing on real sockets (congestion control reacting to delay) run alone, after
/// the others: another test class moving thousands of packets beside them on 2 cores is delay they would measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Timing";
}
