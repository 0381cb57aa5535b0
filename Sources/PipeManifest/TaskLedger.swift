public import PipeCore

/// Everything one task produced besides its files, written by the worker beside its outputs
/// and merged into the manifest by the one process that writes it: the rows the task completes
/// (a fused chain completes one per stage), their counts, drop counts, counters, artifacts,
/// plans and provenance, and the LLM responses the task received.
///
/// A ledger is one file, written under a temporary name and renamed into place, so it is
/// either absent or complete; a checksum over the whole file catches one damaged later. Its
/// layout (documented for users in `docs/ledger.md`), all integers little-endian:
///
/// ```
/// "PLGR", version (UInt32)
/// provenance blocks: origin and verdict rows of each task row (the ProvenanceSpool encoding)
/// header: one JSON object: {"task", "rows": [...], "llmCache": [...]}
/// trailer: header offset, header length (UInt64 each), XXH64 of every byte before it, "PLGE"
/// ```
public struct TaskLedger: Sendable {
  /// The task: its first row as `stage[shard]`.
  public var task: String
  /// The rows the task completes.
  public var rows: [TaskCompletion]
  /// LLM responses received while the task ran.
  public var llmCache: [LLMCacheEntry]

  /// Creates a ledger.
  public init(task: String, rows: [TaskCompletion], llmCache: [LLMCacheEntry]) {
    self.task = task
    self.rows = rows
    self.llmCache = llmCache
  }

  static let magic: [UInt8] = Array("PLGR".utf8)
  static let endMagic: [UInt8] = Array("PLGE".utf8)
  static let version: UInt32 = 1
  static let trailerBytes = 28

  // MARK: - Writing

  /// Writes the ledger into `output` (the caller commits it).
  public func write(to output: any ArtifactOutput) throws {
    let sink = HashingOutput(output)
    var head: [UInt8] = Self.magic
    Binary.append(Self.version, to: &head)
    try sink.write(head)
    var rowObjects: [JSONValue] = []
    for row in rows {
      var object = Self.encode(row)
      if let provenance = row.provenance {
        var origins: [JSONValue] = []
        var verdicts: [JSONValue] = []
        try provenance.forEachBlock(origins: true) { block in
          guard block.count > 0 else { return }
          origins.append(.array([.int(Int64(sink.written)), .int(Int64(block.count))]))
          try sink.write(block)
        }
        try provenance.forEachBlock(origins: false) { block in
          guard block.count > 0 else { return }
          verdicts.append(.array([.int(Int64(sink.written)), .int(Int64(block.count))]))
          try sink.write(block)
        }
        object["provenance"] = .object([
          "originCount": .int(Int64(provenance.originCount)), "verdictCount": .int(Int64(provenance.verdictCount)),
          "strings": .array(provenance.strings.map { .string($0) }), "originBlocks": .array(origins),
          "verdictBlocks": .array(verdicts),
        ])
      }
      rowObjects.append(.object(object))
    }
    let header: JSONValue = .object([
      "task": .string(task), "rows": .array(rowObjects), "llmCache": .array(llmCache.map(Self.encode)),
    ])
    var headerBytes: [UInt8] = []
    header.write(to: &headerBytes, sortedKeys: false)
    let headerOffset = sink.written
    try sink.write(headerBytes)
    var trailer: [UInt8] = []
    Binary.append(UInt64(headerOffset), to: &trailer)
    Binary.append(UInt64(headerBytes.count), to: &trailer)
    try sink.write(trailer)
    var end: [UInt8] = []
    Binary.append(sink.checksum, to: &end)
    end += Self.endMagic
    try output.write(end)
  }

  // MARK: - Reading

