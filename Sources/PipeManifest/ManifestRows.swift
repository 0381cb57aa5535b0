// The values the manifest stores and returns. Column names and status strings are user-visible
// (people query the file with the sqlite3 shell), so they are documented in docs/manifest.md and
// never renamed in place.

public import PipeCore

// MARK: - Statuses

/// How a run ended, or that it is still going.
public enum RunStatus: String, Sendable, Equatable, CaseIterable {
  /// Started and not finished; also what a crashed run is left as.
  case running
  /// Every task finished.
  case succeeded
  /// At least one task failed, or the run stopped on an error.
  case failed
  /// Stopped by a signal (Ctrl-C) before it finished.
  case interrupted
}

/// Where a task stands.
public enum TaskStatus: String, Sendable, Equatable, CaseIterable {
  /// Planned but not started yet.
  case pending
  /// Started and not finished; after a crash, a task left `running` is redone on resume.
  case running
  /// Finished: its output is in place and its counts, provenance and artifacts are recorded.
  case done
  /// Threw; `error`, `errorFile` and `errorLine` say why. Retried on resume.
  case failed
}

/// What a stage decided about one record.
public enum VerdictKind: String, Sendable, Equatable, CaseIterable {
  /// Passed through unchanged.
  case kept
  /// Passed through with changes.
  case modified
  /// Removed; the verdict's `reason` says why.
  case dropped
  /// Created by the stage (generation, splitting).
  case emitted
}

// MARK: - Runs and stages

/// One invocation of `pipe run` or `pipe resume` on the run directory.
public struct RunRow: Sendable, Equatable {
  /// The run's id, increasing with each run.
  public var id: Int64
  /// The pipeline's name.
  public var pipelineName: String
  /// The pipeline file the run was started from.
  public var pipelinePath: String
  /// The pipeline as the run saw it, so a later change to the file cannot hide what ran.
  public var pipelineJSON: String
  /// The run seed.
  public var seed: UInt64
  /// The number of workers.
  public var workers: Int
  /// The command line.
  public var command: String
  /// How the run ended, or `.running`.
  public var status: RunStatus
  /// The error that ended the run, if any.
  public var error: String?
  /// Seconds since 1970 when the run started.
  public var startedAt: Double
  /// Seconds since 1970 when the run finished; nil while running (or after a crash).
  public var finishedAt: Double?

  /// Creates a run row.
  public init(
    id: Int64, pipelineName: String, pipelinePath: String, pipelineJSON: String, seed: UInt64, workers: Int,
    command: String, status: RunStatus, error: String?, startedAt: Double, finishedAt: Double?
  ) {
    self.id = id
    self.pipelineName = pipelineName
    self.pipelinePath = pipelinePath
    self.pipelineJSON = pipelineJSON
    self.seed = seed
    self.workers = workers
    self.command = command
    self.status = status
    self.error = error
    self.startedAt = startedAt
    self.finishedAt = finishedAt
  }
}

/// One node of the pipeline graph, as last recorded.
public struct StageRow: Sendable, Equatable {
  /// The stage id from the pipeline file, e.g. `"dedup"`.
  public var id: String
  /// The op with its version, e.g. `"dedup.exact@1"`.
  public var op: String
  /// The stage's index in topological order.
  public var position: Int
  /// The stage's inputs: upstream stage ids or pipeline input names.
  public var inputs: [String]
  /// The stage's config as canonical JSON.
  public var configJSON: String
  /// The hash of op, config, seed and input fingerprints; a change invalidates the stage's tasks.
  public var fingerprint: String
  /// The number of tasks (shards) of the stage.
  public var taskCount: Int

  /// Creates a stage row.
  public init(
    id: String, op: String, position: Int, inputs: [String], configJSON: String, fingerprint: String,
    taskCount: Int
  ) {
    self.id = id
    self.op = op
    self.position = position
    self.inputs = inputs
    self.configJSON = configJSON
    self.fingerprint = fingerprint
    self.taskCount = taskCount
  }
}

// MARK: - Tasks

