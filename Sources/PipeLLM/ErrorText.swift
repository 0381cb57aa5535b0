internal import Foundation
internal import PipeCore

/// Builds error messages: what happened, and what to do, with the API key taken out.
struct ErrorText: Sendable {
  let endpoint: Endpoint
  /// The key to remove from any text that may echo it (some servers quote the key they got).
  let apiKey: String?

  /// The longest excerpt of a server's answer quoted in a message.
  static let excerptLength = 300

  /// `text` with every occurrence of the API key replaced.
  func redact(_ text: String) -> String {
    guard let apiKey, !apiKey.isEmpty else { return text }
    return text.replacingOccurrences(of: apiKey, with: "[redacted]")
  }

  /// The server's own explanation from an error body: `error.message` (OpenAI, llama.cpp,
  /// vLLM), `error` as a string (Ollama), `detail` or `message`; else the body's start.
  func serverMessage(_ body: [UInt8]) -> String {
    var text: String?
    if let json = try? JSONValue.parse(body), let object = json.objectValue {
      if let error = object["error"]?.objectValue {
        text = error["message"]?.stringValue
      } else {
        text = object["error"]?.stringValue ?? object["detail"]?.stringValue ?? object["message"]?.stringValue
      }
    }
    let raw = text ?? String(decoding: body, as: UTF8.self)
    return excerpt(redact(raw))
  }

  /// At most `excerptLength` characters of `text` on one line, marked when cut.
  func excerpt(_ text: String) -> String {
    let flat = text.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
    if flat.isEmpty { return "(empty body)" }
    guard flat.count > Self.excerptLength else { return flat }
    return String(flat.prefix(Self.excerptLength)) + "…"
  }

  /// What to do after an HTTP error status.
  func advice(status: Int) -> String {
    switch status {
    case 401, 403:
      if let variable = endpoint.apiKeyEnvironmentVariable {
        return "check the API key in the environment variable \(variable)"
      }
      return "this server wants an API key: set apiKeyEnvironmentVariable to the name of a variable holding it"
    case 404:
      return "check baseURL (the API root, usually ending in /v1; now \(endpoint.normalizedBaseURL)) and the model id"
    case 429:
      return "lower requestsPerMinute or maxConcurrentRequests, or raise maxRetries or backoffMaxSeconds"
    case 501:
      return "this server does not implement the endpoint (llama.cpp serves embeddings only when started with "
        + "--embeddings); use an endpoint that does"
    case 500...599:
      return "the server failed; check its log, or raise maxRetries"
    default:
      return "the server refused the request; check the request's parameters against what this server supports"
    }
  }
}
