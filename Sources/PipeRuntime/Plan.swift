import Foundation
import PipeCore
import PipeIO

/// Identifies a row of the manifest: a stage or step id and a shard (or group) index.
public struct TaskKey: Hashable, Sendable, CustomStringConvertible {
  /// The manifest stage id: a stage (`dedup`), a step of one (`dedup:index`) or `:export`.
  public let stage: String
  /// The shard (or group) index.
  public let shard: Int

  /// Creates a key.
  public init(stage: String, shard: Int) {
    self.stage = stage
    self.shard = shard
  }

  /// `stage[shard]`.
  public var description: String { "\(stage)[\(shard)]" }
}

/// How a stage decides its records, as the runtime runs them.
enum Decisions: Sendable {
  case record(any RecordStage)
  case batch(any BatchRecordStage)
  case stateful(any StatefulBatchStage)
  case decide(@Sendable (any StepContext) throws -> any RecordDecider)
}

/// What a row of the manifest does.
enum RowWork: Sendable {
  /// A stage's decisions on one shard.
  case records(Decisions)
  /// A pass over one shard that writes per-shard artifacts.
  case collect(RecordCollector)
  /// One task of a step over artifacts.
  case step(Step)
  /// The final export.
  case export(OutputSpec)
}

/// A shard a row reads: a pipeline input file, or the kept records of a row of an upstream
/// stage (on disk when that row is materialized, otherwise handed over in the same pass).
struct ShardRef: Sendable {
  /// The file (for an unmaterialized row, the file it would be).
  let path: String
  /// How rejects and the manifest name it: source files by absolute path, run shards relative
  /// to the run directory, so outputs do not depend on where the run directory is.
  let label: String
  /// The record row that makes it; nil for pipeline inputs.
  let producer: TaskKey?
  /// What its content depends on.
  let fingerprint: String
  /// Its size (a source's; an upstream shard's estimate), for progress.
  let bytes: Int
  /// Rows that must be done before it may be read, besides its producer (the plan of a
  /// stage whose records pass through).
  var extraDependencies: [TaskKey] = []
  /// For a Parquet input file: which columns are the text and the id.
  var columns = ParquetColumns()

  /// Whether it is a pipeline input file.
  var isSource: Bool { producer == nil }
}

/// One row of the manifest the run will write.
struct PlannedRow: Sendable {
  let key: TaskKey
  /// The user stage it belongs to; nil for the export.
  let stage: StageSpec?
  let work: RowWork
  let fingerprint: String
  /// The shard a per-shard row reads.
  let shard: ShardRef?
  /// What the manifest's `input` column says.
  let inputDescription: String
  /// Rows whose outputs this row reads.
  let dependencies: [TaskKey]
  /// Record rows: the kept-records shard (written only when materialized).
  let outputPath: String?
  /// Record rows: the rejects shard, when anything is dropped.
  let rejectsPath: String?
  /// Whether the kept records are written to `outputPath`.
  var materialized = false
  /// The task (its first row) this row runs in.
  var task: TaskKey
}

/// One task: the unit of scheduling, retry and resume. A fused chain completes one row per
/// stage (and per collect pass) on one shard in one pass; a step or the export one row.
struct PlannedTask: Sendable {
  enum Kind: Sendable {
    /// Rows over one shard in one pass; `children[i]` are the rows fed by row `i`'s kept records.
    case chain(children: [[Int]])
    /// One task of a step.
    case step
    /// The export, reading these shards in order.
    case export([ShardRef])
  }

  /// Its first row's key.
  let key: TaskKey
  /// Its rows; the first is the root.
  let rows: [PlannedRow]
  let kind: Kind
  /// Other tasks that must be done first.
  var dependencies: [TaskKey]
  /// Rows of an upstream stage a chain recomputes, silently, in front of its first row: the
  /// stage's records were not written (cheap to recompute), so the chain reads the shard they
  /// were made from and makes them again on the way.
  var prelude: [PlannedRow] = []
  /// Bytes of input, for progress and ETA.
  let inputBytes: Int
}

/// A manifest stage row to record before running.
struct PlannedStage: Sendable {
  let id: String
  let op: String
  let inputs: [String]
  let configJSON: String
  let fingerprint: String
  let taskCount: Int
}

/// Where each stage's artifacts live, so steps open them by name.
struct ArtifactDirectory: Sendable {
  /// Stage id, then artifact name: the step (manifest stage id) that writes it, and its spec.
  var locations: [String: [String: (step: String, spec: ArtifactSpec)]] = [:]
  /// Stage id, then a use it declared: the stage that makes the artifact.
  var makers: [String: [ArtifactUse: String]] = [:]
}

