using Ferry.Loop;

namespace Ferry.Tests.Loop;

public sealed class LoopRendezvousTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static EventLoop[] StartLoops(int n)
    {
        var loops = Enumerable.Range(0, n).Select(i => new EventLoop($"r{i}")).ToArray();
        foreach (var l in loops) l.Start();
        return loops;
    }

    [Fact]
    public async Task The_work_runs_on_the_leader_while_every_member_is_parked_and_members_run_again_after()
    {
        var loops = StartLoops(3);
        try
        {
            var leader = loops[0];
            var members = loops[1..];
            // Each member keeps a counter busy with its own commands, as a loop with media would be.
            var ticks = new long[members.Length];
            using var stop = new CancellationTokenSource();
            for (var i = 0; i < members.Length; i++)
            {
                var index = i;
                var member = members[i];
                void Tick()
                {
                    Interlocked.Increment(ref ticks[index]);
                    if (!stop.IsCancellationRequested) member.Post(Tick);
                }
                member.Post(Tick);
            }
            for (var round = 0; round < 50; round++)
            {
                var seen = new List<(bool OnLeader, bool MembersOwned, long[] Before, long[] After)>();
                await LoopRendezvous.RunAsync(leader, members, () =>
                {
                    var before = ticks.ToArray();
                    Thread.SpinWait(20_000);
                    var after = ticks.ToArray();
                    seen.Add((leader.IsOnLoop, members.All(m => m.IsOnLoop), before, after));
                }).WaitAsync(Wait);
                var (onLeader, membersOwned, b, a) = Assert.Single(seen);
                Assert.True(onLeader);
                // The leader's thread may touch the members' objects, and no member ran a command meanwhile.
                Assert.True(membersOwned);
                Assert.Equal(b, a);
            }
            var progressed = ticks.ToArray();
            await Task.Delay(50);
            Assert.All(Enumerable.Range(0, members.Length), i => Assert.True(Interlocked.Read(ref ticks[i]) > progressed[i]));
            stop.Cancel();
        }
        finally
        {
            foreach (var l in loops) l.Dispose();
        }
    }

    [Fact]
    public async Task A_failing_work_faults_the_task_and_releases_the_members()
    {
        var loops = StartLoops(2);
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => LoopRendezvous.RunAsync(loops[0], [loops[1]], () => throw new InvalidOperationException("boom")).WaitAsync(Wait));
            Assert.Equal("boom", e.Message);
            Assert.True(await loops[1].InvokeAsync(() => true).WaitAsync(Wait));
        }
        finally
        {
            foreach (var l in loops) l.Dispose();
        }
    }

    [Fact]
    public async Task A_stopped_member_fails_the_rendezvous_instead_of_hanging_the_leader()
    {
        var loops = StartLoops(3);
        try
        {
            loops[2].Stop();
            await loops[2].Exited.WaitAsync(Wait);
            var ran = false;
            await Assert.ThrowsAsync<InvalidOperationException>(() => LoopRendezvous.RunAsync(loops[0], [loops[1], loops[2]], () => ran = true).WaitAsync(Wait));
            Assert.False(ran);
            // The live member and the leader go on.
            Assert.True(await loops[1].InvokeAsync(() => true).WaitAsync(Wait));
            Assert.True(await loops[0].InvokeAsync(() => true).WaitAsync(Wait));
        }
        finally
        {
            foreach (var l in loops) l.Dispose();
        }
    }

    [Fact]
    public async Task Without_members_the_work_runs_at_once()
    {
        using var loop = new EventLoop("solo");
        loop.Start();
        var stalled = await LoopRendezvous.RunAsync(loop, [], () => { }).WaitAsync(Wait);
        Assert.True(stalled < Wait);
    }
}
