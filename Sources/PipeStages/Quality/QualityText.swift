import Glibc

// Text measures with the exact semantics of datatrove's Python filters, on UTF-8 bytes:
// lengths are Python `len` (code points), whitespace is `str.isspace`, lines are
// `str.splitlines` or `str.split("\n")` as the filter being matched uses them.

/// Byte-range helpers for the quality filters.
enum QualityText {
  /// The number of code points in `start..<end` (Python's `len`): the bytes that are not UTF-8
  /// continuation bytes, counted eight at a time.
  @inline(__always)
  static func length(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
    guard let base = text.baseAddress, start < end else { return 0 }
    let raw = UnsafeRawPointer(base)
    var continuation = 0
    var index = start
    while index &+ 8 <= end {
      let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
      // A continuation byte is 10xxxxxx: high bit set, next bit clear.
      let marks = word & ~(word << 1) & 0x8080_8080_8080_8080
      continuation &+= marks.nonzeroBitCount
      index &+= 8
    }
    while index < end {
      if base[index] & 0xC0 == 0x80 { continuation &+= 1 }
      index &+= 1
    }
    return end &- start &- continuation
  }

  /// `start..<end` without leading and trailing whitespace (Python's `str.strip()`).
  static func strip(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (start: Int, end: Int) {
    var low = start
    while low < end {
      let (value, length) = UTF8Scanning.decode(text, at: low)
      if !PythonText.isSpace(value) { break }
      low += length
    }
    var high = end
    while high > low {
      var first = high - 1
      while first > low && text[first] & 0xC0 == 0x80 { first -= 1 }
      let (value, _) = UTF8Scanning.decode(text, at: first)
      if !PythonText.isSpace(value) { break }
      high = first
    }
    return (low, high)
  }

  /// Calls `body` with each line of `start..<end` as Python's `str.splitlines()` makes them:
  /// split at `\n`, `\r`, `\r\n`, `\v`, `\f`, U+001C-001E, U+0085, U+2028 and U+2029, with no
  /// empty last line after a final break.
  static func forEachLine(
    _ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ body: (Int, Int) -> Void
  ) {
    var lineStart = start
    var index = start
    let raw = UnsafeRawPointer(text.baseAddress)
    while index < end {
      // Skip eight bytes at a time while none of them can start a line break: no control
      // byte below 0x20 and no 0xC2 or 0xE2 lead byte.
      if let raw, index &+ 8 <= end {
        let x = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        if !hasByteBelow0x20(x) && !hasZeroByte(x ^ 0xC2C2_C2C2_C2C2_C2C2) && !hasZeroByte(x ^ 0xE2E2_E2E2_E2E2_E2E2) {
          index &+= 8
          continue
        }
      }
      let byte = text[index]
      var breakLength = 0
      switch byte {
      case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E:
        breakLength = 1
      case 0x0D:
        breakLength = index + 1 < end && text[index + 1] == 0x0A ? 2 : 1
      case 0xC2:
        if index + 1 < end && text[index + 1] == 0x85 { breakLength = 2 }
      case 0xE2:
        if index + 2 < end && text[index + 1] == 0x80 && (text[index + 2] == 0xA8 || text[index + 2] == 0xA9) {
          breakLength = 3
        }
      default:
        break
      }
      if breakLength > 0 {
        body(lineStart, index)
        index += breakLength
        lineStart = index
      } else {
        index += 1
      }
    }
    if lineStart < end { body(lineStart, end) }
  }

  /// Whether some byte of `x` is below 0x20 (exact: no false positives).
  @inline(__always)
  static func hasByteBelow0x20(_ x: UInt64) -> Bool {
    let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    // Per byte, without carries between bytes: the high bit of (b & 0x7F) + 0x60 is set when
    // b & 0x7F >= 0x20; bytes with the high bit set are not below 0x20 either.
    return ~(((x & low) &+ 0x6060_6060_6060_6060) | x) & 0x8080_8080_8080_8080 != 0
  }

  /// Whether some byte of `x` is zero (exact).
  @inline(__always)
  static func hasZeroByte(_ x: UInt64) -> Bool {
    let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    return ~(((x & low) &+ low) | x | low) != 0
  }

  /// The number of non-overlapping occurrences of `pattern` (Python's `str.count`).
  static func count(_ pattern: [UInt8], in text: UnsafeBufferPointer<UInt8>) -> Int {
    guard let first = pattern.first, pattern.count <= text.count else { return 0 }
    guard let base = text.baseAddress else { return 0 }
    var found = 0
    var index = 0
    let last = text.count - pattern.count
    // memchr jumps to each candidate first byte instead of testing every byte.
    while index <= last, let hit = memchr(base + index, Int32(first), last + 1 - index) {
      index = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
      var offset = 1
      while offset < pattern.count && text[index + offset] == pattern[offset] { offset += 1 }
      if offset == pattern.count {
        found += 1
        index += pattern.count
      } else {
        index += 1
      }
    }
    return found
  }

  /// The number of times `byte` occurs, counted eight bytes at a time.
  static func count(byte: UInt8, in text: UnsafeBufferPointer<UInt8>) -> Int {
    guard let base = text.baseAddress else { return 0 }
    let raw = UnsafeRawPointer(base)
    let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
    let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    var found = 0
    var index = 0
    while index &+ 8 <= text.count {
      let x = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ pattern
      // The high bit of each byte of `zero` is set exactly when that byte of `x` is zero.
      let zero = ~(((x & low) &+ low) | x | low)
      found &+= zero.nonzeroBitCount
      index &+= 8
    }
    while index < text.count {
      if base[index] == byte { found &+= 1 }
      index &+= 1
    }
    return found
  }

  /// Whether `count` bytes at `a` and `b` are equal.
  @inline(__always)
  static func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var index = 0
    while index < count {
      if a[index] != b[index] { return false }
      index += 1
    }
    return true
  }

