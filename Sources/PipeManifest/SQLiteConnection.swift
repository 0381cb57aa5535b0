internal import CSQLite

/// One SQLite connection: opened and configured for the manifest, closed in `deinit` at the latest.
///
/// Not thread-safe by itself (it is opened with `SQLITE_OPEN_NOMUTEX`): `Manifest` owns it behind
/// a mutex, so every use, including each statement's finalization, is serialized.
final class Connection {
  private var handle: OpaquePointer?
  /// The database file.
  let path: String
  /// Whether the connection was opened with `SQLITE_OPEN_READONLY`.
  let isReadOnly: Bool

  /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
  /// Long enough to ride out a checkpoint or a big commit; short enough that two `pipe run`s on
  /// one run directory fail with a clear error instead of hanging.
  static let busyTimeoutMilliseconds: Int32 = 10_000

  /// Opens (and for a writer, creates) the database at `path` and configures it.
  ///
  /// - Parameters:
  ///   - path: the database file.
  ///   - readOnly: open with `SQLITE_OPEN_READONLY`; the file must exist.
  /// - Throws: `SQLiteError`; `.cantOpen` when the file is missing or cannot be opened.
  init(path: String, readOnly: Bool) throws {
    var db: OpaquePointer?
    // NOMUTEX ("multi-thread" mode): SQLite skips its per-connection mutex, which showed up as
    // ~10% of the time of big inserts. Safe because `Manifest` already serializes every use of
    // the connection and its statements behind its own lock.
    let access = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
    let flags = access | SQLITE_OPEN_NOMUTEX
    let rc = sqlite3_open_v2(path, &db, flags, nil)
    guard rc == SQLITE_OK, let db else {
      let error = makeError(rc, db, sql: nil)
      // > Whether or not an error occurs when it is opened, resources associated with the
      // > database connection handle should be released by passing it to sqlite3_close()
      // > when it is no longer required.
      _ = sqlite3_close_v2(db)  // ignore the result: the open error is the one to report
      throw error
    }
    self.handle = db
    self.path = path
    self.isReadOnly = readOnly
    do {
      try configure(db, readOnly: readOnly)
    } catch {
      _ = sqlite3_close_v2(db)
      self.handle = nil
      throw error
    }
  }

  deinit {
    // A backstop for connections nobody closed explicitly. close_v2 never fails with BUSY: with
    // statements still alive it turns the handle into a zombie freed with the last statement.
    if let handle { _ = sqlite3_close_v2(handle) }
  }

