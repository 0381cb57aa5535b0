import Foundation
import Glibc
import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// The API key goes to the server as a bearer token and nowhere else.
struct APIKeyTests {
  static let secret = "sk-test-0123456789abcdef"

  @Test func keyIsSentAsBearerToken() throws {
    let server = try ScriptedHTTPServer(script: [.json(chatAnswer("ok"))])
    let client = try LLMClient(
      endpoint: testEndpoint(server, apiKeyEnvironmentVariable: "PIPE_TEST_KEY"),
      environment: ["PIPE_TEST_KEY": Self.secret])
    _ = try client.send(hello())
    let request = try #require(server.requests.first)
    #expect(request.headers["authorization"] == "Bearer \(Self.secret)")
    #expect(request.headers["content-type"] == "application/json")
    #expect(request.method == "POST" && request.path == "/v1/chat/completions")
  }

  @Test func noKeyNoAuthorizationHeader() throws {
    let server = try ScriptedHTTPServer(script: [.json(chatAnswer("ok"))])
    let client = try LLMClient(endpoint: testEndpoint(server), environment: ["OPENAI_API_KEY": Self.secret])
    _ = try client.send(hello())
    #expect(try #require(server.requests.first).headers["authorization"] == nil)
  }

  @Test func unsetVariableIsAConfigErrorNamingIt() throws {
    let server = try ScriptedHTTPServer(script: [])
    let endpoint = testEndpoint(server, apiKeyEnvironmentVariable: "PIPE_TEST_MISSING_KEY")
    let error = try #require(throws: PipeError.self) { try LLMClient(endpoint: endpoint, environment: [:]) }
    #expect(error.code == .config)
    #expect(error.message.contains("PIPE_TEST_MISSING_KEY"))
    #expect(throws: PipeError.self) { try LLMClient(endpoint: endpoint, environment: ["PIPE_TEST_MISSING_KEY": ""]) }
    #expect(server.requestCount == 0)
  }

  /// Servers quote the key they rejected (OpenAI does); the message must not pass it on.
  /// This one reads the real process environment; a name of its own keeps parallel tests apart.
  @Test func errorFromProcessEnvironmentKeyNeverContainsIt() throws {
    let variable = "PIPE_LLM_TEST_KEY_\(getpid())"
    setenv(variable, Self.secret, 1)
    defer { unsetenv(variable) }
    let server = try ScriptedHTTPServer(script: [], fallback: .json(Self.echoingBody, status: 401))
    let client = try LLMClient(endpoint: testEndpoint(server, apiKeyEnvironmentVariable: variable))
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .http4xx)
    expectNoKey(in: error)
    #expect(error.message.contains(variable))
    // The key did go out, as the bearer token.
    #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.secret)")
  }

  @Test func exhaustedRetriesNeverContainTheKey() throws {
    let server = try ScriptedHTTPServer(script: [], fallback: .json(Self.echoingBody, status: 500))
    let client = try LLMClient(
      endpoint: testEndpoint(server, maxRetries: 1, apiKeyEnvironmentVariable: "K"), environment: ["K": Self.secret])
    let error = try #require(throws: LLMError.self) { try client.send(hello()) }
    #expect(error.kind == .retriesExhausted)
    expectNoKey(in: error)
    #expect(error.cause?.message.contains("[redacted]") == true)
  }

  static let echoingBody = #"{"error":{"message":"Incorrect API key provided: \#(secret). You can find your key…"}}"#

  func expectNoKey(in error: LLMError) {
    let everything = [error.description, error.message, error.cause?.message ?? "", String(describing: error)]
    for text in everything { #expect(!text.contains(Self.secret)) }
    #expect(error.message.contains("Incorrect API key provided: [redacted]"))
  }
}
