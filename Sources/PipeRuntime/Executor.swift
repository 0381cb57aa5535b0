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

  /// Creates a request.
  public init(
    spec: PipelineSpec, pipelinePath: String, pipelineText: String, runDirectory: String, workers: Int,
    forcedStages: Set<String> = [], command: String = "run", showProgress: Bool = false
  ) {
    self.spec = spec
    self.pipelinePath = pipelinePath
    self.pipelineText = pipelineText
    self.runDirectory = runDirectory
    self.workers = workers
    self.forcedStages = forcedStages
    self.command = command
    self.showProgress = showProgress
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
  /// The export folder, when the pipeline has an output.
  public var outputFolder: String?
  /// Records in the export.
  public var outputRecords: Int?
  /// The run directory.
  public var runDirectory: String
  /// Wall-clock seconds of this invocation.
  public var seconds: Double
}

/// Runs a pipeline in a run directory: plans tasks, skips what is up to date, runs the rest on
/// a pool of workers following the task graph, and records everything in the manifest.
public enum Executor {
  /// Runs `request`; throws only for problems that stop the run from starting (lock, manifest,
  /// config). Task failures are reported in the outcome.
  public static func run(_ request: RunRequest) throws -> RunOutcome {
    let started = Date()
    let layout = RunLayout(root: request.runDirectory)
    // Plan first: a pipeline that cannot be planned must not leave a run directory behind.
    let planned = try Planner(spec: request.spec, layout: layout).plan()
    try createDirectories(layout.root)
    let lock = try DirectoryLock(path: layout.lockPath)
    defer { lock.release() }
    let manifest = try Manifest(path: layout.manifestPath)
    defer { try? manifest.close() }

    try saveCopy(request.pipelineText, to: layout.pipelineCopyPath)
    let runID = try manifest.startRun(
      pipelineName: request.spec.name, pipelinePath: request.pipelinePath, pipelineJSON: request.pipelineText,
      seed: request.spec.seed, workers: request.workers, command: request.command,
      startedAt: started.timeIntervalSince1970)
    for (position, stage) in planned.stages.enumerated() {
      _ = try manifest.recordStage(
        id: stage.id, op: stage.op, position: position, inputs: stage.inputs, configJSON: stage.configJSON,
        fingerprint: stage.fingerprint, taskCount: stage.taskCount)
    }
    try manifest.removeStages(notIn: planned.stages.map(\.id))

    // Decide what runs: tasks not up to date, forced ones, and everything reading from them.
    // A task belongs to the user stage it was planned for (its internal steps included); the
    // export, which belongs to none, is forced by the name "export".
    var mustRun = Set<TaskKey>()
    for task in planned.tasks {
      let forced = request.forcedStages.contains(task.stage?.id ?? "export")
      let dependencyRuns = task.dependencies.contains { mustRun.contains($0) }
      let upToDate = try isUpToDate(task, manifest: manifest, layout: layout)
      if forced || dependencyRuns || !upToDate {
        mustRun.insert(task.key)
      }
    }
    let toRun = planned.tasks.filter { mustRun.contains($0.key) }
    // The record lookup indexes are rebuilt once at the end rather than updated row by row.
    if !toRun.isEmpty { try manifest.dropRecordLookupIndexes() }
    let scheduler = Scheduler(
      tasks: toRun, manifest: manifest, runID: runID, seed: request.spec.seed, workers: max(1, request.workers),
      faults: FaultPlan.fromEnvironment(), showProgress: request.showProgress,
      stageOrder: planned.stages.map(\.id), services: RunServices.make(manifest: manifest))
    scheduler.runAll()

    let failures = scheduler.failures
    let succeeded = failures.isEmpty && scheduler.blocked.isEmpty
    try manifest.finishRun(
      id: runID, status: succeeded ? .succeeded : .failed,
      error: failures.first.map { "\($0.task): \($0.error)" }, finishedAt: Date().timeIntervalSince1970)
    // After the run's end is recorded: a failure here (a full disk) is reported, yet loses
    // nothing, since lookups work without the indexes (by scanning).
    try manifest.buildRecordLookupIndexes()

    var outputFolder: String? = nil
    var outputRecords: Int? = nil
    if let output = request.spec.output {
      let folder = layout.outputFolder(output.path)
      outputFolder = folder
      if succeeded, let row = try manifest.task(stage: Planner.exportStageID, shard: 0) {
        outputRecords = row.recordsKept
      }
    }
    return RunOutcome(
      succeeded: succeeded, tasksRun: scheduler.completed.count, tasksSkipped: planned.tasks.count - toRun.count,
      failures: failures, blocked: scheduler.blocked, ranTasks: scheduler.completed, outputFolder: outputFolder,
      outputRecords: outputRecords, runDirectory: layout.root, seconds: Date().timeIntervalSince(started))
  }

