import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// Runs a fused chain on one shard: the shard is read and parsed once, and each record goes
/// through the chain's rows in turn (a row's kept records feed the rows after it). Every row
/// keeps its own counts, rejects, provenance and time deciding, exactly as if it had read its
/// input from disk: a record's line in a row's input is its place among the rows' outputs
/// before it, and rejects name the input shard that row would have read.
final class ChainRunner {
  let task: PlannedTask
  let environment: TaskEnvironment
  let services: StageServices
  let progress: TaskProgress
  private(set) var links: [Link] = []

  init(task: PlannedTask, environment: TaskEnvironment, services: StageServices, progress: TaskProgress) {
    self.task = task
    self.environment = environment
    self.services = services
    self.progress = progress
  }

  /// Runs the chain and commits what it wrote; returns each row's result, in row order.
  func run() throws -> [RowResult] {
    guard case .chain(let children) = task.kind, !task.rows.isEmpty else {
      throw PipeError(.stage, "internal error: \(task.key) is not a chain")
    }
    var silent: [Link] = []
    do {
      // Each row's provenance spool holds a share of what one task's may hold in memory.
      let spoolRows = task.rows.filter { row in
        if case .records = row.work { return row.outputPath != nil }
        return false
      }
      let spoolLimit = max(256 << 10, (4 << 20) / max(1, spoolRows.count))
      for (index, row) in task.rows.enumerated() {
        links.append(try makeLink(row, isRoot: index == 0, spoolLimit: spoolLimit))
      }
      for (index, feeds) in children.enumerated() {
        links[index].children = feeds.map { links[$0] }
      }
      // Rows recomputed in front of the first row (a deduplication's filter that was not
      // written): they read the shard they were made from and only pass their kept records on.
      var head = links[0]
      for row in task.prelude.reversed() {
        guard case .records(let decisions) = row.work else {
          throw PipeError(.stage, "internal error: \(row.key) cannot be recomputed in \(task.key)")
        }
        let context = TaskStepContext(
          row: row, result: RowResult(row: row), environment: environment, services: services, progress: progress)
        let link = try DecideLink(
          runner: self, context: context, isRoot: false, decisions: decisions, spoolLimit: 0, silent: true)
        link.children = [head]
        silent.insert(link, at: 0)
        head = link
      }
      guard let shard = head.row.shard else {
        throw PipeError(.stage, "internal error: \(task.key) reads no shard")
      }
      let reader = try RecordReader(path: shard.path, columns: shard.columns)
      let fallbackPrefix = reader.fallbackID(line: 0).dropLast()
      var unparsed: ((Int) throws -> String?)? = nil
      if let decide = head as? DecideLink, decide.children.isEmpty, let decider = decide.decider {
        // Lines the decider knows to be kept unchanged are copied without parsing; an id that
        // may have been made from the line number is parsed anyway, since it must be written.
        unparsed = { line in
          guard let id = try decider.unchangedRecordID(atLine: line), !id.hasPrefix(fallbackPrefix) else {
            return nil
          }
          return id
        }
      }
      // Records go down the chain in small batches, so each stage runs over many records in a
      // row with its tables warm in the cache rather than taking turns with the others per record.
      var batch: [Record] = []
      var batchLines: [Int] = []
      var batchBytes = 0
      batch.reserveCapacity(Self.batchRecords)
      batchLines.reserveCapacity(Self.batchRecords)
      func flush() throws {
        guard !batch.isEmpty else { return }
        try head.push(batch, lines: batchLines)
        batch.removeAll(keepingCapacity: true)
        batchLines.removeAll(keepingCapacity: true)
        batchBytes = 0
      }
      var lines = 0
      let cancellation = environment.cancellation
      let slow = environment.faults.slowMilliseconds
      try reader.forEach(
        unparsed: unparsed, progress: { [progress] lines, bytes in progress.update(records: lines, bytes: bytes) }
      ) { entry, line in
        lines += 1
        if lines & 1023 == 0 { try cancellation.check() }
        if let slow, lines % 100 == 0 {
          try flush()
          usleep(UInt32(slow * 1000))
          try cancellation.check()
        }
        switch entry {
        case .record(let record):
          batchBytes += record.rawByteCount
          batch.append(record)
          batchLines.append(line)
          if batch.count >= Self.batchRecords || batchBytes >= Self.batchBytes { try flush() }
        case .unparsed(let id, let bytes):
          // Lines stay in order: what is batched goes first.
          try flush()
          try head.pushUnparsed(id: id, bytes: bytes, line: line)
        case .notARecord(let reason, let detail, let id, let bytes):
          try flush()
          try head.pushNotARecord(reason: reason, detail: detail, id: id, bytes: bytes, line: line)
        }
      }
      try flush()
      // What the task read from disk, on its first row (a recomputing chain read it for them).
      links[0].result.bytesIn = reader.bytesRead
      try head.finish()
      for link in links { try link.commit() }
      for link in silent { link.abandon() }
    } catch {
      for link in links + silent { link.abandon() }
      throw error
    }
    return links.map(\.result)
  }

