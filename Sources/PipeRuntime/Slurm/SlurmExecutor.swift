import Foundation
public import PipeCore
import PipeIO
import PipeManifest

/// How `pipe run --executor slurm` submits its jobs.
public struct SlurmOptions: Sendable {
  /// `--partition`.
  public var partition: String?
  /// At most this many elements of each array run at once (`--array=...%N`).
  public var maxParallel: Int?
  /// `--time` of every job.
  public var time: String?
  /// `--mem` of every job.
  public var memory: String?
  /// `--cpus-per-task` of every job; also the workers a job's task may use.
  public var cpusPerTask: Int?
  /// Tasks each array element runs, one after another (fewer, longer elements for runs of
  /// many small shards).
  public var tasksPerJob: Int
  /// More `#SBATCH` lines, as given.
  public var sbatchArguments: [String]
  /// Block until the collector has finished, and report like a local run.
  public var wait: Bool
  /// The `pipe` binary the jobs run (this one, by default): it must be reachable at this path
  /// on the nodes.
  public var binary: String

  /// Creates options.
  public init(
    partition: String? = nil, maxParallel: Int? = nil, time: String? = nil, memory: String? = nil,
    cpusPerTask: Int? = nil, tasksPerJob: Int = 1, sbatchArguments: [String] = [], wait: Bool = false,
    binary: String
  ) {
    self.partition = partition
    self.maxParallel = maxParallel
    self.time = time
    self.memory = memory
    self.cpusPerTask = cpusPerTask
    self.tasksPerJob = tasksPerJob
    self.sbatchArguments = sbatchArguments
    self.wait = wait
    self.binary = binary
  }
}

/// What a submission did.
public struct SlurmSubmitOutcome: Sendable {
  /// The submission's round (1 for the directory's first).
  public var round: Int
  /// Tasks submitted.
  public var tasksSubmitted: Int
  /// Tasks found up to date.
  public var tasksSkipped: Int
  /// One line per job: id, what it runs.
  public var jobLines: [String]
  /// The collector's job id (nil when nothing needed to run).
  public var collector: String?
  /// Every job id submitted.
  public var jobIDs: [String]
  /// The folder of this round's job scripts.
  public var scriptFolder: String
  /// The jobs' log folder.
  public var logFolder: String
  /// With `wait`: how the run ended (nil when not waited for).
  public var finalStatus: String?
  /// With `wait`: the run's error, when it failed.
  public var finalError: String?
}

