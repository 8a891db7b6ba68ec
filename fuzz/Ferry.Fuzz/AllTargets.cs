namespace Ferry.Fuzz;

/// <summary>Every target, by name.</summary>
internal static class AllTargets
{
    public static readonly IReadOnlyList<NamedTarget> List = [.. ProtocolTargets.All, .. EngineTargets.All, .. ServerTargets.All];

    public static NamedTarget? Find(string name) => List.FirstOrDefault(t => t.Name == name);
}
