/// The English tokenizer exceptions (`WordTables.exceptions`) as a hash table over UTF-8 bytes.
///
/// An exception is a string the splitter treats as a unit: kept whole (`Dr.`, `e.g.`, `:)`) or
/// split at fixed places (`don't` → `do` `n't`, `10am` → `10` `am`, `cannot` → `can` `not`).
final class ExceptionTable: Sendable {
  /// One exception.
  struct Entry: Sendable {
    /// Where its bytes are in `bytes`.
    var start: Int
    var length: Int
    /// Where its pieces' byte lengths are in `pieceLengths`.
    var firstPiece: Int
    var pieceCount: Int
    /// Whether it is also recognized when the splitter's own rules cut it into several tokens
    /// (spaCy's second pass: `Mr.Smith` → `Mr.` `Smith`).
    var matchesAcrossTokens: Bool
  }

  private let bytes: [UInt8]
  private let entries: [Entry]
  private let pieceLengths: [Int]
  private let slots: [Int32]
  private let mask: Int
  /// The longest exception, in bytes.
  let maxLength: Int
  /// The longest exception that `matchesAcrossTokens`, in bytes.
  let maxMatchedLength: Int
  /// Which bytes start an exception (a 256-bit set).
  private let firstBytes: (UInt64, UInt64, UInt64, UInt64)
  /// A bit per (length, first byte, last byte) hash that some exception has: most lookups
  /// end here.
  private let shapes: [UInt64]

  /// Parses the generated list: one exception a line, a flag (`m` or `-`), then its pieces
  /// separated by spaces.
  init(list: String) {
    var bytes: [UInt8] = []
    var entries: [Entry] = []
    var pieceLengths: [Int] = []
    var firstBytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var maxLength = 0
    var maxMatchedLength = 0
    for line in list.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count >= 2 else { continue }
      let start = bytes.count
      let firstPiece = pieceLengths.count
      for piece in fields.dropFirst() {
        bytes.append(contentsOf: piece.utf8)
        pieceLengths.append(piece.utf8.count)
      }
      let length = bytes.count - start
      let matches = fields[0] == "m"
      entries.append(
        Entry(
          start: start, length: length, firstPiece: firstPiece, pieceCount: fields.count - 1,
          matchesAcrossTokens: matches))
      maxLength = max(maxLength, length)
      if matches { maxMatchedLength = max(maxMatchedLength, length) }
      let first = bytes[start]
      switch first >> 6 {
      case 0: firstBytes.0 |= 1 << UInt64(first & 63)
      case 1: firstBytes.1 |= 1 << UInt64(first & 63)
      case 2: firstBytes.2 |= 1 << UInt64(first & 63)
      default: firstBytes.3 |= 1 << UInt64(first & 63)
      }
    }
    var capacity = 16
    while capacity < entries.count * 4 { capacity *= 2 }
    var slots = [Int32](repeating: -1, count: capacity)
    var shapes = [UInt64](repeating: 0, count: Self.shapeBits / 64)
    bytes.withUnsafeBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      for (index, entry) in entries.enumerated() {
        let shape = Self.shape(base + entry.start, entry.length)
        shapes[shape >> 6] |= 1 << UInt64(shape & 63)
        var slot = Int(truncatingIfNeeded: FastHash.hash(base + entry.start, entry.length)) & (capacity - 1)
        while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
        slots[slot] = Int32(index)
      }
    }
    self.bytes = bytes
    self.entries = entries
    self.pieceLengths = pieceLengths
    self.slots = slots
    self.mask = capacity - 1
    self.maxLength = maxLength
    self.maxMatchedLength = maxMatchedLength
    self.firstBytes = firstBytes
    self.shapes = shapes
  }

  private static let shapeBits = 1 << 16

  @inline(__always)
  private static func shape(_ start: UnsafePointer<UInt8>, _ count: Int) -> Int {
    let ends = UInt32(start[0]) << 8 | UInt32(start[count - 1])
    let mixed = ((UInt32(truncatingIfNeeded: count) &* 0x9E37_79B1) ^ ends) &* 0x85EB_CA6B
    return Int(mixed >> 16) & (shapeBits - 1)
  }

  /// Whether some exception starts with `byte`.
  @inline(__always)
  func mayStart(with byte: UInt8) -> Bool {
    let word: UInt64
    switch byte >> 6 {
    case 0: word = firstBytes.0
    case 1: word = firstBytes.1
    case 2: word = firstBytes.2
    default: word = firstBytes.3
    }
    return word >> UInt64(byte & 63) & 1 != 0
  }

  /// The exception spelled by the `count` bytes at `start`, if any.
  @inline(__always)
  func lookup(_ start: UnsafePointer<UInt8>, _ count: Int) -> Entry? {
    guard count > 0, count <= maxLength else { return nil }
    let shape = Self.shape(start, count)
    let hit = shapes.withUnsafeBufferPointer { $0[shape >> 6] >> UInt64(shape & 63) & 1 != 0 }
    return hit ? find(start, count) : nil
  }

  private func find(_ start: UnsafePointer<UInt8>, _ count: Int) -> Entry? {
    var slot = Int(truncatingIfNeeded: FastHash.hash(start, count)) & mask
    return bytes.withUnsafeBufferPointer { table -> Entry? in
      guard let base = table.baseAddress else { return nil }
      while true {
        let index = Int(slots[slot])
        if index < 0 { return nil }
        let entry = entries[index]
        if entry.length == count, QualityText.bytesEqual(base + entry.start, start, count) { return entry }
        slot = (slot + 1) & mask
      }
    }
  }

  /// The byte length of piece `index` of `entry`.
  @inline(__always)
  func pieceLength(_ entry: Entry, _ index: Int) -> Int { pieceLengths[entry.firstPiece + index] }
}
