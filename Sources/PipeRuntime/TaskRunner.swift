import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// Counts and provenance a task hands to the manifest when it completes.
struct TaskResult {
  var recordsIn = 0
  var recordsKept = 0
  var recordsDropped = 0
  var recordsEmitted = 0
  var bytesIn = 0
  var dropCounts: [String: Int] = [:]
  var counters: [String: Int] = [:]
  /// Origins and verdicts, in bounded memory (spilled next to the task's output).
  var provenance: ProvenanceSpool?
  var output: ShardSummary?
  var rejects: ShardSummary?
  var artifacts: [ArtifactRow] = []
  /// The plan a mixture planning task made.
  var mixtureGroups: [GroupPlan.Group] = []
  /// Time spent in the stage's decisions, for tasks that run a stage over records.
  var decideSeconds: Double?

  mutating func drop(_ reason: String) {
    recordsDropped += 1
    dropCounts[reason, default: 0] += 1
  }
}

/// Live counters a running task shares with the progress display.
final class TaskProgress: @unchecked Sendable {
  private let lock = NSLock()
  private var _records = 0
  private var _bytes = 0

  func update(records: Int, bytes: Int) {
    lock.lock()
    _records = records
    _bytes = bytes
    lock.unlock()
  }

  var snapshot: (records: Int, bytes: Int) {
    lock.lock()
    defer { lock.unlock() }
    return (_records, _bytes)
  }
}

/// Fault injection for the kill-and-resume tests, read from `PIPE_FAULT`:
/// `kill-in-task=STAGE:SHARD:RECORDS` kills the process with SIGKILL after that many records
/// of that task were written (the temporary file is flushed first, so it is really half
/// written); `fail-in-task=STAGE:SHARD` makes that task throw; `kill-after-tasks=N` kills the
/// process right after the Nth task of this process is marked done.
struct FaultPlan: Sendable {
  var killInTask: (stage: String, shard: Int, records: Int)?
  var failInTask: (stage: String, shard: Int)?
  var killAfterTasks: Int?

  static func fromEnvironment() -> FaultPlan {
    parse(ProcessInfo.processInfo.environment["PIPE_FAULT"] ?? "")
  }

  static func parse(_ value: String) -> FaultPlan {
    var plan = FaultPlan()
    for clause in value.split(separator: ",") {
      let parts = clause.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { continue }
      // The stage comes first and may itself contain ':' (internal steps such as
      // `dedup:signatures`), so the numbers are taken from the end.
      let fields = parts[1].split(separator: ":").map(String.init)
      switch parts[0] {
      case "kill-in-task" where fields.count >= 3:
        if let shard = Int(fields[fields.count - 2]), let records = Int(fields[fields.count - 1]) {
          plan.killInTask = (fields.dropLast(2).joined(separator: ":"), shard, records)
        }
      case "fail-in-task" where fields.count >= 2:
        if let shard = Int(fields[fields.count - 1]) {
          plan.failInTask = (fields.dropLast().joined(separator: ":"), shard)
        }
      case "kill-after-tasks":
        plan.killAfterTasks = Int(parts[1])
      default:
        continue
      }
    }
    return plan
  }

  func killIfDue(stage: String, shard: Int, records: Int, flushing writer: ShardWriter?) {
    guard let target = killInTask, target.stage == stage, target.shard == shard, records >= target.records else {
      return
    }
    try? writer?.flush()
    kill(getpid(), SIGKILL)
  }
}

/// Runs one task's work. Stateless apart from its inputs; the executor owns the manifest.
struct TaskRunner {
  let task: PlannedTask
  let seed: UInt64
  let faults: FaultPlan
  let progress: TaskProgress
  /// Tasks that may run at once; a stage's memory cap is shared among them.
  var workers = 1
  /// What the run lends its stages (the LLM client pool).
  var services = StageServices()

  func makeContext() -> StageContext {
    StageContext(stageID: task.key.stage, seed: seed, shardIndex: task.key.shard, services: services)
  }

