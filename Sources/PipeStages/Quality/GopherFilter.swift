import Glibc
public import PipeCore

/// `quality.gopher@1`: the Gopher heuristics (Rae et al. 2021, "Scaling Language Models:
/// Methods, Analysis & Insights from Training Gopher", appendix A, table A1), as datatrove's
/// `GopherRepetitionFilter` followed by `GopherQualityFilter` implement them, with the same
/// defaults, rule order and reject reasons.
///
/// Repetition rules, in order (fractions of the text's characters unless noted):
/// - `empty`: the text is empty.
/// - `dup_para_frac`, `dup_para_char_frac`: paragraphs (split at two or more newlines) that
///   repeat an earlier one, as a share of paragraphs, then of characters.
/// - `dup_line_frac`, `dup_line_char_frac`: the same for lines.
/// - `top_2_gram` ... `top_4_gram`: the most frequent word n-gram (the first seen among equals)
///   times its count, in characters of the n-gram joined with spaces.
/// - `duplicated_5_n_grams` ... `duplicated_10_n_grams`: characters of word n-grams (joined
///   without spaces) that repeat an earlier one, skipping past each repeat.
///
/// Quality rules, in order:
/// - `gopher_short_doc`, `gopher_long_doc`: words that are not only punctuation.
/// - `gopher_below_avg_threshold`, `gopher_above_avg_threshold`: their mean length.
/// - `gopher_too_many_hashes`, `gopher_too_many_ellipsis`: `#` and `...`/`…` per word.
/// - `gopher_too_many_bullets`, `gopher_too_many_end_ellipsis`: lines starting with `•` or `-`,
///   lines ending with `...` or `…`.
/// - `gopher_below_alpha_threshold`: share of words with a letter.
/// - `gopher_enough_stop_words`: distinct stop words present (case-sensitive, as datatrove).
///
/// Words are `Words.split`: datatrove's English splitting, except that Chinese and Japanese
/// count a word per character and Thai, Lao, Khmer and Myanmar are cut into word-sized chunks
/// (`splitSpacelessScripts: false` splits exactly like datatrove, where a run of ideographs is
/// one word). Every threshold is a config key; `0` turns a rule off, as `None` or `0` does in
/// datatrove.
public struct GopherFilter: RecordStage {
  /// Thresholds of the repetition rules.
  public struct Repetition: Sendable, Equatable {
    /// Largest share of duplicate lines.
    public var dupLineFrac = 0.3
    /// Largest share of duplicate paragraphs.
    public var dupParaFrac = 0.3
    /// Largest share of characters in duplicate lines.
    public var dupLineCharFrac = 0.2
    /// Largest share of characters in duplicate paragraphs.
    public var dupParaCharFrac = 0.2
    /// For n = 2, 3, 4: the largest share of characters in the most frequent n-gram.
    public var topNGramFracs: [(n: Int, frac: Double)] = [(2, 0.2), (3, 0.18), (4, 0.16)]
    /// For n = 5 ... 10: the largest share of characters in repeated n-grams.
    public var dupNGramFracs: [(n: Int, frac: Double)] = [
      (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    ]

    /// The defaults (datatrove's).
    public init() {}

    /// Whether two sets of thresholds are the same.
    public static func == (a: Repetition, b: Repetition) -> Bool {
      a.dupLineFrac == b.dupLineFrac && a.dupParaFrac == b.dupParaFrac && a.dupLineCharFrac == b.dupLineCharFrac
        && a.dupParaCharFrac == b.dupParaCharFrac
        && a.topNGramFracs.elementsEqual(b.topNGramFracs, by: { $0 == $1 })
        && a.dupNGramFracs.elementsEqual(b.dupNGramFracs, by: { $0 == $1 })
    }
  }

  /// Thresholds of the quality rules.
  public struct Quality: Sendable, Equatable {
    /// Fewest words (not counting punctuation-only words).
    public var minDocWords = 50
    /// Most words.
    public var maxDocWords = 100_000
    /// Smallest mean word length.
    public var minAvgWordLength = 3.0
    /// Largest mean word length.
    public var maxAvgWordLength = 10.0
    /// Largest number of `#`, and of ellipses, per word.
    public var maxSymbolWordRatio = 0.1
    /// Largest share of lines starting with a bullet.
    public var maxBulletLinesRatio = 0.9
    /// Largest share of lines ending with an ellipsis.
    public var maxEllipsisLinesRatio = 0.3
    /// Smallest share of words containing a letter.
    public var minAlphaWordsRatio = 0.8
    /// Fewest distinct stop words.
    public var minStopWords = 2
    /// The stop words.
    public var stopWords = ["the", "be", "to", "of", "and", "that", "have", "with"]

