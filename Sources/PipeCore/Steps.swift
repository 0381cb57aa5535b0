/// A stage's work beyond deciding record by record, as the runtime schedules it: an optional
/// pass over every input shard (`collect`), then steps over what the passes wrote, then what
/// becomes of the records. Exact deduplication, for example, is
///
/// ```
/// collect: keys            per shard: each record's key, line and id  -> keys-0000i.bin
/// steps:   index (single)  every key file in shard order               -> drops-0000i.bin
/// records: decide          per shard: drop the lines drops-0000i.bin names
/// ```
///
/// The runtime knows no algorithm: it plans the tasks, runs each collect pass at the end of
/// the fused chain that produces the stage's input (so it costs no pass of its own), waits for
/// every task of a step before the next step, records every task's counts, artifacts and
/// timings, and resumes each on its own. Steps read and write named artifacts through their
/// `StepContext`, never paths.
public struct StagePlan: Sendable {
  /// A pass over each input shard before the steps, writing per-shard artifacts.
  public var collect: RecordCollector?
  /// Then these steps, in order; each waits for every task of the one before.
  public var steps: [Step]
  /// Then, per shard, what becomes of the records.
  public var records: RecordWork
  /// Artifacts of other stages this stage reads (a trained model, the plan of the stage it
  /// samples); they run first, and a change in them reruns this stage.
  public var uses: [ArtifactUse]
  /// Whether the per-shard decisions are cheap lookups into what the steps wrote (the filter
  /// of a deduplication), so that a later pass that needs the stage's records recomputes them
  /// from the stage's input rather than have them written and read back.
  public var recordsAreCheapToRecompute: Bool

  /// Creates a plan.
  public init(
    collect: RecordCollector? = nil, steps: [Step] = [], records: RecordWork, uses: [ArtifactUse] = [],
    recordsAreCheapToRecompute: Bool = false
  ) {
    self.collect = collect
    self.steps = steps
    self.records = records
    self.uses = uses
    self.recordsAreCheapToRecompute = recordsAreCheapToRecompute
  }

  /// Every artifact the plan's steps write, by name.
  public var artifacts: [ArtifactSpec] {
    (collect?.writes ?? []) + steps.flatMap(\.writes)
  }
}

/// What becomes of a stage's records once its steps are done.
public enum RecordWork: Sendable {
  /// Each shard's records go through a decider made for the task; it may read the artifacts the
  /// steps wrote and those the stage uses. Its kept and emitted records are the stage's output.
  case decide(@Sendable (any StepContext) throws -> any RecordDecider)
  /// The stage's records are its input's, unchanged (a planning stage whose plan a later stage
  /// applies).
  case passThrough
  /// The stage has no record output (a training stage: its product is an artifact).
  case none
}

/// Decides the records of one shard, one at a time, knowing each record's line in the stage's
/// input shard (the filter of a global algorithm looks up what its steps found for that line).
public protocol RecordDecider: AnyObject {
  /// The outcome for `record`, read at `line` (1-based) of the stage's input shard.
  func decide(_ record: Record, line: Int) throws -> BatchOutcome
  /// When `line` is known to hold a valid record this decider keeps unchanged, its id (not one
  /// generated from the line); the runtime then copies the line without parsing it. `line`s
  /// are asked in increasing order. The default knows nothing.
  func unchangedRecordID(atLine line: Int) throws -> String?
}

extension RecordDecider {
  /// Knows nothing: every record is parsed and decided.
  public func unchangedRecordID(atLine line: Int) throws -> String? { nil }
}

/// A record stage as a decider, for plans whose per-shard work is an ordinary record stage
/// built from an artifact (a scorer from a trained model).
public final class RecordStageDecider: RecordDecider {
  private let stage: any RecordStage
  private let context: StageContext

  /// Decides with `stage` in `context`.
  public init(_ stage: any RecordStage, context: StageContext) {
    self.stage = stage
    self.context = context
  }

  /// The stage's verdict on `record`.
  public func decide(_ record: Record, line: Int) throws -> BatchOutcome {
    var record = record
    switch try stage.process(&record, context: context) {
    case .keep: return .keep(record)
    case .drop(let reason, let detail): return .drop(reason: reason, detail: detail)
    }
  }
}

/// A pass over each shard of a stage's input, before its steps, that writes per-shard
/// artifacts (dedup keys, MinHash signatures, group totals). Its records flow on unchanged.
public struct RecordCollector: Sendable {
  /// The step's name: its manifest stage is `STAGE:name`.
  public let name: String
  /// The artifacts each task writes.
  public let writes: [ArtifactSpec]
  /// Starts the pass over one shard.
  public let start: @Sendable (any StepContext) throws -> any RecordCollection

  /// Creates a collector.
  public init(
    name: String, writes: [ArtifactSpec], start: @escaping @Sendable (any StepContext) throws -> any RecordCollection
  ) {
    self.name = name
    self.writes = writes
    self.start = start
  }
}

