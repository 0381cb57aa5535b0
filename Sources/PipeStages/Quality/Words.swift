/// Word and sentence splitting for the quality filters.
///
/// Words follow datatrove's English splitting (`EnglishWordSplitter`: punctuation marks are words
/// of their own, `don't` is `do` `n't`), with one addition for scripts written without spaces,
/// which that splitter would leave as one long "word" per run:
///
/// - Each Han ideograph and each hiragana or katakana character is a word (`日本語` is three).
/// - A run of Thai, Lao, Khmer or Myanmar is cut into chunks without a dictionary: a chunk
///   closes at the first place a syllable may start once it holds four characters, where a
///   syllable may start before any character that is not a combining mark or a following vowel
///   (such as Thai า or ะ), and not right after a leading vowel (such as Thai เ or ไ). Chunks
///   are about the length of a Thai word, so per-word measures (average length, n-grams)
///   behave as for spaced text; they are not linguistic words.
///
/// `spaceless: false` turns the addition off and splits exactly as datatrove does.
///
/// Words are byte ranges of the text, so splitting allocates one array and no strings.
enum Words {
  /// The words of `text`.
  static func split(
    _ text: UnsafeBufferPointer<UInt8>, using splitter: inout EnglishWordSplitter, spaceless: Bool = true
  ) -> [WordSpan] {
    let words = SpanBuffer(capacity: text.count / 5 + 4)
    split(text, using: &splitter, spaceless: spaceless, into: words)
    return words.withSpans { Array($0) }
  }

  /// The words of `text`, into `words` (emptied first; its storage is reused).
  static func split(
    _ text: UnsafeBufferPointer<UInt8>, using splitter: inout EnglishWordSplitter, spaceless: Bool = true,
    into words: SpanBuffer
  ) {
    words.removeAll()
    guard let base = text.baseAddress, !text.isEmpty else { return }
    var list = WordList(base: base, spaceless: spaceless, into: words)
    splitter.split(text, into: &list)
  }

  /// The number of words of `text`.
  static func count(
    _ text: UnsafeBufferPointer<UInt8>, using splitter: inout EnglishWordSplitter, spaceless: Bool = true
  ) -> Int {
    guard let base = text.baseAddress, !text.isEmpty else { return 0 }
    var counter = WordCounter(base: base, spaceless: spaceless)
    splitter.split(text, into: &counter)
    return counter.count
  }

  /// The number of sentences in `text`, as spaCy's sentencizer counts them on the splitter's
  /// tokens (datatrove's `split_into_sentences` for English): a sentence ends after a token that
  /// is a sentence-final mark (`.`, `!`, `?`, `。`, ...), and the next one starts at the first
  /// following token that is not punctuation. Text without tokens has no sentences.
  static func sentenceCount(_ text: UnsafeBufferPointer<UInt8>, using splitter: inout EnglishWordSplitter) -> Int {
    guard let base = text.baseAddress, !text.isEmpty else { return 0 }
    var counter = SentenceCounter(base: base, recordsEnds: false)
    splitter.split(text, into: &counter)
    return counter.sentences
  }

  /// The byte offsets where sentences end (after the last token of each sentence but the last),
  /// by the same rule as `sentenceCount`.
  static func sentenceEnds(_ text: UnsafeBufferPointer<UInt8>, using splitter: inout EnglishWordSplitter) -> [Int] {
    guard let base = text.baseAddress, !text.isEmpty else { return [] }
    var counter = SentenceCounter(base: base, recordsEnds: true)
    splitter.split(text, into: &counter)
    return counter.ends
  }
}

// MARK: - Scripts without spaces

/// How a scalar takes part in splitting scripts without spaces.
enum SpacelessScript {
  /// A Han ideograph, hiragana or katakana: one word each.
  @inline(__always)
  static func isIdeograph(_ value: UInt32) -> Bool {
    switch value {
    case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F,  // kana
      0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF:  // Han
      return true
    default:
      return false
    }
  }

  /// Thai, Lao, Myanmar or Khmer: cut into chunks.
  @inline(__always)
  static func isChunked(_ value: UInt32) -> Bool {
    switch value {
    case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF: return true
    default: return false
    }
  }

  /// Whether a syllable may start at `value` (so a chunk may be cut before it).
  @inline(__always)
  static func maySyllableStart(_ value: UInt32, after previous: UInt32) -> Bool {
    // Leading vowels are written before the consonant they follow in speech.
    if (0x0E40...0x0E44).contains(previous) || (0x0EC0...0x0EC4).contains(previous) { return false }
    switch value {
    case 0x0E30, 0x0E32, 0x0E33, 0x0E45, 0x0EB0, 0x0EB2, 0x0EB3: return false  // following vowels
    default: break
    }
    guard let scalar = Unicode.Scalar(value) else { return true }
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark: return false
    default: return true
    }
  }

  /// Scalars a chunk holds before it may be cut.
  static let chunkLength = 4
}

