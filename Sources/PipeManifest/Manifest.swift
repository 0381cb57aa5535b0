internal import PipeCore
internal import Synchronization

/// The SQLite manifest of a run directory: runs, stages, tasks, drop counts, provenance, artifacts.
///
/// One process writes (`pipe run`, `pipe resume`), from many worker threads through one
/// `Manifest`; every call takes a mutex, so a call is atomic with respect to the others. Other
/// processes read at the same time through `openReadOnly(path:)`: the file is in WAL mode, so
/// readers see the last committed state and never block the writer.
///
/// Every error is a `PipeError` with code `.manifest` (`.busy` when another process holds the
/// write lock past the busy timeout), `file` set to the database path, and the underlying SQLite
/// error as `cause`.
public final class Manifest: Sendable {
  /// The database file.
  public let path: String
  /// Whether this handle came from `openReadOnly(path:)`.
  public let isReadOnly: Bool
  /// The connection; nil once closed. The mutex is what makes one connection safe for many threads.
  private let connection: Mutex<Connection?>
  /// Start marks that found the connection busy (`markTaskStartedUnlessBusy`); the next write
  /// transaction, whoever makes it, records them first.
  let deferredStarts = Mutex<[TaskStart]>([])

  /// Creates the manifest at `path`, or opens an existing one, for reading and writing, and
  /// brings its schema up to date.
  ///
  /// - Parameter path: the database file, usually `<run-dir>/manifest.sqlite`; its folder must exist.
  /// - Throws: `PipeError` (`.manifest`) when the file cannot be opened or migrated, or was written
  ///   by a newer `pipe`.
  public convenience init(path: String) throws {
    let connection: Connection
    do {
      connection = try Connection(path: path, readOnly: false)
      try Schema.migrate(connection)
      try connection.enableWriteAheadLog()
    } catch {
      throw Self.openError(error, path: path, readOnly: false)
    }
    self.init(path: path, readOnly: false, connection: connection)
  }

  private init(path: String, readOnly: Bool, connection: sending Connection) {
    self.path = path
    self.isReadOnly = readOnly
    self.connection = Mutex(connection)
  }

  /// Opens an existing manifest for reading only (`pipe inspect`, `pipe why`), while a run may be
  /// writing it.
  ///
  /// - Parameter path: the database file.
  /// - Returns: a manifest whose write methods throw.
  /// - Throws: `PipeError` (`.manifest`) "no manifest at PATH: is this a run directory?" when the
  ///   file is missing, and a clear error when it is not a manifest.
  public static func openReadOnly(path: String) throws -> Manifest {
    let connection: Connection
    do {
      connection = try Connection(path: path, readOnly: true)
      try Schema.validate(connection)
    } catch {
      throw openError(error, path: path, readOnly: true)
    }
    return Manifest(path: path, readOnly: true, connection: connection)
  }

  /// Closes the connection; later calls throw. Closing twice is harmless.
  ///
  /// Deinitialization closes the connection too; `close()` exists to see the error, if any.
  public func close() throws {
    try connection.withLock { (connection: inout Connection?) throws -> Void in
      defer { connection = nil }
      do {
        try connection?.close()
      } catch {
        throw PipeError(.manifest, "cannot close the manifest", file: path, cause: error)
      }
    }
  }

  // MARK: - Internals shared by the Manifest+*.swift files

  /// Runs `body` with the connection under the lock, turning every error into a `PipeError`.
  ///
  /// - Parameters:
  ///   - action: what the caller was doing, for the error message ("cannot mark task done").
  ///   - body: the work; it must not call other public methods (the mutex is not recursive).
  func withConnection<T: Sendable>(
    _ action: @autoclosure () -> String, _ body: (Connection) throws -> T
  ) throws -> T {
    try translatingErrors(action) {
      try connection.withLock { (connection: inout Connection?) throws -> T in try body(try opened(connection)) }
    }
  }

  /// Runs `body` in one write transaction under the lock; see `withConnection`.
  func write<T: Sendable>(_ action: @autoclosure () -> String, _ body: (Connection) throws -> T) throws -> T {
    try withConnection(action()) { try transaction($0, body) }
  }

  /// Runs `body` in one write transaction if the connection is free at once; nil when another
  /// thread holds it.
  func writeIfFree<T: Sendable>(_ action: @autoclosure () -> String, _ body: (Connection) throws -> T) throws -> T? {
    try translatingErrors(action) {
      try connection.withLockIfAvailable { (connection: inout Connection?) throws -> T in
        try transaction(try opened(connection), body)
      }
    }
  }