    /// The defaults (datatrove's).
    public init() {}
  }

  /// The repetition thresholds.
  public let repetition: Repetition
  /// The quality thresholds.
  public let quality: Quality
  /// Whether scripts written without spaces are cut into words (see `Words`).
  public let splitSpacelessScripts: Bool
  private let stopWordBytes: StopWords
  /// Buffers reused from record to record.
  private let scratch = ScratchPool { GopherScratch() }

  /// Creates the filter.
  public init(repetition: Repetition = Repetition(), quality: Quality = Quality(), splitSpacelessScripts: Bool = true) {
    self.repetition = repetition
    self.quality = quality
    self.splitSpacelessScripts = splitSpacelessScripts
    self.stopWordBytes = StopWords(Array(Set(quality.stopWords)).sorted().map { Array($0.utf8) })
  }

  /// Creates the filter from a config validated against `descriptor`.
  init(options: Options) {
    var repetition = Repetition()
    repetition.dupLineFrac = options.dupLineFrac
    repetition.dupParaFrac = options.dupParaFrac
    repetition.dupLineCharFrac = options.dupLineCharFrac
    repetition.dupParaCharFrac = options.dupParaCharFrac
    repetition.topNGramFracs = [(2, options.top2GramFrac), (3, options.top3GramFrac), (4, options.top4GramFrac)]
    repetition.dupNGramFracs = [
      (5, options.dup5GramFrac), (6, options.dup6GramFrac), (7, options.dup7GramFrac), (8, options.dup8GramFrac),
      (9, options.dup9GramFrac), (10, options.dup10GramFrac),
    ]
    var quality = Quality()
    quality.minDocWords = options.minDocWords
    quality.maxDocWords = options.maxDocWords
    quality.minAvgWordLength = options.minAvgWordLength
    quality.maxAvgWordLength = options.maxAvgWordLength
    quality.maxSymbolWordRatio = options.maxSymbolWordRatio
    quality.maxBulletLinesRatio = options.maxBulletLinesRatio
    quality.maxEllipsisLinesRatio = options.maxEllipsisLinesRatio
    quality.minAlphaWordsRatio = options.minAlphaWordsRatio
    quality.minStopWords = options.minStopWords
    quality.stopWords = options.stopWords
    self.init(repetition: repetition, quality: quality, splitSpacelessScripts: options.splitSpacelessScripts)
  }

  /// The op's config keys (datatrove's defaults).
  struct Options: ConfigSchema {
    @Setting(0.3, in: 0...1, "Largest share of lines that repeat an earlier line; 0 turns it off.")
    var dupLineFrac: Double
    @Setting(
      0.3, in: 0...1, "Largest share of paragraphs (split at blank lines) that repeat an earlier one; 0 turns it off.")
    var dupParaFrac: Double
    @Setting(0.2, in: 0...1, "Largest share of the text's characters in repeated lines; 0 turns it off.")
    var dupLineCharFrac: Double
    @Setting(0.2, in: 0...1, "Largest share of the text's characters in repeated paragraphs; 0 turns it off.")
    var dupParaCharFrac: Double
    @Setting(0.2, in: 0...1_000_000, Options.topDoc(2)) var top2GramFrac: Double
    @Setting(0.18, in: 0...1_000_000, Options.topDoc(3)) var top3GramFrac: Double
    @Setting(0.16, in: 0...1_000_000, Options.topDoc(4)) var top4GramFrac: Double
    @Setting(0.15, in: 0...1, Options.dupDoc(5)) var dup5GramFrac: Double
    @Setting(0.14, in: 0...1, Options.dupDoc(6)) var dup6GramFrac: Double
    @Setting(0.13, in: 0...1, Options.dupDoc(7)) var dup7GramFrac: Double
    @Setting(0.12, in: 0...1, Options.dupDoc(8)) var dup8GramFrac: Double
    @Setting(0.11, in: 0...1, Options.dupDoc(9)) var dup9GramFrac: Double
    @Setting(0.10, in: 0...1, Options.dupDoc(10)) var dup10GramFrac: Double
    @Setting(50, in: 0...Int.max, "Fewest words, not counting words made only of punctuation; 0 turns it off.")
    var minDocWords: Int
    @Setting(100_000, in: 0...Int.max, "Most words; 0 turns it off.") var maxDocWords: Int
    @Setting(3, in: 0...1_000_000, "Smallest mean length of those words, in characters; 0 turns it off.")
    var minAvgWordLength: Double
    @Setting(10, in: 0...1_000_000, "Largest mean length of those words; 0 turns it off.") var maxAvgWordLength: Double
    @Setting(
      0.1, in: 0...1_000_000, "Largest number of '#', and of ellipses ('...' or '…'), per word; 0 turns it off.")
    var maxSymbolWordRatio: Double
    @Setting(0.9, in: 0...1, "Largest share of lines starting with '•' or '-'; 0 turns it off.")
    var maxBulletLinesRatio: Double
    @Setting(0.3, in: 0...1, "Largest share of lines ending with '...' or '…'; 0 turns it off.")
    var maxEllipsisLinesRatio: Double
    @Setting(
      0.8, in: 0...1,
      "Smallest share of words with at least one letter (datatrove's max_non_alpha_words_ratio); 0 turns it off.")
    var minAlphaWordsRatio: Double
    @Setting(2, in: 0...Int.max, "Fewest distinct stop words in the text; 0 turns it off.") var minStopWords: Int
    @Setting(Quality().stopWords, "The stop words, matched case-sensitively against whole words.")
    var stopWords: [String]
    @Setting(
      true,
      "Count a word per Chinese or Japanese character and cut Thai-like runs into chunks; false splits like datatrove.")
    var splitSpacelessScripts: Bool

