public import PipeCore

/// A request to one endpoint path of the OpenAI-compatible API, and how to read its answer.
public protocol LLMRequest: Sendable {
  /// The parsed answer.
  associatedtype Response: ReportsTokenUsage

  /// The path below the API root (`chat/completions`), or, starting with `/`, below the
  /// server's root (llama.cpp's own `/tokenize`).
  static var path: String { get }

  /// The JSON body for `model`. Sampling parameters left `nil` are omitted, so the server's
  /// defaults apply and the cache key does not change when a new optional field is added.
  func body(model: String) -> JSONObject

  /// Reads a 2xx answer.
  ///
  /// - Throws: `MalformedResponse` when `json` lacks what the API promises.
  static func parseResponse(_ json: JSONValue) throws(MalformedResponse) -> Response
}

/// An answer that carries the server's token counts, for the client's statistics.
public protocol ReportsTokenUsage: Sendable {
  /// The server's token counts.
  var usage: TokenUsage { get }
}

/// A 2xx answer whose JSON does not have the shape the API promises.
public struct MalformedResponse: Error, Sendable, CustomStringConvertible {
  /// What is missing or wrong, with its JSON path (`choices[0].message.content`).
  public var detail: String

  /// Creates the error.
  public init(_ detail: String) { self.detail = detail }

  /// The detail.
  public var description: String { detail }
}

extension JSONObject {
  /// Sets `key` only when `value` is not `nil`, so unset parameters stay out of the body.
  mutating func setIfPresent(_ key: String, _ value: JSONValue?) {
    if let value { self[key] = value }
  }

  /// Copies every member of `other` over this object's members.
  mutating func merge(_ other: JSONObject) {
    for (key, value) in other.members { self[key] = value }
  }
}
