internal import Synchronization

/// What a record stage decided about one record.
public enum Verdict: Sendable, Equatable {
  /// Keep the record (a stage may have changed it in place).
  case keep
  /// Drop the record; it goes to the rejects shard with `reason` (snake_case, stable: it is a
  /// counter name in the manifest) and an optional `detail` (for example the kept duplicate's id).
  case drop(reason: String, detail: String? = nil)
}

/// Where a stage runs: which stage, which shard, which seed. Stages take randomness from
/// here, never from the clock or a global generator, so output does not depend on scheduling.
public struct StageContext: Sendable {
  /// The stage id from the pipeline file.
  public let stageID: String
  /// The run seed from the pipeline file.
  public let seed: UInt64
  /// The index of the shard the task works on.
  public let shardIndex: Int
  /// Named counts the stage adds to (beyond keep and drop); the manifest stores them per task
  /// and `pipe inspect` sums them per stage.
  public let counters: StageCounters

  /// What the runtime provides beyond records (the LLM clients with the manifest's cache).
  public let services: StageServices

  /// Creates a context.
  public init(
    stageID: String, seed: UInt64, shardIndex: Int, counters: StageCounters = StageCounters(),
    services: StageServices = StageServices()
  ) {
    self.stageID = stageID
    self.seed = seed
    self.shardIndex = shardIndex
    self.counters = counters
    self.services = services
  }

  /// A generator seeded by (run seed, stage, record id): the same record gets the same draws in
  /// every run, whatever shard or worker it lands on.
  public func rng(for recordID: String) -> SeededRNG {
    SeededRNG(seed: seed ^ XXH64.hash(stageID, seed: 0x5354_4147) ^ XXH64.hash(recordID, seed: 0x5245_434F))
  }
}

/// Shared objects the runtime lends to stages for a run, found by type: stages see neither
/// SQLite nor the run directory, so the runtime hands them, for example, an LLM client pool
/// whose cache lives in the manifest.
public struct StageServices: Sendable {
  private var values: [ObjectIdentifier: any Sendable] = [:]

  /// Creates an empty table.
  public init() {}

  /// Adds (or replaces) the service of type `type`.
  public mutating func register<Service>(_ service: Service, as type: Service.Type) where Service: Sendable {
    values[ObjectIdentifier(type)] = service
  }

  /// The service registered as `type`, if any.
  public func service<Service>(_ type: Service.Type) -> Service? {
    values[ObjectIdentifier(type)] as? Service
  }
}

/// Named counts of one task. Batch stages may add from several threads at once, so the values
/// sit behind a lock (uncontended in record stages, where a task runs on one thread).
public final class StageCounters: Sendable {
  private let storage = Mutex<[String: Int]>([:])

  /// Creates empty counters.
  public init() {}

  /// The counts so far, by name.
  public var values: [String: Int] { storage.withLock { $0 } }

  /// Adds `amount` to the counter `name` (snake_case, stable: it is shown and stored).
  public func add(_ name: String, _ amount: Int = 1) {
    storage.withLock { $0[name, default: 0] += amount }
  }
}

/// A stage that decides record by record. The shared loop in the runtime does reading,
/// writing, counting, provenance and rejects; a stage implements only its decision.
public protocol RecordStage: Sendable {
  /// Decides about `record`, possibly changing it in place.
  func process(_ record: inout Record, context: StageContext) throws -> Verdict
}

/// What a batch stage decided about one record.
public enum BatchOutcome: Sendable {
  /// Keep the record, possibly changed.
  case keep(Record)
  /// Keep the record, changed, with a note for `pipe why` (who generated it and why it won).
  case keepExplained(Record, detail: String)
  /// Drop the input record, with a reason (snake_case) and an optional detail.
  case drop(reason: String, detail: String? = nil)
  /// Replace the input record by these records, in order (for example a generated answer per
  /// seed, or one counterfactual per facet). An empty list drops the record (`no_output`, or
  /// the first rejected output's reason). `rejected` are outputs the stage made and refused
  /// (an invalid rewrite): they go to the rejects with their reasons, counted by reason as
  /// `rejected.REASON`, without changing the input's count.
  case expand([Record], rejected: [RejectedOutput] = [])
}

/// An output a batch stage made and refused, kept in the rejects with its reason.
public struct RejectedOutput: Sendable {
  /// The refused record.
  public var record: Record
  /// Why (snake_case).
  public var reason: String
  /// More about why.
  public var detail: String?

  /// Creates a rejected output.
  public init(record: Record, reason: String, detail: String? = nil) {
    self.record = record
    self.reason = reason
    self.detail = detail
  }
}

/// A stage that decides about several records at once, so it can work on them concurrently
/// (LLM calls) while the runtime keeps reading, writing, counting and rejects in input order.
public protocol BatchRecordStage: Sendable {
  /// How many records each call gets (the last batch of a shard may be smaller).
  var batchSize: Int { get }
  /// One outcome per record of `batch`, in the same order.
  ///
  /// - Throws: an infrastructure failure that should fail the task (it is retried by
  ///   `pipe resume`); a problem with one record is a `.drop` instead.
  func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome]
}

