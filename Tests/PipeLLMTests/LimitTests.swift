import Foundation
import PipeLLM
import PipeTestSupport
import Synchronization
import Testing

@testable import PipeLLM

/// Concurrency and requests-per-minute limits.
struct LimitTests {
  @Test func concurrencyLimitHolds() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("ok"), delay: 0.25) }
    let client = try LLMClient(endpoint: testEndpoint(server, maxConcurrentRequests: 2))
    let failures = Mutex(0)
    let group = DispatchGroup()
    // Threads of our own: Dispatch's pool may not run six blocked callers at once on 2 cores.
    for index in 0..<6 {
      group.enter()
      Thread {
        if (try? client.send(hello(seed: index))) == nil { failures.withLock { $0 += 1 } }
        group.leave()
      }.start()
    }
    #expect(group.wait(timeout: .now() + 20) == .success)
    #expect(failures.withLock { $0 } == 0)
    #expect(server.requestCount == 6)
    #expect(server.maxInFlight == 2)
  }

  /// A pool shared by three processes (a Slurm array's elements) gives each a third of the
  /// endpoint's limits, at least one request in flight.
  @Test func aSharedPoolDividesTheLimits() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("ok"), delay: 0.25) }
    var endpoint = testEndpoint(server, maxConcurrentRequests: 6)
    endpoint.requestsPerMinute = 600
    let pool = LLMClientPool(cache: nil, limitShare: 3)
    #expect(pool.shared(endpoint).maxConcurrentRequests == 2)
    #expect(pool.shared(endpoint).requestsPerMinute == 200)
    #expect(LLMClientPool(cache: nil, limitShare: 10).shared(endpoint).maxConcurrentRequests == 1)
    #expect(LLMClientPool(cache: nil).shared(endpoint) == endpoint)
    endpoint.requestsPerMinute = nil
    let client = try pool.client(for: endpoint)
    let group = DispatchGroup()
    for index in 0..<6 {
      group.enter()
      Thread {
        _ = try? client.send(hello(seed: index))
        group.leave()
      }.start()
    }
    #expect(group.wait(timeout: .now() + 20) == .success)
    #expect(server.requestCount == 6)
    #expect(server.maxInFlight == 2)
  }

  /// Waiting for a free slot must not eat into an attempt's timeout: four calls through one
  /// slot take four answer times, but each attempt only one.
  @Test func queueingForASlotIsNotPartOfTheTimeout() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("ok"), delay: 0.5) }
    let client = try LLMClient(
      endpoint: testEndpoint(server, maxRetries: 0, timeoutSeconds: 1.5, maxConcurrentRequests: 1))
    let failures = Mutex([String]())
    let group = DispatchGroup()
    for index in 0..<4 {
      group.enter()
      Thread {
        do { _ = try client.send(hello(seed: index)) } catch { failures.withLock { $0.append("\(error)") } }
        group.leave()
      }.start()
    }
    #expect(group.wait(timeout: .now() + 30) == .success)
    #expect(failures.withLock { $0 } == [])
    #expect(server.maxInFlight == 1)
    #expect(server.requestCount == 4)
  }

  @Test func requestsPerMinuteSpacesStarts() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("ok")) }
    let clock = VirtualClock()
    let client = try LLMClient(endpoint: testEndpoint(server, requestsPerMinute: 30), clock: clock)
    for seed in 0..<4 { _ = try client.send(hello(seed: seed)) }
    // 30 per minute: one start every 2 s; the first goes at once. Virtual time moves only in
    // sleeps, so each later call waits exactly one interval.
    #expect(clock.sleeps == [2, 2, 2])
    #expect(server.requestCount == 4)
  }

  @Test func spacerHandsOutSlotsInOrder() {
    let spacer = RequestSpacer(requestsPerMinute: 120)
    let waits = (0..<5).map { _ in spacer.reserve(now: 10) }
    #expect(waits == [0, 0.5, 1, 1.5, 2])
    // After an idle stretch no debt is carried: the next request goes at once.
    #expect(spacer.reserve(now: 100) == 0)
    #expect(spacer.reserve(now: 100) == 0.5)
  }

  @Test func backoffDoublesWithJitterAndCap() {
    let policy = RetryPolicy(baseSeconds: 1, maxSeconds: 10)
    #expect(policy.delay(retry: 1, retryAfter: nil, unitRandom: 0) == 0.5)
    #expect(policy.delay(retry: 1, retryAfter: nil, unitRandom: 1) == 1)
    #expect(policy.delay(retry: 3, retryAfter: nil, unitRandom: 0) == 2)
    #expect(policy.delay(retry: 3, retryAfter: nil, unitRandom: 1) == 4)
    #expect(policy.delay(retry: 20, retryAfter: nil, unitRandom: 1) == 10)
    #expect(policy.delay(retry: 1, retryAfter: 7, unitRandom: 0) == 7)
    #expect(policy.delay(retry: 1, retryAfter: 99, unitRandom: 0) == 10)
  }

  @Test func retryAfterForms() {
    #expect(RetryPolicy.retryAfterSeconds("2") == 2)
    #expect(RetryPolicy.retryAfterSeconds(" 1.5 ") == 1.5)
    #expect(RetryPolicy.retryAfterSeconds("-3") == 0)
    #expect(RetryPolicy.retryAfterSeconds("soon") == nil)
    #expect(RetryPolicy.retryAfterSeconds(nil) == nil)
    let now = Date(timeIntervalSince1970: 1_445_412_470)  // 2015-10-21 07:27:50 GMT
    #expect(RetryPolicy.retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == 10)
  }

  @Test func asyncSendWorks() async throws {
    let server = try ScriptedHTTPServer(script: [.json(chatAnswer("async"))])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let reply = try await client.send(hello())
    #expect(reply.response.text == "async")
  }
}
