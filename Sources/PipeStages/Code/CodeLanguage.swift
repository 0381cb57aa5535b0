public import PipeCore

/// `lang.code@1`: names the programming language of each record.
///
/// Reads the file path from `metadata.<pathField>` (or, when the metadata has no such key, a
/// top-level field of that name, as in The Stack's layout), and the text; see
/// `CodeLanguageDetector` for the rules. Writes `metadata.<field>` (a canonical name such as
/// `python`, `cpp`, `visual_basic`) and `metadata.<field>_source` (`filename`, `extension`,
/// `shebang`, `modeline` or `content`). When no rule names a language the record is kept
/// untouched (`onUnknown: "keep"`) or dropped with reason `unknown_programming_language`.
///
/// Counters: `language.<name>` per detected language, `source.<rule>` per deciding rule, and
/// `unknown`.
public struct CodeLanguage: RecordStage {
  /// Reject reason when no language is found and `onUnknown` is `drop`.
  public static let unknownReason = "unknown_programming_language"

  /// What to do with a record whose language is unknown.
  public enum UnknownPolicy: String, Sendable, CaseIterable {
    /// Keep it, without writing the language fields.
    case keep
    /// Drop it with reason `unknown_programming_language`.
    case drop
  }

  /// The metadata key (or top-level field) holding the file path.
  public let pathField: String
  /// The metadata key the language is written to; the rule goes to `<field>_source`.
  public let field: String
  /// What to do when no language is found.
  public let onUnknown: UnknownPolicy
  /// The detector.
  public let detector: CodeLanguageDetector

  /// Creates the stage.
  ///
  /// - Throws: `PipeError(.config)` when `field` is empty.
  public init(
    pathField: String = "path", field: String = "programming_language", onUnknown: UnknownPolicy = .keep,
    detector: CodeLanguageDetector = CodeLanguageDetector()
  ) throws {
    guard !field.isEmpty else { throw PipeError(.config, "lang.code: field must not be empty") }
    self.pathField = pathField
    self.field = field
    self.onUnknown = onUnknown
    self.detector = detector
  }

  /// Creates the stage from a config validated against `descriptor`.
  init(options: Options) throws {
    try self.init(
      pathField: options.pathField, field: options.field,
      onUnknown: UnknownPolicy(rawValue: options.onUnknown) ?? .keep,
      detector: CodeLanguageDetector(
        maxBytes: options.maxBytes, minContentScore: options.minContentScore,
        usesContent: options.useContent))
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting("path", "Metadata key (or top-level field) holding the file path; empty to use the content only.")
    var pathField: String
    @Setting("programming_language", "Metadata key to write the language to; the deciding rule goes to <field>_source.")
    var field: String
    @Setting(
      "keep", oneOf: UnknownPolicy.allCases.map(\.rawValue),
      "Keep records with no detectable language (without the fields) or drop them.")
    var onUnknown: String
    @Setting(true, "Guess from the text when the path, #! line and modelines say nothing.") var useContent: Bool
    @Setting(
      CodeLanguageDetector.defaultMinContentScore, in: 0...1000,
      "Lowest content score that names a language; higher is stricter (prose-like texts need more).")
    var minContentScore: Double
    @Setting(16 * 1024, in: 256...(1 << 24), "Bytes of text scanned.") var maxBytes: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "lang.code", version: 1,
    summary: "Name the programming language of each record from its path, #! line, modeline or content.",
    options: Options.self,
    make: { options in .record(try CodeLanguage(options: options)) })

  /// Writes the language fields, or applies `onUnknown`.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let path = pathField.isEmpty ? nil : Self.path(of: record, field: pathField)
    let detection = record.withTextUTF8 { detector.detect(path: path, text: $0) }
    guard let detection else {
      context.counters.add("unknown")
      switch onUnknown {
      case .keep: return .keep
      case .drop: return .drop(reason: Self.unknownReason, detail: path.map { "path \($0)" })
      }
    }
    record.setMetadata(field, .string(detection.language.rawValue))
    record.setMetadata(field + "_source", .string(detection.source.rawValue))
    context.counters.add("language." + detection.language.rawValue)
    context.counters.add("source." + detection.source.rawValue)
    return .keep
  }

  /// The path in `metadata.<field>`, else in the top-level `<field>`; strings only.
  static func path(of record: Record, field: String) -> String? {
    if let value = record.metadata(field) { return value.stringValue }
    guard field != "text", field != "id", field != "metadata" else { return nil }
    return record.field(field)?.stringValue
  }
}
