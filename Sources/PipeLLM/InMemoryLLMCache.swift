internal import Synchronization

/// An `LLMCache` in a dictionary, for tests and one-off runs; gone when the process ends.
public final class InMemoryLLMCache: LLMCache {
  private let entries = Mutex<[String: CachedResponse]>([:])

  /// Creates an empty cache.
  public init() {}

  /// The stored answer for `key`, or `nil`.
  public func lookup(key: String) -> CachedResponse? {
    entries.withLock { $0[key] }
  }

  /// Stores `response` under `key`.
  public func store(key: String, response: CachedResponse) {
    entries.withLock { $0[key] = response }
  }

  /// The number of stored answers.
  public var count: Int { entries.withLock { $0.count } }
}
