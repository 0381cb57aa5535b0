internal import PipeCore

/// One cached LLM response.
public struct LLMCacheEntry: Sendable, Equatable {
  /// The request's hash.
  public var key: String
  /// The endpoint's name in the pipeline.
  public var endpoint: String
  /// The model asked.
  public var model: String
  /// The API path below the base URL (`chat/completions`).
  public var path: String
  /// The canonical request body (what was asked; never the API key).
  public var request: String
  /// The response body as the server sent it.
  public var response: String
  /// Tokens of the prompt, as the server counted them, if it did.
  public var promptTokens: Int?
  /// Tokens generated, if the server said.
  public var completionTokens: Int?
  /// How long the call took, retries included.
  public var latencySeconds: Double
  /// Seconds since 1970 when the response arrived.
  public var createdAt: Double

  /// Creates an entry.
  public init(
    key: String, endpoint: String, model: String, path: String, request: String, response: String,
    promptTokens: Int?, completionTokens: Int?, latencySeconds: Double, createdAt: Double
  ) {
    self.key = key
    self.endpoint = endpoint
    self.model = model
    self.path = path
    self.request = request
    self.response = response
    self.promptTokens = promptTokens
    self.completionTokens = completionTokens
    self.latencySeconds = latencySeconds
    self.createdAt = createdAt
  }
}

extension Manifest {
  /// The cached response for `key`, if any.
  public func llmCacheEntry(key: String) throws -> LLMCacheEntry? {
    try withConnection("cannot read the LLM cache") { db in
      try db.queryFirst(
        """
        SELECT key, endpoint, model, path, request, response, prompt_tokens, completion_tokens, latency_seconds,
          created_at
        FROM llm_cache WHERE key = ?
        """, [.text(key)]
      ) { row in
        LLMCacheEntry(
          key: row.text(0), endpoint: row.text(1), model: row.text(2), path: row.text(3), request: row.text(4),
          response: row.text(5), promptTokens: row.optionalInt(6), completionTokens: row.optionalInt(7),
          latencySeconds: row.double(8), createdAt: row.double(9))
      }
    }
  }

  /// Stores a response as soon as it arrives (not when its task ends), so a killed run keeps
  /// every call it paid for. A second store of the same key replaces the first (the client
  /// stores again only when a cached answer no longer parses).
  public func storeLLMCacheEntry(_ entry: LLMCacheEntry) throws {
    try write("cannot store an LLM response in the cache") { db in try storeLLMCacheEntry(entry, db) }
  }

  /// Stores `entry` in the caller's transaction.
  func storeLLMCacheEntry(_ entry: LLMCacheEntry, _ db: Connection) throws {
    try db.run(
      """
      INSERT INTO llm_cache (key, endpoint, model, path, request, response, prompt_tokens, completion_tokens,
        latency_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET
        endpoint = excluded.endpoint, model = excluded.model, path = excluded.path, request = excluded.request,
        response = excluded.response, prompt_tokens = excluded.prompt_tokens,
        completion_tokens = excluded.completion_tokens, latency_seconds = excluded.latency_seconds,
        created_at = excluded.created_at
      """,
      [
        .text(entry.key), .text(entry.endpoint), .text(entry.model), .text(entry.path), .text(entry.request),
        .text(entry.response),
        .int(entry.promptTokens), .int(entry.completionTokens), .real(entry.latencySeconds), .real(entry.createdAt),
      ])
  }

  /// Cached responses per endpoint: how many, and their tokens.
  public func llmCacheSummary() throws -> [(endpoint: String, responses: Int, promptTokens: Int, completionTokens: Int)]
  {
    try withConnection("cannot read the LLM cache") { db in
      try db.query(
        """
        SELECT endpoint, count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)
        FROM llm_cache GROUP BY endpoint ORDER BY endpoint
        """
      ) { row in (row.text(0), row.int(1), row.int(2), row.int(3)) }
    }
  }
}
