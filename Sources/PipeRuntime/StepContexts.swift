import Foundation
import PipeCore
import PipeIO
import PipeManifest
import Synchronization

/// What every task of a run shares.
struct TaskEnvironment: Sendable {
  let layout: RunLayout
  let plan: Plan
  let seed: UInt64
  /// Tasks that may run at once (a step's share of a memory cap).
  let workers: Int
  let faults: FaultPlan
  /// zstd level of the run's shards.
  let compressionLevel: Int
  let cancellation: Cancellation
  let runID: Int64
  /// Where spill and scratch files go instead of the run directory: a Slurm job's node-local
  /// `$TMPDIR`. Nil on one machine (they go beside the files they become part of).
  var scratchFolder: String? = nil

  /// The folder for a task's spill and scratch files, `beside` unless a scratch folder is set.
  func scratchFolder(beside: String) -> String {
    scratchFolder ?? beside
  }
}

/// Set when a run is asked to stop; long loops check it and throw `PipeError(.cancelled)`.
final class Cancellation: Sendable {
  private let flag = Atomic<Bool>(false)

  /// Whether the run is stopping.
  var isCancelled: Bool { flag.load(ordering: .relaxed) }

  /// Asks running tasks to stop.
  func cancel() { flag.store(true, ordering: .relaxed) }

  /// Throws when the run is stopping.
  func check() throws {
    if isCancelled { throw PipeError(.cancelled, "interrupted") }
  }
}

/// What one row of a task gathers while it runs: counts, drops, counters, provenance, the
/// files it wrote and its time deciding.
final class RowResult {
  let row: PlannedRow
  var recordsIn = 0
  var recordsKept = 0
  var recordsDropped = 0
  var recordsEmitted = 0
  var bytesIn = 0
  var dropCounts: [String: Int] = [:]
  /// The counters stages add to (through their context).
  let counters = StageCounters()
  var provenance: ProvenanceSpool?
  var output: ShardSummary?
  var rejects: ShardSummary?
  var artifacts: [ArtifactRow] = []
  var plan: [PlannedGroup] = []
  /// Time in the stage's decisions, for rows that decide records.
  var decideNanoseconds: UInt64?

  init(row: PlannedRow) {
    self.row = row
  }

  func drop(_ reason: String) {
    recordsDropped += 1
    dropCounts[reason, default: 0] += 1
  }

  /// The manifest row.
  func completion(startedAt: Double, finishedAt: Double, runID: Int64) -> TaskCompletion {
    var completion = TaskCompletion(
      stage: row.key.stage, shard: row.key.shard, fingerprint: row.fingerprint, finishedAt: finishedAt,
      durationSeconds: finishedAt - startedAt, recordsIn: recordsIn, recordsKept: recordsKept,
      recordsDropped: recordsDropped, recordsEmitted: recordsEmitted, bytesIn: bytesIn, outputPath: output?.path,
      outputBytes: output?.fileBytes ?? 0, checksum: output?.checksum, rejectsPath: rejects?.path,
      dropCounts: dropCounts, artifacts: artifacts, provenance: provenance, counters: counters.values,
      mixtureGroups: plan, decideSeconds: decideNanoseconds.map { Double($0) / 1e9 })
    completion.input = row.inputDescription
    completion.runID = runID
    completion.startedAt = startedAt
    completion.chain = row.task.description
    switch row.work {
    case .records: completion.kind = "records"
    case .collect: completion.kind = "collect"
    case .step: completion.kind = "step"
    case .export: completion.kind = "export"
    }
    completion.rejectsBytes = rejects?.fileBytes ?? 0
    completion.rejectsChecksum = rejects?.checksum
    return completion
  }
}

/// A step's view of the run for one row: its artifacts by name, its counts and progress.
final class TaskStepContext: StepContext {
  let row: PlannedRow
  let result: RowResult
  let environment: TaskEnvironment
  let stage: StageContext
  let progress: TaskProgress
  private var outputs: [(name: String, index: Int?, writer: AtomicFileWriter)] = []
  private var scratchFiles: [BinaryFileWriter] = []
  private var countsSet = false
  private var inputRecords = 0

  init(
    row: PlannedRow, result: RowResult, environment: TaskEnvironment, services: StageServices, progress: TaskProgress
  ) {
    self.row = row
    self.result = result
    self.environment = environment
    self.progress = progress
    stage = StageContext(
      stageID: row.key.stage, seed: environment.seed, shardIndex: row.key.shard, counters: result.counters,
      services: services)
  }

  var stageID: String { row.stage?.id ?? row.key.stage }
  var index: Int { row.key.shard }
  var shardCount: Int { environment.plan.stageInputs[stageID]?.count ?? 0 }
  var concurrentTasks: Int { environment.workers }

  func setCounts(recordsIn: Int, kept: Int, dropped: Int) {
    countsSet = true
    result.recordsIn = recordsIn
    result.recordsKept = kept
    result.recordsDropped = dropped
  }

