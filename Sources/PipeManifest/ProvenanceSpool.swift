import Foundation
internal import PipeCore

/// Collects a task's per-record provenance (origins and verdicts) in bounded memory until the
/// task completes and `Manifest.markTaskDone` copies it into the manifest.
///
/// Rows are kept as compact bytes; past `memoryLimit` bytes they are written to a temporary
/// file in blocks and read back one block at a time, so a task over a shard of any size holds
/// at most about `memoryLimit` bytes of provenance. The file is deleted when the spool goes away.
public final class ProvenanceSpool: ProvenanceSource, @unchecked Sendable {
  private let spillPath: String
  private let memoryLimit: Int
  private var originBytes: [UInt8] = []
  private var verdictBytes: [UInt8] = []
  private var spill: FileHandle?
  /// Where each spilled block starts: (is it origins, offset, length).
  private var blocks: [(origins: Bool, offset: UInt64, length: Int)] = []
  private var spilledBytes: UInt64 = 0
  /// The interned strings (source paths, reasons), by index.
  public private(set) var strings: [String] = []
  private var stringIndex: [String: UInt32] = [:]

  /// Origins added so far.
  public private(set) var originCount = 0
  /// Verdicts added so far.
  public private(set) var verdictCount = 0

  /// Creates a spool that spills to `spillPath` (created only when needed) past `memoryLimit`.
  public init(spillPath: String, memoryLimit: Int = 4 << 20) {
    self.spillPath = spillPath
    self.memoryLimit = memoryLimit
  }

  deinit {
    discard()
  }

  /// Records where a record entered the pipeline.
  public func addOrigin(recordID: String, sourcePath: String, line: Int) throws {
    append(UInt64(line), to: &originBytes)
    append(intern(sourcePath), to: &originBytes)
    append(recordID, to: &originBytes)
    originCount += 1
    if originBytes.count >= memoryLimit { try spillBlock(origins: true) }
  }

  /// Records a stage's verdict on a record (the stage and shard are the task's).
  public func addVerdict(recordID: String, kind: VerdictKind, reason: String?, detail: String?) throws {
    verdictBytes.append(ProvenanceCoding.code(of: kind))
    append(recordID, to: &verdictBytes)
    append(reason.map { intern($0) } ?? UInt32.max, to: &verdictBytes)
    if let detail {
      verdictBytes.append(1)
      append(detail, to: &verdictBytes)
    } else {
      verdictBytes.append(0)
    }
    verdictCount += 1
    if verdictBytes.count >= memoryLimit { try spillBlock(origins: false) }
  }

  /// Deletes the spill file; the spool is empty afterwards.
  public func discard() {
    try? spill?.close()
    if spill != nil { unlink(spillPath) }
    spill = nil
    blocks.removeAll()
    originBytes.removeAll()
    verdictBytes.removeAll()
    originCount = 0
    verdictCount = 0
  }

  // MARK: Reading back (for the manifest and ledgers)

  /// Calls `body` with each block of origins or verdicts: the spilled ones, then the one in
  /// memory. The bytes were all written by this spool, so readers trust their lengths.
  public func forEachBlock(origins: Bool, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    if let spill {
      for block in blocks where block.origins == origins {
        try spill.seek(toOffset: block.offset)
        guard let data = try spill.read(upToCount: block.length), data.count == block.length else {
          throw PipeError(.io, "the provenance spill file is shorter than written", file: spillPath)
        }
        try data.withUnsafeBytes { try body($0) }
      }
    }
    try (origins ? originBytes : verdictBytes).withUnsafeBytes { try body($0) }
  }

  // MARK: Encoding

  private func spillBlock(origins: Bool) throws {
    if spill == nil {
      guard FileManager.default.createFile(atPath: spillPath, contents: nil),
        let handle = FileHandle(forUpdatingAtPath: spillPath)
      else {
        throw PipeError(.io, "cannot create the provenance spill file", file: spillPath)
      }
      spill = handle
    }
    let bytes = origins ? originBytes : verdictBytes
    do {
      try spill?.seekToEnd()
      try spill?.write(contentsOf: bytes)
    } catch {
      throw PipeError(.io, "cannot write the provenance spill file: \(error)", file: spillPath)
    }
    blocks.append((origins, spilledBytes, bytes.count))
    spilledBytes += UInt64(bytes.count)
    if origins { originBytes.removeAll(keepingCapacity: true) } else { verdictBytes.removeAll(keepingCapacity: true) }
  }