    static func topDoc(_ n: Int) -> String {
      "Largest share of the text's characters taken by the most frequent word \(n)-gram; 0 turns it off."
    }

    static func dupDoc(_ n: Int) -> String {
      "Largest share of the text's characters in word \(n)-grams that repeat an earlier one; 0 turns it off."
    }
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "quality.gopher", version: 1,
    summary: "Drop documents failing the Gopher repetition and quality heuristics (datatrove's defaults).",
    options: Options.self, make: { options in .record(GopherFilter(options: options)) })

  /// Keeps the record when it passes every rule; otherwise drops it with the first failing
  /// rule's reason and a detail such as `0.35 > 0.3`.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    record.withTextUTF8 { evaluate($0) }
  }

  /// The verdict on `text`.
  func evaluate(_ text: UnsafeBufferPointer<UInt8>) -> Verdict {
    guard !text.isEmpty else { return .drop(reason: "empty", detail: "the text is empty") }
    return scratch.with { evaluate(text, $0) }
  }

  private func evaluate(_ text: UnsafeBufferPointer<UInt8>, _ scratch: GopherScratch) -> Verdict {
    let textLength = QualityText.length(text, 0, text.count)
    if let verdict = paragraphRules(text, textLength, scratch) { return verdict }
    if let verdict = lineRules(text, textLength, scratch) { return verdict }
    Words.split(text, using: &scratch.splitter, spaceless: splitSpacelessScripts, into: scratch.words)
    let wordCount = scratch.words.count
    let topRules = repetition.topNGramFracs.filter { $0.frac > 0 && wordCount >= $0.n }
    let dupRules = repetition.dupNGramFracs.filter { $0.frac > 0 && wordCount >= $0.n }
    let measures = scratch.hashes
    scratch.words.withSpans { words in
      measures.measure(
        text, words, hashing: !topRules.isEmpty || !dupRules.isEmpty, stopWords: stopWordBytes,
        minStopWords: quality.minStopWords)
    }
    if let verdict = nGramRules(measures, topRules, dupRules, textLength, scratch.seen) { return verdict }
    return qualityRules(text, wordCount, measures.stats)
  }

  // MARK: - Repetition

  /// A drop when `measured` is over a set `limit`. The reason is built only then: the n-gram
  /// rules' reasons are interpolated strings, too costly to build for every record.
  private static func exceeds(_ measured: Double, _ limit: Double, _ reason: @autoclosure () -> String) -> Verdict? {
    guard limit > 0, measured > limit else { return nil }
    return .drop(reason: reason(), detail: "\(QualityText.format(measured)) > \(QualityText.format(limit))")
  }

