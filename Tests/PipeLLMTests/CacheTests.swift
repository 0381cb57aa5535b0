import Dispatch
import PipeCore
import PipeLLM
import PipeTestSupport
import Synchronization
import Testing

/// The request cache: a repeated request is answered without being sent.
struct CacheTests {
  @Test func secondIdenticalRequestSendsNothing() throws {
    let server = try ScriptedHTTPServer { index, _ in
      .json(chatAnswer("answer \(index)", promptTokens: 5, completionTokens: 2))
    }
    let cache = InMemoryLLMCache()
    let client = try LLMClient(endpoint: testEndpoint(server), cache: cache)
    let first = try client.send(hello())
    let second = try client.send(hello())
    #expect(server.requestCount == 1)
    #expect(!first.isCached && second.isCached)
    #expect(second.attempts == 0)
    #expect(second.response == first.response)
    #expect(second.cacheKey == first.cacheKey)
    let stats = client.statistics
    #expect(stats.calls == 2 && stats.cacheHits == 1 && stats.requestsSent == 1)
    // Only the request actually sent costs tokens.
    #expect(stats.promptTokens == 5 && stats.completionTokens == 2)
  }

  @Test func aNewClientOnTheSameCacheSendsNothing() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("stored")) }
    let cache = InMemoryLLMCache()
    _ = try LLMClient(endpoint: testEndpoint(server), cache: cache).send(hello())
    // A resumed run: a fresh client, same endpoint, same cache.
    let resumed = try LLMClient(endpoint: testEndpoint(server), cache: cache)
    let reply = try resumed.send(hello())
    #expect(reply.isCached && reply.response.text == "stored")
    #expect(server.requestCount == 1)
    #expect(resumed.statistics.requestsSent == 0)
  }

  @Test func differentSeedOrTemperatureMisses() throws {
    let server = try ScriptedHTTPServer { index, _ in .json(chatAnswer("answer \(index)")) }
    let cache = InMemoryLLMCache()
    let client = try LLMClient(endpoint: testEndpoint(server), cache: cache)
    let base = try client.send(hello(seed: 1, temperature: 0))
    let otherSeed = try client.send(hello(seed: 2, temperature: 0))
    let otherTemperature = try client.send(hello(seed: 1, temperature: 0.7))
    #expect(server.requestCount == 3)
    #expect(!otherSeed.isCached && !otherTemperature.isCached)
    #expect(Set([base.cacheKey, otherSeed.cacheKey, otherTemperature.cacheKey]).count == 3)
    #expect(cache.count == 3)
  }

  @Test func storedEntryHoldsRequestAndAnswerButNoKey() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("hi", promptTokens: 11, completionTokens: 4)) }
    let cache = InMemoryLLMCache()
    let client = try LLMClient(
      endpoint: testEndpoint(server, apiKeyEnvironmentVariable: "K"), cache: cache, environment: ["K": "sk-hidden"])
    let reply = try client.send(hello(seed: 42))
    let entry = try #require(cache.lookup(key: reply.cacheKey))
    #expect(entry.endpointName == "scripted" && entry.model == "test-model" && entry.path == "chat/completions")
    #expect(entry.requestBody == JSONValue.object(hello(seed: 42).body(model: "test-model")).canonicalText)
    #expect(entry.requestBody.contains(#""seed":42"#))
    #expect(entry.promptTokens == 11 && entry.completionTokens == 4)
    #expect(entry.responseBody.contains(#""content":"hi""#))
    #expect(!entry.requestBody.contains("sk-hidden") && !entry.responseBody.contains("sk-hidden"))
    // The body the server got is the canonical body the key was made from.
    #expect(server.requests.first?.body == entry.requestBody)
  }

  @Test func failuresAreNotCached() throws {
    let server = try ScriptedHTTPServer(script: [.json("{}", status: 400), .json(chatAnswer("now ok"))])
    let cache = InMemoryLLMCache()
    let client = try LLMClient(endpoint: testEndpoint(server), cache: cache)
    #expect(throws: LLMError.self) { try client.send(hello()) }
    #expect(cache.count == 0)
    #expect(try client.send(hello()).response.text == "now ok")
    #expect(server.requestCount == 2)
  }

  @Test func unreadableEntryIsRefetched() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("fresh")) }
    let cache = InMemoryLLMCache()
    let endpoint = testEndpoint(server)
    let key = LLMCacheKey.make(endpoint: endpoint, request: hello())
    cache.store(
      key: key,
      response: CachedResponse(
        endpointName: "scripted", model: "test-model", path: "chat/completions", requestBody: "{}",
        responseBody: "{truncated", promptTokens: nil, completionTokens: nil, latencySeconds: 0))
    let reply = try LLMClient(endpoint: endpoint, cache: cache).send(hello())
    #expect(!reply.isCached && reply.response.text == "fresh")
    #expect(cache.lookup(key: key)?.responseBody.contains("fresh") == true)
  }
}