  /// A task is up to date when the manifest says done with the same fingerprint and what it
  /// wrote is still there with the recorded size.
  static func isUpToDate(_ task: PlannedTask, manifest: Manifest, layout: RunLayout) throws -> Bool {
    guard let row = try manifest.task(stage: task.key.stage, shard: task.key.shard), row.status == .done,
      row.fingerprint == task.fingerprint
    else { return false }
    if let output = task.outputPath, fileSize(output) != row.outputBytes { return false }
    switch task.work {
    case .export(_, let folder, _):
      return fileSize(folder + "/manifest.json") != nil
    case .duplicateKeys(_, let keyFile):
      return fileSize(keyFile) != nil
    case .duplicateIndex(let keyFiles, let folder):
      return (0..<keyFiles.count).allSatisfy { fileSize("\(folder)/drops-\(RunLayout.number($0)).bin") != nil }
    case .nearDuplicateSignatures(_, let files):
      return fileSize(files.signatures(task.key.shard)) != nil
    case .nearDuplicateBuckets(_, let group, _, let files):
      return fileSize(files.edges(group)) != nil
    case .nearDuplicateClusters(_, _, let files):
      return fileSize(files.clusters) != nil && fileSize(files.verdicts) != nil
    default:
      return true
    }
  }

  private static func saveCopy(_ text: String, to path: String) throws {
    let writer = try ShardWriter(path: path)
    try writer.write(Array(text.utf8))
    _ = try writer.commit()
  }
}

/// Runs tasks on worker threads as their dependencies complete.
final class Scheduler: @unchecked Sendable {
  private let condition = NSCondition()
  private let manifest: Manifest
  private let runID: Int64
  private let seed: UInt64
  private let workers: Int
  private let faults: FaultPlan
  private let progress: ProgressDisplay?
  private let services: StageServices

  private var tasks: [TaskKey: PlannedTask] = [:]
  private var order: [TaskKey: Int] = [:]
  private var waitingOn: [TaskKey: Int] = [:]
  private var dependents: [TaskKey: [TaskKey]] = [:]
  private var ready: [TaskKey] = []
  private var running = 0
  private var remaining = 0
  private(set) var completed: [TaskKey] = []
  private(set) var failures: [(task: TaskKey, error: String)] = []
  private(set) var blocked: [TaskKey] = []

  init(
    tasks list: [PlannedTask], manifest: Manifest, runID: Int64, seed: UInt64, workers: Int, faults: FaultPlan,
    showProgress: Bool, stageOrder: [String], services: StageServices
  ) {
    self.services = services
    self.manifest = manifest
    self.runID = runID
    self.seed = seed
    self.workers = workers
    self.faults = faults
    self.progress = showProgress ? ProgressDisplay(tasks: list, stageOrder: stageOrder) : nil
    let keys = Set(list.map(\.key))
    for (index, task) in list.enumerated() {
      tasks[task.key] = task
      order[task.key] = index
      let pending = task.dependencies.filter { keys.contains($0) }
      waitingOn[task.key] = pending.count
      for dependency in pending { dependents[dependency, default: []].append(task.key) }
      if pending.isEmpty { ready.append(task.key) }
    }
    remaining = list.count
  }

