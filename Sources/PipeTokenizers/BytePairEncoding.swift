/// Byte-level BPE: a piece's UTF-8 bytes start as one token each, and the adjacent pair with
/// the lowest merge rank is merged until no pair has a rank (the leftmost pair first among
/// equal ranks, as the references' priority queues order them).
struct BytePairEncoding: Sendable {
  /// The token of each single byte (`-1` when the vocabulary has none: the byte is dropped,
  /// as the references do without an unknown token).
  let byteTokens: [Int32]
  /// `left << 32 | right` to `rank << 32 | merged token`.
  let merges: [UInt64: UInt64]
  /// Tokens by their bytes, for `ignoreMerges` (a piece that is a token is that token).
  let tokensByBytes: [[UInt8]: Int32]?

  init(byteTokens: [Int32], merges: [UInt64: UInt64], tokensByBytes: [[UInt8]: Int32]?) {
    self.byteTokens = byteTokens
    self.merges = merges
    self.tokensByBytes = tokensByBytes
  }

  /// Appends the tokens of `bytes` to `output`; `symbols` is scratch space.
  func encode(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [Int32], symbols: inout [Int32]) {
    if let tokensByBytes, let whole = tokensByBytes[Array(bytes)] {
      output.append(whole)
      return
    }
    symbols.removeAll(keepingCapacity: true)
    for byte in bytes {
      let token = byteTokens[Int(byte)]
      if token >= 0 { symbols.append(token) }
    }
    if symbols.count > 256 {
      mergeLong(&symbols)
    } else {
      mergeShort(&symbols)
    }
    output.append(contentsOf: symbols)
  }

  /// Quadratic, with no allocation: the usual piece is a word of a few tokens.
  private func mergeShort(_ symbols: inout [Int32]) {
    while symbols.count > 1 {
      var best = UInt64.max
      var bestIndex = -1
      for index in 0..<(symbols.count - 1) {
        let key = UInt64(UInt32(bitPattern: symbols[index])) << 32 | UInt64(UInt32(bitPattern: symbols[index + 1]))
        if let merge = merges[key], merge < best {
          best = merge
          bestIndex = index
        }
      }
      guard bestIndex >= 0 else { return }
      symbols[bestIndex] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
      symbols.remove(at: bestIndex + 1)
    }
  }

  /// A priority queue over a linked list, for long pieces (a line of base64, a run of one
  /// character) where the quadratic scan would be slow.
  private func mergeLong(_ symbols: inout [Int32]) {
    let count = symbols.count
    var previous = Array(-1..<(count - 1))
    var next = Array(1...count)
    var alive = [Bool](repeating: true, count: count)
    var heap = Heap()
    func push(_ left: Int) {
      let right = next[left]
      guard right < count else { return }
      let key = UInt64(UInt32(bitPattern: symbols[left])) << 32 | UInt64(UInt32(bitPattern: symbols[right]))
      if let merge = merges[key] { heap.push(Entry(rank: UInt32(merge >> 32), left: Int32(left), merge: merge)) }
    }
    for index in 0..<(count - 1) { push(index) }
    while let entry = heap.pop() {
      let left = Int(entry.left)
      guard alive[left] else { continue }
      let right = next[left]
      guard right < count else { continue }
      // Stale when either side changed since the entry was pushed.
      let key = UInt64(UInt32(bitPattern: symbols[left])) << 32 | UInt64(UInt32(bitPattern: symbols[right]))
      guard merges[key] == entry.merge else { continue }
      symbols[left] = Int32(truncatingIfNeeded: entry.merge & 0xFFFF_FFFF)
      alive[right] = false
      next[left] = next[right]
      if next[right] < count { previous[next[right]] = left }
      if previous[left] >= 0 { push(previous[left]) }
      push(left)
    }
    var result: [Int32] = []
    result.reserveCapacity(count)
    var index = 0
    while index < count {
      result.append(symbols[index])
      index = next[index]
    }
    symbols = result
  }

  private struct Entry {
    let rank: UInt32
    let left: Int32
    let merge: UInt64
    /// Lower rank first, then the leftmost pair.
    func precedes(_ other: Entry) -> Bool { rank != other.rank ? rank < other.rank : left < other.left }
  }

  private struct Heap {
    var items: [Entry] = []
    mutating func push(_ entry: Entry) {
      items.append(entry)
      var child = items.count - 1
      while child > 0 {
        let parent = (child - 1) / 2
        guard items[child].precedes(items[parent]) else { break }
        items.swapAt(child, parent)
        child = parent
      }
    }
    mutating func pop() -> Entry? {
      guard let first = items.first else { return nil }
      let last = items.removeLast()
      if !items.isEmpty {
        items[0] = last
        var parent = 0
        while true {
          let left = 2 * parent + 1
          guard left < items.count else { break }
          var child = left
          if left + 1 < items.count && items[left + 1].precedes(items[left]) { child = left + 1 }
          guard items[child].precedes(items[parent]) else { break }
          items.swapAt(child, parent)
          parent = child
        }
      }
      return first
    }
  }
}
