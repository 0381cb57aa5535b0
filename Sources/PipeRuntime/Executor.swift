import Foundation
public import PipeCore
import PipeIO
import PipeManifest

/// What to run and how.
public struct RunRequest: Sendable {
  /// The validated pipeline.
  public var spec: PipelineSpec
  /// The pipeline file's path (recorded in the manifest so `pipe resume` can find the inputs).
  public var pipelinePath: String
  /// The pipeline file's text (recorded so `pipe resume` runs what was started).
  public var pipelineText: String
  /// The run directory.
  public var runDirectory: String
  /// Worker threads.
  public var workers: Int
  /// Stages to rerun even when up to date (their downstream reruns too).
  public var forcedStages: Set<String>
  /// `run` or `resume`, recorded in the manifest.
  public var command: String
  /// Whether to draw a progress line on stderr.
  public var showProgress: Bool
  /// Whether Ctrl-C and SIGTERM stop the run cleanly (the CLI's runs; off for tests in-process).
  public var handlesInterrupts: Bool
  /// Seconds running tasks get to finish after Ctrl-C or SIGTERM before they are abandoned.
  public var interruptGraceSeconds: Double

  /// Creates a request.
  public init(
    spec: PipelineSpec, pipelinePath: String, pipelineText: String, runDirectory: String, workers: Int,
    forcedStages: Set<String> = [], command: String = "run", showProgress: Bool = false,
    handlesInterrupts: Bool = false, interruptGraceSeconds: Double = 5
  ) {
    self.spec = spec
    self.pipelinePath = pipelinePath
    self.pipelineText = pipelineText
    self.runDirectory = runDirectory
    self.workers = workers
    self.forcedStages = forcedStages
    self.command = command
    self.showProgress = showProgress
    self.handlesInterrupts = handlesInterrupts
    self.interruptGraceSeconds = interruptGraceSeconds
  }
}

/// How a run ended.
public struct RunOutcome: Sendable {
  /// Whether every task is done.
  public var succeeded: Bool
  /// Tasks run in this invocation.
  public var tasksRun: Int
  /// Tasks found up to date and skipped.
  public var tasksSkipped: Int
  /// Tasks that failed, with their errors.
  public var failures: [(task: TaskKey, error: String)]
  /// Tasks not run because something they read failed.
  public var blocked: [TaskKey]
  /// Task keys run in this invocation, in completion order.
  public var ranTasks: [TaskKey]
  /// Tasks a signal stopped before they started or finished.
  public var notRun: [TaskKey]
  /// The signal that interrupted the run (SIGINT, SIGTERM), if one did.
  public var interruptedBy: Int32?
  /// Tasks that ran only to recompute files deleted after use that a task needed again.
  public var regenerated: [TaskKey]
  /// The export folder, when the pipeline has an output.
  public var outputFolder: String?
  /// Records in the export.
  public var outputRecords: Int?
  /// The run directory.
  public var runDirectory: String
  /// Wall-clock seconds of this invocation.
  public var seconds: Double
}