/// Runs a pipeline on a Slurm cluster with the same plan, tasks and ledgers as the local
/// executor: the submitting process plans and submits one job array per group of tasks (a
/// fused chain, a step) with Slurm dependencies between them, and returns; each array element
/// runs `pipe task` on one task and writes only its files and its ledger; a final collector job
/// (`pipe collect`) merges the ledgers into the manifest and ends the run.
public enum SlurmExecutor {
  /// Plans `request`, submits what is not up to date, and (with `options.wait`) waits for the
  /// collector.
  public static func submit(_ request: RunRequest, options: SlurmOptions) throws -> SlurmSubmitOutcome {
    guard SlurmCommands.isInstalled("sbatch") else {
      throw PipeError(.usage, "--executor slurm: sbatch is not on PATH; run this on a machine with Slurm's client")
    }
    try checkScriptSafe(RunLayout(root: request.runDirectory).root, "the run directory")
    for value in [options.partition, options.time, options.memory].compactMap({ $0 }) + options.sbatchArguments {
      try checkScriptSafe(value, "an sbatch option")
    }
    let started = Date()
    let prepared = try Executor.prepare(request, started: started)
    var closed = false
    defer { if !closed { prepared.close() } }
    let (layout, manifest) = (prepared.layout, prepared.manifest)
    let toRun = prepared.toRun
    let previous = try SlurmSubmission.latest(layout)
    let round = (previous?.round ?? 0) + 1
    var outcome = SlurmSubmitOutcome(
      round: round, tasksSubmitted: toRun.count, tasksSkipped: prepared.plan.tasks.count - toRun.count, jobLines: [],
      collector: nil, jobIDs: [], scriptFolder: SlurmSubmission.roundFolder(layout, round: round),
      logFolder: SlurmSubmission.logFolder(layout))
    if toRun.isEmpty {
      try manifest.finishRun(
        id: prepared.runID, status: .succeeded, error: nil, finishedAt: Date().timeIntervalSince1970)
      outcome.finalStatus = RunStatus.succeeded.rawValue
      return outcome
    }

    let maxArraySize = try SlurmCommands.maxArraySize()
    let groups = SlurmJobs.groups(of: toRun)
    let jobs = SlurmJobs.jobs(of: groups, maxArraySize: maxArraySize, tasksPerJob: options.tasksPerJob)
    try createDirectories(outcome.scriptFolder)
    try createDirectories(outcome.logFolder)
    // Failure records of an earlier submission say nothing about this one.
    for task in toRun {
      try removeItemIfPresent(failureRecord(layout: layout, key: task.key))
    }
    // The tasks' rows are written by the collector (done from their ledgers, or failed); until
    // then `pipe inspect` shows the submission's progress from the ledgers and Slurm. (Marking
    // every row running here took 2 s for 20,000 rows.)
    if !toRun.isEmpty { try manifest.dropRecordLookupIndexes() }

    var submission = SlurmSubmission(
      round: round, runID: prepared.runID, pipelinePath: request.pipelinePath, binary: options.binary, jobs: [],
      collector: nil, tasks: toRun.map { SlurmSubmission.Task(stage: $0.key.stage, shard: $0.key.shard) })
    var submitted: [Int: [(offset: Int, id: String)]] = [:]
    do {
      for (number, job) in jobs.enumerated() {
        let group = groups[job.group]
        let script =
          outcome.scriptFolder + "/" + String(format: "%03d", number + 1) + "-" + SlurmSubmission.fileStem(group.stage)
          + (job.isPlain || job.offset == 0 ? "" : "-\(job.offset)") + ".sh"
        let text = jobScript(
          job: job, group: group, arrays: jobs.filter { $0.group == job.group }.count,
          dependency: SlurmJobs.dependency(of: job, groups: groups, submitted: submitted),
          request: request, layout: layout, runID: prepared.runID, options: options)
        try writeScript(text, to: script)
        let id = try SlurmCommands.submit(script: script)
        submitted[job.group, default: []].append((job.offset, id))
        submission.jobs.append(
          SlurmSubmission.Job(
            id: id, stage: group.stage, offset: job.offset, indices: job.indices, plain: job.isPlain,
            elements: job.elements, script: script))
        // Recorded after every sbatch: an interrupted submission still leaves the jobs it made
        // where the next command (which refuses while they run) and `scancel` can find them.
        try submission.save(layout)
        let indices = job.taskIndices
        outcome.jobLines.append(
          "\(id)  \(group.stage)  \(job.isPlain ? "one job, in order:" : "array of") \(indices.count) task(s) "
            + "[\(SlurmJobs.arrayExpression(indices))]")
      }
      // Saved before the collector exists: it may start as soon as it is submitted.
      try submission.save(layout)
      let collectorPath = outcome.scriptFolder + "/" + String(format: "%03d", jobs.count + 1) + "-collect.sh"
      try writeScript(
        collectorScript(layout: layout, request: request, after: submission.jobs.map(\.id), options: options),
        to: collectorPath)
      let collector = try SlurmCommands.submit(script: collectorPath)
      submission.collector = collector
      try submission.save(layout, withRoundCopy: true)
      outcome.collector = collector
      outcome.jobLines.append("\(collector)  collect  merges the results into the manifest when every job has ended")
    } catch {
      // Nothing half-submitted is left to run: the jobs already queued are cancelled.
      try? SlurmCommands.cancel(submission.allJobIDs)
      try? manifest.finishRun(
        id: prepared.runID, status: .failed, error: "submission to Slurm failed: \(error)",
        finishedAt: Date().timeIntervalSince1970)
      throw error
    }
    outcome.jobIDs = submission.allJobIDs
    prepared.close()
    closed = true

    if options.wait, let collector = outcome.collector {
      try waitFor(collector, layout: layout)
      let manifest = try Manifest.openReadOnly(path: layout.manifestPath)
      defer { try? manifest.close() }
      let run = try manifest.latestRun()
      outcome.finalStatus = run?.status.rawValue
      outcome.finalError = run?.error
    }
    return outcome
  }

