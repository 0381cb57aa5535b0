/// What one endpoint's client did so far, for `pipe inspect` and the manifest.
public struct LLMStatistics: Sendable, Equatable {
  /// The endpoint's name.
  public var endpointName: String
  /// Calls to `send`, answered from the cache or not.
  public var calls = 0
  /// Calls answered from the cache without a request.
  public var cacheHits = 0
  /// HTTP requests sent, retries included.
  public var requestsSent = 0
  /// Requests that were retries of an earlier failed attempt.
  public var retries = 0
  /// Retries by the kind of failure that caused them (`rate_limited`: 3).
  public var retriesByKind: [String: Int] = [:]
  /// Calls that got an answer from the server.
  public var succeeded = 0
  /// Calls that failed in the end.
  public var failed = 0
  /// Failed calls by the kind of their final error (`retries_exhausted`: 1).
  public var failuresByKind: [String: Int] = [:]
  /// Prompt tokens of answers from the server (cache hits cost none).
  public var promptTokens = 0
  /// Completion tokens of answers from the server.
  public var completionTokens = 0
  /// Seconds spent in successful requests (the answering attempt only).
  public var totalLatencySeconds = 0.0

  /// Empty statistics for `endpointName`.
  public init(endpointName: String) {
    self.endpointName = endpointName
  }

  /// The mean latency of successful requests, or `nil` before the first.
  public var meanLatencySeconds: Double? {
    succeeded > 0 ? totalLatencySeconds / Double(succeeded) : nil
  }
}
