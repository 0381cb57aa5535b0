public import PipeCore

/// The request cache's key: what makes two requests the same request.
public enum LLMCacheKey {
  /// Bumped when the key's recipe changes, so old cache rows stop matching instead of
  /// answering requests they were not made for.
  public static let version = 1

  /// The SHA-256 hex of the canonical JSON of (key version, normalized base URL, model, path,
  /// canonical request body). The body holds the messages or prompt, every sampling parameter
  /// and the seed; the API key and the endpoint's name are not part of it, so renaming an
  /// endpoint or rotating its key keeps the cache.
  public static func make(endpoint: Endpoint, path: String, body: JSONObject) -> String {
    let material: JSONValue = .object([
      "version": .int(Int64(version)),
      "base_url": .string(endpoint.normalizedBaseURL),
      "model": .string(endpoint.model),
      "path": .string(path),
      "body": .object(body),
    ])
    return SHA256.hex(SHA256.hash(Array(material.canonicalText.utf8)))
  }

  /// The key for `request` sent to `endpoint`.
  public static func make<Request: LLMRequest>(endpoint: Endpoint, request: Request) -> String {
    make(endpoint: endpoint, path: Request.path, body: request.body(model: endpoint.model))
  }
}
