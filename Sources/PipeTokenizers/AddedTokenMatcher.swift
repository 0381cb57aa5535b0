/// Finds added tokens in raw text: at the leftmost position where one starts, the longest
/// that matches there (the references' leftmost-longest rule), with the whitespace its
/// strip options absorb.
struct AddedTokenMatcher: Sendable {
  private struct Candidate: Sendable {
    let bytes: [UInt8]
    let token: AddedToken
  }
  /// By first byte, longest first.
  private let byFirstByte: [[Candidate]]
  private let isEmpty: Bool

  init(_ tokens: [AddedToken]) {
    var table = [[Candidate]](repeating: [], count: 256)
    for token in tokens where !token.content.isEmpty {
      let bytes = Array(token.content.utf8)
      table[Int(bytes[0])].append(Candidate(bytes: bytes, token: token))
    }
    for index in table.indices { table[index].sort { $0.bytes.count > $1.bytes.count } }
    byFirstByte = table
    isEmpty = tokens.isEmpty
  }

  /// Calls `body` with each stretch of text before an added token and that token's id, and
  /// finally with the rest of the text and `nil`.
  func forEachSegment(
    _ bytes: UnsafeBufferPointer<UInt8>, _ body: (Slice<UnsafeBufferPointer<UInt8>>, Int32?) -> Void
  ) {
    guard !isEmpty else { return body(bytes[...], nil) }
    var segmentStart = 0
    var index = 0
    let count = bytes.count
    while index < count {
      let candidates = byFirstByte[Int(bytes[index])]
      var matched: Candidate?
      if !candidates.isEmpty {
        for candidate in candidates where index + candidate.bytes.count <= count {
          if candidate.bytes.withUnsafeBufferPointer({ equal($0, bytes, at: index) })
            && (!candidate.token.singleWord || isWordBoundary(bytes, index, index + candidate.bytes.count))
          {
            matched = candidate
            break
          }
        }
      }
      guard let matched else {
        index += 1
        continue
      }
      var start = index
      var end = index + matched.bytes.count
      if matched.token.leftStrip {
        while start > segmentStart && isSpace(bytes[start - 1]) { start -= 1 }
      }
      if matched.token.rightStrip {
        while end < count && isSpace(bytes[end]) { end += 1 }
      }
      body(bytes[segmentStart..<start], matched.token.id)
      segmentStart = end
      index = end
    }
    body(bytes[segmentStart..<count], nil)
  }

  @inline(__always)
  private func equal(_ pattern: UnsafeBufferPointer<UInt8>, _ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool
  {
    for offset in 0..<pattern.count where pattern[offset] != bytes[index + offset] { return false }
    return true
  }

  private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }

  private func isWordByte(_ byte: UInt8) -> Bool {
    byte >= 0x80 || byte == 0x5F || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
  }

  private func isWordBoundary(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
    (start == 0 || !isWordByte(bytes[start - 1])) && (end == bytes.count || !isWordByte(bytes[end]))
  }
}
