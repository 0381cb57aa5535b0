public import PipeCore

/// `filter.length@1`: drops records whose text is too short or too long.
///
/// Characters are Unicode scalars and words follow `TextMetrics.wordCount` (each CJK ideograph
/// or kana is a word; Thai-like runs count one word per four scalars). Limits are inclusive:
/// `minChars: 50` keeps a 50-character text. Characters are checked before words, so a record
/// failing both is counted under the character reason.
public struct LengthFilter: RecordStage {
  /// Reject reason: fewer than `minChars` characters.
  public static let tooFewCharsReason = "too_few_chars"
  /// Reject reason: more than `maxChars` characters.
  public static let tooManyCharsReason = "too_many_chars"
  /// Reject reason: fewer than `minWords` words.
  public static let tooFewWordsReason = "too_few_words"
  /// Reject reason: more than `maxWords` words.
  public static let tooManyWordsReason = "too_many_words"

  /// The fewest characters kept.
  public let minChars: Int
  /// The most characters kept, or `nil` for no limit.
  public let maxChars: Int?
  /// The fewest words kept.
  public let minWords: Int
  /// The most words kept, or `nil` for no limit.
  public let maxWords: Int?

  /// Creates the filter.
  ///
  /// - Throws: `PipeError(.config)` when a minimum is negative or greater than its maximum.
  public init(minChars: Int = 0, maxChars: Int? = nil, minWords: Int = 0, maxWords: Int? = nil) throws {
    try Self.checkRange("Chars", min: minChars, max: maxChars)
    try Self.checkRange("Words", min: minWords, max: maxWords)
    self.minChars = minChars
    self.maxChars = maxChars
    self.minWords = minWords
    self.maxWords = maxWords
  }

  private static func checkRange(_ unit: String, min: Int, max: Int?) throws {
    if min < 0 || (max ?? 0) < 0 {
      throw PipeError(.config, "filter.length: min\(unit) and max\(unit) must not be negative")
    }
    if let max, min > max {
      throw PipeError(
        .config, "filter.length: min\(unit) (\(min)) is greater than max\(unit) (\(max)); no record could pass")
    }
  }

  /// Creates the filter from a config validated against `descriptor`.
  init(options: Options) throws {
    try self.init(
      minChars: options.minChars, maxChars: options.maxChars,
      minWords: options.minWords, maxWords: options.maxWords)
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(0, in: 0...Int.max, "Drop texts with fewer Unicode scalars than this.") var minChars: Int
    @Setting(nil, in: 0...Int.max, "Drop texts with more Unicode scalars than this; null for no limit.")
    var maxChars: Int?
    @Setting(0, in: 0...Int.max, "Drop texts with fewer words than this (each CJK ideograph or kana counts as a word).")
    var minWords: Int
    @Setting(nil, in: 0...Int.max, "Drop texts with more words than this; null for no limit.") var maxWords: Int?
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "filter.length", version: 1,
    summary: "Drop records whose text has too few or too many characters or words.",
    options: Options.self,
    make: { options in .record(try LengthFilter(options: options)) })

  /// Keeps the record when its length is within the limits; otherwise drops it with the
  /// reason and a detail such as `12 < 50`.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let checksChars = minChars > 0 || maxChars != nil
    let checksWords = minWords > 0 || maxWords != nil
    guard checksChars || checksWords else { return .keep }
    return record.withTextUTF8 { bytes -> Verdict in
      if checksChars {
        let count = TextMetrics.characterCount(bytes)
        if count < minChars { return .drop(reason: Self.tooFewCharsReason, detail: "\(count) < \(minChars)") }
        if let maxChars, count > maxChars {
          return .drop(reason: Self.tooManyCharsReason, detail: "\(count) > \(maxChars)")
        }
      }
      if checksWords {
        let count = TextMetrics.wordCount(bytes)
        if count < minWords { return .drop(reason: Self.tooFewWordsReason, detail: "\(count) < \(minWords)") }
        if let maxWords, count > maxWords {
          return .drop(reason: Self.tooManyWordsReason, detail: "\(count) > \(maxWords)")
        }
      }
      return .keep
    }
  }
}