  /// Reads and checks a ledger; its rows' provenance is read from `input` when merged.
  ///
  /// - Throws: `PipeError(.corruptInput)` naming the file when it is not a complete ledger.
  public static func read(_ input: any ArtifactInput) throws -> TaskLedger {
    func corrupt(_ why: String) -> PipeError {
      PipeError(.corruptInput, "not a complete task ledger (\(why)); its task will be redone", file: input.name)
    }
    guard input.size >= magic.count + 4 + trailerBytes else { throw corrupt("too short") }
    var trailer = [UInt8](repeating: 0, count: trailerBytes)
    try trailer.withUnsafeMutableBytes { try input.read(into: $0, at: input.size - trailerBytes) }
    guard Array(trailer[24..<28]) == endMagic else { throw corrupt("no end mark") }
    let headerOffset = Int(trailer.loadLE(UInt64.self, at: 0))
    let headerLength = Int(trailer.loadLE(UInt64.self, at: 8))
    let expected = trailer.loadLE(UInt64.self, at: 16)
    // The checksum covers everything before it, read in blocks so a large ledger is not held.
    var hash = XXH64()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    let covered = input.size - 12
    var offset = 0
    while offset < covered {
      let take = min(buffer.count, covered - offset)
      try buffer.withUnsafeMutableBytes { raw in
        let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<take])
        try input.read(into: part, at: offset)
        hash.update(UnsafeRawBufferPointer(part))
      }
      offset += take
    }
    guard hash.finalize() == expected else { throw corrupt("checksum mismatch") }
    var head = [UInt8](repeating: 0, count: 8)
    try head.withUnsafeMutableBytes { try input.read(into: $0, at: 0) }
    guard Array(head[0..<4]) == magic, head.loadLE(UInt32.self, at: 4) == version else {
      throw corrupt("unknown format or version")
    }
    guard headerOffset >= 8, headerLength >= 0, headerOffset + headerLength <= covered - 16 else {
      throw corrupt("bad header position")
    }
    var headerBytes = [UInt8](repeating: 0, count: headerLength)
    try headerBytes.withUnsafeMutableBytes { try input.read(into: $0, at: headerOffset) }
    guard let header = (try? JSONValue.parse(headerBytes))?.objectValue, let task = header["task"]?.stringValue,
      let rowValues = header["rows"]?.arrayValue, let cacheValues = header["llmCache"]?.arrayValue
    else { throw corrupt("unreadable header") }
    var rows: [TaskCompletion] = []
    for value in rowValues {
      guard let object = value.objectValue, var row = decodeRow(object) else { throw corrupt("unreadable row") }
      if let provenance = object["provenance"]?.objectValue {
        guard let source = LedgerProvenance(provenance, input: input, limit: headerOffset) else {
          throw corrupt("unreadable provenance")
        }
        row.provenance = source
      }
      rows.append(row)
    }
    var entries: [LLMCacheEntry] = []
    for value in cacheValues {
      guard let entry = value.objectValue.flatMap(decodeEntry) else { throw corrupt("unreadable LLM cache entry") }
      entries.append(entry)
    }
    return TaskLedger(task: task, rows: rows, llmCache: entries)
  }

  // MARK: - Rows as JSON

  static func encode(_ row: TaskCompletion) -> JSONObject {
    var object = JSONObject()
    object["stage"] = .string(row.stage)
    object["shard"] = .int(Int64(row.shard))
    object["fingerprint"] = .string(row.fingerprint)
    object["input"] = .string(row.input)
    object["runID"] = row.runID.map { .int($0) } ?? .null
    object["startedAt"] = row.startedAt.map { .double($0) } ?? .null
    object["finishedAt"] = .double(row.finishedAt)
    object["durationSeconds"] = .double(row.durationSeconds)
    object["decideSeconds"] = row.decideSeconds.map { .double($0) } ?? .null
    object["chain"] = row.chain.map { .string($0) } ?? .null
    object["kind"] = row.kind.map { .string($0) } ?? .null
    object["recordsIn"] = .int(Int64(row.recordsIn))
    object["recordsKept"] = .int(Int64(row.recordsKept))
    object["recordsDropped"] = .int(Int64(row.recordsDropped))
    object["recordsEmitted"] = .int(Int64(row.recordsEmitted))
    object["bytesIn"] = .int(Int64(row.bytesIn))
    object["outputPath"] = row.outputPath.map { .string($0) } ?? .null
    object["outputBytes"] = .int(Int64(row.outputBytes))
    object["checksum"] = row.checksum.map { .string($0) } ?? .null
    object["rejectsPath"] = row.rejectsPath.map { .string($0) } ?? .null
    object["rejectsBytes"] = .int(Int64(row.rejectsBytes))
    object["rejectsChecksum"] = row.rejectsChecksum.map { .string($0) } ?? .null
    object["dropCounts"] = .object(JSONObject(row.dropCounts.sorted { $0.key < $1.key }.map { ($0, .int(Int64($1))) }))
    object["counters"] = .object(JSONObject(row.counters.sorted { $0.key < $1.key }.map { ($0, .int(Int64($1))) }))
    object["artifacts"] = .array(
      row.artifacts.map { artifact in
        .object([
          "name": .string(artifact.name), "path": .string(artifact.path), "bytes": .int(Int64(artifact.bytes)),
          "checksum": artifact.checksum.map { .string($0) } ?? .null,
          "shard": artifact.shard.map { .int(Int64($0)) } ?? .null,
        ])
      })
    object["plan"] = .array(
      row.mixtureGroups.map { group in
        .object([
          "name": .string(group.name), "records": .int(Int64(group.records)),
          "tokensAvailable": .int(Int64(group.tokensAvailable)), "tokensTargeted": .double(group.tokensTargeted),
          "rate": .double(group.rate), "shareBefore": .double(group.shareBefore),
          "shareAfter": .double(group.shareAfter),
        ])
      })
    return object
  }

  static func decodeRow(_ object: JSONObject) -> TaskCompletion? {
    guard let stage = object["stage"]?.stringValue, let shard = object["shard"]?.intValue,
      let fingerprint = object["fingerprint"]?.stringValue, let finishedAt = object["finishedAt"]?.doubleValue,
      let duration = object["durationSeconds"]?.doubleValue, let recordsIn = object["recordsIn"]?.intValue,
      let kept = object["recordsKept"]?.intValue, let dropped = object["recordsDropped"]?.intValue,
      let emitted = object["recordsEmitted"]?.intValue, let bytesIn = object["bytesIn"]?.intValue,
      let outputBytes = object["outputBytes"]?.intValue, let dropObject = object["dropCounts"]?.objectValue,
      let counterObject = object["counters"]?.objectValue, let artifactValues = object["artifacts"]?.arrayValue,
      let planValues = object["plan"]?.arrayValue
    else { return nil }
    var drops: [String: Int] = [:]
    for (reason, value) in dropObject.members {
      guard let count = value.intValue else { return nil }
      drops[reason] = count
    }
    var counters: [String: Int] = [:]
    for (name, value) in counterObject.members {
      guard let count = value.intValue else { return nil }
      counters[name] = count
    }
    var artifacts: [ArtifactRow] = []
    for value in artifactValues {
      guard let artifact = value.objectValue, let name = artifact["name"]?.stringValue,
        let path = artifact["path"]?.stringValue, let bytes = artifact["bytes"]?.intValue
      else { return nil }
      artifacts.append(
        ArtifactRow(
          name: name, path: path, bytes: bytes, checksum: artifact["checksum"]?.stringValue,
          shard: artifact["shard"]?.intValue))
    }
    var plan: [PlannedGroup] = []
    for value in planValues {
      guard let group = value.objectValue, let name = group["name"]?.stringValue,
        let records = group["records"]?.intValue, let available = group["tokensAvailable"]?.intValue,
        let targeted = group["tokensTargeted"]?.doubleValue, let rate = group["rate"]?.doubleValue,
        let before = group["shareBefore"]?.doubleValue, let after = group["shareAfter"]?.doubleValue
      else { return nil }
      plan.append(
        PlannedGroup(
          name: name, records: records, tokensAvailable: available, tokensTargeted: targeted, rate: rate,
          shareBefore: before, shareAfter: after))
    }
    var row = TaskCompletion(
      stage: stage, shard: shard, fingerprint: fingerprint, finishedAt: finishedAt, durationSeconds: duration,
      recordsIn: recordsIn, recordsKept: kept, recordsDropped: dropped, recordsEmitted: emitted, bytesIn: bytesIn,
      outputPath: object["outputPath"]?.stringValue, outputBytes: outputBytes,
      checksum: object["checksum"]?.stringValue,
      rejectsPath: object["rejectsPath"]?.stringValue, dropCounts: drops, artifacts: artifacts, counters: counters,
      mixtureGroups: plan, decideSeconds: object["decideSeconds"]?.doubleValue)
    row.input = object["input"]?.stringValue ?? ""
    row.runID = object["runID"]?.intValue.map(Int64.init)
    row.startedAt = object["startedAt"]?.doubleValue
    row.chain = object["chain"]?.stringValue
    row.kind = object["kind"]?.stringValue
    row.rejectsBytes = object["rejectsBytes"]?.intValue ?? 0
    row.rejectsChecksum = object["rejectsChecksum"]?.stringValue
    return row
  }

  static func encode(_ entry: LLMCacheEntry) -> JSONValue {
    .object([
      "key": .string(entry.key), "endpoint": .string(entry.endpoint), "model": .string(entry.model),
      "path": .string(entry.path), "request": .string(entry.request), "response": .string(entry.response),
      "promptTokens": entry.promptTokens.map { .int(Int64($0)) } ?? .null,
      "completionTokens": entry.completionTokens.map { .int(Int64($0)) } ?? .null,
      "latencySeconds": .double(entry.latencySeconds), "createdAt": .double(entry.createdAt),
    ])
  }

  /// An LLM cache entry from its JSON form (ledgers and cache journals).
  public static func decodeEntry(_ object: JSONObject) -> LLMCacheEntry? {
    guard let key = object["key"]?.stringValue, let endpoint = object["endpoint"]?.stringValue,
      let model = object["model"]?.stringValue, let path = object["path"]?.stringValue,
      let request = object["request"]?.stringValue, let response = object["response"]?.stringValue,
      let latency = object["latencySeconds"]?.doubleValue, let created = object["createdAt"]?.doubleValue
    else { return nil }
    return LLMCacheEntry(
      key: key, endpoint: endpoint, model: model, path: path, request: request, response: response,
      promptTokens: object["promptTokens"]?.intValue, completionTokens: object["completionTokens"]?.intValue,
      latencySeconds: latency, createdAt: created)
  }

  /// An LLM cache entry as one line of JSON (for cache journals).
  public static func journalLine(_ entry: LLMCacheEntry) -> [UInt8] {
    var bytes: [UInt8] = []
    encode(entry).write(to: &bytes, sortedKeys: false)
    bytes.append(0x0A)
    return bytes
  }
}