/// A planned run: stage rows, tasks in a runnable order, and where artifacts are.
struct Plan: Sendable {
  let stages: [PlannedStage]
  let tasks: [PlannedTask]
  let artifacts: ArtifactDirectory
  /// Every row by key.
  let rows: [TaskKey: PlannedRow]
  /// For each materialized record row, the tasks that read its shard.
  let readers: [TaskKey: [TaskKey]]
  /// For each stage with intermediate artifacts, the tasks that read them.
  let artifactReaders: [String: [TaskKey]]
  /// Each stage's input shards, in order.
  let stageInputs: [String: [ShardRef]]
}

/// Turns a validated pipeline into rows, fused tasks, fingerprints and dependencies.
struct Planner {
  let spec: PipelineSpec
  let layout: RunLayout

  /// The suffix of steps' manifest stage ids (`dedup` + `:` + `keys`); ':' never appears in ids.
  static func stepID(_ stage: String, _ step: String?) -> String {
    step.map { stage + ":" + $0 } ?? stage
  }

  /// The manifest stage id of the final export (':' keeps it apart from user ids).
  static let exportStageID = ":export"

  /// What a stage's plan is, whatever its implementation.
  static func stagePlan(_ implementation: StageImplementation) -> (plan: StagePlan, decisions: Decisions?) {
    switch implementation {
    case .record(let stage): return (StagePlan(records: .passThrough), .record(stage))
    case .batch(let stage): return (StagePlan(records: .passThrough), .batch(stage))
    case .statefulBatch(let stage): return (StagePlan(records: .passThrough), .stateful(stage))
    case .steps(let plan):
      if case .decide(let make) = plan.records { return (plan, .decide(make)) }
      return (plan, nil)
    }
  }

  /// Per stage: what the fusion needs to know.
  private struct StageShape {
    let stage: StageSpec
    let plan: StagePlan
    let decisions: Decisions?
    let shards: [ShardRef]
    var collectRows: [TaskKey] = []
    var stepRows: [[TaskKey]] = []
    var recordRows: [TaskKey] = []
    /// The stage whose record rows make this stage's output stream (itself, or through
    /// pass-through stages), or nil (a pipeline input, or no records).
    var streamOwner: String?
  }

  func plan() throws -> Plan {
    var streams: [String: [ShardRef]] = [:]
    var stageFingerprints: [String: String] = [:]
    var owners: [String: String?] = [:]
    for input in spec.inputs {
      let columns = ParquetColumns(text: input.textColumn, id: input.idColumn)
      // Column choices other than the defaults change what a Parquet file's records are.
      let columnParts = columns == ParquetColumns() ? [] : ["columns", columns.text, columns.id]
      streams[input.id] = input.files.map { file in
        let size = fileSize(file) ?? -1
        let mtime = fileModificationTime(file) ?? 0
        var shard = ShardRef(
          path: file, label: file, producer: nil,
          fingerprint: Fingerprint.of(["source", file, String(size), String(mtime)] + columnParts),
          bytes: max(size, 0))
        shard.columns = columns
        return shard
      }
      stageFingerprints[input.id] = Fingerprint.of(["input", input.id] + input.files)
      owners[input.id] = .some(nil)
    }

    var rows: [TaskKey: PlannedRow] = [:]
    var order: [TaskKey] = []
    var stages: [PlannedStage] = []
    var shapes: [String: StageShape] = [:]
    var directory = ArtifactDirectory()
    // The rows of the step that writes each (stage, artifact).
    var artifactRows: [String: [String: [TaskKey]]] = [:]
    let level = ["shardCompressionLevel", String(spec.shardCompressionLevel)]

    func add(_ row: PlannedRow) {
      rows[row.key] = row
      order.append(row.key)
    }

    for stage in spec.stages {
      let shards = stage.inputs.flatMap { streams[$0] ?? [] }
      let (plan, decisions) = Self.stagePlan(stage.implementation)
      let stageFingerprint = Fingerprint.of(
        ["stage", stage.op.qualifiedName, stage.config.canonicalText, String(spec.seed)]
          + stage.inputs.map { stageFingerprints[$0] ?? "" } + Self.referencedFiles(of: stage)
          + (stage.implementation.contentIdentity.map { ["content", $0] } ?? []))
      stageFingerprints[stage.id] = stageFingerprint
      var shape = StageShape(stage: stage, plan: plan, decisions: decisions, shards: shards)
      let op = stage.op.qualifiedName
      let config = stage.config.fullText
      func stageRow(_ id: String, inputs: [String], count: Int) {
        stages.append(
          PlannedStage(
            id: id, op: op, inputs: inputs, configJSON: config, fingerprint: stageFingerprint, taskCount: count))
      }
      var locations: [String: (step: String, spec: ArtifactSpec)] = [:]
      var earlier: [PlannedRow] = []

      // The pass over each input shard.
      if let collect = plan.collect {
        let id = Self.stepID(stage.id, collect.name)
        for spec in collect.writes { locations[spec.name] = (id, spec) }
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: id, shard: index)
          let row = PlannedRow(
            key: key, stage: stage, work: .collect(collect),
            fingerprint: Fingerprint.of([stageFingerprint, id, String(index), shard.fingerprint]), shard: shard,
            inputDescription: shard.path, dependencies: (shard.producer.map { [$0] } ?? []) + shard.extraDependencies,
            outputPath: nil, rejectsPath: nil, task: key)
          add(row)
          shape.collectRows.append(key)
          earlier.append(row)
        }
        for spec in collect.writes { artifactRows[stage.id, default: [:]][spec.name] = shape.collectRows }
        stageRow(id, inputs: stage.inputs, count: shards.count)
      }

