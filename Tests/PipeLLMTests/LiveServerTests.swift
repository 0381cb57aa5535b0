import Foundation
import PipeCore
import PipeLLM
import PipeTestSupport
import Synchronization
import Testing

/// Integration tests against the real local server: llama.cpp's server (xllamacpp) with
/// SmolLM2-135M-Instruct. See `Support/LiveServer.swift` for how the server is found.
/// Replies are kept to a few tokens: the model makes ~40 tokens/s on one thread.
@Suite(.enabled(if: LiveServer.isEnabled, "PIPE_LLM_URL=skip"))
struct LiveServerTests {
  @Test func chatCompletion() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let request = ChatRequest(
      messages: [.user("Write one sentence about the sea.")], temperature: 0, maxTokens: 12, seed: 1)
    let reply = try client.send(request)
    let response = reply.response
    #expect(!response.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    #expect(response.finishReason == "stop" || response.finishReason == "length")
    let prompt = try #require(response.usage.promptTokens)
    let completion = try #require(response.usage.completionTokens)
    #expect(prompt > 5 && completion >= 1 && completion <= 12)
    let stats = client.statistics
    #expect(stats.promptTokens == prompt && stats.completionTokens == completion)
    #expect(stats.requestsSent == 1 && stats.succeeded == 1 && stats.totalLatencySeconds > 0)
  }

  /// Teacher forcing gives the log-probabilities the model reported while generating the same
  /// text: the basis of IFD from real models.
  @Test func teacherForcedLogprobsEqualThoseOfGeneration() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let prompt = try TeacherForcing.prompt([.user("Name three colours of the rainbow.")], client: client).response
      .prompt
    #expect(prompt.contains("Name three colours of the rainbow."))
    let generated = try client.send(
      CompletionRequest(prompt: prompt, maxTokens: 24, temperature: 0, logprobs: 1, seed: 1)
    ).response
    let reported = try #require(generated.tokenLogprobs).compactMap(\.logprob)
    #expect(reported.count >= 5)
    let forced = try TeacherForcing.logprobs(of: generated.text, after: prompt, client: client)
    #expect(forced.logprobs.count == reported.count)
    for (forcedValue, reportedValue) in zip(forced.logprobs, reported) {
      #expect(abs(forcedValue - reportedValue) < 1e-3, "forced \(forcedValue), generated \(reportedValue)")
    }
    // Another text after the same prompt gets its own, lower-probability values.
    let other = try TeacherForcing.logprobs(of: "Zebra quantum teapot sideways.", after: prompt, client: client)
    let mean = { (values: [Double]) in values.reduce(0, +) / Double(values.count) }
    #expect(mean(other.logprobs) < mean(forced.logprobs) - 1)
  }

  /// llama.cpp answers `/v1/completions` log-probabilities in the chat shape
  /// (`logprobs.content[]`) and only for generated tokens, even with `echo`.
  @Test func completionWithLogprobs() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let request = CompletionRequest(
      prompt: "The capital of France is", maxTokens: 4, temperature: 0, logprobs: 1, seed: 1)
    let response = try client.send(request).response
    let logprobs = try #require(response.tokenLogprobs, "the server gave no log-probabilities")
    #expect(logprobs.count == response.usage.completionTokens)
    #expect(logprobs.map(\.token).joined() == response.text)
    for entry in logprobs {
      let value = try #require(entry.logprob)
      #expect(value.isFinite && value <= 0)
    }
    #expect(logprobs.contains { ($0.logprob ?? 0) < 0 })
  }

  @Test func chatWithLogprobs() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let request = ChatRequest(messages: [.user("Say hi.")], temperature: 0, maxTokens: 4, seed: 1, logprobs: true)
    let logprobs = try #require(try client.send(request).response.tokenLogprobs)
    #expect(!logprobs.isEmpty)
    #expect(logprobs.allSatisfy { ($0.logprob ?? 1) <= 0 && ($0.logprob ?? 1).isFinite })
  }

  /// `response_format` with a JSON schema: llama.cpp turns it into a grammar, so even this tiny
  /// model must answer with JSON of that shape.
  @Test func jsonSchemaAnswerParses() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let schema = try JSONValue.parse(
      #"{"type":"object","properties":{"answer":{"type":"boolean"}},"required":["answer"],"additionalProperties":false}"#
    )
    let request = ChatRequest(
      messages: [.user("Is water wet? Answer in JSON.")], temperature: 0, maxTokens: 24, seed: 7,
      responseFormat: .jsonSchema(name: "answer", schema: schema))
    let text = try client.send(request).response.text
    let json = try JSONValue.parse(text)
    #expect(json.objectValue?["answer"]?.boolValue != nil, "\(text)")
  }

  @Test func jsonObjectAnswerStartsAnObject() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let request = ChatRequest(
      messages: [.user("Describe a cat.")], temperature: 0, maxTokens: 6, seed: 7, responseFormat: .jsonObject)
    let text = try client.send(request).response.text
    // Six tokens may cut the object short; the grammar still forces its first character.
    #expect(text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{"), "\(text)")
  }

  /// The script starts llama.cpp with embeddings on and mean pooling (SmolLM2 has no pooling
  /// layer; the OpenAI-style endpoint refuses pooling "none").
  @Test func embeddings() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let reply = try client.send(EmbeddingRequest(inputs: ["a small cat", "a small dog", "tax law of 1998"]))
    let vectors = reply.response.vectors
    #expect(vectors.count == 3)
    let dimension = try #require(vectors.first?.count)
    #expect(dimension > 100 && vectors.allSatisfy { $0.count == dimension })
    #expect(vectors.allSatisfy { $0.allSatisfy(\.isFinite) && $0.contains { $0 != 0 } })
    #expect(vectors[0] != vectors[1])
    #expect((reply.response.usage.promptTokens ?? 0) > 0)
  }

  @Test func secondRunSendsNothing() throws {
    let cache = InMemoryLLMCache()
    let request = ChatRequest(messages: [.user("Name a colour.")], temperature: 0, maxTokens: 4, seed: 3)
    let first = try LLMClient(endpoint: LiveServer.endpoint(), cache: cache)
    let original = try first.send(request)
    #expect(first.statistics.requestsSent == 1)
    let second = try LLMClient(endpoint: LiveServer.endpoint(), cache: cache)
    let repeated = try second.send(request)
    let stats = second.statistics
    #expect(stats.requestsSent == 0 && stats.cacheHits == 1 && stats.calls == 1)
    #expect(repeated.isCached && repeated.response == original.response)
  }

  @Test func serverRefusalIsAClear4xx() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint())
    let error = try #require(throws: LLMError.self) { try client.send(CompletionRequest(prompt: "hi", maxTokens: -5)) }
    #expect(error.kind == .http4xx && error.statusCode == 400)
    #expect(error.message.contains("max_tokens"))
    #expect(client.statistics.requestsSent == 1)
  }

  @Test func concurrentCallsAllSucceed() throws {
    let client = try LLMClient(endpoint: LiveServer.endpoint(maxConcurrentRequests: 2))
    let texts = Mutex([String]())
    let group = DispatchGroup()
    for index in 0..<4 {
      group.enter()
      Thread {
        let request = ChatRequest(messages: [.user("Count to \(index + 2).")], temperature: 0, maxTokens: 4, seed: 1)
        if let reply = try? client.send(request) { texts.withLock { $0.append(reply.response.text) } }
        group.leave()
      }.start()
    }
    #expect(group.wait(timeout: .now() + 120) == .success)
    #expect(texts.withLock { $0.count } == 4)
    #expect(client.statistics.failed == 0 && client.statistics.succeeded == 4)
  }
}
