/// A word's place in a UTF-8 buffer.
struct MoleWordSpan: Equatable {
  /// The first byte.
  var start: Int
  /// One past the last byte.
  var end: Int
}

/// Word splitting on UTF-8 bytes that works for scripts with and without spaces.
///
/// A word is a run of letters (digits and `_` included) between separators. Each Han
/// ideograph or kana is a word of its own. A run of Thai, Lao, Myanmar or Khmer is cut into
/// chunks of about four scalars, never before a combining mark: without a dictionary that is
/// the closest stable stand-in for words, and swapping or hashing chunks still changes or
/// describes the text the way word operations do elsewhere.
enum MoleWords {
  /// The length of a chunk of a script written without spaces, in scalars.
  static let chunkLength = 4

  /// Calls `body` with the start, end and `hash(_:start:end:)` of each word in `range`, in
  /// order. The hash is computed during the scan, so callers that need it read each byte once.
  @inline(__always)
  static func forEach(
    in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>,
    _ body: (_ start: Int, _ end: Int, _ hash: UInt64) -> Void
  ) {
    let basis: UInt64 = 0xCBF2_9CE4_8422_2325
    let prime: UInt64 = 0x0000_0100_0000_01B3
    var index = range.lowerBound
    let end = range.upperBound
    var wordStart = -1
    var chunkScalars = 0
    var hash = basis
    while index < end {
      let byte = bytes[index]
      if byte < 0x80 {
        // ASCII fast path: letters, digits and `_` continue a word, anything else ends it.
        let isUpper = (byte &- 0x41) < 26
        if isUpper || (byte &- 0x61) < 26 || (byte &- 0x30) < 10 || byte == 0x5F {
          if wordStart >= 0 && chunkScalars > 0 {
            body(wordStart, index, hash)
            wordStart = -1
          }
          if wordStart < 0 {
            wordStart = index
            chunkScalars = 0
            hash = basis
          }
          hash = (hash ^ UInt64(isUpper ? byte | 0x20 : byte)) &* prime
        } else if wordStart >= 0 {
          body(wordStart, index, hash)
          wordStart = -1
        }
        index += 1
        continue
      }
      let (scalar, length) = UTF8Decoding.decode(bytes, at: index)
      switch ScalarClass.nonASCII(scalar) {
      case .letter:
        if wordStart >= 0 && chunkScalars > 0 {
          body(wordStart, index, hash)
          wordStart = -1
        }
        if wordStart < 0 {
          wordStart = index
          chunkScalars = 0
          hash = basis
        }
      case .ideograph:
        if wordStart >= 0 { body(wordStart, index, hash) }
        wordStart = -1
        var own = basis
        for position in index..<(index + length) { own = (own ^ UInt64(bytes[position])) &* prime }
        body(index, index + length, own)
        index += length
        continue
      case .southeastAsian:
        if wordStart >= 0 && chunkScalars == 0 {
          body(wordStart, index, hash)
          wordStart = -1
        }
        if wordStart >= 0 && chunkScalars >= chunkLength && !ScalarClass.isSoutheastAsianMark(scalar) {
          body(wordStart, index, hash)
          wordStart = -1
        }
        if wordStart < 0 {
          wordStart = index
          chunkScalars = 0
          hash = basis
        }
        chunkScalars += 1
      default:
        if wordStart >= 0 {
          body(wordStart, index, hash)
          wordStart = -1
        }
        index += length
        continue
      }
      for position in index..<(index + length) { hash = (hash ^ UInt64(bytes[position])) &* prime }
      index += length
    }
    if wordStart >= 0 { body(wordStart, end, hash) }
  }

  /// The words of `range`, appended to `spans` (cleared first).
  static func spans(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, into spans: inout [MoleWordSpan]) {
    spans.removeAll(keepingCapacity: true)
    forEach(in: bytes, range: range) { start, end, _ in spans.append(MoleWordSpan(start: start, end: end)) }
  }

  /// FNV-1a over the word's bytes with ASCII letters folded to lowercase: the identity of a word
  /// for features and word lists.
  @inline(__always)
  static func hash(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for index in start..<end {
      var byte = bytes[index]
      if (byte &- 0x41) < 26 { byte |= 0x20 }
      hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return hash
  }

  /// `hash(_:start:end:)` of a whole string.
  static func hash(_ word: String) -> UInt64 {
    var copy = word
    return copy.withUTF8 { hash($0, start: 0, end: $0.count) }
  }
}
