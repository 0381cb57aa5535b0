import Foundation
public import PipeCore

/// `evaluator.train@1`: trains the multi-facet quality evaluator on the output of
/// `counterfactual.generate` (originals and their per-facet counterfactuals) and on labelled
/// scores where records carry them; writes the versioned evaluator and its training report
/// (held-out pairwise accuracy per facet, Spearman correlation with held-out labels).
public struct EvaluatorTrain: TrainingStage {
  /// The scenario.
  public let scenario: Scenario
  /// Features, losses and schedule.
  public let config: EvaluatorConfig
  /// The metadata key of a human or reference score, or `nil`.
  public let labelField: String?

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "evaluator.train", version: 1,
    summary: "Train the multi-facet quality evaluator on counterfactual pairs (contrastive) and labels (supervised).",
    keys: MoleConfig.scenarioKeys + [
      ConfigKey(
        "labelField", .string, default: .null, "Metadata key of a known overall score (for the supervised loss)."),
      ConfigKey("hashBits", .int(10...24), default: .int(18), "The hashed feature space has 2^hashBits slots."),
      ConfigKey(
        "characterOrders", .json("an array of integers in 2...5"), default: .array([.int(3)]),
        "Character n-gram orders."),
      ConfigKey(
        "orderFeatures", .bool, default: .bool(true), "Order-sensitive features (they make coherence learnable)."),
      ConfigKey("epochs", .int(1...1000), default: .int(6), "Passes over the training data."),
      ConfigKey("learningRate", .double(0.000001...100), default: .double(0.2), "SGD step size."),
      ConfigKey(
        "margin", .double(0...100), default: .double(1), "The pairwise margin: original above counterfactual by this."),
      ConfigKey("contrastiveWeight", .double(0...100), default: .double(1), "Weight of the pairwise loss."),
      ConfigKey("supervisedWeight", .double(0...100), default: .double(0.5), "Weight of the squared error on labels."),
      ConfigKey("heldOutFraction", .double(0...0.9), default: .double(0.2), "Documents held out for the report."),
    ],
    make: { config in .training(try EvaluatorTrain(config: config)) })

  init(config: StageConfig) throws {
    scenario = try MoleConfig.scenario(config)
    guard let orders = config.values["characterOrders"]?.arrayValue?.map(\.intValue),
      orders.allSatisfy({ $0.map { (2...5).contains($0) } ?? false })
    else { throw ConfigValueError("characterOrders", "expected an array of integers in 2...5") }
    self.config = EvaluatorConfig(
      features: FeatureConfig(
        hashBits: config.int("hashBits"), characterOrders: orders.compactMap { $0 },
        orderFeatures: config.bool("orderFeatures")),
      epochs: config.int("epochs"), learningRate: config.double("learningRate"), margin: config.double("margin"),
      contrastiveWeight: config.double("contrastiveWeight"), supervisedWeight: config.double("supervisedWeight"),
      heldOutFraction: config.double("heldOutFraction"))
    if self.config.contrastiveWeight == 0 && self.config.supervisedWeight == 0 {
      throw ConfigValueError("contrastiveWeight", "one of contrastiveWeight and supervisedWeight must be positive")
    }
    labelField = config.optional("labelField")?.stringValue
  }

  /// Reads originals, counterfactuals and labels in input order and trains.
  public func train(
    forEachRecord: ((Record) throws -> Void) throws -> Void, context: StageContext
  ) throws -> TrainedArtifact {
    var originals: [String: String] = [:]
    var pairs: [CounterfactualPair] = []
    var labels: [LabelledText] = []
    var orphans = 0
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
    let evaluator = try Evaluator.train(
      scenario: scenario, pairs: pairs, labels: labels, config: config, seed: context.seed)
    return TrainedArtifact(bytes: evaluator.encoded(), report: evaluator.report.jsonValue)
  }
}
