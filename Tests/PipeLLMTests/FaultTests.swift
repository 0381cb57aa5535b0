import Foundation
import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// The client against a scripted loopback server that injects faults.
struct FaultTests {
  @Test func retriesAfter429ThenSucceeds() throws {
    let server = try ScriptedHTTPServer(script: [
      .json(#"{"error":{"message":"slow down"}}"#, status: 429), .json(chatAnswer("hi")),
    ])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let reply = try client.send(hello())
    #expect(reply.response.text == "hi")
    #expect(reply.attempts == 2)
    #expect(server.requestCount == 2)
    let stats = client.statistics
    #expect(stats.retries == 1)
    #expect(stats.retriesByKind == ["rate_limited": 1])
    #expect(stats.succeeded == 1 && stats.failed == 0)
  }

  @Test func retries500TwiceThenSucceeds() throws {
    let server = try ScriptedHTTPServer(script: [
      .json(#"{"error":{"message":"boom"}}"#, status: 500), .json("oops", status: 503), .json(chatAnswer("ok")),
    ])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let reply = try client.send(hello())
    #expect(reply.response.text == "ok")
    #expect(reply.attempts == 3)
    #expect(server.requestCount == 3)
    #expect(client.statistics.retriesByKind == ["http_5xx": 2])
  }

  @Test func honoursRetryAfterUpToTheBackoffCap() throws {
    let server = try ScriptedHTTPServer(script: [
      .json("{}", status: 429, headers: ["Retry-After": "2"]),
      .json("{}", status: 503, headers: ["Retry-After": "3600"]),
      .json(chatAnswer("ok")),
    ])
    let clock = VirtualClock()
    let client = try LLMClient(endpoint: testEndpoint(server, backoffMaxSeconds: 5), clock: clock)
    _ = try client.send(hello())
    // The backoff itself is milliseconds here; the waits are the server's, the second capped.
    #expect(clock.sleeps == [2, 5])
  }

  @Test func timesOutAndRetries() throws {
    let server = try ScriptedHTTPServer(script: [.json(chatAnswer("late"), delay: 6), .json(chatAnswer("on time"))])
    // 1 s, not less: the second attempt must fit even when the machine is busy with other tests.
    let client = try LLMClient(endpoint: testEndpoint(server, maxRetries: 1, timeoutSeconds: 1))
    let started = Date()
    let reply = try client.send(hello())
    #expect(reply.response.text == "on time")
    #expect(reply.attempts == 2)
    #expect(client.statistics.retriesByKind == ["timeout": 1])
    // Generous: the first attempt must have been cut at ~1 s, not waited out (6 s).
    #expect(Date().timeIntervalSince(started) < 5)
  }

  @Test func timeoutWithoutRetriesIsATimeoutError() throws {
    let server = try ScriptedHTTPServer(script: [.json(chatAnswer("late"), delay: 3)])
    let client = try LLMClient(endpoint: testEndpoint(server, maxRetries: 0, timeoutSeconds: 0.3))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    // With no retries allowed, the single timed-out attempt is what exhausted them.
    #expect(error.kind == .retriesExhausted)
    #expect(error.cause?.kind == .timeout)
    #expect(error.message.contains("timeoutSeconds (0.3 s)"))
  }

  @Test func malformedJSONIsNotRetried() throws {
    let server = try ScriptedHTTPServer(
      script: [.json(#"{"choices": [ {"message": "#)], fallback: .json(chatAnswer("x")))
    let client = try LLMClient(endpoint: testEndpoint(server))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .malformedResponse)
    #expect(error.message.contains("not JSON"))
    #expect(server.requestCount == 1)
    #expect(client.statistics.failuresByKind == ["malformed_response": 1])
  }

  @Test func wellFormedJSONOfTheWrongShapeIsMalformed() throws {
    let server = try ScriptedHTTPServer(script: [.json(#"{"object":"chat.completion","choices":[]}"#)])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .malformedResponse)
    #expect(error.message.contains("choices[0]"))
  }

  @Test func droppedConnectionIsRetried() throws {
    let server = try ScriptedHTTPServer(script: [.drop(), .json(chatAnswer("back"))])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let reply = try client.send(hello())
    #expect(reply.response.text == "back")
    #expect(reply.attempts == 2)
    #expect(client.statistics.retriesByKind == ["connection": 1])
  }

  @Test func exhaustedRetriesCarryTheLastCause() throws {
    let server = try ScriptedHTTPServer(
      script: [], fallback: .json(#"{"error":{"message":"overloaded"}}"#, status: 503))
    let client = try LLMClient(endpoint: testEndpoint(server, maxRetries: 2))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .retriesExhausted)
    #expect(error.attempts == 3)
    #expect(error.cause == LLMErrorCause(kind: .http5xx, statusCode: 503, message: error.cause?.message ?? ""))
    #expect(error.cause?.message.contains("overloaded") == true)
    #expect(error.description.contains("llm endpoint 'scripted' POST /v1/chat/completions"))
    #expect(server.requestCount == 3)
    let stats = client.statistics
    #expect(stats.failed == 1 && stats.succeeded == 0)
    #expect(stats.failuresByKind == ["retries_exhausted": 1])
    #expect(stats.requestsSent == 3 && stats.retries == 2)
  }

  @Test func clientErrorIsNotRetriedAndQuotesTheServer() throws {
    let body = #"{"error":{"code":400,"message":"Expected 'messages' to be an array","type":"invalid_request_error"}}"#
    let server = try ScriptedHTTPServer(script: [.json(body, status: 400)], fallback: .json(chatAnswer("x")))
    let client = try LLMClient(endpoint: testEndpoint(server))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .http4xx)
    #expect(error.statusCode == 400)
    #expect(error.message.contains("Expected 'messages' to be an array"))
    #expect(server.requestCount == 1)
  }

  @Test func longServerMessagesAreTruncated() throws {
    let server = try ScriptedHTTPServer(script: [.json(String(repeating: "x", count: 5000), status: 422)])
    let client = try LLMClient(endpoint: testEndpoint(server))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.message.contains(String(repeating: "x", count: 300) + "…"))
    #expect(!error.message.contains(String(repeating: "x", count: 301)))
  }

  @Test func notImplementedIsNotRetried() throws {
    let body = #"{"error":{"code":501,"message":"This server does not support embeddings."}}"#
    let server = try ScriptedHTTPServer(script: [.json(body, status: 501)], fallback: .json("{}"))
    let client = try LLMClient(endpoint: testEndpoint(server))
    let error = try #require(throws: LLMError.self) { try client.send(EmbeddingRequest(inputs: ["a"])) }
    #expect(error.kind == .http5xx)
    #expect(error.message.contains("does not support embeddings"))
    #expect(server.requestCount == 1)
  }

  @Test func refusedConnectionNamesTheServer() throws {
    let port = try closedPort()
    let endpoint = Endpoint(
      name: "gone", baseURL: "http://127.0.0.1:\(port)", model: "m", maxRetries: 1, backoffBaseSeconds: 0.001,
      backoffMaxSeconds: 0.01)
    let client = try LLMClient(endpoint: endpoint)
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .retriesExhausted)
    #expect(error.cause?.kind == .connection)
    #expect(error.message.contains("the connection to http://127.0.0.1:\(port) failed"))
    #expect(error.path == "/v1/chat/completions")
  }

  @Test func totalTimeoutStopsRetrying() throws {
    let server = try ScriptedHTTPServer(script: [], fallback: .json("{}", status: 500, headers: ["Retry-After": "30"]))
    var endpoint = testEndpoint(server, maxRetries: 10, backoffMaxSeconds: 60)
    endpoint.totalTimeoutSeconds = 45
    let clock = VirtualClock()
    let client = try LLMClient(endpoint: endpoint, clock: clock)
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .retriesExhausted)
    #expect(error.message.contains("totalTimeoutSeconds"))
    // One 30 s wait fits in 45 s, a second does not.
    #expect(clock.sleeps == [30])
    #expect(server.requestCount == 2)
  }
}
