import Foundation
import PipeCore
import PipeManifest

/// Training reports in `pipe inspect`: what each training stage measured on its held-out data.
extension Inspect {
  /// The reports of the done training stages among `summaries`, by stage.
  static func trainingReports(_ manifest: Manifest, summaries: [StageSummary]) throws -> [(String, JSONValue)] {
    var reports: [(String, JSONValue)] = []
    for summary in summaries where summary.status == "done" {
      guard let artifact = try manifest.artifacts(stage: summary.stage.id).first(where: { $0.name == "report.json" }),
        let data = FileManager.default.contents(atPath: artifact.path),
        let report = try? JSONValue.parse([UInt8](data))
      else { continue }
      reports.append((summary.stage.id, report))
    }
    return reports
  }

  /// One block per report: held-out pairwise accuracy per facet and the label correlation.
  static func trainingLines(_ reports: [(String, JSONValue)]) -> [String] {
    var lines: [String] = []
    for (stage, report) in reports {
      guard let object = report.objectValue else { continue }
      lines.append("")
      let groups = object["heldOutGroups"]?.intValue.map { " (\($0) held-out documents)" } ?? ""
      lines.append("training report of \(stage)\(groups):")
      var rows = [["FACET", "HELD-OUT PAIRS", "ACCURACY", "TIES", "OVERALL HEAD"]]
      for facet in object["facets"]?.arrayValue ?? [] {
        guard let facet = facet.objectValue else { continue }
        func number(_ key: String) -> String {
          facet[key]?.doubleValue.map { String(format: "%.3f", $0) } ?? "-"
        }
        rows.append([
          facet["facet"]?.stringValue ?? "?", facet["heldOutPairs"]?.intValue.map(String.init) ?? "-",
          number("accuracy"), facet["ties"]?.intValue.map(String.init) ?? "-", number("overallAccuracy"),
        ])
      }
      if rows.count > 1 { lines += aligned(rows).map { "  " + $0 } }
      let spearman = object["labelSpearman"]?.doubleValue.map { String(format: "%.3f", $0) } ?? "no held-out labels"
      lines.append("  label Spearman: \(spearman)")
    }
    return lines
  }
}
