import Foundation
import PipeCore
import PipeManifest
import PipeRuntime

/// `pipe inspect`: the state of a run, read from its manifest.
enum Inspect {
  struct StageSummary {
    var stage: StageRow
    var status: String
    var tasksDone = 0
    var tasksFailed = 0
    var tasksRunning = 0
    var recordsIn = 0
    var kept = 0
    var dropped = 0
    var emitted = 0
    var seconds = 0.0
    /// Time in the stage's decisions, when its tasks measured it.
    var decideSeconds: Double?
    var bytesIn = 0
    var drops: [DropCount] = []
    var counters: [StageCounter] = []
    /// The stages whose pass over each shard this stage's rows ran in (its own, when alone).
    var passes: [String] = []
    /// Done record rows whose kept records are on disk, were deleted after use, were not written.
    var written = 0
    var deleted = 0
    var notWritten = 0

    /// Whether the stage ran in another stage's pass, so its time is that pass's.
    var isFused: Bool { !passes.isEmpty && !passes.contains(stage.id) }

    var throughput: Double { seconds > 0 && !isFused ? Double(recordsIn) / seconds : 0 }

    /// What became of the kept records: written, passed on in the same pass, deleted after use.
    var output: String {
      if written + deleted + notWritten == 0 { return "-" }
      var parts: [String] = []
      if written > 0 { parts.append(written == tasksDone ? "written" : "written \(written)") }
      if deleted > 0 { parts.append(deleted == tasksDone ? "deleted" : "deleted \(deleted)") }
      if notWritten > 0 { parts.append(notWritten == tasksDone ? "passed on" : "passed on \(notWritten)") }
      return parts.joined(separator: ", ")
    }
  }

  static func summaries(_ manifest: Manifest) throws -> [StageSummary] {
    let tasks = try manifest.tasks()
    let drops = try manifest.dropCounts()
    let counters = try manifest.counters()
    return try manifest.stages().map { stage in
      var summary = StageSummary(stage: stage, status: "pending")
      for task in tasks where task.stage == stage.id {
        switch task.status {
        case .done:
          summary.tasksDone += 1
          if let chain = task.chain, let pass = chain.split(separator: "[").first.map(String.init),
            !summary.passes.contains(pass)
          {
            summary.passes.append(pass)
          }
          if task.kind == "records" {
            if task.outputDeletedAt != nil {
              summary.deleted += 1
            } else if task.outputPath != nil {
              summary.written += 1
            } else {
              summary.notWritten += 1
            }
          }
          summary.recordsIn += task.recordsIn
          summary.kept += task.recordsKept
          summary.dropped += task.recordsDropped
          summary.emitted += task.recordsEmitted
          summary.seconds += task.durationSeconds ?? 0
          if let decide = task.decideSeconds { summary.decideSeconds = (summary.decideSeconds ?? 0) + decide }
          summary.bytesIn += task.bytesIn
        case .failed: summary.tasksFailed += 1
        case .running: summary.tasksRunning += 1
        case .pending: break
        }
      }
      summary.counters = counters.filter { $0.stage == stage.id }
      summary.drops = drops.filter { $0.stage == stage.id }.sorted { ($0.count, $1.reason) > ($1.count, $0.reason) }
      if summary.tasksFailed > 0 {
        summary.status = "failed"
      } else if summary.tasksDone == stage.taskCount {
        summary.status = "done"
      } else if summary.tasksRunning > 0 {
        summary.status = "running"
      } else if summary.tasksDone > 0 {
        summary.status = "partial"
      }
      return summary
    }
  }

  /// The stage table as text lines.
  static func table(_ summaries: [StageSummary]) -> [String] {
    var rows: [[String]] = [
      [
        "STAGE", "OP", "STATUS", "TASKS", "IN", "KEPT", "DROPPED", "OUTPUT", "TIME", "DECIDING", "REC/S",
        "TOP DROP REASONS",
      ]
    ]
    for summary in summaries {
      let reasons = summary.drops.prefix(3).map { "\($0.reason) \($0.count)" }.joined(separator: ", ")
      // A stage that ran in another's pass shares that pass's time, shown once on its first stage.
      let time = summary.isFused ? "in " + summary.passes.joined(separator: ",") : Commands.format(summary.seconds)
      rows.append([
        summary.stage.id == ":export" ? "(export)" : summary.stage.id,
        summary.stage.op, summary.status, "\(summary.tasksDone)/\(summary.stage.taskCount)",
        "\(summary.recordsIn)", "\(summary.kept)", "\(summary.dropped)", summary.output, time,
        summary.decideSeconds.map(Commands.format) ?? "-",
        summary.throughput > 0 ? "\(Int(summary.throughput))" : "-", reasons.isEmpty ? "-" : reasons,
      ])
    }
    return aligned(rows)
  }

  static func summaryLines(runDirectory: String) throws -> [String] {
    let manifest = try Manifest.openReadOnly(path: RunLayout(root: runDirectory).manifestPath)
    defer { try? manifest.close() }
    return table(try summaries(manifest))
  }