/// Runs a pipeline in a run directory: plans rows and fused tasks, skips what is up to date,
/// runs the rest on a pool of workers following the task graph, and merges each task's ledger
/// into the manifest as it finishes.
public enum Executor {
  /// Runs `request`; throws only for problems that stop the run from starting (lock, manifest,
  /// config). Task failures are reported in the outcome.
  public static func run(_ request: RunRequest) throws -> RunOutcome {
    let started = Date()
    let prepared = try prepare(request, started: started)
    defer { prepared.close() }
    let (layout, plan, manifest, runID) = (prepared.layout, prepared.plan, prepared.manifest, prepared.runID)
    let toRun = prepared.toRun
    let intermediates = prepared.intermediates
    try intermediates?.sweep()

    // The record lookup indexes are rebuilt once at the end rather than updated row by row.
    if !toRun.isEmpty { try manifest.dropRecordLookupIndexes() }
    let environment = TaskEnvironment(
      layout: layout, plan: plan, seed: request.spec.seed, workers: max(1, request.workers),
      faults: FaultPlan.fromEnvironment(), compressionLevel: request.spec.shardCompressionLevel,
      cancellation: Cancellation(), runID: runID)
    let scheduler = Scheduler(
      tasks: toRun, manifest: manifest, environment: environment, services: RunServices(manifest: manifest),
      intermediates: intermediates, showProgress: request.showProgress, stageOrder: plan.stages.map(\.id))
    var watch: InterruptWatch? = nil
    if request.handlesInterrupts {
      let grace = request.interruptGraceSeconds
      watch = InterruptWatch { signalNumber in scheduler.requestStop(signal: signalNumber, graceSeconds: grace) }
    }
    scheduler.runAll()
    watch?.stop()

    let failures = scheduler.failures
    let interruptedBy = scheduler.stopSignal
    let succeeded = failures.isEmpty && scheduler.blocked.isEmpty && scheduler.notRun.isEmpty && interruptedBy == nil
    let status: RunStatus = interruptedBy != nil ? .interrupted : succeeded ? .succeeded : .failed
    try manifest.finishRun(
      id: runID, status: status,
      error: interruptedBy.map { "interrupted by \(signalName($0))" }
        ?? failures.first.map { "\($0.task): \($0.error)" },
      finishedAt: Date().timeIntervalSince1970)
    // After the run's end is recorded: a failure here (a full disk) is reported, yet loses
    // nothing, since lookups work without the indexes (by scanning). The tasks' buffers are
    // handed back to the system first: the index build's sorting is the run's last and often
    // highest peak of memory, and would otherwise come on top of the heap the tasks left free.
    releaseFreeHeap()
    try manifest.buildRecordLookupIndexes()

    var outputFolder: String? = nil
    var outputRecords: Int? = nil
    if let output = request.spec.output {
      outputFolder = layout.outputFolder(output.path)
      if succeeded, let row = try manifest.task(stage: Planner.exportStageID, shard: 0) {
        outputRecords = row.recordsKept
      }
    }
    return RunOutcome(
      succeeded: succeeded, tasksRun: scheduler.completed.count, tasksSkipped: plan.tasks.count - toRun.count,
      failures: failures, blocked: scheduler.blocked, ranTasks: scheduler.completed, notRun: scheduler.notRun,
      interruptedBy: interruptedBy, regenerated: prepared.regenerated, outputFolder: outputFolder,
      outputRecords: outputRecords, runDirectory: layout.root, seconds: Date().timeIntervalSince(started))
  }

  /// Plans the run, takes the run directory's lock, records the run and its stages in the
  /// manifest, merges the ledgers of tasks that finished after the last writer died, and
  /// decides what must run: the part every executor shares.
  static func prepare(_ request: RunRequest, started: Date) throws -> PreparedRun {
    let layout = RunLayout(root: request.runDirectory)
    // Plan first: a pipeline that cannot be planned must not leave a run directory behind.
    let plan = try Planner(spec: request.spec, layout: layout).plan()
    try createDirectories(layout.root)
    // Jobs of an earlier Slurm submission still queued or running write into this directory
    // (checked before taking the lock, which their collect job will need).
    try SlurmSubmission.refuseIfInFlight(layout: layout)
    let lock = try DirectoryLock(path: layout.lockPath)
    let manifest: Manifest
    do {
      manifest = try Manifest(path: layout.manifestPath)
    } catch {
      lock.release()
      throw error
    }
    do {
      try saveCopy(request.pipelineText, to: layout.pipelineCopyPath)
      let runID = try manifest.startRun(
        pipelineName: request.spec.name, pipelinePath: request.pipelinePath, pipelineJSON: request.pipelineText,
        seed: request.spec.seed, workers: request.workers, command: request.command,
        startedAt: started.timeIntervalSince1970)
      for (position, stage) in plan.stages.enumerated() {
        _ = try manifest.recordStage(
          id: stage.id, op: stage.op, position: position, inputs: stage.inputs, configJSON: stage.configJSON,
          fingerprint: stage.fingerprint, taskCount: stage.taskCount)
      }
      try manifest.removeStages(notIn: plan.stages.map(\.id))
      // Tasks that finished but were not merged when the last process died.
      _ = try Ledgers.recover(plan: plan, layout: layout, manifest: manifest)
      try Ledgers.removeLeftoverTemporaries(layout: layout)

      // Decide what runs: tasks not up to date, forced ones, and everything reading from them.
      let state = try RunState(manifest: manifest)
      var mustRun = Set<TaskKey>()
      for task in plan.tasks {
        let forced = task.rows.contains { request.forcedStages.contains($0.stage?.id ?? "export") }
        let dependencyRuns = task.dependencies.contains { mustRun.contains($0) }
        if forced || dependencyRuns || !state.isUpToDate(task, layout: layout) {
          mustRun.insert(task.key)
        }
      }
      // A task that must run reads files a done task wrote; with `keepIntermediates: false`
      // they may have been deleted after use: that task runs again to recompute them (and so on
      // upstream, to the nearest data that was kept). Its outputs are the same bytes, so nothing
      // downstream of it reruns for that.
      let tasksByKey = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.key, $0) })
      var regenerated: [TaskKey] = []
      var work = Array(mustRun)
      while let key = work.popLast() {
        for dependency in tasksByKey[key]?.dependencies ?? [] where !mustRun.contains(dependency) {
          guard let upstream = tasksByKey[dependency], state.deletedFiles(of: upstream) else { continue }
          mustRun.insert(dependency)
          regenerated.append(dependency)
          work.append(dependency)
        }
      }
      let intermediates =
        request.spec.keepIntermediates ? nil : Intermediates(plan: plan, manifest: manifest, toRun: mustRun)
      return PreparedRun(
        layout: layout, plan: plan, lock: lock, manifest: manifest, runID: runID,
        toRun: plan.tasks.filter { mustRun.contains($0.key) }, regenerated: regenerated, intermediates: intermediates)
    } catch {
      try? manifest.close()
      lock.release()
      throw error
    }
  }

  /// `SIGINT` or `SIGTERM`.
  public static func signalName(_ signalNumber: Int32) -> String {
    switch signalNumber {
    case SIGINT: return "SIGINT"
    case SIGTERM: return "SIGTERM"
    default: return "signal \(signalNumber)"
    }
  }

  static func saveCopy(_ text: String, to path: String) throws {
    let writer = try ShardWriter(path: path)
    try writer.write(Array(text.utf8))
    _ = try writer.commit()
  }
}

