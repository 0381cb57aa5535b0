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

/// A stage implementation as the runtime sees it.
public enum StageImplementation: Sendable {
  /// Decides per record, shard by shard.
  case record(any RecordStage)
  /// Decides several records at a time, shard by shard.
  case batch(any BatchRecordStage)
  /// Decides several records at a time, shard after shard, carrying a state between them.
  case statefulBatch(any StatefulBatchStage)
  /// A global algorithm: a pass over every shard, steps over what it found, then the records
  /// (see `StagePlan`).
  case steps(StagePlan)
}

/// A stage whose output depends on what is inside a file its config names, beyond the
/// file's size and modification time (a tokenizer's vocabulary and merges): its
/// `contentIdentity` enters the stage's fingerprint, so another file with the same path, size
/// and time still reruns the stage, and a copy of the same tokenizer elsewhere does not.
public protocol ContentIdentified {
  /// A hash of the content that decides the output; nil when the stage reads no such file
  /// (its fingerprint is then what it was before the protocol existed).
  var contentIdentity: String? { get }
}

extension StageImplementation {
  /// The stage's `ContentIdentified.contentIdentity`, if it has one.
  public var contentIdentity: String? {
    switch self {
    case .record(let stage): return (stage as? any ContentIdentified)?.contentIdentity ?? nil
    case .batch(let stage): return (stage as? any ContentIdentified)?.contentIdentity ?? nil
    case .statefulBatch(let stage): return (stage as? any ContentIdentified)?.contentIdentity ?? nil
    case .steps: return nil
    }
  }
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
