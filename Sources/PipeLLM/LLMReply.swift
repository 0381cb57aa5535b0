/// A parsed answer with how it was obtained.
public struct LLMReply<Response: Sendable>: Sendable {
  /// The parsed answer.
  public var response: Response
  /// The request's cache key (`LLMCacheKey`), for provenance.
  public var cacheKey: String
  /// Whether the answer came from the cache (no request was sent).
  public var isCached: Bool
  /// HTTP attempts made for this call: 0 for a cache hit, 1 without retries.
  public var attempts: Int
  /// Seconds the answering request took; for a cache hit, the stored request's latency.
  public var latencySeconds: Double

  /// Creates a reply.
  public init(response: Response, cacheKey: String, isCached: Bool, attempts: Int, latencySeconds: Double) {
    self.response = response
    self.cacheKey = cacheKey
    self.isCached = isCached
    self.attempts = attempts
    self.latencySeconds = latencySeconds
  }
}
