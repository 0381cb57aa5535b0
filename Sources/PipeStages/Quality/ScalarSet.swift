/// A set of Unicode scalars: bitmaps for ASCII and the rest of the Basic Multilingual Plane,
/// sorted ranges beyond it.
///
/// Built once from the generated `WordTables` ranges; membership of a scalar below U+10000 is
/// one shift (the 8 KB bitmap pays for itself on non-English text, where the splitter tests
/// several sets per scalar), of any other a binary search over a few hundred ranges at most.
final class ScalarSet: @unchecked Sendable {
  private let low: UInt64
  private let high: UInt64
  /// Non-ASCII ranges as flat `[first, last, ...]` pairs.
  private let ranges: [UInt32]
  /// A bit per scalar below U+10000 (immutable; freed with the set).
  private let plane: UnsafeMutablePointer<UInt64>

  /// Creates the set from flat `[first, last, first, last, ...]` ranges, in any order (they
  /// are sorted and merged here, so unions can be written as concatenations).
  init(ranges flat: [UInt32]) {
    var low: UInt64 = 0
    var high: UInt64 = 0
    var pairs: [(first: UInt32, last: UInt32)] = []
    var index = 0
    while index + 1 < flat.count {
      let first = flat[index]
      let last = flat[index + 1]
      index += 2
      if first < 128 {
        for value in first...min(last, 127) {
          if value < 64 { low |= 1 << UInt64(value) } else { high |= 1 << UInt64(value - 64) }
        }
      }
      if last >= 128 { pairs.append((max(first, 128), last)) }
    }
    pairs.sort { $0.first < $1.first }
    var merged: [(first: UInt32, last: UInt32)] = []
    for pair in pairs {
      if let previous = merged.last, pair.first <= previous.last &+ 1 {
        merged[merged.count - 1].last = max(previous.last, pair.last)
      } else {
        merged.append(pair)
      }
    }
    self.low = low
    self.high = high
    self.ranges = merged.flatMap { [$0.first, $0.last] }
    plane = ScalarBitmap.make(ranges: merged)
  }

  deinit { plane.deallocate() }

  /// Whether `value` is in the set.
  @inline(__always)
  func contains(_ value: UInt32) -> Bool {
    if value < 64 { return low >> UInt64(value) & 1 != 0 }
    if value < 128 { return high >> UInt64(value - 64) & 1 != 0 }
    return containsNonASCII(value)
  }

  private func containsNonASCII(_ value: UInt32) -> Bool {
    if value < 0x10000 { return ScalarBitmap.test(plane, value) }
    return ranges.withUnsafeBufferPointer { flat in
      var lower = 0
      var upper = flat.count / 2
      while lower < upper {
        let middle = (lower + upper) / 2
        if value < flat[2 * middle] {
          upper = middle
        } else if value > flat[2 * middle + 1] {
          lower = middle + 1
        } else {
          return true
        }
      }
      return false
    }
  }
}

/// Bitmaps with a bit per scalar below U+10000 (8 KB each).
enum ScalarBitmap {
  /// A bitmap holding `member`'s answer for every scalar below U+10000.
  static func make(_ member: (UInt32) -> Bool) -> UnsafeMutablePointer<UInt64> {
    let words = empty()
    for value in 0..<UInt32(0x10000) where member(value) {
      words[Int(value >> 6)] |= 1 << UInt64(value & 63)
    }
    return words
  }

  /// A bitmap of the scalars below U+10000 in `ranges`.
  static func make(ranges: [(first: UInt32, last: UInt32)]) -> UnsafeMutablePointer<UInt64> {
    let words = empty()
    for range in ranges where range.first < 0x10000 {
      for value in range.first...min(range.last, 0xFFFF) { words[Int(value >> 6)] |= 1 << UInt64(value & 63) }
    }
    return words
  }