      // The steps, each after every task of the one before.
      var previousID = plan.collect.map { Self.stepID(stage.id, $0.name) }
      for step in plan.steps {
        let id = Self.stepID(stage.id, step.name)
        for spec in step.writes { locations[spec.name] = (id, spec) }
        var keys: [TaskKey] = []
        var made: [PlannedRow] = []
        for index in 0..<step.taskCount {
          let key = TaskKey(stage: id, shard: index)
          var parts = [stageFingerprint, id]
          if case .grouped = step.shape { parts.append(String(index)) }
          parts += earlier.map(\.fingerprint)
          var dependencies = earlier.map(\.key)
          if step.readsInputRecords {
            parts += shards.map(\.fingerprint)
            dependencies += shards.flatMap { ($0.producer.map { [$0] } ?? []) + $0.extraDependencies }
          }
          let description: String
          if step.readsInputRecords {
            description = "\(shards.count) shards"
          } else if case .grouped(let count) = step.shape {
            description = "group \(index + 1) of \(count) over \(shards.count) shards"
          } else {
            description = "\(shards.count) shards' \(previousID ?? stage.id)"
          }
          let row = PlannedRow(
            key: key, stage: stage, work: .step(step), fingerprint: Fingerprint.of(parts), shard: nil,
            inputDescription: description, dependencies: dependencies, outputPath: nil, rejectsPath: nil, task: key)
          add(row)
          keys.append(key)
          made.append(row)
        }
        for spec in step.writes { artifactRows[stage.id, default: [:]][spec.name] = keys }
        shape.stepRows.append(keys)
        earlier += made
        stageRow(id, inputs: previousID.map { [$0] } ?? stage.inputs, count: keys.count)
        previousID = id
      }
      directory.locations[stage.id] = locations

      // Artifacts of other stages this stage uses.
      var usedRows: [PlannedRow] = []
      for use in plan.uses {
        let maker: String
        switch use.source {
        case .input: maker = stage.inputs.first ?? ""
        case .configKey(_, let id): maker = id
        }
        directory.makers[stage.id, default: [:]][use] = maker
        guard let keys = artifactRows[maker]?[use.artifact] else {
          throw PipeError(.config, "stage \(stage.id) uses \(use.artifact) of \(maker), which makes none")
        }
        usedRows += keys.compactMap { rows[$0] }
      }

      // A stateful stage's state after each shard, read by the next shard's task.
      if case .stateful? = decisions {
        locations[DecideLink.stateArtifact] = (stage.id, .kept(DecideLink.stateArtifact, indexed: true))
        directory.locations[stage.id] = locations
      }