  /// Paragraphs: the stripped text split at runs of two or more newlines.
  private func paragraphRules(
    _ text: UnsafeBufferPointer<UInt8>, _ textLength: Int, _ scratch: GopherScratch
  ) -> Verdict? {
    guard repetition.dupParaFrac > 0 || repetition.dupParaCharFrac > 0, let base = text.baseAddress else { return nil }
    let paragraphs = scratch.pieces
    paragraphs.removeAll()
    let (start, end) = QualityText.strip(text, 0, text.count)
    var paragraphStart = start
    var index = start
    // Jump from newline to newline (memchr) rather than test every byte.
    while index < end, let hit = memchr(base + index, 0x0A, end - index) {
      let newline = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
      if newline + 1 < end, text[newline + 1] == 0x0A {
        var after = newline + 2
        while after < end && text[after] == 0x0A { after += 1 }
        paragraphs.append(WordSpan(start: paragraphStart, end: newline))
        paragraphStart = after
        index = after
      } else {
        index = newline + 1
      }
    }
    paragraphs.append(WordSpan(start: paragraphStart, end: end))
    let (duplicates, duplicateChars) = Self.repeats(in: text, paragraphs, scratch)
    if let verdict = Self.exceeds(
      Double(duplicates) / Double(paragraphs.count), repetition.dupParaFrac, "dup_para_frac")
    {
      return verdict
    }
    return Self.exceeds(
      Double(duplicateChars) / Double(textLength), repetition.dupParaCharFrac, "dup_para_char_frac")
  }

  /// Lines: the text split at runs of newlines (empty first or last lines included).
  private func lineRules(_ text: UnsafeBufferPointer<UInt8>, _ textLength: Int, _ scratch: GopherScratch) -> Verdict? {
    guard repetition.dupLineFrac > 0 || repetition.dupLineCharFrac > 0, let base = text.baseAddress else { return nil }
    let lines = scratch.pieces
    lines.removeAll()
    var lineStart = 0
    var index = 0
    let end = text.count
    while index < end, let hit = memchr(base + index, 0x0A, end - index) {
      index = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
      lines.append(WordSpan(start: lineStart, end: index))
      while index < end && text[index] == 0x0A { index += 1 }
      lineStart = index
    }
    lines.append(WordSpan(start: lineStart, end: end))
    let (duplicates, duplicateChars) = Self.repeats(in: text, lines, scratch)
    if let verdict = Self.exceeds(Double(duplicates) / Double(lines.count), repetition.dupLineFrac, "dup_line_frac") {
      return verdict
    }
    return Self.exceeds(
      Double(duplicateChars) / Double(textLength), repetition.dupLineCharFrac, "dup_line_char_frac")
  }

  /// The pieces (lines or paragraphs, in order) equal to an earlier piece, and their
  /// characters. Only pieces whose byte length another piece shares are hashed: a piece with a
  /// length of its own can neither repeat nor be repeated, and most lines of prose have one.
  private static func repeats(
    in text: UnsafeBufferPointer<UInt8>, _ pieces: SpanBuffer, _ scratch: GopherScratch
  ) -> (count: Int, characters: Int) {
    guard let base = text.baseAddress, pieces.count > 1 else { return (0, 0) }
    let lengths = scratch.lengths
    lengths.removeAll(expected: pieces.count)
    var shared = false
    for index in 0..<pieces.count {
      let piece = pieces[index]
      if lengths.add(UInt64(piece.end &- piece.start), at: index).count > 1 { shared = true }
    }
    guard shared else { return (0, 0) }
    let seen = scratch.seen
    seen.removeAll(expected: pieces.count)
    var count = 0
    var characters = 0
    for index in 0..<pieces.count {
      let piece = pieces[index]
      let length = piece.end &- piece.start
      guard lengths.count(of: UInt64(length)) > 1 else { continue }
      if !seen.insert(FastHash.hash(base + piece.start, length)) {
        count += 1
        characters += QualityText.length(text, piece.start, piece.end)
      }
    }
    return (count, characters)
  }

