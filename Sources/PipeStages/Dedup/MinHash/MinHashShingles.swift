import Foundation

/// How text is simplified before it is cut into words, after datatrove's `simplify_text`
/// (`TextNormConfig` defaults): lowercase, numbers to `0`, punctuation to spaces, diacritics
/// removed; whitespace always separates words.
public struct MinHashNormalization: Sendable, Hashable {
  /// Lowercase (full Unicode lowercase mapping).
  public var lowercase: Bool
  /// Turn punctuation and symbols (Unicode categories P and S, and controls) into word breaks.
  /// When off, each punctuation or symbol character is a word of its own (as a tokenizer would
  /// split it off), so `end.` still matches `end .`.
  public var removePunctuation: Bool
  /// Replace every number by `0`: a run of decimal digits (any script), with at most one
  /// decimal part after `.`, `,`, U+060C, U+066B or U+2396-2398 (datatrove's pattern
  /// `\p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)?`).
  public var normalizeDigits: Bool
  /// Decompose (NFD) and drop nonspacing marks (category Mn): `é` becomes `e`, and so do the
  /// Thai vowel and tone marks and the Japanese voicing marks, as in datatrove.
  public var stripDiacritics: Bool

  /// Creates options; the defaults are datatrove's.
  public init(
    lowercase: Bool = true, removePunctuation: Bool = true, normalizeDigits: Bool = true, stripDiacritics: Bool = true
  ) {
    self.lowercase = lowercase
    self.removePunctuation = removePunctuation
    self.normalizeDigits = normalizeDigits
    self.stripDiacritics = stripDiacritics
  }
}

/// Cuts normalized text into words and hashes word n-grams (shingles) to 64 bits.
///
/// Words:
/// - Runs of letters, marks and digits between separators (whitespace, and punctuation and
///   symbols when `removePunctuation` is on) are words, as in space-separated scripts.
/// - Each Han ideograph, kana and Thai, Lao, Khmer or Myanmar character is a word of its own,
///   since these scripts do not put spaces between words: a Chinese or Thai document is many
///   words, never one. With 5-grams, CJK shingles are then 5-character windows, the usual
///   character shingles for these scripts.
/// - Hangul is written with spaces, so Korean words are runs like Latin ones.
///
/// Nothing is materialized: the UTF-8 bytes are scanned once, each word is hashed as it is read
/// and each shingle hash combines the last `n` word hashes. A text with fewer than `n` words
/// (but at least one) is one shingle made of all its words, so short texts that are equal after
/// normalization still meet. (datatrove gives such texts no shingle at all, so it never
/// compares them.) A text with no word has no shingle.
public struct MinHashShingler: Sendable {
  /// Words per shingle.
  public let ngrams: Int
  /// The normalization.
  public let normalization: MinHashNormalization
  /// Character classes and mappings for scalars below U+3100.
  let table: MinHashCharacterTable

  /// Creates a shingler.
  public init(ngrams: Int, normalization: MinHashNormalization) {
    self.ngrams = max(1, ngrams)
    self.normalization = normalization
    self.table = MinHashCharacterTable.shared(normalization)
  }

  /// The shingle hashes of `text`, in text order (repeats included).
  public func shingles(of text: String) -> [UInt64] {
    var text = text
    var result: [UInt64] = []
    text.withUTF8 { bytes in
      _ = forEachShingleChunk(bytes, chunkSize: 1 << 16) { chunk, _ in result.append(contentsOf: chunk) }
    }
    return result
  }

  /// The words of `text` after normalization, as strings (for tests and diagnostics; the
  /// hashing path never builds them).
  public func words(of text: String) -> [String] {
    var text = text
    var collector = WordCollector()
    text.withUTF8 { scan($0, into: &collector) }
    return collector.words
  }

  /// Streams the shingle hashes of `bytes` to `body` in chunks of at most `chunkSize`, with
  /// `true` for the last chunk (a text without words gives no chunk). Returns the number of words.
  @discardableResult
  public func forEachShingleChunk(
    _ bytes: UnsafeBufferPointer<UInt8>, chunkSize: Int, _ body: (UnsafeBufferPointer<UInt64>, Bool) -> Void
  ) -> Int {
    let n = ngrams
    let capacity = max(1, chunkSize)
    return withoutActuallyEscaping(body) { body in
      withUnsafeTemporaryAllocation(of: UInt64.self, capacity: capacity + n) { storage in
        // The window of the last n word hashes lives after the chunk.
        var sink = ShingleSink(
          chunk: UnsafeMutableBufferPointer(rebasing: storage[0..<capacity]),
          window: UnsafeMutableBufferPointer(rebasing: storage[capacity..<(capacity + n)]), body: body)
        scan(bytes, into: &sink)
        sink.finish()
        return sink.words
      }
    }
  }

