internal import PipeCore

extension Manifest {
  /// Records the start of a run.
  ///
  /// - Parameters:
  ///   - pipelineName: the pipeline's name.
  ///   - pipelinePath: the pipeline file.
  ///   - pipelineJSON: the pipeline as loaded, kept so the run can be explained after the file changes.
  ///   - seed: the run seed.
  ///   - workers: the number of workers.
  ///   - command: the command line.
  ///   - startedAt: seconds since 1970.
  /// - Returns: the new run's id.
  public func startRun(
    pipelineName: String, pipelinePath: String, pipelineJSON: String, seed: UInt64, workers: Int, command: String,
    startedAt: Double
  ) throws -> Int64 {
    try withConnection("cannot record the start of the run") { db in
      // The seed is stored as decimal text: SQLite integers are signed 64-bit, and a seed above
      // Int64.max would read back negative in the sqlite3 shell.
      let id = try db.queryFirst(
        """
        INSERT INTO runs (pipeline_name, pipeline_path, pipeline_json, seed, workers, command, status, started_at)
        VALUES (?, ?, ?, ?, ?, ?, 'running', ?) RETURNING id
        """,
        [
          .text(pipelineName), .text(pipelinePath), .text(pipelineJSON), .text(String(seed)), .int(workers),
          .text(command), .real(startedAt),
        ]
      ) { $0.int64(0) }
      guard let id else { throw PipeError(.manifest, "INSERT … RETURNING gave no run id", file: path) }
      return id
    }
  }

  /// Records how a run ended.
  ///
  /// - Throws: `PipeError` when there is no run `id`.
  public func finishRun(id: Int64, status: RunStatus, error: String?, finishedAt: Double) throws {
    try write("cannot record the end of run \(id)") { db in
      try db.run(
        "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
        [.text(status.rawValue), .string(error), .real(finishedAt), .integer(id)])
      guard try db.changes() == 1 else {
        throw PipeError(.manifest, "cannot record the end of run \(id): there is no such run", file: path)
      }
    }
  }

  /// Drops the `record_id` lookup indexes before a run writes provenance, so that inserting a
  /// row does not also update a b-tree keyed by random ids (schema version 6). Lookups still
  /// work without them, by scanning.
  public func dropRecordLookupIndexes() throws {
    try withConnection("cannot drop the record lookup indexes") { db in
      try db.execute(
        """
        DROP INDEX IF EXISTS record_origins_by_record;
        DROP INDEX IF EXISTS record_verdicts_by_record;
        """)
    }
  }

  /// Builds the `record_id` lookup indexes (in one sorted pass each) when they are missing; a
  /// run calls it when it ends, so `pipe why` looks records up through them.
  public func buildRecordLookupIndexes() throws {
    try withConnection("cannot build the record lookup indexes") { db in
      try db.execute(
        """
        CREATE INDEX IF NOT EXISTS record_origins_by_record ON record_origins (record_id);
        CREATE INDEX IF NOT EXISTS record_verdicts_by_record ON record_verdicts (record_id);
        """)
    }
  }

  /// Every run, oldest first.
  public func runs() throws -> [RunRow] {
    try withConnection("cannot read the runs") { db in
      try db.query("SELECT \(Self.runColumns) FROM runs ORDER BY id") { try self.runRow($0) }
    }
  }

  /// The most recent run, or nil before the first.
  public func latestRun() throws -> RunRow? {
    try withConnection("cannot read the latest run") { db in
      try db.queryFirst("SELECT \(Self.runColumns) FROM runs ORDER BY id DESC LIMIT 1") { try self.runRow($0) }
    }
  }

  private static let runColumns =
    "id, pipeline_name, pipeline_path, pipeline_json, seed, workers, command, status, error, started_at, finished_at"

  private func runRow(_ row: Statement) throws -> RunRow {
    let id = row.int64(0)
    let seedText = row.text(4)
    guard let seed = UInt64(seedText) else {
      throw PipeError(.manifest, "run \(id) has seed '\(seedText)', which is not a 64-bit unsigned integer", file: path)
    }
    return RunRow(
      id: id, pipelineName: row.text(1), pipelinePath: row.text(2), pipelineJSON: row.text(3), seed: seed,
      workers: row.int(5), command: row.text(6), status: try decode(RunStatus.self, row.text(7), in: "runs"),
      error: row.optionalText(8), startedAt: row.double(9), finishedAt: row.optionalDouble(10))
  }

  /// Parses a status column; the schema's CHECK constraints make a failure here mean a hand edit.
  func decode<S: RawRepresentable<String>>(_ type: S.Type, _ text: String, in table: String) throws -> S {
    guard let value = S(rawValue: text) else {
      throw PipeError(.manifest, "unexpected value '\(text)' in \(table); was the manifest edited by hand?", file: path)
    }
    return value
  }
}
