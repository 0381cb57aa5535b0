public import PipeCore

/// A document's quality: the overall score and one score per facet of the scenario.
///
/// Facet scores are standardised on the training originals (0 is a typical original, −1 one
/// standard deviation worse). The overall score is on the label scale when the evaluator
/// was trained with labels, and standardised like the facets otherwise.
public struct QualityScore: Sendable, Equatable {
  /// The overall score; higher is better.
  public var overall: Double
  /// One score per facet, in the scenario's facet order; higher is better.
  public var facets: [Double]

  /// Creates a score.
  public init(overall: Double, facets: [Double]) {
    self.overall = overall
    self.facets = facets
  }
}

/// A trained multi-facet quality evaluator (MOLE-style): a linear model over hashed n-gram and
/// cohesion features with one head per facet and an overall head.
///
/// Train it with `train(scenario:pairs:labels:config:seed:)`, save it with `encoded()`, load
/// it with `init(decoding:)`, and score with a `Scorer` (one per thread) from `makeScorer()`.
public struct Evaluator: Sendable {
  /// The scenario whose facets the heads score.
  public let scenario: Scenario
  /// How the evaluator was trained.
  public let config: EvaluatorConfig
  /// The training report (held-out accuracy per facet, label correlation, counts).
  public let report: TrainingReport
  /// The folded weights.
  let weights: ModelWeights
  /// Per head (facets, then overall): `score = (raw − offset) · scale`.
  let calibrationOffset: [Float]
  let calibrationScale: [Float]
  /// The overall score's 0th, 1st, ..., 100th percentile over the training originals.
  let overallPercentiles: [Float]
  /// `weights.paddedSparse()`, shared by all scorers.
  let paddedSparse: [Float]?
  /// The metadata key whose value groups documents (their language, say), when the overall
  /// percentiles were also measured per group; `nil` otherwise.
  public internal(set) var groupField: String?
  /// Per group: the overall score's 0th, ..., 100th percentile over that group's training
  /// documents, for keep-top-fraction filtering within each group.
  var groupPercentiles: [String: [Float]] = [:]

  /// Assembles an evaluator (training and decoding).
  init(
    scenario: Scenario, config: EvaluatorConfig, report: TrainingReport, weights: ModelWeights,
    calibrationOffset: [Float], calibrationScale: [Float], overallPercentiles: [Float]
  ) {
    self.scenario = scenario
    self.config = config
    self.report = report
    self.weights = weights
    self.calibrationOffset = calibrationOffset
    self.calibrationScale = calibrationScale
    self.overallPercentiles = overallPercentiles
    paddedSparse = weights.paddedSparse()
  }

  /// A scorer that reuses its buffers; make one per thread.
  public func makeScorer() -> Scorer {
    Scorer(evaluator: self)
  }

  /// The quality of `text`. Makes a scorer each time; use `makeScorer()` for many texts.
  public func score(_ text: String) -> QualityScore {
    var scorer = makeScorer()
    return scorer.score(text)
  }

  /// `{"overall": …, "<facet>": …}` for `metadata.quality`, facets in scenario order.
  public func metadataValue(of score: QualityScore) -> JSONValue {
    var pairs: [(String, JSONValue)] = [("overall", .double(Self.rounded(score.overall)))]
    for (facet, value) in zip(scenario.facets, score.facets) {
      pairs.append((facet.name, .double(Self.rounded(value))))
    }
    return .object(JSONObject(pairs))
  }

  /// The overall score above which about `fraction` (0...1) of documents like the training
  /// originals fall, for keep-top-fraction filtering without a second pass over the data.
  public func overallThreshold(keepingTopFraction fraction: Double) -> Double {
    Self.interpolate(overallPercentiles, at: fraction)
  }

  /// The groups with their own percentiles, sorted.
  public var groups: [String] { groupPercentiles.keys.sorted() }