  // MARK: - Scanning

  /// Feeds the normalized words of `bytes` to `sink`, byte by byte, with a call at each word end.
  @inline(__always)
  func scan<Sink: WordSink>(_ bytes: UnsafeBufferPointer<UInt8>, into sink: inout Sink) {
    let options = normalization
    let lowercase = options.lowercase
    // With punctuation removed, every ASCII byte but letters and digits separates words.
    let separatorsAreASCIIBreaks = options.removePunctuation
    let table = self.table
    var inWord = false
    // 0: not in a number; 1: in its integer part; 2: in its decimal part.
    var numberState = 0
    var index = 0
    let count = bytes.count

    while index < count {
      // Fast path: up to 8 ASCII letters at once (most words of Latin-script text).
      if index &+ 8 <= count, let base = bytes.baseAddress {
        let x = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
        if x & 0x8080_8080_8080_8080 == 0 {
          let folded = x | 0x2020_2020_2020_2020
          let atLeastA = (folded &+ 0x1F1F_1F1F_1F1F_1F1F) & 0x8080_8080_8080_8080
          let pastZ = (folded &+ 0x0505_0505_0505_0505) & 0x8080_8080_8080_8080
          let letters = atLeastA & ~pastZ
          let others = ~letters & 0x8080_8080_8080_8080
          let run = others == 0 ? 8 : others.trailingZeroBitCount >> 3
          if run > 0 {
            let mask: UInt64 = run == 8 ? .max : (1 << (run << 3)) &- 1
            sink.bytes((lowercase ? folded : x) & mask, count: run)
            numberState = 0
            inWord = true
            index += run
            // Separators right after the letters, in the same eight bytes, end the word now
            // rather than in the next round (as below: every ASCII byte but letters and digits).
            if run < 8 && separatorsAreASCIIBreaks {
              let atLeast0 = (x &+ 0x5050_5050_5050_5050) & 0x8080_8080_8080_8080
              let past9 = (x &+ 0x4646_4646_4646_4646) & 0x8080_8080_8080_8080
              let wordBytes = (letters | (atLeast0 & ~past9)) >> UInt64(run << 3)
              let breaks = wordBytes == 0 ? 8 - run : wordBytes.trailingZeroBitCount >> 3
              if breaks > 0 {
                sink.endWord()
                inWord = false
                index += breaks
              }
            }
            continue
          }
          // A run of separators (whitespace, punctuation) ends the word at once; digits and,
          // inside a number, its decimal separator are left to the byte path.
          if separatorsAreASCIIBreaks && numberState == 0 {
            let atLeast0 = (x &+ 0x5050_5050_5050_5050) & 0x8080_8080_8080_8080
            let past9 = (x &+ 0x4646_4646_4646_4646) & 0x8080_8080_8080_8080
            let wordBytes = letters | (atLeast0 & ~past9)
            let breaks = wordBytes == 0 ? 8 : wordBytes.trailingZeroBitCount >> 3
            if breaks > 0 {
              if inWord {
                sink.endWord()
                inWord = false
              }
              index += breaks
              continue
            }
          }
        }
      }
      let byte = bytes[index]
      if byte == 0x20 {
        numberState = 0
        if inWord {
          sink.endWord()
          inWord = false
        }
        index += 1
        continue
      }
      if byte < 0x80 {
        let kind = MinHashCharacterTable.asciiKind(byte, options)
        if kind == .letter {
          numberState = 0
          sink.byte(lowercase && byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte)
          inWord = true
          index += 1
          continue
        }
        // A decimal separator continues a number once: "3.14" is one number, "1.2.3" two.
        if numberState == 1, byte == UInt8(ascii: ".") || byte == UInt8(ascii: ","), isDigit(bytes, at: index + 1) {
          numberState = 2
          index += 1
          continue
        }
        switch kind {
        case .digit:
          if numberState == 0 {
            sink.byte(UInt8(ascii: "0"))
            inWord = true
            numberState = 1
          }
        case .separator, .drop, .letter:
          numberState = 0
          if inWord {
            sink.endWord()
            inWord = false
          }
        case .single:
          numberState = 0
          if inWord { sink.endWord() }
          sink.byte(byte)
          sink.endWord()
          inWord = false
        }
        index += 1
        continue
      }
      let (value, length) = UTF8Scanning.decode(bytes, at: index)
      if numberState == 1, MinHashCharacterTable.isDecimalSeparator(value), isDigit(bytes, at: index + length) {
        numberState = 2
        index += length
        continue
      }
      let entry = table.entry(value)
      switch entry.kind {
      case .digit:
        if numberState == 0 {
          sink.byte(UInt8(ascii: "0"))
          inWord = true
          numberState = 1
        }
      case .separator:
        numberState = 0
        if inWord {
          sink.endWord()
          inWord = false
        }
      case .drop:
        break
      case .letter:
        numberState = 0
        if let mapped = entry.mapped {
          for unit in mapped { sink.byte(unit) }
        } else {
          for offset in 0..<length { sink.byte(bytes[index + offset]) }
        }
        inWord = true
      case .single:
        numberState = 0
        if inWord { sink.endWord() }
        if let mapped = entry.mapped {
          for unit in mapped { sink.byte(unit) }
        } else {
          for offset in 0..<length { sink.byte(bytes[index + offset]) }
        }
        sink.endWord()
        inWord = false
      }
      index += length
    }
    if inWord { sink.endWord() }
  }

