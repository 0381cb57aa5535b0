internal import PipeCore
internal import Synchronization

extension Manifest {
  // MARK: - Reading tasks

  /// The task of `stage` on `shard`, or nil when it was never planned or started.
  public func task(stage: String, shard: Int) throws -> TaskRow? {
    try withConnection("cannot read task \(stage)[\(shard)]") { db in
      try db.queryFirst(
        "SELECT \(Self.taskColumns) FROM tasks t WHERE t.stage_id = ? AND t.shard = ?", [.text(stage), .int(shard)]
      ) { try self.taskRow($0) }
    }
  }

  /// Tasks ordered by stage position, then shard; only `stage`'s when given.
  public func tasks(stage: String? = nil) throws -> [TaskRow] {
    try withConnection("cannot read the tasks") { db in
      let filter = stage == nil ? "" : "WHERE t.stage_id = ?"
      return try db.query(
        """
        SELECT \(Self.taskColumns) FROM tasks t JOIN stages s ON s.id = t.stage_id
        \(filter) ORDER BY s.position, s.id, t.shard
        """,
        stage.map { [.text($0)] } ?? []
      ) { try self.taskRow($0) }
    }
  }

  // MARK: - Task lifecycle

  /// Records tasks as pending for shards `0..<inputs.count` of `stage`, leaving existing tasks alone.
  ///
  /// Optional: `markTaskStarted` creates a task that was never planned. Planning first lets
  /// `pipe inspect` show how much of a stage is still to do.
  ///
  /// - Parameters:
  ///   - stage: the stage id (already recorded with `recordStage`).
  ///   - inputs: the input shard of each task, by shard index.
  ///   - fingerprint: the task fingerprint to store.
  public func planTasks(stage: String, inputs: [String], fingerprint: String) throws {
    try write("cannot plan the tasks of stage '\(stage)'") { db in
      let insert = try db.prepare(
        """
        INSERT INTO tasks (stage_id, shard, input, status, fingerprint) VALUES (?, ?, ?, 'pending', ?)
        ON CONFLICT (stage_id, shard) DO NOTHING
        """)
      try insert.bind(stage, at: 1)
      try insert.bind(fingerprint, at: 4)
      for (shard, input) in inputs.enumerated() {
        try insert.bind(shard, at: 2)
        try insert.bind(input, at: 3)
        try insert.step()
        insert.reset()
      }
    }
  }

  /// Marks a task running for a new attempt, creating it if needed.
  ///
  /// The previous attempt's error, counts, output, drop counts, provenance and artifacts are
  /// cleared, so a task that fails after having once been done does not keep stale results.
  ///
  /// - Returns: the new attempt number (1 for the first).
  /// - Throws: `PipeError` when the stage was not recorded or `runID` is unknown.
  @discardableResult
  public func markTaskStarted(
    stage: String, shard: Int, input: String, fingerprint: String, runID: Int64, startedAt: Double
  ) throws -> Int {
    let start = TaskStart(
      stage: stage, shard: shard, input: input, fingerprint: fingerprint, runID: runID, startedAt: startedAt)
    return try write(start.action) { db in try self.record(start, db) }
  }

  /// Marks a task running like `markTaskStarted`, now if no other thread is using the manifest,
  /// otherwise in the next write transaction, whichever thread makes it (at the latest the
  /// task's own `markTaskDone` or `markTaskFailed`).
  ///
  /// A worker that finishes a task while another is committing its own then starts its next
  /// task at once instead of waiting for that commit: with many small tasks, waiting made
  /// the workers take turns at the manifest.
  ///
  /// - Throws: `PipeError` when the stage was not recorded or `runID` is unknown; a deferred
  ///   mark's error surfaces in the write that records it.
  public func markTaskStartedUnlessBusy(
    stage: String, shard: Int, input: String, fingerprint: String, runID: Int64, startedAt: Double
  ) throws {
    let start = TaskStart(
      stage: stage, shard: shard, input: input, fingerprint: fingerprint, runID: runID, startedAt: startedAt)
    let recorded = try writeIfFree(start.action) { db in try self.record(start, db) }
    if recorded == nil { deferredStarts.withLock { $0.append(start) } }
  }

