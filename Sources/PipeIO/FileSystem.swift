import Foundation
import Glibc
import PipeCore
import Synchronization

// MARK: - errno funnel

/// The one place errno becomes a `PipeError` (style A3: NIO's `syscall` funnel).
enum Sys {
  /// The text of `errno`, e.g. "No such file or directory".
  static func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
  }

  /// A `PipeError` for a failed call: "<what>: <strerror> (errno N)".
  static func error(_ family: PipeError.Code, _ what: String, path: String?, errno code: Int32 = errno) -> PipeError {
    PipeError(
      family, "\(what): \(describe(code))", file: path, cause: POSIXErrorCode(rawValue: code).map { POSIXError($0) })
  }

  /// Retries `body` on EINTR; returns its non-negative result or throws from errno.
  @inline(__always)
  static func retrying<T: BinaryInteger>(
    _ family: PipeError.Code, _ what: @autoclosure () -> String, path: String?, _ body: () -> T
  ) throws -> T {
    while true {
      let result = body()
      if result >= 0 { return result }
      let code = errno
      if code == EINTR { continue }
      throw error(family, what(), path: path, errno: code)
    }
  }

  /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
  static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
    guard var p = bytes.baseAddress else { return }
    var remaining = bytes.count
    while remaining > 0 {
      let n = try retrying(.io, "cannot write file", path: path) { Glibc.write(fd, p, remaining) }
      p += n
      remaining -= n
    }
  }
}

// MARK: - Small helpers

/// The size in bytes of the file at `path` (following symlinks), or nil if it cannot be stat'ed.
public func fileSize(_ path: String) -> Int? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return Int(info.st_size)
}

/// The modification time of `path` in seconds since 1970 (with sub-second precision), or nil.
public func fileModificationTime(_ path: String) -> Double? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
}

/// Deletes the file, symlink or directory tree at `path`; does nothing if nothing is there.
/// - Throws: `PipeError(.io)` naming the path if it exists but cannot be removed.
public func removeItemIfPresent(_ path: String) throws {
  var info = stat()
  guard lstat(path, &info) == 0 else {
    if errno == ENOENT { return }
    throw Sys.error(.io, "cannot remove", path: path)
  }
  if (info.st_mode & S_IFMT) == S_IFDIR {
    do {
      try FileManager.default.removeItem(atPath: path)
    } catch {
      throw PipeError(.io, "cannot remove directory", file: path, cause: PipeErrorCause(String(describing: error)))
    }
    return
  }
  if unlink(path) != 0 && errno != ENOENT {
    throw Sys.error(.io, "cannot remove", path: path)
  }
}

/// A Foundation error flattened to text, because `PipeError.cause` must be `Sendable`.
struct PipeErrorCause: Error, Sendable, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Creates `path` and any missing parent directories (`mkdir -p`).
/// - Throws: `PipeError(.io)` naming the directory that could not be created.
public func createDirectories(_ path: String) throws {
  if path.isEmpty { return }
  var info = stat()
  if stat(path, &info) == 0 {
    if (info.st_mode & S_IFMT) == S_IFDIR { return }
    throw PipeError(.io, "cannot create directory: a file with that name exists", file: path)
  }
  let parent = parentDirectory(path)
  if parent != path { try createDirectories(parent) }
  // EEXIST: another process (or task) created it between our stat and mkdir; that's fine.
  if mkdir(path, 0o755) != 0 && errno != EEXIST {
    throw Sys.error(.io, "cannot create directory", path: path)
  }
}

/// Flushes a directory's entries to disk, so a rename into it survives a power loss.
///
/// Errors are ignored on purpose: some filesystems refuse fsync on directories, and by this
/// point the data itself is already durable.
public func fsyncDirectory(_ path: String) {
  let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  guard fd >= 0 else { return }
  _ = fsync(fd)
  _ = close(fd)
}

/// The lexical parent of `path`: "a/b" for "a/b/c", "/" for "/a", "." for "a".
func parentDirectory(_ path: String) -> String {
  var bytes = Array(path.utf8)
  while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
  guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "." }
  if slash == 0 { return "/" }
  return String(decoding: bytes[0..<slash], as: UTF8.self)
}

/// The current directory, used to make relative paths absolute.
func currentDirectory() -> String {
  FileManager.default.currentDirectoryPath
}

// MARK: - Glob

