internal import Dispatch
internal import Foundation
public import PipeCore
internal import Synchronization

/// Calls one OpenAI-compatible endpoint with its limits: at most `maxConcurrentRequests` in
/// flight, at most `requestsPerMinute` started, each attempt bounded by `timeoutSeconds`,
/// retries with exponential backoff and jitter on 429, 5xx, timeouts and broken connections,
/// and an optional request cache consulted before any request is sent.
///
/// `send(_:)` blocks the calling thread, for the pipeline's synchronous task runner; call it
/// from many threads at once to use the concurrency limit. One client per endpoint: the limits
/// and statistics belong to the client.
public final class LLMClient: Sendable {
  /// The endpoint this client calls.
  public let endpoint: Endpoint
  private let apiKey: String?
  private let cache: (any LLMCache)?
  private let clock: any LLMClock
  private let transport: HTTPTransport
  private let slots: DispatchSemaphore
  private let spacer: RequestSpacer?
  private let retryPolicy: RetryPolicy
  private let errorText: ErrorText
  /// Statistics and requests in flight, shared by every client made with `with(cache:)`.
  private let shared: SharedClientState

  /// Creates a client for `endpoint`.
  ///
  /// - Parameters:
  ///   - cache: where answers are looked up before sending and stored after success; `nil`
  ///     sends every call.
  ///   - environment: where the API key variable is read; `nil` for the process environment.
  ///   - clock: the clock for rate spacing and backoff waits.
  /// - Throws: `PipeError(.config)` when the endpoint is invalid or names an unset key variable.
  public init(
    endpoint: Endpoint, cache: (any LLMCache)? = nil,
    environment: [String: String]? = nil, clock: any LLMClock = SystemLLMClock()
  ) throws(PipeError) {
    try endpoint.validate()
    self.endpoint = endpoint
    // The process environment is read only when a key variable is named.
    apiKey =
      endpoint.apiKeyEnvironmentVariable == nil
      ? nil : try endpoint.apiKey(in: environment ?? ProcessInfo.processInfo.environment)
    self.cache = cache
    self.clock = clock
    transport = HTTPTransport(maxConnections: endpoint.maxConcurrentRequests, timeoutSeconds: endpoint.timeoutSeconds)
    slots = DispatchSemaphore(value: endpoint.maxConcurrentRequests)
    spacer = endpoint.requestsPerMinute.map { RequestSpacer(requestsPerMinute: $0) }
    retryPolicy = RetryPolicy(baseSeconds: endpoint.backoffBaseSeconds, maxSeconds: endpoint.backoffMaxSeconds)
    errorText = ErrorText(endpoint: endpoint, apiKey: apiKey)
    shared = SharedClientState(endpointName: endpoint.name)
  }

  private init(_ other: LLMClient, cache: (any LLMCache)?) {
    endpoint = other.endpoint
    apiKey = other.apiKey
    self.cache = cache
    clock = other.clock
    transport = other.transport
    slots = other.slots
    spacer = other.spacer
    retryPolicy = other.retryPolicy
    errorText = other.errorText
    shared = other.shared
  }

  /// The same client (its limits, connections and statistics shared) with another cache: the
  /// runtime gives each task one that records the answers it receives for the task's ledger.
  public func with(cache: (any LLMCache)?) -> LLMClient {
    LLMClient(self, cache: cache)
  }

  /// A snapshot of what this client did so far.
  public var statistics: LLMStatistics {
    shared.counters.withLock { $0 }
  }

