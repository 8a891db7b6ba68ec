using Ferry.Fuzz;

namespace Ferry.Server.Tests.Fuzz;

/// <summary>
/// The fuzz targets of the server's signaling (protoo JSON and the ORTC parameters it carries), replayed in-process over their seed corpus
/// (fuzz/corpus) and every input a fuzzer ever found (fuzz/findings), so CI checks them without afl
/// (docs/fuzzing.md). A failure names the file: replay it with <c>dotnet Ferry.Fuzz.dll TARGET FILE</c>.
/// </summary>
public class FuzzReplayTests
{
    public static TheoryData<string> Targets() => new(ServerTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_and_findings_replay_without_a_failure(string name)
    {
        var replayed = FuzzReplay.AssertClean(ServerTargets.All.Single(t => t.Name == name));
        Assert.True(replayed > 0);
    }
}
