public import PipeCore

/// The log-probabilities a model gives each token of a fixed response after a prompt, from
/// any llama.cpp-compatible server: the response is tokenized by the server (`/tokenize`), then
/// decoded under a grammar of exactly those ids (`ForcedDecodingRequest`). Every request goes
/// through the client, so its cache, limits and retries apply.
public enum TeacherForcing {
  /// Why a response could not be scored.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
  }

  /// The chat-templated prompt of `messages` on `client`'s model.
  ///
  /// - Throws: `LLMError` when the call fails.
  public static func prompt(_ messages: [ChatMessage], client: LLMClient) throws -> LLMReply<TemplatedPrompt> {
    try client.send(ApplyTemplateRequest(messages: messages))
  }

  /// The log-probability of every token of `response` after `prompt`, with the replies of the
  /// calls made (for the stage's counters).
  ///
  /// - Throws: `LLMError` when a call fails; `Failure` when the response has no tokens or the
  ///   server decoded other tokens than those forced (a server without token-id grammars).
  public static func logprobs(
    of response: String, after prompt: String, client: LLMClient
  ) throws -> (logprobs: [Double], tokenize: LLMReply<TokenIDs>, decode: LLMReply<ForcedLogprobs>) {
    let tokenized = try client.send(TokenizeRequest(content: response))
    let ids = tokenized.response.ids
    guard !ids.isEmpty else { throw Failure(description: "the response has no tokens") }
    let decoded = try client.send(ForcedDecodingRequest(prompt: prompt, tokens: ids))
    let tokens = decoded.response.tokens
    guard tokens.map(\.id) == ids else {
      let firstDifference =
        zip(tokens, ids).enumerated().first { $0.element.0.id != $0.element.1 }?.offset
        ?? min(tokens.count, ids.count)
      throw Failure(
        description:
          "\(client.endpoint.name) decoded \(tokens.count) of \(ids.count) forced tokens, the first different at "
          + "position \(firstDifference); the server must support token-id grammars (llama.cpp 2025 or later)")
    }
    return (tokens.map(\.logprob), tokenized, decoded)
  }
}
