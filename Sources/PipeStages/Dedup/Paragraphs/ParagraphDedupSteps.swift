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
/// the number of workers. Memory in step 2: one dictionary entry per distinct unit of a
/// partition, partitions being as many as `memoryCapMB` needs, and one shard's removals.
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

  /// Memory per distinct unit in step 2's dictionary, as measured (5.7 million distinct
  /// paragraphs took about 500 MiB): sets how many partitions fit in the memory cap.
  static let bytesPerDistinctUnit = 96

  /// Step 2: the removal list of every shard.
  ///
  /// Keys are split by their top bits into as many partitions as the memory cap needs (an
  /// upper bound of the distinct units, from the size of the unit files, times
  /// `bytesPerDistinctUnit`); each partition is one pass over the unit files with the
  /// dictionary of its keys only (at most 1,024 partitions; past that the cap is exceeded). A
  /// pass appends its removals to each shard's scratch list; at the end each shard's list is
  /// merged by line. The removal files are the same whatever the number of partitions.
  func buildRemovals(_ context: any StepContext) throws {
    let shards = context.shardCount
    var unitBytes = 0
    for shard in 0..<shards { unitBytes += try context.open(Self.unitsFile, index: shard).size }
    let budget = max(1, memoryCapBytes / max(1, context.concurrentTasks))
    let needed = (unitBytes / 16) * Self.bytesPerDistinctUnit
    // At most 1,024 partitions (passes over the unit files); past that the cap is exceeded.
    var bits = 0
    while bits < 10 && (needed >> bits) > budget { bits += 1 }
    let partitions = 1 << bits
    func partition(_ key: DuplicateKey) -> Int { bits == 0 ? 0 : Int(key.high >> UInt64(64 - bits)) }

    var (units, distinct, repeated, documents) = (0, 0, 0, 0)
    // Per shard, one scratch list that every partition's pass appends to: line, units, unit
    // index, first id (one open file per shard, as the bucket steps of MinHash hold).
    let lists = try (0..<shards).map { try context.scratch("removals-\($0)") }
    func firstKey(_ shard: UInt32, _ line: UInt64) -> UInt64 { UInt64(shard) << 40 | line }
    for part in 0..<partitions {
      var occurrences: [DuplicateKey: Occurrence] = [:]
      for shard in 0..<shards {
        try Self.forEachDocument(try context.open(Self.unitsFile, index: shard)) { line, _, keys in
          if part == 0 {
            units += keys.count
            documents += 1
          }
          // A unit repeated inside one document counts that document once.
          for key in Set(keys) where key != Self.noKey && partition(key) == part {
            if let seen = occurrences[key] {
              occurrences[key] = Occurrence(
                documents: seen.documents &+ 1, firstShard: seen.firstShard, firstLine: seen.firstLine)
            } else {
              occurrences[key] = Occurrence(documents: 1, firstShard: UInt32(shard), firstLine: line)
            }
          }
        }
      }
      distinct += occurrences.count
      var wanted = Set<UInt64>()
      for occurrence in occurrences.values where occurrence.documents > UInt32(maxDocuments) {
        repeated += 1
        wanted.insert(firstKey(occurrence.firstShard, occurrence.firstLine))
      }
      var firstIDs: [UInt64: String] = [:]
      for shard in 0..<shards {
        let list = lists[shard]
        var out: [UInt8] = []
        try Self.forEachDocument(try context.open(Self.unitsFile, index: shard)) { line, id, keys in
          if wanted.contains(firstKey(UInt32(shard), line)) { firstIDs[firstKey(UInt32(shard), line)] = id }
          for (index, key) in keys.enumerated() where key != Self.noKey && partition(key) == part {
            guard let seen = occurrences[key], seen.documents > UInt32(maxDocuments),
              !(seen.firstShard == UInt32(shard) && seen.firstLine == line)
            else { continue }
            Binary.append(line, to: &out)
            Binary.append(UInt32(keys.count), to: &out)
            Binary.append(UInt32(index), to: &out)
            Binary.append(firstIDs[firstKey(seen.firstShard, seen.firstLine)] ?? "", to: &out)
          }
          if out.count >= 1 << 16 {
            try list.write(out)
            out.removeAll(keepingCapacity: true)
          }
        }
        try list.write(out)
      }
      context.reportProgress(records: units, bytes: 0)
    }

    // Each shard's removals, merged across partitions by line: the unit indexes ascending, and
    // the first id of the lowest removed unit.
    var (changed, removedUnits) = (0, 0)
    for shard in 0..<shards {
      var byLine: [UInt64: (units: UInt32, removed: [(index: UInt32, firstID: String)])] = [:]
      do {
        let list = try lists[shard].finishWriting()
        let bytes = try list.readAll()
        var offset = 0
        while offset < bytes.count {
          guard let line = Binary.read(UInt64.self, bytes, &offset),
            let count = Binary.read(UInt32.self, bytes, &offset),
            let index = Binary.read(UInt32.self, bytes, &offset), let firstID = Binary.readString(bytes, &offset)
          else {
            throw PipeError(.corruptInput, "a scratch removal list is truncated", file: list.name)
          }
          byLine[line, default: (count, [])].removed.append((index, firstID))
        }
      }
      var out: [UInt8] = []
      for line in byLine.keys.sorted() {
        guard let entry = byLine[line] else { continue }
        let removed = entry.removed.sorted { $0.index < $1.index }
        changed += 1
        removedUnits += removed.count
        Binary.append(line, to: &out)
        Binary.append(entry.units, to: &out)
        Binary.append(UInt32(removed.count), to: &out)
        for unit in removed { Binary.append(unit.index, to: &out) }
        Binary.append(removed.first?.firstID ?? "", to: &out)
      }
      try context.create(Self.removalsFile, index: shard).write(out)
    }
    context.counters.add("units", units)
    context.counters.add("distinct_units", distinct)
    context.counters.add("repeated_units", repeated)
    context.counters.add("removed_units", removedUnits)
    context.counters.add("changed_documents", changed)
    if partitions > 1 { context.counters.add("index_partitions", partitions) }
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
