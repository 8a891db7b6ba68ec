using System.Buffers;

namespace Ferry.Protocols.Sctp;

/// <summary>Export to and import from <see cref="DataChannelEndpointState"/>.</summary>
public sealed partial class DataChannelEndpoint
{
    private bool _exported;

    /// <summary>
    /// Writes the endpoint and its association (<see cref="SctpAssociation.Export"/>) into plain data,
    /// times taken relative to <paramref name="now"/>. The association must be established, otherwise
    /// this throws <see cref="InvalidOperationException"/>. Afterwards this endpoint and its association
    /// are spent: every call but <see cref="Dispose"/> throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public DataChannelEndpointState Export(TimeSpan now)
    {
        ThrowIfExported();
        // The association first: it refuses in the wrong state before anything here changes.
        var association = Association.Export(now);
        _exported = true;
        var state = BuildState(association);
        while (_messages.TryDequeue(out var m)) m.Release();
        _events.Clear();
        return state;
    }

    /// <summary>
    /// What <see cref="Export"/> writes, without spending the endpoint (<see cref="SctpAssociation.Checkpoint"/>): a
    /// copy for a standby while this endpoint goes on. Messages and events not yet polled stay here too.
    /// </summary>
    public DataChannelEndpointState Checkpoint(TimeSpan now)
    {
        ThrowIfExported();
        return BuildState(Association.Checkpoint(now));
    }

    private DataChannelEndpointState BuildState(SctpAssociationState association)
    {
        return new DataChannelEndpointState
        {
            Association = association,
            DtlsClient = DtlsClient,
            Channels = _channels.Values.OrderBy(c => c.Id).Select(ChannelState).ToArray(),
            OutgoingResetAsked = _outReset.Order().ToArray(),
            OutgoingResetDone = _outResetDone.Order().ToArray(),
            IncomingReset = _inReset.Order().ToArray(),
            RejectedOpens = RejectedOpens,
            MessagesWithoutChannel = MessagesWithoutChannel,
            Messages = _messages.Select(m => new SctpMessageState
            {
                StreamId = m.StreamId, Ppid = m.Ppid, Unordered = m.Inner.Unordered, Data = m.Inner.Data.ToArray(),
            }).ToArray(),
            Events = _events.Select(e => new DataChannelEventState
            {
                Kind = e.Kind,
                Channel = e.Channel is null ? null : ChannelState(e.Channel),
                ChannelIsCurrent = e.Channel is not null && _channels.TryGetValue(e.Channel.Id, out var c) && ReferenceEquals(c, e.Channel),
                Association = e.Association is { } a ? new SctpEventState { Kind = a.Kind, Reason = a.Reason, Streams = a.Streams?.ToArray() } : null,
            }).ToArray(),
        };
    }

    /// <summary>
    /// Builds an endpoint from <paramref name="state"/> with its association imported
    /// (<see cref="SctpAssociation.Import"/>), times rebased on <paramref name="now"/>. Throws
    /// <see cref="ArgumentException"/> for a snapshot of another version or one that does not fit together.
    /// </summary>
    public static DataChannelEndpoint Import(DataChannelEndpointState state, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Version != DataChannelEndpointState.CurrentVersion)
            throw new ArgumentException($"data channel snapshot version {state.Version}, this code reads {DataChannelEndpointState.CurrentVersion}", nameof(state));
        var endpoint = new DataChannelEndpoint(SctpAssociation.Import(state.Association ?? throw new ArgumentException("no association", nameof(state)), now), state.DtlsClient)
        {
            _now = now,
            RejectedOpens = state.RejectedOpens,
            MessagesWithoutChannel = state.MessagesWithoutChannel,
        };
        try
        {
            foreach (var c in state.Channels)
            {
                if (!endpoint._channels.TryAdd(c.Id, FromState(c))) throw new ArgumentException($"channel {c.Id} listed twice", nameof(state));
            }
            endpoint._outReset.UnionWith(state.OutgoingResetAsked);
            endpoint._outResetDone.UnionWith(state.OutgoingResetDone);
            endpoint._inReset.UnionWith(state.IncomingReset);
            foreach (var m in state.Messages)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(m.Data.Length);
                m.Data.CopyTo(buffer, 0);
                endpoint._messages.Enqueue(new DataChannelMessage(new SctpMessage(m.StreamId, m.Ppid, m.Unordered, buffer, m.Data.Length)));
            }
            foreach (var e in state.Events)
            {
                DataChannelInfo? channel = null;
                if (e.Channel is { } c)
                {
                    // An event about a live channel hands out that channel's object, as before the move.
                    channel = e.ChannelIsCurrent && endpoint._channels.TryGetValue(c.Id, out var live) ? live : FromState(c);
                }
                var association = e.Association is { } a ? new SctpEvent(a.Kind, a.Reason, a.Streams?.ToArray()) : null;
                endpoint._events.Enqueue(new DataChannelEvent(e.Kind, channel, association));
            }
        }
        catch
        {
            endpoint.Dispose();
            throw;
        }
        return endpoint;
    }

    private static DataChannelState ChannelState(DataChannelInfo c) => new()
    {
        Id = c.Id, ChannelType = c.Parameters.ChannelType, Priority = c.Parameters.Priority, ReliabilityParameter = c.Parameters.ReliabilityParameter,
        Label = c.Parameters.Label, Protocol = c.Parameters.Protocol, Negotiated = c.Negotiated, LocallyOpened = c.LocallyOpened,
        Acknowledged = c.Acknowledged, Closing = c.Closing,
    };

    private static DataChannelInfo FromState(DataChannelState c) =>
        new(c.Id, new DcepOpen(c.ChannelType, c.Priority, c.ReliabilityParameter, c.Label ?? "", c.Protocol ?? ""), c.Negotiated, c.LocallyOpened)
        {
            Acknowledged = c.Acknowledged,
            Closing = c.Closing,
        };

    private void ThrowIfExported()
    {
        if (_exported) throw new InvalidOperationException("this data channel endpoint was exported; only the one imported from its snapshot may be used");
    }
}
