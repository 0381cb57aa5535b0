import Dispatch
import Foundation
public import PipeCore
public import PipeLLM

/// Reading endpoints from pipeline configs, running calls concurrently, and counting them:
/// what every LLM stage shares.
public enum LLMConfig {
  /// The keys an endpoint object takes, with their meaning (for errors and docs).
  static let endpointKeys = [
    "baseURL", "model", "apiKeyEnv", "maxConcurrentRequests", "requestsPerMinute", "timeoutSeconds",
    "totalTimeoutSeconds", "maxRetries", "backoffBaseSeconds", "backoffMaxSeconds", "circuitBreakerFailures",
    "circuitBreakerSeconds", "extraBody",
  ]

  /// Parses an endpoint object found at `keyPath` (for error paths) and named `name`.
  ///
  /// - Throws: `ConfigValueError` naming the member that is wrong.
  public static func endpoint(_ value: JSONValue, name: String, keyPath: String) throws -> Endpoint {
    guard let object = value.objectValue else {
      throw ConfigValueError(
        keyPath, "expected an endpoint object with baseURL and model, got \(value.typeDescription)")
    }
    for key in object.keys where !endpointKeys.contains(key) {
      throw ConfigValueError(
        "\(keyPath).\(key)", "unknown endpoint key (known: \(endpointKeys.joined(separator: ", ")))")
    }
    func string(_ key: String, required: Bool) throws -> String? {
      guard let value = object[key], value != .null else {
        if required { throw ConfigValueError("\(keyPath).\(key)", "required: expected a string") }
        return nil
      }
      guard let text = value.stringValue else {
        throw ConfigValueError("\(keyPath).\(key)", "expected a string, got \(value.typeDescription)")
      }
      return text
    }
    func number(_ key: String) throws -> Double? {
      guard let value = object[key], value != .null else { return nil }
      guard let number = value.doubleValue, number.isFinite, number >= 0 else {
        throw ConfigValueError("\(keyPath).\(key)", "expected a number >= 0, got \(value.jsonText.prefix(40))")
      }
      return number
    }
    let defaults = Endpoint(name: name, baseURL: "", model: "")
    let endpoint = Endpoint(
      name: name, baseURL: try string("baseURL", required: true) ?? "",
      model: try string("model", required: true) ?? "",
      apiKeyEnvironmentVariable: try string("apiKeyEnv", required: false),
      maxConcurrentRequests: try number("maxConcurrentRequests").map { Int($0) } ?? defaults.maxConcurrentRequests,
      requestsPerMinute: try number("requestsPerMinute"),
      timeoutSeconds: try number("timeoutSeconds") ?? defaults.timeoutSeconds,
      totalTimeoutSeconds: try number("totalTimeoutSeconds"),
      maxRetries: try number("maxRetries").map { Int($0) } ?? defaults.maxRetries,
      backoffBaseSeconds: try number("backoffBaseSeconds") ?? defaults.backoffBaseSeconds,
      backoffMaxSeconds: try number("backoffMaxSeconds") ?? defaults.backoffMaxSeconds,
      circuitBreakerFailures: try number("circuitBreakerFailures").map { Int($0) } ?? defaults.circuitBreakerFailures,
      circuitBreakerSeconds: try number("circuitBreakerSeconds") ?? defaults.circuitBreakerSeconds,
      extraBody: try extraBody())
    func extraBody() throws -> JSONObject {
      guard let value = object["extraBody"], value != .null else { return JSONObject() }
      guard let members = value.objectValue else {
        throw ConfigValueError(
          "\(keyPath).extraBody", "expected an object of request members, got \(value.typeDescription)")
      }
      return members
    }
    if let problem = endpoint.problems.first { throw ConfigValueError(keyPath, problem) }
    return endpoint
  }

  /// The run's client for `endpoint`.
  ///
  /// - Throws: `PipeError(.stage)` when the runtime lent no client pool (a stage run outside a
  ///   pipeline), or `.config` when the key variable is unset.
  static func client(for endpoint: Endpoint, context: StageContext) throws -> LLMClient {
    guard let pool = context.services.service(LLMClientPool.self) else {
      throw PipeError(.stage, "\(context.stageID): no LLM client pool in this run (internal error)")
    }
    return try pool.client(for: endpoint)
  }
}

/// What a stage does when an endpoint itself fails (down, overloaded, unreachable, after the
/// client's retries): it fails the task instead of rejecting records, so that `pipe resume`
/// redoes the task once the endpoint is back, paying only for requests not answered yet (the
/// answers received before the failure are in the task's journal and the run's cache).
/// Failures of one request (a 4xx such as a prompt too long for the context, an answer that
/// does not parse) stay rejects of that record.
enum EndpointOutage {
  /// The error that fails the task of `context`'s stage after `error`.
  static func taskError(_ error: LLMError, context: StageContext, during activity: String? = nil) -> PipeError {
    PipeError(
      .stage,
      "\(context.stageID): LLM endpoint '\(error.endpointName)' failed\(activity.map { " while \($0)" } ?? ""): "
        + "\(error.kind.rawValue): \(error.message). The task stopped so that no record is lost; the answers "
        + "received so far are kept in the run's cache. Bring the endpoint back, then run `pipe resume` (only "
        + "requests not answered yet are sent again)")
  }

  /// The first endpoint failure among `results`, as the task's error.
  static func firstFailure<Value>(
    in results: [Result<Value, LLMError>], context: StageContext
  ) -> PipeError? {
    for case .failure(let error) in results { return taskError(error, context: context) }
    return nil
  }
}

