/// A successful answer as the request cache keeps it: plain strings and numbers, so a store
/// outside this module (the manifest's SQLite table) needs no type from here.
public struct CachedResponse: Sendable, Equatable {
  /// The endpoint's name when the answer was stored.
  public var endpointName: String
  /// The model id that was requested.
  public var model: String
  /// The path below the API root (`chat/completions`).
  public var path: String
  /// The canonical JSON request body (what was asked, for `pipe why`).
  public var requestBody: String
  /// The server's JSON answer as received; parsed again on every hit.
  public var responseBody: String
  /// Prompt tokens the server reported, if any.
  public var promptTokens: Int?
  /// Completion tokens the server reported, if any.
  public var completionTokens: Int?
  /// How long the successful attempt took.
  public var latencySeconds: Double

  /// Creates a value.
  public init(
    endpointName: String, model: String, path: String, requestBody: String, responseBody: String,
    promptTokens: Int?, completionTokens: Int?, latencySeconds: Double
  ) {
    self.endpointName = endpointName
    self.model = model
    self.path = path
    self.requestBody = requestBody
    self.responseBody = responseBody
    self.promptTokens = promptTokens
    self.completionTokens = completionTokens
    self.latencySeconds = latencySeconds
  }
}

/// Where the client keeps answers so a repeated or resumed run never sends a request twice.
///
/// Keys come from `LLMCacheKey.make`. Implementations must be safe to call from many threads;
/// a failure to read or write is an infrastructure error and should throw.
public protocol LLMCache: Sendable {
  /// The stored answer for `key`, or `nil`.
  func lookup(key: String) throws -> CachedResponse?
  /// Stores `response` under `key`, replacing any earlier answer.
  func store(key: String, response: CachedResponse) throws
}