  /// Sends `request` (or answers it from the cache) and blocks until the answer.
  ///
  /// - Throws: `LLMError` when the call fails (its `kind` says how); whatever the cache throws.
  public func send<Request: LLMRequest>(_ request: Request) throws -> LLMReply<Request.Response> {
    shared.counters.withLock { $0.calls += 1 }
    var body = request.body(model: endpoint.model)
    for (key, value) in endpoint.extraBody.members where body[key] == nil { body[key] = value }
    let key = LLMCacheKey.make(endpoint: endpoint, path: Request.path, body: body)
    if let (reply, _) = try cachedHit(Request.self, key: key) { return reply }
    let bodyText = JSONValue.object(body).canonicalText
    // Single flight: the first caller of a key sends; later ones wait and share its answer.
    let (pending, isLeader) = shared.inFlight.withLock { table -> (PendingAnswer, Bool) in
      if let existing = table[key] { return (existing, false) }
      let created = PendingAnswer()
      table[key] = created
      return (created, true)
    }
    // A leader that finished between the lookup above and this caller taking the lead stored
    // its answer before leaving the table, so a second lookup finds it; without it the same
    // request would be paid for twice. (A cache that fails now failed a moment ago too, and
    // the store below reports it.)
    if isLeader, let (reply, hit) = (try? cachedHit(Request.self, key: key)) ?? nil {
      finish(key, pending, .success(SharedAnswer(body: hit.responseBody, latency: hit.latencySeconds)))
      return reply
    }
    if !isLeader {
      let answer = pending.wait()
      self.shared.counters.withLock { $0.cacheHits += 1 }
      switch answer {
      case .success(let answer):
        guard let json = try? JSONValue.parse(answer.body), let response = try? Request.parseResponse(json) else {
          throw LLMError(
            kind: .malformedResponse, endpointName: endpoint.name, path: apiPath(Request.path), statusCode: nil,
            message: "a shared answer no longer parses", attempts: 0)
        }
        return LLMReply(response: response, cacheKey: key, isCached: true, attempts: 0, latencySeconds: answer.latency)
      case .failure(let error):
        throw error
      }
    }
    let result: (response: Request.Response, answer: String, attempts: Int, latency: Double)
    do {
      result = try exchange(Request.self, bodyText: bodyText)
    } catch {
      shared.counters.withLock {
        $0.failed += 1
        $0.failuresByKind[error.kind.rawValue, default: 0] += 1
      }
      finish(key, pending, .failure(error))
      throw error
    }
    defer { finish(key, pending, .success(SharedAnswer(body: result.answer, latency: result.latency))) }
    let usage = result.response.usage
    shared.counters.withLock {
      $0.succeeded += 1
      $0.promptTokens += usage.promptTokens ?? 0
      $0.completionTokens += usage.completionTokens ?? 0
      $0.totalLatencySeconds += result.latency
    }
    try cache?.store(
      key: key,
      response: CachedResponse(
        endpointName: endpoint.name, model: endpoint.model, path: Request.path, requestBody: bodyText,
        responseBody: result.answer, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
        latencySeconds: result.latency))
    return LLMReply(
      response: result.response, cacheKey: key, isCached: false, attempts: result.attempts,
      latencySeconds: result.latency)
  }

  /// The cached answer to `key` as a reply, with the entry; `nil` when there is none or it no
  /// longer parses (written by an older version: it is ignored and replaced).
  private func cachedHit<Request: LLMRequest>(_: Request.Type, key: String) throws -> (
    LLMReply<Request.Response>, CachedResponse
  )? {
    guard let cache, let hit = try cache.lookup(key: key), let json = try? JSONValue.parse(hit.responseBody),
      let response = try? Request.parseResponse(json)
    else { return nil }
    shared.counters.withLock { $0.cacheHits += 1 }
    let reply = LLMReply(
      response: response, cacheKey: key, isCached: true, attempts: 0, latencySeconds: hit.latencySeconds)
    return (reply, hit)
  }

