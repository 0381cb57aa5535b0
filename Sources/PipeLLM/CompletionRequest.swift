public import PipeCore

/// A request to the legacy `/completions` endpoint: a raw prompt, no chat template.
public struct CompletionRequest: LLMRequest, Equatable {
  /// The text to continue.
  public var prompt: String
  /// The most tokens to generate (0 with `echo` scores the prompt on servers that allow it).
  public var maxTokens: Int?
  /// Sampling temperature.
  public var temperature: Double?
  /// Nucleus sampling mass.
  public var topP: Double?
  /// How many alternatives per position to return log-probabilities for; `nil` for none.
  /// llama.cpp's server returns nothing for 0, so ask for 1 to get the chosen tokens' values.
  public var logprobs: Int?
  /// Whether the answer repeats the prompt (vLLM and OpenAI then give prompt-token
  /// log-probabilities; llama.cpp's server does not).
  public var echo: Bool
  /// The sampling seed.
  public var seed: Int?
  /// Strings that end generation.
  public var stop: [String]?
  /// Server-specific parameters copied into the body as they are (`prompt_logprobs` for vLLM).
  public var extraParameters: JSONObject

  /// Creates a request.
  public init(
    prompt: String, maxTokens: Int? = nil, temperature: Double? = nil, topP: Double? = nil, logprobs: Int? = nil,
    echo: Bool = false, seed: Int? = nil, stop: [String]? = nil, extraParameters: JSONObject = JSONObject()
  ) {
    self.prompt = prompt
    self.maxTokens = maxTokens
    self.temperature = temperature
    self.topP = topP
    self.logprobs = logprobs
    self.echo = echo
    self.seed = seed
    self.stop = stop
    self.extraParameters = extraParameters
  }

  /// `completions`.
  public static var path: String { "completions" }

  /// The OpenAI completions body.
  public func body(model: String) -> JSONObject {
    var body = JSONObject()
    body.merge(extraParameters)
    body["model"] = .string(model)
    body["prompt"] = .string(prompt)
    body.setIfPresent("max_tokens", maxTokens.map { .int(Int64($0)) })
    body.setIfPresent("temperature", temperature.map { .double($0) })
    body.setIfPresent("top_p", topP.map { .double($0) })
    body.setIfPresent("logprobs", logprobs.map { .int(Int64($0)) })
    if echo { body["echo"] = .bool(true) }
    body.setIfPresent("seed", seed.map { .int(Int64($0)) })
    body.setIfPresent("stop", stop.map { .array($0.map { .string($0) }) })
    return body
  }

  /// Reads `choices[0].text`, the finish reason, usage and log-probabilities in either shape.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> TextResponse {
    try TextResponse.parse(json, textPath: .completion)
  }
}
