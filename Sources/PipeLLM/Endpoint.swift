internal import Foundation
public import PipeCore

/// One OpenAI-compatible server and model, with the limits the client keeps for it.
///
/// The API key is never part of the config: `apiKeyEnvironmentVariable` names the environment
/// variable that holds it, so the manifest, logs and error messages only ever see the name.
public struct Endpoint: Sendable, Equatable {
  /// The name stages and statistics use for this endpoint (`judge`, `local`).
  public var name: String
  /// The API root, usually ending in `/v1` (`https://api.openai.com/v1`,
  /// `http://127.0.0.1:8765/v1`); a URL with no path gets `/v1` appended.
  public var baseURL: String
  /// The model id sent in every request (llama.cpp's server ignores it).
  public var model: String
  /// The environment variable holding the API key, or `nil` to send no key (local servers).
  public var apiKeyEnvironmentVariable: String?
  /// The most requests in flight at once.
  public var maxConcurrentRequests: Int
  /// The most requests started per minute, evenly spaced; `nil` for no limit.
  public var requestsPerMinute: Double?
  /// The longest one attempt may take, from sending the request to the end of the answer.
  public var timeoutSeconds: Double
  /// The longest one call may take over all its attempts and waits; `nil` for no bound beyond
  /// `maxRetries`.
  public var totalTimeoutSeconds: Double?
  /// How many times a failed attempt is retried (429, 5xx, timeouts, broken connections).
  public var maxRetries: Int
  /// The wait before the first retry; it doubles with each retry, with random jitter.
  public var backoffBaseSeconds: Double
  /// The longest wait between attempts; also caps a server's `Retry-After`.
  public var backoffMaxSeconds: Double
  /// How many failed attempts in a row (connection, timeout, 5xx, 429), across all calls, open
  /// the circuit: calls then fail at once instead of each spending its retries on a server that
  /// is down; 0 never opens it.
  public var circuitBreakerFailures: Int
  /// How long an open circuit stays open before one attempt may probe the server again.
  public var circuitBreakerSeconds: Double
  /// Members added to every request body that does not set them itself: server-specific
  /// parameters, such as `{"cache_prompt": false}` for llama.cpp (then an answer does not depend
  /// on what the server's cache held from the request before, so runs repeat byte for byte).
  public var extraBody: JSONObject

  /// Creates an endpoint; call `validate()` before use.
  public init(
    name: String, baseURL: String, model: String, apiKeyEnvironmentVariable: String? = nil,
    maxConcurrentRequests: Int = 4, requestsPerMinute: Double? = nil, timeoutSeconds: Double = 120,
    totalTimeoutSeconds: Double? = nil, maxRetries: Int = 4, backoffBaseSeconds: Double = 1,
    backoffMaxSeconds: Double = 60, circuitBreakerFailures: Int = 8, circuitBreakerSeconds: Double = 30,
    extraBody: JSONObject = JSONObject()
  ) {
    self.name = name
    self.baseURL = baseURL
    self.model = model
    self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
    self.maxConcurrentRequests = maxConcurrentRequests
    self.requestsPerMinute = requestsPerMinute
    self.timeoutSeconds = timeoutSeconds
    self.totalTimeoutSeconds = totalTimeoutSeconds
    self.maxRetries = maxRetries
    self.backoffBaseSeconds = backoffBaseSeconds
    self.backoffMaxSeconds = backoffMaxSeconds
    self.circuitBreakerFailures = circuitBreakerFailures
    self.circuitBreakerSeconds = circuitBreakerSeconds
    self.extraBody = extraBody
  }

