public import PipeCore
public import PipeTokenizers

/// `tokens.count@1`: writes each record's token count to its metadata and adds it to
/// per-group totals in the manifest (counters `tokens.GROUP` and `records.GROUP`, plus
/// `tokens` in all), which `pipe inspect` shows and `mixture.plan` reads again on its own.
/// The count is exact with `method: "tokenizer"` (the model's own tokenizer, from its
/// `tokenizer.json` or GGUF file), else an estimate.
public struct TokenCount: RecordStage, ContentIdentified {
  /// The metadata key that receives the count.
  public let field: String
  /// The metadata key whose value names the group, or `nil` for totals without groups.
  public let groupBy: String?
  /// How tokens are estimated when there is no tokenizer.
  public let estimator: TokenEstimator
  /// The tokenizer that counts exactly, if any.
  public let tokenizer: Tokenizer?

  /// Creates the stage.
  public init(
    field: String = "tokens", groupBy: String? = "language", estimator: TokenEstimator = TokenEstimator(),
    tokenizer: Tokenizer? = nil
  ) {
    self.field = field
    self.groupBy = groupBy
    self.estimator = estimator
    self.tokenizer = tokenizer
  }

  /// The tokenizer's identity (its vocabulary, merges and rules); nil for estimates, whose
  /// fingerprints stay as they were.
  public var contentIdentity: String? { tokenizer?.identity }

  /// The methods of the `method` key: the estimator's and `tokenizer`.
  static let methods = TokenEstimator.Method.allCases.map(\.rawValue) + ["tokenizer"]

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      "tokens", "Metadata key that receives the token count.", check: { $0.isEmpty ? "expected a non-empty key" : nil })
    var field: String
    @Setting(
      "language", "Metadata key naming the group totalled in the manifest (tokens.GROUP); \"\" for no groups.")
    var groupBy: String
    @Setting(
      "estimate", oneOf: TokenCount.methods,
      "estimate: priced per script (words, digits, punctuation, CJK, Thai); bytes: UTF-8 bytes / bytesPerToken; "
        + "whitespace: whitespace-separated words; tokenizer: exact, with the model's tokenizer (key tokenizer).")
    var method: String
    @Setting(
      nil,
      addedToExistingVersion:
        "With method \"tokenizer\": the model's Hugging Face tokenizer.json or GGUF file (byte-level BPE: GPT-2, "
        + "Llama 3, Qwen2, SmolLM2 families); relative to the pipeline file, ~/ for the home folder. Its identity "
        + "(vocabulary, merges, rules) enters the fingerprint.")
    var tokenizer: FilePath?
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
      var tokenizer: Tokenizer? = nil
      if options.method == "tokenizer" {
        guard let path = options.tokenizer?.path else {
          throw ConfigValueError(
            "tokenizer", "required with method \"tokenizer\": the path of a tokenizer.json or GGUF file")
        }
        guard options.scale == 1 else {
          throw ConfigValueError("scale", "applies to estimates only; a tokenizer's counts are exact (remove scale)")
        }
        do { tokenizer = try TokenizerCache.shared.load(path: path) } catch let error as PipeError {
          throw ConfigValueError("tokenizer", "\(path): \(error.message)")
        }
      } else if options.tokenizer != nil {
        throw ConfigValueError(
          "tokenizer",
          "is read only with method \"tokenizer\" (the method is \"\(options.method)\"); set the method or remove the key"
        )
      }
      return .record(
        TokenCount(
          field: options.field, groupBy: options.groupBy.isEmpty ? nil : options.groupBy,
          estimator: TokenEstimator(
            method: TokenEstimator.Method(rawValue: options.method) ?? .estimate,
            bytesPerToken: options.bytesPerToken, scale: options.scale),
          tokenizer: tokenizer))
    })

  /// Writes the count and adds it to the totals; keeps every record.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let tokens = record.withTextUTF8 { tokenizer?.count($0) ?? estimator.count($0) }
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
