/// Why a call to an LLM endpoint failed.
///
/// Messages name the endpoint and the URL path and say what to do; they never contain the API
/// key: the client removes it from anything the server sends back before it gets here.
public struct LLMError: Error, CustomStringConvertible, Sendable {
  /// The family of a failure; its raw value is a stable snake_case name for counters and
  /// reject reasons (`llm.failed.rate_limited`).
  public enum Kind: String, Sendable, CaseIterable {
    /// The server refused the request with a 4xx status other than 408 and 429; not retried.
    case http4xx = "http_4xx"
    /// The server failed with a 5xx status.
    case http5xx = "http_5xx"
    /// The server answered 429 Too Many Requests.
    case rateLimited = "rate_limited"
    /// No complete answer within the endpoint's `timeoutSeconds` (or a 408 from the server).
    case timeout
    /// The connection could not be made or broke before the answer was complete.
    case connection
    /// The server answered 2xx with a body that is not the JSON this API promises.
    case malformedResponse = "malformed_response"
    /// Every attempt failed with a retryable error; `cause` holds the last one.
    case retriesExhausted = "retries_exhausted"
    /// Not sent: the endpoint's circuit breaker is open after a run of failed attempts.
    case circuitOpen = "circuit_open"

    /// Whether another attempt may succeed.
    public var isRetryable: Bool {
      switch self {
      case .http5xx, .rateLimited, .timeout, .connection: return true
      case .http4xx, .malformedResponse, .retriesExhausted, .circuitOpen: return false
      }
    }

    /// Whether the failure is the endpoint's (down, overloaded, unreachable) rather than the
    /// request's: a stage fails its task on these, so that a resume redoes the work once the
    /// endpoint is back, instead of rejecting the record.
    public var isEndpointFailure: Bool {
      switch self {
      case .http5xx, .rateLimited, .timeout, .connection, .retriesExhausted, .circuitOpen: return true
      case .http4xx, .malformedResponse: return false
      }
    }
  }

  /// The family of the failure.
  public var kind: Kind
  /// The endpoint's name from the config.
  public var endpointName: String
  /// The URL path that was called (`/v1/chat/completions`), without host, query or key.
  public var path: String
  /// The HTTP status, when the server answered.
  public var statusCode: Int?
  /// What happened and what to do about it.
  public var message: String
  /// How many HTTP attempts were made before giving up.
  public var attempts: Int
  /// The last retryable error, for `retriesExhausted`.
  public var cause: LLMErrorCause?

  /// Creates an error.
  public init(
    kind: Kind, endpointName: String, path: String, statusCode: Int? = nil, message: String, attempts: Int = 1,
    cause: LLMErrorCause? = nil
  ) {
    self.kind = kind
    self.endpointName = endpointName
    self.path = path
    self.statusCode = statusCode
    self.message = message
    self.attempts = attempts
    self.cause = cause
  }

  /// `llm endpoint 'NAME' POST PATH: message`.
  public var description: String {
    "llm endpoint '\(endpointName)' POST \(path): \(message)"
  }
}

/// The last failure behind `LLMError.Kind.retriesExhausted`, flattened so the error stays a
/// plain value (an error cannot hold itself).
public struct LLMErrorCause: Sendable, Equatable {
  /// The family of the last failure.
  public var kind: LLMError.Kind
  /// The HTTP status of the last failure, when the server answered.
  public var statusCode: Int?
  /// The last failure's message.
  public var message: String

  /// Creates a cause.
  public init(kind: LLMError.Kind, statusCode: Int?, message: String) {
    self.kind = kind
    self.statusCode = statusCode
    self.message = message
  }
}
