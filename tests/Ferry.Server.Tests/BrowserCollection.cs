namespace Ferry.Server.Tests;

/// <summary>
/// The browser tests run one at a time and alone: two Chromium pages decoding video already fill this
/// 2-core machine, and a second pair (or any other test) beside them makes freezes that are not Ferry's.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Browser";
}