  /// Whether a decimal digit (any script, when digits are normalized) starts at `index`.
  @inline(__always)
  private func isDigit(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
    guard normalization.normalizeDigits, index < bytes.count else { return false }
    let byte = bytes[index]
    if byte < 0x80 { return byte &- UInt8(ascii: "0") < 10 }
    return table.entry(UTF8Scanning.decode(bytes, at: index).value).kind == .digit
  }
}

/// Receives the normalized words of a text.
protocol WordSink {
  /// The next byte of the current word.
  mutating func byte(_ byte: UInt8)
  /// The next `count` (1...8) bytes of the current word, first byte lowest.
  mutating func bytes(_ packed: UInt64, count: Int)
  /// The current word is complete.
  mutating func endWord()
}

/// Collects words as strings.
struct WordCollector: WordSink {
  var words: [String] = []
  var current: [UInt8] = []

  mutating func byte(_ byte: UInt8) { current.append(byte) }

  mutating func bytes(_ packed: UInt64, count: Int) {
    for index in 0..<count { current.append(UInt8(truncatingIfNeeded: packed >> (index << 3))) }
  }

  mutating func endWord() {
    words.append(String(decoding: current, as: UTF8.self))
    current.removeAll(keepingCapacity: true)
  }
}

/// Hashes words, combines the last `n` into shingle hashes and hands them out in chunks.
struct ShingleSink: WordSink {
  let chunk: UnsafeMutableBufferPointer<UInt64>
  let window: UnsafeMutableBufferPointer<UInt64>
  let body: (UnsafeBufferPointer<UInt64>, Bool) -> Void
  var filled = 0
  var words = 0
  var slot = 0
  var word = WordHash()
  /// The rolling hash of the window, and base^(n-1) to take the oldest word out.
  var rolling: UInt64 = 0
  let topPower: UInt64

  init(
    chunk: UnsafeMutableBufferPointer<UInt64>, window: UnsafeMutableBufferPointer<UInt64>,
    body: @escaping (UnsafeBufferPointer<UInt64>, Bool) -> Void
  ) {
    self.chunk = chunk
    self.window = window
    self.body = body
    var power: UInt64 = 1
    for _ in 1..<max(1, window.count) { power = power &* Self.base }
    topPower = power
    for index in window.indices { window[index] = 0 }
  }

  @inline(__always)
  mutating func byte(_ byte: UInt8) { word.add(UInt64(byte), count: 1) }

  @inline(__always)
  mutating func bytes(_ packed: UInt64, count: Int) { word.add(packed, count: count) }

  @inline(__always)
  mutating func endWord() {
    let hash = word.finalize()
    word = WordHash()
    let n = window.count
    // Rolling polynomial over the last n word hashes: sum of w_i * B^(n-1-i), mod 2^64.
    rolling = (rolling &- window[slot] &* topPower) &* Self.base &+ hash
    window[slot] = hash
    slot += 1
    if slot == n { slot = 0 }
    words += 1
    if words >= n { emit(MinHashMix.mix(rolling ^ Self.lengthTag(n))) }
  }

  static let base: UInt64 = 0x9E37_79B9_7F4A_7C15