  static func run(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: ["--stage"], flags: ["--json"], command: "inspect")
    try parsed.expectPositionals(1...1, usage: "pipe inspect RUN_DIR [--stage STAGE] [--json]")
    let layout = RunLayout(root: parsed.positionals[0])
    guard FileManager.default.fileExists(atPath: layout.manifestPath) else {
      throw PipeError(.input, "no manifest here: is this a run directory made by `pipe run`?", file: layout.root)
    }
    let manifest = try Manifest.openReadOnly(path: layout.manifestPath)
    defer { try? manifest.close() }
    let all = try summaries(manifest)
    let run = try manifest.latestRun()
    let failed = try manifest.tasks().filter { $0.status == .failed }
    var selected = all
    if let stage = parsed.value("--stage") {
      selected = all.filter { $0.stage.id == stage || $0.stage.id.hasPrefix(stage + ":") }
      guard !selected.isEmpty else {
        throw PipeError(
          .usage, "no stage \"\(stage)\" in this run (stages: \(all.map(\.stage.id).joined(separator: ", ")))")
      }
    }
    if parsed.flags.contains("--json") {
      var stages: [JSONValue] = []
      for summary in selected {
        var object: JSONObject = [
          "id": .string(summary.stage.id), "op": .string(summary.stage.op), "status": .string(summary.status),
          "tasks": .int(Int64(summary.stage.taskCount)), "tasksDone": .int(Int64(summary.tasksDone)),
          "tasksFailed": .int(Int64(summary.tasksFailed)), "recordsIn": .int(Int64(summary.recordsIn)),
          "recordsKept": .int(Int64(summary.kept)), "recordsDropped": .int(Int64(summary.dropped)),
          "recordsEmitted": .int(Int64(summary.emitted)), "seconds": .double(summary.seconds),
          "decideSeconds": summary.decideSeconds.map { .double($0) } ?? .null,
          "recordsPerSecond": .double(summary.throughput), "bytesIn": .int(Int64(summary.bytesIn)),
          "dropReasons": .object(JSONObject(summary.drops.map { ($0.reason, JSONValue.int(Int64($0.count))) })),
          "inputs": .array(summary.stage.inputs.map { .string($0) }), "fingerprint": .string(summary.stage.fingerprint),
          "counters": .object(JSONObject(summary.counters.map { ($0.name, JSONValue.int(Int64($0.value))) })),
          "passes": .array(summary.passes.map { .string($0) }), "output": .string(summary.output),
          "shardsWritten": .int(Int64(summary.written)), "shardsDeleted": .int(Int64(summary.deleted)),
          "shardsNotWritten": .int(Int64(summary.notWritten)),
        ]
        if parsed.value("--stage") != nil {
          object["taskList"] = .array(
            try manifest.tasks(stage: summary.stage.id).map { task in
              .object(taskObject(task))
            })
        }
        stages.append(.object(object))
      }
      var document: JSONObject = [
        "runDirectory": .string(layout.root), "stages": .array(stages),
        "mixturePlans": planJSON(try planReports(manifest, summaries: selected)),
        "llm": llmJSON(llmUsage(selected)),
        "agents": agentsJSON(try agentsReports(manifest, summaries: selected)),
        "trainingReports": .object(JSONObject(try trainingReports(manifest, summaries: selected))),
      ]
      if let run {
        document["run"] = .object([
          "id": .int(run.id), "pipeline": .string(run.pipelineName), "command": .string(run.command),
          "status": .string(run.status.rawValue), "startedAt": .double(run.startedAt),
          "finishedAt": run.finishedAt.map { .double($0) } ?? .null, "workers": .int(Int64(run.workers)),
        ])
      }
      document["failedTasks"] = .array(failed.map { .object(taskObject($0)) })
      if let slurm = try SlurmProgress.read(runDirectory: layout.root) { document["slurm"] = slurmJSON(slurm) }
      print(JSONValue.object(document).jsonText)
      return .success
    }
    var text = ""
    if let run {
      text +=
        "run \(run.id) of pipeline \(run.pipelineName) (\(run.command), \(run.workers) worker(s)): \(run.status.rawValue)\n"
    }
    text += "run directory: \(layout.root)\n\n"
    if let slurm = try SlurmProgress.read(runDirectory: layout.root) {
      text += slurmLines(slurm).joined(separator: "\n") + "\n\n"
    }
    text += table(selected).joined(separator: "\n") + "\n"
    // Per-group totals get tables of their own below; the rest fit on a line per stage.
    let counted = selected.compactMap { summary -> (String, [StageCounter])? in
      let plain = summary.counters.filter { !isGroupCounter($0.name) && !isLLMCounter($0.name) }
      return plain.isEmpty ? nil : (summary.stage.id, plain)
    }
    if !counted.isEmpty {
      text += "\ncounters:\n"
      for (stage, counters) in counted {
        text += "  \(stage): " + counters.map { "\($0.name) \($0.value)" }.joined(separator: ", ") + "\n"
      }
    }
    let deletedArtifacts = try manifest.allArtifacts().filter { $0.artifact.deletedAt != nil }
    let deletedShards = selected.filter { $0.deleted > 0 }
    if !deletedArtifacts.isEmpty || !deletedShards.isEmpty {
      text += "\ndeleted after use (keepIntermediates: false):\n"
      for summary in deletedShards {
        text += "  kept records of \(summary.stage.id): \(summary.deleted) shard(s)\n"
      }
      var byStep: [String: Int] = [:]
      for entry in deletedArtifacts { byStep[entry.stage, default: 0] += 1 }
      for (step, count) in byStep.sorted(by: { $0.key < $1.key }) {
        text += "  artifacts of \(step): \(count) file(s)\n"
      }
    }
    let groupTable = groupLines(try planReports(manifest, summaries: selected), summaries: selected)
    if !groupTable.isEmpty { text += groupTable.joined(separator: "\n") + "\n" }
    let training = trainingLines(try trainingReports(manifest, summaries: selected))
    if !training.isEmpty { text += training.joined(separator: "\n") + "\n" }
    let agents = agentsLines(try agentsReports(manifest, summaries: selected))
    if !agents.isEmpty { text += agents.joined(separator: "\n") + "\n" }
    let llmTable = llmLines(llmUsage(selected))
    if !llmTable.isEmpty { text += llmTable.joined(separator: "\n") + "\n" }
    if let stage = parsed.value("--stage") {
      text += "\ntasks of \(stage):\n"
      for summary in selected {
        for task in try manifest.tasks(stage: summary.stage.id) {
          text += "  \(task.stage)[\(task.shard)] \(task.status.rawValue) attempt \(task.attempt)"
          text += " in \(task.recordsIn) kept \(task.recordsKept) dropped \(task.recordsDropped)"
          text += " \(Commands.format(task.durationSeconds ?? 0))  \(task.input)\n"
        }
      }
    }
    if !failed.isEmpty {
      text += "\nfailed tasks:\n"
      for task in failed {
        var place = task.errorFile ?? task.input
        if let line = task.errorLine { place += ":\(line)" }
        text += "  \(task.stage)[\(task.shard)] attempt \(task.attempt): \(place): \(task.error ?? "unknown error")\n"
      }
    }
    print(text, terminator: "")
    return .success
  }

  /// The tasks of a Slurm submission in flight, per task stage (the table above it shows the
  /// manifest, which the collector fills in at the end).
  static func slurmLines(_ progress: SlurmProgress) -> [String] {
    var lines = [
      "Slurm submission \(progress.round) in progress; the manifest is filled in by the collect job "
        + "\(progress.collector ?? "?") (\(progress.collectorState?.lowercased() ?? "not listed")) when every job has ended:"
    ]
    let rows =
      [["TASKS OF", "JOBS", "DONE", "RUNNING", "PENDING", "FAILED"]]
      + progress.stages.map {
        [$0.stage, $0.jobs.joined(separator: ","), "\($0.done)", "\($0.running)", "\($0.pending)", "\($0.failed)"]
      }
    let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
      lines.append(
        "  "
          + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
          .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
    return lines
  }

  static func slurmJSON(_ progress: SlurmProgress) -> JSONValue {
    .object([
      "submission": .int(Int64(progress.round)), "collector": progress.collector.map { .string($0) } ?? .null,
      "collectorState": progress.collectorState.map { .string($0) } ?? .null,
      "stages": .array(
        progress.stages.map {
          .object([
            "stage": .string($0.stage), "jobs": .array($0.jobs.map { .string($0) }), "done": .int(Int64($0.done)),
            "running": .int(Int64($0.running)), "pending": .int(Int64($0.pending)), "failed": .int(Int64($0.failed)),
          ])
        }),
    ])
  }

  static func taskObject(_ task: TaskRow) -> JSONObject {
    [
      "stage": .string(task.stage), "shard": .int(Int64(task.shard)), "input": .string(task.input),
      "status": .string(task.status.rawValue), "attempt": .int(Int64(task.attempt)),
      "recordsIn": .int(Int64(task.recordsIn)), "recordsKept": .int(Int64(task.recordsKept)),
      "recordsDropped": .int(Int64(task.recordsDropped)), "seconds": .double(task.durationSeconds ?? 0),
      "decideSeconds": task.decideSeconds.map { .double($0) } ?? .null,
      "output": task.outputPath.map { .string($0) } ?? .null, "checksum": task.checksum.map { .string($0) } ?? .null,
      "rejects": task.rejectsPath.map { .string($0) } ?? .null, "chain": task.chain.map { .string($0) } ?? .null,
      "kind": task.kind.map { .string($0) } ?? .null,
      "outputDeletedAt": task.outputDeletedAt.map { .double($0) } ?? .null,
      "error": task.error.map { .string($0) } ?? .null, "errorFile": task.errorFile.map { .string($0) } ?? .null,
      "errorLine": task.errorLine.map { .int(Int64($0)) } ?? .null,
    ]
  }
}