      // The records, after the last step (or the collect pass, when there is no step).
      let lastKeys = Set(shape.stepRows.last ?? shape.collectRows)
      let lastStep = earlier.filter { lastKeys.contains($0.key) }
      var outputs: [ShardRef] = []
      if let decisions {
        var previous: PlannedRow? = nil
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          var parts = [stageFingerprint, stage.id, String(index), shard.fingerprint]
          parts += lastStep.map(\.fingerprint) + usedRows.map(\.fingerprint)
          var dependencies = (shard.producer.map { [$0] } ?? []) + shard.extraDependencies
          dependencies += lastStep.map(\.key) + usedRows.map(\.key)
          if case .stateful = decisions, let previous {
            parts.append(previous.fingerprint)
            dependencies.append(previous.key)
          }
          let outputPath = layout.dataShard(stage: stage.id, shard: index)
          let row = PlannedRow(
            key: key, stage: stage, work: .records(decisions), fingerprint: Fingerprint.of(parts + level),
            shard: shard, inputDescription: shard.path, dependencies: dependencies, outputPath: outputPath,
            rejectsPath: layout.rejectsShard(stage: stage.id, shard: index), task: key)
          add(row)
          shape.recordRows.append(key)
          previous = row
          outputs.append(
            ShardRef(
              path: outputPath, label: layout.relative(outputPath), producer: key, fingerprint: row.fingerprint,
              bytes: shard.bytes))
        }
        stageRow(stage.id, inputs: stage.inputs, count: shards.count)
        shape.streamOwner = stage.id
      } else if case .passThrough = plan.records {
        // The records are the input's; reading them waits for the plan.
        let planRows = lastStep
        outputs = shards.map { shard in
          var passed = ShardRef(
            path: shard.path, label: shard.label, producer: shard.producer,
            fingerprint: Fingerprint.of([shard.fingerprint] + planRows.map(\.fingerprint)), bytes: shard.bytes)
          passed.extraDependencies = shard.extraDependencies + planRows.map(\.key)
          return passed
        }
        shape.streamOwner = stage.inputs.count == 1 ? (owners[stage.inputs[0]] ?? nil) : nil
      }
      owners[stage.id] = .some(shape.streamOwner)
      streams[stage.id] = outputs
      shapes[stage.id] = shape
    }

    // The export.
    var exportShards: [ShardRef] = []
    if let output = spec.output {
      exportShards = streams[output.from] ?? []
      var exportConfig: JSONObject = [
        "from": .string(output.from), "path": .string(output.path),
        "targetShardBytes": .int(Int64(output.targetShardBytes)),
        "compressionLevel": .int(Int64(output.compressionLevel)),
      ]
      // Added only when set, so the fingerprints of exports without it stay as they were.
      if let chat = output.chat {
        exportConfig["chat"] = .object([
          "user": .string(chat.user), "assistant": .string(chat.assistant),
          "system": chat.system.map { .string($0) } ?? .null,
        ])
      }
      let configText = Fingerprint.canonical(exportConfig)
      let fingerprint = Fingerprint.of(["export", configText] + exportShards.map(\.fingerprint))
      let key = TaskKey(stage: Self.exportStageID, shard: 0)
      add(
        PlannedRow(
          key: key, stage: nil, work: .export(output), fingerprint: fingerprint, shard: nil,
          inputDescription: "\(exportShards.count) shards of \(output.from)",
          dependencies: exportShards.flatMap { ($0.producer.map { [$0] } ?? []) + $0.extraDependencies },
          outputPath: nil, rejectsPath: nil, task: key))
      stages.append(
        PlannedStage(
          id: Self.exportStageID, op: "export@1", inputs: [output.from], configJSON: configText,
          fingerprint: fingerprint, taskCount: 1))
    }

    var fusion = Fusion(spec: spec, rows: rows, order: order)
    fusion.stageInputs = shapes.mapValues(\.shards)
    for (id, shape) in shapes {
      fusion.stages[id] = Fusion.StageRows(
        collect: shape.collectRows, steps: shape.stepRows, records: shape.recordRows,
        hasSteps: shape.plan.collect != nil || !shape.plan.steps.isEmpty, usesArtifacts: !shape.plan.uses.isEmpty,
        isSequential: { if case .stateful? = shape.decisions { return true } else { return false } }(),
        readsInputRecords: shape.plan.steps.contains(where: \.readsInputRecords), streamOwner: shape.streamOwner,
        inputsHaveExtraDependencies: shape.shards.contains { !$0.extraDependencies.isEmpty },
        users: [], cheapToRecompute: shape.plan.recordsAreCheapToRecompute)
    }
    for (user, makers) in directory.makers {
      for maker in makers.values { fusion.stages[maker]?.users.append(user) }
    }
    return fusion.plan(stages: stages, directory: directory, exportShards: exportShards)
  }

  /// Path, size and modification time of every file a stage's config names (`.files` keys,
  /// such as benchmark files), so editing one reruns the stage.
  static func referencedFiles(of stage: StageSpec) -> [String] {
    stage.config.referencedFiles.map { file in
      "\(file.path):\(fileSize(file.path) ?? -1):\(fileModificationTime(file.path) ?? 0)"
    }
  }
}

/// Fingerprints: SHA-256 of length-prefixed parts, so ("ab","c") and ("a","bc") differ.
enum Fingerprint {
  static func of(_ parts: [String]) -> String {
    var hasher = SHA256()
    for part in parts {
      let bytes = Array(part.utf8)
      var length = UInt64(bytes.count).littleEndian
      withUnsafeBytes(of: &length) { hasher.update($0) }
      bytes.withUnsafeBytes { hasher.update($0) }
    }
    return String(SHA256.hex(hasher.finalize()).prefix(32))
  }

  static func canonical(_ object: JSONObject) -> String {
    JSONValue.object(object).canonicalText
  }
}