  private func nGramRules(
    _ hashes: NGramHashes, _ topRules: [(n: Int, frac: Double)], _ dupRules: [(n: Int, frac: Double)],
    _ textLength: Int, _ seen: HashTable64
  ) -> Verdict? {
    let words = hashes.count
    for rule in topRules {
      seen.removeAll(expected: words)
      let top = hashes.mostFrequent(rule.n, using: seen)
      // The n-gram joined with spaces, times its count.
      let characters = (hashes.characters(top.first, top.first + rule.n) + rule.n - 1) * top.count
      if let verdict = Self.exceeds(Double(characters) / Double(textLength), rule.frac, "top_\(rule.n)_gram") {
        return verdict
      }
    }
    for rule in dupRules {
      seen.removeAll(expected: words)
      let characters = hashes.repeatedCharacters(rule.n, using: seen, limit: rule.frac * Double(textLength))
      if let verdict = Self.exceeds(
        Double(characters) / Double(textLength), rule.frac, "duplicated_\(rule.n)_n_grams")
      {
        return verdict
      }
    }
    return nil
  }

  // MARK: - Quality

  private func qualityRules(_ text: UnsafeBufferPointer<UInt8>, _ wordCount: Int, _ stats: WordStats) -> Verdict {
    if quality.minDocWords > 0 && stats.nonSymbolWords < quality.minDocWords {
      return .drop(reason: "gopher_short_doc", detail: "\(stats.nonSymbolWords) < \(quality.minDocWords)")
    }
    if quality.maxDocWords > 0 && stats.nonSymbolWords > quality.maxDocWords {
      return .drop(reason: "gopher_long_doc", detail: "\(stats.nonSymbolWords) > \(quality.maxDocWords)")
    }
    if stats.nonSymbolWords > 0 {
      // numpy's mean of no words is NaN, which passes both limits.
      let mean = Double(stats.nonSymbolCharacters) / Double(stats.nonSymbolWords)
      if quality.minAvgWordLength > 0 && mean < quality.minAvgWordLength {
        return .drop(
          reason: "gopher_below_avg_threshold",
          detail: "\(QualityText.format(mean)) < \(QualityText.format(quality.minAvgWordLength))")
      }
      if quality.maxAvgWordLength > 0 && mean > quality.maxAvgWordLength {
        return .drop(
          reason: "gopher_above_avg_threshold",
          detail: "\(QualityText.format(mean)) > \(QualityText.format(quality.maxAvgWordLength))")
      }
    }
    // datatrove divides by zero here when a text has no words at all; such a text passes.
    if wordCount > 0 {
      let hashes = Double(QualityText.count(byte: UInt8(ascii: "#"), in: text)) / Double(wordCount)
      if let verdict = Self.exceeds(hashes, quality.maxSymbolWordRatio, "gopher_too_many_hashes") { return verdict }
      let ellipses =
        Double(QualityText.count(Self.threeDots, in: text) + QualityText.count(Self.ellipsis, in: text))
        / Double(wordCount)
      if let verdict = Self.exceeds(ellipses, quality.maxSymbolWordRatio, "gopher_too_many_ellipsis") {
        return verdict
      }
    }
    if quality.maxBulletLinesRatio > 0 || quality.maxEllipsisLinesRatio > 0 {
      var lines = 0
      var bullets = 0
      var ellipsisEnds = 0
      QualityText.forEachLine(text, 0, text.count) { start, end in
        lines += 1
        let (low, high) = QualityText.strip(text, start, end)
        if low < high {
          let first = UTF8Scanning.decode(text, at: low).value
          if first == 0x2022 || first == 0x2D { bullets += 1 }
          if QualityText.hasSuffix(text, low, high, Self.threeDots)
            || QualityText.hasSuffix(text, low, high, Self.ellipsis)
          {
            ellipsisEnds += 1
          }
        }
      }
      if lines > 0 {
        if let verdict = Self.exceeds(
          Double(bullets) / Double(lines), quality.maxBulletLinesRatio, "gopher_too_many_bullets")
        {
          return verdict
        }
        if let verdict = Self.exceeds(
          Double(ellipsisEnds) / Double(lines), quality.maxEllipsisLinesRatio, "gopher_too_many_end_ellipsis")
        {
          return verdict
        }
      }
    }
    if quality.minAlphaWordsRatio > 0 && wordCount > 0 {
      let ratio = Double(stats.alphaWords) / Double(wordCount)
      if ratio < quality.minAlphaWordsRatio {
        return .drop(
          reason: "gopher_below_alpha_threshold",
          detail: "\(QualityText.format(ratio)) < \(QualityText.format(quality.minAlphaWordsRatio))")
      }
    }
    if quality.minStopWords > 0 && stats.stopWords < quality.minStopWords {
      return .drop(reason: "gopher_enough_stop_words", detail: "\(stats.stopWords) < \(quality.minStopWords)")
    }
    return .keep
  }