  /// Records the start marks that found the manifest busy, in the caller's transaction and in
  /// the order they were made.
  func recordDeferredStarts(_ db: Connection) throws {
    let starts = deferredStarts.withLock { starts in
      defer { starts.removeAll() }
      return starts
    }
    for start in starts { _ = try record(start, db) }
  }

  /// Writes a start mark; returns the new attempt number.
  private func record(_ start: TaskStart, _ db: Connection) throws -> Int {
    let started = try foreignKeysChecked(start.action, "unknown stage '\(start.stage)' or run \(start.runID)") {
      try db.queryFirst(
        """
        INSERT INTO tasks (stage_id, shard, input, status, attempt, fingerprint, run_id, started_at)
        VALUES (?, ?, ?, 'running', 1, ?, ?, ?)
        ON CONFLICT (stage_id, shard) DO UPDATE SET
          input = excluded.input, status = 'running', attempt = attempt + 1, fingerprint = excluded.fingerprint,
          run_id = excluded.run_id, started_at = excluded.started_at, finished_at = NULL, duration_seconds = NULL,
          decide_seconds = NULL, records_in = 0, records_kept = 0, records_dropped = 0, records_emitted = 0, bytes_in = 0,
          output_path = NULL, output_bytes = 0, checksum = NULL, rejects_path = NULL, rejects_bytes = 0,
          rejects_checksum = NULL, output_deleted_at = NULL, error = NULL, error_file = NULL, error_line = NULL
        RETURNING id, attempt
        """,
        [
          .text(start.stage), .int(start.shard), .text(start.input), .text(start.fingerprint),
          .integer(start.runID), .real(start.startedAt),
        ]
      ) { (taskID: $0.int64(0), attempt: $0.int(1)) }
    }
    guard let started else {
      throw PipeError(.manifest, "\(start.action): INSERT … RETURNING gave no row", file: path)
    }
    try deleteResults(of: started.taskID, db)
    return started.attempt
  }

  /// Marks a task done, in one transaction with everything it produced.
  ///
  /// The task row gets status `done`, its counts, output, checksum and duration; its drop counts,
  /// provenance rows and artifacts replace any earlier ones. If anything fails (a duplicate
  /// artifact name, a full disk), nothing is written and the task keeps its previous status.
  ///
  /// Call this only after the output file is durable and renamed into place: the manifest then
  /// never says done about a file that is not there.
  ///
  /// - Throws: `PipeError` when the task was never started, or on any SQLite failure.
  public func markTaskDone(_ completion: TaskCompletion) throws {
    try markTasksDone([completion], llmCache: [])
  }

  /// Marks several tasks done in one transaction (the rows of one fused chain, or a ledger's),
  /// with the LLM responses the task received; see `markTaskDone(_:)`. A row that was never
  /// started is created (a ledger written where the manifest could not be, on a cluster node).
  public func markTasksDone(_ completions: [TaskCompletion], llmCache: [LLMCacheEntry]) throws {
    let action =
      completions.count == 1
      ? "cannot mark task \(completions[0].stage)[\(completions[0].shard)] done"
      : "cannot mark \(completions.count) tasks done"
    try write(action) { db in
      for completion in completions {
        let taskID = try self.foreignKeysChecked(action, "unknown stage '\(completion.stage)'") {
          try db.queryFirst(
            """
            INSERT INTO tasks (stage_id, shard, input, status, attempt, fingerprint, run_id, started_at)
            VALUES (?, ?, ?, 'done', 1, ?, ?, ?)
            ON CONFLICT (stage_id, shard) DO UPDATE SET
              status = 'done', fingerprint = excluded.fingerprint,
              input = CASE WHEN excluded.input = '' THEN tasks.input ELSE excluded.input END,
              run_id = coalesce(excluded.run_id, tasks.run_id), started_at = coalesce(excluded.started_at, tasks.started_at)
            RETURNING id
            """,
            [
              .text(completion.stage), .int(completion.shard), .text(completion.input), .text(completion.fingerprint),
              completion.runID.map { .integer($0) } ?? .null, completion.startedAt.map { .real($0) } ?? .null,
            ]
          ) { $0.int64(0) }
        }
        guard let taskID else {
          throw PipeError(.manifest, "\(action): INSERT … RETURNING gave no row", file: self.path)
        }
        try db.run(
          """
          UPDATE tasks SET
            finished_at = ?, duration_seconds = ?, decide_seconds = ?,
            records_in = ?, records_kept = ?, records_dropped = ?, records_emitted = ?, bytes_in = ?,
            output_path = ?, output_bytes = ?, checksum = ?, rejects_path = ?, rejects_bytes = ?, rejects_checksum = ?,
            chain = ?, kind = ?, output_deleted_at = NULL, error = NULL, error_file = NULL, error_line = NULL
          WHERE id = ?
          """,
          [
            .real(completion.finishedAt), .real(completion.durationSeconds),
            completion.decideSeconds.map { .real($0) } ?? .null,
            .int(completion.recordsIn), .int(completion.recordsKept), .int(completion.recordsDropped),
            .int(completion.recordsEmitted), .int(completion.bytesIn), .string(completion.outputPath),
            .int(completion.outputBytes), .string(completion.checksum), .string(completion.rejectsPath),
            .int(completion.rejectsBytes), .string(completion.rejectsChecksum), .string(completion.chain),
            .string(completion.kind), .integer(taskID),
          ])
        try self.deleteResults(of: taskID, db)
        try self.insertResults(of: taskID, completion, db)
      }
      for entry in llmCache { try self.storeLLMCacheEntry(entry, db) }
    }
  }