  func run() throws -> TaskResult {
    if let fail = faults.failInTask, fail.stage == task.key.stage, fail.shard == task.key.shard {
      throw PipeError(.injectedFault, "fault injected by PIPE_FAULT in \(task.key)", file: task.input)
    }
    switch task.work {
    case .record(let stage):
      let context = makeContext()
      var result = try runRecordLoop { record, _ in try stage.process(&record, context: context) }
      result.counters.merge(context.counters.values, uniquingKeysWith: +)
      return result
    case .batch(let stage):
      let context = makeContext()
      var result = try runBatchLoop(stage, context: context)
      result.counters.merge(context.counters.values, uniquingKeysWith: +)
      return result
    case .statefulBatch(let stage, let stateIn, let stateOut):
      let context = makeContext()
      var state = try stateIn.map { try StateFiles.load($0) } ?? stage.initialState()
      var result = try runBatchLoop(
        batchSize: stage.batchSize, { batch in try stage.process(batch, state: &state, context: context) },
        beforeCommit: { try StateFiles.artifact(state, to: stateOut) })
      result.counters.merge(context.counters.values, uniquingKeysWith: +)
      return result
    case .duplicateKeys(let stage, let keyFile):
      return try DuplicateSteps.writeKeys(task: task, stage: stage, keyFile: keyFile, progress: progress)
    case .duplicateIndex(let keyFiles, let indexFolder):
      return try DuplicateSteps.buildIndex(keyFiles: keyFiles, indexFolder: indexFolder)
    case .duplicateFilter(let indexFolder, let reason):
      let drops = try DuplicateSteps.loadDrops(indexFolder: indexFolder, shard: task.key.shard)
      return try runRecordLoop { _, line in
        if let keptID = drops[line] { return .drop(reason: reason, detail: keptID) }
        return .keep
      }
    case .nearDuplicateSignatures(let stage, let files):
      return try NearDuplicateSteps.writeSignatures(
        task: task, stage: stage, files: files, budget: stage.memoryCapBytes / max(1, workers), faults: faults,
        progress: progress)
    case .nearDuplicateBuckets(let stage, let group, let shards, let files):
      return try NearDuplicateSteps.findEdges(
        stage: stage, group: group, shards: shards, files: files, budget: stage.memoryCapBytes / max(1, workers),
        progress: progress)
    case .nearDuplicateClusters(let shards, let bucketTasks, let files):
      return try NearDuplicateSteps.buildClusters(
        shards: shards, bucketTasks: bucketTasks, files: files, progress: progress)
    case .nearDuplicateFilter(let files, let reason, let countField):
      let verdicts = try NearDuplicateSteps.loadVerdicts(files: files, shard: task.key.shard)
      // Most records are in no cluster and pass unchanged: step 1 already parsed them, so their
      // lines are copied as they are (half of this step's work was parsing them again). Records
      // whose id could be generated from the line number are parsed, since a generated id must
      // be written into the output.
      let signed = NearDuplicateSteps.SignedDocuments(files: files, shard: task.key.shard)
      let generatedPrefix = (task.input as NSString).lastPathComponent + ":"
      let verbatim: ((Int) throws -> String?)? = signed.map { signed in
        { line in
          guard let id = try signed.id(atLine: line), verdicts[line] == nil,
            !id.utf8.starts(with: generatedPrefix.utf8)
          else { return nil }
          return id
        }
      }
      return try runRecordLoop(verbatim: verbatim) { record, line in
        guard let verdict = verdicts[line] else { return .keep }
        if let survivor = verdict.survivorID { return .drop(reason: reason, detail: survivor) }
        if let countField { record.setMetadata(countField, .int(Int64(verdict.clusterSize))) }
        return .keep
      }
    case .groupTotals(let stage, let totalsFile):
      return try MixtureSteps.writeTotals(task: task, stage: stage, totalsFile: totalsFile, progress: progress)
    case .groupPlan(let stage, let totalsFiles, let planFile):
      return try MixtureSteps.writePlan(stage: stage, totalsFiles: totalsFiles, planFile: planFile)
    case .planSample(let stage, let planFile):
      let plan = try MixtureSteps.loadPlan(planFile)
      let context = makeContext()
      var copies = 0
      var group = ""
      var result = try runRecordLoop(
        { record, _ in
          (group, copies) = stage.copies(of: record, plan: plan, context: context)
          guard copies > 0 else {
            return .drop(
              reason: stage.dropReason,
              detail: "group \(group), rate \(JSONValue.formatDouble(plan.group(group)?.rate ?? 0))")
          }
          stage.mark(&record, group: group, epoch: 0)
          return .keep
        },
        repeat: { record, epoch in
          guard epoch < copies else { return false }
          stage.mark(&record, group: group, epoch: epoch)
          return true
        })
      result.counters.merge(context.counters.values, uniquingKeysWith: +)
      return result
    case .train(let trainer, let inputs, let artifactFile, let reportFile):
      return try TrainingSteps.train(
        trainer, inputs: inputs, artifactFile: artifactFile, reportFile: reportFile,
        context: makeContext(), progress: progress)
    case .score(let scorer, let artifactFile):
      let stage = try TrainingSteps.load(scorer, stage: task.key.stage, artifactFile: artifactFile)
      let context = makeContext()
      var result = try runRecordLoop { record, _ in try stage.process(&record, context: context) }
      result.counters.merge(context.counters.values, uniquingKeysWith: +)
      return result
    case .export(let output, let folder, let shards):
      return try Exporter.export(output: output, folder: folder, shards: shards, progress: progress)
    }
  }