  private static let threeDots = Array("...".utf8)
  private static let ellipsis = Array("…".utf8)
}

// MARK: - Per-word measures

/// The stop words, prepared once per filter.
struct StopWords: Sendable {
  /// Their bytes.
  let words: [[UInt8]]
  /// The longest, in bytes.
  let maxLength: Int
  /// Whether they are at most 64 words of at most 8 bytes, compared as `keys`.
  let packs: Bool
  /// Each word's bytes packed into an integer, first byte highest.
  let keys: [UInt64]

  init(_ words: [[UInt8]]) {
    self.words = words
    maxLength = words.map(\.count).max() ?? 0
    packs = words.count <= 64 && maxLength <= 8
    keys = packs ? words.map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } } : []
  }
}

/// What the quality rules need to know about the words.
struct WordStats {
  /// Words with at least one character outside datatrove's punctuation set.
  var nonSymbolWords = 0
  /// Their total length in characters.
  var nonSymbolCharacters = 0
  /// Words with at least one letter.
  var alphaWords = 0
  /// Distinct stop words seen (counting stops once `minStopWords` is reached).
  var stopWords = 0
}

/// Character classes of datatrove's word measures.
final class WordClasses: @unchecked Sendable {
  static let shared = WordClasses()
  static let punctuation: UInt8 = 1
  static let letter: UInt8 = 2
  /// A byte of a multi-byte scalar: the word needs decoding.
  static let nonASCII: UInt8 = 4

  /// datatrove's `PUNCTUATION_SET`.
  let punctuation = ScalarSet(ranges: WordTables.datatrovePunctuation)
  /// Flags of each byte value (256 entries, immutable, never freed: the classes live as long as
  /// the process). Raw memory so the per-byte loop pays no bounds check.
  let bytes: UnsafeMutablePointer<UInt8>

  private init() {
    bytes = .allocate(capacity: 256)
    bytes.initialize(repeating: Self.nonASCII, count: 256)
    for byte in 0..<128 {
      var flags: UInt8 = 0
      if punctuation.contains(UInt32(byte)) { flags |= Self.punctuation }
      if PythonText.isAlpha(UInt32(byte)) { flags |= Self.letter }
      bytes[byte] = flags
    }
  }
}

/// Hashes of every run of words, from prefix sums (see `PolynomialHash`). One object serves
/// record after record (`measure` reuses its buffers).
final class NGramHashes {
  /// The number of words.
  private(set) var count = 0
  private var capacity = 0
  /// Hash of the first k words joined without separators.
  private var joined: UnsafeMutablePointer<UInt64>
  /// Bytes in the first k words: a run's hash is taken out of `joined` with `base` to the
  /// power of its byte length (from a table), so no per-word powers or inverses are kept.
  private var offsets: UnsafeMutablePointer<UInt32>
  /// Hash of the sequence of the first k word hashes.
  private var sequence: UnsafeMutablePointer<UInt64>
  /// Characters in the first k words.
  private var lengths: UnsafeMutablePointer<UInt32>
  /// Per position, the n of the last `mostFrequent` pass that found the n-gram starting there
  /// repeated (an n-gram can only repeat where its shorter prefixes do).
  private var repeatedIn: UnsafeMutablePointer<Int32>
  /// The n of the last `mostFrequent` pass over this text (0: none yet).
  private var markedBy = 0
  /// `PolynomialHash.runPowers`, read once.
  private let powers = PolynomialHash.runPowers

  /// The per-word measures, taken in the same pass.
  private(set) var stats = WordStats()

  /// Creates empty buffers.
  init() {
    joined = .allocate(capacity: 0)
    offsets = .allocate(capacity: 0)
    sequence = .allocate(capacity: 0)
    lengths = .allocate(capacity: 0)
    repeatedIn = .allocate(capacity: 0)
  }

