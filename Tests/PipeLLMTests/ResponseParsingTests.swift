import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// Reading answers, including both shapes of log-probabilities.
struct ResponseParsingTests {
  func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

  @Test func chatWithOpenAILogprobs() throws {
    let json = try parse(
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"length","#
        + #""logprobs":{"content":[{"token":"Hello","logprob":-2.08,"bytes":[72],"top_logprobs":[]},"#
        + #"{"token":" there","logprob":-0.87}]}}],"usage":{"prompt_tokens":33,"completion_tokens":2}}"#)
    let response = try ChatRequest.parseResponse(json)
    #expect(response.text == "Hello there")
    #expect(response.finishReason == "length")
    #expect(response.usage == TokenUsage(promptTokens: 33, completionTokens: 2))
    #expect(
      response.tokenLogprobs == [
        TokenLogprob(token: "Hello", logprob: -2.08), TokenLogprob(token: " there", logprob: -0.87),
      ])
  }

  /// llama.cpp's server answers `/v1/completions` with the chat shape (seen on xllamacpp).
  @Test func completionWithLlamaCppLogprobs() throws {
    let json = try parse(
      #"{"choices":[{"text":" Paris.","index":0,"logprobs":{"content":[{"id":7042,"token":" Paris","#
        + #""logprob":-0.25},{"id":30,"token":".","logprob":-0.39}]},"finish_reason":"length"}],"#
        + #""usage":{"completion_tokens":2,"prompt_tokens":5,"total_tokens":7}}"#)
    let response = try CompletionRequest.parseResponse(json)
    #expect(response.text == " Paris.")
    #expect(response.tokenLogprobs?.map(\.token) == [" Paris", "."])
    #expect(response.tokenLogprobs?.map(\.logprob) == [-0.25, -0.39])
  }

  /// The legacy OpenAI/vLLM shape, with echo: the first prompt token has no log-probability.
  @Test func completionWithLegacyLogprobs() throws {
    let json = try parse(
      #"{"choices":[{"text":"The sky is blue","logprobs":{"tokens":["The"," sky"," is"," blue"],"#
        + #""token_logprobs":[null,-5.1,-1.25,-0.5],"text_offset":[0,3,7,10],"top_logprobs":null},"#
        + #""finish_reason":"length"}]}"#)
    let response = try CompletionRequest.parseResponse(json)
    #expect(
      response.tokenLogprobs == [
        TokenLogprob(token: "The", logprob: nil, textOffset: 0),
        TokenLogprob(token: " sky", logprob: -5.1, textOffset: 3),
        TokenLogprob(token: " is", logprob: -1.25, textOffset: 7),
        TokenLogprob(token: " blue", logprob: -0.5, textOffset: 10),
      ])
    #expect(response.usage == TokenUsage())
  }

  @Test func absentOrNullLogprobsAreNil() throws {
    let json = try parse(#"{"choices":[{"text":"x","logprobs":null,"finish_reason":null}]}"#)
    let response = try CompletionRequest.parseResponse(json)
    #expect(response.tokenLogprobs == nil && response.finishReason == nil)
    let chat = try ChatRequest.parseResponse(parse(#"{"choices":[{"message":{"role":"assistant","content":null}}]}"#))
    #expect(chat.text == "" && chat.tokenLogprobs == nil)
  }

  @Test(arguments: [
    (#"[]"#, "expected a JSON object"),
    (#"{"choices":{}}"#, "choices: expected an array"),
    (#"{"choices":[{"message":{"content":5}}]}"#, "choices[0].message.content"),
    (#"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"token":"a"}]}}]}"#, "logprobs.content[0]"),
    (#"{"choices":[{"message":{"content":"x"},"logprobs":{"tokens":["a"],"token_logprobs":[]}}]}"#, "equal length"),
  ])
  func malformedChatAnswers(body: String, detail: String) throws {
    let error = try #require(throws: MalformedResponse.self) { try ChatRequest.parseResponse(parse(body)) }
    #expect(error.detail.contains(detail))
  }

  @Test func embeddingsAreOrderedByIndex() throws {
    let json = try parse(
      #"{"object":"list","data":[{"index":1,"embedding":[0.5,-1]},{"index":0,"embedding":[1,2.5]}],"#
        + #""usage":{"prompt_tokens":4,"total_tokens":4}}"#)
    let response = try EmbeddingRequest.parseResponse(json)
    #expect(response.vectors == [[1, 2.5], [0.5, -1]])
    #expect(response.usage.promptTokens == 4)
  }

  @Test func malformedEmbeddings() throws {
    #expect(throws: MalformedResponse.self) {
      try EmbeddingRequest.parseResponse(parse(#"{"data":[{"embedding":"AAAA"}]}"#))
    }
    #expect(throws: MalformedResponse.self) {
      try EmbeddingRequest.parseResponse(parse(#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#))
    }
  }
}
