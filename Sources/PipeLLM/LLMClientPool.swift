internal import Foundation
public import PipeCore
internal import Synchronization

/// The LLM clients of one run, one per endpoint configuration, all with the run's request
/// cache: the runtime lends the pool to stages (`StageContext.services`), so every task of
/// every stage shares an endpoint's concurrency and rate limits.
public final class LLMClientPool: Sendable {
  private let cache: (any LLMCache)?
  private let environment: [String: String]?
  private let registry: ClientRegistry
  /// How many processes share each endpoint's limits (1 on one machine).
  private let limitShare: Int

  /// Creates a pool whose clients use `cache`.
  ///
  /// - Parameters:
  ///   - environment: where API key variables are read; `nil` for the process's.
  ///   - limitShare: how many processes call the same endpoints at once (a Slurm array's
  ///     elements): each endpoint's `maxConcurrentRequests` and `requestsPerMinute` are limits
  ///     for all of them together, so this process gets that share of each (at least one
  ///     request in flight).
  public init(cache: (any LLMCache)?, environment: [String: String]? = nil, limitShare: Int = 1) {
    self.cache = cache
    self.environment = environment
    self.limitShare = max(1, limitShare)
    registry = ClientRegistry()
  }

  private init(sharing pool: LLMClientPool, cache: (any LLMCache)?) {
    self.cache = cache
    environment = pool.environment
    registry = pool.registry
    limitShare = pool.limitShare
  }

  /// `endpoint` with this process's share of its limits.
  public func shared(_ endpoint: Endpoint) -> Endpoint {
    guard limitShare > 1 else { return endpoint }
    var share = endpoint
    share.maxConcurrentRequests = max(1, endpoint.maxConcurrentRequests / limitShare)
    share.requestsPerMinute = endpoint.requestsPerMinute.map { $0 / Double(limitShare) }
    return share
  }

  /// A pool whose clients share this pool's (limits, connections, statistics) but answer from
  /// and store into `cache`: the runtime gives each task one, so the answers a task receives go
  /// into the task's ledger.
  public func scoped(cache: any LLMCache) -> LLMClientPool {
    LLMClientPool(sharing: self, cache: cache)
  }

  /// The client for `endpoint`, created on first use.
  ///
  /// - Throws: `PipeError(.config)` when the endpoint is invalid or its key variable is unset.
  public func client(for endpoint: Endpoint) throws(PipeError) -> LLMClient {
    // Two stages may name the same endpoint with different limits; they get different clients.
    let key = "\(endpoint)"
    if let client = registry.clients.withLock({ $0[key] }) { return client.with(cache: cache) }
    let client = try LLMClient(endpoint: shared(endpoint), cache: nil, environment: environment)
    let shared = registry.clients.withLock { clients in
      if let existing = clients[key] { return existing }
      clients[key] = client
      return client
    }
    return shared.with(cache: cache)
  }

  /// The clients of a run, shared by the pools scoped from it.
  private final class ClientRegistry: Sendable {
    let clients = Mutex<[String: LLMClient]>([:])
  }

  /// What each client did so far, by endpoint name.
  public var statistics: [LLMStatistics] {
    registry.clients.withLock { Array($0.values) }.map(\.statistics).sorted { $0.endpointName < $1.endpointName }
  }
}