  /// Puts tasks a signal stopped back to pending: they did not fail, they will run on resume.
  public func markTasksInterrupted(_ keys: [(stage: String, shard: Int)]) throws {
    guard !keys.isEmpty else { return }
    try write("cannot mark interrupted tasks") { db in
      for key in keys {
        try db.run(
          """
          UPDATE tasks SET status = 'pending', error = 'interrupted before it finished; pipe resume redoes it'
          WHERE stage_id = ? AND shard = ? AND status = 'running'
          """, [.text(key.stage), .int(key.shard)])
      }
    }
  }

  /// Records that a done task's output shard was deleted after its last reader finished
  /// (`keepIntermediates: false`); call it before deleting the file.
  public func markOutputDeleted(stage: String, shard: Int, at time: Double) throws {
    try write("cannot record the deletion of \(stage)[\(shard)]'s output") { db in
      try db.run(
        "UPDATE tasks SET output_deleted_at = ? WHERE stage_id = ? AND shard = ?",
        [.real(time), .text(stage), .int(shard)])
    }
  }

  /// Records that an artifact was deleted after its last reader finished; call it before
  /// deleting the file.
  public func markArtifactDeleted(path: String, at time: Double) throws {
    try write("cannot record the deletion of an artifact") { db in
      try db.run("UPDATE artifacts SET deleted_at = ? WHERE path = ?", [.real(time), .text(path)])
    }
  }

  /// Marks a task failed with its error; the next attempt clears it.
  ///
  /// - Parameters:
  ///   - error: what went wrong.
  ///   - errorFile: the file the error is about, if any.
  ///   - errorLine: the 1-based line in that file, if known.
  ///   - finishedAt: seconds since 1970.
  /// - Throws: `PipeError` when the task was never started.
  public func markTaskFailed(
    stage: String, shard: Int, error: String, errorFile: String?, errorLine: Int?, finishedAt: Double
  ) throws {
    let action = "cannot mark task \(stage)[\(shard)] failed"
    // A transaction (`write`), so that a start mark still waiting for the manifest lands first.
    try write(action) { db in
      try db.run(
        """
        UPDATE tasks SET
          status = 'failed', error = ?, error_file = ?, error_line = ?, finished_at = ?,
          duration_seconds = ? - started_at
        WHERE stage_id = ? AND shard = ?
        """,
        [
          .text(error), .string(errorFile), .int(errorLine), .real(finishedAt), .real(finishedAt), .text(stage),
          .int(shard),
        ])
      guard try db.changes() == 1 else {
        throw PipeError(.manifest, "\(action): the task was never started", file: self.path)
      }
    }
  }

  /// Deletes a stage's tasks and everything hanging off them, so they all run again.
  public func resetTasks(stage: String) throws {
    try write("cannot reset the tasks of stage '\(stage)'") { db in
      // One statement is atomic by itself; the foreign keys cascade to the per-task tables.
      try db.run("DELETE FROM tasks WHERE stage_id = ?", [.text(stage)])
    }
  }