  /// The shared loop of every record task: read, parse, decide, write kept records and
  /// rejects, count, and collect provenance. `decide` gets the record and its line number.
  /// After a kept record is written, `repeat` (when given) is asked for more copies with
  /// epochs 1, 2, ... until it returns false; it may change the copy first. Copies count as
  /// emitted records, so records in = kept + dropped still holds.
  ///
  /// `verbatim` (when given) is asked first for each line number: an id means the line is known
  /// to be a valid record with that (non-generated) id that `decide` would keep unchanged, so its
  /// bytes are written as they are, without parsing.
  func runRecordLoop(
    verbatim: ((Int) throws -> String?)? = nil,
    _ decide: (inout Record, Int) throws -> Verdict, repeat copy: ((inout Record, Int) -> Bool)? = nil
  ) throws -> TaskResult {
    try withShardLoop { loop in
      try loop.forEachRecord(verbatim: verbatim) { record, lineNumber in
        var record = record
        let verdict = try loop.timingDecision { try decide(&record, lineNumber) }
        switch verdict {
        case .keep:
          try loop.keep(record)
          if let copy {
            var epoch = 1
            while copy(&record, epoch) {
              try loop.emit(record)
              epoch += 1
            }
          }
        case .drop(let reason, let detail):
          try loop.drop(record, line: lineNumber, reason: reason, detail: detail)
        }
      }
    }
  }

  /// The loop of batch stages: records are handed to the stage `batchSize` at a time (so it can
  /// work on them concurrently, as LLM stages do) and written back in input order. Lines that
  /// are not records are rejected as soon as they are read.
  func runBatchLoop(_ stage: any BatchRecordStage, context: StageContext) throws -> TaskResult {
    try runBatchLoop(batchSize: stage.batchSize) { batch in try stage.process(batch, context: context) }
  }

  /// The batch loop with the decision as a closure; `beforeCommit` runs once all records are
  /// written and before the output is committed (a stateful stage saves its state there, so
  /// the state is on disk whenever the task is done).
  func runBatchLoop(
    batchSize: Int, _ process: ([Record]) throws -> [BatchOutcome], beforeCommit: (() throws -> ArtifactRow)? = nil
  ) throws -> TaskResult {
    let size = max(1, batchSize)
    return try withShardLoop { loop in
      var batch: [Record] = []
      var lines: [Int] = []
      func flush() throws {
        guard !batch.isEmpty else { return }
        let outcomes = try loop.timingDecision { try process(batch) }
        guard outcomes.count == batch.count else {
          throw PipeError(
            .stage, "internal error: \(task.key) got \(outcomes.count) outcomes for \(batch.count) records")
        }
        for (index, outcome) in outcomes.enumerated() {
          switch outcome {
          case .keep(let record):
            try loop.keep(record)
          case .keepExplained(let record, let detail):
            try loop.keep(record, detail: detail)
          case .drop(let reason, let detail):
            try loop.drop(batch[index], line: lines[index], reason: reason, detail: detail)
          case .expand(let records, let rejected):
            for output in rejected {
              try loop.rejectOutput(output, line: lines[index])
            }
            guard let first = records.first else {
              let reason = rejected.first?.reason ?? "no_output"
              try loop.drop(batch[index], line: lines[index], reason: reason, detail: rejected.first?.detail)
              continue
            }
            try loop.keep(first)
            for record in records.dropFirst() { try loop.emit(record) }
          }
        }
        batch.removeAll(keepingCapacity: true)
        lines.removeAll(keepingCapacity: true)
      }
      try loop.forEachRecord { record, lineNumber in
        batch.append(record)
        lines.append(lineNumber)
        if batch.count >= size { try flush() }
      }
      try flush()
      if let beforeCommit { loop.result.artifacts.append(try beforeCommit()) }
    }
  }

