/// An error that stops a task, a command or a run: what happened, where, and what to do.
///
/// Data problems inside a shard (a malformed line, a missing field) are never `PipeError`s:
/// they become counted rejects and the shard goes on. `PipeError` is for infrastructure and
/// input problems that must stop the work: I/O, corrupt compressed data, the manifest, a bad
/// pipeline file, a usage mistake.
public struct PipeError: Error, CustomStringConvertible, Sendable {
  /// The family of the error; the CLI maps it to an exit code.
  public enum Code: String, Sendable {
    /// A bad pipeline file or a bad config value (exit 2).
    case config
    /// Bad command-line usage (exit 2).
    case usage
    /// A bad input file the user must fix: unreadable, missing, not what it claims (exit 2 when
    /// it is found before a run starts; a task failure otherwise).
    case input
    /// Reading or writing files failed.
    case io
    /// Compressed data is corrupt or truncated.
    case corruptInput
    /// The SQLite manifest failed or holds something unexpected.
    case manifest
    /// The run directory is in use by another process.
    case busy
    /// A task failed inside a stage.
    case stage
    /// Deliberately injected by the fault-injection environment (tests only).
    case injectedFault
    /// The run was asked to stop (Ctrl-C, SIGTERM) before the work finished.
    case cancelled
  }

  /// The family of the error.
  public var code: Code
  /// What happened and, where it helps, what to do about it.
  public var message: String
  /// The file the error is about, if any.
  public var file: String?
  /// The 1-based line in `file`, if known.
  public var line: Int?
  /// The error that caused this one, if any.
  public var cause: (any Error & Sendable)?

  /// Creates an error.
  public init(
    _ code: Code, _ message: String, file: String? = nil, line: Int? = nil, cause: (any Error & Sendable)? = nil
  ) {
    self.code = code
    self.message = message
    self.file = file
    self.line = line
    self.cause = cause
  }

  /// `file:line: message`, the way compilers say it, so editors can jump to the place.
  public var description: String {
    var place = ""
    if let file {
      place = file
      if let line { place += ":\(line)" }
      place += ": "
    }
    var text = place + message
    if let cause, !(message.contains(String(describing: cause))) {
      text += " (\(cause))"
    }
    return text
  }
}
