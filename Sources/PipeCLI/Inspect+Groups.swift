import Foundation
import PipeCore
import PipeManifest

/// Per-group figures in `pipe inspect`: totals that stages such as `tokens.count` and
/// `mixture.sample` keep as `tokens.GROUP` and `records.GROUP` counters, and mixture plans with
/// what the sampling stage really wrote beside them.
extension Inspect {
  /// One group's tokens and records in a stage's counters.
  struct GroupCount {
    var records = 0
    var tokens = 0
  }

  /// A plan, and the sampling stage that applied it, if any.
  struct PlanReport {
    var stage: String
    var policy: String
    var sampledBy: String?
    var groups: [PlannedGroup]
    /// Tokens and records the sampling stage wrote, by group.
    var sampled: [String: GroupCount]

    var sampledTokens: Int { sampled.values.reduce(0) { $0 + $1.tokens } }
  }

  static let groupCounterPrefixes = ["tokens.", "records."]

  /// Whether a counter is a per-group total (shown in a group table, not in the counter line).
  static func isGroupCounter(_ name: String) -> Bool {
    groupCounterPrefixes.contains { name.hasPrefix($0) }
  }

  /// The per-group totals among a stage's counters.
  static func groupCounts(_ counters: [StageCounter]) -> [String: GroupCount] {
    var groups: [String: GroupCount] = [:]
    for counter in counters {
      if counter.name.hasPrefix("tokens.") {
        groups[String(counter.name.dropFirst("tokens.".count)), default: GroupCount()].tokens += counter.value
      } else if counter.name.hasPrefix("records.") {
        groups[String(counter.name.dropFirst("records.".count)), default: GroupCount()].records += counter.value
      }
    }
    return groups
  }

  static func planReports(_ manifest: Manifest, summaries: [StageSummary]) throws -> [PlanReport] {
    try manifest.mixturePlans().map { plan in
      let summary = summaries.first { $0.stage.id == plan.stage }
      let sampler = summaries.first { $0.stage.inputs == [plan.stage] && $0.stage.op.hasPrefix("mixture.sample@") }
      let policy =
        summary.flatMap { try? JSONValue.parse($0.stage.configJSON).objectValue?["policy"]?.stringValue } ?? "?"
      return PlanReport(
        stage: plan.stage, policy: policy, sampledBy: sampler?.stage.id, groups: plan.groups,
        sampled: sampler.map { groupCounts($0.counters) } ?? [:])
    }
  }

  static func percent(_ share: Double) -> String {
    String(format: "%.1f%%", share * 100)
  }

  /// Text tables: one per plan (before, planned, and realized by the sampling stage), then one
  /// per other stage with group totals.
  static func groupLines(_ reports: [PlanReport], summaries: [StageSummary]) -> [String] {
    var lines: [String] = []
    let covered = Set(reports.compactMap(\.sampledBy))
    for report in reports {
      lines.append("")
      lines.append(
        "mixture plan of \(report.stage) (policy \(report.policy))"
          + (report.sampledBy.map { ", sampled by \($0)" } ?? ", not sampled yet") + ":")
      var rows = [["GROUP", "RECORDS", "TOKENS", "SHARE", "TARGET", "PLANNED", "RATE", "SAMPLED", "REALIZED"]]
      let total = report.sampledTokens
      for group in report.groups.sorted(by: { ($0.shareAfter, $1.name) > ($1.shareAfter, $0.name) }) {
        let sampled = report.sampled[group.name]
        rows.append([
          group.name, "\(group.records)", "\(group.tokensAvailable)", percent(group.shareBefore),
          "\(Int(group.tokensTargeted.rounded()))", percent(group.shareAfter), String(format: "%.3f", group.rate),
          report.sampledBy == nil ? "-" : "\(sampled?.tokens ?? 0)",
          report.sampledBy == nil || total == 0 ? "-" : percent(Double(sampled?.tokens ?? 0) / Double(total)),
        ])
      }
      lines += aligned(rows).map { "  " + $0 }
    }
    for summary in summaries where !covered.contains(summary.stage.id) {
      let groups = groupCounts(summary.counters)
      guard !groups.isEmpty else { continue }
      let total = groups.values.reduce(0) { $0 + $1.tokens }
      lines.append("")
      lines.append("groups of \(summary.stage.id):")
      var rows = [["GROUP", "RECORDS", "TOKENS", "SHARE"]]
      for (name, count) in groups.sorted(by: { ($0.value.tokens, $1.key) > ($1.value.tokens, $0.key) }) {
        rows.append([
          name, "\(count.records)", "\(count.tokens)", total > 0 ? percent(Double(count.tokens) / Double(total)) : "-",
        ])
      }
      lines += aligned(rows).map { "  " + $0 }
    }
    return lines
  }

  /// The plans as JSON for `pipe inspect --json`.
  static func planJSON(_ reports: [PlanReport]) -> JSONValue {
    .array(
      reports.map { report in
        let total = report.sampledTokens
        let groups: [JSONValue] = report.groups.map { group in
          var object: JSONObject = [
            "group": .string(group.name), "records": .int(Int64(group.records)),
            "tokensAvailable": .int(Int64(group.tokensAvailable)), "tokensTargeted": .double(group.tokensTargeted),
            "rate": .double(group.rate), "shareBefore": .double(group.shareBefore),
            "shareAfter": .double(group.shareAfter),
          ]
          if report.sampledBy != nil {
            let sampled = report.sampled[group.name] ?? GroupCount()
            object["recordsSampled"] = .int(Int64(sampled.records))
            object["tokensSampled"] = .int(Int64(sampled.tokens))
            object["shareSampled"] = .double(total > 0 ? Double(sampled.tokens) / Double(total) : 0)
          }
          return .object(object)
        }
        return .object([
          "stage": .string(report.stage), "policy": .string(report.policy),
          "sampledBy": report.sampledBy.map { .string($0) } ?? .null, "groups": .array(groups),
        ])
      })
  }

  /// Rows padded to column widths; the last column is not padded.
  static func aligned(_ rows: [[String]]) -> [String] {
    guard let first = rows.first else { return [] }
    let widths = (0..<first.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
  }
}
