import Glibc
import PipeCore

/// One line of a shard, valid only until the next call to `ShardReader.next()`.
///
/// `bytes` points into the reader's buffer, so reading a line costs no copy; copy it (e.g.
/// `Array(line.bytes)`) to keep it longer.
public struct ShardLine {
  /// The 1-based line number in the (uncompressed) file.
  public let number: Int
  /// The line without its trailing "\n"; a trailing "\r" is also removed. For a line longer
  /// than the reader's `maxLineBytes`, only its first `maxLineBytes` bytes.
  public let bytes: UnsafeBufferPointer<UInt8>
  /// The line's real length (without "\n" and a trailing "\r"), even when `bytes` is cut short.
  public let fullLength: Int
  /// True when the line was longer than `maxLineBytes` and `bytes` holds only its start.
  public var isTruncated: Bool { fullLength > bytes.count }
}

/// A source of uncompressed bytes; one implementation per file format.
protocol ByteSource: AnyObject {
  /// Fills the start of `buffer` with the next bytes; returns how many (0 only at end of data).
  func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int
  /// Bytes of the underlying file consumed so far.
  var fileBytesRead: Int { get }
}

/// Reads a file with read(2), retrying EINTR; owns and closes the descriptor.
final class FileInput {
  let path: String
  private(set) var fd: Int32
  private(set) var bytesRead = 0

  init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw Sys.error(.input, "cannot open input file", path: path)
    }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
      close(fd)
      throw PipeError(.input, "cannot read input file: it is a directory", file: path)
    }
    // Sequential hint: lets the kernel read ahead aggressively. Advisory, so the result is ignored.
    _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    self.fd = fd
  }

  /// Reads up to `buffer.count` bytes; 0 at end of file.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    let n = try Sys.retrying(.io, "cannot read input file", path: path) { Glibc.read(fd, base, buffer.count) }
    bytesRead += n
    return n
  }

  deinit {
    if fd >= 0 { close(fd) }
  }
}

/// Plain files: read(2) straight into the line buffer, no copy.
final class PlainSource: ByteSource {
  private let file: FileInput
  init(file: FileInput) { self.file = file }
  func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int { try file.read(into: buffer) }
  var fileBytesRead: Int { file.bytesRead }
}

/// `.zst` files: compressed chunks are decoded straight into the line buffer.
final class ZstdSource: ByteSource {
  private let file: FileInput
  private var decoder: ZstdDecoder
  private let input: UnsafeMutableRawBufferPointer
  private var inputStart = 0
  private var inputEnd = 0
  private var atEndOfFile = false

  init(file: FileInput, chunkSize: Int) throws {
    self.file = file
    decoder = try ZstdDecoder(path: file.path)
    input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
  }

  deinit {
    input.deallocate()
  }

  var fileBytesRead: Int { file.bytesRead }

  func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    while true {
      if inputStart == inputEnd && !atEndOfFile {
        inputStart = 0
        inputEnd = try file.read(into: input)
        if inputEnd == 0 { atEndOfFile = true }
      }
      let pending = UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd])
      if pending.isEmpty {
        // End of file: let the decoder flush what it holds, then insist the last frame ended
        // (libzstd reports a cut-off frame only as "more input wanted", never as an error).
        if decoder.isAtFrameBoundary { return 0 }
        let (_, produced) = try decoder.decode(pending, into: buffer)
        if produced > 0 { return produced }
        if decoder.isAtFrameBoundary { return 0 }
        try decoder.finish()
        return 0
      }
      let (consumed, produced) = try decoder.decode(pending, into: buffer)
      inputStart += consumed
      if produced > 0 { return produced }
    }
  }
}

/// Streams the lines of a plain or `.zst` JSONL shard in bounded memory.
///
/// The file is read in 256 KiB chunks and decoded into one buffer; lines are found with memchr
/// and handed out as pointers into that buffer (no per-line copy). The buffer grows to hold the
/// longest line up to `maxLineBytes`; a longer line is never held whole: its first
/// `maxLineBytes` bytes are delivered with `fullLength` set and the rest is skipped, so the
/// caller can reject it. Errors name the path; corrupt or truncated zstd data throws when it is
/// reached, after the lines before it were delivered.
public final class ShardReader {
  /// The file being read.
  public let path: String
  /// The longest prefix of a line that is kept; longer lines come back truncated.
  public let maxLineBytes: Int

