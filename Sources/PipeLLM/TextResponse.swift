internal import PipeCore

/// Token counts the server reported for one call.
public struct TokenUsage: Sendable, Equatable {
  /// Tokens in the prompt (or in the inputs, for embeddings), when reported.
  public var promptTokens: Int?
  /// Tokens generated, when reported.
  public var completionTokens: Int?

  /// Creates a usage value.
  public init(promptTokens: Int? = nil, completionTokens: Int? = nil) {
    self.promptTokens = promptTokens
    self.completionTokens = completionTokens
  }

  /// Reads `usage.prompt_tokens` and `usage.completion_tokens` from an answer; absent or
  /// non-integral counts stay `nil` (some servers send no usage).
  static func parse(_ answer: JSONObject) -> TokenUsage {
    guard let usage = answer["usage"]?.objectValue else { return TokenUsage() }
    return TokenUsage(
      promptTokens: usage["prompt_tokens"]?.intValue, completionTokens: usage["completion_tokens"]?.intValue)
  }
}

/// The log-probability of one token.
public struct TokenLogprob: Sendable, Equatable {
  /// The token's text.
  public var token: String
  /// Its natural-log probability (<= 0); `nil` where the server gives none (the first prompt
  /// token of an echoed legacy completion has no context to be predicted from).
  public var logprob: Double?
  /// The token's character offset in the returned text, when the server gives it (legacy form).
  public var textOffset: Int?

  /// Creates a value.
  public init(token: String, logprob: Double?, textOffset: Int? = nil) {
    self.token = token
    self.logprob = logprob
    self.textOffset = textOffset
  }
}

/// The answer to a chat or completion request.
public struct TextResponse: ReportsTokenUsage, Equatable {
  /// The generated text (with the prompt in front for an echoed completion).
  public var text: String
  /// Why generation stopped (`stop`, `length`), when given.
  public var finishReason: String?
  /// The server's token counts.
  public var usage: TokenUsage
  /// Per-token log-probabilities, when requested and given.
  public var tokenLogprobs: [TokenLogprob]?

  /// Creates a response.
  public init(text: String, finishReason: String?, usage: TokenUsage, tokenLogprobs: [TokenLogprob]?) {
    self.text = text
    self.finishReason = finishReason
    self.usage = usage
    self.tokenLogprobs = tokenLogprobs
  }

  /// Where the text is in a choice.
  enum TextPath {
    /// `message.content`
    case chat
    /// `text`
    case completion
  }

  static func parse(_ json: JSONValue, textPath: TextPath) throws(MalformedResponse) -> TextResponse {
    guard let answer = json.objectValue else {
      throw MalformedResponse("expected a JSON object, got \(json.typeDescription)")
    }
    guard let choices = answer["choices"]?.arrayValue else {
      throw MalformedResponse("choices: expected an array, got \(answer["choices"]?.typeDescription ?? "nothing")")
    }
    guard let choice = choices.first?.objectValue else {
      throw MalformedResponse("choices[0]: expected an object, got \(choices.first?.typeDescription ?? "nothing")")
    }
    let text: String
    switch textPath {
    case .chat:
      guard let message = choice["message"]?.objectValue else {
        throw MalformedResponse("choices[0].message: expected an object")
      }
      switch message["content"] {
      case .string(let content)?: text = content
      // A refusal or a tool call has no content; the finish reason says which.
      case .null?, nil: text = ""
      case let other?:
        throw MalformedResponse("choices[0].message.content: expected a string, got \(other.typeDescription)")
      }
    case .completion:
      guard let content = choice["text"]?.stringValue else {
        throw MalformedResponse("choices[0].text: expected a string")
      }
      text = content
    }
    return TextResponse(
      text: text, finishReason: choice["finish_reason"]?.stringValue, usage: TokenUsage.parse(answer),
      tokenLogprobs: try parseLogprobs(choice["logprobs"]))
  }

  /// Reads either shape: the chat form `{"content":[{"token","logprob"}]}` (OpenAI chat, and
  /// llama.cpp's server for completions too) or the legacy completions form
  /// `{"tokens":[…],"token_logprobs":[…],"text_offset":[…]}` (OpenAI, vLLM).
  static func parseLogprobs(_ value: JSONValue?) throws(MalformedResponse) -> [TokenLogprob]? {
    guard let value, let object = value.objectValue else {
      if let value, value != .null {
        throw MalformedResponse("choices[0].logprobs: expected an object, got \(value.typeDescription)")
      }
      return nil
    }
    if let content = object["content"] {
      if content == .null { return nil }
      guard let entries = content.arrayValue else {
        throw MalformedResponse("choices[0].logprobs.content: expected an array")
      }
      var result: [TokenLogprob] = []
      result.reserveCapacity(entries.count)
      for (index, entry) in entries.enumerated() {
        guard let item = entry.objectValue, let token = item["token"]?.stringValue,
          let logprob = item["logprob"]?.doubleValue
        else {
          throw MalformedResponse(
            "choices[0].logprobs.content[\(index)]: expected {\"token\": string, \"logprob\": number}")
        }
        result.append(TokenLogprob(token: token, logprob: logprob))
      }
      return result
    }
    guard let tokens = object["tokens"]?.arrayValue, let values = object["token_logprobs"]?.arrayValue,
      tokens.count == values.count
    else {
      throw MalformedResponse(
        "choices[0].logprobs: expected content[] or tokens[] and token_logprobs[] of equal length")
    }
    let offsets = object["text_offset"]?.arrayValue
    var result: [TokenLogprob] = []
    result.reserveCapacity(tokens.count)
    for index in tokens.indices {
      guard let token = tokens[index].stringValue else {
        throw MalformedResponse("choices[0].logprobs.tokens[\(index)]: expected a string")
      }
      let logprob = values[index].doubleValue
      if logprob == nil && values[index] != .null {
        throw MalformedResponse("choices[0].logprobs.token_logprobs[\(index)]: expected a number or null")
      }
      let offset = offsets.flatMap { index < $0.count ? $0[index].intValue : nil }
      result.append(TokenLogprob(token: token, logprob: logprob, textOffset: offset))
    }
    return result
  }
}
