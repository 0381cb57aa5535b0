/// Helpers for the little-endian binary artifacts steps write: fixed-width integers and
/// length-prefixed strings (UInt32 length, then UTF-8 bytes).
public enum Binary {
  /// Appends a fixed-width integer, little-endian.
  @inline(__always)
  public static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
  }

  /// Appends a string: its UTF-8 length as UInt32, then its bytes.
  public static func append(_ string: String, to out: inout [UInt8]) {
    var string = string
    string.withUTF8 { utf8 in
      append(UInt32(utf8.count), to: &out)
      out.append(contentsOf: utf8)
    }
  }

  /// A little-endian integer at `offset` of `bytes`, or nil when it does not fit; advances `offset`.
  public static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], _ offset: inout Int) -> T? {
    let size = MemoryLayout<T>.size
    guard offset >= 0, offset + size <= bytes.count else { return nil }
    let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    offset += size
    return value
  }

  /// A string written by `append(_:to:)`, or nil when it does not fit; advances `offset`.
  public static func readString(_ bytes: [UInt8], _ offset: inout Int) -> String? {
    var at = offset
    guard let length = read(UInt32.self, bytes, &at), at + Int(length) <= bytes.count else { return nil }
    let text = String(decoding: bytes[at..<(at + Int(length))], as: UTF8.self)
    offset = at + Int(length)
    return text
  }
}

extension Array where Element == UInt8 {
  /// A little-endian integer at a byte offset (the caller checked the bounds).
  @inline(__always)
  public func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
    withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
  }
}

/// Sequential reads of a byte range of an artifact through a buffer of at most 1 MiB.
public final class ArtifactCursor {
  private let input: any ArtifactInput
  private var buffer: [UInt8]
  private var start = 0
  private var count = 0
  private var position: Int
  private let end: Int

  /// Reads the whole artifact.
  public convenience init(_ input: any ArtifactInput) {
    self.init(input, offset: 0, count: input.size)
  }

  /// Reads `count` bytes from `offset`.
  public init(_ input: any ArtifactInput, offset: Int, count: Int) {
    self.input = input
    position = offset
    end = offset + count
    buffer = [UInt8](repeating: 0, count: min(1 << 20, max(16, count)))
  }

  /// Whether every byte of the range was read.
  public var atEnd: Bool { start == count && position == end }

  private func ensure(_ bytes: Int) throws {
    if count - start >= bytes { return }
    // Move what is left to the front and refill.
    let left = count - start
    if left > 0 { buffer.replaceSubrange(0..<left, with: buffer[start..<count]) }
    if buffer.count < bytes { buffer += [UInt8](repeating: 0, count: bytes - buffer.count) }
    let take = min(buffer.count - left, end - position)
    guard left + take >= bytes else {
      throw PipeError(.corruptInput, "artifact is truncated or corrupt; rerun the stage with --force", file: input.name)
    }
    try buffer.withUnsafeMutableBytes {
      try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[left..<(left + take)]), at: position)
    }
    position += take
    start = 0
    count = left + take
  }

  /// The next UInt64.
  public func uint64() throws -> UInt64 {
    try ensure(8)
    defer { start += 8 }
    return buffer.loadLE(UInt64.self, at: start)
  }

  /// The next UInt32.
  public func uint32() throws -> UInt32 {
    try ensure(4)
    defer { start += 4 }
    return buffer.loadLE(UInt32.self, at: start)
  }

  /// The next string written by `Binary.append(_:to:)`.
  public func string() throws -> String {
    let length = Int(try uint32())
    try ensure(length)
    defer { start += length }
    return String(decoding: buffer[start..<(start + length)], as: UTF8.self)
  }
}
