/// Length measures on UTF-8 text, shared by the filters.
///
/// Both work on raw bytes (`Record.withTextUTF8`), so measuring a record never builds a `String`.
public enum TextMetrics {
  /// The number of Unicode scalars in `utf8`.
  ///
  /// Scalars rather than grapheme clusters: counting them is one pass over the bytes (every byte
  /// that is not a continuation byte starts one), the result does not depend on the Unicode
  /// version's segmentation rules, and the two differ only for combining marks and emoji
  /// sequences. Decomposed é counts 2; normalize first (`normalize@1`) for stable counts.
  public static func characterCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
    UTF8Scanning.scalarCount(utf8)
  }

  /// The number of words in `utf8`, for scripts with and without spaces between words.
  ///
  /// - A word is a run of scalars between separators: Unicode `White_Space`, U+200B (used as a
  ///   word break in Thai and Khmer), CJK punctuation (U+3000-303F) and fullwidth punctuation.
  /// - Each Han ideograph and each hiragana or katakana scalar is one word on its own, since
  ///   Chinese and Japanese have no spaces (a Chinese sentence is not "one word").
  /// - A run of Thai, Lao, Khmer or Myanmar scalars (also written without spaces) counts as
  ///   `ceil(run / 4)` words: about one word per four scalars, marks included. A rough measure,
  ///   but stable and good enough for length limits.
  /// - Hangul is written with spaces between words, so Korean is counted like English.
  public static func wordCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
    var words = 0
    var inWord = false
    var southeastRun = 0
    var index = 0
    let count = utf8.count
    while index < count {
      let byte = utf8[index]
      if byte < 0x80 {
        // ASCII: whitespace ends a word, anything else continues or starts one.
        if byte == 0x20 || (0x09...0x0D).contains(byte) {
          inWord = false
        } else if !inWord {
          words += 1
          inWord = true
        }
        if southeastRun > 0 {
          words += (southeastRun + 3) / 4
          southeastRun = 0
        }
        index += 1
        continue
      }
      let (value, length) = UTF8Scanning.decode(utf8, at: index)
      index += length
      switch wordClass(value) {
      case .separator:
        inWord = false
      case .ideograph:
        words += 1
        inWord = false
      case .southeastAsian:
        southeastRun += 1
        inWord = false
        continue
      case .letter:
        if !inWord {
          words += 1
          inWord = true
        }
      }
      if southeastRun > 0 {
        words += (southeastRun + 3) / 4
        southeastRun = 0
      }
    }
    return words + (southeastRun + 3) / 4
  }

  private enum WordClass {
    case separator, ideograph, southeastAsian, letter
  }

  private static func wordClass(_ value: UInt32) -> WordClass {
    if UTF8Scanning.isWhitespace(value) { return .separator }
    switch value {
    case 0x200B, 0x3000...0x303F, 0xFF01...0xFF0F, 0xFF1A...0xFF20, 0xFF3B...0xFF40, 0xFF5B...0xFF65:
      return .separator
    case 0x3040...0x309F, 0x30A0...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F,  // kana
      0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF:  // Han
      return .ideograph
    case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF:  // Thai, Lao, Myanmar, Khmer
      return .southeastAsian
    default:
      return .letter
    }
  }
}