/// A run planned, locked and recorded, with what must run decided.
struct PreparedRun {
  let layout: RunLayout
  let plan: Plan
  let lock: DirectoryLock
  let manifest: Manifest
  let runID: Int64
  /// The tasks to run, in plan order.
  let toRun: [PlannedTask]
  /// Tasks that run only to recompute intermediates deleted after use.
  let regenerated: [TaskKey]
  /// With `keepIntermediates: false`: what deletes intermediates after their last reader.
  let intermediates: Intermediates?

  /// Closes the manifest and releases the lock.
  func close() {
    try? manifest.close()
    lock.release()
  }
}

/// What the manifest says about the rows and their files, read once at the start of a run.
struct RunState {
  let rows: [TaskKey: TaskRow]
  let artifacts: [TaskKey: [ArtifactRow]]

  init(manifest: Manifest) throws {
    var rows: [TaskKey: TaskRow] = [:]
    for row in try manifest.tasks() { rows[TaskKey(stage: row.stage, shard: row.shard)] = row }
    var artifacts: [TaskKey: [ArtifactRow]] = [:]
    for (stage, shard, artifact) in try manifest.allArtifacts() {
      artifacts[TaskKey(stage: stage, shard: shard), default: []].append(artifact)
    }
    self.rows = rows
    self.artifacts = artifacts
  }

  /// A task is up to date when the manifest says each of its rows is done with the same
  /// fingerprint, and every file they wrote is still there with the recorded size (or was
  /// deleted on purpose after use). A changed or missing file is noticed without hashing;
  /// `pipe verify` hashes.
  func isUpToDate(_ task: PlannedTask, layout: RunLayout) -> Bool {
    task.rows.allSatisfy { planned in
      guard let row = rows[planned.key], row.status == .done, row.fingerprint == planned.fingerprint else {
        return false
      }
      if planned.materialized {
        guard let output = row.outputPath else { return false }
        if row.outputDeletedAt == nil && fileSize(output) != row.outputBytes { return false }
      }
      if let rejects = row.rejectsPath {
        let size = fileSize(rejects)
        if size == nil || (row.rejectsChecksum != nil && size != row.rejectsBytes) { return false }
      }
      for artifact in artifacts[planned.key] ?? [] where artifact.deletedAt == nil {
        if fileSize(artifact.path) != artifact.bytes { return false }
      }
      if case .export(let output) = planned.work {
        return fileSize(layout.outputFolder(output.path) + "/manifest.json") != nil
      }
      return true
    }
  }

  /// Whether a done task's files were deleted after use.
  func deletedFiles(of task: PlannedTask) -> Bool {
    task.rows.contains { planned in
      if rows[planned.key]?.outputDeletedAt != nil { return true }
      return (artifacts[planned.key] ?? []).contains { $0.deletedAt != nil }
    }
  }
}
