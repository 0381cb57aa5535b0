import Foundation
internal import PipeCore

/// Collects a task's per-record provenance (origins and verdicts) in bounded memory until the
/// task completes and `Manifest.markTaskDone` copies it into the manifest.
///
/// Rows are kept as compact bytes; past `memoryLimit` bytes they are written to a temporary
/// file in blocks and read back one block at a time, so a task over a shard of any size holds
/// at most about `memoryLimit` bytes of provenance. The file is deleted when the spool goes away.
public final class ProvenanceSpool: @unchecked Sendable {
  private let spillPath: String
  private let memoryLimit: Int
  private var originBytes: [UInt8] = []
  private var verdictBytes: [UInt8] = []
  private var spill: FileHandle?
  /// Where each spilled block starts: (is it origins, offset, length).
  private var blocks: [(origins: Bool, offset: UInt64, length: Int)] = []
  private var spilledBytes: UInt64 = 0
  private var strings: [String] = []
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
    verdictBytes.append(Self.code(of: kind))
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

  // MARK: Reading back (for the manifest)

  func forEachOrigin(_ body: (RecordOrigin) throws -> Void) throws {
    try forEachBlock(origins: true) { bytes in
      var offset = 0
      while offset < bytes.count {
        let line = Int(readUInt64(bytes, &offset))
        let source = strings[Int(readUInt32(bytes, &offset))]
        let id = readString(bytes, &offset)
        try body(RecordOrigin(recordID: id, sourcePath: source, line: line))
      }
    }
  }

  func forEachVerdict(_ body: (RecordVerdict) throws -> Void) throws {
    try forEachBlock(origins: false) { bytes in
      var offset = 0
      while offset < bytes.count {
        let kind = Self.kind(of: bytes[offset])
        offset += 1
        let id = readString(bytes, &offset)
        let reasonIndex = readUInt32(bytes, &offset)
        let hasDetail = bytes[offset] == 1
        offset += 1
        let detail = hasDetail ? readString(bytes, &offset) : nil
        try body(
          RecordVerdict(
            recordID: id, kind: kind, reason: reasonIndex == UInt32.max ? nil : strings[Int(reasonIndex)],
            detail: detail))
      }
    }
  }

  private func forEachBlock(origins: Bool, _ body: ([UInt8]) throws -> Void) throws {
    if let spill {
      for block in blocks where block.origins == origins {
        try spill.seek(toOffset: block.offset)
        guard let data = try spill.read(upToCount: block.length), data.count == block.length else {
          throw PipeError(.io, "the provenance spill file is shorter than written", file: spillPath)
        }
        try body([UInt8](data))
      }
    }
    try body(origins ? originBytes : verdictBytes)
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

  private func readUInt64(_ bytes: [UInt8], _ offset: inout Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * index) }
    offset += 8
    return value
  }

  private func readUInt32(_ bytes: [UInt8], _ offset: inout Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<4 { value |= UInt32(bytes[offset + index]) << (8 * index) }
    offset += 4
    return value
  }

  private func readString(_ bytes: [UInt8], _ offset: inout Int) -> String {
    let length = Int(readUInt32(bytes, &offset))
    let text = String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    offset += length
    return text
  }

  private static func code(of kind: VerdictKind) -> UInt8 {
    switch kind {
    case .kept: return 0
    case .modified: return 1
    case .dropped: return 2
    case .emitted: return 3
    }
  }

  private static func kind(of code: UInt8) -> VerdictKind {
    switch code {
    case 1: return .modified
    case 2: return .dropped
    case 3: return .emitted
    default: return .kept
    }
  }
}
