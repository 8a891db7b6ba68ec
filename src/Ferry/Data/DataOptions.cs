using Ferry.Protocols.Ortc;

namespace Ferry.Data;

/// <summary>Options of <see cref="Transports.Transport.ProduceDataAsync"/> (mediasoup's <c>DataProducerOptions</c>).</summary>
public sealed record DataProducerOptions
{
    /// <summary>Id to give it; a new UUID when null.</summary>
    public string? Id { get; init; }

    /// <summary>The stream the endpoint sends on and how (required on SCTP transports, ignored on a DirectTransport).</summary>
    public SctpStreamParameters? SctpStreamParameters { get; init; }

    /// <summary>Label (the DataChannel's).</summary>
    public string Label { get; init; } = "";

    /// <summary>Sub-protocol (the DataChannel's).</summary>
    public string Protocol { get; init; } = "";

    /// <summary>Created paused.</summary>
    public bool Paused { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>Options of <see cref="Transports.Transport.ConsumeDataAsync"/> (mediasoup's <c>DataConsumerOptions</c>).</summary>
public sealed record DataConsumerOptions
{
    /// <summary>The data producer to consume (of the transport's router).</summary>
    public required string DataProducerId { get; init; }

    /// <summary>Overrides the producer's ordering (SCTP only).</summary>
    public bool? Ordered { get; init; }

    /// <summary>Overrides the producer's lifetime limit, ms (SCTP only).</summary>
    public int? MaxPacketLifeTime { get; init; }

    /// <summary>Overrides the producer's retransmission limit (SCTP only).</summary>
    public int? MaxRetransmits { get; init; }

    /// <summary>Created paused.</summary>
    public bool Paused { get; init; }

    /// <summary>Subchannels it subscribes to (values wrap modulo 65536, duplicates removed).</summary>
    public IReadOnlyList<int>? Subchannels { get; init; }

    /// <summary>Application data.</summary>
    public object? AppData { get; init; }
}

/// <summary>A data producer's statistics (mediasoup's <c>DataProducerStat</c>).</summary>
public sealed record DataProducerStats
{
    /// <summary>"data-producer".</summary>
    public string Type { get; init; } = "data-producer";
    /// <summary>Milliseconds of the worker's clock.</summary>
    public required long Timestamp { get; init; }
    /// <summary>Label.</summary>
    public required string Label { get; init; }
    /// <summary>Protocol.</summary>
    public required string Protocol { get; init; }
    /// <summary>Messages received (paused ones included).</summary>
    public required long MessagesReceived { get; init; }
    /// <summary>Bytes received.</summary>
    public required long BytesReceived { get; init; }
}

/// <summary>A data consumer's statistics (mediasoup's <c>DataConsumerStat</c>).</summary>
public sealed record DataConsumerStats
{
    /// <summary>"data-consumer".</summary>
    public string Type { get; init; } = "data-consumer";
    /// <summary>Milliseconds of the worker's clock.</summary>
    public required long Timestamp { get; init; }
    /// <summary>Label.</summary>
    public required string Label { get; init; }
    /// <summary>Protocol.</summary>
    public required string Protocol { get; init; }
    /// <summary>Messages sent to the endpoint.</summary>
    public required long MessagesSent { get; init; }
    /// <summary>Bytes sent to the endpoint.</summary>
    public required long BytesSent { get; init; }
    /// <summary>Bytes queued in SCTP and not yet acknowledged by the endpoint.</summary>
    public required long BufferedAmount { get; init; }
}

/// <summary>A data producer's dump.</summary>
public sealed record DataProducerDump
{
    /// <summary>Id.</summary>
    public required string Id { get; init; }
    /// <summary>sctp or direct.</summary>
    public required DataType Type { get; init; }
    /// <summary>Stream parameters (SCTP).</summary>
    public SctpStreamParameters? SctpStreamParameters { get; init; }
    /// <summary>Label.</summary>
    public required string Label { get; init; }
    /// <summary>Protocol.</summary>
    public required string Protocol { get; init; }
    /// <summary>Paused.</summary>
    public required bool Paused { get; init; }
}

/// <summary>A data consumer's dump.</summary>
public sealed record DataConsumerDump
{
    /// <summary>Id.</summary>
    public required string Id { get; init; }
    /// <summary>The data producer.</summary>
    public required string DataProducerId { get; init; }
    /// <summary>sctp or direct.</summary>
    public required DataType Type { get; init; }
    /// <summary>Stream parameters (SCTP).</summary>
    public SctpStreamParameters? SctpStreamParameters { get; init; }
    /// <summary>Label.</summary>
    public required string Label { get; init; }
    /// <summary>Protocol.</summary>
    public required string Protocol { get; init; }
    /// <summary>Threshold of the bufferedamountlow event.</summary>
    public required long BufferedAmountLowThreshold { get; init; }
    /// <summary>Paused by the application.</summary>
    public required bool Paused { get; init; }
    /// <summary>Its data producer is paused.</summary>
    public required bool DataProducerPaused { get; init; }
    /// <summary>Subchannels subscribed to.</summary>
    public required IReadOnlyList<int> Subchannels { get; init; }
}

/// <summary>mediasoup's validateSctpStreamParameters (reference §4.8), plus the stream range.</summary>
internal static class SctpStreamValidation
{
    /// <exception cref="ArgumentException">Invalid combination (mediasoup's TypeError).</exception>
    public static SctpStreamParameters Validate(SctpStreamParameters? parameters)
    {
        if (parameters is null) throw new ArgumentException("missing sctpStreamParameters");
        if (parameters.StreamId is < 0 or > 65534) throw new ArgumentException("invalid sctpStreamParameters.streamId");
        if (parameters.MaxPacketLifeTime is not null && parameters.MaxRetransmits is not null)
            throw new ArgumentException("cannot provide both maxPacketLifeTime and maxRetransmits");
        var partial = parameters.MaxPacketLifeTime is not null || parameters.MaxRetransmits is not null;
        if (partial && parameters.Ordered == true) throw new ArgumentException("cannot be ordered with maxPacketLifeTime or maxRetransmits");
        if (parameters.MaxPacketLifeTime is < 0 or > 65535) throw new ArgumentException("invalid maxPacketLifeTime");
        if (parameters.MaxRetransmits is < 0 or > 65535) throw new ArgumentException("invalid maxRetransmits");
        return parameters with { Ordered = parameters.Ordered ?? !partial };
    }
}