  // MARK: - Per-task results

  /// Deletes what a task produced. Each table is keyed by task id first, so each delete is one
  /// range of one b-tree.
  private func deleteResults(of taskID: Int64, _ db: Connection) throws {
    for table in [
      "task_drop_counts", "task_counters", "record_origins", "record_verdicts", "artifacts", "task_mixture_groups",
    ] {
      try db.run("DELETE FROM \(table) WHERE task_id = ?", [.integer(taskID)])
    }
  }

  /// Inserts drop counts, provenance and artifacts. One prepared statement per table, reused for
  /// every row; repeated strings are interned once per distinct value, never looked up per row.
  private func insertResults(of taskID: Int64, _ completion: TaskCompletion, _ db: Connection) throws {
    if !completion.dropCounts.isEmpty {
      let insert = try db.prepare("INSERT INTO task_drop_counts (task_id, reason, count) VALUES (?, ?, ?)")
      try insert.bind(taskID, at: 1)
      // Sorted, so the same completion always writes the same rows in the same order.
      for (reason, count) in completion.dropCounts.sorted(by: { $0.key < $1.key }) {
        try insert.bind(reason, at: 2)
        try insert.bind(count, at: 3)
        try insert.step()
        insert.reset()
      }
    }

    if !completion.counters.isEmpty {
      let insert = try db.prepare("INSERT INTO task_counters (task_id, name, value) VALUES (?, ?, ?)")
      try insert.bind(taskID, at: 1)
      for (name, value) in completion.counters.sorted(by: { $0.key < $1.key }) {
        try insert.bind(name, at: 2)
        try insert.bind(value, at: 3)
        try insert.step()
        insert.reset()
      }
    }

    if !completion.mixtureGroups.isEmpty {
      let insert = try db.prepare(
        """
        INSERT INTO task_mixture_groups (task_id, group_name, records, tokens_available, tokens_targeted, rate,
          share_before, share_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """)
      try insert.bind(taskID, at: 1)
      for group in completion.mixtureGroups {
        try insert.bind(group.name, at: 2)
        try insert.bind(group.records, at: 3)
        try insert.bind(group.tokensAvailable, at: 4)
        try insert.bind(group.tokensTargeted, at: 5)
        try insert.bind(group.rate, at: 6)
        try insert.bind(group.shareBefore, at: 7)
        try insert.bind(group.shareAfter, at: 8)
        try insert.step()
        insert.reset()
      }
    }

    var strings = StringInterner(db)

    let spool = completion.provenance
    if !completion.origins.isEmpty || (spool?.originCount ?? 0) > 0 {
      let insert = try db.prepare(
        "INSERT INTO record_origins (task_id, seq, record_id, source_id, line) VALUES (?, ?, ?, ?, ?)")
      try insert.bind(taskID, at: 1)
      var seq = 0
      func add(_ origin: RecordOrigin) throws {
        try insert.bind(seq, at: 2)
        try insert.bind(origin.recordID, at: 3)
        try insert.bind(try strings.id(of: origin.sourcePath), at: 4)
        try insert.bind(origin.line, at: 5)
        try insert.step()
        insert.reset()
        seq += 1
      }
      for origin in completion.origins { try add(origin) }
      if let spool {
        // The spool's source indexes map to string ids once, not a dictionary lookup per row.
        var sourceIDs = [Int64?](repeating: nil, count: spool.strings.count)
        var rows = try RowBatcher(
          db, insert: "INSERT INTO record_origins (task_id, seq, record_id, source_id, line)", columns: 5,
          rows: spool.originCount)
        try spool.forEachOrigin { origin in
          let sourceID = try sourceIDs[origin.sourceIndex] ?? strings.id(of: spool.strings[origin.sourceIndex])
          sourceIDs[origin.sourceIndex] = sourceID
          try rows.add { statement, offset in
            try statement.bind(taskID, at: offset + 1)
            try statement.bind(seq, at: offset + 2)
            try statement.bind(utf8: origin.recordID, at: offset + 3)
            try statement.bind(sourceID, at: offset + 4)
            try statement.bind(origin.line, at: offset + 5)
          }
          seq += 1
        }
        try rows.finish("record_origins", path: path)
      }
    }

    if !completion.verdicts.isEmpty || (spool?.verdictCount ?? 0) > 0 {
      let insert = try db.prepare(
        "INSERT INTO record_verdicts (task_id, seq, record_id, kind, reason_id, detail) VALUES (?, ?, ?, ?, ?, ?)")
      try insert.bind(taskID, at: 1)
      var seq = 0
      func add(_ verdict: RecordVerdict) throws {
        try insert.bind(seq, at: 2)
        try insert.bind(verdict.recordID, at: 3)
        try insert.bind(verdict.kind.rawValue, at: 4)
        if let reason = verdict.reason {
          try insert.bind(try strings.id(of: reason), at: 5)
        } else {
          try insert.bindNull(at: 5)
        }
        if let detail = verdict.detail {
          try insert.bind(detail, at: 6)
        } else {
          try insert.bindNull(at: 6)
        }
        try insert.step()
        insert.reset()
        seq += 1
      }
      for verdict in completion.verdicts { try add(verdict) }
      if let spool {
        var reasonIDs = [Int64?](repeating: nil, count: spool.strings.count)
        var rows = try RowBatcher(
          db, insert: "INSERT INTO record_verdicts (task_id, seq, record_id, kind, reason_id, detail)", columns: 6,
          rows: spool.verdictCount)
        try spool.forEachVerdict { verdict in
          var reasonID: Int64?
          if let index = verdict.reasonIndex {
            reasonID = try reasonIDs[index] ?? strings.id(of: spool.strings[index])
            reasonIDs[index] = reasonID
          }
          try rows.add { statement, offset in
            try statement.bind(taskID, at: offset + 1)
            try statement.bind(seq, at: offset + 2)
            try statement.bind(utf8: verdict.recordID, at: offset + 3)
            try statement.bind(verdict.kind.rawValue, at: offset + 4)
            if let reasonID {
              try statement.bind(reasonID, at: offset + 5)
            } else {
              try statement.bindNull(at: offset + 5)
            }
            if let detail = verdict.detail {
              try statement.bind(utf8: detail, at: offset + 6)
            } else {
              try statement.bindNull(at: offset + 6)
            }
          }
          seq += 1
        }
        try rows.finish("record_verdicts", path: path)
      }
    }

    if !completion.artifacts.isEmpty {
      let insert = try db.prepare(
        "INSERT INTO artifacts (task_id, name, path, bytes, checksum, shard) VALUES (?, ?, ?, ?, ?, ?)")
      for artifact in completion.artifacts {
        try insert.bind([
          .integer(taskID), .text(artifact.name), .text(artifact.path), .int(artifact.bytes),
          .string(artifact.checksum), .int(artifact.shard),
        ])
        try insert.step()
      }
    }
  }