/// One stage applied to one input shard: the unit of retry and resume.
public struct TaskRow: Sendable, Equatable {
  /// The stage id.
  public var stage: String
  /// The shard index, 0-based.
  public var shard: Int
  /// The input shard the task reads.
  public var input: String
  /// Where the task stands.
  public var status: TaskStatus
  /// How many times the task has been started (0 while only planned).
  public var attempt: Int
  /// The task's fingerprint when it was last started or finished.
  public var fingerprint: String
  /// The run that last started the task.
  public var runID: Int64?
  /// Seconds since 1970 when the last attempt started.
  public var startedAt: Double?
  /// Seconds since 1970 when the last attempt finished or failed.
  public var finishedAt: Double?
  /// How long the last finished attempt took.
  public var durationSeconds: Double?
  /// Of that, the time spent in the stage's decisions (nil for steps that make none).
  public var decideSeconds: Double?
  /// Records read.
  public var recordsIn: Int
  /// Records written out, changed or not.
  public var recordsKept: Int
  /// Records dropped (each with a reason, see `Manifest.dropCounts`).
  public var recordsDropped: Int
  /// Records the stage created.
  public var recordsEmitted: Int
  /// Bytes read.
  public var bytesIn: Int
  /// The output shard, once done.
  public var outputPath: String?
  /// The output shard's size in bytes.
  public var outputBytes: Int
  /// The output shard's checksum.
  public var checksum: String?
  /// The shard of dropped records, if the task wrote one.
  public var rejectsPath: String?
  /// The rejects shard's size in bytes.
  public var rejectsBytes: Int = 0
  /// The rejects shard's checksum (nil for rows written before schema 8).
  public var rejectsChecksum: String? = nil
  /// The task the row was done in: the first row of its fused chain (itself when alone).
  public var chain: String? = nil
  /// `records`, `collect`, `step` or `export` (nil for rows written before schema 8).
  public var kind: String? = nil
  /// When the output shard was deleted after its last reader finished (`keepIntermediates: false`).
  public var outputDeletedAt: Double? = nil
  /// Why the last attempt failed.
  public var error: String?
  /// The file the failure is about, if known.
  public var errorFile: String?
  /// The 1-based line in `errorFile`, if known.
  public var errorLine: Int?

  /// Creates a task row.
  public init(
    stage: String, shard: Int, input: String, status: TaskStatus, attempt: Int, fingerprint: String,
    runID: Int64?, startedAt: Double?, finishedAt: Double?, durationSeconds: Double?, recordsIn: Int,
    recordsKept: Int, recordsDropped: Int, recordsEmitted: Int, bytesIn: Int, outputPath: String?,
    outputBytes: Int, checksum: String?, rejectsPath: String? = nil, error: String?, errorFile: String?,
    errorLine: Int?, decideSeconds: Double? = nil
  ) {
    self.decideSeconds = decideSeconds
    self.stage = stage
    self.shard = shard
    self.input = input
    self.status = status
    self.attempt = attempt
    self.fingerprint = fingerprint
    self.runID = runID
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.durationSeconds = durationSeconds
    self.recordsIn = recordsIn
    self.recordsKept = recordsKept
    self.recordsDropped = recordsDropped
    self.recordsEmitted = recordsEmitted
    self.bytesIn = bytesIn
    self.outputPath = outputPath
    self.outputBytes = outputBytes
    self.checksum = checksum
    self.rejectsPath = rejectsPath
    self.error = error
    self.errorFile = errorFile
    self.errorLine = errorLine
  }
}