  /// Sends `request` without blocking the caller's task: the blocking call runs on a thread of
  /// its own, so waiting on limits never starves Swift's cooperative pool.
  ///
  /// - Throws: as `send(_:)`.
  public func send<Request: LLMRequest>(_ request: Request) async throws -> LLMReply<Request.Response> {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { [self] in
        continuation.resume(with: Result { try self.send(request) })
      }
      thread.start()
    }
  }

  private func finish(_ key: String, _ pending: PendingAnswer, _ result: Result<SharedAnswer, LLMError>) {
    shared.inFlight.withLock { _ = $0.removeValue(forKey: key) }
    pending.resolve(result)
  }

  // MARK: - Attempts

  /// Sends until an answer parses, a non-retryable error, or the retries or time run out.
  private func exchange<Request: LLMRequest>(_: Request.Type, bodyText: String) throws(LLMError) -> (
    response: Request.Response, answer: String, attempts: Int, latency: Double
  ) {
    let path = Request.path
    let started = clock.now()
    var attempt = 0
    while true {
      attempt += 1
      if let open = shared.openCircuit(now: clock.now()) {
        throw LLMError(
          kind: .circuitOpen, endpointName: endpoint.name, path: apiPath(path), statusCode: nil,
          message:
            "not sent: \(open.failures) attempts in a row failed (last: \(open.lastError)); the circuit stays open "
            + "for \(Self.format(seconds: endpoint.circuitBreakerSeconds)) s. Check that the server is up; a stage "
            + "fails its task, and `pipe resume` redoes it once the server is back",
          attempts: attempt - 1)
      }
      let failure: AttemptFailure
      let outcome = attemptOnce(path: Request.path, bodyText: bodyText, attempt: attempt)
      switch outcome {
      case .success: shared.recordAttempt(failure: nil, now: clock.now(), endpoint: endpoint)
      case .failure(let error):
        shared.recordAttempt(
          failure: Self.isRetryable(error) ? error.error : nil, now: clock.now(), endpoint: endpoint)
      }
      switch outcome {
      case .success(let answer):
        let text = String(decoding: answer.body, as: UTF8.self)
        do {
          let json = try JSONValue.parse(answer.body)
          return (try Request.parseResponse(json), text, attempt, answer.latency)
        } catch let error as JSONParseError {
          throw malformed("the answer is not JSON (\(error)): \(errorText.excerpt(errorText.redact(text)))", answer)
        } catch let error as MalformedResponse {
          throw malformed("the answer lacks what the API promises: \(errorText.redact(error.detail))", answer)
        } catch {
          throw malformed(errorText.redact("\(error)"), answer)
        }
      case .failure(let error):
        failure = error
      }
      guard Self.isRetryable(failure) else { throw failure.error }
      guard attempt <= endpoint.maxRetries else { throw exhausted(failure, attempts: attempt, reason: nil) }
      let delay = retryPolicy.delay(
        retry: attempt, retryAfter: failure.retryAfterSeconds, unitRandom: Double.random(in: 0..<1))
      if let total = endpoint.totalTimeoutSeconds, clock.now() + delay - started > total {
        throw exhausted(
          failure, attempts: attempt, reason: "totalTimeoutSeconds (\(Self.format(seconds: total)) s) would pass")
      }
      shared.counters.withLock {
        $0.retries += 1
        $0.retriesByKind[failure.error.kind.rawValue, default: 0] += 1
      }
      clock.sleep(seconds: delay)
    }

    func malformed(_ message: String, _ answer: TimedAnswer) -> LLMError {
      LLMError(
        kind: .malformedResponse, endpointName: endpoint.name, path: apiPath(path), statusCode: answer.status,
        message: message + "; is baseURL an OpenAI-compatible API root?", attempts: attempt)
    }
  }

  /// A successful HTTP answer and how long it took.
  private struct TimedAnswer {
    var status: Int
    var body: [UInt8]
    var latency: Double
  }

  /// A failed attempt and the server's `Retry-After`, if it sent one.
  private struct AttemptFailure: Error {
    var error: LLMError
    var retryAfterSeconds: Double?
  }

  /// One HTTP request within the concurrency and rate limits.
  private func attemptOnce(path: String, bodyText: String, attempt: Int) -> Result<TimedAnswer, AttemptFailure> {
    slots.wait()
    defer { slots.signal() }
    if let spacer {
      let wait = spacer.reserve(now: clock.now())
      if wait > 0 { clock.sleep(seconds: wait) }
    }
    shared.counters.withLock { $0.requestsSent += 1 }
    let fullPath = apiPath(path)
    guard let url = URL(string: endpoint.url(of: path)) else {
      return .failure(
        AttemptFailure(error: error(.http4xx, fullPath, nil, "cannot form a URL from baseURL", attempt)))
    }
    var headers = ["Content-Type": "application/json", "Accept": "application/json", "User-Agent": "pipe-llm/1"]
    if let apiKey { headers["Authorization"] = "Bearer " + apiKey }
    let started = DispatchTime.now().uptimeNanoseconds
    let outcome = transport.post(
      url: url, headers: headers, body: Array(bodyText.utf8), timeoutSeconds: endpoint.timeoutSeconds)
    let latency = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    switch outcome {
    case .failure(.timeout):
      return .failure(
        AttemptFailure(
          error: error(
            .timeout, fullPath, nil,
            "no complete answer within timeoutSeconds (\(Self.format(seconds: endpoint.timeoutSeconds)) s); raise "
              + "timeoutSeconds, lower max_tokens, or check that the server is not overloaded", attempt)))
    case .failure(.connection(let description)):
      return .failure(
        AttemptFailure(
          error: error(
            .connection, fullPath, nil,
            "the connection to \(serverAddress) failed (\(errorText.redact(description))); check that the server "
              + "is running and that baseURL is right", attempt)))
    case .success(let answer):
      if (200..<300).contains(answer.status) {
        return .success(TimedAnswer(status: answer.status, body: answer.body, latency: latency))
      }
      let kind: LLMError.Kind
      switch answer.status {
      case 429: kind = .rateLimited
      case 408: kind = .timeout
      case 500...599: kind = .http5xx
      default: kind = .http4xx
      }
      let message =
        "HTTP \(answer.status): \(errorText.serverMessage(answer.body)); \(errorText.advice(status: answer.status))"
      return .failure(
        AttemptFailure(
          error: error(kind, fullPath, answer.status, message, attempt),
          retryAfterSeconds: RetryPolicy.retryAfterSeconds(answer.headers["retry-after"])))
    }
  }

  // MARK: - Helpers

  private static func isRetryable(_ failure: AttemptFailure) -> Bool {
    // 501 Not Implemented and 505 are answers about the request, not passing trouble.
    failure.error.kind.isRetryable && failure.error.statusCode != 501 && failure.error.statusCode != 505
  }

  private func exhausted(_ last: AttemptFailure, attempts: Int, reason: String?) -> LLMError {
    let cause = LLMErrorCause(kind: last.error.kind, statusCode: last.error.statusCode, message: last.error.message)
    let why = reason.map { "; stopped because \($0)" } ?? ""
    return LLMError(
      kind: .retriesExhausted, endpointName: endpoint.name, path: last.error.path, statusCode: last.error.statusCode,
      message:
        "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s")\(why); last error (\(last.error.kind.rawValue)): "
        + "\(last.error.message)",
      attempts: attempts, cause: cause)
  }

  private func error(_ kind: LLMError.Kind, _ path: String, _ status: Int?, _ message: String, _ attempt: Int)
    -> LLMError
  {
    LLMError(
      kind: kind, endpointName: endpoint.name, path: path, statusCode: status, message: errorText.redact(message),
      attempts: attempt)
  }

  /// The URL path of a request path (`/v1/chat/completions`, `/tokenize`), for messages.
  private func apiPath(_ path: String) -> String {
    URLComponents(string: endpoint.url(of: path))?.path ?? path
  }

  /// `scheme://host:port` of the server, for messages (no path, no credentials).
  private var serverAddress: String {
    guard let parts = URLComponents(string: endpoint.normalizedBaseURL), let host = parts.host else { return "?" }
    return "\(parts.scheme ?? "http")://\(host)" + (parts.port.map { ":\($0)" } ?? "")
  }

  /// `2` for 2.0, `0.5` for 0.5.
  private static func format(seconds: Double) -> String {
    seconds.rounded() == seconds && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
  }

}

