import Glibc
import PipeCore

/// What a committed shard looks like on disk; recorded in the manifest.
public struct ShardSummary: Sendable {
  /// The final path (after the rename).
  public let path: String
  /// Size of the file as written (compressed size for `.zst`).
  public let fileBytes: Int
  /// Bytes handed to the writer, before compression.
  public let uncompressedBytes: Int
  /// Lines in the (uncompressed) file, counting a last line without "\n".
  public let lines: Int
  /// "xxh64:<16 hex digits>" of the file bytes as written, to detect later corruption cheaply.
  public let checksum: String
  /// Lowercase hex SHA-256 of the file bytes, only when requested (for `sha256sum` users).
  public let sha256: String?
}

/// Writes a shard atomically: into `path + ".tmp"`, then fsync and rename on `commit()`.
///
/// A crash or an error never leaves a partial file under the final name: either `commit()`
/// renamed a complete, fsynced file into place, or the `.tmp` is deleted (by `abandon()`, or by
/// `deinit` when neither was called). Output is byte-deterministic for the same bytes and level:
/// input is compressed in fixed 1 MiB blocks whatever the sizes of the `write` calls.
public final class ShardWriter {
  /// The final path.
  public let path: String
  /// The file written until `commit()` renames it to `path`.
  public let temporaryPath: String

  private static let blockSize = 1 << 20

  private var fd: Int32
  private var encoder: ZstdEncoder?
  private let isZstd: Bool
  /// Uncompressed input waiting for compression (zstd only).
  private let input: UnsafeMutableRawBufferPointer
  private var inputCount = 0
  /// File bytes waiting for write(2).
  private let output: UnsafeMutableRawBufferPointer
  private var outputCount = 0

  private var xxh = XXH64()
  private var sha: SHA256?
  private var written = 0
  private var fileBytes = 0
  private var writeback = Writeback()
  private var newlines = 0
  private var lastByte: UInt8 = 0x0A
  private var finished = false

  /// Opens `path + ".tmp"` for writing (creating parent directories); zstd if `path` ends in ".zst".
  /// - Parameters:
  ///   - compressionLevel: zstd level, used only for ".zst".
  ///   - computeSHA256: also hash the file with SHA-256 (slower; off by default).
  ///   - compressionWorkers: `ZSTD_c_nbWorkers`; 0 (the default) compresses on this thread.
  /// - Throws: `PipeError(.io)` naming the path, or `.config` for a bad level.
  public init(path: String, compressionLevel: Int = 3, computeSHA256: Bool = false, compressionWorkers: Int = 0)
    throws
  {
    self.path = path
    temporaryPath = path + ".tmp"
    isZstd = path.hasSuffix(".zst")
    // Build the encoder first: a bad level must fail before a file is created.
    encoder = isZstd ? try ZstdEncoder(level: compressionLevel, workers: compressionWorkers, path: path) : nil
    try createDirectories(parentDirectory(path))
    let tmp = temporaryPath
    fd = try Sys.retrying(.io, "cannot create output file", path: tmp) {
      open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    }
    input = UnsafeMutableRawBufferPointer.allocate(byteCount: isZstd ? Self.blockSize : 0, alignment: 16)
    // Large enough that compressing a full input block always fits in one pass.
    let outputSize = isZstd ? ZstdEncoder.bound(Self.blockSize) + 4096 : Self.blockSize
    output = UnsafeMutableRawBufferPointer.allocate(byteCount: outputSize, alignment: 16)
    sha = computeSHA256 ? SHA256() : nil
  }

  deinit {
    if !finished { abandon() }
    input.deallocate()
    output.deallocate()
  }

  /// Bytes handed to the writer so far (before compression).
  public var uncompressedBytes: Int { written }