  /// Whether `start..<end` begins with `prefix`.
  @inline(__always)
  static func hasPrefix(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ prefix: [UInt8]) -> Bool {
    guard end - start >= prefix.count else { return false }
    for offset in 0..<prefix.count where text[start + offset] != prefix[offset] { return false }
    return true
  }

  /// Whether `start..<end` ends with `suffix`.
  @inline(__always)
  static func hasSuffix(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ suffix: [UInt8]) -> Bool {
    guard end - start >= suffix.count else { return false }
    let from = end - suffix.count
    for offset in 0..<suffix.count where text[from + offset] != suffix[offset] { return false }
    return true
  }

  /// The last code point of `start..<end` (which must not be empty).
  @inline(__always)
  static func lastScalar(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32 {
    var first = end - 1
    while first > start && text[first] & 0xC0 == 0x80 { first -= 1 }
    return UTF8Scanning.decode(text, at: first).value
  }

  /// Whether `start..<end` contains `pattern`, ignoring ASCII case (`pattern` is lowercase).
  static func containsIgnoringCase(
    _ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ pattern: [UInt8]
  ) -> Bool {
    guard let first = pattern.first, end - start >= pattern.count else { return false }
    let last = end - pattern.count
    var index = start
    while index <= last {
      if lowercased(text[index]) == first {
        var offset = 1
        while offset < pattern.count && lowercased(text[index + offset]) == pattern[offset] { offset += 1 }
        if offset == pattern.count { return true }
      }
      index += 1
    }
    return false
  }

  @inline(__always)
  static func lowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
  }

  /// A number for a reject detail: at most four decimals.
  static func format(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    let rounded = (value * 10_000).rounded() / 10_000
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
    return "\(rounded)"
  }
}

/// Up to 64 lowercase ASCII phrases looked for together, ignoring ASCII case: one pass over
/// the text instead of one per phrase.
struct CaselessPhrases: Sendable {
  private let phrases: [[UInt8]]
  /// Per byte value: the phrases that start with it (either case), as bits.
  private let starting: [UInt64]
  /// A bit per phrase: once all are found, the scan stops.
  private let all: UInt64