  /// The most records, and about the most bytes, in one batch through the chain. Batches only
  /// change how often each link's loop runs, never the bytes written; these sizes were the fastest
  /// measured on the 200,000-document curation benchmark (64 records was about 5% slower, 1,024
  /// no faster).
  static let batchRecords = 256
  static let batchBytes = 2 << 20

  /// Pushes every open file to disk (fault injection kills the process right after).
  func flushAll() {
    for link in links { link.flush() }
  }

  private func makeLink(_ row: PlannedRow, isRoot: Bool, spoolLimit: Int) throws -> Link {
    let result = RowResult(row: row)
    let context = TaskStepContext(
      row: row, result: result, environment: environment, services: services, progress: progress)
    switch row.work {
    case .collect(let collector):
      return CollectLink(runner: self, context: context, isRoot: isRoot, collection: try collector.start(context))
    case .records(let decisions):
      return try DecideLink(
        runner: self, context: context, isRoot: isRoot, decisions: decisions, spoolLimit: spoolLimit, silent: false)
    case .step, .export:
      throw PipeError(.stage, "internal error: \(row.key) cannot run in a chain")
    }
  }
}

/// One row of a chain: receives records, passes its kept ones to the rows it feeds.
class Link {
  unowned let runner: ChainRunner
  let context: TaskStepContext
  let isRoot: Bool
  var children: [Link] = []
  var result: RowResult { context.result }
  var row: PlannedRow { context.row }

  init(runner: ChainRunner, context: TaskStepContext, isRoot: Bool) {
    self.runner = runner
    self.context = context
    self.isRoot = isRoot
  }

  /// Records in, in order; `lines` are their 1-based places in this row's input.
  func push(_ records: [Record], lines: [Int]) throws {}
  func pushUnparsed(id: String, bytes: UnsafeBufferPointer<UInt8>, line: Int) throws {}
  func pushNotARecord(reason: String, detail: String, id: String, bytes: UnsafeBufferPointer<UInt8>, line: Int) throws {
  }

  /// The end of the shard: finishes this row, then the rows it feeds.
  func finish() throws {
    for child in children { try child.finish() }
  }

  func commit() throws {
    try context.commit()
  }

  func abandon() {
    context.abandon()
  }

  func flush() {}

  /// Runs `decide` (a stage's decision on a record or batch), adding its time to the row's
  /// `decideSeconds`. A monotonic clock read costs about 20 ns, well under a record's work.
  @inline(__always)
  func timingDecision<T>(_ decide: () throws -> T) rethrows -> T {
    let started = DispatchTime.now().uptimeNanoseconds
    defer {
      result.decideNanoseconds = (result.decideNanoseconds ?? 0) &+ (DispatchTime.now().uptimeNanoseconds &- started)
    }
    return try decide()
  }
}

/// A collect pass: sees each record, writes its per-shard artifacts at the end.
final class CollectLink: Link {
  let collection: any RecordCollection

