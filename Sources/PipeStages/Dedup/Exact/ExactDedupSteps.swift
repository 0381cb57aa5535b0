public import PipeCore

/// The steps of exact deduplication, each a resumable task:
/// 1. `STAGE:keys[i]` (a pass over shard i, at the end of the chain that makes it) writes the
///    key of every record with its line and id (`keys-0000i.bin`);
/// 2. `STAGE:index[0]` reads all key files in shard order and, for every shard, lists the
///    lines whose key was seen before, with the id of the record that was kept
///    (`drops-0000i.bin`);
/// 3. `STAGE[i]` drops the listed lines of shard i.
///
/// The first occurrence in input order (shard order, then line order) wins, whatever the
/// number of workers. Memory in step 2 is one dictionary entry per distinct key.
///
/// With `reference` indexes, step 2 first reads their key files (oldest first), so their
/// records count as earlier than the input: a record equal to one of theirs is dropped with
/// that record's id, and they are never dropped. With `exportIndex`, a last step
/// `STAGE:export[0]` copies the key files and writes `index.json` (`DedupIndex`).
///
/// Files, little-endian: a key entry is line (UInt64), key high and low (UInt64 each), id
/// (UInt32 length, UTF-8); a drop entry is line (UInt64) and the kept id.
extension ExactDedup {
  /// The plan the runtime runs.
  public var plan: StagePlan {
    let stage = self
    return StagePlan(
      collect: RecordCollector(name: "keys", writes: [.intermediate(Self.keysFile, indexed: true)]) { context in
        try KeyCollection(stage: stage, output: context.create(Self.keysFile, index: context.index))
      },
      steps: [
        Step(name: "index", writes: [.intermediate(Self.dropsFile, indexed: true)]) { context in
          try Self.buildIndex(context, references: stage.references)
        }
      ]
        + (exportsIndex
          ? [
            Step(name: DedupIndex.stepName, writes: DedupIndex.exportSpecs([Self.keysFile])) { context in
              try DedupIndex.export(
                [Self.keysFile], op: Self.descriptor.qualifiedName, config: stage.identity, context: context)
            }
          ] : []),
      records: .decide { context in
        try DropList(
          drops: Self.loadDrops(context.open(Self.dropsFile, index: context.index)), reason: stage.dropReason)
      }, recordsAreCheapToRecompute: true)
  }

  static let keysFile = "keys.bin"
  static let dropsFile = "drops.bin"

  /// Step 2: the drop list of every shard. The keys of the references come first, in the
  /// order given, as if their records preceded the input.
  static func buildIndex(_ context: any StepContext, references: [DedupIndex]) throws {
    var firstSeen: [DuplicateKey: (id: String, isReference: Bool)] = [:]
    var (recordsIn, kept, dropped) = (0, 0, 0)
    var (referenceRecords, referenceDuplicates) = (0, 0)
    for reference in references {
      for shard in 0..<reference.shards {
        let input = try reference.open(keysFile, shard: shard, context: context)
        try forEachKey(in: input, whenCorrupt: "export it again") { _, key, id in
          if firstSeen[key] == nil { firstSeen[key] = (id, true) }
          referenceRecords += 1
        }
      }
    }
    for shard in 0..<context.shardCount {
      var drops: [UInt8] = []
      let input = try context.open(keysFile, index: shard)
      try forEachKey(in: input, whenCorrupt: "rerun with `pipe run --force`") { line, key, id in
        recordsIn += 1
        if let first = firstSeen[key] {
          dropped += 1
          if first.isReference { referenceDuplicates += 1 }
          Binary.append(line, to: &drops)
          Binary.append(first.id, to: &drops)
        } else {
          firstSeen[key] = (id, false)
          kept += 1
        }
      }
      try context.create(dropsFile, index: shard).write(drops)
      context.reportProgress(records: recordsIn, bytes: 0)
    }
    if !references.isEmpty {
      context.counters.add("reference_records", referenceRecords)
      context.counters.add("reference_duplicates", referenceDuplicates)
    }
    context.setCounts(recordsIn: recordsIn, kept: kept, dropped: dropped)
  }

  /// Calls `body` with the line, key and id of each entry of a key file; `whenCorrupt` says
  /// what to do when the file is truncated or corrupt.
  static func forEachKey(
    in input: any ArtifactInput, whenCorrupt: String, _ body: (UInt64, DuplicateKey, String) throws -> Void
  ) throws {
    let bytes = try input.readAll()
    var offset = 0
    while offset < bytes.count {
      guard let line = Binary.read(UInt64.self, bytes, &offset), let high = Binary.read(UInt64.self, bytes, &offset),
        let low = Binary.read(UInt64.self, bytes, &offset), let id = Binary.readString(bytes, &offset)
      else {
        throw PipeError(.corruptInput, "key file is truncated or corrupt; \(whenCorrupt)", file: input.name)
      }
      try body(line, DuplicateKey(high: high, low: low), id)
    }
  }

  /// The drop list of one shard: line number to the id of the record that was kept.
  static func loadDrops(_ input: any ArtifactInput) throws -> [Int: String] {
    let bytes = try input.readAll()
    var drops: [Int: String] = [:]
    var offset = 0
    while offset < bytes.count {
      guard let line = Binary.read(UInt64.self, bytes, &offset), let id = Binary.readString(bytes, &offset) else {
        throw PipeError(
          .corruptInput, "drop list is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
      }
      drops[Int(line)] = id
    }
    return drops
  }
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

/// Step 1 on one shard: each record's line, key and id.
final class KeyCollection: RecordCollection {
  private let stage: ExactDedup
  private let output: any ArtifactOutput
  private var buffer: [UInt8] = []

  init(stage: ExactDedup, output: any ArtifactOutput) {
    self.stage = stage
    self.output = output
    buffer.reserveCapacity(1 << 16)
  }

  func add(_ record: Record, line: Int) throws {
    guard let key = stage.duplicateKey(of: record) else { return }
    Binary.append(UInt64(line), to: &buffer)
    Binary.append(key.high, to: &buffer)
    Binary.append(key.low, to: &buffer)
    Binary.append(record.id, to: &buffer)
    if buffer.count >= 1 << 16 {
      try output.write(buffer)
      buffer.removeAll(keepingCapacity: true)
    }
  }

  func finish() throws {
    try output.write(buffer)
    buffer = []
  }
}

/// Step 3 on one shard: drops the lines the index listed, with the kept record's id.
final class DropList: RecordDecider {
  private let drops: [Int: String]
  private let reason: String

  init(drops: [Int: String], reason: String) {
    self.drops = drops
    self.reason = reason
  }

  func decide(_ record: Record, line: Int) throws -> BatchOutcome {
    if let keptID = drops[line] { return .drop(reason: reason, detail: keptID) }
    return .keep(record)
  }
}
