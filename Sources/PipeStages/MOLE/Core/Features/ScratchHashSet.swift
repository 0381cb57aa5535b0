/// A reusable open-addressing set of 64-bit hashes, cleared between documents.
///
/// Swift's `Set` re-hashes its keys with SipHash and allocates; the feature loop inserts a few
/// hundred already-mixed hashes per document, so a flat table reused across documents is
/// several times faster.
struct ScratchHashSet {
  private var keys: [UInt64] = []
  private var mask = 0
  private var hasZero = false

  /// Empties the set and makes room for `expected` keys at most half full.
  mutating func reset(expected: Int) {
    var capacity = 16
    while capacity < expected * 2 { capacity <<= 1 }
    if keys.count < capacity {
      keys = [UInt64](repeating: 0, count: capacity)
    } else {
      keys.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        base.update(repeating: 0, count: capacity)
      }
    }
    mask = capacity - 1
    hasZero = false
  }

  /// Inserts `key`; returns whether it was new.
  @inline(__always)
  mutating func insert(_ key: UInt64) -> Bool {
    if key == 0 {
      defer { hasZero = true }
      return !hasZero
    }
    let mask = self.mask
    return keys.withUnsafeMutableBufferPointer { keys in
      var slot = Int(truncatingIfNeeded: key ^ (key >> 31)) & mask
      while true {
        let current = keys[slot]
        if current == key { return false }
        if current == 0 {
          keys[slot] = key
          return true
        }
        slot = (slot + 1) & mask
      }
    }
  }

  /// Whether `key` is in the set.
  @inline(__always)
  func contains(_ key: UInt64) -> Bool {
    if key == 0 { return hasZero }
    return keys.withUnsafeBufferPointer { keys in
      var slot = Int(truncatingIfNeeded: key ^ (key >> 31)) & mask
      while true {
        let current = keys[slot]
        if current == key { return true }
        if current == 0 { return false }
        slot = (slot + 1) & mask
      }
    }
  }
}

/// Hash mixing for feature indices: a multiply–xorshift finaliser (the Murmur3/SplitMix
/// family), enough to spread word and n-gram hashes over a 2^k table. XXH64 would do too, but
/// it costs more than the rest of the per-n-gram work.
@inline(__always)
func mixHash(_ value: UInt64, _ salt: UInt64) -> UInt64 {
  var x = value ^ (salt &* 0x9E37_79B9_7F4A_7C15)
  x ^= x >> 31
  x &*= 0xBF58_476D_1CE4_E5B9
  x ^= x >> 29
  x &*= 0x94D0_49BB_1331_11EB
  x ^= x >> 32
  return x
}