  /// Runs `body`, turning a foreign-key violation into a message that names the missing parent.
  func foreignKeysChecked<T>(_ action: String, _ missing: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as SQLiteError where .foreignKeyConstraint ~= error.code {
      throw PipeError(.manifest, "\(action): \(missing)", file: path, cause: error)
    }
  }

  // MARK: - Rows

  private static let taskColumns = """
    t.stage_id, t.shard, t.input, t.status, t.attempt, t.fingerprint, t.run_id, t.started_at, t.finished_at,
    t.duration_seconds, t.records_in, t.records_kept, t.records_dropped, t.records_emitted, t.bytes_in,
    t.output_path, t.output_bytes, t.checksum, t.rejects_path, t.error, t.error_file, t.error_line,
    t.decide_seconds, t.rejects_bytes, t.rejects_checksum, t.chain, t.output_deleted_at, t.kind
    """

  private func taskRow(_ row: Statement) throws -> TaskRow {
    var task = TaskRow(
      stage: row.text(0), shard: row.int(1), input: row.text(2),
      status: try decode(TaskStatus.self, row.text(3), in: "tasks"), attempt: row.int(4),
      fingerprint: row.text(5), runID: row.optionalInt64(6), startedAt: row.optionalDouble(7),
      finishedAt: row.optionalDouble(8), durationSeconds: row.optionalDouble(9), recordsIn: row.int(10),
      recordsKept: row.int(11), recordsDropped: row.int(12), recordsEmitted: row.int(13), bytesIn: row.int(14),
      outputPath: row.optionalText(15), outputBytes: row.int(16), checksum: row.optionalText(17),
      rejectsPath: row.optionalText(18), error: row.optionalText(19), errorFile: row.optionalText(20),
      errorLine: row.optionalInt(21), decideSeconds: row.optionalDouble(22))
    task.rejectsBytes = row.int(23)
    task.rejectsChecksum = row.optionalText(24)
    task.chain = row.optionalText(25)
    task.outputDeletedAt = row.optionalDouble(26)
    task.kind = row.optionalText(27)
    return task
  }
}

