/// How an evaluator is trained: features, loss weights and the SGD schedule.
///
/// The loss is `contrastiveWeight · mean(max(0, margin − (s(original) − s(counterfactual))))`
/// over pairs, for the pair's facet head and for the overall head, plus
/// `supervisedWeight · mean((overall(text) − label)²)` over labelled texts.
public struct EvaluatorConfig: Sendable, Equatable {
  /// The features.
  public var features: FeatureConfig
  /// Passes over the training data.
  public var epochs: Int
  /// The SGD step size of the first epoch; epoch e uses `learningRate / sqrt(1 + e)`.
  public var learningRate: Double
  /// The score gap a pair must reach before it stops contributing to the loss.
  public var margin: Double
  /// λ_con: weight of the pairwise margin loss; 0 trains on labels only.
  public var contrastiveWeight: Double
  /// λ_sup: weight of the squared error on labels; 0 trains on pairs only.
  public var supervisedWeight: Double
  /// Whether pairs also train the overall head (as well as their facet's head and the shared
  /// body). With labels, `false` leaves the overall head to the labels: the pairs then shape
  /// the facet heads and the body it shares with them.
  public var overallFromPairs: Bool
  /// The share of groups (documents) held out to measure the model in its training report;
  /// 0 trains on everything and reports no held-out figures.
  public var heldOutFraction: Double

  /// Creates a configuration.
  public init(
    features: FeatureConfig = FeatureConfig(), epochs: Int = 6, learningRate: Double = 0.2, margin: Double = 1,
    contrastiveWeight: Double = 1, supervisedWeight: Double = 0.5, heldOutFraction: Double = 0.2,
    overallFromPairs: Bool = true
  ) {
    self.features = features
    self.epochs = epochs
    self.learningRate = learningRate
    self.margin = margin
    self.contrastiveWeight = contrastiveWeight
    self.supervisedWeight = supervisedWeight
    self.heldOutFraction = heldOutFraction
    self.overallFromPairs = overallFromPairs
  }
}
