public import PipeCore

/// The steps of paragraph deduplication, each a resumable task:
/// 1. `STAGE:units[i]` (a pass over shard i) writes, for every record with units, its line, id
///    and the key of each unit (`units-0000i.bin`; 0 for a unit too short to be removed);
/// 2. `STAGE:index[0]` reads all unit files in shard order twice: first it counts the documents
///    each key occurs in and notes the first; then, for every shard, it lists the units to
///    remove (those whose key is in more than `maxDocuments` documents, in a document other
///    than the first) with the first document's id (`removals-0000i.bin`);
/// 3. `STAGE[i]` rewrites the listed records of shard i, or drops those left too short.
///
/// The first document in input order (shard order, then line order) keeps its units, whatever
/// the number of workers. Memory in step 2: one dictionary entry per distinct unit (about 48
/// bytes), and the ids of the first documents of repeated units.
///
/// Files, little-endian. A units entry: line (UInt64), id (UInt32 length, UTF-8), units
/// (UInt32), then per unit its key high and low (UInt64 each). A removal entry: line (UInt64),
/// units in the document (UInt32), removed (UInt32), their indexes (UInt32 each), the id of the
/// first document of the first removed unit.
extension ParagraphDedup {
  /// The plan the runtime runs.
  public var plan: StagePlan {
    let stage = self
    return StagePlan(
      collect: RecordCollector(name: "units", writes: [.intermediate(Self.unitsFile, indexed: true)]) { context in
        UnitCollection(stage: stage, output: try context.create(Self.unitsFile, index: context.index))
      },
      steps: [
        Step(name: "index", writes: [.intermediate(Self.removalsFile, indexed: true)]) { context in
          try stage.buildRemovals(context)
        }
      ],
      records: .decide { context in
        try UnitRemover(
          stage: stage, removals: Self.loadRemovals(context.open(Self.removalsFile, index: context.index)))
      }, recordsAreCheapToRecompute: true)
  }

  static let unitsFile = "units.bin"
  static let removalsFile = "removals.bin"

  /// What step 2 knows of a key: how many documents have it, and the first.
  struct Occurrence {
    var documents: UInt32
    var firstShard: UInt32
    var firstLine: UInt64
  }

