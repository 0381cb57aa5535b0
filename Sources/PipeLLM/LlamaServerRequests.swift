internal import Foundation
public import PipeCore

// llama.cpp's own endpoints (at the server's root, beside `/v1`), for what the OpenAI API cannot
// do: canonical tokenization, the model's chat template, and decoding constrained to given
// token ids, which gives the model's log-probability of every token of a fixed text.

/// `POST /tokenize`: the ids the model's tokenizer gives a text.
public struct TokenizeRequest: LLMRequest, Equatable {
  /// The text.
  public var content: String

  /// Creates a request.
  public init(content: String) { self.content = content }

  /// `/tokenize`.
  public static var path: String { "/tokenize" }

  /// `{"content": ..., "add_special": false}`: no BOS, the text's own tokens only.
  public func body(model: String) -> JSONObject {
    ["content": .string(content), "add_special": .bool(false)]
  }

  /// Reads `tokens`.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> TokenIDs {
    guard let tokens = json.objectValue?["tokens"]?.arrayValue else {
      throw MalformedResponse("tokens: expected an array of token ids")
    }
    var ids: [Int] = []
    ids.reserveCapacity(tokens.count)
    for (index, token) in tokens.enumerated() {
      // With pieces requested a token is an object; this request asks for bare ids.
      guard let id = token.intValue ?? token.objectValue?["id"]?.intValue else {
        throw MalformedResponse("tokens[\(index)]: expected a token id")
      }
      ids.append(id)
    }
    return TokenIDs(ids: ids)
  }
}

/// Token ids.
public struct TokenIDs: ReportsTokenUsage, Equatable {
  /// The ids, in order.
  public var ids: [Int]
  /// None: tokenizing costs no generation.
  public var usage: TokenUsage { TokenUsage() }
}

/// `POST /apply-template`: the prompt the model's chat template makes of messages, ending where
/// the assistant's answer starts.
public struct ApplyTemplateRequest: LLMRequest, Equatable {
  /// The conversation so far.
  public var messages: [ChatMessage]

  /// Creates a request.
  public init(messages: [ChatMessage]) { self.messages = messages }

  /// `/apply-template`.
  public static var path: String { "/apply-template" }

  /// `{"messages": [...]}`.
  public func body(model: String) -> JSONObject {
    ["messages": .array(messages.map(\.json))]
  }

  /// Reads `prompt`.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> TemplatedPrompt {
    guard let prompt = json.objectValue?["prompt"]?.stringValue else {
      throw MalformedResponse("prompt: expected a string")
    }
    return TemplatedPrompt(prompt: prompt)
  }
}

/// A prompt made by the model's chat template.
public struct TemplatedPrompt: ReportsTokenUsage, Equatable {
  /// The prompt text.
  public var prompt: String
  /// None: templating costs no generation.
  public var usage: TokenUsage { TokenUsage() }
}

/// `POST /completion` constrained to a fixed sequence of token ids (a grammar of the ids), at
/// temperature 0, with the log-probability of each chosen token: teacher forcing. The values are
/// those of the model's own distribution before the grammar, so they equal what the model
/// reports when it generates the same tokens itself.
public struct ForcedDecodingRequest: LLMRequest, Equatable {
  /// The prompt the tokens follow (already templated).
  public var prompt: String
  /// The ids to force, in order.
  public var tokens: [Int]

  /// Creates a request.
  public init(prompt: String, tokens: [Int]) {
    self.prompt = prompt
    self.tokens = tokens
  }

  /// `/completion`.
  public static var path: String { "/completion" }

  /// The native completion body: `n_predict` = the number of ids, `n_probs: 1`, temperature 0,
  /// and the grammar `root ::= <[id1]> <[id2]> ...`. No `cache_prompt`: the server's default
  /// (on) reuses the prefix it evaluated last, which changes the last bits of the
  /// log-probabilities; an endpoint's `extraBody` `{"cache_prompt": false}` turns it off, so
  /// the same request gives the same bytes in any run.
  public func body(model: String) -> JSONObject {
    [
      "prompt": .string(prompt),
      "n_predict": .int(Int64(tokens.count)),
      "temperature": .double(0),
      "n_probs": .int(1),
      "grammar": .string("root ::= " + tokens.map { "<[\($0)]>" }.joined(separator: " ")),
    ]
  }

  /// Reads `completion_probabilities[i].id` and `.logprob`, and the token counts.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> ForcedLogprobs {
    guard let object = json.objectValue else { throw MalformedResponse("expected a JSON object") }
    guard let probabilities = object["completion_probabilities"]?.arrayValue else {
      throw MalformedResponse(
        "completion_probabilities: missing (is this llama.cpp's server? teacher forcing needs its /completion)")
    }
    var tokens: [ForcedLogprobs.Token] = []
    tokens.reserveCapacity(probabilities.count)
    for (index, entry) in probabilities.enumerated() {
      guard let entry = entry.objectValue, let id = entry["id"]?.intValue else {
        throw MalformedResponse("completion_probabilities[\(index)].id: expected a token id")
      }
      // Newer servers send `logprob`; older ones `probs[0].prob`.
      if let logprob = entry["logprob"]?.doubleValue {
        tokens.append(ForcedLogprobs.Token(id: id, logprob: logprob))
      } else if let probability = entry["probs"]?.arrayValue?.first?.objectValue?["prob"]?.doubleValue,
        probability > 0
      {
        tokens.append(ForcedLogprobs.Token(id: id, logprob: log(probability)))
      } else {
        throw MalformedResponse("completion_probabilities[\(index)].logprob: expected a number")
      }
    }
    return ForcedLogprobs(
      tokens: tokens,
      usage: TokenUsage(
        promptTokens: object["tokens_evaluated"]?.intValue, completionTokens: object["tokens_predicted"]?.intValue))
  }
}

/// The log-probabilities of forced tokens.
public struct ForcedLogprobs: ReportsTokenUsage, Equatable {
  /// A forced token and the model's log-probability of it.
  public struct Token: Sendable, Equatable {
    /// The token id the server decoded.
    public var id: Int
    /// Its natural log-probability.
    public var logprob: Double
  }

  /// The tokens, in order.
  public var tokens: [Token]
  /// The server's counts: prompt tokens evaluated and tokens decoded.
  public var usage: TokenUsage
}
