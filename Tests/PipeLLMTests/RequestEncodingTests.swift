import PipeCore
import PipeLLM
import PipeTestSupport
import Testing

/// Request bodies and the cache key made from them.
struct RequestEncodingTests {
  let endpoint = Endpoint(name: "e", baseURL: "http://127.0.0.1:8765/v1", model: "smol")

  @Test func chatBodyIsCanonical() {
    let request = ChatRequest(
      messages: [.system("Be brief."), .user("Hi")], temperature: 0.7, topP: 0.9, maxTokens: 16, seed: 3,
      stop: ["\n"], responseFormat: .jsonObject, logprobs: true, extraParameters: ["top_k": .int(40)])
    let text = JSONValue.object(request.body(model: "smol")).canonicalText
    #expect(
      text == #"{"logprobs":true,"max_tokens":16,"messages":[{"content":"Be brief.","role":"system"},"#
        + #"{"content":"Hi","role":"user"}],"model":"smol","response_format":{"type":"json_object"},"seed":3,"#
        + #""stop":["\n"],"temperature":0.7,"top_k":40,"top_p":0.9}"#)
  }

  @Test func unsetParametersStayOut() {
    let body = ChatRequest(messages: [.user("Hi")]).body(model: "m")
    #expect(body.keys.sorted() == ["messages", "model"])
    let completion = CompletionRequest(prompt: "p").body(model: "m")
    #expect(completion.keys.sorted() == ["model", "prompt"])
  }

  @Test func completionAndEmbeddingBodies() {
    let completion = CompletionRequest(
      prompt: "The sky is", maxTokens: 1, temperature: 0, logprobs: 1, echo: true, seed: 9)
    #expect(
      JSONValue.object(completion.body(model: "m")).canonicalText
        == #"{"echo":true,"logprobs":1,"max_tokens":1,"model":"m","prompt":"The sky is","seed":9,"temperature":0}"#)
    #expect(CompletionRequest.path == "completions")
    let embedding = EmbeddingRequest(inputs: ["a", "b"])
    #expect(JSONValue.object(embedding.body(model: "m")).canonicalText == #"{"input":["a","b"],"model":"m"}"#)
    #expect(EmbeddingRequest.path == "embeddings")
  }

  @Test func jsonSchemaFormat() {
    let schema: JSONValue = .object(["type": .string("object")])
    let body = ChatRequest(messages: [.user("x")], responseFormat: .jsonSchema(name: "answer", schema: schema))
      .body(model: "m")
    #expect(
      body["response_format"]?.canonicalText
        == #"{"json_schema":{"name":"answer","schema":{"type":"object"},"strict":true},"type":"json_schema"}"#)
  }

  @Test func extraParametersCannotOverrideTheModelOrMessages() {
    let request = ChatRequest(messages: [.user("x")], extraParameters: ["model": .string("other"), "top_k": .int(1)])
    let body = request.body(model: "m")
    #expect(body["model"] == .string("m"))
    #expect(body["top_k"] == .int(1))
  }

  @Test func cacheKeyIsStableAcrossSpellingsOfTheBaseURL() {
    let request = ChatRequest(messages: [.user("Hi")], temperature: 0, seed: 1)
    let key = LLMCacheKey.make(endpoint: endpoint, request: request)
    #expect(key.count == 64 && key.allSatisfy { $0.isHexDigit })
    for spelling in ["HTTP://127.0.0.1:8765/v1/", "http://127.0.0.1:8765", "http://127.0.0.1:8765/"] {
      var other = endpoint
      other.baseURL = spelling
      other.name = "renamed"
      #expect(LLMCacheKey.make(endpoint: other, request: request) == key, "\(spelling)")
    }
    // Temperature 0 written as an integer or a double is the same request.
    let same = LLMCacheKey.make(endpoint: endpoint, path: "chat/completions", body: request.body(model: "smol"))
    #expect(same == key)
  }

  @Test func cacheKeyChangesWithEveryPartOfTheRequest() {
    let base = ChatRequest(messages: [.user("Hi")], temperature: 0, maxTokens: 8, seed: 1)
    var variants: [ChatRequest] = []
    var changed = base
    changed.messages = [.user("Hi!")]
    variants.append(changed)
    changed = base
    changed.temperature = 0.1
    variants.append(changed)
    changed = base
    changed.seed = 2
    variants.append(changed)
    changed = base
    changed.maxTokens = 9
    variants.append(changed)
    changed = base
    changed.messages = [ChatMessage(role: .system, content: "Hi")]
    variants.append(changed)
    var keys = Set([LLMCacheKey.make(endpoint: endpoint, request: base)])
    for variant in variants { keys.insert(LLMCacheKey.make(endpoint: endpoint, request: variant)) }
    var otherModel = endpoint
    otherModel.model = "big"
    keys.insert(LLMCacheKey.make(endpoint: otherModel, request: base))
    var otherServer = endpoint
    otherServer.baseURL = "http://127.0.0.1:9000/v1"
    keys.insert(LLMCacheKey.make(endpoint: otherServer, request: base))
    keys.insert(LLMCacheKey.make(endpoint: endpoint, request: CompletionRequest(prompt: "Hi")))
    #expect(keys.count == variants.count + 4)
  }
}
