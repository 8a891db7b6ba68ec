namespace Ferry;

/// <summary>
/// A call on a closed object, or one the object's current state does not allow
/// (mediasoup's <c>InvalidStateError</c>).
/// </summary>
public sealed class InvalidStateException(string message) : InvalidOperationException(message);

/// <summary>
/// Well-formed input the router cannot serve: an unsupported codec, parameters no capability
/// matches (mediasoup's <c>UnsupportedError</c>). Malformed input is an <see cref="ArgumentException"/>
/// (mediasoup's <c>TypeError</c>).
/// </summary>
public sealed class UnsupportedException(string message) : NotSupportedException(message);
