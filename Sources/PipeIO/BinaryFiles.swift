import Glibc
public import PipeCore

/// What a committed artifact looks like on disk (recorded in the manifest).
public struct ArtifactSummary: Sendable {
  /// The final path.
  public let path: String
  /// Its size.
  public let bytes: Int
  /// "xxh64:<16 hex digits>" of its bytes.
  public let checksum: String
}

/// A file open for positioned reads: a committed artifact, a spilled run, a verified output.
public final class BinaryFile: ArtifactInput {
  /// The file.
  public let path: String
  /// Its size when opened.
  public let size: Int
  private let fd: Int32

  /// Opens `path` for reading.
  ///
  /// - Throws: `PipeError(.io)` naming the path.
  public init(path: String) throws {
    self.path = path
    let fd = try Sys.retrying(.io, "cannot open artifact (rerun the stage that writes it)", path: path) {
      open(path, O_RDONLY | O_CLOEXEC)
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let error = Sys.error(.io, "cannot stat artifact", path: path)
      Glibc.close(fd)
      throw error
    }
    self.fd = fd
    self.size = Int(info.st_size)
  }

  deinit { Glibc.close(fd) }

  /// The path, for messages.
  public var name: String { path }

  /// Fills `buffer` from `offset`; throws if the file ends first.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
    guard let base = buffer.baseAddress else { return }
    var done = 0
    while done < buffer.count {
      let n = try Sys.retrying(.io, "cannot read artifact", path: path) {
        pread(fd, base + done, buffer.count - done, off_t(offset + done))
      }
      if n == 0 {
        throw PipeError(.corruptInput, "artifact ends early; rerun the stage that writes it with --force", file: path)
      }
      done += n
    }
  }

  /// Maps `count` bytes from `offset` read-only.
  public func map(offset: Int, count: Int) throws -> any MappedArtifact {
    try MappedRegion(fd: fd, offset: offset, count: count, path: path)
  }
}

/// A read-only memory map of part of a file; the pages are the kernel's page cache.
final class MappedRegion: MappedArtifact {
  private let base: UnsafeMutableRawPointer?
  private let mappedBytes: Int
  let bytes: UnsafeRawBufferPointer

  init(fd: Int32, offset: Int, count: Int, path: String) throws {
    guard count > 0 else {
      base = nil
      mappedBytes = 0
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      return
    }
    // mmap offsets must be page aligned.
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let aligned = offset / page * page
    let length = count + (offset - aligned)
    let pointer = mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(aligned))
    guard let pointer, pointer != MAP_FAILED else {
      throw Sys.error(.io, "cannot map artifact", path: path)
    }
    base = pointer
    mappedBytes = length
    bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer) + (offset - aligned), count: count)
  }

  deinit {
    if let base { munmap(base, mappedBytes) }
  }
}

/// A plain buffered writer for files written in one go: no rename, fsync only on request.
public final class BinaryFileWriter: ScratchFile {
  /// The file.
  public let path: String
  private var fd: Int32
  /// Set when the file will be fsynced (see `Writeback`).
  private var writeback: Writeback?
  private var written = 0

  /// Creates (or truncates) `path`.
  ///
  /// - Parameter willSync: start writeback as the file grows, for a file fsynced at the end.
  public init(path: String, willSync: Bool = false) throws {
    self.path = path
    writeback = willSync ? Writeback() : nil
    fd = try Sys.retrying(.io, "cannot create file", path: path) {
      open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    }
  }

  deinit { if fd >= 0 { Glibc.close(fd) } }

  /// Bytes written so far.
  public var bytesWritten: Int { written }

  /// Appends bytes.
  public func write(_ raw: UnsafeRawBufferPointer) throws {
    guard fd >= 0 else { throw PipeError(.io, "internal error: write to a closed file", file: path) }
    try Sys.writeAll(fd, raw, path: path)
    written += raw.count
    writeback?.wrote(upTo: written, of: fd)
  }

  /// Flushes the file's data to disk.
  public func sync() throws {
    _ = try Sys.retrying(.io, "cannot fsync file", path: path) { fsync(fd) }
  }

  /// Closes the file (idempotent).
  public func close() throws {
    guard fd >= 0 else { return }
    let result = Glibc.close(fd)
    fd = -1
    if result != 0 { throw Sys.error(.io, "cannot close file", path: path) }
  }

  /// Closes the file and opens it for reading.
  public func finishWriting() throws -> any ArtifactInput {
    try close()
    return try BinaryFile(path: path)
  }
}

/// Writes an artifact atomically: into `path + ".tmp"`, then fsync and rename on `commit()`.
/// Unlike `ShardWriter` it leaves syncing the folder to the caller, so a task that writes
/// several artifacts into one folder syncs it once.
public final class AtomicFileWriter: ArtifactOutput {
  /// The final path.
  public let path: String
  private let temporary: BinaryFileWriter
  private var hash = XXH64()
  private var bytes = 0
  private var finished = false

  private let durable: Bool

  /// Opens `path + ".tmp"`, creating the folder.
  ///
  /// - Parameter durable: fsync before the rename (the default). A file whose content is
  ///   checked when read (a task ledger, with its checksum) may skip it: a crash then leaves a
  ///   file that fails its check and its work is redone, never one taken for good.
  public init(path: String, durable: Bool = true) throws {
    self.path = path
    self.durable = durable
    try createDirectories(parentDirectory(path))
    temporary = try BinaryFileWriter(path: path + ".tmp", willSync: durable)
  }

  deinit { abandon() }

  /// Appends bytes.
  public func write(_ raw: UnsafeRawBufferPointer) throws {
    guard raw.count > 0 else { return }
    hash.update(raw)
    bytes += raw.count
    try temporary.write(raw)
  }

  /// Flushes, fsyncs and renames the file into place.
  public func commit() throws -> ArtifactSummary {
    guard !finished else { throw PipeError(.io, "internal error: artifact committed twice", file: path) }
    if durable { try temporary.sync() }
    try temporary.close()
    guard rename(temporary.path, path) == 0 else {
      throw Sys.error(.io, "cannot rename the artifact into place", path: path)
    }
    finished = true
    return ArtifactSummary(path: path, bytes: bytes, checksum: "xxh64:" + hexString(hash.finalize()))
  }

  /// Removes the temporary file (a no-op after `commit`).
  public func abandon() {
    guard !finished else { return }
    finished = true
    try? temporary.close()
    unlink(temporary.path)
  }
}

/// Writes `bytes` as a whole file atomically and describes it.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws -> ArtifactSummary {
  let writer = try AtomicFileWriter(path: path)
  try writer.write(bytes)
  return try writer.commit()
}

/// The xxh64 checksum ("xxh64:…") and size of the file at `path`, read in 1 MiB blocks, and its
/// SHA-256 when asked.
public func checksumFile(_ path: String, sha256: Bool = false) throws -> (bytes: Int, checksum: String, sha256: String?)
{
  let file = try BinaryFile(path: path)
  var hash = XXH64()
  var sha = sha256 ? SHA256() : nil
  var buffer = [UInt8](repeating: 0, count: 1 << 20)
  var offset = 0
  while offset < file.size {
    let take = min(buffer.count, file.size - offset)
    try buffer.withUnsafeMutableBytes { raw in
      let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<take])
      try file.read(into: part, at: offset)
      hash.update(UnsafeRawBufferPointer(part))
      sha?.update(UnsafeRawBufferPointer(part))
    }
    offset += take
  }
  return (file.size, "xxh64:" + hexString(hash.finalize()), sha.map { SHA256.hex($0.finalize()) })
}
