/// Estimates how many tokens a subword tokenizer (BPE, as in GPT-2 to Llama 3) would make of a
/// text, without a vocabulary: one pass over the UTF-8 bytes, no allocation.
///
/// The `estimate` method prices runs of characters by script, after how BPE vocabularies
/// trained mostly on English and code behave:
/// - ASCII words: one token per 6 letters, rounded up ("the" 1, "tokenization" 2);
/// - digits: one token per 3 (vocabularies split numbers into groups of up to three);
/// - ASCII punctuation and symbols: one token per 2 in a run (`);` and `->` are merged);
/// - whitespace: a single space is free (it joins the next word's token); a run holding a
///   newline or two or more spaces (indentation) costs one;
/// - other alphabetic scripts (accented Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari...):
///   one token per 3 letters, since their words are split into more pieces;
/// - Han, kana and Hangul: 0.8 token per character;
/// - Thai, Lao, Khmer, Myanmar: 0.5 token per character;
/// - anything else (emoji, symbols): one token per character.
///
/// `bytes` divides the UTF-8 length by `bytesPerToken`; `whitespace` counts whitespace-separated
/// words. Every method multiplies by `scale` (to calibrate against a real tokenizer) and gives
/// at least 1 for a non-empty text.
public struct TokenEstimator: Sendable, Equatable {
  /// How tokens are counted.
  public enum Method: String, Sendable, CaseIterable {
    /// Per-script pricing of character runs (the default).
    case estimate
    /// UTF-8 bytes divided by `bytesPerToken`.
    case bytes
    /// Whitespace-separated words.
    case whitespace
  }

  /// The method.
  public var method: Method
  /// Bytes per token for `bytes`.
  public var bytesPerToken: Double
  /// A factor applied to every count.
  public var scale: Double

  /// Creates an estimator.
  public init(method: Method = .estimate, bytesPerToken: Double = 4, scale: Double = 1) {
    self.method = method
    self.bytesPerToken = bytesPerToken
    self.scale = scale
  }

  /// The estimated number of tokens of `utf8`.
  public func count(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
    if utf8.isEmpty { return 0 }
    let raw: Double
    switch method {
    case .estimate: raw = Self.estimate(utf8)
    case .bytes: raw = Double(utf8.count) / bytesPerToken
    case .whitespace: raw = Double(Self.whitespaceWords(utf8))
    }
    return max(1, Int((raw * scale).rounded()))
  }

  /// The estimated number of tokens of `text`.
  public func count(_ text: String) -> Int {
    var text = text
    return text.withUTF8 { count($0) }
  }

  private enum Run: Equatable {
    case none, asciiWord, digits, punctuation, space, otherLetters
  }

  /// The `estimate` method's raw count. `wordsAtOnce` reads the rest of an ASCII word in a
  /// tight loop (the same runs, closed at the same places, so the same sum in the same order);
  /// off, every byte goes through the classification, which tests compare against.
  static func estimate(_ utf8: UnsafeBufferPointer<UInt8>, wordsAtOnce: Bool = true) -> Double {
    var tokens = 0.0
    var run = Run.none
    var length = 0
    var spaceCostsOne = false

    // Closes the current run, adding its price.
    func close() {
      switch run {
      case .none: break
      case .asciiWord: tokens += Double((length + 5) / 6)
      case .digits: tokens += Double((length + 2) / 3)
      case .punctuation: tokens += Double((length + 1) / 2)
      case .space: tokens += spaceCostsOne ? 1 : 0
      case .otherLetters: tokens += Double((length + 2) / 3)
      }
      run = .none
      length = 0
      spaceCostsOne = false
    }

    func extend(_ kind: Run) {
      if run != kind { close() }
      run = kind
      length += 1
    }

    var index = 0
    let count = utf8.count
    while index < count {
      let byte = utf8[index]
      if byte < 0x80 {
        index += 1
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
          extend(.asciiWord)
          // The rest of the word: most of an English or code text's bytes.
          while wordsAtOnce, index < count {
            let next = utf8[index]
            guard (next | 0x20) &- UInt8(ascii: "a") < 26 || next == UInt8(ascii: "_") else { break }
            length += 1
            index += 1
          }
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
          extend(.digits)
        case 0x20, 0x09...0x0D:
          extend(.space)
          if byte != 0x20 || length > 1 { spaceCostsOne = true }
        default:
          extend(.punctuation)
        }
        continue
      }
      let (value, width) = UTF8Scanning.decode(utf8, at: index)
      index += width
      switch value {
      case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF:
        // Thai, Lao, Myanmar, Khmer: written without spaces.
        close()
        tokens += 0.5
      case 0x1100...0x11FF, 0x2E80...0x2FDF, 0x3040...0x30FF, 0x3130...0x318F, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xAC00...0xD7AF, 0xF900...0xFAFF, 0x20000...0x3FFFF:
        // Han, kana, Hangul.
        close()
        tokens += 0.8
      case 0x00C0...0x024F, 0x0370...0x058F, 0x0590...0x08FF, 0x0900...0x0DFF, 0x10A0...0x10FF, 0x1E00...0x1FFF:
        // Alphabets and abugidas with spaces between words.
        extend(.otherLetters)
      default:
        if UTF8Scanning.isWhitespace(value) {
          extend(.space)
          spaceCostsOne = true
        } else {
          close()
          tokens += 1
        }
      }
    }
    close()
    return tokens
  }

  private static func whitespaceWords(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
    var words = 0
    var inWord = false
    for byte in utf8 {
      let isSpace = byte == 0x20 || (0x09...0x0D).contains(byte)
      if !isSpace && !inWord { words += 1 }
      inWord = !isSpace
    }
    return words
  }
}
