import Foundation
import PipeCore
import PipeManifest

/// LLM figures in `pipe inspect`, from the counters LLM stages keep per task
/// (`llm.ENDPOINT.calls`, `.cache_hits`, `.tokens_in`, `.tokens_out`, `.latency_ms`,
/// `.failures.KIND`).
extension Inspect {
  struct LLMUsage {
    var stage: String
    var endpoint: String
    var calls = 0
    var cacheHits = 0
    var tokensIn = 0
    var tokensOut = 0
    var latencyMilliseconds = 0
    var failures: [String: Int] = [:]

    /// Calls answered by the server (not from the cache), failures included.
    var sent: Int { calls - cacheHits }

    var failureCount: Int { failures.values.reduce(0, +) }
  }

  static func isLLMCounter(_ name: String) -> Bool { name.hasPrefix("llm.") }

  static func llmUsage(_ summaries: [StageSummary]) -> [LLMUsage] {
    var usage: [String: LLMUsage] = [:]
    var order: [String] = []
    for summary in summaries {
      for counter in summary.counters where isLLMCounter(counter.name) {
        // llm.ENDPOINT.NAME or llm.ENDPOINT.failures.KIND; endpoint names hold no dots.
        let parts = counter.name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3 else { continue }
        let key = summary.stage.id + "\u{0}" + parts[1]
        if usage[key] == nil {
          usage[key] = LLMUsage(stage: summary.stage.id, endpoint: parts[1])
          order.append(key)
        }
        switch parts[2] {
        case "calls": usage[key]?.calls += counter.value
        case "cache_hits": usage[key]?.cacheHits += counter.value
        case "tokens_in": usage[key]?.tokensIn += counter.value
        case "tokens_out": usage[key]?.tokensOut += counter.value
        case "latency_ms": usage[key]?.latencyMilliseconds += counter.value
        case let name where name.hasPrefix("failures."):
          usage[key]?.failures[String(name.dropFirst("failures.".count)), default: 0] += counter.value
        default: break
        }
      }
    }
    return order.compactMap { usage[$0] }
  }

  static func llmLines(_ usage: [LLMUsage]) -> [String] {
    guard !usage.isEmpty else { return [] }
    var rows = [
      ["STAGE", "ENDPOINT", "CALLS", "CACHE HITS", "SENT", "TOKENS IN", "TOKENS OUT", "MEAN LATENCY", "FAILURES"]
    ]
    for line in usage {
      let answered = line.sent - line.failureCount
      let latency = answered > 0 ? Commands.format(Double(line.latencyMilliseconds) / 1000 / Double(answered)) : "-"
      let failures = line.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
      rows.append([
        line.stage, line.endpoint, "\(line.calls)", "\(line.cacheHits)", "\(line.sent)", "\(line.tokensIn)",
        "\(line.tokensOut)", latency, failures.isEmpty ? "-" : failures,
      ])
    }
    return ["", "LLM calls:"] + aligned(rows).map { "  " + $0 }
  }

  static func llmJSON(_ usage: [LLMUsage]) -> JSONValue {
    .array(
      usage.map { line in
        .object([
          "stage": .string(line.stage), "endpoint": .string(line.endpoint), "calls": .int(Int64(line.calls)),
          "cacheHits": .int(Int64(line.cacheHits)), "sent": .int(Int64(line.sent)),
          "tokensIn": .int(Int64(line.tokensIn)), "tokensOut": .int(Int64(line.tokensOut)),
          "latencySeconds": .double(Double(line.latencyMilliseconds) / 1000),
          "failures": .object(
            JSONObject(line.failures.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
        ])
      })
  }
}
