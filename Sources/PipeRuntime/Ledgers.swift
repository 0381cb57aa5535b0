import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// Task ledgers on disk: written by the process that ran the task, merged into the manifest
/// by the one process that writes it (on one machine, the same process, as each task ends).
enum Ledgers {
  /// Writes `ledger` under its final name (temporary file, rename). It is not fsynced: its
  /// checksum catches a file a crash cut short, and its task is then simply redone.
  static func write(_ ledger: TaskLedger, to path: String) throws {
    let writer = try AtomicFileWriter(path: path, durable: false)
    do {
      try ledger.write(to: writer)
      _ = try writer.commit()
    } catch {
      writer.abandon()
      throw error
    }
  }

  /// Reads a ledger and merges it into the manifest in one transaction, then deletes it and
  /// the task's LLM journal (their content is in the manifest now).
  static func merge(_ path: String, journal: String?, into manifest: Manifest) throws -> TaskLedger {
    let ledger = try TaskLedger.read(try BinaryFile(path: path))
    try manifest.markTasksDone(ledger.rows, llmCache: ledger.llmCache)
    try removeItemIfPresent(path)
    if let journal { try removeItemIfPresent(journal) }
    return ledger
  }

  /// At the start of a run: merges the ledgers of tasks that finished but were not merged
  /// (the process was killed in between), when they match the plan and their files are
  /// there; deletes the others (their tasks are redone). Answers in the LLM journals of
  /// tasks that did not finish go into the cache: they were paid for.
  ///
  /// - Returns: the tasks whose ledgers were merged.
  static func recover(plan: Plan, layout: RunLayout, manifest: Manifest) throws -> [TaskKey] {
    guard let enumerator = FileManager.default.enumerator(atPath: layout.ledgerFolder) else { return [] }
    var ledgers: [String] = []
    var journals: [String] = []
    var leftovers: [String] = []
    for case let relative as String in enumerator {
      let path = layout.ledgerFolder + "/" + relative
      if relative.hasSuffix(".ledger") {
        ledgers.append(path)
      } else if relative.hasSuffix(".llm.jsonl") {
        journals.append(path)
      } else if relative.hasSuffix(".tmp") {
        leftovers.append(path)
      }
    }
    var merged: [TaskKey] = []
    for path in ledgers.sorted() {
      guard let ledger = try? TaskLedger.read(try BinaryFile(path: path)), matches(ledger, plan: plan) else {
        try removeItemIfPresent(path)
        continue
      }
      try manifest.markTasksDone(ledger.rows, llmCache: ledger.llmCache)
      try removeItemIfPresent(path)
      if let first = ledger.rows.first { merged.append(TaskKey(stage: first.stage, shard: first.shard)) }
    }
    for journal in journals.sorted() {
      let entries = TaskLLMCache.read(journal: journal)
      if !entries.isEmpty { try manifest.markTasksDone([], llmCache: entries) }
      try removeItemIfPresent(journal)
    }
    for path in leftovers { try removeItemIfPresent(path) }
    return merged
  }

  /// At the start of a run, under the run lock: deletes the temporary files a killed process
  /// left in the run's data, rejects and artifact folders (a shard cut short before its
  /// rename, a step's scratch file). No task is running, so none of them is being written;
  /// the tasks that wrote them are redone. (A killed export's `.partial` folder is replaced
  /// when the export is redone.)
  ///
  /// - Returns: how many files were deleted.
  @discardableResult
  static func removeLeftoverTemporaries(layout: RunLayout) throws -> Int {
    var removed = 0
    for folder in ["data", "rejects", "artifacts"].map({ layout.root + "/" + $0 }) {
      guard let enumerator = FileManager.default.enumerator(atPath: folder) else { continue }
      for case let relative as String in enumerator where relative.hasSuffix(".tmp") {
        try removeItemIfPresent(folder + "/" + relative)
        removed += 1
      }
    }
    return removed
  }

  /// Whether every row of `ledger` is a row of the plan with the same fingerprint, and every
  /// file it names is there with the size it recorded.
  static func matches(_ ledger: TaskLedger, plan: Plan) -> Bool {
    ledger.rows.allSatisfy { row in
      guard let planned = plan.rows[TaskKey(stage: row.stage, shard: row.shard)],
        planned.fingerprint == row.fingerprint
      else { return false }
      if let output = row.outputPath, fileSize(output) != row.outputBytes { return false }
      if let rejects = row.rejectsPath, fileSize(rejects) != row.rejectsBytes { return false }
      return row.artifacts.allSatisfy { fileSize($0.path) == $0.bytes }
    }
  }
}
