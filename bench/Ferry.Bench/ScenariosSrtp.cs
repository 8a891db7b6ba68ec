using Ferry.Native;
using System.Security.Cryptography;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Srtp;

namespace Ferry.Bench;

/// <summary>
/// What one SRTP protect of a forwarded copy costs, without the network: Ferry's <see cref="SrtpSession"/>
/// against the floor's <see cref="FloorSrtp"/> (each way of keying HMAC-SHA1 for AES-CM), in rounds that
/// alternate the implementations, on one thread. The per-copy part of the forwarding figures, isolated.
/// </summary>
internal sealed partial class Scenarios
{
    private static unsafe long ThreadCpuMicroseconds()
    {
        Libc.RUsage u;
        Libc.GetRUsage(Libc.RUSAGE_THREAD, &u);
        return (u.UtimeSec + u.StimeSec) * 1_000_000 + u.UtimeUsec + u.StimeUsec;
    }

    public void SrtpCost(BenchResults results)
    {
        var packet = new byte[1200 + 12 + 8];
        var w = new RtpPacketWriter(packet, 96, 1, 1000, ProducerSsrc, marker: true);
        w.AddExtension(4, "0"u8);
        var payload = new byte[1200];
        RandomNumberGenerator.Fill(payload);
        var length = w.SetPayload(payload);
        foreach (var profile in new[] { SrtpProfile.AeadAes256Gcm, SrtpProfile.AesCm128HmacSha1_80 })
        {
            var key = RandomNumberGenerator.GetBytes(profile.MasterKeyLength());
            var salt = RandomNumberGenerator.GetBytes(profile.MasterSaltLength());
            var candidates = new List<(string Name, Func<byte[], int, int> Protect, IDisposable Owner)>();
            var floor = FloorSrtp.ForProtect(profile, key, salt);
            candidates.Add(("floor (EVP, HMAC from SHA-1 midstates)", (b, n) => floor.ProtectRtp(b, n), floor));
            if (!profile.IsAead())
            {
                foreach (var method in new[] { HmacMethod.HmacCtxReinit, HmacMethod.HmacCtxCopy, HmacMethod.EvpMacReinit })
                {
                    var f = FloorSrtp.ForProtect(profile, key, salt, method);
                    candidates.Add(($"floor with {method}", (b, n) => f.ProtectRtp(b, n), f));
                }
            }
            var session = new SrtpSession(profile, key, salt);
            candidates.Add(("Ferry SrtpSession", (b, n) =>
            {
                session.ProtectRtp(b, n, out var m);
                return m;
            }, session));
            var times = candidates.Select(_ => new List<double>()).ToArray();
            var buffer = new byte[2048];
            var seq = (ushort)0;
            for (var round = 0; round < Math.Max(3, config.Rounds); round++)
            {
                for (var turn = 0; turn < candidates.Count; turn++)
                {
                    var c = (round + turn) % candidates.Count;
                    var protect = candidates[c].Protect;
                    progress.Status($"srtp {profile}: {candidates[c].Name}, round {round + 1}");
                    var cpu0 = ThreadCpuMicroseconds();
                    for (var i = 0; i < config.SrtpPackets; i++)
                    {
                        // A fresh copy per packet, as a forwarder protects each copy of one input.
                        packet.AsSpan(0, length).CopyTo(buffer);
                        buffer[2] = (byte)(seq >> 8);
                        buffer[3] = (byte)seq++;
                        protect(buffer, length);
                    }
                    // Thread CPU time, not wall time: what other processes take of the core is not counted.
                    times[c].Add((ThreadCpuMicroseconds() - cpu0) * 1000.0 / config.SrtpPackets);
                }
            }
            var floorMedian = Spread.Of(times[0]).Median;
            for (var c = 0; c < candidates.Count; c++)
            {
                var spread = Spread.Of(times[c]);
                results.SrtpCost.Add(new SrtpCostResult { Mode = profile.ToMediasoupName(), Implementation = candidates[c].Name, NsPerPacket = spread, OverFloor = floorMedian > 0 ? spread.Median / floorMedian : 0 });
                progress.Line($"srtp {profile.ToMediasoupName()} {candidates[c].Name}: {spread} ns/packet (x{(floorMedian > 0 ? spread.Median / floorMedian : 0):F2})");
                candidates[c].Owner.Dispose();
            }
        }
    }
}
