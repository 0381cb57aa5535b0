import Foundation
import PipeCore
import PipeLLM
import PipeTestSupport
import Synchronization

/// A clock whose `sleep` returns at once and moves virtual time forward, recording each wait,
/// so tests check rate spacing and backoff without spending (or flaking on) wall time.
final class VirtualClock: LLMClock {
  private let state = Mutex((now: 1000.0, sleeps: [Double]()))

  func now() -> Double { state.withLock { $0.now } }

  func sleep(seconds: Double) {
    state.withLock {
      $0.sleeps.append(seconds)
      $0.now += max(0, seconds)
    }
  }

  /// Every wait asked for, in order.
  var sleeps: [Double] { state.withLock { $0.sleeps } }
}

/// An endpoint for the scripted server with quick retries, so fault tests stay fast.
func testEndpoint(
  _ server: ScriptedHTTPServer, maxRetries: Int = 3, timeoutSeconds: Double = 5, maxConcurrentRequests: Int = 4,
  requestsPerMinute: Double? = nil, apiKeyEnvironmentVariable: String? = nil, backoffMaxSeconds: Double = 0.02
) -> Endpoint {
  Endpoint(
    name: "scripted", baseURL: server.baseURL, model: "test-model",
    apiKeyEnvironmentVariable: apiKeyEnvironmentVariable,
    maxConcurrentRequests: maxConcurrentRequests, requestsPerMinute: requestsPerMinute, timeoutSeconds: timeoutSeconds,
    maxRetries: maxRetries, backoffBaseSeconds: 0.005, backoffMaxSeconds: backoffMaxSeconds)
}

/// A chat answer as OpenAI-compatible servers send it.
func chatAnswer(_ text: String, promptTokens: Int = 7, completionTokens: Int = 3) -> String {
  let message: JSONValue = .object(["role": .string("assistant"), "content": .string(text)])
  let choice: JSONValue = .object(["index": .int(0), "message": message, "finish_reason": .string("stop")])
  let usage: JSONValue = .object([
    "prompt_tokens": .int(Int64(promptTokens)), "completion_tokens": .int(Int64(completionTokens)),
    "total_tokens": .int(Int64(promptTokens + completionTokens)),
  ])
  let answer: JSONValue = .object([
    "id": .string("x"), "object": .string("chat.completion"), "choices": .array([choice]), "usage": usage,
  ])
  return answer.jsonText
}

/// A one-message chat request.
func hello(seed: Int? = 1, temperature: Double? = 0) -> ChatRequest {
  ChatRequest(messages: [.user("Say hello.")], temperature: temperature, maxTokens: 8, seed: seed)
}
