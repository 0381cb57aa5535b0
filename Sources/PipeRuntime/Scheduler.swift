import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// Runs tasks on worker threads as their dependencies complete, earliest in plan order first,
/// and merges each finished task's ledger into the manifest.
final class Scheduler: @unchecked Sendable {
  private let condition = NSCondition()
  private let manifest: Manifest
  private let environment: TaskEnvironment
  private let services: RunServices
  private let intermediates: Intermediates?
  private let progress: ProgressDisplay?
  private let workers: Int

  private var tasks: [TaskKey: PlannedTask] = [:]
  private var order: [TaskKey: Int] = [:]
  private var waitingOn: [TaskKey: Int] = [:]
  private var dependents: [TaskKey: [TaskKey]] = [:]
  private var ready: [TaskKey] = []
  private var running = 0
  private var remaining = 0
  private var stopping = false
  private var ledgersWritten = 0
  private(set) var completed: [TaskKey] = []
  private(set) var failures: [(task: TaskKey, error: String)] = []
  private(set) var blocked: [TaskKey] = []
  private(set) var notRun: [TaskKey] = []
  private(set) var stopSignal: Int32?

  init(
    tasks list: [PlannedTask], manifest: Manifest, environment: TaskEnvironment, services: RunServices,
    intermediates: Intermediates?, showProgress: Bool, stageOrder: [String]
  ) {
    self.manifest = manifest
    self.environment = environment
    self.services = services
    self.intermediates = intermediates
    self.workers = environment.workers
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
    for _ in 0..<workers {
      let thread = Thread { [self] in self.workLoop() }
      thread.stackSize = 16 << 20
      thread.start()
    }
    condition.lock()
    while (remaining > 0 && !stopping) || running > 0 {
      if stopping, let deadline = hardDeadline {
        // Tasks that ignore the cancellation (a call waiting on the network) are left to the
        // process's exit; their rows stay `running` and are redone on resume.
        if !condition.wait(until: deadline) { break }
      } else {
        condition.wait()
      }
    }
    if stopping {
      notRun = tasks.keys.filter { key in waitingOn[key] != nil && !completed.contains(key) && !isRunning(key) }
        .sorted { (order[$0] ?? 0) < (order[$1] ?? 0) }
    }
    condition.unlock()
    progress?.stop()
  }

  private var started = Set<TaskKey>()
  private var hardDeadline: Date?

  private func isRunning(_ key: TaskKey) -> Bool { started.contains(key) }

