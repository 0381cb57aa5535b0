import Foundation
import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// The circuit breaker: a run of failed attempts stops calls from being sent at all, until the
/// endpoint's open time has passed; one success closes it again.
struct CircuitBreakerTests {
  static func endpoint(_ server: ScriptedHTTPServer, failures: Int, seconds: Double) -> Endpoint {
    Endpoint(
      name: "flaky", baseURL: server.baseURL, model: "m", maxConcurrentRequests: 1, timeoutSeconds: 5,
      maxRetries: 2, backoffBaseSeconds: 0.001, backoffMaxSeconds: 0.002, circuitBreakerFailures: failures,
      circuitBreakerSeconds: seconds)
  }

  @Test func opensAfterARunOfFailuresAndStopsSending() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(#"{"error":{"message":"down"}}"#, status: 503) }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Self.endpoint(server, failures: 4, seconds: 3600))
    // The first call spends its three attempts; the second opens the circuit at its first.
    let first = #expect(throws: LLMError.self) { try client.send(hello()) }
    #expect(first?.kind == .retriesExhausted)
    #expect(server.requestCount == 3)
    let second = #expect(throws: LLMError.self) { try client.send(hello()) }
    #expect(second?.kind == .circuitOpen)
    #expect(server.requestCount == 4)
    // Open: nothing more is sent, and the error says why and what to do.
    for _ in 0..<5 {
      let error = #expect(throws: LLMError.self) { try client.send(hello()) }
      #expect(error?.kind == .circuitOpen)
      #expect(error?.kind.isEndpointFailure == true)
      #expect(error?.message.contains("4 attempts in a row failed") == true, "\(String(describing: error))")
      #expect(error?.message.contains("pipe resume") == true)
    }
    #expect(server.requestCount == 4)
    #expect(client.statistics.failuresByKind["circuit_open"] == 6)
  }

  @Test func closesAgainAfterItsOpenTimeWhenTheServerIsBack() throws {
    let server = try ScriptedHTTPServer { index, _ in
      index < 2 ? .json("{}", status: 500) : .json(chatAnswer("back"))
    }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Self.endpoint(server, failures: 2, seconds: 0.2))
    let error = #expect(throws: LLMError.self) { try client.send(hello()) }
    #expect(error?.kind == .circuitOpen)
    #expect(server.requestCount == 2)
    Thread.sleep(forTimeInterval: 0.3)
    #expect(try client.send(hello()).response.text == "back")
    #expect(try client.send(ChatRequest(messages: [.user("again")], maxTokens: 4)).response.text == "back")
  }

  @Test func requestErrorsDoNotOpenIt() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(#"{"error":{"message":"bad"}}"#, status: 400) }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Self.endpoint(server, failures: 2, seconds: 3600))
    for _ in 0..<4 {
      let error = #expect(throws: LLMError.self) { try client.send(hello()) }
      #expect(error?.kind == .http4xx)
      #expect(error?.kind.isEndpointFailure == false)
    }
    #expect(server.requestCount == 4)
  }

  @Test func zeroNeverOpensIt() throws {
    let server = try ScriptedHTTPServer { _, _ in .json("{}", status: 502) }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Self.endpoint(server, failures: 0, seconds: 3600))
    for _ in 0..<3 {
      let error = #expect(throws: LLMError.self) { try client.send(hello()) }
      #expect(error?.kind == .retriesExhausted)
    }
    #expect(server.requestCount == 9)
  }
}

/// llama.cpp's own endpoints: at the server's root, beside `/v1`.
struct LlamaServerRequestTests {
  @Test func rootPathsLeaveTheAPIRoot() throws {
    let server = try ScriptedHTTPServer { _, request in
      request.path == "/tokenize" ? .json(#"{"tokens":[5,6,7]}"#) : .json("{}", status: 404)
    }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Endpoint(name: "l", baseURL: server.baseURL, model: "m"))
    #expect(try client.send(TokenizeRequest(content: "abc")).response.ids == [5, 6, 7])
    #expect(server.requests.first?.path == "/tokenize")
    #expect(Endpoint(name: "x", baseURL: "http://h:1/v1/", model: "m").serverRootURL == "http://h:1")
    #expect(Endpoint(name: "x", baseURL: "http://H:1", model: "m").serverRootURL == "http://h:1")
    #expect(Endpoint(name: "x", baseURL: "http://h/llama/v1", model: "m").serverRootURL == "http://h/llama")
  }

  @Test func extraBodyMembersAreAddedWhereTheRequestSetsNone() throws {
    let server = try ScriptedHTTPServer { _, _ in .json(chatAnswer("ok")) }
    defer { server.stop() }
    let endpoint = Endpoint(
      name: "x", baseURL: server.baseURL, model: "m",
      extraBody: ["cache_prompt": .bool(false), "temperature": .double(9)])
    let client = try LLMClient(endpoint: endpoint)
    _ = try client.send(hello(temperature: 0.5))
    let body = try #require(server.requests.first?.body)
    #expect(body.contains(#""cache_prompt":false"#), "\(body)")
    #expect(body.contains(#""temperature":0.5"#) && !body.contains("9"), "\(body)")
  }

  @Test func forcedDecodingBodyAndAnswer() throws {
    let body = ForcedDecodingRequest(prompt: "P", tokens: [11, 22]).body(model: "m")
    #expect(body["grammar"]?.stringValue == "root ::= <[11]> <[22]>")
    #expect(body["n_predict"]?.intValue == 2)
    #expect(body["n_probs"]?.intValue == 1)
    #expect(body["temperature"]?.doubleValue == 0)
    // Left to the endpoint's extraBody: a request that set it would keep the server's prompt
    // cache on whatever the endpoint says, and runs would not repeat byte for byte.
    #expect(body["cache_prompt"] == nil)
    let text =
      #"{"completion_probabilities":[{"id":11,"logprob":-0.5},{"id":22,"probs":[{"prob":0.25}]}],"#
      + #""tokens_evaluated":3,"tokens_predicted":2}"#
    let answer = try JSONValue.parse(Array(text.utf8))
    let parsed = try ForcedDecodingRequest.parseResponse(answer)
    #expect(parsed.tokens.map { $0.id } == [11, 22])
    #expect(parsed.tokens[0].logprob == -0.5)
    #expect(abs(parsed.tokens[1].logprob - log(0.25)) < 1e-12)
    #expect(parsed.usage == TokenUsage(promptTokens: 3, completionTokens: 2))
    #expect(throws: MalformedResponse.self) {
      _ = try ForcedDecodingRequest.parseResponse(try JSONValue.parse(Array(#"{"content":"x"}"#.utf8)))
    }
  }

  @Test func aServerThatDecodesOtherTokensIsReported() throws {
    let server = try ScriptedHTTPServer { _, request in
      request.path == "/tokenize"
        ? .json(#"{"tokens":[1,2,3]}"#)
        : .json(#"{"completion_probabilities":[{"id":1,"logprob":-1},{"id":9,"logprob":-2}]}"#)
    }
    defer { server.stop() }
    let client = try LLMClient(endpoint: Endpoint(name: "old", baseURL: server.baseURL, model: "m"))
    let failure = #expect(throws: TeacherForcing.Failure.self) {
      _ = try TeacherForcing.logprobs(of: "abc", after: "P", client: client)
    }
    #expect(failure?.description.contains("decoded 2 of 3 forced tokens, the first different at position 1") == true)
  }
}
