public import PipeCore

/// A request to `/embeddings`: one vector per input text.
public struct EmbeddingRequest: LLMRequest, Equatable {
  /// The texts to embed, in order.
  public var inputs: [String]
  /// Server-specific parameters copied into the body as they are (`dimensions`, `input_type`).
  public var extraParameters: JSONObject

  /// Creates a request.
  public init(inputs: [String], extraParameters: JSONObject = JSONObject()) {
    self.inputs = inputs
    self.extraParameters = extraParameters
  }

  /// `embeddings`.
  public static var path: String { "embeddings" }

  /// The OpenAI embeddings body.
  public func body(model: String) -> JSONObject {
    var body = JSONObject()
    body.merge(extraParameters)
    body["model"] = .string(model)
    body["input"] = .array(inputs.map { .string($0) })
    return body
  }

  /// Reads `data[].embedding`, ordered by `data[].index`.
  public static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> EmbeddingResponse {
    try EmbeddingResponse.parse(json)
  }
}