  /// Stops starting tasks; the running ones get `graceSeconds` to finish, then are cancelled.
  func requestStop(signal: Int32, graceSeconds: Double) {
    condition.lock()
    guard !stopping else {
      condition.unlock()
      return
    }
    stopping = true
    stopSignal = signal
    hardDeadline = Date().addingTimeInterval(graceSeconds + 5)
    let runningNow = running
    condition.broadcast()
    condition.unlock()
    FileHandle.standardError.write(
      Data(
        ("\npipe: \(Executor.signalName(signal)) received: no new task starts; "
          + "\(runningNow) running task(s) get \(Int(graceSeconds))s to finish (Ctrl-C again to stop at once)\n")
          .utf8))
    let cancellation = environment.cancellation
    DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds) { cancellation.cancel() }
  }

  private func workLoop() {
    while true {
      condition.lock()
      while ready.isEmpty && remaining > 0 && !stopping {
        condition.wait()
      }
      if remaining == 0 || stopping {
        condition.unlock()
        condition.broadcast()
        return
      }
      // Earliest task in plan order first: upstream stages drain before downstream ones.
      let nextIndex = ready.indices.min { (order[ready[$0]] ?? 0) < (order[ready[$1]] ?? 0) } ?? 0
      let key = ready.remove(at: nextIndex)
      running += 1
      remaining -= 1
      started.insert(key)
      condition.unlock()

      let outcome = execute(key)

      condition.lock()
      running -= 1
      started.remove(key)
      switch outcome {
      case .success:
        completed.append(key)
        waitingOn[key] = nil
        for dependent in dependents[key] ?? [] {
          waitingOn[dependent, default: 1] -= 1
          if waitingOn[dependent] == 0 { ready.append(dependent) }
        }
      case .failure(let message):
        waitingOn[key] = nil
        failures.append((key, message))
        block(dependentsOf: key)
      case .interrupted:
        waitingOn[key] = nil
        notRun.append(key)
      }
      let doneCount = completed.count
      condition.broadcast()
      condition.unlock()
      if case .success = outcome, let limit = environment.faults.killAfterTasks, doneCount >= limit {
        environment.faults.kill()
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
    case interrupted
  }

  private func execute(_ key: TaskKey) -> Outcome {
    guard let task = tasks[key] else { return .failure("internal error: unknown task") }
    let started = Date()
    let taskProgress = TaskProgress()
    progress?.began(key, progress: taskProgress)
    defer { progress?.ended(key) }
    let layout = environment.layout
    let journal = layout.llmJournal(stage: key.stage, shard: key.shard)
    do {
      for row in task.rows {
        try manifest.markTaskStartedUnlessBusy(
          stage: row.key.stage, shard: row.key.shard, input: row.inputDescription, fingerprint: row.fingerprint,
          runID: environment.runID, startedAt: started.timeIntervalSince1970)
      }
      let ledger = try TaskExecution(
        task: task, environment: environment, services: services, progress: taskProgress
      ).run(startedAt: started, journal: journal)
      condition.lock()
      ledgersWritten += 1
      let written = ledgersWritten
      condition.unlock()
      if let limit = environment.faults.killBeforeMerge, written >= limit { environment.faults.kill() }
      let merged = try Ledgers.merge(ledger, journal: journal, into: manifest)
      try intermediates?.finished(key)
      progress?.finished(key, records: merged.rows.first?.recordsIn ?? 0)
      return .success
    } catch {
      let pipeError = error as? PipeError
      if pipeError?.code == .cancelled {
        try? manifest.markTasksInterrupted(task.rows.map { ($0.key.stage, $0.key.shard) })
        return .interrupted
      }
      let message = pipeError.map { $0.description } ?? String(describing: error)
      let stages = task.rows.map(\.key.stage).joined(separator: ", ")
      let chainNote = task.rows.count > 1 ? " (in the pass of \(stages))" : ""
      for row in task.rows {
        try? manifest.markTaskFailed(
          stage: row.key.stage, shard: row.key.shard, error: (pipeError?.message ?? message) + chainNote,
          errorFile: pipeError?.file ?? row.inputDescription, errorLine: pipeError?.line,
          finishedAt: Date().timeIntervalSince1970)
      }
      return .failure(message)
    }
  }
}

/// Runs one task and writes its ledger.
struct TaskExecution {
  let task: PlannedTask
  let environment: TaskEnvironment
  let services: RunServices
  let progress: TaskProgress

  /// Runs the task, commits its files and writes its ledger; returns the ledger's path.
  func run(startedAt: Date, journal: String) throws -> String {
    if let failing = environment.faults.mustFail(task.rows.map(\.key)) {
      throw PipeError(.injectedFault, "fault injected by PIPE_FAULT in \(failing)", file: task.rows[0].inputDescription)
    }
    let (stageServices, cache) = services.forTask(journal: journal)
    let results: [RowResult]
    switch task.kind {
    case .chain:
      results = try ChainRunner(task: task, environment: environment, services: stageServices, progress: progress).run()
    case .step:
      // A step is where a run's memory peaks (sorts, indexes, union-find); the heap the chains
      // before it freed is handed back first rather than counted under it (a few milliseconds,
      // for a handful of step tasks per run).
      releaseFreeHeap()
      results = [try runStep(services: stageServices)]
    case .export(let shards):
      results = [try runExport(shards)]
    }
    let finished = Date()
    let ledger = TaskLedger(
      task: task.key.description,
      rows: results.map {
        $0.completion(
          startedAt: startedAt.timeIntervalSince1970, finishedAt: finished.timeIntervalSince1970,
          runID: environment.runID)
      }, llmCache: cache.entries)
    let path = environment.layout.ledger(stage: task.key.stage, shard: task.key.shard)
    defer { for result in results { result.provenance?.discard() } }
    try Ledgers.write(ledger, to: path)
    return path
  }

  private func runStep(services: StageServices) throws -> RowResult {
    let row = task.rows[0]
    guard case .step(let step) = row.work else {
      throw PipeError(.stage, "internal error: \(row.key) is not a step")
    }
    let result = RowResult(row: row)
    let context = TaskStepContext(
      row: row, result: result, environment: environment, services: services, progress: progress)
    do {
      try step.run(context)
      try context.commit()
    } catch {
      context.abandon()
      throw error
    }
    return result
  }

  private func runExport(_ shards: [ShardRef]) throws -> RowResult {
    let row = task.rows[0]
    guard case .export(let output) = row.work else {
      throw PipeError(.stage, "internal error: \(row.key) is not the export")
    }
    let result = RowResult(row: row)
    try Exporter.export(
      output: output, folder: environment.layout.outputFolder(output.path), shards: shards.map(\.path), into: result,
      progress: progress, cancellation: environment.cancellation, faults: environment.faults)
    return result
  }
}