  init(runner: ChainRunner, context: TaskStepContext, isRoot: Bool, collection: any RecordCollection) {
    self.collection = collection
    super.init(runner: runner, context: context, isRoot: isRoot)
  }

  override func push(_ records: [Record], lines: [Int]) throws {
    let faults = context.environment.faults
    try timingDecision {
      for (record, line) in zip(records, lines) {
        result.recordsIn += 1
        try collection.add(record, line: line)
        if faults.isKillDue(stage: row.key.stage, shard: row.key.shard, records: result.recordsIn) {
          runner.flushAll()
          faults.kill()
        }
      }
    }
  }

  override func pushNotARecord(
    reason: String, detail: String, id: String, bytes: UnsafeBufferPointer<UInt8>, line: Int
  ) throws {
    // A line that is not a record has nothing to collect; the stage's own pass rejects it.
    result.recordsIn += 1
  }

  override func finish() throws {
    try collection.finish()
    result.recordsKept = result.recordsIn
    try super.finish()
  }
}

/// A stage's decisions on the shard: keeps, drops (to the rejects, with the reason), changes
/// and emits records; writes its kept records when they must be on disk.
final class DecideLink: Link {
  private enum Work {
    case record(any RecordStage)
    case batch(any BatchRecordStage)
    case stateful(any StatefulBatchStage)
    case decider(any RecordDecider)
  }

  private let work: Work
  private var writer: ShardWriter?
  private var rejects: ShardWriter?
  /// The rejects' `source`: the input shard this row would read from disk.
  private let source: String
  private let recordsOrigins: Bool
  private var outputs = 0
  private var line: [UInt8] = []
  private var rejectBuffer: [UInt8] = []
  private var batch: [Record] = []
  private var batchLines: [Int] = []
  private let batchSize: Int
  private var state: JSONValue = .null
  /// A row recomputed in front of a chain: it passes its kept records on and records nothing
  /// (its own task already wrote its rejects, counts and provenance).
  private let silent: Bool
  /// Kept records (and their lines in the children's input) not yet passed to the children.
  private var pending: [Record] = []
  private var pendingLines: [Int] = []
  /// The verdicts of a batch of records, kept to decide a whole batch before writing any.
  private var verdicts: [Verdict] = []
  private var outcomes: [BatchOutcome] = []

  /// The per-shard decider, for the shortcut of lines kept unparsed.
  var decider: (any RecordDecider)? {
    if case .decider(let decider) = work { return decider }
    return nil
  }

  /// Creates the row's link; `spoolLimit` is the bytes its provenance may hold in memory.
  init(
    runner: ChainRunner, context: TaskStepContext, isRoot: Bool, decisions: Decisions, spoolLimit: Int, silent: Bool
  ) throws {
    let row = context.row
    switch decisions {
    case .record(let stage):
      work = .record(stage)
      batchSize = 1
    case .batch(let stage):
      work = .batch(stage)
      batchSize = max(1, stage.batchSize)
    case .stateful(let stage):
      work = .stateful(stage)
      batchSize = max(1, stage.batchSize)
    case .decide(let make):
      work = .decider(try make(context))
      batchSize = 1
    }
    source = row.shard?.label ?? row.inputDescription
    recordsOrigins = isRoot && !silent && (row.shard?.isSource ?? false)
    self.silent = silent
    super.init(runner: runner, context: context, isRoot: isRoot)
    let environment = context.environment
    if row.materialized, !silent, let path = row.outputPath {
      writer = try ShardWriter(path: path, compressionLevel: environment.compressionLevel)
    }
    if row.outputPath != nil, !silent {
      let ledger = environment.layout.ledger(stage: row.key.stage, shard: row.key.shard)
      let folder = environment.scratchFolder(beside: (ledger as NSString).deletingLastPathComponent)
      let name = RunLayout.folderName(row.key.stage) + "-" + (ledger as NSString).lastPathComponent
      let spill = folder + "/" + name + ".\(ProcessInfo.processInfo.processIdentifier).provenance.tmp"
      try createDirectories((spill as NSString).deletingLastPathComponent)
      result.provenance = ProvenanceSpool(spillPath: spill, memoryLimit: spoolLimit)
    }
    result.decideNanoseconds = 0
    line.reserveCapacity(1 << 16)
    if case .stateful(let stage) = work {
      state = try loadState(stage)
    }
  }