  func reportProgress(records: Int, bytes: Int) {
    progress.update(records: records, bytes: bytes)
  }

  func recordPlan(_ groups: [PlannedGroup]) {
    result.plan = groups
  }

  // MARK: - Artifacts

  private func location(_ artifact: String, of stage: String) throws -> (step: String, spec: ArtifactSpec) {
    guard let found = environment.plan.artifacts.locations[stage]?[artifact] else {
      throw PipeError(.stage, "internal error: stage \(stage) declares no artifact \(artifact)")
    }
    return found
  }

  private func path(_ artifact: String, of stage: String, index: Int?) throws -> String {
    let found = try location(artifact, of: stage)
    guard found.spec.isIndexed == (index != nil) else {
      throw PipeError(
        .stage, "internal error: artifact \(artifact) of \(stage) is \(found.spec.isIndexed ? "" : "not ")indexed")
    }
    return environment.layout.artifact(step: found.step, name: artifact, index: index)
  }

  func create(_ artifact: String, index: Int?) throws -> any ArtifactOutput {
    let found = try location(artifact, of: stageID)
    guard found.step == row.key.stage else {
      throw PipeError(.stage, "internal error: \(row.key.stage) writes \(artifact), which \(found.step) declares")
    }
    let writer = try AtomicFileWriter(path: try path(artifact, of: stageID, index: index))
    outputs.append((artifact, index, writer))
    return writer
  }

  func open(_ artifact: String, index: Int?) throws -> any ArtifactInput {
    try BinaryFile(path: try path(artifact, of: stageID, index: index))
  }

  func open(_ use: ArtifactUse, index: Int?) throws -> any ArtifactInput {
    guard let maker = environment.plan.artifacts.makers[stageID]?[use] else {
      throw PipeError(.stage, "internal error: stage \(stageID) did not declare that it uses \(use.artifact)")
    }
    return try BinaryFile(path: try path(use.artifact, of: maker, index: index))
  }

  func openExternal(path: String) throws -> any ArtifactInput {
    try BinaryFile(path: path)
  }

  func scratch(_ name: String) throws -> any ScratchFile {
    let folder = environment.scratchFolder(beside: environment.layout.artifactFolder(stage: row.key.stage))
    try createDirectories(folder)
    let stem = RunLayout.folderName(row.key.stage) + "-" + name + "-" + RunLayout.number(row.key.shard)
    let file = try BinaryFileWriter(path: "\(folder)/\(stem).\(ProcessInfo.processInfo.processIdentifier).tmp")
    scratchFiles.append(file)
    return file
  }

  func forEachInputRecord(_ body: (Record) throws -> Void) throws {
    let shards = environment.plan.stageInputs[stageID] ?? []
    var skipped = 0
    var bytesBefore = 0
    for shard in shards {
      let reader = try RecordReader(path: shard.path, columns: shard.columns)
      skipped += try reader.forEachRecord(
        progress: { [progress] lines, bytes in progress.update(records: lines, bytes: bytesBefore + bytes) }
      ) { record, _ in
        try environment.cancellation.check()
        try body(record)
      }
      inputRecords += reader.linesRead
      bytesBefore += reader.fileBytesRead
      result.bytesIn += reader.bytesRead
    }
    if skipped > 0 { result.counters.add("lines_not_records", skipped) }
  }

  // MARK: - End of the task

  /// Commits every artifact the step created (fsync, rename; folders synced once) and removes
  /// its scratch files.
  func commit() throws {
    var folders = Set<String>()
    for (name, index, writer) in outputs {
      let summary = try writer.commit()
      folders.insert((summary.path as NSString).deletingLastPathComponent)
      result.artifacts.append(
        ArtifactRow(
          name: RunLayout.artifactFileName(name, index: index), path: summary.path, bytes: summary.bytes,
          checksum: summary.checksum, shard: index))
    }
    outputs = []
    for folder in folders.sorted() { fsyncDirectory(folder) }
    removeScratch()
    if !countsSet && inputRecords > 0 {
      result.recordsIn = inputRecords
      result.recordsKept = inputRecords
    }
  }

  /// Removes everything the step wrote.
  func abandon() {
    for (_, _, writer) in outputs { writer.abandon() }
    outputs = []
    removeScratch()
  }

  private func removeScratch() {
    for file in scratchFiles {
      try? file.close()
      unlink(file.path)
    }
    scratchFiles = []
  }
}

/// Live counters a running task shares with the progress display.
final class TaskProgress: Sendable {
  private let state = Mutex<(records: Int, bytes: Int)>((0, 0))

  func update(records: Int, bytes: Int) {
    state.withLock { $0 = (records, bytes) }
  }

  var snapshot: (records: Int, bytes: Int) { state.withLock { $0 } }
}