  private let source: any ByteSource
  /// How much free space a fill asks for at least (also the file read size).
  private let chunkSize: Int

  private var buffer: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  /// Unconsumed bytes are `buffer[start..<end]`; `buffer[start..<scan]` is known to hold no "\n".
  private var start = 0
  private var end = 0
  private var scan = 0
  private var atEnd = false
  private var lineNumber = 0
  private var delivered = 0
  private var failure: PipeError?

  /// Opens `path`: zstd if it ends in ".zst", plain otherwise.
  /// - Parameter maxLineBytes: lines longer than this are delivered truncated (see `ShardLine`).
  /// - Throws: `PipeError(.input)` naming the path if it is missing or unreadable.
  public convenience init(path: String, maxLineBytes: Int = 256 << 20, columns: ParquetColumns = ParquetColumns())
    throws
  {
    // 256 KiB: 1 MiB read no faster, and held 4 MB more per open shard (the buffer is four
    // chunks), which was most of what a fused chain added to a run's peak memory.
    try self.init(path: path, maxLineBytes: maxLineBytes, readChunkBytes: 256 << 10, columns: columns)
  }

  /// Like `init(path:maxLineBytes:)` with an explicit read size (the default is 256 KiB).
  ///
  /// Exists for tuning and for tests, which use tiny chunks to put every chunk boundary
  /// inside lines, "\r\n" pairs and over-long lines cheaply.
  /// - Parameter readChunkBytes: bytes per read(2) call and minimum free buffer space (at least 16).
  /// - Parameter columns: for a Parquet file, which columns are the text and the id.
  public init(path: String, maxLineBytes: Int, readChunkBytes: Int, columns: ParquetColumns = ParquetColumns())
    throws
  {
    self.path = path
    self.maxLineBytes = max(1, maxLineBytes)
    self.chunkSize = max(16, readChunkBytes)
    let file = try FileInput(path: path)
    // The format is told by the first bytes, not the name: a Parquet file is read as Parquet
    // whatever it is called, and a file in a format pipe does not read fails with its name
    // instead of yielding one rejected "record" per line of binary.
    switch path.hasSuffix(".parquet") ? .parquet : FileFormat.sniff(file) {
    case .parquet:
      source = try ParquetSource(path: path, columns: columns)
    case .zstd:
      source = try ZstdSource(file: file, chunkSize: self.chunkSize)
    case .text:
      if path.hasSuffix(".zst") {
        // Not zstd data: the decoder says so, as before.
        source = try ZstdSource(file: file, chunkSize: self.chunkSize)
      } else {
        source = PlainSource(file: file)
      }
    case .other(let description):
      throw PipeError(
        .input,
        "the file holds \(description), which pipe does not read: inputs are JSON lines (.jsonl), zstd JSON "
          + "lines (.jsonl.zst) or Parquet (.parquet)",
        file: path)
    }
    capacity = 4 * self.chunkSize
    buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
  }

  deinit {
    buffer.deallocate()
  }

  /// Bytes of the file consumed so far (compressed bytes for `.zst`), for progress reporting.
  public var compressedBytesRead: Int { source.fileBytesRead }

  /// Uncompressed bytes delivered so far, line terminators included.
  public var bytesRead: Int { delivered }

  /// Current size of the line buffer: the reader's memory, bounded by the longest line kept
  /// (at most about `maxLineBytes` plus two read chunks).
  public var bufferCapacity: Int { capacity }

  /// The next line, or nil at the end of the file.
  /// - Throws: `PipeError(.io)` when reading fails, `PipeError(.corruptInput)` for corrupt or
  ///   truncated zstd data; both name the path. Further calls throw the same error again.
  public func next() throws -> ShardLine? {
    if let failure { throw failure }
    do {
      return try nextLine()
    } catch let error as PipeError {
      failure = error
      throw error
    }
  }

