using System.Diagnostics;
using SharpFuzz;

namespace Ferry.Fuzz;

/// <summary>
/// <c>Ferry.Fuzz TARGET</c>: the target under afl-fuzz (SharpFuzz's fork server; run by fuzz/run.sh).
/// <c>Ferry.Fuzz TARGET PATH...</c>: replays files or folders through the target in-process, printing each failure.
/// <c>Ferry.Fuzz --seeds DIR</c>: writes the seed corpora (DIR/TARGET/NAME) from Ferry's own writers and RFC examples.
/// <c>Ferry.Fuzz --list</c>: the target names.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--list")
        {
            foreach (var t in AllTargets.List) Console.WriteLine(t.Name);
            return 0;
        }
        if (args.Length == 2 && args[0] == "--seeds")
        {
            var count = Seeds.Write(args[1]);
            Console.WriteLine($"{count} seed files written under {args[1]}");
            return 0;
        }
        if (args.Length == 0 || AllTargets.Find(args[0]) is not { } target)
        {
            Console.Error.WriteLine("usage: Ferry.Fuzz TARGET [PATH...] | --seeds DIR | --list; targets: " + string.Join(' ', AllTargets.List.Select(t => t.Name)));
            return 2;
        }
        if (args.Length > 1) return Replay(target, args[1..]);
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            target.Run(memory.GetBuffer().AsSpan(0, (int)memory.Length));
        });
        return 0;
    }

    private static int Replay(NamedTarget target, string[] paths)
    {
        var files = FuzzReplay.Files(paths);
        var failed = 0;
        var clock = Stopwatch.StartNew();
        foreach (var file in files)
        {
            if (FuzzReplay.RunOne(target, File.ReadAllBytes(file)) is not { } failure) continue;
            failed++;
            Console.WriteLine($"{file}: {failure}");
        }
        Console.WriteLine($"{target.Name}: {files.Count} inputs, {failed} failed, {clock.Elapsed.TotalMilliseconds:0} ms");
        return failed == 0 ? 0 : 1;
    }
}
