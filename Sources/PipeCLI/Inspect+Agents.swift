import Foundation
import PipeCore
import PipeManifest

/// Star-Agents in `pipe inspect`: how the pair probabilities evolved (the state each shard's
/// task saved), the share of seeds each pair won, and how the judge and the difficulty scorers
/// did (the stage's counters).
extension Inspect {
  /// One `agents.star` stage's evolution.
  struct AgentsReport {
    var stage: String
    var pairs: [String]
    /// The probabilities at the start (uniform), then after each shard done so far.
    var trajectory: [[Double]]
    /// Seeds won per pair name (base pairs included), in the order of `pairs` then the rest.
    var wins: [(pair: String, seeds: Int)]
    var seeds: Int
    var judgeReadings: Int
    var judgeUnparsable: Int
    var judgeFollowups: Int
    var swappedComparisons: Int
    var swapAgreed: Int
    var difficultyFallbacks: Int
  }

  /// The reports of the `agents.star` stages among `summaries`.
  static func agentsReports(_ manifest: Manifest, summaries: [StageSummary]) throws -> [AgentsReport] {
    var reports: [AgentsReport] = []
    for summary in summaries where summary.stage.op.hasPrefix("agents.star@") {
      let states = try manifest.artifacts(stage: summary.stage.id)
        .filter { $0.name.hasPrefix("state") && $0.shard != nil }
        .sorted { ($0.shard ?? 0) < ($1.shard ?? 0) }
      var pairs: [String] = []
      var trajectory: [[Double]] = []
      for state in states {
        guard let data = FileManager.default.contents(atPath: state.path),
          let object = (try? JSONValue.parse([UInt8](data)))?.objectValue,
          let names = object["pairs"]?.arrayValue?.compactMap(\.stringValue),
          let probabilities = object["probabilities"]?.arrayValue?.compactMap(\.doubleValue)
        else { continue }
        pairs = names
        trajectory.append(probabilities)
      }
      let counters = Dictionary(summary.counters.map { ($0.name, $0.value) }, uniquingKeysWith: +)
      let wonBy = summary.counters.filter { $0.name.hasPrefix("winner.") }
        .map { (pair: String($0.name.dropFirst("winner.".count)), seeds: $0.value) }
      guard !pairs.isEmpty || !wonBy.isEmpty else { continue }
      if !pairs.isEmpty { trajectory.insert([Double](repeating: 1 / Double(pairs.count), count: pairs.count), at: 0) }
      let ordered =
        pairs.map { pair in (pair: pair, seeds: wonBy.first { $0.pair == pair }?.seeds ?? 0) }
        + wonBy.filter { !pairs.contains($0.pair) }.sorted { $0.pair < $1.pair }
      reports.append(
        AgentsReport(
          stage: summary.stage.id, pairs: pairs, trajectory: trajectory, wins: ordered,
          seeds: wonBy.reduce(0) { $0 + $1.seeds }, judgeReadings: counters["judge_readings"] ?? 0,
          judgeUnparsable: counters["judge_unparsable"] ?? 0, judgeFollowups: counters["judge_followups"] ?? 0,
          swappedComparisons: counters["judge_swapped_comparisons"] ?? 0,
          swapAgreed: counters["judge_swap_agreed"] ?? 0,
          difficultyFallbacks: counters["difficulty_offline_fallback"] ?? 0))
    }
    return reports
  }

  static func agentsLines(_ reports: [AgentsReport]) -> [String] {
    var lines: [String] = []
    for report in reports {
      lines.append("")
      lines.append("Star-Agents \(report.stage): pair probabilities after each shard, and seeds won:")
      let steps = report.trajectory.count
      var header = ["PAIR"]
      if steps > 0 {
        header.append("START")
        header += (1..<steps).map { "SHARD \($0 - 1)" }
      }
      header.append("SEEDS WON")
      var rows = [header]
      for win in report.wins {
        var row = [win.pair]
        if let index = report.pairs.firstIndex(of: win.pair) {
          row += report.trajectory.map { String(format: "%.3f", $0[index]) }
        } else {
          row[0] += " (base)"
          row += [String](repeating: "-", count: steps)
        }
        row.append("\(win.seeds) (\(percent(win.seeds, of: report.seeds)))")
        rows.append(row)
      }
      lines += aligned(rows).map { "  " + $0 }
      let parsed = report.judgeReadings - report.judgeUnparsable
      lines.append(
        "  judge: \(parsed) of \(report.judgeReadings) verdicts parsed (\(percent(parsed, of: report.judgeReadings)); "
          + "\(report.judgeFollowups) asked for again after a comparison without one); "
          + "both positions agreed in \(report.swapAgreed) of \(report.swappedComparisons) comparisons "
          + "(\(percent(report.swapAgreed, of: report.swappedComparisons)))")
      lines.append("  difficulty: \(report.difficultyFallbacks) offline n-gram fallback(s)")
    }
    return lines
  }

  static func agentsJSON(_ reports: [AgentsReport]) -> JSONValue {
    .array(
      reports.map { report in
        .object([
          "stage": .string(report.stage), "pairs": .array(report.pairs.map { .string($0) }),
          "trajectory": .array(report.trajectory.map { .array($0.map { .double($0) }) }),
          "seedsWon": .object(JSONObject(report.wins.map { ($0.pair, .int(Int64($0.seeds))) })),
          "seeds": .int(Int64(report.seeds)),
          "judgeReadings": .int(Int64(report.judgeReadings)), "judgeUnparsable": .int(Int64(report.judgeUnparsable)),
          "judgeFollowups": .int(Int64(report.judgeFollowups)),
          "swappedComparisons": .int(Int64(report.swappedComparisons)), "swapAgreed": .int(Int64(report.swapAgreed)),
          "difficultyFallbacks": .int(Int64(report.difficultyFallbacks)),
        ])
      })
  }

  private static func percent(_ part: Int, of whole: Int) -> String {
    whole > 0 ? String(format: "%.1f%%", 100 * Double(part) / Double(whole)) : "-"
  }
}