  private func nextLine() throws -> ShardLine? {
    while true {
      if scan < end, let hit = memchr(buffer + scan, 0x0A, end - scan) {
        let newline = hit.assumingMemoryBound(to: UInt8.self) - buffer
        let lineStart = start
        start = newline + 1
        scan = start
        delivered += newline + 1 - lineStart
        return makeLine(from: lineStart, length: newline - lineStart)
      }
      scan = end
      if atEnd {
        guard start < end else { return nil }
        // A last line without "\n" is still a line.
        let lineStart = start
        delivered += end - start
        start = end
        return makeLine(from: lineStart, length: end - lineStart)
      }
      if end - start > maxLineBytes {
        return try skipLongLine()
      }
      try makeRoom()
      let n = try source.fill(UnsafeMutableRawBufferPointer(start: buffer + end, count: capacity - end))
      if n == 0 { atEnd = true } else { end += n }
    }
  }

  /// A line starting at `lineStart` with `length` bytes (without "\n").
  @inline(__always)
  private func makeLine(from lineStart: Int, length rawLength: Int) -> ShardLine {
    var length = rawLength
    if length > 0 && buffer[lineStart + length - 1] == 0x0D { length -= 1 }
    lineNumber += 1
    let kept = min(length, maxLineBytes)
    return ShardLine(
      number: lineNumber, bytes: UnsafeBufferPointer(start: buffer + lineStart, count: kept), fullLength: length)
  }

  /// Ensures at least `chunkSize` free bytes after `end`: first by moving the unconsumed tail to
  /// the front, then by growing (only while a single line does not fit).
  private func makeRoom() throws {
    if capacity - end >= chunkSize { return }
    if start > 0 {
      let pending = end - start
      if pending > 0 { memmove(buffer, buffer + start, pending) }
      scan -= start
      end = pending
      start = 0
      if capacity - end >= chunkSize { return }
    }
    // The line in progress is at most maxLineBytes here, so this never exceeds
    // maxLineBytes + 1 + chunkSize.
    let needed = end + chunkSize
    var newCapacity = max(capacity * 2, needed)
    newCapacity = min(newCapacity, max(needed, maxLineBytes + 1 + chunkSize))
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    grown.update(from: buffer, count: end)
    buffer.deallocate()
    buffer = grown
    capacity = newCapacity
  }

  /// Handles a line known to exceed `maxLineBytes`: keeps its first `maxLineBytes` bytes at the
  /// front of the buffer and discards the rest while counting it, chunk by chunk.
  private func skipLongLine() throws -> ShardLine {
    let pending = end - start
    // The byte before the eventual "\n" decides whether a "\r" is excluded from fullLength.
    var lastByte = buffer[end - 1]
    if start > 0 { memmove(buffer, buffer + start, maxLineBytes) }
    var skipped = pending - maxLineBytes
    start = 0
    end = maxLineBytes
    if capacity - end < chunkSize {
      let newCapacity = end + chunkSize
      let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
      grown.update(from: buffer, count: end)
      buffer.deallocate()
      buffer = grown
      capacity = newCapacity
    }
    let tail = buffer + maxLineBytes
    let room = capacity - maxLineBytes
    while true {
      let n = try source.fill(UnsafeMutableRawBufferPointer(start: tail, count: room))
      if n == 0 {
        atEnd = true
        start = maxLineBytes
        scan = start
        delivered += maxLineBytes + skipped
        return makeLongLine(skipped: skipped, lastByte: lastByte)
      }
      if let hit = memchr(tail, 0x0A, n) {
        let offset = hit.assumingMemoryBound(to: UInt8.self) - tail
        if offset > 0 { lastByte = tail[offset - 1] }
        skipped += offset
        delivered += maxLineBytes + skipped + 1
        start = maxLineBytes + offset + 1
        end = maxLineBytes + n
        scan = start
        return makeLongLine(skipped: skipped, lastByte: lastByte)
      }
      skipped += n
      lastByte = tail[n - 1]
    }
  }

  private func makeLongLine(skipped: Int, lastByte: UInt8) -> ShardLine {
    lineNumber += 1
    let length = maxLineBytes + skipped - (lastByte == 0x0D ? 1 : 0)
    return ShardLine(
      number: lineNumber, bytes: UnsafeBufferPointer(start: buffer, count: min(maxLineBytes, length)),
      fullLength: length)
  }
}
