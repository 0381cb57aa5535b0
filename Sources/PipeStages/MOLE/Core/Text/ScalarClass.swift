/// What a Unicode scalar is to sentence and word splitting.
///
/// The classes are coarse on purpose: splitting must behave the same on any language without
/// Unicode tables, so only the ranges that change a decision are listed (spaces, line breaks,
/// sentence terminators, punctuation, scripts written without spaces).
enum ScalarClass: UInt8 {
  /// Horizontal whitespace, including no-break, ideographic and zero-width spaces.
  case space
  /// A line break.
  case newline
  /// `.`, `!` or `?`: ends a sentence only when whitespace or the end of the text follows.
  case terminal
  /// `。`, `！`, `？`, the danda and the Arabic question mark: end a sentence wherever they are.
  case strongTerminal
  /// A closing quote or bracket, which stays with the sentence it closes.
  case closer
  /// Any other punctuation or symbol (box drawing and arrows included).
  case punctuation
  /// A Han ideograph or kana: one word on its own, since Chinese and Japanese have no spaces.
  case ideograph
  /// Thai, Lao, Myanmar or Khmer: written without spaces, cut into short chunks.
  case southeastAsian
  /// Letters, digits, underscore and everything not listed above.
  case letter

  /// Whether the class separates words.
  var isSeparator: Bool {
    switch self {
    case .space, .newline, .terminal, .strongTerminal, .closer, .punctuation: true
    case .ideograph, .southeastAsian, .letter: false
    }
  }

  /// The class of `scalar`.
  @inline(__always)
  static func of(_ scalar: UInt32) -> ScalarClass {
    scalar < 0x80 ? ascii(UInt8(truncatingIfNeeded: scalar)) : nonASCII(scalar)
  }

  /// The class of a scalar above U+007F; kept out of line so the ASCII path stays small.
  @inline(never)
  static func nonASCII(_ scalar: UInt32) -> ScalarClass {
    switch scalar {
    case 0x85, 0x2028, 0x2029:
      return .newline
    case 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000, 0xFEFF:
      return .space
    case 0x3002, 0xFF01, 0xFF1F, 0xFF61, 0x0964, 0x0965, 0x061F, 0x06D4:
      return .strongTerminal
    case 0x2019, 0x201D, 0xBB, 0x300D, 0x300F, 0x3011, 0xFF09, 0xFF3D, 0xFF5D:
      return .closer
    case 0xA1...0xBF, 0xD7, 0xF7, 0x2010...0x2027, 0x2030...0x205E, 0x2190...0x2BFF, 0x3001...0x303F,
      0xFF01...0xFF0F, 0xFF1A...0xFF20, 0xFF3B...0xFF40, 0xFF5B...0xFF65:
      return .punctuation
    case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF,
      0x20000...0x3FFFF:
      return .ideograph
    case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF:
      return .southeastAsian
    default:
      return .letter
    }
  }

  /// Whether `scalar` is a combining mark of a script written without spaces; a chunk of such a
  /// script never ends just before one, so a mark is never separated from its base letter.
  @inline(__always)
  static func isSoutheastAsianMark(_ scalar: UInt32) -> Bool {
    switch scalar {
    case 0x0E31, 0x0E34...0x0E3A, 0x0E47...0x0E4E,  // Thai
      0x0EB1, 0x0EB4...0x0EBC, 0x0EC8...0x0ECD,  // Lao
      0x102B...0x103E, 0x1056...0x1059, 0x105E...0x1060, 0x1062...0x1064, 0x1067...0x106D, 0x1071...0x1074,
      0x1082...0x108D, 0x108F, 0x109A...0x109D,  // Myanmar
      0x17B4...0x17D3, 0x17DD:  // Khmer
      return true
    default:
      return false
    }
  }

  /// The class of an ASCII byte; plain comparisons rather than a table, because a static
  /// table costs a lazy-initialisation check on every call in the hot loops.
  @inline(__always)
  static func ascii(_ byte: UInt8) -> ScalarClass {
    if (byte &- 0x61) < 26 || (byte &- 0x41) < 26 || (byte &- 0x30) < 10 || byte == 0x5F { return .letter }
    switch byte {
    case 0x20, 0x09: return .space
    case 0x0A, 0x0B, 0x0C, 0x0D: return .newline
    case 0x21, 0x2E, 0x3F: return .terminal
    case 0x22, 0x27, 0x29, 0x5D, 0x7D: return .closer
    default: return .punctuation
    }
  }
}

/// UTF-8 decoding on raw bytes. Input comes from Swift strings or validated records, so the
/// decoder trusts lead bytes and never reads past the end; a stray byte decodes as itself.
enum UTF8Decoding {
  /// The scalar starting at `index` and its length in bytes.
  @inline(__always)
  static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (scalar: UInt32, length: Int) {
    let lead = UInt32(bytes[index])
    if lead < 0x80 { return (lead, 1) }
    let count = bytes.count
    if lead >= 0xF0, index + 3 < count {
      let value =
        (lead & 0x07) << 18 | (UInt32(bytes[index + 1]) & 0x3F) << 12 | (UInt32(bytes[index + 2]) & 0x3F) << 6
        | (UInt32(bytes[index + 3]) & 0x3F)
      return (value, 4)
    }
    if lead >= 0xE0, index + 2 < count {
      let value = (lead & 0x0F) << 12 | (UInt32(bytes[index + 1]) & 0x3F) << 6 | (UInt32(bytes[index + 2]) & 0x3F)
      return (value, 3)
    }
    if lead >= 0xC0, index + 1 < count {
      return ((lead & 0x1F) << 6 | (UInt32(bytes[index + 1]) & 0x3F), 2)
    }
    return (lead, 1)
  }

  /// The start of the scalar that ends just before `index`.
  @inline(__always)
  static func previousStart(_ bytes: UnsafeBufferPointer<UInt8>, before index: Int) -> Int {
    var position = index - 1
    while position > 0 && bytes[position] & 0xC0 == 0x80 { position -= 1 }
    return position
  }
}
