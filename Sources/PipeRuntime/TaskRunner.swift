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

  func run() throws -> TaskResult {
    if let fail = faults.failInTask, fail.stage == task.key.stage, fail.shard == task.key.shard {
      throw PipeError(.injectedFault, "fault injected by PIPE_FAULT in \(task.key)", file: task.input)
    }
    switch task.work {
    case .record(let stage):
      let context = StageContext(stageID: task.key.stage, seed: seed, shardIndex: task.key.shard)
      var result = try runRecordLoop { record, _ in try stage.process(&record, context: context) }
      result.counters = context.counters.values
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
      return try runRecordLoop { record, line in
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
      let context = StageContext(stageID: task.key.stage, seed: seed, shardIndex: task.key.shard)
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
      result.counters = context.counters.values
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
  func runRecordLoop(
    _ decide: (inout Record, Int) throws -> Verdict, repeat copy: ((inout Record, Int) -> Bool)? = nil
  ) throws -> TaskResult {
    guard let outputPath = task.outputPath, let rejectsPath = task.rejectsPath else {
      throw PipeError(.stage, "internal error: record task \(task.key) has no output path")
    }
    let reader = try ShardReader(path: task.input)
    let writer = try ShardWriter(path: outputPath, compressionWorkers: 1)
    var rejects: ShardWriter? = nil
    var result = TaskResult()
    let provenance = ProvenanceSpool(spillPath: outputPath + ".provenance.tmp")
    result.provenance = provenance
    var line: [UInt8] = []
    line.reserveCapacity(1 << 16)
    let shardName = (task.input as NSString).lastPathComponent
    let stageID = task.key.stage
    var lastProgress = 0

    func reject(_ bytes: [UInt8]) throws {
      if rejects == nil { rejects = try ShardWriter(path: rejectsPath) }
      try rejects?.writeLine(bytes)
    }

    do {
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
          result.drop(reason)
          let detail = "line is \(shardLine.fullLength) bytes, over the \(reader.maxLineBytes)-byte limit"
          let id = "\(shardName):\(lineNumber)"
          try reject(
            RejectLine.malformed(
              id: id, stage: stageID, reason: reason, detail: detail, source: task.inputLabel, line: lineNumber,
              raw: shardLine.bytes))
          try provenance.addVerdict(recordID: id, kind: .dropped, reason: reason, detail: detail)
          if task.readsSource {
            try provenance.addOrigin(recordID: id, sourcePath: task.input, line: lineNumber)
          }
          continue
        }
        var record: Record
        do {
          record = try Record(line: shardLine.bytes, fallbackID: "\(shardName):\(lineNumber)")
        } catch {
          result.drop(error.reason)
          let id = error.recordID.flatMap { $0.isEmpty ? nil : $0 } ?? "\(shardName):\(lineNumber)"
          try reject(
            RejectLine.malformed(
              id: id, stage: stageID, reason: error.reason, detail: error.message, source: task.inputLabel,
              line: lineNumber, raw: shardLine.bytes))
          try provenance.addVerdict(recordID: id, kind: .dropped, reason: error.reason, detail: error.message)
          if task.readsSource {
            try provenance.addOrigin(recordID: id, sourcePath: task.input, line: lineNumber)
          }
          continue
        }
        if task.readsSource {
          try provenance.addOrigin(recordID: record.id, sourcePath: task.input, line: lineNumber)
        }
        switch try decide(&record, lineNumber) {
        case .keep:
          line.removeAll(keepingCapacity: true)
          record.write(to: &line)
          try line.withUnsafeBytes { try writer.writeLine($0) }
          result.recordsKept += 1
          if record.isModified {
            try provenance.addVerdict(recordID: record.id, kind: .modified, reason: nil, detail: nil)
          }
          if let copy {
            var epoch = 1
            while copy(&record, epoch) {
              line.removeAll(keepingCapacity: true)
              record.write(to: &line)
              try line.withUnsafeBytes { try writer.writeLine($0) }
              result.recordsEmitted += 1
              epoch += 1
            }
          }
          faults.killIfDue(stage: stageID, shard: task.key.shard, records: result.recordsKept, flushing: writer)
        case .drop(let reason, let detail):
          result.drop(reason)
          try reject(
            RejectLine.dropped(
              record: record, stage: stageID, reason: reason, detail: detail, source: task.inputLabel, line: lineNumber)
          )
          try provenance.addVerdict(recordID: record.id, kind: .dropped, reason: reason, detail: detail)
        }
      }
      result.bytesIn = reader.bytesRead
      progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
      result.output = try writer.commit()
      result.rejects = try rejects?.commit()
      if result.rejects == nil { try removeItemIfPresent(rejectsPath) }
    } catch {
      writer.abandon()
      rejects?.abandon()
      throw error
    }
    return result
  }
}

/// Lines of rejects shards. A dropped record is written whole with a `reject` field added, so
/// rejects can be read, inspected and fed back like any shard; a line that is not a record is
/// kept as text (`raw`), or as base64 (`raw_base64`) when it is not even UTF-8.
enum RejectLine {
  static func dropped(
    record: Record, stage: String, reason: String, detail: String?, source: String, line: Int
  ) -> [UInt8] {
    let reject = JSONValue.object(info(stage: stage, reason: reason, detail: detail, source: source, line: line))
    var out: [UInt8] = []
    guard record.field("reject") == nil else {
      // Rejects fed back in: replace the old field rather than repeat the key.
      var copy = record
      copy.setField("reject", reject)
      copy.write(to: &out)
      return out
    }
    // The common case: the record's bytes as they are, with the field appended before the
    // closing brace (no re-serialization of the record).
    record.write(to: &out)
    out.removeLast()
    out.append(contentsOf: Array(#","reject":"#.utf8))
    reject.write(to: &out)
    out.append(UInt8(ascii: "}"))
    return out
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

  private static func info(stage: String, reason: String, detail: String?, source: String, line: Int) -> JSONObject {
    var object = JSONObject()
    object["stage"] = .string(stage)
    object["reason"] = .string(reason)
    if let detail { object["detail"] = .string(detail) }
    object["source"] = .string(source)
    object["line"] = .int(Int64(line))
    return object
  }
}

extension ShardLine {
  /// Blank lines (empty or only spaces and tabs) separate nothing in JSONL: they are not
  /// records, so they are neither counted nor rejected.
  var isBlank: Bool {
    !isTruncated && bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
  }
}
