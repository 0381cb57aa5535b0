import Foundation
import PipeCore
import PipeManifest
import PipeRuntime

/// `pipe why`: where a record came from and what every stage decided about it.
///
/// The manifest stores where each record entered the pipeline and every verdict that is not a
/// plain "kept" (dropped, modified). The stages a record passed are derived from the graph:
/// starting where it entered, it reaches every stage fed by a stage that kept it.
enum Why {
  struct Step {
    var stage: String
    var op: String
    var kind: String
    var reason: String?
    var detail: String?
  }

  static func run(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: [], flags: ["--json"], command: "why")
    try parsed.expectPositionals(2...2, usage: "pipe why RUN_DIR RECORD_ID [--json]")
    let layout = RunLayout(root: parsed.positionals[0])
    let recordID = parsed.positionals[1]
    guard FileManager.default.fileExists(atPath: layout.manifestPath) else {
      throw PipeError(.input, "no manifest here: is this a run directory made by `pipe run`?", file: layout.root)
    }
    let manifest = try Manifest.openReadOnly(path: layout.manifestPath)
    defer { try? manifest.close() }
    let history = try manifest.provenance(recordID: recordID)
    guard !history.origins.isEmpty || !history.verdicts.isEmpty else {
      throw PipeError(
        .input, "record \"\(recordID)\" is not in this run's manifest (ids are matched exactly)", file: layout.root)
    }
    let stages = try manifest.stages()
    let steps = derive(history: history, stages: stages)

    if parsed.flags.contains("--json") {
      let document: JSONValue = .object([
        "id": .string(recordID),
        "origins": .array(
          history.origins.map {
            .object([
              "source": .string($0.sourcePath), "line": .int(Int64($0.line)), "stage": .string($0.stage),
              "shard": .int(Int64($0.shard)),
            ])
          }),
        "stages": .array(
          steps.map { step in
            .object([
              "stage": .string(step.stage), "op": .string(step.op), "verdict": .string(step.kind),
              "reason": step.reason.map { .string($0) } ?? .null, "detail": step.detail.map { .string($0) } ?? .null,
            ])
          }),
      ])
      print(document.jsonText)
      return .success
    }
    var text = "record \(recordID)\n"
    for origin in history.origins {
      text += "  source: \(origin.sourcePath) line \(origin.line)\n"
    }
    if history.origins.isEmpty {
      text += "  source: unknown (the line was not a valid record; see the verdict below)\n"
    }
    let width = (steps.map { $0.stage.count + $0.op.count + 3 }.max() ?? 0)
    for step in steps {
      var line = "  " + "\(step.stage) (\(step.op))".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
      line += step.kind
      if let reason = step.reason { line += ": \(reason)" }
      if let detail = step.detail {
        let isDuplicate = step.reason == "duplicate" || step.reason == "near_duplicate"
        line += isDuplicate ? " of \(detail)" : " (\(detail))"
      }
      text += line + "\n"
    }
    print(text, terminator: "")
    return .success
  }

  /// Walks the graph from the stages where the record entered, in stage order.
  static func derive(history: RecordHistory, stages: [StageRow]) -> [Step] {
    let visible = stages.filter { !$0.id.hasSuffix(":keys") && !$0.id.hasSuffix(":index") }
    var reached = Set(history.origins.map(\.stage))
    reached.formUnion(history.verdicts.map(\.stage))
    var kept = Set<String>()
    var steps: [Step] = []
    for stage in visible.sorted(by: { $0.position < $1.position }) {
      let fed = stage.inputs.contains { kept.contains($0) }
      guard reached.contains(stage.id) || fed else { continue }
      let name = stage.id == ":export" ? "export" : stage.id
      if let verdict = history.verdicts.last(where: { $0.stage == stage.id }) {
        steps.append(
          Step(stage: name, op: stage.op, kind: verdict.kind.rawValue, reason: verdict.reason, detail: verdict.detail))
        if verdict.kind != .dropped { kept.insert(stage.id) }
      } else {
        steps.append(Step(stage: name, op: stage.op, kind: stage.id == ":export" ? "exported" : "kept"))
        kept.insert(stage.id)
      }
    }
    return steps
  }
}