/// Everything a finished task records, written in one transaction by `Manifest.markTaskDone(_:)`
/// (and carried by task ledgers, `TaskLedger`).
public struct TaskCompletion: Sendable {
  /// The stage id.
  public var stage: String
  /// The shard index.
  public var shard: Int
  /// The task's fingerprint.
  public var fingerprint: String
  /// The input the task read (a shard path, or a description).
  public var input: String = ""
  /// The run that did the task.
  public var runID: Int64? = nil
  /// Seconds since 1970 when the task started.
  public var startedAt: Double? = nil
  /// The first row of the fused chain the task was done in (itself when alone).
  public var chain: String? = nil
  /// `records`, `collect`, `step` or `export`.
  public var kind: String? = nil
  /// The rejects shard's size.
  public var rejectsBytes: Int = 0
  /// The rejects shard's checksum.
  public var rejectsChecksum: String? = nil
  /// Seconds since 1970 when the task finished.
  public var finishedAt: Double
  /// How long the task took.
  public var durationSeconds: Double
  /// Of that, the time spent in the stage's decisions (nil for steps that make none).
  public var decideSeconds: Double?
  /// Records read.
  public var recordsIn: Int
  /// Records written out, changed or not.
  public var recordsKept: Int
  /// Records dropped.
  public var recordsDropped: Int
  /// Records created.
  public var recordsEmitted: Int
  /// Bytes read.
  public var bytesIn: Int
  /// The output shard, already renamed into place.
  public var outputPath: String?
  /// The output shard's size.
  public var outputBytes: Int
  /// The output shard's checksum.
  public var checksum: String?
  /// The shard of dropped records, if any.
  public var rejectsPath: String?
  /// Dropped records by reason; replaces the task's earlier counts.
  public var dropCounts: [String: Int]
  /// Where records entered the pipeline (tasks that read pipeline inputs); replaces earlier rows.
  public var origins: [RecordOrigin]
  /// The stage's verdict on each record; replaces earlier rows.
  public var verdicts: [RecordVerdict]
  /// Non-record outputs; names must be unique within the task.
  public var artifacts: [ArtifactRow]
  /// More origins and verdicts, gathered in bounded memory (or read back from a ledger);
  /// written after `origins` and `verdicts`.
  public var provenance: (any ProvenanceSource)?
  /// Named counters the stage added to (for example hits per benchmark).
  public var counters: [String: Int]
  /// The mixture plan a planning task made, one line per group.
  public var mixtureGroups: [PlannedGroup]

  /// Creates a completion.
  public init(
    stage: String, shard: Int, fingerprint: String, finishedAt: Double, durationSeconds: Double,
    recordsIn: Int, recordsKept: Int, recordsDropped: Int, recordsEmitted: Int, bytesIn: Int,
    outputPath: String?, outputBytes: Int, checksum: String?, rejectsPath: String? = nil,
    dropCounts: [String: Int] = [:], origins: [RecordOrigin] = [], verdicts: [RecordVerdict] = [],
    artifacts: [ArtifactRow] = [], provenance: (any ProvenanceSource)? = nil, counters: [String: Int] = [:],
    mixtureGroups: [PlannedGroup] = [], decideSeconds: Double? = nil
  ) {
    self.decideSeconds = decideSeconds
    self.stage = stage
    self.shard = shard
    self.fingerprint = fingerprint
    self.finishedAt = finishedAt
    self.durationSeconds = durationSeconds
    self.recordsIn = recordsIn
    self.recordsKept = recordsKept
    self.recordsDropped = recordsDropped
    self.recordsEmitted = recordsEmitted
    self.bytesIn = bytesIn
    self.outputPath = outputPath
    self.outputBytes = outputBytes
    self.checksum = checksum
    self.rejectsPath = rejectsPath
    self.dropCounts = dropCounts
    self.origins = origins
    self.verdicts = verdicts
    self.artifacts = artifacts
    self.provenance = provenance
    self.counters = counters
    self.mixtureGroups = mixtureGroups
  }
}

// MARK: - Provenance

/// Where a record entered the pipeline: a source shard and a line. The stage and shard come from
/// the task that records it.
public struct RecordOrigin: Sendable, Equatable {
  /// The record's id.
  public var recordID: String
  /// The source shard the record was read from.
  public var sourcePath: String
  /// The record's 1-based line in `sourcePath`.
  public var line: Int

  /// Creates an origin.
  public init(recordID: String, sourcePath: String, line: Int) {
    self.recordID = recordID
    self.sourcePath = sourcePath
    self.line = line
  }
}

