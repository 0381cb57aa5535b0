public import PipeCore

/// `quality.fineweb@1`: the FineWeb quality heuristics (Penedo et al. 2024, "The FineWeb
/// Datasets", section 3.3), as datatrove's `FineWebQualityFilter` implements them, with its
/// defaults, rule order and reasons. Lines are the text split at `\n`, without blank ones.
///
/// - `empty`: no line has anything but whitespace.
/// - `line_punct_ratio`: too few lines end with terminal punctuation (datatrove's
///   `TERMINAL_PUNCTUATION`, about 150 sentence-final marks of many scripts, or `stopChars`).
/// - `short_line_ratio`: too many lines are at most `shortLineLength` characters long.
/// - `char_dup_ratio`: too many characters (of the text without newlines) are in lines that
///   repeat an earlier line.
/// - `list_ratio`: too many newlines per word (`Words.split`: a word per Chinese or Japanese
///   character unless `splitSpacelessScripts` is false, which splits exactly like datatrove).
public struct FineWebFilter: RecordStage {
  /// Smallest share of lines ending with a stop character.
  public var linePunctThr = 0.12
  /// Whether a text with no such line at all passes that rule.
  public var linePunctExcludeZero = false
  /// The stop characters; `nil` for datatrove's terminal punctuation.
  public var stopChars: [String]? = nil
  /// Largest share of short lines.
  public var shortLineThr = 0.67
  /// The longest line, in characters, that counts as short.
  public var shortLineLength = 30
  /// Largest share of characters in repeated lines.
  public var charDuplicatesRatio = 0.01
  /// Largest number of newlines per word.
  public var newLineRatio = 0.3
  /// Whether scripts written without spaces are cut into words (see `Words`).
  public var splitSpacelessScripts = true

  /// Word splitters (and their caches) reused from record to record.
  private let splitters = ScratchPool { SplitterBox() }

  /// Creates the filter with datatrove's defaults.
  public init() {}

  /// Creates the filter from a config validated against `descriptor`.
  init(options: Options) {
    linePunctThr = options.linePunctThr
    linePunctExcludeZero = options.linePunctExcludeZero
    stopChars = options.stopChars
    shortLineThr = options.shortLineThr
    shortLineLength = options.shortLineLength
    charDuplicatesRatio = options.charDuplicatesRatio
    newLineRatio = options.newLineRatio
    splitSpacelessScripts = options.splitSpacelessScripts
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      0.12, in: 0...1, "Drop documents where fewer lines than this share end with a stop character (line_punct_ratio).")
    var linePunctThr: Double
    @Setting(false, "Let documents where no line ends with a stop character pass the line_punct_ratio rule.")
    var linePunctExcludeZero: Bool
    @Setting(nil, "Line endings that count as punctuation; null for datatrove's TERMINAL_PUNCTUATION.")
    var stopChars: [String]?
    @Setting(0.67, in: 0...1, "Drop documents where more lines than this share are short (short_line_ratio).")
    var shortLineThr: Double
    @Setting(30, in: 0...Int.max, "The longest line, in characters, that counts as short.") var shortLineLength: Int
    @Setting(
      0.01, in: 0...1, "Drop documents where more than this share of characters is in repeated lines (char_dup_ratio).")
    var charDuplicatesRatio: Double
    @Setting(0.3, in: 0...1_000_000, "Drop documents with more newlines per word than this (list_ratio).")
    var newLineRatio: Double
    @Setting(
      true,
      "Count a word per Chinese or Japanese character and cut Thai-like runs into chunks; false splits like datatrove.")
    var splitSpacelessScripts: Bool
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "quality.fineweb", version: 1,
    summary: "Drop documents failing FineWeb's line-punctuation, short-line, duplicate-line and list heuristics.",
    options: Options.self,
    make: { options in .record(FineWebFilter(options: options)) })

  private static let terminalPunctuation = ScalarSet(ranges: WordTables.terminalPunctuation)

  /// Keeps the record when it passes every rule; otherwise drops it with the first failing
  /// rule's reason and a detail such as `0.05 < 0.12`.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    record.withTextUTF8 { evaluate($0) }
  }

  /// The verdict on `text`.
  func evaluate(_ text: UnsafeBufferPointer<UInt8>) -> Verdict {
    guard let base = text.baseAddress else { return .drop(reason: "empty", detail: "the text is empty") }
    let customStops = stopChars?.map { Array($0.utf8) }
    var lines = 0
    var punctuated = 0
    var short = 0
    var newlines = 0
    var lineStart = 0
    var ranges: [(Int, Int)] = []
    func add(_ start: Int, _ end: Int) {
      let (low, high) = QualityText.strip(text, start, end)
      guard low < high else { return }
      lines += 1
      ranges.append((start, end))
      if let customStops {
        // Python's `str.endswith(tuple)`.
        if customStops.contains(where: { QualityText.hasSuffix(text, start, end, $0) }) { punctuated += 1 }
      } else if Self.terminalPunctuation.contains(QualityText.lastScalar(text, start, end)) {
        punctuated += 1
      }
      if QualityText.length(text, start, end) <= shortLineLength { short += 1 }
    }
    for index in 0..<text.count where text[index] == 0x0A {
      add(lineStart, index)
      lineStart = index + 1
      newlines += 1
    }
    add(lineStart, text.count)
    guard lines > 0 else { return .drop(reason: "empty", detail: "no line has text") }
    let punctRatio = Double(punctuated) / Double(lines)
    if punctRatio < linePunctThr && !(punctRatio == 0 && linePunctExcludeZero) {
      return .drop(
        reason: "line_punct_ratio",
        detail: "\(QualityText.format(punctRatio)) < \(QualityText.format(linePunctThr))")
    }
    let shortRatio = Double(short) / Double(lines)
    if shortRatio > shortLineThr {
      return .drop(
        reason: "short_line_ratio", detail: "\(QualityText.format(shortRatio)) > \(QualityText.format(shortLineThr))")
    }
    let seen = HashTable64(expected: lines)
    var duplicateChars = 0
    for (start, end) in ranges where !seen.insert(FastHash.hash(base + start, end - start)) {
      duplicateChars += QualityText.length(text, start, end)
    }
    let charsWithoutNewlines = QualityText.length(text, 0, text.count) - newlines
    let duplicateRatio = Double(duplicateChars) / Double(charsWithoutNewlines)
    if duplicateRatio > charDuplicatesRatio {
      return .drop(
        reason: "char_dup_ratio",
        detail: "\(QualityText.format(duplicateRatio)) > \(QualityText.format(charDuplicatesRatio))")
    }
    let words = splitters.with { Words.count(text, using: &$0.splitter, spaceless: splitSpacelessScripts) }
    // A text with a non-blank line has at least one word.
    let listRatio = Double(newlines) / Double(max(words, 1))
    if listRatio > newLineRatio {
      return .drop(
        reason: "list_ratio", detail: "\(QualityText.format(listRatio)) > \(QualityText.format(newLineRatio))")
    }
    return .keep
  }
}
