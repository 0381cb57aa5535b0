internal import CSQLite

// MARK: - Result codes

/// A SQLite result code, primary (`SQLITE_CONSTRAINT`) or extended (`SQLITE_CONSTRAINT_FOREIGNKEY`).
///
/// Callers branch on these codes, never on message text: messages change between SQLite versions,
/// codes do not. A primary pattern matches its extended codes, so `case .constraint:` also catches
/// a unique or foreign-key violation (GRDB's `ResultCode ~=`).
struct ResultCode: Equatable, Sendable, CustomStringConvertible {
  /// The code as SQLite returns it; extended when extended result codes are on (they always are here).
  let rawValue: Int32

  /// The primary code: the low 8 bits of an extended code.
  var primary: ResultCode { ResultCode(rawValue: rawValue & 0xff) }

  static let ok = ResultCode(rawValue: SQLITE_OK)
  static let error = ResultCode(rawValue: SQLITE_ERROR)
  static let busy = ResultCode(rawValue: SQLITE_BUSY)
  static let locked = ResultCode(rawValue: SQLITE_LOCKED)
  static let readOnly = ResultCode(rawValue: SQLITE_READONLY)
  static let ioError = ResultCode(rawValue: SQLITE_IOERR)
  static let corrupt = ResultCode(rawValue: SQLITE_CORRUPT)
  static let full = ResultCode(rawValue: SQLITE_FULL)
  static let cantOpen = ResultCode(rawValue: SQLITE_CANTOPEN)
  static let constraint = ResultCode(rawValue: SQLITE_CONSTRAINT)
  static let notADatabase = ResultCode(rawValue: SQLITE_NOTADB)
  static let misuse = ResultCode(rawValue: SQLITE_MISUSE)
  static let row = ResultCode(rawValue: SQLITE_ROW)
  static let done = ResultCode(rawValue: SQLITE_DONE)
  // `SQLITE_CONSTRAINT_FOREIGNKEY` is a macro expression Swift does not import: (SQLITE_CONSTRAINT | (3<<8)).
  static let foreignKeyConstraint = ResultCode(rawValue: SQLITE_CONSTRAINT | (3 << 8))

  /// Whether the codes are equal, or one is a primary code and the other one of its extended codes.
  ///
  /// Symmetric, so both `case .constraint:` and `error.code ~= .constraint` read as expected.
  static func ~= (lhs: ResultCode, rhs: ResultCode) -> Bool {
    if lhs == rhs { return true }
    if lhs.isPrimary { return rhs.primary == lhs }
    if rhs.isPrimary { return lhs.primary == rhs }
    return false
  }

  /// Whether this is a primary code, not an extended one.
  var isPrimary: Bool { rawValue == primary.rawValue }

  /// SQLite's own English name for the code, with the number: `constraint failed (2067)`.
  var description: String {
    guard let text = sqlite3_errstr(rawValue) else { return "SQLite code \(rawValue)" }
    return "\(String(cString: text)) (\(rawValue))"
  }
}

// MARK: - Errors

/// A failed SQLite call: its extended result code, SQLite's message and the SQL that failed.
///
/// Statement arguments are deliberately absent: they can hold record text, which stays out of
/// error messages (GRDB keeps arguments out of `description` for the same reason).
struct SQLiteError: Error, Sendable, CustomStringConvertible {
  /// The extended result code.
  let code: ResultCode
  /// `sqlite3_errmsg` at the time of the failure, or the generic text of the code.
  let message: String
  /// The statement that failed, if the failure came from one.
  let sql: String?

  var description: String {
    var text = "SQLite error \(code.rawValue): \(message)"
    if let sql { text += " (SQL: \(sql))" }
    return text
  }
}

/// The one place SQLite result codes become Swift errors (NIO's `syscall` funnel).
///
/// - Parameters:
///   - rc: the code a `sqlite3_*` call returned.
///   - db: the connection, for `sqlite3_errmsg`; nil when there is none yet.
///   - sql: the statement involved, for the error message.
/// - Returns: `rc` when it is `SQLITE_OK`, `SQLITE_ROW` or `SQLITE_DONE`.
/// - Throws: `SQLiteError` for every other code.
@discardableResult
func check(_ rc: Int32, _ db: OpaquePointer?, sql: String? = nil) throws -> Int32 {
  switch rc {
  case SQLITE_OK, SQLITE_ROW, SQLITE_DONE:
    return rc
  default:
    throw makeError(rc, db, sql: sql)
  }
}

/// Builds the error for `rc`, preferring the connection's message, which names the constraint or
/// table, over the generic text of the code.
func makeError(_ rc: Int32, _ db: OpaquePointer?, sql: String?) -> SQLiteError {
  var message: String
  if let db, let text = sqlite3_errmsg(db) {
    message = String(cString: text)
  } else if let text = sqlite3_errstr(rc) {
    message = String(cString: text)
  } else {
    message = "unknown error"
  }
  if message.isEmpty { message = "unknown error" }
  return SQLiteError(code: ResultCode(rawValue: rc), message: message, sql: sql)
}