  @inline(__always)
  static func lengthTag(_ count: Int) -> UInt64 { UInt64(truncatingIfNeeded: count) &* 0xC2B2_AE3D_27D4_EB4F }

  @inline(__always)
  mutating func emit(_ shingle: UInt64) {
    if filled == chunk.count {
      body(UnsafeBufferPointer(chunk), false)
      filled = 0
    }
    chunk[filled] = shingle
    filled += 1
  }

  /// Emits the one shingle of a text shorter than `n` words, and the last chunk.
  mutating func finish() {
    // Fewer words than n: the window holds them (the rest is zero) and so does the rolling hash.
    if words > 0 && words < window.count { emit(MinHashMix.mix(rolling ^ Self.lengthTag(words))) }
    if filled > 0 || words > 0 { body(UnsafeBufferPointer(rebasing: chunk[0..<filled]), true) }
    filled = 0
  }
}

/// A streaming 64-bit hash of one word's bytes: eight bytes at a time (little-endian), then a
/// final mix with the length.
struct WordHash {
  private var state: UInt64 = 0x6A09_E667_F3BC_C908
  private var pending: UInt64 = 0
  private var length = 0

  /// Adds `count` (1...8) bytes packed in `packed`, first byte lowest, higher bytes zero.
  @inline(__always)
  mutating func add(_ packed: UInt64, count: Int) {
    let used = length & 7
    pending |= packed << UInt64(used << 3)
    length &+= count
    if used + count >= 8 {
      state = (state ^ pending) &* 0x9E37_79B9_7F4A_7C15
      state = (state << 31) | (state >> 33)
      pending = used == 0 ? 0 : packed >> UInt64((8 - used) << 3)
    }
  }

  @inline(__always)
  func finalize() -> UInt64 {
    MinHashMix.mix((state ^ pending ^ (UInt64(truncatingIfNeeded: length) << 56)) &* 0xD6E8_FEB8_6659_FD93)
  }
}

/// 64-bit mixing shared by the MinHash code.
public enum MinHashMix {
  /// The SplitMix64 finalizer: a bijection of 64-bit values that spreads every input bit.
  @inline(__always)
  public static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

// MARK: - Character table

/// Word-splitting classes and normalized spellings of scalars, precomputed from the Unicode
/// properties of the standard library and Foundation's NFD for U+0000-30FF (Latin, Greek,
/// Cyrillic, ..., Thai, kana); scalars above are classified on the fly (CJK by range).
final class MinHashCharacterTable: Sendable {
  enum Kind: UInt8 {
    /// Part of a word.
    case letter
    /// Ends a word.
    case separator
    /// A decimal digit.
    case digit
    /// Removed (a nonspacing mark when diacritics are stripped; invisible format characters).
    case drop
    /// A word on its own (CJK, Thai; punctuation when it is not removed).
    case single
  }

  struct Entry {
    let kind: Kind
    /// The normalized UTF-8 spelling when it differs from the input.
    let mapped: ArraySlice<UInt8>?
  }

  /// The table covers scalars below this value.
  static let limit: UInt32 = 0x3100

  let options: MinHashNormalization
  /// Per scalar: kind in the high byte; for a mapped spelling, offset << 8 | length in `spellings`.
  private let entries: [UInt32]
  private let spellings: [UInt8]

  private static let cache = Mutexed<[MinHashNormalization: MinHashCharacterTable]>([:])

  /// The table for `options`, built once per process.
  static func shared(_ options: MinHashNormalization) -> MinHashCharacterTable {
    cache.withLock { tables in
      if let table = tables[options] { return table }
      let table = MinHashCharacterTable(options)
      tables[options] = table
      return table
    }
  }

  private init(_ options: MinHashNormalization) {
    self.options = options
    var entries = [UInt32](repeating: 0, count: Int(Self.limit))
    var spellings: [UInt8] = []
    for value in 0..<Self.limit {
      guard let scalar = Unicode.Scalar(value) else { continue }
      let (kind, spelling) = Self.classify(scalar, options)
      var entry = UInt32(kind.rawValue) << 24
      if let spelling {
        entry |= UInt32(spellings.count) << 8 | UInt32(spelling.count)
        spellings += spelling
      }
      entries[Int(value)] = entry
    }
    self.entries = entries
    self.spellings = spellings
  }

