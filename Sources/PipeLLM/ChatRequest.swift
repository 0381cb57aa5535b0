public import PipeCore

/// One message of a chat conversation.
public struct ChatMessage: Sendable, Equatable {
  /// Who speaks: `system`, `user` or `assistant`.
  public var role: Role
  /// What is said.
  public var content: String

  /// A speaker in a chat.
  public enum Role: String, Sendable {
    /// Instructions for the assistant.
    case system
    /// The person asking.
    case user
    /// The model.
    case assistant
  }

  /// Creates a message.
  public init(role: Role, content: String) {
    self.role = role
    self.content = content
  }

  /// A system message.
  public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
  /// A user message.
  public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
  /// An assistant message.
  public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }

  /// `{"role": ..., "content": ...}`.
  var json: JSONValue { .object(["role": .string(role.rawValue), "content": .string(content)]) }
}

/// How the answer must be formatted.
public enum ResponseFormat: Sendable, Equatable {
  /// Any JSON object (`{"type":"json_object"}`); llama.cpp enforces it with a grammar.
  case jsonObject
  /// JSON matching `schema` (`{"type":"json_schema","json_schema":{"name":…,"schema":…}}`);
  /// supported by OpenAI, vLLM and llama.cpp's server.
  case jsonSchema(name: String, schema: JSONValue)

  var json: JSONValue {
    switch self {
    case .jsonObject:
      return .object(["type": .string("json_object")])
    case .jsonSchema(let name, let schema):
      return .object([
        "type": .string("json_schema"),
        "json_schema": .object(["name": .string(name), "schema": schema, "strict": .bool(true)]),
      ])
    }
  }
}

/// A request to `/chat/completions`.
public struct ChatRequest: LLMRequest, Equatable {
  /// The conversation so far.
  public var messages: [ChatMessage]
  /// Sampling temperature; 0 picks the likeliest token.
  public var temperature: Double?
  /// Nucleus sampling mass.
  public var topP: Double?
  /// The most tokens to generate.
  public var maxTokens: Int?
  /// The sampling seed; with the same seed and parameters a server may repeat its answer.
  public var seed: Int?
  /// Strings that end generation.
  public var stop: [String]?
  /// A required answer format, if any.
  public var responseFormat: ResponseFormat?
  /// Whether to ask for the log-probability of each generated token.
  public var logprobs: Bool
  /// Server-specific parameters copied into the body as they are (`top_k` for llama.cpp and
  /// vLLM); they are part of the cache key like every other field.
  public var extraParameters: JSONObject

  /// Creates a request.
  public init(
    messages: [ChatMessage], temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil,
    seed: Int? = nil, stop: [String]? = nil, responseFormat: ResponseFormat? = nil, logprobs: Bool = false,
    extraParameters: JSONObject = JSONObject()
  ) {
    self.messages = messages
    self.temperature = temperature
    self.topP = topP
    self.maxTokens = maxTokens
    self.seed = seed
    self.stop = stop
    self.responseFormat = responseFormat
    self.logprobs = logprobs
    self.extraParameters = extraParameters
  }

  /// `chat/completions`.
  public static var path: String { "chat/completions" }

  /// The OpenAI chat body.
  public func body(model: String) -> JSONObject {
    var body = JSONObject()
    body.merge(extraParameters)
    body["model"] = .string(model)
    body["messages"] = .array(
      messages.map(\.json))
    body.setIfPresent("temperature", temperature.map { .double($0) })
    body.setIfPresent("top_p", topP.map { .double($0) })
    body.setIfPresent("max_tokens", maxTokens.map { .int(Int64($0)) })
    body.setIfPresent("seed", seed.map { .int(Int64($0)) })
    body.setIfPresent("stop", stop.map { .array($0.map { .string($0) }) })
    body.setIfPresent("response_format", responseFormat?.json)
    if logprobs { body["logprobs"] = .bool(true) }
    return body
  }

  /// Reads `choices[0].message.content`, the finish reason, usage and log-probabilities.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> TextResponse {
    try TextResponse.parse(json, textPath: .chat)
  }
}
