public import PipeCore

/// `lang.id@1`: identifies the natural language of each record's text.
///
/// Writes `metadata.language` (an ISO 639-1 code such as `de`, `zh`, `ja`, or `und`) and
/// `metadata.language_score` (the winner's probability, rounded to 4 decimals) with the
/// character n-gram model of `LanguageModel`, then:
/// - a score below `threshold` (and any text without letters, which is `und` with score 0) is
///   dropped with reason `language_score_below_threshold`, or with `belowThreshold: "keep"`
///   kept with language `und`; a dropped record keeps the predicted language in its metadata,
///   so the rejects show what was found;
/// - when `languages` is not empty, a record whose language (including `und`) is not listed is
///   dropped with reason `language_not_selected`, the detail naming the language.
///
/// Only the first `maxChars` scalars are classified, so enormous texts cost no more than
/// 10,000 characters by default.
public struct LanguageID: RecordStage {
  /// Reject reason: the score is below the threshold.
  public static let belowThresholdReason = "language_score_below_threshold"
  /// Reject reason: the language is not in `languages`.
  public static let notSelectedReason = "language_not_selected"
  /// The language written when none is determined.
  public static let undetermined = "und"
  /// The metadata key of the language code.
  public static let languageKey = "language"
  /// The metadata key of the score.
  public static let scoreKey = "language_score"

  /// What happens to a record whose score is below the threshold.
  public enum BelowThreshold: String, Sendable, CaseIterable {
    /// Drop it with reason `language_score_below_threshold`.
    case drop
    /// Keep it, with language `und`.
    case keep
  }

  /// The lowest score accepted, 0...1.
  public let threshold: Double
  /// What happens below the threshold.
  public let belowThreshold: BelowThreshold
  /// The languages kept; empty keeps every language.
  public let languages: Set<String>
  /// How many leading scalars are classified.
  public let maxChars: Int
  /// The model.
  public let model: LanguageModel
  /// How texts are read (version 1: all of it, every script).
  public let reading: LanguageModel.Reading

  /// Creates the stage.
  ///
  /// - Parameter model: the model to use; `nil` loads the shared one (`LanguageModel.shared()`).
  /// - Throws: `PipeError(.config)` when the model cannot be loaded, a value is out of range,
  ///   or `languages` names a language the model does not know.
  public init(
    threshold: Double = 0.65, belowThreshold: BelowThreshold = .drop, languages: [String] = [],
    maxChars: Int = 10_000, model: LanguageModel? = nil, reading: LanguageModel.Reading = .version1
  ) throws {
    guard (0...1).contains(threshold) else {
      throw PipeError(.config, "lang.id: threshold must be in 0...1, got \(threshold)")
    }
    guard maxChars >= 1 else {
      throw PipeError(.config, "lang.id: maxChars must be at least 1, got \(maxChars)")
    }
    let model = try model ?? LanguageModel.shared()
    let known = Set(model.languages + [Self.undetermined])
    let unknown = languages.filter { !known.contains($0) }
    guard unknown.isEmpty else {
      throw PipeError(
        .config,
        "lang.id: unknown language code(s) \(unknown.joined(separator: ", ")) in languages; the model knows "
          + model.languages.sorted().joined(separator: ", ") + " and und")
    }
    self.threshold = threshold
    self.belowThreshold = belowThreshold
    self.languages = Set(languages)
    self.maxChars = maxChars
    self.model = model
    self.reading = reading
  }

  /// Creates the stage from a config validated against `descriptor`.
  init(options: Options) throws {
    try self.init(
      threshold: options.threshold,
      belowThreshold: BelowThreshold(rawValue: options.belowThreshold) ?? .drop,
      languages: options.languages, maxChars: options.maxChars)
  }

  /// Version 2's config keys: version 1's and when to stop reading.
  struct OptionsVersion2: ConfigSchema {
    @Setting(0.65, in: 0...1, "Records whose language score is below this are dropped (or kept as und).")
    var threshold: Double
    @Setting(
      "drop", oneOf: BelowThreshold.allCases.map(\.rawValue),
      "drop: reject low-score records (language_score_below_threshold); keep: keep them with language und.")
    var belowThreshold: String
    @Setting([], "ISO 639-1 codes to keep (und allowed); others are dropped as language_not_selected. Empty keeps all.")
    var languages: [String]
    @Setting(10_000, in: 1...Int.max, "Classify at most this many leading characters (Unicode scalars) of each text.")
    var maxChars: Int
    @Setting(
      LanguageID.defaultStopMargin, in: 0...1_000_000,
      "Stop reading a text once the best language leads the second by this many nats of log-likelihood "
        + "(checked every 64 n-grams); 0 reads every text to maxChars.")
    var stopMargin: Double
  }

  /// Version 2's `stopMargin`, chosen on the model's dev documents (docs in Model/README.md).
  public static let defaultStopMargin = 120.0

  /// Creates the stage from a config validated against `descriptorVersion2`.
  init(options: OptionsVersion2) throws {
    try self.init(
      threshold: options.threshold,
      belowThreshold: BelowThreshold(rawValue: options.belowThreshold) ?? .drop,
      languages: options.languages, maxChars: options.maxChars,
      reading: LanguageModel.Reading(
        dominantScriptOnly: true, stopMargin: options.stopMargin > 0 ? options.stopMargin : nil, chunk: 64))
  }

  /// `lang.id@2`: as version 1, but a text is read as words of its dominant script only (so
  /// mixed-script text is decided by its prose) and only until the decision is clear.
  public static let descriptorVersion2 = OpDescriptor(
    name: "lang.id", version: 2,
    summary:
      "Identify the natural language from the words of the text's main script, reading until the decision "
      + "is clear; write metadata.language and metadata.language_score; drop low scores or unlisted languages.",
    options: OptionsVersion2.self,
    make: { options in .record(try LanguageID(options: options)) })

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(0.65, in: 0...1, "Records whose language score is below this are dropped (or kept as und).")
    var threshold: Double
    @Setting(
      "drop", oneOf: BelowThreshold.allCases.map(\.rawValue),
      "drop: reject low-score records (language_score_below_threshold); keep: keep them with language und.")
    var belowThreshold: String
    @Setting([], "ISO 639-1 codes to keep (und allowed); others are dropped as language_not_selected. Empty keeps all.")
    var languages: [String]
    @Setting(10_000, in: 1...Int.max, "Classify at most this many leading characters (Unicode scalars) of each text.")
    var maxChars: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "lang.id", version: 1,
    summary:
      "Identify the natural language (character n-gram model); write metadata.language and "
      + "metadata.language_score; drop low scores or unlisted languages.",
    options: Options.self,
    make: { options in .record(try LanguageID(options: options)) })

  /// Classifies the record, writes its language and score, and decides.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let prediction = record.withTextUTF8 { model.classify($0, maxChars: maxChars, reading: reading) }
    let score = (prediction.score * 10_000).rounded() / 10_000
    var language = prediction.language ?? Self.undetermined
    record.setMetadata(Self.scoreKey, .double(score))
    if prediction.language == nil || score < threshold {
      if belowThreshold == .drop {
        record.setMetadata(Self.languageKey, .string(language))
        return .drop(
          reason: Self.belowThresholdReason,
          detail: "\(language) \(score) < \(threshold)")
      }
      language = Self.undetermined
    }
    record.setMetadata(Self.languageKey, .string(language))
    if !languages.isEmpty && !languages.contains(language) {
      return .drop(reason: Self.notSelectedReason, detail: language)
    }
    return .keep
  }
}