  /// Prepares `phrases` (lowercase ASCII, not empty, at most 64).
  init(_ phrases: [String]) {
    precondition(phrases.count <= 64 && phrases.allSatisfy { !$0.isEmpty && $0 == $0.lowercased() })
    self.phrases = phrases.map { Array($0.utf8) }
    var starting = [UInt64](repeating: 0, count: 256)
    for (index, phrase) in self.phrases.enumerated() {
      let first = phrase[0]
      starting[Int(first)] |= 1 << UInt64(index)
      if first >= 0x61 && first <= 0x7A { starting[Int(first - 0x20)] |= 1 << UInt64(index) }
    }
    self.starting = starting
    all = phrases.count == 64 ? .max : (1 << UInt64(phrases.count)) - 1
  }

  /// The phrases that occur in `start..<end` of `text`, as bits (bit i: the i-th phrase).
  func occurrences(in text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
    var found: UInt64 = 0
    starting.withUnsafeBufferPointer { starting in
      var index = start
      while index < end {
        var candidates = starting[Int(text[index])] & ~found
        while candidates != 0 {
          let bit = candidates.trailingZeroBitCount
          candidates &= candidates - 1
          let phrase = phrases[bit]
          guard end - index >= phrase.count else { continue }
          var offset = 1
          while offset < phrase.count && QualityText.lowercased(text[index + offset]) == phrase[offset] { offset += 1 }
          if offset == phrase.count { found |= 1 << UInt64(bit) }
        }
        if found == all { return }
        index += 1
      }
    }
    return found
  }
}

// MARK: - Hash containers for one record

/// An open-addressing table of 64-bit hashes with a count and a first position per key, for
/// the duplicate and n-gram rules of one record. Cleared and reused between rules; the storage
/// is raw memory, so the hot loops pay no copy-on-write or bounds checks.
final class HashTable64 {
  /// One slot; in use when its stamp is the table's current one, so emptying the table is
  /// one increment instead of a pass over the storage.
  private struct Slot {
    var key: UInt64
    var stamp: UInt32
    var count: UInt32
  }

  private var slots: UnsafeMutablePointer<Slot>
  /// Where each key was first seen (only meaningful for `add`).
  private var firsts: UnsafeMutablePointer<Int32>
  private var stamp: UInt32 = 1
  private var capacity: Int
  private var shift: UInt64
  private var used = 0

  /// Creates a table for about `expected` keys.
  init(expected: Int) {
    let bits = Self.bits(for: expected)
    capacity = 1 << Int(bits)
    shift = 64 - bits
    slots = .allocate(capacity: capacity)
    slots.initialize(repeating: Slot(key: 0, stamp: 0, count: 0), count: capacity)
    firsts = .allocate(capacity: capacity)
  }

  deinit {
    slots.deallocate()
    firsts.deallocate()
  }

  /// Table size (as a power of two) for `expected` keys at a load of at most two thirds.
  private static func bits(for expected: Int) -> UInt64 {
    var bits: UInt64 = 4
    while (1 << bits) * 2 < expected * 3 { bits += 1 }
    return bits
  }

  private func allocate(bits: UInt64) {
    capacity = 1 << Int(bits)
    shift = 64 - bits
    slots = .allocate(capacity: capacity)
    slots.initialize(repeating: Slot(key: 0, stamp: 0, count: 0), count: capacity)
    firsts = .allocate(capacity: capacity)
    stamp = 1
  }

  /// Empties the table and makes room for about `expected` keys.
  func removeAll(expected: Int) {
    used = 0
    let bits = Self.bits(for: expected)
    // A table reused after a huge record shrinks again, so that small records do not scatter
    // their few keys over megabytes of slots.
    if capacity < 1 << Int(bits) || (capacity > 1 << 16 && capacity > 16 << Int(bits)) {
      slots.deallocate()
      firsts.deallocate()
      allocate(bits: bits)
    } else if stamp == UInt32.max {
      slots.update(repeating: Slot(key: 0, stamp: 0, count: 0), count: capacity)
      stamp = 1
    } else {
      stamp += 1
    }
  }

