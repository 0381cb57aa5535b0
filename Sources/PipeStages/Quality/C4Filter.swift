public import PipeCore

/// `quality.c4@1`: the C4 cleaning heuristics (Raffel et al. 2020, "Exploring the Limits of
/// Transfer Learning with a Unified Text-to-Text Transformer", section 2.2), as datatrove's
/// `C4QualityFilter` implements them, with its defaults. Like datatrove it *edits* the text:
/// a kept record gets only its kept lines.
///
/// Line by line (lines as Python's `splitlines`, each stripped of surrounding whitespace):
/// 1. A line with a whitespace-separated word longer than `maxWordLength` is removed.
/// 2. Wikipedia-style citations (`[1]`, `[edit]`, `[citation needed]`) are deleted.
/// 3. A line that does not end with `.` `?` `!` `"` or `'`, or ends with `...`, is removed.
/// 4. A line with fewer than `minWordsPerLine` words is removed.
/// 5. "lorem ipsum" anywhere drops the document (`lorem_ipsum`).
/// 6. A line mentioning "javascript" is removed.
/// 7. A `{` drops the document (`curly_bracket`).
/// 8. A line with a policy phrase ("terms of use", "privacy policy", "cookie policy",
///    "uses cookies", "use of cookies", "use cookies") is removed.
///
/// Then a document whose kept lines hold fewer than `minNumSentences` sentences is dropped
/// (`too_few_sentences`); sentences are counted by `Words.sentenceCount` (spaCy's rule, as
/// datatrove). The kept lines are joined with newlines and the result stripped.
/// Case-insensitive matches fold ASCII letters only (Python's `lower()` also folds, for
/// example, the Kelvin sign).
public struct C4Filter: RecordStage {
  /// Split into lines (C4's behaviour) rather than into sentences.
  public var splitParagraph = true
  /// Delete Wikipedia-style citations.
  public var removeCitations = true
  /// Remove lines without terminal punctuation.
  public var filterNoTerminalPunct = true
  /// Fewest sentences a kept document has; -1 turns it off.
  public var minNumSentences = 5
  /// Fewest words a kept line has; -1 turns it off.
  public var minWordsPerLine = 3
  /// Longest word a kept line has, in characters; -1 turns it off.
  public var maxWordLength = 1000
  /// Drop documents containing "lorem ipsum".
  public var filterLoremIpsum = true
  /// Remove lines mentioning "javascript".
  public var filterJavascript = true
  /// Drop documents containing `{`.
  public var filterCurlyBracket = true
  /// Remove lines with a policy phrase.
  public var filterPolicy = true

  /// Word splitters (and their caches) reused from record to record.
  private let splitters = ScratchPool { SplitterBox() }

  /// Creates the filter with datatrove's defaults.
  public init() {}