  /// Like `overallThreshold(keepingTopFraction:)`, within `group`; `nil` when the evaluator
  /// has no percentiles for it (too few of its documents were seen in training).
  public func overallThreshold(keepingTopFraction fraction: Double, inGroup group: String) -> Double? {
    guard let percentiles = groupPercentiles[group] else { return nil }
    return Self.interpolate(percentiles, at: fraction)
  }

  /// This evaluator with per-group percentiles of the overall score of `documents`, for groups
  /// with at least `minimumDocuments` of them (smaller groups use the overall percentiles).
  public func measuringGroups(
    field: String, documents: [(group: String, text: String)], minimumDocuments: Int
  ) -> Evaluator {
    var scores: [String: [Float]] = [:]
    var scorer = makeScorer()
    for document in documents {
      scores[document.group, default: []].append(Float(scorer.score(document.text).overall))
    }
    var copy = self
    copy.groupField = field
    copy.groupPercentiles = [:]
    for (group, values) in scores where values.count >= max(minimumDocuments, 1) {
      copy.groupPercentiles[group] = Self.percentiles(of: values)
    }
    return copy
  }

  /// The 0th, 1st, ..., 100th percentile of `values` (nearest rank below).
  static func percentiles(of values: [Float]) -> [Float] {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return [] }
    return (0...100).map { sorted[min(sorted.count - 1, $0 * (sorted.count - 1) / 100)] }
  }

  /// The score above which about `fraction` of the documents behind `percentiles` fall.
  static func interpolate(_ percentiles: [Float], at fraction: Double) -> Double {
    guard percentiles.count == 101 else { return -Double.infinity }
    let position = min(max((1 - fraction) * 100, 0), 100)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, 100)
    let weight = Float(position - Double(lower))
    return Double(percentiles[lower] * (1 - weight) + percentiles[upper] * weight)
  }

  /// Six significant decimals: enough for ranking, and keeps metadata short.
  private static func rounded(_ value: Double) -> Double {
    (value * 1_000_000).rounded() / 1_000_000
  }
}

/// Scores documents with one evaluator, reusing feature buffers between documents.
///
/// Not thread-safe: make one per thread with `Evaluator.makeScorer()`.
public struct Scorer {
  private let evaluator: Evaluator
  private var extractor: FeatureExtractor
  private var dense = ModelWeights.DenseInput()
  private var raw: [Float]

  init(evaluator: Evaluator) {
    self.evaluator = evaluator
    extractor = FeatureExtractor(config: evaluator.config.features)
    raw = [Float](repeating: 0, count: evaluator.weights.heads)
  }

  /// The quality of the UTF-8 text in `utf8`.
  public mutating func score(utf8: UnsafeBufferPointer<UInt8>) -> QualityScore {
    extractor.extract(utf8)
    let weights = evaluator.weights
    weights.prepare(dense: extractor.dense, into: &dense)
    let heads = weights.heads
    extractor.values.withUnsafeBufferPointer { values in
      extractor.touched.withUnsafeBufferPointer { touched in
        raw.withUnsafeMutableBufferPointer { scores in
          guard let valueBase = values.baseAddress, let touchedBase = touched.baseAddress,
            let scoreBase = scores.baseAddress
          else { return }
          weights.scores(
            values: valueBase, touched: touchedBase, touchedCount: extractor.touchedCount, dense: dense,
            padded: evaluator.paddedSparse, into: scoreBase)
        }
      }
    }
    var facets = [Double](repeating: 0, count: heads - 1)
    for head in 0..<(heads - 1) {
      facets[head] = Double((raw[head] - evaluator.calibrationOffset[head]) * evaluator.calibrationScale[head])
    }
    let last = heads - 1
    let overall = Double((raw[last] - evaluator.calibrationOffset[last]) * evaluator.calibrationScale[last])
    return QualityScore(overall: overall, facets: facets)
  }

  /// The quality of `text`.
  public mutating func score(_ text: String) -> QualityScore {
    var copy = text
    return copy.withUTF8 { score(utf8: $0) }
  }

  /// The quality of the record's text, read without building a `String` when possible.
  public mutating func score(_ record: Record) -> QualityScore {
    record.withTextUTF8 { score(utf8: $0) }
  }
}
