using System.Text.RegularExpressions;

namespace Ferry.Protocols.Ortc;

/// <summary>
/// A parsed scalability mode ("L3T3", "L1T3", "S2T3", "L3T3_KEY"), as mediasoup's parseScalabilityMode
/// reads it: L or S, one or two digits (not starting with 0) of spatial layers, T, the same for
/// temporal layers, optionally _KEY for K-SVC; trailing text allowed. Anything else is L1T1.
/// </summary>
public readonly partial record struct ScalabilityMode(int SpatialLayers, int TemporalLayers, bool Ksvc)
{
    /// <summary>L1T1.</summary>
    public static readonly ScalabilityMode Default = new(1, 1, false);

    /// <summary>Parses <paramref name="mode"/>; null or unrecognised gives <see cref="Default"/>.</summary>
    public static ScalabilityMode Parse(string? mode)
    {
        if (mode is null) return Default;
        var match = Pattern().Match(mode);
        if (!match.Success) return Default;
        return new ScalabilityMode(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[3].Success);
    }

    /// <summary>"L{spatial}T{temporal}" (with "_KEY" for K-SVC).</summary>
    public override string ToString() => $"L{SpatialLayers}T{TemporalLayers}{(Ksvc ? "_KEY" : "")}";

    [GeneratedRegex(@"^[LS]([1-9]\d?)T([1-9]\d?)(_KEY)?")]
    private static partial Regex Pattern();
}