/// A batch stage whose decisions depend on what it decided before (Star-Agents evolves its
/// agent-pair probabilities seed after seed). The runtime runs its shards one after another,
/// hands each task the state the previous task ended with, and saves the state at the end of
/// every task as an artifact, so a resumed run continues from the last finished shard.
public protocol StatefulBatchStage: Sendable {
  /// How many records each call gets.
  var batchSize: Int { get }
  /// The state before the first shard.
  func initialState() throws -> JSONValue
  /// One outcome per record of `batch`, updating `state`.
  func process(_ batch: [Record], state: inout JSONValue, context: StageContext) throws -> [BatchOutcome]
}

/// What a training stage produced: the artifact's bytes and a report shown by `pipe inspect`.
public struct TrainedArtifact: Sendable {
  /// The artifact (a trained model), versioned by the stage.
  public var bytes: [UInt8]
  /// What training measured (held-out accuracy, counts), as JSON.
  public var report: JSONValue

  /// Creates an artifact.
  public init(bytes: [UInt8], report: JSONValue) {
    self.bytes = bytes
    self.report = report
  }
}

/// A stage that reads every record of its input, in order, and trains an artifact from them
/// (the quality evaluator, say). It runs as one task; its records go nowhere else.
public protocol TrainingStage: Sendable {
  /// Trains on the records `forEachRecord` yields (every record of the input, in shard and
  /// line order; lines that are not records are skipped and counted by the runtime).
  func train(
    forEachRecord: ((Record) throws -> Void) throws -> Void, context: StageContext
  ) throws -> TrainedArtifact
}

/// A record stage that needs the artifact of a training stage, named by a `.stage` config
/// key; the runtime loads the artifact and asks for the record stage that uses it.
public protocol ArtifactScoringStage: Sendable {
  /// The record stage that applies `artifact` (read from `source`, for error messages).
  ///
  /// - Throws: `PipeError(.corruptInput)` when the artifact is not one this version reads.
  func loading(_ artifact: [UInt8], source: String) throws -> any RecordStage
}

/// A 128-bit key for exact deduplication.
public struct DuplicateKey: Hashable, Sendable {
  /// High half.
  public var high: UInt64
  /// Low half.
  public var low: UInt64

  /// Creates a key.
  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }
}

/// A stage that removes records whose key was seen earlier in the stage's input order
/// (shard order, then line order). The runtime runs it in three steps so each resumes on its
/// own: keys per shard, one pass over all keys in order, then a filter per shard.
public protocol DuplicateKeyStage: Sendable {
  /// The key of `record`, or `nil` to keep the record without comparing it.
  func duplicateKey(of record: Record) -> DuplicateKey?
  /// The reject reason for a duplicate.
  var dropReason: String { get }
}

/// A stage that removes near-duplicates with locality-sensitive hashing: each record gets a
/// signature (values such that the share of equal positions between two records estimates
/// their similarity) cut into bands; records sharing a band key are candidates, candidates
/// similar enough are linked, linked records form clusters across all shards, and each cluster
/// keeps one survivor. The runtime runs it in steps that each resume on their own (signatures
/// per shard, buckets per band, one clustering pass, then a filter per shard) in memory
/// bounded by `memoryCapBytes`.
public protocol NearDuplicateStage: Sendable {
  /// The number of values in a signature.
  var signatureSize: Int { get }
  /// The number of bands; `bandKeys(of:)` returns exactly this many keys.
  var bandCount: Int { get }
  /// The record's signature (`signatureSize` values), or `nil` to keep the record without
  /// comparing it.
  func signature(of record: Record) -> [UInt64]?
  /// One 64-bit key per band of a signature. Two records are candidates when their keys agree
  /// in at least one band (same band index).
  func bandKeys(of signature: [UInt64]) -> [UInt64]
  /// Candidates are linked only when at least this share of their signature values agree;
  /// 0 links every candidate pair (what datatrove does).
  var minimumSimilarity: Double { get }
  /// The record's rank for survivor choice: in a cluster the highest score survives, a `nil`
  /// score ranks below every number, and ties go to the earliest record in input order (shard
  /// order, then line order). A stage that keeps the first record returns `nil` for all.
  func survivorScore(of record: Record) -> Double?
  /// The reject reason for a near-duplicate (its detail is the survivor's id).
  var dropReason: String { get }
  /// The metadata key that receives the cluster size on survivors, or `nil` for none.
  var clusterSizeField: String? { get }
  /// The memory the steps may use for sorting and merging before they spill to disk.
  var memoryCapBytes: Int { get }
}

/// A stage implementation as the runtime sees it.
public enum StageImplementation: Sendable {
  /// Decides per record, shard by shard.
  case record(any RecordStage)
  /// Decides several records at a time, shard by shard.
  case batch(any BatchRecordStage)
  /// Decides several records at a time, shard after shard, carrying a state between them.
  case statefulBatch(any StatefulBatchStage)
  /// Exact deduplication across all shards.
  case duplicateKey(any DuplicateKeyStage)
  /// Near-duplicate removal (MinHash LSH) across all shards.
  case nearDuplicate(any NearDuplicateStage)
  /// Totals per group across all shards, turned into a plan; records pass through.
  case groupPlanning(any GroupPlanningStage)
  /// Applies the plan of the planning stage it reads from, record by record.
  case planSampling(any PlanSamplingStage)
  /// Reads all its input in one task and writes a trained artifact.
  case training(any TrainingStage)
  /// A record stage over its input using the artifact of the training stage its `.stage`
  /// config key names.
  case artifactScoring(any ArtifactScoringStage)
}

/// SplitMix64: small, fast and good enough for sampling decisions; fully determined by its seed.
public struct SeededRNG: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// Creates a generator from a seed.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
