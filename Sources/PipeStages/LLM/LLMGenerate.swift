import Foundation
public import PipeCore
public import PipeLLM

/// `llm.generate@1`: renders a prompt from each record, asks an OpenAI-compatible endpoint, and
/// writes the answer into the record (a metadata key, or the text itself); in JSON mode the
/// answer is parsed and its members copied into the metadata. A request the server refuses, an
/// empty answer or an answer that is not the JSON asked for is a reject with the error, never
/// an empty field; an endpoint that is down or overloaded fails the task (`EndpointOutage`).
/// Calls of a batch run concurrently up to the endpoint's limit; answers come from the run's
/// cache when the same request was made before.
public struct LLMGenerate: BatchRecordStage {
  /// Reject reason: the answer was empty.
  public static let emptyReason = "llm_empty_answer"
  /// Reject reason: JSON mode, and the answer was not a JSON object.
  public static let unparsableReason = "llm_unparsable_json"
  /// Reject reason: the prompt needs a metadata key the record lacks.
  public static let missingFieldReason = "prompt_field_missing"

  /// The endpoint.
  public let endpoint: Endpoint
  /// The system message, if any.
  public let system: String?
  /// The user message (chat) or prompt (completions).
  public let prompt: PromptTemplate
  /// `chat` or `completions`.
  public let api: String
  /// Sampling.
  public let temperature: Double
  /// Nucleus sampling, if set.
  public let topP: Double?
  /// The most tokens to generate.
  public let maxTokens: Int
  /// The sampling seed sent to the server (part of the cache key).
  public let seed: Int?
  /// Where the answer goes: `text`, or a metadata key.
  public let output: String
  /// Whether to ask for a JSON object and copy its members into the metadata.
  public let json: Bool
  /// Records per batch.
  public let batchSize: Int

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      required:
        "{baseURL, model, apiKeyEnv, maxConcurrentRequests, requestsPerMinute, timeoutSeconds, maxRetries, ...}.")
    var endpoint: JSONObject
    @Setting("default", "The endpoint's name in counters and the cache.") var name: String
    @Setting("chat", oneOf: ["chat", "completions"], "Which API to call.") var api: String
    @Setting(nil, "The system message (chat only).") var system: String?
    @Setting("{text}", "The prompt: {text}, {id} and {metadata.KEY} are replaced; {{ and }} are literal braces.")
    var prompt: String
    @Setting(0, in: 0...2, "Sampling temperature.") var temperature: Double
    @Setting(nil, in: 0...1, "Nucleus sampling; null for the server's default.") var topP: Double?
    @Setting(256, in: 1...100_000, "The most tokens to generate.") var maxTokens: Int
    @Setting(0, in: 0...Int(Int32.max), "Sampling seed sent with every request.") var seed: Int
    @Setting("generation", "\"text\" or the metadata key for the answer.") var output: String
    @Setting(false, "Ask for a JSON object (response_format) and copy its members into the metadata.") var json: Bool
    @Setting(
      16, in: 1...1024, "Records handed to the stage at a time (the output does not depend on it).",
      affectsOutput: false)
    var batchSize: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "llm.generate", version: 1,
    summary: "Ask an OpenAI-compatible endpoint with a prompt made from each record; write the answer.",
    options: Options.self,
    make: { options in .batch(try LLMGenerate(options: options)) })

  init(options: Options) throws {
    let name = options.name
    endpoint = try LLMConfig.endpoint(.object(options.endpoint), name: name, keyPath: "endpoint")
    system = options.system
    prompt = try PromptTemplate(options.prompt, keyPath: "prompt")
    api = options.api
    temperature = options.temperature
    topP = options.topP
    maxTokens = options.maxTokens
    seed = options.seed
    output = options.output
    json = options.json
    batchSize = options.batchSize
    if output.isEmpty { throw ConfigValueError("output", "expected \"text\" or a metadata key") }
    if json && api != "chat" { throw ConfigValueError("json", "JSON mode needs the chat API") }
    if system != nil && api != "chat" { throw ConfigValueError("system", "a system message needs the chat API") }
  }

  /// Asks for every record of the batch at once (up to the endpoint's concurrency limit).
  public func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome] {
    let client = try LLMConfig.client(for: endpoint, context: context)
    let results = Concurrently.map(batch.count) { index in
      self.answer(batch[index], client: client, context: context)
    }
    if let outage = EndpointOutage.firstFailure(in: results, context: context) { throw outage }
    return results.compactMap { try? $0.get() }
  }

  /// The record's outcome, or the endpoint's failure (which fails the task).
  private func answer(_ record: Record, client: LLMClient, context: StageContext) -> Result<BatchOutcome, LLMError> {
    let text: String
    switch prompt.render(record) {
    case .success(let rendered): text = rendered
    case .failure(let missing):
      return .success(.drop(reason: Self.missingFieldReason, detail: "the prompt needs \(missing.name)"))
    }
    let response: TextResponse
    do {
      if api == "chat" {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(text))
        let reply = try client.send(
          ChatRequest(
            messages: messages, temperature: temperature, topP: topP, maxTokens: maxTokens, seed: seed,
            responseFormat: json ? .jsonObject : nil))
        LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
        response = reply.response
      } else {
        let reply = try client.send(
          CompletionRequest(prompt: text, maxTokens: maxTokens, temperature: temperature, topP: topP, seed: seed))
        LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
        response = reply.response
      }
    } catch let error as LLMError {
      LLMCounters.failure(error, endpoint: endpoint.name, context: context)
      if error.kind.isEndpointFailure { return .failure(error) }
      return .success(.drop(reason: "llm_" + error.kind.rawValue, detail: error.description))
    } catch {
      return .success(.drop(reason: "llm_error", detail: "\(error)"))
    }
    let answer = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !answer.isEmpty else {
      return .success(.drop(reason: Self.emptyReason, detail: "finish reason \(response.finishReason ?? "none")"))
    }
    var record = record
    if json {
      guard let object = (try? JSONValue.parse(answer))?.objectValue else {
        return .success(.drop(reason: Self.unparsableReason, detail: String(answer.prefix(200))))
      }
      for (key, value) in object.members { record.setMetadata(key, value) }
    }
    if output == "text" {
      record.text = answer
    } else {
      record.setMetadata(output, .string(answer))
    }
    return .success(.keep(record))
  }
}