  /// The run lock, waited for: the collect job must not give up because a `pipe inspect`-like
  /// command (`pipe verify`) or a refused `pipe run` holds it for a moment.
  static func waitForLock(_ layout: RunLayout) throws -> DirectoryLock {
    let deadline = Date().addingTimeInterval(600)
    var delay = 0.5
    while true {
      do {
        return try DirectoryLock(path: layout.lockPath)
      } catch let error as PipeError where error.code == .busy && Date() < deadline {
        Thread.sleep(forTimeInterval: delay)
        delay = min(delay * 2, 15)
      }
    }
  }

  /// Refuses text that would break a job script line: `#SBATCH` lines are not a shell, so a
  /// newline, a quote or whitespace in a path, or `%` (Slurm's file-name pattern) cannot be
  /// escaped there.
  static func checkScriptSafe(_ text: String, _ what: String) throws {
    if text.contains(where: { $0.isNewline }) {
      throw PipeError(.usage, "\(what) contains a line break: \(text.debugDescription)")
    }
    if what == "the run directory", text.contains(where: { $0.isWhitespace || $0 == "%" || $0 == "\"" || $0 == "'" }) {
      throw PipeError(
        .usage,
        "the run directory \(text) contains whitespace, a quote or %, which Slurm's #SBATCH --output lines cannot "
          + "hold; choose a run directory without them (--run-dir)")
    }
  }

  /// Throws when jobs of the run directory's latest Slurm submission are pending or running
  /// (their files and their collect job's manifest writes would race with the caller's).
  public static func refuseIfJobsInFlight(runDirectory: String) throws {
    try SlurmSubmission.refuseIfInFlight(layout: RunLayout(root: runDirectory))
  }

  /// Polls Slurm until `job` is neither pending nor running.
  static func waitFor(_ job: String, layout: RunLayout) throws {
    var interval = 0.2
    while true {
      let active = try SlurmCommands.activeJobs([job])
      if active.isEmpty { return }
      Thread.sleep(forTimeInterval: interval)
      interval = min(interval * 1.5, 1)
    }
  }

  // MARK: - Job scripts

  private static func quoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  private static func sbatchLines(_ options: SlurmOptions) -> [String] {
    var lines: [String] = []
    if let partition = options.partition { lines.append("#SBATCH --partition=\(partition)") }
    if let time = options.time { lines.append("#SBATCH --time=\(time)") }
    if let memory = options.memory { lines.append("#SBATCH --mem=\(memory)") }
    if let cpus = options.cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(cpus)") }
    for argument in options.sbatchArguments { lines.append("#SBATCH \(argument)") }
    return lines
  }

