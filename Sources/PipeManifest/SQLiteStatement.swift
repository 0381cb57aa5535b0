internal import CSQLite

/// A value bound to a `?` parameter of a statement.
enum SQLValue {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)

  /// An integer, or NULL when absent.
  static func int(_ value: Int?) -> SQLValue {
    guard let value else { return .null }
    return .integer(Int64(value))
  }

  /// A real, or NULL when absent.
  static func double(_ value: Double?) -> SQLValue {
    guard let value else { return .null }
    return .real(value)
  }

  /// Text, or NULL when absent.
  static func string(_ value: String?) -> SQLValue {
    guard let value else { return .null }
    return .text(value)
  }
}

/// A prepared statement that finalizes itself.
///
/// A class with `deinit`, not a struct with a `finalize()` to remember (SwiftPM's
/// `PreparedStatement` leaks when a caller forgets): a statement lives exactly as long as the
/// Swift value that uses it, so a throw half-way through a method cannot leak one. The leak test
/// checks this with `sqlite3_next_stmt`.
final class Statement {
  private let handle: OpaquePointer
  private let db: OpaquePointer
  /// The SQL text, for error messages.
  let sql: String

  /// Compiles `sql` on `db`.
  init(db: OpaquePointer, sql: String) throws {
    var statement: OpaquePointer?
    try check(sqlite3_prepare_v2(db, sql, -1, &statement, nil), db, sql: sql)
    // An empty or comment-only string compiles to no statement and SQLITE_OK.
    guard let statement else {
      throw SQLiteError(code: .error, message: "no SQL statement to prepare", sql: sql)
    }
    self.handle = statement
    self.db = db
    self.sql = sql
  }

  deinit {
    // "Invoking sqlite3_finalize() on a NULL pointer is a harmless no-op"; its result repeats the
    // last step's error, which the caller has already seen.
    _ = sqlite3_finalize(handle)
  }

  // MARK: - Binding (1-based indexes, as in SQL)

  /// Binds an integer.
  func bind(_ value: Int64, at index: Int32) throws {
    try check(sqlite3_bind_int64(handle, index, value), db, sql: sql)
  }

  /// Binds an integer.
  func bind(_ value: Int, at index: Int32) throws {
    try bind(Int64(value), at: index)
  }

  /// Binds a real.
  func bind(_ value: Double, at index: Int32) throws {
    try check(sqlite3_bind_double(handle, index, value), db, sql: sql)
  }

  /// Binds NULL.
  func bindNull(at index: Int32) throws {
    try check(sqlite3_bind_null(handle, index), db, sql: sql)
  }

  /// Binds text, copied by SQLite (`SQLITE_TRANSIENT`) because the Swift buffer dies after the call.
  func bind(_ value: String, at index: Int32) throws {
    var value = value
    let rc = value.withUTF8 { bytes -> Int32 in
      // A nil base address would bind NULL, not the empty string.
      guard let base = bytes.baseAddress, bytes.count > 0 else {
        return sqlite3_bind_text(handle, index, "", 0, pipe_sqlite_transient())
      }
      return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { chars in
        sqlite3_bind_text(handle, index, chars, Int32(bytes.count), pipe_sqlite_transient())
      }
    }
    try check(rc, db, sql: sql)
  }

  /// Binds UTF-8 text from a buffer, copied by SQLite (`SQLITE_TRANSIENT`), so the buffer may
  /// change after the call; saves making a `String` for text that is already bytes.
  func bind(utf8 bytes: UnsafeRawBufferPointer, at index: Int32) throws {
    // A nil base address would bind NULL, not the empty string.
    guard let base = bytes.baseAddress, bytes.count > 0 else {
      try check(sqlite3_bind_text(handle, index, "", 0, pipe_sqlite_transient()), db, sql: sql)
      return
    }
    let rc = sqlite3_bind_text(
      handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), pipe_sqlite_transient())
    try check(rc, db, sql: sql)
  }

  /// Binds one value.
  func bind(_ value: SQLValue, at index: Int32) throws {
    switch value {
    case .null: try bindNull(at: index)
    case .integer(let integer): try bind(integer, at: index)
    case .real(let real): try bind(real, at: index)
    case .text(let text): try bind(text, at: index)
    }
  }

  /// Resets the statement and binds `values` to parameters 1, 2, ….
  func bind(_ values: [SQLValue]) throws {
    reset()
    for (offset, value) in values.enumerated() {
      try bind(value, at: Int32(offset + 1))
    }
  }

  // MARK: - Stepping

  /// Runs one step.
  /// - Returns: true when a row is available, false when the statement is done.
  @discardableResult
  func step() throws -> Bool {
    let rc = sqlite3_step(handle)
    switch rc {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default: throw makeError(rc, db, sql: sql)
    }
  }

  /// Rewinds the statement so it can run again; bindings are kept.
  func reset() {
    // The result of sqlite3_reset repeats the error of the last step, which step() already threw.
    _ = sqlite3_reset(handle)
  }

  // MARK: - Columns (0-based indexes, as in the C API)

  /// Whether the column is NULL.
  func isNull(_ column: Int32) -> Bool {
    sqlite3_column_type(handle, column) == SQLITE_NULL
  }

  /// An integer column (0 for NULL).
  func int64(_ column: Int32) -> Int64 {
    sqlite3_column_int64(handle, column)
  }

  /// An integer column (0 for NULL).
  func int(_ column: Int32) -> Int {
    Int(truncatingIfNeeded: sqlite3_column_int64(handle, column))
  }

  /// An integer column, nil for NULL.
  func optionalInt(_ column: Int32) -> Int? {
    isNull(column) ? nil : int(column)
  }

  /// An integer column, nil for NULL.
  func optionalInt64(_ column: Int32) -> Int64? {
    isNull(column) ? nil : int64(column)
  }

  /// A real column (0 for NULL).
  func double(_ column: Int32) -> Double {
    sqlite3_column_double(handle, column)
  }

  /// A real column, nil for NULL.
  func optionalDouble(_ column: Int32) -> Double? {
    isNull(column) ? nil : double(column)
  }

  /// A text column ("" for NULL).
  func text(_ column: Int32) -> String {
    // "call sqlite3_column_text() first … then sqlite3_column_bytes()" to get the size of that text.
    guard let bytes = sqlite3_column_text(handle, column) else { return "" }
    let count = Int(sqlite3_column_bytes(handle, column))
    return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
  }

  /// A text column, nil for NULL.
  func optionalText(_ column: Int32) -> String? {
    isNull(column) ? nil : text(column)
  }
}