  /// Opens the task's reader and writers, runs `body`, and commits (or abandons) the output.
  private func withShardLoop(_ body: (ShardLoop) throws -> Void) throws -> TaskResult {
    guard let outputPath = task.outputPath, let rejectsPath = task.rejectsPath else {
      throw PipeError(.stage, "internal error: record task \(task.key) has no output path")
    }
    let loop = ShardLoop(
      task: task, reader: try ShardReader(path: task.input),
      writer: try ShardWriter(path: outputPath, compressionLevel: task.shardCompressionLevel),
      rejectsPath: rejectsPath,
      provenance: ProvenanceSpool(spillPath: outputPath + ".provenance.tmp"), faults: faults, progress: progress)
    do {
      try body(loop)
      return try loop.commit()
    } catch {
      loop.abandon()
      throw error
    }
  }
}

/// The reading, writing, counting and provenance every record task shares; stages only decide.
final class ShardLoop {
  let task: PlannedTask
  let reader: ShardReader
  let writer: ShardWriter
  let rejectsPath: String
  let provenance: ProvenanceSpool
  let faults: FaultPlan
  let progress: TaskProgress
  var rejects: ShardWriter? = nil
  var result = TaskResult()
  private var line: [UInt8] = []
  private var rejectBuffer: [UInt8] = []
  private let shardName: String
  private var lastProgress = 0
  /// Time spent in the stage's decisions so far (see `timingDecision`).
  private var decideNanoseconds: UInt64 = 0

  init(
    task: PlannedTask, reader: ShardReader, writer: ShardWriter, rejectsPath: String, provenance: ProvenanceSpool,
    faults: FaultPlan, progress: TaskProgress
  ) {
    self.task = task
    self.reader = reader
    self.writer = writer
    self.rejectsPath = rejectsPath
    self.provenance = provenance
    self.faults = faults
    self.progress = progress
    result.provenance = provenance
    line.reserveCapacity(1 << 16)
    shardName = (task.input as NSString).lastPathComponent
  }

  /// Reads every line: blank lines are skipped, lines that are not records become rejects with
  /// their reason and line, and records go to `body` with their line number. A line for which
  /// `verbatim` returns an id is kept as it is (see `TaskRunner.runRecordLoop`).
  func forEachRecord(verbatim: ((Int) throws -> String?)? = nil, _ body: (Record, Int) throws -> Void) throws {
    while let shardLine = try reader.next() {
      if shardLine.isBlank { continue }
      result.recordsIn += 1
      let lineNumber = shardLine.number
      if result.recordsIn - lastProgress >= 4096 {
        lastProgress = result.recordsIn
        progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
      }
      if shardLine.isTruncated {
        let reason = "line_too_long"
        let detail = "line is \(shardLine.fullLength) bytes, over the \(reader.maxLineBytes)-byte limit"
        try rejectLine(
          id: "\(shardName):\(lineNumber)", reason: reason, detail: detail, line: lineNumber, raw: shardLine.bytes)
        continue
      }
      if let verbatim, let id = try verbatim(lineNumber) {
        if task.readsSource {
          try provenance.addOrigin(recordID: id, sourcePath: task.input, line: lineNumber)
        }
        try writer.writeLine(UnsafeRawBufferPointer(shardLine.bytes))
        result.recordsKept += 1
        faults.killIfDue(stage: task.key.stage, shard: task.key.shard, records: result.recordsKept, flushing: writer)
        continue
      }
      let record: Record
      do {
        record = try Record(line: shardLine.bytes, fallbackID: "\(shardName):\(lineNumber)")
      } catch {
        let id = error.recordID.flatMap { $0.isEmpty ? nil : $0 } ?? "\(shardName):\(lineNumber)"
        try rejectLine(id: id, reason: error.reason, detail: error.message, line: lineNumber, raw: shardLine.bytes)
        continue
      }
      if task.readsSource {
        try provenance.addOrigin(recordID: record.id, sourcePath: task.input, line: lineNumber)
      }
      try body(record, lineNumber)
    }
  }