/// Expands shell-style file patterns into the matching regular files.
public enum Glob {
  /// All regular files matching `pattern`, as absolute paths sorted bytewise.
  ///
  /// `*`, `?` and `[...]` match within one path component (fnmatch(3); a leading `.` must be
  /// matched explicitly, as in the shell). A component that is exactly `**` matches any number
  /// of directories, including none, so `data/**/*.zst` finds `data/a.zst` and
  /// `data/x/y/b.zst`. A relative pattern is resolved against `base` (itself made absolute
  /// against the current directory). A pattern with no wildcard returns the file if it exists.
  /// No match returns an empty array; the caller decides whether that is an error.
  /// - Throws: `PipeError(.input)` for an empty pattern, `PipeError(.io)` when a directory
  ///   that must be listed cannot be read (permission denied).
  public static func expand(_ pattern: String, relativeTo base: String) throws -> [String] {
    guard !pattern.isEmpty else { throw PipeError(.input, "empty file pattern") }
    var full = pattern
    if !pattern.hasPrefix("/") {
      var root = base.isEmpty ? currentDirectory() : base
      if !root.hasPrefix("/") { root = currentDirectory() + "/" + root }
      full = root + "/" + pattern
    }
    let components = normalizedComponents(full)
    var matches = Set<String>()
    var visited = Set<DirectoryID>()
    try walk(components[...], directory: "", matches: &matches, visited: &visited)
    return matches.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  /// Identifies a directory across symlinks, to stop `**` from looping.
  private struct DirectoryID: Hashable {
    let device: UInt64
    let inode: UInt64
  }

  /// Splits an absolute path into components, dropping "", "." and resolving ".." lexically.
  private static func normalizedComponents(_ path: String) -> [String] {
    var result = [String]()
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." {
        if !result.isEmpty { result.removeLast() }
        continue
      }
      result.append(String(part))
    }
    return result
  }

  private static func hasWildcard(_ component: String) -> Bool {
    component.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
  }

  private static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  private static func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
  }

  /// Entry names of `directory` (without "." and ".."), or nil if it does not exist.
  private static func list(_ directory: String) throws -> [String]? {
    guard let handle = opendir(directory.isEmpty ? "/" : directory) else {
      let code = errno
      if code == ENOENT || code == ENOTDIR { return nil }
      throw Sys.error(.io, "cannot list directory while expanding a file pattern", path: directory, errno: code)
    }
    defer { closedir(handle) }
    var names = [String]()
    while let entry = readdir(handle) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      names.append(name)
    }
    return names
  }

  /// Matches `rest` below `directory` ("" is the root), adding regular files to `matches`.
  private static func walk(
    _ rest: ArraySlice<String>, directory: String, matches: inout Set<String>, visited: inout Set<DirectoryID>
  ) throws {
    guard let component = rest.first else {
      if isRegularFile(directory) { matches.insert(directory) }
      return
    }
    let tail = rest.dropFirst()
    if component == "**" {
      var info = stat()
      guard stat(directory.isEmpty ? "/" : directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return }
      // Symlinked directories are followed, but each real directory is entered once per `**`.
      guard visited.insert(DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted else {
        return
      }
      defer { visited.remove(DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))) }
      // Zero directories: the rest applies here.
      try walk(tail, directory: directory, matches: &matches, visited: &visited)
      guard let names = try list(directory) else { return }
      for name in names where !name.hasPrefix(".") {
        let child = directory + "/" + name
        if isDirectory(child) {
          try walk(rest, directory: child, matches: &matches, visited: &visited)
        } else if tail.isEmpty && isRegularFile(child) {
          // A trailing `**` means every file below, as with the shell's globstar.
          matches.insert(child)
        }
      }
      return
    }
    if !hasWildcard(component) {
      try walk(tail, directory: directory + "/" + component, matches: &matches, visited: &visited)
      return
    }
    guard let names = try list(directory) else { return }
    for name in names where fnmatch(component, name, FNM_PERIOD) == 0 {
      try walk(tail, directory: directory + "/" + name, matches: &matches, visited: &visited)
    }
  }
}

// MARK: - DirectoryLock

/// An exclusive advisory lock on a lock file, so two `pipe` processes never share a run directory.
///
/// Uses flock(2): the kernel drops the lock when the holding process exits for any reason,
/// SIGKILL included, so there is never a stale lock to clean up by hand. The holder's pid is
/// written into the file only to make the "busy" message useful.
public final class DirectoryLock: Sendable {
  /// The lock file.
  public let path: String
  /// The locked descriptor, or -1 once released; a Mutex so `release()` may race with `deinit`
  /// or another task safely.
  private let descriptor: Mutex<Int32>

  /// Creates or opens the lock file at `path` and takes the lock without waiting.
  /// - Throws: `PipeError(.busy)` if another process (or another lock in this process) holds
  ///   it; `PipeError(.io)` if the file cannot be created.
  public init(path: String) throws {
    self.path = path
    let fd = try Sys.retrying(.io, "cannot open lock file", path: path) {
      open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      let holder = Self.readPid(fd)
      close(fd)
      if code == EWOULDBLOCK {
        let who = holder.map { "pid \($0)" } ?? "pid unknown"
        throw PipeError(
          .busy,
          "the run directory is in use by another pipe process (\(who)); wait for it to finish or stop it. The lock is released automatically when that process exits.",
          file: path)
      }
      throw Sys.error(.io, "cannot lock", path: path, errno: code)
    }
    // Record our pid for the next process's message; failure here is harmless.
    let text = Array("\(getpid())\n".utf8)
    _ = ftruncate(fd, 0)
    _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    descriptor = Mutex(fd)
  }

  private static func readPid(_ fd: Int32) -> Int? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0 else { return nil }
    let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return Int(text)
  }

  /// Releases the lock (idempotent). The file stays: deleting lock files races with the next
  /// process opening them.
  public func release() {
    descriptor.withLock { fd in
      guard fd >= 0 else { return }
      // Clear the pid first so nobody reads a stale one once the lock is free.
      _ = ftruncate(fd, 0)
      _ = flock(fd, LOCK_UN)
      _ = close(fd)
      fd = -1
    }
  }

  deinit {
    release()
  }
}