  private func intern(_ string: String) -> UInt32 {
    if let index = stringIndex[string] { return index }
    let index = UInt32(strings.count)
    strings.append(string)
    stringIndex[string] = index
    return index
  }

  private func append(_ value: UInt64, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  private func append(_ value: UInt32, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  private func append(_ string: String, to bytes: inout [UInt8]) {
    var string = string
    string.withUTF8 { utf8 in
      append(UInt32(utf8.count), to: &bytes)
      bytes.append(contentsOf: utf8)
    }
  }
}

/// Origins and verdicts of one task as stored: blocks of compact rows (the encoding of
/// `ProvenanceSpool`), with the strings the rows refer to by index.
public protocol ProvenanceSource: AnyObject, Sendable {
  /// Origins stored.
  var originCount: Int { get }
  /// Verdicts stored.
  var verdictCount: Int { get }
  /// The interned strings (source paths, reasons), by index.
  var strings: [String] { get }
  /// Calls `body` with each block of origin rows (`origins`) or verdict rows, in order.
  func forEachBlock(origins: Bool, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// An origin as stored: the record id's UTF-8 bytes stay in the block (valid only during the
/// callback) and the source path is an index into `strings`, so copying a row into SQLite
/// makes no `String` and hashes no path.
struct RawOrigin {
  let line: Int
  let sourceIndex: Int
  let recordID: UnsafeRawBufferPointer
}

/// A verdict as stored; see `RawOrigin`. `reasonIndex` is into `strings`.
struct RawVerdict {
  let kind: VerdictKind
  let recordID: UnsafeRawBufferPointer
  let reasonIndex: Int?
  let detail: UnsafeRawBufferPointer?
}

extension ProvenanceSource {
  /// Each origin row, in order.
  func forEachOrigin(_ body: (RawOrigin) throws -> Void) throws {
    try forEachBlock(origins: true) { bytes in
      var offset = 0
      while offset < bytes.count {
        let line = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
        let source = Int(bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self).littleEndian)
        offset += 12
        let id = ProvenanceCoding.readString(bytes, &offset)
        try body(RawOrigin(line: line, sourceIndex: source, recordID: id))
      }
    }
  }

  /// Each verdict row, in order.
  func forEachVerdict(_ body: (RawVerdict) throws -> Void) throws {
    try forEachBlock(origins: false) { bytes in
      var offset = 0
      while offset < bytes.count {
        let kind = ProvenanceCoding.kind(of: bytes[offset])
        offset += 1
        let id = ProvenanceCoding.readString(bytes, &offset)
        let reasonIndex = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
        let hasDetail = bytes[offset + 4] == 1
        offset += 5
        let detail = hasDetail ? ProvenanceCoding.readString(bytes, &offset) : nil
        try body(
          RawVerdict(
            kind: kind, recordID: id, reasonIndex: reasonIndex == UInt32.max ? nil : Int(reasonIndex), detail: detail))
      }
    }
  }
}

/// The row encoding shared by the spool and ledgers.
enum ProvenanceCoding {
  /// A string written as UInt32 length, then the UTF-8 bytes.
  static func readString(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> UnsafeRawBufferPointer {
    let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
    let text = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + length)])
    offset += 4 + length
    return text
  }

  static func code(of kind: VerdictKind) -> UInt8 {
    switch kind {
    case .kept: return 0
    case .modified: return 1
    case .dropped: return 2
    case .emitted: return 3
    }
  }

  static func kind(of code: UInt8) -> VerdictKind {
    switch code {
    case 1: return .modified
    case 2: return .dropped
    case 3: return .emitted
    default: return .kept
    }
  }
}