  /// Writes a kept record (the first output of its input record).
  func keep(_ record: Record, detail: String? = nil) throws {
    try write(record)
    result.recordsKept += 1
    if record.isModified || detail != nil {
      try provenance.addVerdict(recordID: record.id, kind: .modified, reason: nil, detail: detail)
    }
    faults.killIfDue(stage: task.key.stage, shard: task.key.shard, records: result.recordsKept, flushing: writer)
  }

  /// Writes one more output of the record kept last (a copy or a generated record).
  func emit(_ record: Record) throws {
    try write(record)
    result.recordsEmitted += 1
  }

  /// Sends an output the stage refused to the rejects, counting it by reason; the input's
  /// counts do not change.
  func rejectOutput(_ output: RejectedOutput, line lineNumber: Int) throws {
    result.counters["rejected." + output.reason, default: 0] += 1
    try reject(output.record, line: lineNumber, reason: output.reason, detail: output.detail)
  }

  /// Sends a record to the rejects with its reason.
  func drop(_ record: Record, line lineNumber: Int, reason: String, detail: String?) throws {
    result.drop(reason)
    try reject(record, line: lineNumber, reason: reason, detail: detail)
  }

  /// Writes `record` to the rejects with its reason, and its verdict to the provenance.
  private func reject(_ record: Record, line lineNumber: Int, reason: String, detail: String?) throws {
    // One buffer serves every reject of the task: a reject is about as long as its record, and
    // a new array per reject grew twice and copied the record each time.
    rejectBuffer.removeAll(keepingCapacity: true)
    RejectLine.dropped(
      record: record, stage: task.key.stage, reason: reason, detail: detail, source: task.inputLabel,
      line: lineNumber, into: &rejectBuffer)
    try reject(rejectBuffer)
    try provenance.addVerdict(recordID: record.id, kind: .dropped, reason: reason, detail: detail)
  }

  /// Runs `decide` (a stage's decision on a record or batch), adding its time to the task's
  /// `decideSeconds`. A monotonic clock read costs about 20 ns, well under a record's work.
  @inline(__always)
  func timingDecision<T>(_ decide: () throws -> T) rethrows -> T {
    let started = DispatchTime.now().uptimeNanoseconds
    defer { decideNanoseconds &+= DispatchTime.now().uptimeNanoseconds &- started }
    return try decide()
  }

  func commit() throws -> TaskResult {
    result.decideSeconds = Double(decideNanoseconds) / 1e9
    result.bytesIn = reader.bytesRead
    progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
    result.output = try writer.commit()
    result.rejects = try rejects?.commit()
    if result.rejects == nil { try removeItemIfPresent(rejectsPath) }
    return result
  }

  func abandon() {
    writer.abandon()
    rejects?.abandon()
  }

  private func write(_ record: Record) throws {
    line.removeAll(keepingCapacity: true)
    record.write(to: &line)
    try line.withUnsafeBytes { try writer.writeLine($0) }
  }

  private func reject(_ bytes: [UInt8]) throws {
    if rejects == nil { rejects = try ShardWriter(path: rejectsPath, compressionLevel: task.shardCompressionLevel) }
    try rejects?.writeLine(bytes)
  }

  /// Rejects a line that is not a record, keeping its bytes.
  private func rejectLine(
    id: String, reason: String, detail: String, line lineNumber: Int, raw: UnsafeBufferPointer<UInt8>
  ) throws {
    result.drop(reason)
    try reject(
      RejectLine.malformed(
        id: id, stage: task.key.stage, reason: reason, detail: detail, source: task.inputLabel, line: lineNumber,
        raw: raw))
    try provenance.addVerdict(recordID: id, kind: .dropped, reason: reason, detail: detail)
    if task.readsSource {
      try provenance.addOrigin(recordID: id, sourcePath: task.input, line: lineNumber)
    }
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

extension ShardLine {
  /// Blank lines (empty or only spaces and tabs) separate nothing in JSONL: they are not
  /// records, so they are neither counted nor rejected.
  var isBlank: Bool {
    !isTruncated && bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
  }
}