/// Collects words, cutting tokens of scripts without spaces.
struct WordList: TokenSink {
  let base: UnsafePointer<UInt8>
  /// Whether scripts without spaces are cut.
  let spaceless: Bool
  /// Where the words go: raw memory, so appending costs no copy-on-write check.
  let words: SpanBuffer

  init(base: UnsafePointer<UInt8>, spaceless: Bool, into words: SpanBuffer) {
    self.base = base
    self.spaceless = spaceless
    self.words = words
  }

  mutating func token(_ start: Int, _ end: Int, ascii: Bool) {
    guard spaceless && !ascii else {
      words.append(WordSpan(start: start, end: end))
      return
    }
    // Every scalar of the scripts cut here is three or four bytes long.
    var index = start
    while index < end && base[index] < 0xE0 { index += 1 }
    if index == end {
      words.append(WordSpan(start: start, end: end))
      return
    }
    cut(start, end)
  }

  mutating func whitespace(_ start: Int, _ end: Int) {}

  private mutating func cut(_ start: Int, _ end: Int) {
    let buffer = UnsafeBufferPointer(start: base, count: end)
    var runStart = start  // the pending run of other scalars, or the current chunk
    var inChunk = false
    var chunkScalars = 0
    var previous: UInt32 = 0
    var index = start
    while index < end {
      let (value, length) = UTF8Scanning.decode(buffer, at: index)
      if SpacelessScript.isIdeograph(value) {
        if runStart < index { words.append(WordSpan(start: runStart, end: index)) }
        words.append(WordSpan(start: index, end: index + length))
        inChunk = false
        runStart = index + length
      } else if SpacelessScript.isChunked(value) {
        if !inChunk {
          if runStart < index { words.append(WordSpan(start: runStart, end: index)) }
          runStart = index
          inChunk = true
          chunkScalars = 0
        } else if chunkScalars >= SpacelessScript.chunkLength,
          SpacelessScript.maySyllableStart(value, after: previous)
        {
          words.append(WordSpan(start: runStart, end: index))
          runStart = index
          chunkScalars = 0
        }
        chunkScalars += 1
      } else if inChunk {
        words.append(WordSpan(start: runStart, end: index))
        runStart = index
        inChunk = false
      }
      previous = value
      index += length
    }
    if runStart < end { words.append(WordSpan(start: runStart, end: end)) }
  }
}

/// Counts words like `WordList` without keeping them.
struct WordCounter: TokenSink {
  private var list: WordList
  private(set) var count = 0

  init(base: UnsafePointer<UInt8>, spaceless: Bool) {
    list = WordList(base: base, spaceless: spaceless, into: SpanBuffer())
  }

  mutating func token(_ start: Int, _ end: Int, ascii: Bool) {
    list.token(start, end, ascii: ascii)
    count += list.words.count
    list.words.removeAll()
  }

  mutating func whitespace(_ start: Int, _ end: Int) {}
}

/// spaCy's sentencizer over the splitter's tokens.
struct SentenceCounter: TokenSink {
  private let base: UnsafePointer<UInt8>
  private let recordsEnds: Bool
  private let sentencePunctuation = SentenceCounter.punctuation
  private(set) var sentences = 0
  private(set) var ends: [Int] = []
  private var seenEnd = false
  private var lastEnd = 0

  static let punctuation = ScalarSet(ranges: WordTables.sentencePunctuation)

  init(base: UnsafePointer<UInt8>, recordsEnds: Bool) {
    self.base = base
    self.recordsEnds = recordsEnds
  }

  mutating func token(_ start: Int, _ end: Int, ascii: Bool) {
    let buffer = UnsafeBufferPointer(start: base, count: end)
    let (first, firstLength) = UTF8Scanning.decode(buffer, at: start)
    let isSentenceMark = start + firstLength == end && sentencePunctuation.contains(first)
    if sentences == 0 {
      sentences = 1
    } else if seenEnd && !isSentenceMark && !isPunctuation(start, end) {
      startSentence()
    }
    if isSentenceMark { seenEnd = true }
    lastEnd = end
  }

  mutating func whitespace(_ start: Int, _ end: Int) {
    if sentences == 0 {
      sentences = 1
    } else if seenEnd {
      startSentence()
    }
    lastEnd = end
  }

  private mutating func startSentence() {
    sentences += 1
    seenEnd = false
    if recordsEnds { ends.append(lastEnd) }
  }

  /// spaCy's `is_punct`: every character is punctuation (category P).
  private func isPunctuation(_ start: Int, _ end: Int) -> Bool {
    let buffer = UnsafeBufferPointer(start: base, count: end)
    var index = start
    while index < end {
      let (value, length) = UTF8Scanning.decode(buffer, at: index)
      if !PythonText.isPunctuation(value) { return false }
      index += length
    }
    return true
  }
}
