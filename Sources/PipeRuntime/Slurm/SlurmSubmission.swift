import Foundation
import PipeCore
import PipeIO

/// What one submission to Slurm was: the run it belongs to, its jobs and its tasks. Written to
/// `RUN_DIR/slurm/submission.json` (and a copy in the round's folder) before the collector is
/// submitted; read by the collector, by `--wait`, and by any later command on the directory
/// (which must not start while the jobs still run).
struct SlurmSubmission: Codable, Equatable {
  /// One `sbatch`.
  struct Job: Codable, Equatable {
    /// Slurm's job id.
    var id: String
    /// The task key's stage of its tasks.
    var stage: String
    /// Task index = array index + offset.
    var offset: Int
    /// Array indices, or the task indices of a plain job.
    var indices: [Int]
    /// A plain job (not an array).
    var plain: Bool
    /// With several tasks per element: each array index's tasks, in the order of `indices`.
    var elements: [[Int]]?
    /// The job script.
    var script: String
  }

  /// A task, by its key.
  struct Task: Codable, Equatable, Hashable {
    var stage: String
    var shard: Int
  }

  /// 1 for the first submission of the directory, 2 for the next...
  var round: Int
  /// The manifest's run id.
  var runID: Int64
  /// The pipeline file the run was planned from (relative inputs resolve against it).
  var pipelinePath: String
  /// The `pipe` binary the jobs run.
  var binary: String
  /// The jobs that run tasks, in submission order.
  var jobs: [Job]
  /// The collector job, once submitted.
  var collector: String?
  /// The tasks submitted.
  var tasks: [Task]

  /// The folder of the Slurm files of a run directory.
  static func folder(_ layout: RunLayout) -> String { layout.root + "/slurm" }
  /// The latest submission's record.
  static func path(_ layout: RunLayout) -> String { folder(layout) + "/submission.json" }
  /// The folder of a round's job scripts.
  static func roundFolder(_ layout: RunLayout, round: Int) -> String { folder(layout) + "/round-\(round)" }
  /// The folder of the jobs' logs.
  static func logFolder(_ layout: RunLayout) -> String { folder(layout) + "/logs" }

  /// A task key's stage as it appears in job names, script and log files (`near-dedup.buckets`,
  /// `export`: no hidden files).
  static func fileStem(_ stage: String) -> String {
    let name = RunLayout.folderName(stage)
    return name.hasPrefix(".") ? String(name.dropFirst()) : name
  }

  /// The latest submission of a run directory, if it has one.
  static func latest(_ layout: RunLayout) throws -> SlurmSubmission? {
    let path = path(layout)
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    do {
      return try JSONDecoder().decode(SlurmSubmission.self, from: data)
    } catch {
      throw PipeError(
        .manifest, "cannot read the Slurm submission record: \(error); it is rewritten by the next submission",
        file: path)
    }
  }

