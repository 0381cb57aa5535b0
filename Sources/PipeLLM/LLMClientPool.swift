internal import Foundation
public import PipeCore
internal import Synchronization

/// The LLM clients of one run, one per endpoint configuration, all with the run's request
/// cache: the runtime lends the pool to stages (`StageContext.services`), so every task of
/// every stage shares an endpoint's concurrency and rate limits.
public final class LLMClientPool: Sendable {
  private let cache: (any LLMCache)?
  private let environment: [String: String]?
  private let clients = Mutex<[String: LLMClient]>([:])

  /// Creates a pool whose clients use `cache`.
  ///
  /// - Parameter environment: where API key variables are read; `nil` for the process's.
  public init(cache: (any LLMCache)?, environment: [String: String]? = nil) {
    self.cache = cache
    self.environment = environment
  }

  /// The client for `endpoint`, created on first use.
  ///
  /// - Throws: `PipeError(.config)` when the endpoint is invalid or its key variable is unset.
  public func client(for endpoint: Endpoint) throws(PipeError) -> LLMClient {
    // Two stages may name the same endpoint with different limits; they get different clients.
    let key = "\(endpoint)"
    if let client = clients.withLock({ $0[key] }) { return client }
    let client = try LLMClient(endpoint: endpoint, cache: cache, environment: environment)
    return clients.withLock { clients in
      if let existing = clients[key] { return existing }
      clients[key] = client
      return client
    }
  }

  /// What each client did so far, by endpoint name.
  public var statistics: [LLMStatistics] {
    clients.withLock { Array($0.values) }.map(\.statistics).sorted { $0.endpointName < $1.endpointName }
  }
}