  /// One write transaction that first records the start marks waiting for the manifest.
  private func transaction<T>(_ connection: Connection, _ body: (Connection) throws -> T) throws -> T {
    try connection.transaction {
      try recordDeferredStarts(connection)
      return try body(connection)
    }
  }

  /// The open connection, or the error for a closed manifest.
  private func opened(_ connection: Connection?) throws -> Connection {
    guard let connection else { throw PipeError(.manifest, "the manifest is closed", file: path) }
    return connection
  }

  /// Runs `body`, turning every error that is not already a `PipeError` into one.
  private func translatingErrors<T>(_ action: () -> String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as PipeError {
      throw error
    } catch {
      throw translate(error, action: action())
    }
  }

  /// A `PipeError` for a failed SQLite call, chosen by result code, never by message text.
  private func translate(_ error: any Error, action: String) -> PipeError {
    guard let sqlite = error as? SQLiteError else {
      return PipeError(.manifest, "\(action): \(error)", file: path, cause: error)
    }
    switch sqlite.code {
    case .busy, .locked:
      return PipeError(
        .busy,
        "\(action): the manifest is locked by another process; is another `pipe run` or `pipe resume` using this run directory?",
        file: path, cause: sqlite)
    case .readOnly:
      let why = isReadOnly ? "it was opened read-only" : "the file or its folder is not writable"
      return PipeError(.manifest, "\(action): \(why)", file: path, cause: sqlite)
    case .full:
      return PipeError(.manifest, "\(action): the disk is full", file: path, cause: sqlite)
    case .corrupt, .notADatabase:
      return PipeError(
        .manifest, "\(action): the manifest is damaged or not a SQLite database", file: path, cause: sqlite)
    default:
      return PipeError(.manifest, "\(action): \(sqlite.message)", file: path, cause: sqlite)
    }
  }

  private static func openError(_ error: any Error, path: String, readOnly: Bool) -> PipeError {
    if let error = error as? SchemaError {
      switch error {
      case .notAManifest:
        return PipeError(.manifest, "\(path) is not a pipe manifest (it has no manifest schema)", file: path)
      case .newer(let found, let known):
        return PipeError(
          .manifest,
          "the manifest has schema version \(found) but this pipe knows only up to \(known); use a newer pipe",
          file: path)
      case .older(let found, let known):
        return PipeError(
          .manifest,
          "the manifest has schema version \(found), older than this pipe's \(known); `pipe resume` upgrades it",
          file: path)
      }
    }
    guard let sqlite = error as? SQLiteError else {
      return PipeError(.manifest, "cannot open the manifest: \(error)", file: path, cause: error)
    }
    switch sqlite.code {
    case .cantOpen where readOnly:
      return PipeError(.manifest, "no manifest at \(path): is this a run directory?", file: path, cause: sqlite)
    case .cantOpen:
      return PipeError(
        .manifest, "cannot create or open the manifest: does its folder exist, and is it writable?", file: path,
        cause: sqlite)
    case .notADatabase, .corrupt:
      return PipeError(
        .manifest, "\(path) is not a pipe manifest (not a SQLite database, or damaged)", file: path, cause: sqlite)
    case .busy, .locked:
      return PipeError(
        .busy, "cannot open the manifest: it is locked by another process", file: path, cause: sqlite)
    default:
      return PipeError(.manifest, "cannot open the manifest: \(sqlite.message)", file: path, cause: sqlite)
    }
  }

  // MARK: - Diagnostics

  /// How many prepared statements are alive on the connection; 0 between calls unless one leaks.
  package func liveStatementCount() throws -> Int {
    try withConnection("cannot count statements") { $0.liveStatementCount() }
  }

  // MARK: - Meta

  /// Stores a small key-value pair (e.g. the code version), replacing an earlier value.
  public func setMeta(_ key: String, _ value: String) throws {
    try withConnection("cannot set meta '\(key)'") { db in
      try db.run(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [.text(key), .text(value)])
    }
  }

  /// The value stored for `key`, or nil.
  public func meta(_ key: String) throws -> String? {
    try withConnection("cannot read meta '\(key)'") { db in
      try db.queryFirst("SELECT value FROM meta WHERE key = ?", [.text(key)]) { $0.text(0) }
    }
  }
}