  // MARK: Records in

  override func push(_ records: [Record], lines: [Int]) throws {
    result.recordsIn += records.count
    if recordsOrigins {
      for (record, number) in zip(records, lines) {
        try result.provenance?.addOrigin(recordID: record.id, sourcePath: source, line: number)
      }
    }
    switch work {
    case .record(let stage):
      // The whole batch is decided first, then written and passed on: the stage's tables stay
      // in the cache for the batch, and the time deciding is read from the clock once.
      var records = records
      verdicts.removeAll(keepingCapacity: true)
      try timingDecision {
        for index in records.indices {
          records[index].beginStage()
          verdicts.append(try stage.process(&records[index], context: context.stage))
        }
      }
      for (index, verdict) in verdicts.enumerated() {
        switch verdict {
        case .keep: try keep(records[index], detail: nil)
        case .drop(let reason, let detail):
          try drop(records[index], line: lines[index], reason: reason, detail: detail)
        }
      }
    case .decider(let decider):
      var records = records
      outcomes.removeAll(keepingCapacity: true)
      try timingDecision {
        for index in records.indices {
          records[index].beginStage()
          outcomes.append(try decider.decide(records[index], line: lines[index]))
        }
      }
      for (index, outcome) in outcomes.enumerated() {
        try handle(outcome, input: records[index], line: lines[index])
      }
    case .batch, .stateful:
      for (record, number) in zip(records, lines) {
        var record = record
        record.beginStage()
        batch.append(record)
        batchLines.append(number)
        if batch.count >= batchSize { try flushBatch() }
      }
    }
    try forwardPending()
  }

  override func pushUnparsed(id: String, bytes: UnsafeBufferPointer<UInt8>, line number: Int) throws {
    result.recordsIn += 1
    if recordsOrigins {
      try result.provenance?.addOrigin(recordID: id, sourcePath: source, line: number)
    }
    try writer?.writeLine(UnsafeRawBufferPointer(bytes))
    result.recordsKept += 1
    outputs += 1
    try checkKill()
  }

  override func pushNotARecord(
    reason: String, detail: String, id: String, bytes: UnsafeBufferPointer<UInt8>, line number: Int
  ) throws {
    // A recomputed row passes nothing on; its own task rejected the line.
    guard !silent else { return }
    result.recordsIn += 1
    result.drop(reason)
    try writeReject(
      RejectLine.malformed(
        id: id, stage: row.key.stage, reason: reason, detail: detail, source: source, line: number, raw: bytes))
    try result.provenance?.addVerdict(recordID: id, kind: .dropped, reason: reason, detail: detail)
    if recordsOrigins {
      try result.provenance?.addOrigin(recordID: id, sourcePath: source, line: number)
    }
  }

  override func finish() throws {
    try flushBatch()
    try forwardPending()
    if case .stateful = work {
      try context.writeJSON(state, to: DecideLink.stateArtifact, index: row.key.shard)
    }
    try super.finish()
  }

  // MARK: Outcomes

  private func flushBatch() throws {
    guard !batch.isEmpty else { return }
    let records = batch
    let outcomes: [BatchOutcome]
    switch work {
    case .batch(let stage):
      outcomes = try timingDecision { try stage.process(records, context: context.stage) }
    case .stateful(let stage):
      var current = state
      outcomes = try timingDecision { try stage.process(records, state: &current, context: context.stage) }
      state = current
    default:
      outcomes = []
    }
    guard outcomes.count == records.count else {
      throw PipeError(
        .stage, "internal error: \(row.key) got \(outcomes.count) outcomes for \(records.count) records")
    }
    let lines = batchLines
    batch.removeAll(keepingCapacity: true)
    batchLines.removeAll(keepingCapacity: true)
    for (index, outcome) in outcomes.enumerated() {
      try handle(outcome, input: records[index], line: lines[index])
    }
  }

