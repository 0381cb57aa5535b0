import Glibc

/// The tokens of pieces seen before: words repeat, so most pieces are found here instead of
/// being merged again. Open addressing over one byte arena and one token arena, cleared when
/// full, so memory stays bounded (about a megabyte) whatever the text.
struct PieceCache {
  private struct Slot {
    var hash: UInt64 = 0
    var bytesStart: UInt32 = 0
    var bytesCount: UInt32 = 0
    var tokensStart: UInt32 = 0
    var tokensCount: UInt32 = 0
  }

  private static let slotCount = 1 << 15
  private static let maximumEntries = slotCount / 2
  private static let maximumArenaBytes = 1 << 20
  /// Longer pieces are merged each time (they are rare, and would crowd the arena).
  static let maximumPieceBytes = 128

  private var slots = [Slot](repeating: Slot(), count: slotCount)
  private var bytes: [UInt8] = []
  private var tokens: [Int32] = []
  private var entries = 0

  /// The cached tokens of `piece`, if any.
  @inline(__always)
  mutating func lookup(_ piece: UnsafeBufferPointer<UInt8>) -> ArraySlice<Int32>? {
    guard piece.count <= Self.maximumPieceBytes, entries > 0 else { return nil }
    let hash = Self.hash(piece) | 1
    var index = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
    while true {
      let slot = slots[index]
      if slot.hash == 0 { return nil }
      if slot.hash == hash && Int(slot.bytesCount) == piece.count {
        let start = Int(slot.bytesStart)
        let equal = bytes.withUnsafeBufferPointer { arena in
          guard let stored = arena.baseAddress, let wanted = piece.baseAddress else { return false }
          return memcmp(stored + start, wanted, piece.count) == 0
        }
        if equal {
          return tokens[Int(slot.tokensStart)..<(Int(slot.tokensStart) + Int(slot.tokensCount))]
        }
      }
      index = (index + 1) & (Self.slotCount - 1)
    }
  }

  /// Remembers the tokens of `piece` (a piece not in the cache).
  mutating func store(_ piece: UnsafeBufferPointer<UInt8>, _ pieceTokens: [Int32]) {
    guard piece.count <= Self.maximumPieceBytes else { return }
    if entries >= Self.maximumEntries || bytes.count + piece.count > Self.maximumArenaBytes {
      for index in slots.indices { slots[index].hash = 0 }
      bytes.removeAll(keepingCapacity: true)
      tokens.removeAll(keepingCapacity: true)
      entries = 0
    }
    let hash = Self.hash(piece) | 1
    var index = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
    while slots[index].hash != 0 { index = (index + 1) & (Self.slotCount - 1) }
    slots[index] = Slot(
      hash: hash, bytesStart: UInt32(bytes.count), bytesCount: UInt32(piece.count),
      tokensStart: UInt32(tokens.count), tokensCount: UInt32(pieceTokens.count))
    bytes.append(contentsOf: piece)
    tokens.append(contentsOf: pieceTokens)
    entries += 1
  }

  /// A multiply-mix hash over eight bytes at a time (the pieces are short).
  @inline(__always)
  private static func hash(_ piece: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(piece.count)
    var index = 0
    guard let address = piece.baseAddress else { return state }
    let base = UnsafeRawPointer(address)
    while index + 8 <= piece.count {
      state = mix(state ^ base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
      index += 8
    }
    if index < piece.count {
      var tail: UInt64 = 0
      var shift: UInt64 = 0
      while index < piece.count {
        tail |= UInt64(piece[index]) << shift
        shift += 8
        index += 1
      }
      state = mix(state ^ tail)
    }
    return state
  }

  @inline(__always)
  private static func mix(_ value: UInt64) -> UInt64 {
    let product = value.multipliedFullWidth(by: 0xA076_1D64_78BD_642F)
    return product.high ^ product.low
  }
}
