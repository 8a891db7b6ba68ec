using System.Text;

namespace Ferry.Fuzz;

/// <summary>
/// Replays inputs through a target in-process, without afl: what the tests do in CI over
/// fuzz/corpus and fuzz/findings, and what <c>Ferry.Fuzz TARGET PATH</c> does by hand.
/// </summary>
internal static class FuzzReplay
{
    /// <summary>How long one input may run before it counts as a hang (generous: CI machines are loaded).</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    /// <summary>The repository's fuzz/ folder: the first one beside a Ferry.slnx, upward from the working directory or this assembly.</summary>
    public static string FuzzRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Ferry.slnx"))) return Path.Combine(dir.FullName, "fuzz");
            }
        }
        throw new DirectoryNotFoundException("no Ferry.slnx above the working directory or the test assembly");
    }

    /// <summary>The files under <paramref name="paths"/> (folders searched recursively), README files left out, in order.</summary>
    public static IReadOnlyList<string> Files(params string[] paths) =>
        paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : File.Exists(p) ? [p] : [])
            .Where(f => !Path.GetFileName(f).StartsWith("README", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Runs one input; null when the target returned in time, else what went wrong.</summary>
    public static string? RunOne(NamedTarget target, byte[] input)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                target.Run(input);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, 16 << 20) { IsBackground = true };
        thread.Start();
        if (!thread.Join(HangLimit)) return $"hang: still running after {HangLimit.TotalSeconds:0} s";
        return failure is null ? null : failure.ToString();
    }

    /// <summary>
    /// Replays the target's seed corpus and its findings; throws, listing every failing file, when one
    /// fails or hangs, or when the target has no corpus.
    /// </summary>
    public static int AssertClean(NamedTarget target)
    {
        var root = FuzzRoot();
        var corpus = Files(Path.Combine(root, "corpus", target.Name));
        if (corpus.Count == 0) throw new InvalidOperationException($"fuzz/corpus/{target.Name} is empty");
        var inputs = corpus.Concat(Files(Path.Combine(root, "findings", target.Name))).ToList();
        var report = new StringBuilder();
        foreach (var file in inputs)
        {
            if (RunOne(target, File.ReadAllBytes(file)) is { } failure) report.AppendLine($"{Path.GetRelativePath(root, file)}: {failure}");
        }
        if (report.Length > 0) throw new InvalidOperationException($"{target.Name}: inputs that fail\n{report}");
        return inputs.Count;
    }
}