  @inline(__always)
  func entry(_ value: UInt32) -> Entry {
    guard value < Self.limit else { return Self.classifyHigh(value, options) }
    let raw = entries[Int(value)]
    let kind = Kind(rawValue: UInt8(raw >> 24)) ?? .letter
    let length = Int(raw & 0xFF)
    guard length > 0 else { return Entry(kind: kind, mapped: nil) }
    let offset = Int((raw >> 8) & 0xFFFF)
    return Entry(kind: kind, mapped: spellings[offset..<(offset + length)])
  }

  /// The class of an ASCII byte.
  @inline(__always)
  static func asciiKind(_ byte: UInt8, _ options: MinHashNormalization) -> Kind {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
      return .letter
    case UInt8(ascii: "0")...UInt8(ascii: "9"):
      return options.normalizeDigits ? .digit : .letter
    case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E:
      return options.removePunctuation ? .separator : .single
    default:
      return .separator  // whitespace and controls
    }
  }

  /// Decimal separators of datatrove's number pattern, besides `.` and `,`.
  @inline(__always)
  static func isDecimalSeparator(_ value: UInt32) -> Bool {
    value == 0x060C || value == 0x066B || (0x2396...0x2398).contains(value)
  }

  /// Whether the scalar belongs to a script written without spaces between words.
  static func isUnspacedScript(_ value: UInt32) -> Bool {
    switch value {
    case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF,  // Thai, Lao, Myanmar, Khmer
      0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F,  // kana
      0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF:  // Han
      return true
    default:
      return false
    }
  }

  /// Classifies a scalar below `limit` (table building).
  private static func classify(_ scalar: Unicode.Scalar, _ options: MinHashNormalization) -> (Kind, [UInt8]?) {
    let value = scalar.value
    if value < 0x80 {
      let kind = asciiKind(UInt8(value), options)
      if kind == .letter, options.lowercase, scalar.properties.changesWhenLowercased {
        return (.letter, Array(scalar.properties.lowercaseMapping.utf8))
      }
      return (kind, nil)
    }
    if let kind = basicKind(scalar, options) { return (kind, nil) }
    // Letters and other word characters: lowercase, then NFD without nonspacing marks.
    var spelling = String(scalar)
    if options.lowercase, scalar.properties.changesWhenLowercased {
      spelling = scalar.properties.lowercaseMapping
    }
    if options.stripDiacritics {
      var kept = String.UnicodeScalarView()
      for part in spelling.decomposedStringWithCanonicalMapping.unicodeScalars
      where part.properties.generalCategory != .nonspacingMark {
        kept.append(part)
      }
      spelling = String(kept)
    }
    let kind: Kind = isUnspacedScript(value) ? .single : .letter
    if spelling.isEmpty { return (.drop, nil) }
    let bytes = Array(spelling.utf8)
    return (kind, bytes == Array(String(scalar).utf8) ? nil : bytes)
  }

  /// The class of scalars that are not word characters (or digits); `nil` for word characters.
  private static func basicKind(_ scalar: Unicode.Scalar, _ options: MinHashNormalization) -> Kind? {
    let value = scalar.value
    if UTF8Scanning.isWhitespace(value) || value == 0x200B { return .separator }
    switch scalar.properties.generalCategory {
    case .control, .lineSeparator, .paragraphSeparator, .spaceSeparator:
      return .separator
    case .format, .surrogate, .privateUse, .unassigned:
      return .drop
    case .decimalNumber:
      return options.normalizeDigits ? .digit : nil
    case .nonspacingMark:
      return options.stripDiacritics ? .drop : .letter
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
      .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
      return options.removePunctuation ? .separator : .single
    default:
      return nil
    }
  }

  /// Classifies a scalar at or above `limit` (CJK, Hangul, fullwidth forms, emoji, ...).
  private static func classifyHigh(_ value: UInt32, _ options: MinHashNormalization) -> Entry {
    if isUnspacedScript(value) { return Entry(kind: .single, mapped: nil) }
    if (0xAC00...0xD7A3).contains(value) { return Entry(kind: .letter, mapped: nil) }  // Hangul syllables
    guard let scalar = Unicode.Scalar(value) else { return Entry(kind: .drop, mapped: nil) }
    if let kind = basicKind(scalar, options) { return Entry(kind: kind, mapped: nil) }
    if options.lowercase, scalar.properties.changesWhenLowercased {
      return Entry(kind: .letter, mapped: ArraySlice(Array(scalar.properties.lowercaseMapping.utf8)))
    }
    return Entry(kind: .letter, mapped: nil)
  }
}

/// A value behind a lock (`Synchronization.Mutex` needs macOS 15; this works everywhere).
final class Mutexed<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return body(&value)
  }
}
