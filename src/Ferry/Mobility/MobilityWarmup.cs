using System.Reflection;
using System.Runtime.CompilerServices;
using Ferry.Loop;
using Ferry.Rtp;
using Ferry.Transports;

namespace Ferry.Mobility;

/// <summary>
/// Compiles the code a move runs before the first move needs it. A handover runs with the loops
/// involved parked, so the just-in-time compilation of its methods on first use would stand media
/// still: the first move after start took 6-11 ms in the browser move test, later ones well under a
/// millisecond. Started once per process, in the background, when the first worker is created.
/// </summary>
internal static class MobilityWarmup
{
    private static int _started;

    /// <summary>Starts the warm-up once per process; returns at once.</summary>
    public static void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        _ = Task.Run(Prepare);
    }

    private static readonly Type[] Roots =
    [
        typeof(Transport), typeof(WebRtcTransport), typeof(PlainTransport), typeof(PipeTransport), typeof(DirectTransport),
        typeof(LocalPipeTransport), typeof(LocalPipe), typeof(PacketRing), typeof(Producer), typeof(Consumer), typeof(Router),
        typeof(LoopRendezvous), typeof(UdpSocket), typeof(TcpConnection), typeof(LoopTimer), typeof(EventLoop),
    ];

    /// <summary>
    /// Namespaces whose every type a move between processes runs while the room is frozen: export, the snapshot's
    /// JSON, import, and the DTLS, SRTP, SCTP and ICE state they write and read (without this the first such move
    /// of a process froze media 2–4 s on a loaded 2-core machine, later ones 10–150 ms).
    /// </summary>
    private static readonly string[] RemoteMoveNamespaces =
        ["Ferry.Mobility.Remote", "Ferry.Mobility.Snapshots", "Ferry.Protocols.Dtls", "Ferry.Protocols.Srtp", "Ferry.Protocols.Sctp", "Ferry.Protocols.Ice"];

    private static void Prepare()
    {
        var remote = new[] { typeof(Router).Assembly, typeof(Protocols.Ice.IceLiteAgent).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => t.DeclaringType is null && t.Namespace is { } ns && RemoteMoveNamespaces.Contains(ns));
        foreach (var root in Roots.Concat(remote))
        {
            foreach (var type in WithNested(root))
            {
                if (type.ContainsGenericParameters) continue;
                const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
                foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
                {
                    if (method.IsAbstract || method.ContainsGenericParameters || method.GetMethodBody() is null) continue;
                    try
                    {
                        RuntimeHelpers.PrepareMethod(method.MethodHandle);
                    }
                    catch (Exception)
                    {
                        // Only a warm-up: a method the runtime cannot prepare ahead is compiled on first call as usual.
                    }
                }
            }
        }
    }

    private static IEnumerable<Type> WithNested(Type type)
    {
        yield return type;
        foreach (var nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
            foreach (var inner in WithNested(nested)) yield return inner;
    }
}