  /// Creates the filter from a config validated against `descriptor`.
  init(options: Options) {
    splitParagraph = options.splitParagraph
    removeCitations = options.removeCitations
    filterNoTerminalPunct = options.filterNoTerminalPunct
    minNumSentences = options.minNumSentences
    minWordsPerLine = options.minWordsPerLine
    maxWordLength = options.maxWordLength
    filterLoremIpsum = options.filterLoremIpsum
    filterJavascript = options.filterJavascript
    filterCurlyBracket = options.filterCurlyBracket
    filterPolicy = options.filterPolicy
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      true, "Apply the line rules to lines (C4); false applies them to sentences and joins kept ones with spaces.")
    var splitParagraph: Bool
    @Setting(true, "Delete citations such as [1], [edit] and [citation needed].") var removeCitations: Bool
    @Setting(true, "Remove lines not ending with . ? ! \" or ', or ending with an ellipsis.")
    var filterNoTerminalPunct: Bool
    @Setting(
      5, in: -1...Int.max, "Drop documents whose kept lines hold fewer sentences (too_few_sentences); -1 turns it off.")
    var minNumSentences: Int
    @Setting(3, in: -1...Int.max, "Remove lines with fewer whitespace-separated words; -1 turns it off.")
    var minWordsPerLine: Int
    @Setting(1000, in: -1...Int.max, "Remove lines with a word longer than this many characters; -1 turns it off.")
    var maxWordLength: Int
    @Setting(true, "Drop documents containing \"lorem ipsum\" (lorem_ipsum).") var filterLoremIpsum: Bool
    @Setting(true, "Remove lines mentioning \"javascript\".") var filterJavascript: Bool
    @Setting(true, "Drop documents containing '{' (curly_bracket).") var filterCurlyBracket: Bool
    @Setting(true, "Remove lines with \"terms of use\", \"privacy policy\", \"cookie policy\" or cookie notices.")
    var filterPolicy: Bool
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "quality.c4", version: 1,
    summary: "Remove C4's bad lines and drop documents failing C4's heuristics; kept records get the cleaned text.",
    options: Options.self,
    make: { options in .record(C4Filter(options: options)) })

  /// Keeps the record with its cleaned text, or drops it with `lorem_ipsum`, `curly_bracket`
  /// or `too_few_sentences`.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let outcome = record.withTextUTF8 { evaluate($0) }
    switch outcome {
    case .drop(let reason, let detail):
      return .drop(reason: reason, detail: detail)
    case .keepUnchanged:
      return .keep
    case .keep(let cleaned):
      record.text = String(decoding: cleaned, as: UTF8.self)
      return .keep
    }
  }

  /// What happens to one text.
  enum Outcome: Equatable {
    case drop(reason: String, detail: String)
    case keepUnchanged
    case keep(cleaned: [UInt8])
  }

  /// The outcome for `text`.
  func evaluate(_ text: UnsafeBufferPointer<UInt8>) -> Outcome {
    splitters.with { evaluate(text, &$0.splitter) }
  }

  private func evaluate(_ text: UnsafeBufferPointer<UInt8>, _ splitter: inout EnglishWordSplitter) -> Outcome {
    var state = LineState()
    if splitParagraph {
      var stop: Outcome?
      QualityText.forEachLine(text, 0, text.count) { start, end in
        if stop == nil { stop = consider(text, start, end, &state, &splitter) }
      }
      if let stop { return stop }
    } else {
      // Sentences: the text cut at each sentence's end; the last part runs to the text's end.
      var start = 0
      for end in Words.sentenceEnds(text, using: &splitter) + [text.count] {
        if let stop = consider(text, start, end, &state, &splitter) { return stop }
        start = end
      }
    }
    if minNumSentences != -1 && state.sentences < minNumSentences {
      return .drop(reason: "too_few_sentences", detail: "\(state.sentences) < \(minNumSentences)")
    }
    var cleaned: [UInt8] = []
    cleaned.reserveCapacity(text.count)
    for (index, line) in state.kept.enumerated() {
      if index > 0 { cleaned.append(splitParagraph ? 0x0A : 0x20) }
      switch line {
      case .range(let start, let end): cleaned.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<end]))
      case .bytes(let bytes): cleaned.append(contentsOf: bytes)
      }
    }
    let trimmed = cleaned.withUnsafeBufferPointer { QualityText.strip($0, 0, $0.count) }
    if trimmed.start > 0 || trimmed.end < cleaned.count { cleaned = Array(cleaned[trimmed.start..<trimmed.end]) }
    if cleaned.elementsEqual(text) { return .keepUnchanged }
    return .keep(cleaned: cleaned)
  }

  /// A kept line: a range of the text, or new bytes when citations were deleted.
  private enum KeptLine {
    case range(Int, Int)
    case bytes([UInt8])
  }

  private struct LineState {
    var sentences = 0
    var kept: [KeptLine] = []
  }

  /// Applies the line rules to `start..<end`; returns an outcome when the document is dropped.
  private func consider(
    _ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ state: inout LineState,
    _ splitter: inout EnglishWordSplitter
  ) -> Outcome? {
    let (low, high) = QualityText.strip(text, start, end)
    // Whitespace-separated words: their number and whether one is too long.
    var words = 0
    var tooLong = false
    var index = low
    while index < high {
      while index < high {
        let (value, length) = UTF8Scanning.decode(text, at: index)
        if !PythonText.isSpace(value) { break }
        index += length
      }
      guard index < high else { break }
      words += 1
      var characters = 0
      while index < high {
        let (value, length) = UTF8Scanning.decode(text, at: index)
        if PythonText.isSpace(value) { break }
        characters += 1
        index += length
      }
      if maxWordLength != -1 && characters > maxWordLength { tooLong = true }
    }
    if tooLong { return nil }
    var line = KeptLine.range(low, high)
    if removeCitations, let removed = Self.removingCitations(text, low, high) { line = .bytes(removed) }
    return withLineBytes(line, text) { bytes -> Outcome? in
      let count = bytes.count
      if filterNoTerminalPunct {
        guard count > 0 else { return nil }
        let last = bytes[count - 1]
        let endsWell =
          last == UInt8(ascii: ".") || last == UInt8(ascii: "?") || last == UInt8(ascii: "!")
          || last == UInt8(ascii: "\"") || last == UInt8(ascii: "'")
        if !endsWell || QualityText.hasSuffix(bytes, 0, count, Self.threeDots) { return nil }
      }
      if words < minWordsPerLine { return nil }
      // One scan finds every phrase; the rules then apply in C4's order.
      let found = Self.phrases.occurrences(in: bytes, 0, count)
      if filterLoremIpsum && found & Self.loremIpsum != 0 {
        return .drop(reason: "lorem_ipsum", detail: "a line contains \"lorem ipsum\"")
      }
      if filterJavascript && found & Self.javascript != 0 { return nil }
      if filterCurlyBracket && bytes.contains(UInt8(ascii: "{")) {
        return .drop(reason: "curly_bracket", detail: "a kept line contains '{'")
      }
      if filterPolicy && found & Self.policy != 0 { return nil }
      if minNumSentences != -1 && state.sentences < minNumSentences {
        state.sentences += splitParagraph ? max(1, Words.sentenceCount(bytes, using: &splitter)) : 1
      }
      state.kept.append(line)
      return nil
    }
  }

  private func withLineBytes<Result>(
    _ line: KeptLine, _ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Result
  ) -> Result {
    switch line {
    case .range(let start, let end): return body(UnsafeBufferPointer(rebasing: text[start..<end]))
    case .bytes(let bytes): return bytes.withUnsafeBufferPointer(body)
    }
  }

  /// The line without `[digits]`, `[edit]` and `[citation needed]`, or `nil` when it has none.
  static func removingCitations(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [UInt8]? {
    var index = start
    var result: [UInt8]?
    var copied = start
    while index < end {
      guard text[index] == UInt8(ascii: "[") else {
        index += 1
        continue
      }
      var length = 0
      var after = index + 1
      while after < end {
        let (value, scalarLength) = UTF8Scanning.decode(text, at: after)
        guard PythonText.isDecimalDigit(value) else { break }
        after += scalarLength
      }
      if after < end && text[after] == UInt8(ascii: "]") {
        length = after + 1 - index
      } else if QualityText.hasPrefix(text, index, end, edit) {
        length = edit.count
      } else if QualityText.hasPrefix(text, index, end, citationNeeded) {
        length = citationNeeded.count
      }
      if length == 0 {
        index += 1
        continue
      }
      if result == nil { result = [] }
      result?.append(contentsOf: UnsafeBufferPointer(rebasing: text[copied..<index]))
      index += length
      copied = index
    }
    guard var result else { return nil }
    result.append(contentsOf: UnsafeBufferPointer(rebasing: text[copied..<end]))
    return result
  }

  private static let edit = Array("[edit]".utf8)
  private static let citationNeeded = Array("[citation needed]".utf8)
  private static let threeDots = Array("...".utf8)
  /// The phrases the line rules look for: bit 0 "lorem ipsum", bit 1 "javascript", then the
  /// policy phrases.
  private static let phrases = CaselessPhrases([
    "lorem ipsum", "javascript",
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
  ])
  private static let loremIpsum: UInt64 = 1 << 0
  private static let javascript: UInt64 = 1 << 1
  private static let policy: UInt64 = 0b1111_1100
}

/// A word splitter that a `ScratchPool` can hold.
final class SplitterBox {
  var splitter = EnglishWordSplitter()
}