/// A stage's decision about one record. The stage and shard come from the task that records it.
public struct RecordVerdict: Sendable, Equatable {
  /// The record's id.
  public var recordID: String
  /// What the stage decided.
  public var kind: VerdictKind
  /// Why, for drops (`"too_short"`, `"duplicate"`); optional otherwise.
  public var reason: String?
  /// Anything else worth keeping, e.g. `"duplicate of doc-17"`.
  public var detail: String?

  /// Creates a verdict.
  public init(recordID: String, kind: VerdictKind, reason: String? = nil, detail: String? = nil) {
    self.recordID = recordID
    self.kind = kind
    self.reason = reason
    self.detail = detail
  }
}

/// Everything the manifest knows about one record id: where it came from and what each stage
/// decided. Ids are meant to be unique, but if they repeat, every match is listed.
public struct RecordHistory: Sendable, Equatable {
  /// Where a record entered the pipeline, and which task read it.
  public struct Origin: Sendable, Equatable {
    /// The stage that read the record.
    public var stage: String
    /// The shard of that stage.
    public var shard: Int
    /// The source shard.
    public var sourcePath: String
    /// The 1-based line in `sourcePath`.
    public var line: Int

    /// Creates an origin entry.
    public init(stage: String, shard: Int, sourcePath: String, line: Int) {
      self.stage = stage
      self.shard = shard
      self.sourcePath = sourcePath
      self.line = line
    }
  }

  /// One stage's decision about the record.
  public struct Verdict: Sendable, Equatable {
    /// The stage that decided.
    public var stage: String
    /// The shard of that stage.
    public var shard: Int
    /// What it decided.
    public var kind: VerdictKind
    /// Why, if given.
    public var reason: String?
    /// More detail, if given.
    public var detail: String?

    /// Creates a verdict entry.
    public init(stage: String, shard: Int, kind: VerdictKind, reason: String?, detail: String?) {
      self.stage = stage
      self.shard = shard
      self.kind = kind
      self.reason = reason
      self.detail = detail
    }
  }

  /// Where the record entered, in pipeline order.
  public var origins: [Origin]
  /// Each stage's verdict, in pipeline order.
  public var verdicts: [Verdict]

  /// Whether the manifest knows nothing about the record.
  public var isEmpty: Bool { origins.isEmpty && verdicts.isEmpty }

  /// Creates a history.
  public init(origins: [Origin], verdicts: [Verdict]) {
    self.origins = origins
    self.verdicts = verdicts
  }
}

// MARK: - Counts and artifacts

/// How many records a stage dropped for one reason, summed over its tasks.
public struct DropCount: Sendable, Equatable {
  /// The stage id.
  public var stage: String
  /// The drop reason.
  public var reason: String
  /// The number of records.
  public var count: Int

  /// Creates a drop count.
  public init(stage: String, reason: String, count: Int) {
    self.stage = stage
    self.reason = reason
    self.count = count
  }
}

/// A non-record output of a task: a dedup index, a trained model, a mixture plan.
public struct ArtifactRow: Sendable, Equatable {
  /// The artifact's name, unique within its task.
  public var name: String
  /// Where the file is.
  public var path: String
  /// Its size in bytes.
  public var bytes: Int
  /// Its checksum, if computed.
  public var checksum: String?
  /// The shard it belongs to; nil for an artifact about the whole stage.
  public var shard: Int?
  /// When it was deleted after its last reader finished (`keepIntermediates: false`).
  public var deletedAt: Double?

  /// Creates an artifact row.
  public init(
    name: String, path: String, bytes: Int, checksum: String? = nil, shard: Int? = nil, deletedAt: Double? = nil
  ) {
    self.name = name
    self.path = path
    self.bytes = bytes
    self.checksum = checksum
    self.shard = shard
    self.deletedAt = deletedAt
  }
}

/// A stage counter summed over the stage's done tasks.
public struct StageCounter: Sendable, Equatable {
  /// The stage id.
  public var stage: String
  /// The counter's name.
  public var name: String
  /// The sum over the stage's tasks.
  public var value: Int

  /// Creates a counter row.
  public init(stage: String, name: String, value: Int) {
    self.stage = stage
    self.name = name
    self.value = value
  }
}