  @inline(__always)
  private func slot(for key: UInt64) -> (slot: Int, found: Bool) {
    let mask = capacity &- 1
    var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
    while true {
      if slots[slot].stamp != stamp { return (slot, false) }
      if slots[slot].key == key { return (slot, true) }
      slot = (slot &+ 1) & mask
    }
  }

  /// Inserts `key`; returns whether it was new.
  @inline(__always)
  func insert(_ key: UInt64) -> Bool {
    let (slot, found) = slot(for: key)
    if found { return false }
    slots[slot] = Slot(key: key, stamp: stamp, count: 1)
    used &+= 1
    if used &* 4 > capacity &* 3 { grow() }
    return true
  }

  /// How many times `key` was added (0 when it never was).
  @inline(__always)
  func count(of key: UInt64) -> Int {
    let (slot, found) = slot(for: key)
    return found ? Int(slots[slot].count) : 0
  }

  /// Adds one occurrence of `key` seen at `position`; returns its count and first position.
  @inline(__always)
  func add(_ key: UInt64, at position: Int) -> (count: Int, first: Int) {
    let (slot, found) = slot(for: key)
    if found {
      slots[slot].count &+= 1
      return (Int(slots[slot].count), Int(firsts[slot]))
    }
    slots[slot] = Slot(key: key, stamp: stamp, count: 1)
    firsts[slot] = Int32(truncatingIfNeeded: position)
    used &+= 1
    if used &* 4 > capacity &* 3 { grow() }
    return (1, position)
  }

  private func grow() {
    let old = slots
    let oldFirsts = firsts
    let oldStamp = stamp
    let oldCapacity = capacity
    allocate(bits: 64 - shift + 1)
    for index in 0..<oldCapacity where old[index].stamp == oldStamp {
      var entry = old[index]
      entry.stamp = stamp
      let slot = slot(for: entry.key).slot
      slots[slot] = entry
      firsts[slot] = oldFirsts[index]
    }
    old.deallocate()
    oldFirsts.deallocate()
  }
}

/// Polynomial hashing modulo 2^64 with odd bases, so the hash of any run of words can be
/// taken from prefix sums in constant time (for the n-gram repetition rules): the hash of the
/// words after the first k is the prefix hash minus the first k's, shifted by `base` to the
/// power of the bytes between. Two different runs of natural text collide with negligible
/// probability (the known bad inputs for this modulus are Thue-Morse strings thousands of
/// bytes long, far beyond an n-gram).
enum PolynomialHash {
  /// The base for bytes.
  static let base: UInt64 = 0x9E37_79B9_7F4A_7C15
  /// The base for sequences of word hashes.
  static let wordBase: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  /// `base` to the powers 0..<512 (words and runs of words, in bytes), raw memory for the
  /// hot loops; written once when first used, then only read (so shared without a lock),
  /// never freed. Hot loops keep a copy of the pointer: on Linux each read of a lazy global
  /// calls `swift_once`, which was 1.4% of a quality run.
  nonisolated(unsafe) static let runPowers: UnsafePointer<UInt64> = {
    let table = UnsafeMutablePointer<UInt64>.allocate(capacity: runPowerCount)
    table.initialize(from: (0..<runPowerCount).map { power(base, $0) }, count: runPowerCount)
    return UnsafePointer(table)
  }()
  private static let runPowerCount = 512

  /// `base` to the power `bytes`: from `table` (`runPowers`), or computed for long runs.
  @inline(__always)
  static func power(bytes: Int, from table: UnsafePointer<UInt64>) -> UInt64 {
    bytes < runPowerCount ? table[bytes] : power(base, bytes)
  }

  /// `value` to the power `exponent`, modulo 2^64.
  static func power(_ value: UInt64, _ exponent: Int) -> UInt64 {
    var result: UInt64 = 1
    var factor = value
    var remaining = exponent
    while remaining > 0 {
      if remaining & 1 == 1 { result = result &* factor }
      factor = factor &* factor
      remaining >>= 1
    }
    return result
  }
}
