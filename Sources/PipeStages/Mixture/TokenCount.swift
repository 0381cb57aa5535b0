public import PipeCore

/// `tokens.count@1`: writes each record's estimated token count to its metadata and adds it to
/// per-group totals in the manifest (counters `tokens.GROUP` and `records.GROUP`, plus
/// `tokens` in all), which `pipe inspect` shows and `mixture.plan` reads again on its own.
public struct TokenCount: RecordStage {
  /// The metadata key that receives the count.
  public let field: String
  /// The metadata key whose value names the group, or `nil` for totals without groups.
  public let groupBy: String?
  /// How tokens are counted.
  public let estimator: TokenEstimator

  /// Creates the stage.
  public init(field: String = "tokens", groupBy: String? = "language", estimator: TokenEstimator = TokenEstimator()) {
    self.field = field
    self.groupBy = groupBy
    self.estimator = estimator
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      "tokens", "Metadata key that receives the token count.", check: { $0.isEmpty ? "expected a non-empty key" : nil })
    var field: String
    @Setting(
      "language", "Metadata key naming the group totalled in the manifest (tokens.GROUP); \"\" for no groups.")
    var groupBy: String
    @Setting(
      "estimate", oneOf: TokenEstimator.Method.allCases.map(\.rawValue),
      "estimate: priced per script (words, digits, punctuation, CJK, Thai); bytes: UTF-8 bytes / bytesPerToken; "
        + "whitespace: whitespace-separated words.")
    var method: String
    @Setting(4, in: 0.1...100, "Bytes per token for the bytes method.") var bytesPerToken: Double
    @Setting(1, in: 0.01...100, "Factor applied to every count, to calibrate against a real tokenizer.")
    var scale: Double
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "tokens.count", version: 1,
    summary: "Estimate each record's tokens into its metadata and total them per group in the manifest.",
    options: Options.self,
    make: { options in
      .record(
        TokenCount(
          field: options.field, groupBy: options.groupBy.isEmpty ? nil : options.groupBy,
          estimator: TokenEstimator(
            method: TokenEstimator.Method(rawValue: options.method) ?? .estimate,
            bytesPerToken: options.bytesPerToken, scale: options.scale)))
    })

  /// Writes the count and adds it to the totals; keeps every record.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let tokens = record.withTextUTF8 { estimator.count($0) }
    record.setMetadata(field, .int(Int64(tokens)))
    context.counters.add("tokens", tokens)
    if let groupBy {
      let group = MixtureGroups.name(of: record, key: groupBy)
      context.counters.add("tokens." + group, tokens)
      context.counters.add("records." + group)
    }
    return .keep
  }
}

/// How records are put in groups, shared by the token counter and the mixture stages.
enum MixtureGroups {
  /// The group of records without the key.
  static let missing = Record.unknownGroup

  /// The value of metadata `key` as a group name (`Record.groupName(metadataKey:)`).
  static func name(of record: Record, key: String) -> String {
    record.groupName(metadataKey: key)
  }

  /// The record's token count: metadata `field` when it holds a non-negative integer, else
  /// the built-in estimate.
  static func tokens(of record: Record, field: String, estimator: TokenEstimator) -> Int {
    if let value = record.metadata(field)?.intValue, value >= 0 { return value }
    return record.withTextUTF8 { estimator.count($0) }
  }
}