  private func configure(_ db: OpaquePointer, readOnly: Bool) throws {
    // Extended codes tell a foreign-key violation from a unique one without reading messages.
    try check(sqlite3_extended_result_codes(db, 1), db)
    try check(sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds), db)
    if readOnly {
      // A reader must not try to turn on WAL (a write); it follows whatever the file says.
      return
    }
    // synchronous=NORMAL is durable against process crashes in WAL mode; a power cut can lose the
    // last commits but never corrupts, and a lost "done" only means that task runs again.
    // foreign_keys is per connection and off by default; cascading deletes depend on it.
    // 16 MB of page cache: a run appends provenance with the record-id indexes dropped, so the
    // cache mostly held pages just written. At 64 MB it was most of a run's peak memory (about 40
    // of 136 MB on the 200,000-document bench), and rebuilding the indexes at the end took as long
    // with 8 MB as with 64 MB (measured on that run's 47 MB manifest).
    try execute(
      """
      PRAGMA synchronous = NORMAL;
      PRAGMA foreign_keys = ON;
      PRAGMA cache_size = -16384;
      """)
  }

  /// Switches the file to WAL, so readers (`pipe inspect`, `pipe why`) run while a run writes and
  /// never block it. The mode is stored in the file; readers follow it.
  ///
  /// Separate from opening so that a file found not to be a manifest is left as it was.
  ///
  /// - Returns: the journal mode now in force: `wal`, or the old mode on a file system without
  ///   the shared memory WAL needs. Everything still works then; readers just wait for writers
  ///   (up to the busy timeout) instead of reading alongside them.
  @discardableResult
  func enableWriteAheadLog() throws -> String {
    try queryFirst("PRAGMA journal_mode = WAL") { $0.text(0) } ?? ""
  }

  /// The raw handle, or an error once closed.
  func database() throws -> OpaquePointer {
    guard let handle else {
      throw SQLiteError(code: .misuse, message: "the connection is closed", sql: nil)
    }
    return handle
  }

  /// Closes the connection.
  ///
  /// - Throws: `SQLiteError` (`.busy`) when statements are still alive; the handle then stays
  ///   open and `deinit` closes it once they are gone.
  func close() throws {
    guard let handle else { return }
    let rc = sqlite3_close(handle)
    guard rc == SQLITE_OK else {
      throw SQLiteError(
        code: ResultCode(rawValue: rc),
        message: "cannot close: \(liveStatementCount()) statement(s) not finalized", sql: nil)
    }
    self.handle = nil
  }

  // MARK: - Running SQL

  /// Runs one or more statements that return no rows the caller wants (schema, pragmas).
  func execute(_ sql: String) throws {
    let db = try database()
    var message: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(db, sql, nil, nil, &message)
    // sqlite3_exec's message duplicates sqlite3_errmsg, which the funnel reads; free it either way.
    if let message { sqlite3_free(message) }
    try check(rc, db, sql: sql)
  }

  /// Compiles one statement.
  func prepare(_ sql: String) throws -> Statement {
    try Statement(db: database(), sql: sql)
  }

  /// Runs one statement with `values` bound, to completion.
  func run(_ sql: String, _ values: [SQLValue] = []) throws {
    let statement = try prepare(sql)
    try statement.bind(values)
    while try statement.step() {}
  }

  /// Runs a query and maps each row.
  func query<T>(_ sql: String, _ values: [SQLValue] = [], row: (Statement) throws -> T) throws -> [T] {
    let statement = try prepare(sql)
    try statement.bind(values)
    var rows: [T] = []
    while try statement.step() {
      rows.append(try row(statement))
    }
    return rows
  }

  /// Runs a query and maps its first row, if any.
  func queryFirst<T>(_ sql: String, _ values: [SQLValue] = [], row: (Statement) throws -> T) throws -> T? {
    let statement = try prepare(sql)
    try statement.bind(values)
    guard try statement.step() else { return nil }
    return try row(statement)
  }

  /// Rows changed by the last INSERT, UPDATE or DELETE.
  func changes() throws -> Int {
    Int(sqlite3_changes64(try database()))
  }

  /// `PRAGMA user_version`: the schema version migrations have reached.
  func userVersion() throws -> Int {
    try queryFirst("PRAGMA user_version") { $0.int(0) } ?? 0
  }

  // MARK: - Transactions

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
  ///
  /// `BEGIN IMMEDIATE` takes the write lock up front, so a writer never fails half-way with
  /// `SQLITE_BUSY` when upgrading a read lock (which the busy timeout cannot retry). If `body` or
  /// the commit throws, the first error is rethrown after the rollback (GRDB: "we'll throw the
  /// first caught error, so that user knows what happened").
  func transaction<T>(_ body: () throws -> T) throws -> T {
    try execute("BEGIN IMMEDIATE")
    let result: T
    do {
      result = try body()
      try execute("COMMIT")
    } catch {
      rollback()
      throw error
    }
    return result
  }

  private func rollback() {
    guard let handle else { return }
    // Some errors (SQLITE_FULL, SQLITE_IOERR, …) roll back on their own; a second ROLLBACK would
    // fail with "no transaction is active". Only roll back what is still open.
    if sqlite3_get_autocommit(handle) == 0 {
      _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
    }
  }

  // MARK: - Diagnostics

  /// How many prepared statements are alive on this connection (0 when nothing leaks).
  func liveStatementCount() -> Int {
    guard let handle else { return 0 }
    var count = 0
    var statement = sqlite3_next_stmt(handle, nil)
    while let current = statement {
      count += 1
      statement = sqlite3_next_stmt(handle, current)
    }
    return count
  }
}
