import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// Endpoint config validation.
struct EndpointTests {
  @Test func defaultsAreValid() throws {
    try Endpoint(name: "local", baseURL: "http://127.0.0.1:8765/v1", model: "smollm2").validate()
  }

  @Test func everyProblemIsReportedWithWhatToDo() {
    let endpoint = Endpoint(
      name: "bad", baseURL: "ftp://example.com", model: " ", apiKeyEnvironmentVariable: "sk-abc123",
      maxConcurrentRequests: 0, requestsPerMinute: 0, timeoutSeconds: -1, maxRetries: -1, backoffBaseSeconds: 2,
      backoffMaxSeconds: 1)
    let problems = endpoint.problems
    #expect(problems.count == 8)
    #expect(problems.allSatisfy { $0.hasPrefix("endpoint 'bad': ") })
    let error = #expect(throws: PipeError.self) { try endpoint.validate() }
    #expect(error?.code == .config)
    for field in [
      "baseURL", "model", "apiKeyEnvironmentVariable", "maxConcurrentRequests", "requestsPerMinute", "timeoutSeconds",
      "maxRetries", "backoffMaxSeconds",
    ] {
      #expect(error?.message.contains(field) == true, "\(field)")
    }
    // The name of a variable is expected, and a value that looks like a key is not echoed.
    #expect(error?.message.contains("sk-abc123") == false)
  }

  @Test func credentialsInTheURLAreRefusedWithoutEchoingThem() {
    let endpoint = Endpoint(name: "e", baseURL: "https://user:hunter2@api.example.com/v1", model: "m")
    #expect(endpoint.problems.count == 1)
    #expect(endpoint.problems.first?.contains("credentials") == true)
    #expect(endpoint.problems.first?.contains("hunter2") == false)
  }

  @Test(arguments: [
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1"),
    ("http://127.0.0.1:8765/v1/", "http://127.0.0.1:8765/v1"),
    ("HTTPS://API.Example.COM/openai/v1", "https://api.example.com/openai/v1"),
  ])
  func baseURLIsNormalized(input: String, normalized: String) {
    #expect(Endpoint(name: "e", baseURL: input, model: "m").normalizedBaseURL == normalized)
  }
}