/// One task of a collect pass: sees the shard's records in order, then finishes.
public protocol RecordCollection: AnyObject {
  /// Adds the next record, read at `line` (1-based) of the stage's input shard.
  func add(_ record: Record, line: Int) throws
  /// Writes what the pass found (through the task's `StepContext`).
  func finish() throws
}

/// A step of a global algorithm: one task, or a fixed number of grouped tasks, over what
/// earlier steps wrote.
public struct Step: Sendable {
  /// How many tasks the step has.
  public enum Shape: Sendable, Equatable {
    /// One task.
    case single
    /// This many tasks (index 0 to count - 1), which may run at once.
    case grouped(Int)
  }

  /// The step's name: its manifest stage is `STAGE:name`, or the stage's own id when nil (a
  /// stage whose step is its whole work, such as training).
  public let name: String?
  /// How many tasks.
  public let shape: Shape
  /// The artifacts the step writes.
  public let writes: [ArtifactSpec]
  /// Whether the step reads every record of the stage's input (`StepContext.forEachInputRecord`);
  /// the input is then written to disk even inside a fused chain.
  public let readsInputRecords: Bool
  /// Runs one task.
  public let run: @Sendable (any StepContext) throws -> Void

  /// Creates a step.
  public init(
    name: String?, shape: Shape = .single, writes: [ArtifactSpec], readsInputRecords: Bool = false,
    run: @escaping @Sendable (any StepContext) throws -> Void
  ) {
    self.name = name
    self.shape = shape
    self.writes = writes
    self.readsInputRecords = readsInputRecords
    self.run = run
  }

  /// The number of tasks.
  public var taskCount: Int {
    switch shape {
    case .single: return 1
    case .grouped(let count): return count
    }
  }
}

/// An artifact a step writes: its file name and whether it outlives the run's use of it.
public struct ArtifactSpec: Sendable, Equatable {
  /// The file name, with its extension (`keys.bin`); an indexed artifact is one file per index
  /// (`keys-00003.bin`).
  public let name: String
  /// Whether there is one file per index (shard or group) rather than one in all.
  public let isIndexed: Bool
  /// Whether the artifact is only a means to the stage's end (keys, signatures, edges): with
  /// `"keepIntermediates": false` it is deleted once every step that reads it is done.
  /// Reports and products (clusters, plans, trained models) are kept.
  public let isIntermediate: Bool

  /// An intermediate artifact.
  public static func intermediate(_ name: String, indexed: Bool) -> ArtifactSpec {
    ArtifactSpec(name: name, isIndexed: indexed, isIntermediate: true)
  }

  /// A kept artifact.
  public static func kept(_ name: String, indexed: Bool = false) -> ArtifactSpec {
    ArtifactSpec(name: name, isIndexed: indexed, isIntermediate: false)
  }

  /// The file of artifact `name` (`keys.bin`): the name itself, or for `index` the name with
  /// `-NNNNN` before its extension (`keys-00003.bin`). Runs name their artifact files so, and
  /// a stage that reads another run's files (an exported index) finds them so.
  public static func fileName(_ name: String, index: Int?) -> String {
    guard let index else { return name }
    let digits = String(index)
    let number = String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name + "-" + number }
    return name[..<dot] + "-" + number + name[dot...]
  }
}

/// An artifact of another stage that a stage reads.
public struct ArtifactUse: Sendable, Hashable {
  /// Which stage.
  public enum Source: Sendable, Hashable {
    /// The one stage this stage reads its records from.
    case input
    /// The stage a `.stage` config key names.
    case configKey(String, stage: String)
  }

  /// Which stage.
  public let source: Source
  /// The artifact's name (`plan.json`, `model.bin`).
  public let artifact: String
  /// What kind of stage makes it, for messages ("a planning stage such as mixture.plan").
  public let maker: String
  /// Config keys the two stages share: when this stage sets one (not null), the making stage
  /// must have set it to the same value (checked with the pipeline, before anything runs).
  public let sharedKeys: [String]

  /// Creates a use.
  public init(_ source: Source, artifact: String, maker: String, sharedKeys: [String] = []) {
    self.source = source
    self.artifact = artifact
    self.maker = maker
    self.sharedKeys = sharedKeys
  }
}

/// One line of a plan over groups (the mixture plan): what `pipe inspect` shows per group.
public struct PlannedGroup: Sendable, Equatable {
  /// The group's name.
  public var name: String
  /// Records available.
  public var records: Int
  /// Tokens available.
  public var tokensAvailable: Int
  /// Tokens the plan asks for.
  public var tokensTargeted: Double
  /// `tokensTargeted / tokensAvailable`.
  public var rate: Double
  /// The group's share of the available tokens.
  public var shareBefore: Double
  /// The group's share of the targeted tokens.
  public var shareAfter: Double

  /// Creates a line.
  public init(
    name: String, records: Int, tokensAvailable: Int, tokensTargeted: Double, rate: Double, shareBefore: Double,
    shareAfter: Double
  ) {
    self.name = name
    self.records = records
    self.tokensAvailable = tokensAvailable
    self.tokensTargeted = tokensTargeted
    self.rate = rate
    self.shareBefore = shareBefore
    self.shareAfter = shareAfter
  }
}