  static func jobScript(
    job: JobSpec, group: JobGroup, arrays: Int, dependency: String?, request: RunRequest, layout: RunLayout,
    runID: Int64, options: SlurmOptions
  ) -> String {
    let logBase = SlurmSubmission.logFolder(layout) + "/" + SlurmSubmission.fileStem(group.stage)
    let taskIndices = job.taskIndices
    var lines = [
      "#!/bin/sh",
      "# Written by `pipe \(request.command) --executor slurm` for run \(runID) of pipeline \(request.spec.name).",
      "# Runs task \(group.stage)[i] for i in \(SlurmJobs.arrayExpression(taskIndices))"
        + (job.isPlain
          ? ", one after another (each reads the state the one before left)."
          : job.elements != nil ? ", several per array element (the case below)." : ", one array element each."),
      "# Each task writes its files and its ledger into the run directory; the collect job merges the",
      "# ledgers into the manifest. Running it again (sbatch this file) rewrites the same bytes.",
      "#SBATCH --job-name=pipe-\(request.spec.name)-\(SlurmSubmission.fileStem(group.stage))",
      job.isPlain ? "#SBATCH --output=\(logBase)-%j.log" : "#SBATCH --output=\(logBase)-%A_%a.log",
    ]
    if !job.isPlain {
      let throttle = options.maxParallel.map { "%\($0)" } ?? ""
      lines.append("#SBATCH --array=\(SlurmJobs.arrayExpression(job.indices))\(throttle)")
    }
    if let dependency {
      lines.append("#SBATCH --dependency=\(dependency)")
      // A dependency that can never be met (a failed task upstream) cancels the job instead
      // of leaving it pending forever, so the collector still runs.
      lines.append("#SBATCH --kill-on-invalid-dep=yes")
    }
    lines += sbatchLines(options)
    var command = [quoted(options.binary), "task", quoted(layout.root), quoted(group.stage)]
    command += ["--run-id", String(runID), "--pipeline", quoted(request.pipelinePath)]
    if let cpus = options.cpusPerTask { command += ["--workers", String(cpus)] }
    // An LLM endpoint's limits hold for the whole run: each element that may run at the same
    // time as the others of its group gets its share.
    // `%N` throttles each array on its own, and a group split under MaxArraySize is several.
    let elements = group.sequential ? 1 : group.indices.count.dividedRoundingUp(by: options.tasksPerJob)
    let share = min(options.maxParallel.map { $0 * arrays } ?? elements, elements)
    if share > 1 { command += ["--llm-share", String(share)] }
    if let elements = job.elements {
      // Each array index runs its own list of tasks.
      lines.append("case \"$SLURM_ARRAY_TASK_ID\" in")
      for (index, tasks) in zip(job.indices, elements) {
        lines.append("  \(index)) tasks=\(tasks.map(String.init).joined(separator: ",")) ;;")
      }
      lines.append("  *) echo \"pipe: no tasks for array index $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;")
      lines.append("esac")
      command += ["--indices", "\"$tasks\""]
    } else if job.isPlain {
      command += ["--indices", job.indices.map(String.init).joined(separator: ",")]
    } else {
      command += ["--index", "\"$((SLURM_ARRAY_TASK_ID + \(job.offset)))\""]
    }
    lines.append("exec " + command.joined(separator: " "))
    return lines.joined(separator: "\n") + "\n"
  }

  static func collectorScript(layout: RunLayout, request: RunRequest, after jobs: [String], options: SlurmOptions)
    -> String
  {
    var lines = [
      "#!/bin/sh",
      "# Written by `pipe \(request.command) --executor slurm`: when every job of the submission has ended",
      "# (done, failed or cancelled), merges the task ledgers into the manifest, records failures, cancels",
      "# what can no longer run and ends the run.",
      "#SBATCH --job-name=pipe-\(request.spec.name)-collect",
      "#SBATCH --output=\(SlurmSubmission.logFolder(layout))/collect-%j.log",
      "#SBATCH --dependency=afterany:\(jobs.joined(separator: ":"))",
    ]
    lines += sbatchLines(options)
    lines.append(
      "exec \(quoted(options.binary)) collect \(quoted(layout.root)) --pipeline \(quoted(request.pipelinePath))")
    return lines.joined(separator: "\n") + "\n"
  }

  private static func writeScript(_ text: String, to path: String) throws {
    _ = try writeFileAtomically(Array(text.utf8), to: path)
    chmod(path, 0o755)
  }

  // MARK: - One job's tasks