  private func handle(_ outcome: BatchOutcome, input: Record, line number: Int) throws {
    switch outcome {
    case .keep(let record):
      try keep(record, detail: nil)
    case .keepExplained(let record, let detail):
      try keep(record, detail: detail)
    case .drop(let reason, let detail):
      try drop(input, line: number, reason: reason, detail: detail)
    case .expand(let records, let rejected):
      for output in rejected {
        result.counters.add("rejected." + output.reason)
        try reject(output.record, line: number, reason: output.reason, detail: output.detail)
      }
      guard let first = records.first else {
        try drop(
          input, line: number, reason: rejected.first?.reason ?? "no_output", detail: rejected.first?.detail)
        return
      }
      try keep(first, detail: nil)
      for record in records.dropFirst() { try emit(record) }
    }
  }

  /// A kept record (the first output of its input record).
  private func keep(_ record: Record, detail: String?) throws {
    try write(record)
    result.recordsKept += 1
    if record.isModifiedInStage || detail != nil {
      try result.provenance?.addVerdict(recordID: record.id, kind: .modified, reason: nil, detail: detail)
    }
    try checkKill()
    try forward(record)
  }

  /// One more output of the record kept last (a copy or a generated record).
  private func emit(_ record: Record) throws {
    try write(record)
    result.recordsEmitted += 1
    try forward(record)
  }

  private func forward(_ record: Record) throws {
    outputs += 1
    guard !children.isEmpty else { return }
    pending.append(record)
    pendingLines.append(outputs)
  }

  /// Passes the kept records gathered so far to the rows this one feeds.
  private func forwardPending() throws {
    guard !pending.isEmpty else { return }
    for child in children { try child.push(pending, lines: pendingLines) }
    pending.removeAll(keepingCapacity: true)
    pendingLines.removeAll(keepingCapacity: true)
  }

  private func drop(_ record: Record, line number: Int, reason: String, detail: String?) throws {
    result.drop(reason)
    try reject(record, line: number, reason: reason, detail: detail)
  }

  /// Writes `record` to the rejects with its reason, and its verdict to the provenance.
  private func reject(_ record: Record, line number: Int, reason: String, detail: String?) throws {
    // One buffer serves every reject of the task: a reject is about as long as its record, and
    // a new array per reject grew twice and copied the record each time.
    guard !silent else { return }
    rejectBuffer.removeAll(keepingCapacity: true)
    RejectLine.dropped(
      record: record, stage: row.key.stage, reason: reason, detail: detail, source: source, line: number,
      into: &rejectBuffer)
    try writeReject(rejectBuffer)
    try result.provenance?.addVerdict(recordID: record.id, kind: .dropped, reason: reason, detail: detail)
  }

  private func writeReject(_ bytes: [UInt8]) throws {
    if rejects == nil, let path = row.rejectsPath {
      rejects = try ShardWriter(path: path, compressionLevel: context.environment.compressionLevel)
    }
    try rejects?.writeLine(bytes)
  }

  private func write(_ record: Record) throws {
    guard let writer else { return }
    line.removeAll(keepingCapacity: true)
    record.write(to: &line)
    try line.withUnsafeBytes { try writer.writeLine($0) }
  }

  private func checkKill() throws {
    guard !silent else { return }
    let faults = context.environment.faults
    if faults.isKillDue(stage: row.key.stage, shard: row.key.shard, records: result.recordsKept) {
      runner.flushAll()
      faults.kill()
    }
  }

  // MARK: State of stateful stages

  static let stateArtifact = "state.json"