  /// Every problem with this config, each saying which field is wrong and what to write instead.
  public var problems: [String] {
    var problems: [String] = []
    let label = name.isEmpty ? "endpoint" : "endpoint '\(name)'"
    func add(_ text: String) { problems.append("\(label): \(text)") }
    if name.isEmpty { add("name is empty; give the endpoint a name such as \"local\" or \"judge\"") }
    if let issue = Self.baseURLProblem(baseURL) { add(issue) }
    if model.trimmingCharacters(in: .whitespaces).isEmpty {
      add("model is empty; write the model id the server expects (any non-empty id for llama.cpp)")
    }
    if let variable = apiKeyEnvironmentVariable, !Self.isEnvironmentVariableName(variable) {
      add(
        "apiKeyEnvironmentVariable must be the NAME of an environment variable (letters, digits, _), "
          + "not the key itself; for example \"OPENAI_API_KEY\"")
    }
    if maxConcurrentRequests < 1 || maxConcurrentRequests > 1024 {
      add("maxConcurrentRequests is \(maxConcurrentRequests); use 1...1024")
    }
    if let rate = requestsPerMinute, !(rate > 0 && rate.isFinite) {
      add("requestsPerMinute is \(rate); use a positive number, or leave it out for no limit")
    }
    if !(timeoutSeconds > 0 && timeoutSeconds.isFinite) {
      add("timeoutSeconds is \(timeoutSeconds); use a positive number of seconds such as 120")
    }
    if let total = totalTimeoutSeconds, !(total > 0 && total.isFinite) {
      add("totalTimeoutSeconds is \(total); use a positive number, or leave it out")
    }
    if maxRetries < 0 || maxRetries > 100 { add("maxRetries is \(maxRetries); use 0...100") }
    if !(backoffBaseSeconds >= 0 && backoffBaseSeconds.isFinite) {
      add("backoffBaseSeconds is \(backoffBaseSeconds); use a number of seconds >= 0 such as 1")
    }
    if !(backoffMaxSeconds >= backoffBaseSeconds && backoffMaxSeconds.isFinite) {
      add("backoffMaxSeconds is \(backoffMaxSeconds); use a number >= backoffBaseSeconds (\(backoffBaseSeconds))")
    }
    if circuitBreakerFailures < 0 || circuitBreakerFailures > 1_000_000 {
      add("circuitBreakerFailures is \(circuitBreakerFailures); use 0 (never open) or a count such as 8")
    }
    if !(circuitBreakerSeconds >= 0 && circuitBreakerSeconds.isFinite) {
      add("circuitBreakerSeconds is \(circuitBreakerSeconds); use a number of seconds >= 0 such as 30")
    }
    return problems
  }

  /// Throws a `PipeError(.config)` listing every problem, if there is any.
  public func validate() throws(PipeError) {
    let problems = problems
    if !problems.isEmpty { throw PipeError(.config, problems.joined(separator: "; ")) }
  }

  /// The API root the paths are appended to: no trailing slash, lowercase scheme and host,
  /// `/v1` added when the URL has no path. Two spellings of one server give one cache key.
  public var normalizedBaseURL: String {
    guard var parts = URLComponents(string: baseURL.trimmingCharacters(in: .whitespaces)) else { return baseURL }
    parts.scheme = parts.scheme?.lowercased()
    parts.host = parts.host?.lowercased()
    var path = parts.path
    while path.hasSuffix("/") { path.removeLast() }
    parts.path = path.isEmpty ? "/v1" : path
    return parts.string ?? baseURL
  }

  /// The server's root, where llama.cpp's own endpoints live (`/tokenize`, `/completion`):
  /// the API root without its trailing `/v1`.
  public var serverRootURL: String {
    let api = normalizedBaseURL
    return api.hasSuffix("/v1") ? String(api.dropLast(3)) : api
  }

  /// The URL of `path`: below the API root, or below the server's root when it starts with `/`.
  func url(of path: String) -> String {
    path.hasPrefix("/") ? serverRootURL + path : normalizedBaseURL + "/" + path
  }

  /// The API key from `environment`, or `nil` when no variable is named.
  ///
  /// - Throws: `PipeError(.config)` naming the variable when it is named but unset or empty.
  public func apiKey(in environment: [String: String]) throws(PipeError) -> String? {
    guard let variable = apiKeyEnvironmentVariable else { return nil }
    guard let key = environment[variable], !key.isEmpty else {
      throw PipeError(
        .config,
        "endpoint '\(name)': the environment variable \(variable) (apiKeyEnvironmentVariable) is not set; "
          + "export it with the API key, or remove apiKeyEnvironmentVariable for a server without keys")
    }
    return key
  }

  // MARK: - Checks

  private static func baseURLProblem(_ text: String) -> String? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let parts = URLComponents(string: trimmed), let scheme = parts.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = parts.host, !host.isEmpty
    else {
      return "baseURL \"\(trimmed.prefix(200))\" is not an http(s) URL; write one such as \"http://127.0.0.1:8765/v1\""
    }
    if parts.user != nil || parts.password != nil {
      // Not echoed: the user part may be a credential.
      return "baseURL must not contain credentials (user:password@); put the key in the environment variable "
        + "named by apiKeyEnvironmentVariable"
    }
    if parts.query != nil || parts.fragment != nil {
      return "baseURL must not have a query or fragment; write only the API root such as \"https://host/v1\""
    }
    return nil
  }

  private static func isEnvironmentVariableName(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
    else { return false }
    return text.unicodeScalars.allSatisfy {
      $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
    }
  }
}