  /// Measures `words` of `text`, replacing what was measured before; hashes them only when
  /// `hashing` (the n-gram rules need it).
  func measure(
    _ text: UnsafeBufferPointer<UInt8>, _ words: UnsafeBufferPointer<WordSpan>, hashing: Bool,
    stopWords table: StopWords, minStopWords: Int
  ) {
    count = words.count
    markedBy = 0
    let slots = hashing ? count + 1 : 1
    if slots > capacity { reserve(max(slots, capacity * 2)) }
    joined[0] = 0
    offsets[0] = 0
    sequence[0] = 0
    lengths[0] = 0
    if hashing { repeatedIn.update(repeating: 0, count: slots) }
    let classes = WordClasses.shared
    let flagsOf = classes.bytes
    let stopWords = table.words
    let maxStopLength = table.maxLength
    // Distinct stop words seen: a bit each for the first 64, a set for any others.
    var seenStops: UInt64 = 0
    var seenMoreStops = Set<Int>()
    // Up to 64 stop words of up to 8 bytes (the usual case) are compared as packed integers.
    let packsStops = table.packs
    let stopKeys = table.keys
    var stats = WordStats()
    let base = PolynomialHash.base
    let baseSquared = base &* base
    let wordBase = PolynomialHash.wordBase
    let powers = self.powers
    guard let bytes = text.baseAddress else {
      self.stats = stats
      return
    }
    var joinedSum: UInt64 = 0
    var offsetSum: UInt32 = 0
    var sequenceSum: UInt64 = 0
    var lengthSum: UInt32 = 0
    for k in 0..<count {
      let word = words[k]
      let start = word.start
      let length = word.end &- start
      var hash: UInt64 = 0
      // One pass over the bytes: the hash, and the union and intersection of byte classes.
      // Two bytes a step (h·B² + (b₀+1)·B + b₁+1, the same value as two single steps), so the
      // chain of dependent multiplications is half as long.
      var all: UInt8 = 0xFF
      var any: UInt8 = 0
      var index = 0
      while index &+ 1 < length {
        let first = bytes[start &+ index]
        let second = bytes[start &+ index &+ 1]
        hash = hash &* baseSquared &+ (UInt64(first) &+ 1) &* base &+ UInt64(second) &+ 1
        let flags = flagsOf[Int(first)]
        let nextFlags = flagsOf[Int(second)]
        all &= flags & nextFlags
        any |= flags | nextFlags
        index &+= 2
      }
      if index < length {
        let byte = bytes[start &+ index]
        hash = hash &* base &+ UInt64(byte) &+ 1
        let flags = flagsOf[Int(byte)]
        all &= flags
        any |= flags
      }
      var characters = length
      var allPunctuation = all & WordClasses.punctuation != 0
      var hasLetter = any & WordClasses.letter != 0
      if any & WordClasses.nonASCII != 0 {
        // Rare: decode the scalars and test them against the Unicode classes.
        characters = 0
        allPunctuation = true
        hasLetter = false
        index = start
        while index < word.end {
          let byte = bytes[index]
          if byte < 0x80 {
            let flags = flagsOf[Int(byte)]
            if flags & WordClasses.punctuation == 0 { allPunctuation = false }
            if flags & WordClasses.letter != 0 { hasLetter = true }
            characters &+= 1
          } else if byte & 0xC0 != 0x80 {
            characters &+= 1
            if allPunctuation || !hasLetter {
              let (value, _) = UTF8Scanning.decode(text, at: index)
              if allPunctuation && !classes.punctuation.contains(value) { allPunctuation = false }
              if !hasLetter && PythonText.isAlpha(value) { hasLetter = true }
            }
          }
          index &+= 1
        }
      }
      if !allPunctuation {
        stats.nonSymbolWords &+= 1
        stats.nonSymbolCharacters &+= characters
      }
      if hasLetter { stats.alphaWords &+= 1 }
      if stats.stopWords < minStopWords && length <= maxStopLength && packsStops {
        // Compare as integers: the word's bytes packed like the stop words'.
        var packed: UInt64 = 0
        for offset in 0..<length { packed = packed << 8 | UInt64(bytes[start &+ offset]) }
        for stopIndex in 0..<stopKeys.count
        where stopKeys[stopIndex] == packed && stopWords[stopIndex].count == length
          && seenStops & (1 << UInt64(stopIndex)) == 0
        {
          seenStops |= 1 << UInt64(stopIndex)
          stats.stopWords &+= 1
        }
      } else if stats.stopWords < minStopWords && length <= maxStopLength {
        for (stopIndex, stop) in stopWords.enumerated()
        where stop.count == length && QualityText.hasPrefix(text, start, word.end, stop) {
          if stopIndex < 64 {
            if seenStops & (1 << UInt64(stopIndex)) != 0 { continue }
            seenStops |= 1 << UInt64(stopIndex)
          } else {
            if seenMoreStops.contains(stopIndex) { continue }
            seenMoreStops.insert(stopIndex)
          }
          stats.stopWords &+= 1
        }
      }
      if hashing {
        // The running sums stay in registers: read back from the arrays, each would wait for
        // the store before it.
        joinedSum = joinedSum &* PolynomialHash.power(bytes: length, from: powers) &+ hash
        offsetSum &+= UInt32(truncatingIfNeeded: length)
        sequenceSum = sequenceSum &* wordBase &+ hash
        lengthSum &+= UInt32(truncatingIfNeeded: characters)
        joined[k &+ 1] = joinedSum
        offsets[k &+ 1] = offsetSum
        sequence[k &+ 1] = sequenceSum
        lengths[k &+ 1] = lengthSum
      }
    }
    self.stats = stats
  }