  func runAll() {
    guard remaining > 0 else { return }
    progress?.start()
    var threads: [Thread] = []
    for _ in 0..<workers {
      let thread = Thread { [self] in self.workLoop() }
      thread.stackSize = 16 << 20
      threads.append(thread)
      thread.start()
    }
    condition.lock()
    while remaining > 0 || running > 0 {
      condition.wait()
    }
    condition.unlock()
    progress?.stop()
  }

  private func workLoop() {
    while true {
      condition.lock()
      while ready.isEmpty && remaining > 0 {
        condition.wait()
      }
      if remaining == 0 {
        condition.unlock()
        condition.broadcast()
        return
      }
      // Earliest task in plan order first: upstream stages drain before downstream ones.
      let nextIndex = ready.indices.min { (order[ready[$0]] ?? 0) < (order[ready[$1]] ?? 0) } ?? 0
      let key = ready.remove(at: nextIndex)
      running += 1
      remaining -= 1
      condition.unlock()

      let outcome = execute(key)

      condition.lock()
      running -= 1
      switch outcome {
      case .success:
        completed.append(key)
        for dependent in dependents[key] ?? [] {
          waitingOn[dependent, default: 1] -= 1
          if waitingOn[dependent] == 0 { ready.append(dependent) }
        }
      case .failure(let message):
        failures.append((key, message))
        block(dependentsOf: key)
      }
      let doneCount = completed.count
      condition.broadcast()
      condition.unlock()
      if case .success = outcome, let limit = faults.killAfterTasks, doneCount >= limit {
        kill(getpid(), SIGKILL)
      }
    }
  }

  /// Removes everything downstream of a failed task from the queue (caller holds the lock).
  private func block(dependentsOf key: TaskKey) {
    var stack = dependents[key] ?? []
    var seen = Set<TaskKey>()
    while let next = stack.popLast() {
      guard seen.insert(next).inserted, waitingOn[next] != nil else { continue }
      waitingOn[next] = nil
      remaining -= 1
      blocked.append(next)
      stack += dependents[next] ?? []
    }
  }

  private enum Outcome {
    case success
    case failure(String)
  }

  private func execute(_ key: TaskKey) -> Outcome {
    guard let task = tasks[key] else { return .failure("internal error: unknown task") }
    let started = Date()
    let taskProgress = TaskProgress()
    progress?.began(key, progress: taskProgress)
    defer { progress?.ended(key) }
    do {
      try manifest.markTaskStartedUnlessBusy(
        stage: key.stage, shard: key.shard, input: task.input, fingerprint: task.fingerprint, runID: runID,
        startedAt: started.timeIntervalSince1970)
      let result = try TaskRunner(
        task: task, seed: seed, faults: faults, progress: taskProgress, workers: workers, services: services
      )
      .run()
      let finished = Date()
      try manifest.markTaskDone(
        TaskCompletion(
          stage: key.stage, shard: key.shard, fingerprint: task.fingerprint,
          finishedAt: finished.timeIntervalSince1970, durationSeconds: finished.timeIntervalSince(started),
          recordsIn: result.recordsIn, recordsKept: result.recordsKept, recordsDropped: result.recordsDropped,
          recordsEmitted: result.recordsEmitted, bytesIn: result.bytesIn, outputPath: result.output?.path,
          outputBytes: result.output?.fileBytes ?? 0, checksum: result.output?.checksum,
          rejectsPath: result.rejects?.path, dropCounts: result.dropCounts, artifacts: result.artifacts,
          provenance: result.provenance, counters: result.counters,
          mixtureGroups: result.mixtureGroups, decideSeconds: result.decideSeconds))
      result.provenance?.discard()
      progress?.finished(key, records: result.recordsIn)
      return .success
    } catch {
      let pipeError = error as? PipeError
      let message = pipeError.map { $0.description } ?? String(describing: error)
      try? manifest.markTaskFailed(
        stage: key.stage, shard: key.shard, error: pipeError?.message ?? message,
        errorFile: pipeError?.file ?? task.input, errorLine: pipeError?.line,
        finishedAt: Date().timeIntervalSince1970)
      return .failure(message)
    }
  }
}
