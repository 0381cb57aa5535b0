/// An open-addressing map from word hash to a bit set of word classes.
///
/// Word hashes are already well mixed, so the table probes with their low bits directly.
struct WordFlagTable: Sendable {
  /// The word is a function word.
  static let function: UInt8 = 1
  /// The word refers back to an earlier sentence.
  static let backwardReference: UInt8 = 2
  /// The word is typical of web boilerplate.
  static let boilerplate: UInt8 = 4
  /// The word is a programming-language keyword.
  static let codeKeyword: UInt8 = 8

  private var keys: [UInt64]
  private var values: [UInt8]
  private let mask: Int

  /// Builds the table from sets of hashes and the flag each set adds.
  init(_ classes: [(Set<UInt64>, UInt8)]) {
    var merged: [UInt64: UInt8] = [:]
    for (hashes, flag) in classes {
      for hash in hashes { merged[hash, default: 0] |= flag }
    }
    var capacity = 16
    while capacity < merged.count * 4 { capacity *= 2 }
    keys = [UInt64](repeating: 0, count: capacity)
    values = [UInt8](repeating: 0, count: capacity)
    mask = capacity - 1
    // Sorted so the table's layout does not depend on dictionary order.
    for (hash, flag) in merged.sorted(by: { $0.key < $1.key }) where hash != 0 {
      var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
      while keys[slot] != 0 { slot = (slot + 1) & mask }
      keys[slot] = hash
      values[slot] = flag
    }
  }

  /// The flags of the word with `hash` (0 for a word in no list).
  @inline(__always)
  func flags(of hash: UInt64) -> UInt8 {
    keys.withUnsafeBufferPointer { keys in
      var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
      while true {
        let key = keys[slot]
        if key == hash { return values[slot] }
        if key == 0 { return 0 }
        slot = (slot + 1) & mask
      }
    }
  }
}