  private static func empty() -> UnsafeMutablePointer<UInt64> {
    let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 0x10000 / 64)
    words.initialize(repeating: 0, count: 0x10000 / 64)
    return words
  }

  /// Bit `value` (below U+10000) of `bitmap`.
  @inline(__always)
  static func test(_ bitmap: UnsafeMutablePointer<UInt64>, _ value: UInt32) -> Bool {
    bitmap[Int(value >> 6)] >> UInt64(value & 63) & 1 != 0
  }

  /// A bitmap that lives as long as the process (for static tables).
  final class Shared: @unchecked Sendable {
    let bits: UnsafeMutablePointer<UInt64>
    init(_ bits: UnsafeMutablePointer<UInt64>) { self.bits = bits }
  }
}

/// Scalar properties with Python's definitions, which datatrove's filters rely on.
enum PythonText {
  /// Python's `str.isspace()`: Unicode `White_Space` plus the ASCII separators U+001C-001F.
  @inline(__always)
  static func isSpace(_ value: UInt32) -> Bool {
    if value < 0x80 { return (0x09...0x0D).contains(value) || (0x1C...0x20).contains(value) }
    switch value {
    case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
  }

  /// Python's `str.isalpha()` for one scalar: general category L (Lu, Ll, Lt, Lm, Lo).
  @inline(__always)
  static func isAlpha(_ value: UInt32) -> Bool {
    if value < 0x80 { return (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) }
    if value < 0x10000 { return ScalarBitmap.test(alphaPlane.bits, value) }
    return isLetterCategory(value)
  }

  /// The letters below U+10000, looked up once: the general category lookup costs a search
  /// of the runtime's Unicode tables per call.
  private static let alphaPlane = ScalarBitmap.Shared(ScalarBitmap.make(isLetterCategory))

  private static func isLetterCategory(_ value: UInt32) -> Bool {
    guard let scalar = Unicode.Scalar(value) else { return false }
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
    default: return false
    }
  }

  /// Whether the scalar's general category is punctuation (P*), spaCy's `is_punct` test.
  @inline(__always)
  static func isPunctuation(_ value: UInt32) -> Bool {
    guard let scalar = Unicode.Scalar(value) else { return false }
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
      .finalPunctuation, .otherPunctuation:
      return true
    default:
      return false
    }
  }

  /// Python's `\d` in a `str` pattern: a decimal digit of any script (category Nd).
  @inline(__always)
  static func isDecimalDigit(_ value: UInt32) -> Bool {
    if value < 0x80 { return (0x30...0x39).contains(value) }
    guard let scalar = Unicode.Scalar(value) else { return false }
    return scalar.properties.generalCategory == .decimalNumber
  }
}

/// A fast 64-bit hash of byte ranges, for hash tables that live for one record (never stored,
/// never compared across runs, so it need not be stable across versions). Eight bytes at a
/// time, with multiply-xorshift mixing.
enum FastHash {
  private static let k0: UInt64 = 0x9E37_79B9_7F4A_7C15
  private static let k1: UInt64 = 0xBF58_476D_1CE4_E5B9
  private static let k2: UInt64 = 0x94D0_49BB_1331_11EB

  /// The hash of `count` bytes at `start`.
  @inline(__always)
  static func hash(_ start: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var hash = k0 ^ (UInt64(truncatingIfNeeded: count) &* k1)
    var offset = 0
    while offset &+ 8 <= count {
      var word: UInt64 = 0
      withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(start: start + offset, count: 8)) }
      hash = (hash ^ word) &* k1
      hash ^= hash >> 31
      offset &+= 8
    }
    if offset < count {
      var tail: UInt64 = 0
      var shift: UInt64 = 0
      while offset < count {
        tail |= UInt64(start[offset]) << shift
        shift &+= 8
        offset &+= 1
      }
      hash = (hash ^ tail) &* k2
      hash ^= hash >> 29
    }
    hash = (hash ^ (hash >> 32)) &* k2
    return hash ^ (hash >> 29)
  }
}