/// Counts one stage's calls in its task counters (`llm.ENDPOINT.calls`, `.cache_hits`,
/// `.tokens_in`, `.tokens_out`, `.failures.KIND`, `.latency_ms`), so `pipe inspect` can show
/// them per stage and they survive a resume with their task.
enum LLMCounters {
  static func record<Response>(_ reply: LLMReply<Response>, usage: TokenUsage?, endpoint: String, context: StageContext)
  {
    let prefix = "llm.\(endpoint)."
    context.counters.add(prefix + "calls")
    if reply.isCached {
      context.counters.add(prefix + "cache_hits")
    } else {
      context.counters.add(prefix + "latency_ms", Int((reply.latencySeconds * 1000).rounded()))
    }
    context.counters.add(prefix + "tokens_in", usage?.promptTokens ?? 0)
    context.counters.add(prefix + "tokens_out", usage?.completionTokens ?? 0)
  }

  static func failure(_ error: LLMError, endpoint: String, context: StageContext) {
    context.counters.add("llm.\(endpoint).calls")
    context.counters.add("llm.\(endpoint).failures.\(error.kind.rawValue)")
  }

  /// Sends `request` through `client`, counting the call, or its failure, for `endpoint`.
  ///
  /// - Throws: the client's `LLMError`, after counting it.
  static func send<Request: LLMRequest>(
    _ request: Request, with client: LLMClient, endpoint: String, context: StageContext
  ) throws -> LLMReply<Request.Response> {
    do {
      let reply = try client.send(request)
      record(reply, usage: reply.response.usage, endpoint: endpoint, context: context)
      return reply
    } catch let error as LLMError {
      failure(error, endpoint: endpoint, context: context)
      throw error
    }
  }
}

/// Runs `count` blocking jobs on their own threads (LLM calls wait on the network, so the
/// CPU count is no limit; the client's semaphore is) and returns their results in order.
enum Concurrently {
  static func map<Result: Sendable>(_ count: Int, _ job: @escaping @Sendable (Int) -> Result) -> [Result] {
    let results = ResultBox<Result>(count: count)
    let group = DispatchGroup()
    for index in 0..<count {
      group.enter()
      let thread = Thread {
        results.set(index, job(index))
        group.leave()
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
    group.wait()
    return results.values
  }

  private final class ResultBox<Result: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result?]

    init(count: Int) { slots = [Result?](repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result) {
      lock.lock()
      slots[index] = value
      lock.unlock()
    }

    var values: [Result] {
      lock.lock()
      defer { lock.unlock() }
      return slots.compactMap { $0 }
    }
  }
}

/// Prompt templates: `{text}`, `{id}` and `{metadata.KEY}` are replaced by the record's
/// values (strings as they are, other JSON as text); `{{` and `}}` are literal braces.
public struct PromptTemplate: Sendable, Equatable {
  enum Part: Sendable, Equatable {
    case literal(String)
    case text, id
    case metadata(String)
    case variable(String)
  }

  let parts: [Part]

  /// Parses `template`; `variables` are extra names the caller fills (such as `instruction`).
  ///
  /// - Throws: `ConfigValueError` at `keyPath` for an unknown or unclosed placeholder.
  public init(_ template: String, keyPath: String, variables: [String] = []) throws {
    var parts: [Part] = []
    var literal = ""
    var index = template.startIndex
    while index < template.endIndex {
      let character = template[index]
      let next = template.index(after: index)
      if character == "{", next < template.endIndex, template[next] == "{" {
        literal.append("{")
        index = template.index(after: next)
        continue
      }
      if character == "}", next < template.endIndex, template[next] == "}" {
        literal.append("}")
        index = template.index(after: next)
        continue
      }
      guard character == "{" else {
        literal.append(character)
        index = next
        continue
      }
      guard let close = template[next...].firstIndex(of: "}") else {
        throw ConfigValueError(keyPath, "unclosed '{' in the template (write {{ for a literal brace)")
      }
      let name = String(template[next..<close])
      if !literal.isEmpty { parts.append(.literal(literal)) }
      literal = ""
      switch name {
      case "text": parts.append(.text)
      case "id": parts.append(.id)
      case _ where name.hasPrefix("metadata.") && name.count > 9: parts.append(.metadata(String(name.dropFirst(9))))
      case _ where variables.contains(name): parts.append(.variable(name))
      default:
        let known = (["text", "id", "metadata.KEY"] + variables).map { "{\($0)}" }.joined(separator: ", ")
        throw ConfigValueError(keyPath, "unknown placeholder {\(name)} (known: \(known))")
      }
      index = template.index(after: close)
    }
    if !literal.isEmpty { parts.append(.literal(literal)) }
    self.parts = parts
  }

  /// The rendered prompt, or the name of the metadata key the record lacks.
  public func render(_ record: Record, variables: [String: String] = [:]) -> Result<String, MissingField> {
    var out = ""
    for part in parts {
      switch part {
      case .literal(let text): out += text
      case .text: out += record.text
      case .id: out += record.id
      case .variable(let name): out += variables[name] ?? ""
      case .metadata(let key):
        switch record.metadata(key) {
        case .string(let value)?: out += value
        case nil, .null?: return .failure(MissingField(name: "metadata." + key))
        case let other?: out += other.jsonText
        }
      }
    }
    return .success(out)
  }

  /// A field a template needs that a record lacks.
  public struct MissingField: Error, Sendable {
    /// `metadata.KEY`.
    public var name: String
  }
}