  /// The state the previous shard's task ended with, or the stage's initial state.
  private func loadState(_ stage: any StatefulBatchStage) throws -> JSONValue {
    guard row.key.shard > 0 else { return try stage.initialState() }
    let path = context.environment.layout.artifact(
      step: row.key.stage, name: Self.stateArtifact, index: row.key.shard - 1)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw PipeError(
        .io, "cannot read the state the previous shard left; rerun the stage with --force", file: path)
    }
    do {
      return try JSONValue.parse([UInt8](data))
    } catch {
      throw PipeError(
        .corruptInput, "the saved stage state is not valid JSON (\(error)); rerun with --force", file: path)
    }
  }

  // MARK: End

  override func commit() throws {
    if let writer { result.output = try writer.commit() }
    writer = nil
    result.rejects = try rejects?.commit()
    rejects = nil
    if result.rejects == nil, let path = row.rejectsPath { try removeItemIfPresent(path) }
    // A shard this row wrote in an earlier run, when it was still materialized, is stale now.
    if !row.materialized, let path = row.outputPath { try removeItemIfPresent(path) }
    try super.commit()
  }

  override func abandon() {
    writer?.abandon()
    rejects?.abandon()
    result.provenance?.discard()
    super.abandon()
  }

  override func flush() {
    try? writer?.flush()
    try? rejects?.flush()
  }
}

/// Lines of rejects shards. A dropped record is written whole with a `reject` field added, so
/// rejects can be read, inspected and fed back like any shard; a line that is not a record is
/// kept as text (`raw`), or as base64 (`raw_base64`) when it is not even UTF-8.
enum RejectLine {
  /// The reject line of a dropped record, appended to `out`.
  static func dropped(
    record: Record, stage: String, reason: String, detail: String?, source: String, line: Int,
    into out: inout [UInt8]
  ) {
    guard record.field("reject") == nil else {
      // Rejects fed back in: replace the old field rather than repeat the key.
      var copy = record
      copy.setField(
        "reject", .object(info(stage: stage, reason: reason, detail: detail, source: source, line: line)))
      copy.write(to: &out)
      return
    }
    // The common case: the record's bytes as they are, with the field appended before the
    // closing brace (no re-serialization of the record).
    record.write(to: &out)
    out.removeLast()
    out.append(contentsOf: #","reject":"#.utf8)
    appendInfo(stage: stage, reason: reason, detail: detail, source: source, line: line, to: &out)
    out.append(UInt8(ascii: "}"))
  }

  static func malformed(
    id: String, stage: String, reason: String, detail: String, source: String, line: Int,
    raw: UnsafeBufferPointer<UInt8>
  ) -> [UInt8] {
    var object = JSONObject()
    object["id"] = .string(id)
    object["reject"] = .object(info(stage: stage, reason: reason, detail: detail, source: source, line: line))
    if let text = String(validating: raw, as: UTF8.self) {
      object["raw"] = .string(text)
    } else {
      object["raw_base64"] = .string(Data(raw).base64EncodedString())
    }
    var out: [UInt8] = []
    JSONValue.object(object).write(to: &out)
    return out
  }

  /// The `reject` object, written directly: a drop is the hot path, so no dictionary is built.
  private static func appendInfo(
    stage: String, reason: String, detail: String?, source: String, line: Int, to out: inout [UInt8]
  ) {
    out.append(contentsOf: #"{"stage":"#.utf8)
    JSONString.append(stage, to: &out)
    out.append(contentsOf: #","reason":"#.utf8)
    JSONString.append(reason, to: &out)
    if let detail {
      out.append(contentsOf: #","detail":"#.utf8)
      JSONString.append(detail, to: &out)
    }
    out.append(contentsOf: #","source":"#.utf8)
    JSONString.append(source, to: &out)
    out.append(contentsOf: #","line":"#.utf8)
    out.append(contentsOf: String(line).utf8)
    out.append(UInt8(ascii: "}"))
  }

  /// The same object as a value, for the rare rejects that are re-serialized whole.
  private static func info(stage: String, reason: String, detail: String?, source: String, line: Int) -> JSONObject {
    var bytes: [UInt8] = []
    appendInfo(stage: stage, reason: reason, detail: detail, source: source, line: line, to: &bytes)
    return bytes.withUnsafeBufferPointer { JSONValue.parse(validated: $0, range: 0..<$0.count) }.objectValue ?? [:]
  }
}