/// Maps repeated strings (source paths, drop reasons) to ids in the `strings` table.
///
/// Lives for one transaction: ids it learned from rows inserted in a transaction that rolls back
/// would be wrong afterwards, so nothing is cached across calls. A task has few distinct values,
/// so this costs a few statements per task, not per row.
struct StringInterner {
  private let db: Connection
  private var ids: [String: Int64] = [:]
  private var select: Statement?
  private var insert: Statement?

  init(_ db: Connection) {
    self.db = db
  }

  /// The id of `value`, inserting it when new.
  mutating func id(of value: String) throws -> Int64 {
    if let id = ids[value] { return id }
    let select = try self.select ?? db.prepare("SELECT id FROM strings WHERE value = ?")
    self.select = select
    try select.bind([.text(value)])
    let id: Int64
    if try select.step() {
      id = select.int64(0)
      select.reset()
    } else {
      select.reset()
      let insert = try self.insert ?? db.prepare("INSERT INTO strings (value) VALUES (?) RETURNING id")
      self.insert = insert
      try insert.bind([.text(value)])
      guard try insert.step() else {
        throw SQLiteError(code: .error, message: "INSERT … RETURNING gave no id", sql: insert.sql)
      }
      id = insert.int64(0)
      insert.reset()
    }
    ids[value] = id
    return id
  }
}

/// A task's start mark, kept while the manifest is busy (see `markTaskStartedUnlessBusy`).
struct TaskStart: Sendable {
  let stage: String
  let shard: Int
  let input: String
  let fingerprint: String
  let runID: Int64
  let startedAt: Double

  var action: String { "cannot mark task \(stage)[\(shard)] started" }
}

/// Inserts a known number of rows many per statement: `batch` rows per step while whole
/// batches remain, then the rest one per step. One step per row spent more time entering and
/// leaving SQLite than storing the rows. Text is bound by copy (`SQLITE_TRANSIENT`), since a
/// batch outlives the buffers its rows came from.
struct RowBatcher {
  private let batched: Statement
  private let single: Statement
  private let columns: Int32
  private let batch: Int
  /// Rows that go in whole batches.
  private let batchedRows: Int
  private let rows: Int
  private var row = 0

  /// Prepares `insert` (`INSERT INTO table (columns)`) for `rows` rows of `columns` values.
  init(_ db: Connection, insert: String, columns: Int, rows: Int, batch: Int = 64) throws {
    let group = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
    batched = try db.prepare(insert + " VALUES " + Array(repeating: group, count: batch).joined(separator: ", "))
    single = try db.prepare(insert + " VALUES " + group)
    self.columns = Int32(columns)
    self.batch = batch
    self.rows = rows
    batchedRows = rows - rows % batch
  }

  /// Checks that exactly the announced rows came (a partial batch would never be stored).
  func finish(_ table: String, path: String) throws {
    guard row == rows else {
      throw PipeError(.manifest, "internal error: \(row) rows of \(table) where \(rows) were announced", file: path)
    }
  }

  /// Adds the next row: `bind` binds its values at parameters `offset + 1 ... offset + columns`.
  mutating func add(_ bind: (Statement, Int32) throws -> Void) throws {
    defer { row += 1 }
    guard row < batchedRows else {
      try bind(single, 0)
      try single.step()
      single.reset()
      return
    }
    let slot = row % batch
    try bind(batched, Int32(slot) * columns)
    if slot == batch - 1 {
      try batched.step()
      batched.reset()
    }
  }
}