  /// Appends raw bytes; the caller supplies the "\n"s.
  /// - Throws: `PipeError(.io)` naming the path (disk full, ...), or after `commit`/`abandon`.
  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    try ensureOpen()
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    newlines += countNewlines(base, bytes.count)
    try append(bytes)
  }

  /// Appends raw bytes; the caller supplies the "\n"s.
  public func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  /// Appends `bytes` followed by "\n" and counts one line.
  public func writeLine(_ bytes: UnsafeRawBufferPointer) throws {
    try ensureOpen()
    try append(bytes)
    var newline: UInt8 = 0x0A
    try withUnsafeBytes(of: &newline) { try append($0) }
    newlines += 1
  }

  /// Appends `bytes` followed by "\n" and counts one line.
  public func writeLine(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try writeLine($0) }
  }

  /// Pushes everything written so far into the `.tmp` file without ending the zstd frame, so
  /// the bytes are on disk if the process dies next (used by fault injection).
  public func flush() throws {
    try ensureOpen()
    if isZstd { try compressPending(.flush) }
    try flushOutput()
  }

  /// Finishes the zstd frame, flushes, fsyncs the file, renames it to `path` and fsyncs the
  /// directory, so the file is durable under its final name when this returns.
  /// - Throws: `PipeError(.io)` naming the path; the `.tmp` file is then removed.
  public func commit() throws -> ShardSummary {
    try ensureOpen()
    do {
      if isZstd {
        try compressPending(.end)
      }
      try flushOutput()
      _ = try Sys.retrying(.io, "cannot fsync output file", path: temporaryPath) { fsync(fd) }
      let closed = close(fd)
      fd = -1
      if closed != 0 { throw Sys.error(.io, "cannot close output file", path: temporaryPath) }
      if rename(temporaryPath, path) != 0 {
        throw Sys.error(.io, "cannot rename \(temporaryPath) into place", path: path)
      }
    } catch {
      abandon()
      throw error
    }
    finished = true
    fsyncDirectory(parentDirectory(path))
    let lines = newlines + (written > 0 && lastByte != 0x0A ? 1 : 0)
    return ShardSummary(
      path: path, fileBytes: fileBytes, uncompressedBytes: written, lines: lines,
      checksum: "xxh64:" + hexString(xxh.finalize()), sha256: sha.map { SHA256.hex($0.finalize()) })
  }

  /// Closes and deletes the `.tmp` file (idempotent; a no-op after `commit`).
  public func abandon() {
    guard !finished else { return }
    finished = true
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    unlink(temporaryPath)
  }

  // MARK: - Internals

  private func ensureOpen() throws {
    if finished {
      throw PipeError(
        .io, "internal error: write to a shard writer that was already committed or abandoned", file: path)
    }
  }

  private func countNewlines(_ base: UnsafeRawPointer, _ count: Int) -> Int {
    var found = 0
    var p = base
    var remaining = count
    while remaining > 0, let hit = memchr(p, 0x0A, remaining) {
      found += 1
      let advance = UnsafeRawPointer(hit) - p + 1
      p += advance
      remaining -= advance
    }
    return found
  }

  /// Buffers `bytes` (zstd: into fixed 1 MiB input blocks; plain: into the output buffer).
  private func append(_ bytes: UnsafeRawBufferPointer) throws {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    written += bytes.count
    lastByte = bytes[bytes.count - 1]
    var p = base
    var remaining = bytes.count
    let target = isZstd ? input : output
    while remaining > 0 {
      let used = isZstd ? inputCount : outputCount
      let take = min(remaining, target.count - used)
      UnsafeMutableRawBufferPointer(rebasing: target[used..<(used + take)])
        .copyMemory(from: UnsafeRawBufferPointer(start: p, count: take))
      p += take
      remaining -= take
      if isZstd {
        inputCount += take
        if inputCount == input.count { try compressPending(.continue) }
      } else {
        outputCount += take
        if outputCount == output.count { try flushOutput() }
      }
    }
  }

  /// Compresses the buffered input block into the output buffer, writing as it fills.
  private func compressPending(_ directive: ZstdEncoder.Directive) throws {
    var consumedTotal = 0
    while true {
      if outputCount == output.count { try flushOutput() }
      let pendingInput = UnsafeRawBufferPointer(rebasing: input[consumedTotal..<inputCount])
      let space = UnsafeMutableRawBufferPointer(rebasing: output[outputCount...])
      guard let step = try encoder?.compress(pendingInput, into: space, directive) else { return }
      consumedTotal += step.consumed
      outputCount += step.produced
      let inputDone = consumedTotal == inputCount
      if directive == .continue ? inputDone : (inputDone && step.remaining == 0) { break }
    }
    inputCount = 0
  }

  /// Hashes and writes the output buffer.
  private func flushOutput() throws {
    guard outputCount > 0 else { return }
    let bytes = UnsafeRawBufferPointer(rebasing: output[0..<outputCount])
    xxh.update(bytes)
    sha?.update(bytes)
    try Sys.writeAll(fd, bytes, path: temporaryPath)
    fileBytes += outputCount
    outputCount = 0
    writeback.wrote(upTo: fileBytes, of: fd)
  }
}

/// Asks the kernel to start writing a file that will be fsynced back to disk every MiB
/// written (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not wait), so the
/// fsync waits for the last step rather than for the whole file. A hint only: durability
/// still comes from the fsync, so a failure is ignored.
public struct Writeback {
  /// Written bytes between two requests.
  static let step = 1 << 20
  /// Where the next requested range begins.
  private var start = 0

  /// Starts at the beginning of the file.
  public init() {}

  /// Records that `fd` now holds `end` bytes, and starts their writeback once a step is due.
  public mutating func wrote(upTo end: Int, of fd: Int32) {
    guard end - start >= Self.step else { return }
    #if os(Linux)
      _ = linuxSyncFileRange(fd, Int64(start), Int64(end - start), 2)
    #endif
    start = end
  }
}

#if os(Linux)
  /// glibc's `sync_file_range`, declared here because Swift's Glibc module leaves it out
  /// (it needs `_GNU_SOURCE`).
  @_silgen_name("sync_file_range")
  private func linuxSyncFileRange(_ fd: Int32, _ offset: Int64, _ count: Int64, _ flags: UInt32) -> Int32
#endif