/// What the clients of one endpoint share, whatever cache each answers from.
final class SharedClientState: Sendable {
  let counters: Mutex<LLMStatistics>
  /// The circuit breaker: failed attempts in a row, and until when the circuit is open.
  private let breaker = Mutex<(failures: Int, openUntil: Double?, lastError: String)>((0, nil, ""))
  /// Requests being sent right now, by cache key: an identical request arriving meanwhile
  /// waits for that answer instead of paying for a second one.
  let inFlight = Mutex<[String: PendingAnswer]>([:])

  init(endpointName: String) {
    counters = Mutex(LLMStatistics(endpointName: endpointName))
  }

  /// The failures that opened the circuit when it is open at `now`; `nil` when an attempt may
  /// be made. Once the open time has passed, attempts go through again, and the next failure
  /// reopens it at once.
  func openCircuit(now: Double) -> (failures: Int, lastError: String)? {
    breaker.withLock { state in
      guard let until = state.openUntil else { return nil }
      if now < until { return (state.failures, state.lastError) }
      state.openUntil = nil
      return nil
    }
  }

  /// Counts an attempt: a success closes the circuit, an endpoint failure (`failure` not `nil`)
  /// adds to the run of failures and opens it at the endpoint's threshold.
  func recordAttempt(failure: LLMError?, now: Double, endpoint: Endpoint) {
    breaker.withLock { state in
      guard let failure else {
        state = (0, nil, "")
        return
      }
      state.failures += 1
      state.lastError = "\(failure.kind.rawValue): \(failure.message.prefix(160))"
      let threshold = endpoint.circuitBreakerFailures
      if threshold > 0, state.failures >= threshold, state.openUntil == nil {
        state.openUntil = now + endpoint.circuitBreakerSeconds
      }
    }
  }
}

/// An answer one caller fetched for others asking the same thing at the same time.
struct SharedAnswer: Sendable {
  var body: String
  var latency: Double
}

/// A request being sent, that identical requests wait for.
final class PendingAnswer: Sendable {
  private let done = DispatchSemaphore(value: 0)
  private let result = Mutex<Result<SharedAnswer, LLMError>?>(nil)

  func resolve(_ value: Result<SharedAnswer, LLMError>) {
    result.withLock { $0 = value }
    // Every waiter takes one signal and passes it on, so one signal wakes them all.
    done.signal()
  }

  func wait() -> Result<SharedAnswer, LLMError> {
    done.wait()
    done.signal()
    return result.withLock { $0 }
      ?? .failure(LLMError(kind: .connection, endpointName: "", path: "", message: "no answer was shared"))
  }
}
