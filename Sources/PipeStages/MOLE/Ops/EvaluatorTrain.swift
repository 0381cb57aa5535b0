import Foundation
public import PipeCore

/// `evaluator.train@1`: trains the multi-facet quality evaluator on the output of
/// `counterfactual.generate` (originals and their per-facet counterfactuals) and on labelled
/// scores where records carry them; writes the versioned evaluator and its training report
/// (held-out pairwise accuracy per facet, Spearman correlation with held-out labels).
public struct EvaluatorTrain: Sendable {
  /// The scenario.
  public let scenario: Scenario
  /// Features, losses and schedule.
  public let config: EvaluatorConfig
  /// The metadata key of a human or reference score, or `nil`.
  public let labelField: String?
  /// The metadata key whose value groups documents (their language, say) for per-group
  /// percentiles, or `nil`.
  public let groupBy: String?
  /// The fewest documents a group needs for percentiles of its own.
  public let groupMinimum: Int

  /// The op's config keys.
  struct Options: ConfigSchema {
    var scenario = ScenarioOptions()
    @Setting(nil, "Metadata key of a known overall score (for the supervised loss).") var labelField: String?
    @Setting(18, in: 10...24, "The hashed feature space has 2^hashBits slots.") var hashBits: Int
    @Setting(.array([.int(3)]), described: "an array of integers in 2...5", "Character n-gram orders.")
    var characterOrders: JSONValue
    @Setting(true, "Order-sensitive features (they make coherence learnable).") var orderFeatures: Bool
    @Setting(
      true,
      "Hashed words and word pairs. They carry the vocabulary, and so the language: false, with characterOrders [], "
        + "leaves features of the text's shape alone.")
    var wordFeatures: Bool
    @Setting(6, in: 1...1000, "Passes over the training data.") var epochs: Int
    @Setting(0.2, in: 0.000001...100, "SGD step size.") var learningRate: Double
    @Setting(1, in: 0...100, "The pairwise margin: original above counterfactual by this.") var margin: Double
    @Setting(1, in: 0...100, "Weight of the pairwise loss.") var contrastiveWeight: Double
    @Setting(0.5, in: 0...100, "Weight of the squared error on labels.") var supervisedWeight: Double
    @Setting(0.2, in: 0...0.9, "Documents held out for the report.") var heldOutFraction: Double
    @Setting(
      true,
      "Pairs also train the overall head; false (with labels) leaves the overall head to the labels, the pairs "
        + "shaping the facet heads and the body they share.")
    var overallFromPairs: Bool
    @Setting(
      nil,
      "Metadata key grouping the documents (\"language\", say): the evaluator keeps the score percentiles of "
        + "each group, so quality.mole's keepTopFraction can keep that share within each group.")
    var groupBy: String?
    @Setting(20, in: 1...1_000_000, "The fewest documents a group needs for percentiles of its own.")
    var groupMinimum: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "evaluator.train", version: 1,
    summary: "Train the multi-facet quality evaluator on counterfactual pairs (contrastive) and labels (supervised).",
    options: Options.self, make: { options in .steps(try EvaluatorTrain(options: options).plan) })

  init(options: Options) throws {
    scenario = try MoleConfig.scenario(options.scenario)
    guard let orders = options.characterOrders.arrayValue?.map(\.intValue),
      orders.allSatisfy({ $0.map { (2...5).contains($0) } ?? false })
    else { throw ConfigValueError("characterOrders", "expected an array of integers in 2...5") }
    self.config = EvaluatorConfig(
      features: FeatureConfig(
        hashBits: options.hashBits, characterOrders: orders.compactMap { $0 }, orderFeatures: options.orderFeatures,
        wordFeatures: options.wordFeatures),
      epochs: options.epochs, learningRate: options.learningRate, margin: options.margin,
      contrastiveWeight: options.contrastiveWeight, supervisedWeight: options.supervisedWeight,
      heldOutFraction: options.heldOutFraction, overallFromPairs: options.overallFromPairs)
    if self.config.contrastiveWeight == 0 && self.config.supervisedWeight == 0 {
      throw ConfigValueError("contrastiveWeight", "one of contrastiveWeight and supervisedWeight must be positive")
    }
    labelField = options.labelField
    if let key = options.groupBy, key.isEmpty { throw ConfigValueError("groupBy", "expected a metadata key") }
    groupBy = options.groupBy
    groupMinimum = options.groupMinimum
  }

  /// Reads originals, counterfactuals and labels in input order and trains.
  public func train(
    forEachRecord: ((Record) throws -> Void) throws -> Void, context: StageContext
  ) throws -> TrainedArtifact {
    var originals: [String: String] = [:]
    var pairs: [CounterfactualPair] = []
    var labels: [LabelledText] = []
    var orphans = 0
    var grouped: [(group: String, text: String)] = []
    try forEachRecord { record in
      let info = record.metadata("counterfactual")?.objectValue
      let group = info?["original"]?.stringValue ?? record.id
      if let facet = info?["facet"]?.stringValue {
        guard let original = originals[group] else {
          orphans += 1
          return
        }
        pairs.append(CounterfactualPair(group: group, original: original, counterfactual: record.text, facet: facet))
        return
      }
      let text = record.text
      originals[group] = text
      if let groupBy { grouped.append((record.groupName(metadataKey: groupBy), text)) }
      if let labelField, let score = record.metadata(labelField)?.doubleValue, score.isFinite {
        labels.append(LabelledText(group: group, text: text, score: score))
      }
    }
    if orphans > 0 { context.counters.add("counterfactuals_without_original", orphans) }
    context.counters.add("pairs", pairs.count)
    context.counters.add("labels", labels.count)
    guard !pairs.isEmpty || !labels.isEmpty else {
      throw PipeError(
        .stage,
        "evaluator.train: no counterfactual pairs and no labels in the input; feed it counterfactual.generate's output"
          + (labelField.map { " or records with metadata.\($0)" } ?? ""))
    }
    var evaluator = try Evaluator.train(
      scenario: scenario, pairs: pairs, labels: labels, config: config, seed: context.seed)
    var report = evaluator.report.jsonValue
    if let groupBy {
      evaluator = evaluator.measuringGroups(field: groupBy, documents: grouped, minimumDocuments: groupMinimum)
      report = Self.adding(groups: grouped, of: evaluator, to: report)
      context.counters.add("groups_with_percentiles", evaluator.groups.count)
    }
    return TrainedArtifact(bytes: evaluator.encoded(), report: report)
  }

  /// The report with `"groups": {"field", "documents": {GROUP: N}, "withPercentiles": [...]}`.
  private static func adding(
    groups: [(group: String, text: String)], of evaluator: Evaluator, to report: JSONValue
  ) -> JSONValue {
    guard var object = report.objectValue, let field = evaluator.groupField else { return report }
    var counts: [String: Int] = [:]
    for document in groups { counts[document.group, default: 0] += 1 }
    object["groups"] = .object(
      JSONObject([
        ("field", .string(field)),
        ("documents", .object(JSONObject(counts.keys.sorted().map { ($0, .int(Int64(counts[$0] ?? 0))) }))),
        ("withPercentiles", .array(evaluator.groups.map { .string($0) })),
      ]))
    return .object(object)
  }
}