  /// Reads one shard's units file, calling `body` with each record's line, id and keys.
  static func forEachDocument(
    _ input: any ArtifactInput, _ body: (UInt64, String, [DuplicateKey]) throws -> Void
  ) throws {
    let bytes = try input.readAll()
    var offset = 0
    var keys: [DuplicateKey] = []
    while offset < bytes.count {
      guard let line = Binary.read(UInt64.self, bytes, &offset), let id = Binary.readString(bytes, &offset),
        let count = Binary.read(UInt32.self, bytes, &offset)
      else {
        throw PipeError(
          .corruptInput, "units file is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
      }
      keys.removeAll(keepingCapacity: true)
      for _ in 0..<count {
        guard let high = Binary.read(UInt64.self, bytes, &offset), let low = Binary.read(UInt64.self, bytes, &offset)
        else {
          throw PipeError(
            .corruptInput, "units file is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
        }
        keys.append(DuplicateKey(high: high, low: low))
      }
      try body(line, id, keys)
    }
  }

  /// The key written for a unit that is never removed.
  static let noKey = DuplicateKey(high: 0, low: 0)

  /// Step 2: the removal list of every shard.
  func buildRemovals(_ context: any StepContext) throws {
    var occurrences: [DuplicateKey: Occurrence] = [:]
    var units = 0
    for shard in 0..<context.shardCount {
      try Self.forEachDocument(try context.open(Self.unitsFile, index: shard)) { line, _, keys in
        units += keys.count
        // A unit repeated inside one document counts that document once.
        for key in Set(keys) where key != Self.noKey {
          if let seen = occurrences[key] {
            occurrences[key] = Occurrence(
              documents: seen.documents &+ 1, firstShard: seen.firstShard, firstLine: seen.firstLine)
          } else {
            occurrences[key] = Occurrence(documents: 1, firstShard: UInt32(shard), firstLine: line)
          }
        }
      }
      context.reportProgress(records: units, bytes: 0)
    }
    // The ids of the first documents of repeated units, for the notes.
    var firstIDs: [UInt64: String] = [:]  // shard << 40 | line
    func firstKey(_ shard: UInt32, _ line: UInt64) -> UInt64 { UInt64(shard) << 40 | line }
    let wanted = Set(
      occurrences.values.filter { $0.documents > UInt32(maxDocuments) }.map { firstKey($0.firstShard, $0.firstLine) })
    var (documents, changed, removedUnits) = (0, 0, 0)
    var repeated = 0
    for occurrence in occurrences.values where occurrence.documents > UInt32(maxDocuments) { repeated += 1 }
    for shard in 0..<context.shardCount {
      var out: [UInt8] = []
      try Self.forEachDocument(try context.open(Self.unitsFile, index: shard)) { line, id, keys in
        documents += 1
        if wanted.contains(firstKey(UInt32(shard), line)) { firstIDs[firstKey(UInt32(shard), line)] = id }
        var removed: [UInt32] = []
        var firstOfFirst: String? = nil
        for (index, key) in keys.enumerated() where key != Self.noKey {
          guard let seen = occurrences[key], seen.documents > UInt32(maxDocuments),
            !(seen.firstShard == UInt32(shard) && seen.firstLine == line)
          else { continue }
          removed.append(UInt32(index))
          if firstOfFirst == nil { firstOfFirst = firstIDs[firstKey(seen.firstShard, seen.firstLine)] ?? "" }
        }
        guard !removed.isEmpty else { return }
        changed += 1
        removedUnits += removed.count
        Binary.append(line, to: &out)
        Binary.append(UInt32(keys.count), to: &out)
        Binary.append(UInt32(removed.count), to: &out)
        for index in removed { Binary.append(index, to: &out) }
        Binary.append(firstOfFirst ?? "", to: &out)
      }
      try context.create(Self.removalsFile, index: shard).write(out)
    }
    context.counters.add("units", units)
    context.counters.add("distinct_units", occurrences.count)
    context.counters.add("repeated_units", repeated)
    context.counters.add("removed_units", removedUnits)
    context.counters.add("changed_documents", changed)
    context.setCounts(recordsIn: documents, kept: documents, dropped: 0)
  }

  /// What to remove from one record.
  struct Removal {
    let units: Int
    let removed: [Int]
    let firstID: String
  }

  /// The removal list of one shard, by line.
  static func loadRemovals(_ input: any ArtifactInput) throws -> [Int: Removal] {
    let bytes = try input.readAll()
    var removals: [Int: Removal] = [:]
    var offset = 0
    while offset < bytes.count {
      guard let line = Binary.read(UInt64.self, bytes, &offset), let units = Binary.read(UInt32.self, bytes, &offset),
        let count = Binary.read(UInt32.self, bytes, &offset)
      else {
        throw PipeError(
          .corruptInput, "removal list is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
      }
      var removed: [Int] = []
      for _ in 0..<count {
        guard let index = Binary.read(UInt32.self, bytes, &offset) else {
          throw PipeError(
            .corruptInput, "removal list is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
        }
        removed.append(Int(index))
      }
      guard let firstID = Binary.readString(bytes, &offset) else {
        throw PipeError(
          .corruptInput, "removal list is truncated or corrupt; rerun with `pipe run --force`", file: input.name)
      }
      removals[Int(line)] = Removal(units: Int(units), removed: removed, firstID: firstID)
    }
    return removals
  }
}

/// Step 1 on one shard: each record's line, id and unit keys.
final class UnitCollection: RecordCollection {
  private let stage: ParagraphDedup
  private let output: any ArtifactOutput
  private var buffer: [UInt8] = []

  init(stage: ParagraphDedup, output: any ArtifactOutput) {
    self.stage = stage
    self.output = output
  }

  func add(_ record: Record, line: Int) throws {
    let keys: [DuplicateKey] = record.withTextUTF8 { bytes in
      stage.units(of: bytes).map { range in
        stage.key(of: String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
          ?? ParagraphDedup.noKey
      }
    }
    guard !keys.isEmpty else { return }
    Binary.append(UInt64(line), to: &buffer)
    Binary.append(record.id, to: &buffer)
    Binary.append(UInt32(keys.count), to: &buffer)
    for key in keys {
      // A real key of 0 (chance 2^-128) would only make its unit never removed.
      Binary.append(key.high, to: &buffer)
      Binary.append(key.low, to: &buffer)
    }
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

/// Step 3 on one shard: rewrites the listed records without their repeated units, or drops
/// those left too short.
final class UnitRemover: RecordDecider {
  private let stage: ParagraphDedup
  private let removals: [Int: ParagraphDedup.Removal]

  init(stage: ParagraphDedup, removals: [Int: ParagraphDedup.Removal]) {
    self.stage = stage
    self.removals = removals
  }

  func decide(_ record: Record, line: Int) throws -> BatchOutcome {
    guard let removal = removals[line] else { return .keep(record) }
    let before = record.text
    let units = stage.units(of: before)
    guard units.count == removal.units else {
      throw PipeError(
        .corruptInput,
        "record \(record.id) has \(units.count) units, but the removal list was made for \(removal.units); "
          + "rerun with `pipe run --force`")
    }
    let after = stage.removing(Set(removal.removed), from: before)
    let name = stage.unit == .paragraph ? "paragraph" : "line"
    let removedCharacters = before.unicodeScalars.count - after.unicodeScalars.count
    let note =
      "removed \(removal.removed.count) of \(units.count) \(name)s (\(removedCharacters) characters) found in more "
      + "than \(stage.maxDocuments) document\(stage.maxDocuments == 1 ? "" : "s"); the first removed one is kept in "
      + removal.firstID
    let left = after.unicodeScalars.count
    if left < stage.minChars {
      return .drop(reason: ParagraphDedup.tooShortReason, detail: note + "; \(left) characters left")
    }
    var rewritten = record
    rewritten.text = after
    return .keepExplained(rewritten, detail: note)
  }
}