  /// Writes the record (temporary file, rename); with `withRoundCopy`, once the submission is
  /// complete, a copy into its round's folder too.
  func save(_ layout: RunLayout, withRoundCopy: Bool = false) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let bytes = Array(try encoder.encode(self)) + [0x0A]
    _ = try writeFileAtomically(bytes, to: Self.path(layout))
    if withRoundCopy {
      _ = try writeFileAtomically(bytes, to: Self.roundFolder(layout, round: round) + "/submission.json")
    }
  }

  /// Every job id, the collector's included.
  var allJobIDs: [String] { jobs.map(\.id) + (collector.map { [$0] } ?? []) }

  /// The job running task `task`, and its log file (Slurm names it when the job starts).
  func job(of task: Task, layout: RunLayout) -> (id: String, log: String)? {
    for job in jobs where job.stage == task.stage {
      let folder = Self.logFolder(layout) + "/" + Self.fileStem(job.stage)
      if job.plain, job.indices.contains(task.shard) { return (job.id, "\(folder)-\(job.id).log") }
      if let elements = job.elements {
        guard let position = elements.firstIndex(where: { $0.contains(task.shard) }) else { continue }
        let element = "\(job.id)_\(job.indices[position])"
        return (element, "\(folder)-\(element).log")
      }
      if !job.plain, job.indices.contains(task.shard - job.offset) {
        let element = "\(job.id)_\(task.shard - job.offset)"
        return (element, "\(folder)-\(element).log")
      }
    }
    return nil
  }

  /// Throws when jobs of the directory's latest submission are still pending or running: they
  /// write into it, and the collector will write the manifest.
  static func refuseIfInFlight(layout: RunLayout, except ownJob: String? = nil) throws {
    guard let submission = try latest(layout) else { return }
    // No Slurm client here (the directory was copied elsewhere): nothing of it can run here.
    guard SlurmCommands.isInstalled("squeue") else { return }
    // An squeue that cannot answer stops the command: going on could rewrite files jobs write.
    let active = try SlurmCommands.activeJobs(submission.allJobIDs.filter { $0 != ownJob })
    guard !active.isEmpty else { return }
    let ids = Set(active.keys.map { $0.split(separator: "_").first.map(String.init) ?? $0 }).sorted()
    throw PipeError(
      .busy,
      "the run directory has \(active.count) Slurm job(s) of submission \(submission.round) still pending or running "
        + "(jobs \(ids.joined(separator: ", "))); wait for them (`pipe inspect \(layout.root)`, `squeue`) or "
        + "cancel them (`scancel \(ids.joined(separator: " "))`), then try again",
      file: layout.root)
  }
}

/// Where the tasks of a Slurm submission stand while its jobs run, read from the ledgers and
/// failure records in the run directory and from `squeue`: what `pipe inspect` shows before
/// the collector has merged anything.
public struct SlurmProgress: Sendable {
  /// One task stage's tasks.
  public struct Stage: Sendable {
    /// The task key's stage.
    public var stage: String
    /// Its job ids.
    public var jobs: [String]
    /// Tasks whose ledger is written.
    public var done = 0
    /// Tasks whose element Slurm lists as running.
    public var running = 0
    /// Tasks whose element Slurm lists as pending.
    public var pending = 0
    /// Tasks that failed (a failure record), or whose element ended without a ledger.
    public var failed = 0
  }

  /// The submission's number.
  public var round: Int
  /// The collector's job id.
  public var collector: String?
  /// The collector's Slurm state (nil when Slurm no longer lists it).
  public var collectorState: String?
  /// Per task stage, in submission order.
  public var stages: [Stage]

  /// The progress of a run directory's latest submission while any of its jobs is pending or
  /// running; nil when it has none (or no submission).
  public static func read(runDirectory: String) throws -> SlurmProgress? {
    let layout = RunLayout(root: runDirectory)
    guard let submission = try SlurmSubmission.latest(layout), SlurmCommands.isInstalled("squeue"),
      let active = try? SlurmCommands.activeJobs(submission.allJobIDs), !active.isEmpty
    else { return nil }
    var stages: [Stage] = []
    var position: [String: Int] = [:]
    for job in submission.jobs {
      if let index = position[job.stage] {
        stages[index].jobs.append(job.id)
      } else {
        position[job.stage] = stages.count
        stages.append(Stage(stage: job.stage, jobs: [job.id]))
      }
    }
    for task in submission.tasks {
      guard let index = position[task.stage] else { continue }
      let key = TaskKey(stage: task.stage, shard: task.shard)
      if fileSize(layout.ledger(stage: key.stage, shard: key.shard)) != nil {
        stages[index].done += 1
        continue
      }
      if fileSize(SlurmExecutor.failureRecord(layout: layout, key: key)) != nil {
        stages[index].failed += 1
        continue
      }
      let element = submission.job(of: task, layout: layout)?.id ?? ""
      // squeue -r lists every element of an array on its own line.
      switch active[element] {
      case "RUNNING", "COMPLETING", "CONFIGURING": stages[index].running += 1
      case "PENDING", "REQUEUED", "SUSPENDED": stages[index].pending += 1
      default: stages[index].failed += 1
      }
    }
    return SlurmProgress(
      round: submission.round, collector: submission.collector,
      collectorState: submission.collector.flatMap { active[$0] }, stages: stages)
  }
}