/// Identical requests at the same time: one is sent, the others share its answer.
struct SingleFlightTests {
  @Test func concurrentIdenticalRequestsAreSentOnce() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("shared"), delay: 0.3) }
    defer { server.stop() }
    let client = try LLMClient(endpoint: testEndpoint(server), cache: InMemoryLLMCache())
    let replies = Mutex([LLMReply<TextResponse>]())
    DispatchQueue.concurrentPerform(iterations: 4) { _ in
      if let reply = try? client.send(hello()) { replies.withLock { $0.append(reply) } }
    }
    let all = replies.withLock { $0 }
    #expect(all.count == 4)
    #expect(server.requestCount == 1)
    #expect(all.allSatisfy { $0.response.text == "shared" })
    #expect(all.filter { !$0.isCached }.count == 1)
    // A different request is not held back by the first.
    _ = try client.send(hello(seed: 9))
    #expect(server.requestCount == 2)
  }

  /// The window in which the single flight once paid twice: another caller's answer lands in
  /// the cache just after this caller's lookup missed, and that caller has left the in-flight
  /// table, so this one leads. It must find the answer rather than send the request again.
  @Test func anAnswerStoredJustAfterTheLookupMissedIsNotPaidForTwice() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("sent")) }
    defer { server.stop() }
    let endpoint = testEndpoint(server)
    let cache = LateArrivalCache(
      key: LLMCacheKey.make(endpoint: endpoint, request: hello()),
      arriving: CachedResponse(
        endpointName: "scripted", model: "test-model", path: "chat/completions", requestBody: "{}",
        responseBody: chatAnswer("from the other caller"), promptTokens: nil, completionTokens: nil,
        latencySeconds: 0.5))
    let reply = try LLMClient(endpoint: endpoint, cache: cache).send(hello())
    #expect(server.requestCount == 0)
    #expect(reply.isCached && reply.response.text == "from the other caller")
    #expect(cache.lookups == 2)
  }
}

/// A cache whose first lookup misses and whose entry appears right after it, as when another
/// caller's answer is stored between this caller's lookup and its turn in the in-flight table.
final class LateArrivalCache: LLMCache {
  private let state = Mutex<(lookups: Int, stored: [String: CachedResponse])>((0, [:]))
  private let key: String
  private let arriving: CachedResponse

  init(key: String, arriving: CachedResponse) {
    self.key = key
    self.arriving = arriving
  }

  func lookup(key: String) -> CachedResponse? {
    state.withLock { state in
      state.lookups += 1
      let found = state.stored[key]
      if key == self.key && state.lookups == 1 { state.stored[key] = arriving }
      return found
    }
  }

  func store(key: String, response: CachedResponse) {
    state.withLock { $0.stored[key] = response }
  }

  var lookups: Int { state.withLock { $0.lookups } }
}