/// What a step's task sees of the run: where it is, its artifacts by name, and where to put
/// its counts. The runtime commits every artifact the task created when the task succeeds
/// (temporary file, fsync, rename, checksum in the manifest) and removes them when it fails.
public protocol StepContext: AnyObject {
  /// The stage id from the pipeline file.
  var stageID: String { get }
  /// The task's index: its shard (collect and decide), its group (grouped steps), or 0.
  var index: Int { get }
  /// The number of shards of the stage's input.
  var shardCount: Int { get }
  /// How many tasks may run at once in this process (a step's share of a memory cap).
  var concurrentTasks: Int { get }
  /// The context record stages get (seed, randomness, counters, services).
  var stage: StageContext { get }

  /// Sets the task's record counts (steps over artifacts count what they went through).
  func setCounts(recordsIn: Int, kept: Int, dropped: Int)
  /// Reports progress for the display.
  func reportProgress(records: Int, bytes: Int)
  /// Records the plan a planning step made, for `pipe inspect` and the manifest.
  func recordPlan(_ groups: [PlannedGroup])

  /// Creates an artifact this step declared (`index` for an indexed one).
  func create(_ artifact: String, index: Int?) throws -> any ArtifactOutput
  /// Opens an artifact an earlier step of this stage wrote.
  func open(_ artifact: String, index: Int?) throws -> any ArtifactInput
  /// Opens an artifact of another stage that this stage uses.
  func open(_ use: ArtifactUse, index: Int?) throws -> any ArtifactInput
  /// Opens a file outside the run, read-only: an index another run exported, which a stage
  /// names in its config (`reference` of the dedup ops).
  func openExternal(path: String) throws -> any ArtifactInput
  /// A temporary file for this task, removed when the task ends.
  func scratch(_ name: String) throws -> any ScratchFile
  /// Every record of the stage's input, in shard then line order (for steps that declared
  /// `readsInputRecords`); lines that are not records are skipped and counted.
  func forEachInputRecord(_ body: (Record) throws -> Void) throws
}

extension StepContext {
  /// The counters of the task.
  public var counters: StageCounters { stage.counters }

  /// Writes `value` as a whole artifact: one line of JSON.
  public func writeJSON(_ value: JSONValue, to artifact: String, index: Int? = nil) throws {
    var bytes: [UInt8] = []
    value.write(to: &bytes, sortedKeys: false)
    bytes.append(0x0A)
    try create(artifact, index: index).write(bytes)
  }

  /// Reads a whole artifact as JSON.
  public func readJSON(_ input: any ArtifactInput) throws -> JSONValue {
    do {
      return try JSONValue.parse(try input.readAll())
    } catch let error as JSONParseError {
      throw PipeError(
        .corruptInput, "the artifact is not valid JSON (\(error)); rerun its stage with --force", file: input.name)
    }
  }
}

/// An artifact being written.
public protocol ArtifactOutput: AnyObject {
  /// Appends bytes.
  func write(_ bytes: UnsafeRawBufferPointer) throws
  /// Appends the whole content of `source`.
  func append(_ source: any ArtifactInput) throws
}

extension ArtifactOutput {
  /// Appends bytes.
  public func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  /// Appends the whole content of `source`, 1 MiB at a time.
  public func append(_ source: any ArtifactInput) throws {
    var buffer = [UInt8](repeating: 0, count: min(1 << 20, max(1, source.size)))
    var offset = 0
    while offset < source.size {
      let take = min(buffer.count, source.size - offset)
      try buffer.withUnsafeMutableBytes { raw in
        let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<take])
        try source.read(into: part, at: offset)
        try write(UnsafeRawBufferPointer(part))
      }
      offset += take
    }
  }
}

/// A committed artifact (or a closed scratch file), open for positioned reads.
public protocol ArtifactInput: AnyObject {
  /// Its size in bytes.
  var size: Int { get }
  /// How errors name it (its path).
  var name: String { get }
  /// Fills `buffer` from `offset`; throws if the file ends first.
  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws
  /// Maps `count` bytes from `offset` read-only (the page cache: no copy, no system call per read).
  func map(offset: Int, count: Int) throws -> any MappedArtifact
}

extension ArtifactInput {
  /// The whole content.
  public func readAll() throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size)
    try bytes.withUnsafeMutableBytes { try read(into: $0, at: 0) }
    return bytes
  }
}

/// A read-only mapping of part of an artifact, valid while this object lives.
public protocol MappedArtifact: AnyObject {
  /// The mapped bytes (`nil` base for an empty mapping).
  var bytes: UnsafeRawBufferPointer { get }
}

/// A temporary file: written, then closed and read back.
public protocol ScratchFile: ArtifactOutput {
  /// Ends writing and opens the file for reading.
  func finishWriting() throws -> any ArtifactInput
}