  /// Runs the tasks `stage[i]` for each of `indices` in order, as a Slurm job does: each writes
  /// its files and its ledger; the manifest is only read (LLM cache). A failed task leaves a
  /// failure record beside where its ledger would be.
  ///
  /// - Returns: the failures, as `(task, message)`.
  public static func runTasks(
    spec: PipelineSpec, runDirectory: String, runID: Int64, stage: String, indices: [Int], workers: Int,
    llmShare: Int = 1
  ) throws -> [(task: String, error: String)] {
    let layout = RunLayout(root: runDirectory)
    let plan = try Planner(spec: spec, layout: layout).plan()
    let tasks = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.key, $0) })
    let manifest = try Manifest.openReadOnly(path: layout.manifestPath)
    defer { try? manifest.close() }
    var environment = TaskEnvironment(
      layout: layout, plan: plan, seed: spec.seed, workers: max(1, workers), faults: FaultPlan.fromEnvironment(),
      compressionLevel: spec.shardCompressionLevel, cancellation: Cancellation(), runID: runID)
    // Spill and scratch files on the node's own disk when Slurm (or the site) gives one.
    if let folder = ProcessInfo.processInfo.environment["TMPDIR"], !folder.isEmpty,
      FileManager.default.isWritableFile(atPath: folder)
    {
      environment.scratchFolder = folder
    }
    let services = RunServices(manifest: manifest, llmShare: llmShare)
    var failures: [(task: String, error: String)] = []
    for index in indices {
      let key = TaskKey(stage: stage, shard: index)
      guard let task = tasks[key] else {
        throw PipeError(
          .input,
          "no task \(key) in the plan of this run: the pipeline or its inputs changed since the jobs were "
            + "submitted; run `pipe resume \(layout.root) --executor slurm` to submit the current plan",
          file: layout.pipelineCopyPath)
      }
      let failurePath = failureRecord(layout: layout, key: key)
      try removeItemIfPresent(failurePath)
      let journal = layout.llmJournal(stage: key.stage, shard: key.shard)
      do {
        _ = try TaskExecution(task: task, environment: environment, services: services, progress: TaskProgress())
          .run(startedAt: Date(), journal: journal)
      } catch {
        let pipeError = error as? PipeError
        let record = TaskFailure(
          message: pipeError?.message ?? String(describing: error),
          file: pipeError?.file ?? task.rows[0].inputDescription,
          line: pipeError?.line, host: ProcessInfo.processInfo.hostName)
        try record.save(to: failurePath)
        failures.append((key.description, pipeError?.description ?? String(describing: error)))
        // The next task reads this one's state: it cannot run now.
        if isSequential(task, tasks) { break }
      }
    }
    return failures
  }

  private static func isSequential(_ task: PlannedTask, _ tasks: [TaskKey: PlannedTask]) -> Bool {
    let next = TaskKey(stage: task.key.stage, shard: task.key.shard + 1)
    return tasks[next]?.dependencies.contains(task.key) ?? false
  }

  /// Where a task that failed in a job says why.
  static func failureRecord(layout: RunLayout, key: TaskKey) -> String {
    (layout.ledger(stage: key.stage, shard: key.shard) as NSString).deletingPathExtension + ".failed"
  }

  /// Why a task failed in a job.
  struct TaskFailure: Codable {
    var message: String
    var file: String?
    var line: Int?
    var host: String

    func save(to path: String) throws {
      _ = try writeFileAtomically(Array(try JSONEncoder().encode(self)), to: path)
    }

    static func read(_ path: String) -> TaskFailure? {
      guard let data = FileManager.default.contents(atPath: path) else { return nil }
      return try? JSONDecoder().decode(TaskFailure.self, from: data)
    }
  }

  // MARK: - The collector

  /// How the collector ended a run.
  public struct Collected: Sendable {
    /// Every submitted task is done and every count adds up.
    public var succeeded: Bool
    /// Submitted tasks that are done.
    public var done: Int
    /// Tasks that failed, with their errors.
    public var failed: [(task: String, error: String)]
    /// Tasks without a result and without an error: their job was cancelled, or a task they
    /// read did not finish.
    public var notRun: [(task: String, why: String)]
    /// Jobs of the submission still queued, cancelled by the collector.
    public var cancelledJobs: [String]
  }

  /// Merges the ledgers of the latest submission into the manifest, records why each task that
  /// did not finish did not, cancels the submission's jobs that can no longer run, and ends the
  /// run (succeeded only when every submitted task is done and every count adds up).
  public static func collect(spec: PipelineSpec, runDirectory: String) throws -> Collected {
    let layout = RunLayout(root: runDirectory)
    let lock = try waitForLock(layout)
    defer { lock.release() }
    guard let submission = try SlurmSubmission.latest(layout) else {
      throw PipeError(.input, "no Slurm submission in this run directory", file: layout.root)
    }
    let ownJob = ProcessInfo.processInfo.environment["SLURM_JOB_ID"]
    let manifest = try Manifest(path: layout.manifestPath)
    defer { try? manifest.close() }
    let plan = try Planner(spec: spec, layout: layout).plan()
    _ = try Ledgers.recover(plan: plan, layout: layout, manifest: manifest)

    // Whatever of the submission is still queued can no longer help (the collector runs after
    // every job ended, so this only finds jobs when it was started by hand).
    let active = (try? SlurmCommands.activeJobs(submission.allJobIDs.filter { $0 != ownJob })) ?? [:]
    let cancelled = Set(active.keys.map { $0.split(separator: "_").first.map(String.init) ?? $0 }).sorted()
    try SlurmCommands.cancel(cancelled)

    let state = try RunState(manifest: manifest)
    let tasks = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.key, $0) })
    var result = Collected(succeeded: false, done: 0, failed: [], notRun: [], cancelledJobs: cancelled)
    var unfinished = Set<TaskKey>()
    let now = Date().timeIntervalSince1970
    for item in submission.tasks {
      let key = TaskKey(stage: item.stage, shard: item.shard)
      guard let task = tasks[key] else { continue }
      // Done in this run: a row done with the same fingerprint from an earlier run is the old
      // result of a task that ran again (forced, or recomputing a deleted intermediate).
      let doneNow = task.rows.allSatisfy { state.rows[$0.key]?.runID == submission.runID }
      if doneNow && state.isUpToDate(task, layout: layout) {
        result.done += 1
        try removeItemIfPresent(failureRecord(layout: layout, key: key))
        continue
      }
      unfinished.insert(key)
      let failurePath = failureRecord(layout: layout, key: key)
      let message: String
      let file: String?
      let line: Int?
      if let failure = TaskFailure.read(failurePath) {
        message = failure.message + " (on \(failure.host))"
        (file, line) = (failure.file, failure.line)
        result.failed.append((key.description, message))
      } else {
        let blockedBy = task.dependencies.first { unfinished.contains($0) }
        let job = submission.job(of: item, layout: layout)
        if let blockedBy {
          message = "not run: task \(blockedBy) it reads did not finish"
        } else {
          message =
            "not run: Slurm job \(job?.id ?? "?") ended without a result (cancelled, timed out, out of memory or "
            + "killed); its log: \(job.map { layout.relative($0.log) } ?? "slurm/logs/")"
        }
        (file, line) = (task.rows[0].inputDescription, nil)
        result.notRun.append((key.description, message))
      }
      for row in task.rows {
        // The row may not exist yet (a task that never ran before); failing needs one.
        try manifest.markTaskStartedUnlessBusy(
          stage: row.key.stage, shard: row.key.shard, input: row.inputDescription, fingerprint: row.fingerprint,
          runID: submission.runID, startedAt: now)
        try manifest.markTaskFailed(
          stage: row.key.stage, shard: row.key.shard, error: message, errorFile: file, errorLine: line,
          finishedAt: now)
      }
      try removeItemIfPresent(failurePath)
    }

    // Every done row's counts must add up: what came in was kept or dropped.
    var broken: [String] = []
    for row in try manifest.tasks() where row.status == .done && row.kind == "records" && row.recordsEmitted == 0 {
      if row.recordsIn != row.recordsKept + row.recordsDropped { broken.append("\(row.stage)[\(row.shard)]") }
    }
    result.succeeded = unfinished.isEmpty && broken.isEmpty
    if result.succeeded, !spec.keepIntermediates {
      try Intermediates(plan: plan, manifest: manifest, toRun: []).sweep()
    }
    let error: String? =
      result.succeeded
      ? nil
      : !broken.isEmpty
        ? "counts do not add up in \(broken.joined(separator: ", "))"
        : (result.failed.first.map { "\($0.task): \($0.error)" } ?? result.notRun.first.map { "\($0.task): \($0.why)" })
    try manifest.finishRun(
      id: submission.runID, status: result.succeeded ? .succeeded : .failed, error: error,
      finishedAt: Date().timeIntervalSince1970)
    releaseFreeHeap()
    try manifest.buildRecordLookupIndexes()
    return result
  }
}

extension Int {
  fileprivate func dividedRoundingUp(by divisor: Int) -> Int { (self + divisor - 1) / divisor }
}