  private func reserve(_ slots: Int) {
    release()
    capacity = slots
    joined = .allocate(capacity: slots)
    offsets = .allocate(capacity: slots)
    sequence = .allocate(capacity: slots)
    lengths = .allocate(capacity: slots)
    repeatedIn = .allocate(capacity: slots)
  }

  private func release() {
    joined.deallocate()
    offsets.deallocate()
    sequence.deallocate()
    lengths.deallocate()
    repeatedIn.deallocate()
  }

  deinit { release() }

  /// Characters in words `from..<to`.
  @inline(__always)
  func characters(_ from: Int, _ to: Int) -> Int { Int(lengths[to] &- lengths[from]) }

  /// The hash of words `from..<to` joined without separators (equal text, equal hash).
  @inline(__always)
  func joinedHash(_ from: Int, _ to: Int) -> UInt64 {
    joined[to] &- joined[from] &* PolynomialHash.power(bytes: Int(offsets[to] &- offsets[from]), from: powers)
  }

  /// The most frequent n-gram (the first seen among equally frequent ones): where it first
  /// occurs and how often.
  ///
  /// An n-gram can only repeat where its prefixes repeat, so after a pass for a smaller n only
  /// the positions that pass found repeated are counted; when nothing repeats, every n-gram
  /// occurs once and the first one wins, as in a full count.
  func mostFrequent(_ n: Int, using table: HashTable64) -> (first: Int, count: Int) {
    let shift = PolynomialHash.power(PolynomialHash.wordBase, n)
    let pruned = markedBy > 0 && markedBy < n
    let previous = Int32(truncatingIfNeeded: markedBy)
    let mark = Int32(truncatingIfNeeded: n)
    var best = (first: 0, count: 0)
    for start in 0...(count - n) {
      if pruned && repeatedIn[start] != previous { continue }
      let key = sequence[start &+ n] &- sequence[start] &* shift
      let (seen, first) = table.add(key, at: start)
      if seen > 1 {
        repeatedIn[start] = mark
        repeatedIn[first] = mark
      }
      if seen > best.count || (seen == best.count && first < best.first) {
        best = (first, seen)
      }
    }
    markedBy = n
    return best.count > 1 ? best : (0, 1)
  }

  /// Characters of n-grams that repeat an earlier one, scanning left to right and jumping past
  /// each repeat (datatrove's `find_all_duplicate`). The scan stops once the answer is known to
  /// be above `limit` or, since every character is counted at most once, once what is left
  /// cannot take it there; the result then compares with `limit` like the complete one.
  func repeatedCharacters(_ n: Int, using table: HashTable64, limit: Double = .infinity) -> Int {
    var repeated = 0
    var start = 0
    let total = characters(0, count)
    while start < count &- n &+ 1 {
      if table.insert(joinedHash(start, start &+ n)) {
        start &+= 1
      } else {
        repeated &+= characters(start, start &+ n)
        start &+= n
        if Double(repeated) > limit { return repeated }
      }
      // Checked every 64 words: cheap, and precise enough to end most scans early.
      if start & 63 == 0 && Double(repeated &+ total &- characters(0, start)) <= limit { return repeated }
    }
    return repeated
  }
}

/// What one evaluation of `GopherFilter` reuses (see `ScratchPool`).
final class GopherScratch {
  /// Line, paragraph and n-gram hashes of the record.
  let seen = HashTable64(expected: 1024)
  var splitter = EnglishWordSplitter()
  let words = SpanBuffer(capacity: 1024)
  let hashes = NGramHashes()
  /// The record's lines or paragraphs, and how many of them have each byte length.
  let pieces = SpanBuffer(capacity: 256)
  let lengths = HashTable64(expected: 256)
}
