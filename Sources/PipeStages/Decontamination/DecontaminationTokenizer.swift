import PipeCore

/// Splits text into the normalized tokens n-grams are made of, and hashes them.
///
/// - A token is a maximal run of letters, digits and combining marks; everything else
///   (punctuation, symbols, whitespace) separates tokens and is dropped, so `"Hello,  world!"`
///   and `"hello world"` give the same tokens.
/// - Han ideographs, kana, and the scripts written without spaces (Thai, Lao, Khmer, Myanmar)
///   give one token per character, so Chinese and Japanese text has n-grams at all.
/// - With `lowercase`, letters are lowercased (full Unicode lowercase mapping).
/// - Text is not Unicode-normalized: run `normalize@1` first when composed and decomposed
///   accents must match.
///
/// Each token is hashed with XXH64 of its normalized UTF-8 bytes; see `NGramHasher` for how
/// token hashes make n-gram keys.
struct DecontaminationTokenizer: Sendable {
  /// Whether to lowercase letters.
  var lowercase: Bool

  /// One token: its hash and where it is in the text (byte offsets).
  struct Token {
    var hash: UInt64
    var range: Range<Int>
  }

  /// Calls `body` with each token of `text`, in order.
  func forEachToken(in text: UnsafeBufferPointer<UInt8>, _ body: (Token) -> Void) {
    var token: [UInt8] = []
    token.reserveCapacity(64)
    var tokenStart = -1
    var tokenEnd = 0

    func finish() {
      guard tokenStart >= 0 else { return }
      let hash = token.withUnsafeBytes { XXH64.hash($0, seed: 0) }
      body(Token(hash: hash, range: tokenStart..<tokenEnd))
      token.removeAll(keepingCapacity: true)
      tokenStart = -1
    }

    var index = 0
    let count = text.count
    while index < count {
      let byte = text[index]
      if byte < 0x80 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
          if tokenStart < 0 { tokenStart = index }
          token.append(byte)
          tokenEnd = index + 1
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
          if tokenStart < 0 { tokenStart = index }
          token.append(lowercase ? byte | 0x20 : byte)
          tokenEnd = index + 1
        default:
          finish()
        }
        index += 1
        continue
      }
      let (value, length) = UTF8Scanning.decode(text, at: index)
      defer { index += length }
      guard let scalar = Unicode.Scalar(value) else {
        finish()
        continue
      }
      switch Self.classify(scalar) {
      case .separator:
        finish()
      case .character:
        finish()
        tokenStart = index
        tokenEnd = index + length
        appendScalar(scalar, bytes: text, at: index, length: length, to: &token)
        finish()
      case .word:
        if tokenStart < 0 { tokenStart = index }
        appendScalar(scalar, bytes: text, at: index, length: length, to: &token)
        tokenEnd = index + length
      }
    }
    finish()
  }

  /// Appends `scalar` (found at `bytes[index..<index + length]`), lowercased if asked.
  private func appendScalar(
    _ scalar: Unicode.Scalar, bytes: UnsafeBufferPointer<UInt8>, at index: Int, length: Int,
    to token: inout [UInt8]
  ) {
    if lowercase, scalar.properties.changesWhenLowercased {
      token.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
    } else {
      token.append(contentsOf: bytes[index..<(index + length)])
    }
  }

  private enum ScalarClass {
    case separator, word, character
  }

  private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
    switch scalar.value {
    case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F,  // kana
      0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF,  // Han
      0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF:  // Thai, Lao, Myanmar, Khmer
      return .character
    default:
      break
    }
    let properties = scalar.properties
    if properties.isAlphabetic || properties.numericType != nil || properties.generalCategory == .nonspacingMark
      || properties.generalCategory == .spacingMark
    {
      return .word
    }
    return .separator
  }

}

/// Keys of token sequences: a polynomial over the tokens' XXH64 hashes, modulo 2^64, then an
/// avalanche mix with the sequence length folded in.
///
/// The polynomial can be rolled: sliding the window one token costs one multiply-add whatever
/// `n` is, so a 10 MB record is hashed in one pass. The index and the lookups use the same
/// function, so they agree by construction.
struct NGramHasher: Sendable {
  /// The window length.
  let n: Int
  /// `base^(n-1)`, to take the oldest token out of the rolling sum.
  private let topPower: UInt64

  /// An odd constant (the 64-bit golden ratio), so powers of it never collapse to zero.
  static let base: UInt64 = 0x9E37_79B9_7F4A_7C15

  init(n: Int) {
    self.n = n
    var power: UInt64 = 1
    for _ in 0..<max(n - 1, 0) { power = power &* Self.base }
    topPower = power
  }

  /// The raw polynomial of `hashes` (oldest first).
  static func polynomial(_ hashes: some Sequence<UInt64>) -> UInt64 {
    var value: UInt64 = 0
    for hash in hashes { value = value &* base &+ hash }
    return value
  }

  /// Slides a window's polynomial: drops `oldest`, appends `newest`.
  @inline(__always)
  func roll(_ value: UInt64, removing oldest: UInt64, adding newest: UInt64) -> UInt64 {
    (value &- oldest &* topPower) &* Self.base &+ newest
  }

  /// The key of a sequence of `length` tokens whose polynomial is `value`.
  @inline(__always)
  static func key(polynomial value: UInt64, length: Int) -> UInt64 {
    // SplitMix64's finalizer, after folding in the length so a short sequence never shares a
    // key with an n-gram of the same polynomial.
    var z = value ^ (UInt64(truncatingIfNeeded: length) &* 0xD6E8_FEB8_6659_FD93)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