/// Writes through to an output while hashing and counting the bytes.
private final class HashingOutput {
  private let output: any ArtifactOutput
  private var hash = XXH64()
  private(set) var written = 0

  init(_ output: any ArtifactOutput) { self.output = output }

  var checksum: UInt64 { hash.finalize() }

  func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    hash.update(bytes)
    written += bytes.count
    try output.write(bytes)
  }
}

/// A task row's provenance, read back from its ledger block by block.
final class LedgerProvenance: ProvenanceSource, @unchecked Sendable {
  let originCount: Int
  let verdictCount: Int
  let strings: [String]
  private let originBlocks: [(offset: Int, length: Int)]
  private let verdictBlocks: [(offset: Int, length: Int)]
  private let input: any ArtifactInput

  init?(_ object: JSONObject, input: any ArtifactInput, limit: Int) {
    func blocks(_ key: String) -> [(offset: Int, length: Int)]? {
      guard let values = object[key]?.arrayValue else { return nil }
      var found: [(offset: Int, length: Int)] = []
      for value in values {
        guard let pair = value.arrayValue, pair.count == 2, let offset = pair[0].intValue,
          let length = pair[1].intValue, offset >= 8, length >= 0, offset + length <= limit
        else { return nil }
        found.append((offset, length))
      }
      return found
    }
    guard let origins = object["originCount"]?.intValue, let verdicts = object["verdictCount"]?.intValue,
      let strings = object["strings"]?.arrayValue, let originBlocks = blocks("originBlocks"),
      let verdictBlocks = blocks("verdictBlocks")
    else { return nil }
    originCount = origins
    verdictCount = verdicts
    self.strings = strings.compactMap(\.stringValue)
    self.originBlocks = originBlocks
    self.verdictBlocks = verdictBlocks
    self.input = input
  }

  func forEachBlock(origins: Bool, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    for block in origins ? originBlocks : verdictBlocks {
      var bytes = [UInt8](repeating: 0, count: block.length)
      try bytes.withUnsafeMutableBytes { try input.read(into: $0, at: block.offset) }
      try bytes.withUnsafeBytes { try body($0) }
    }
  }
}
