import Foundation
public import PipeCore

/// `quality.mole@1`: scores every record with the evaluator an `evaluator.train` stage wrote:
/// `metadata.quality = {"overall": …, FACET: …}` and `metadata.quality_score = overall` (a
/// flat key, for example for `dedup.minhash`'s `scoreField`). Optionally drops records below
/// an overall threshold, below a keep-top fraction (its threshold comes from the score
/// percentiles of the training documents, so no second pass is needed), or below per-facet
/// minimums; the reason names the facet that failed (`low_quality_FACET`, or
/// `low_quality_overall`).
public struct QualityMole: Sendable {
  /// The metadata key of the scores object.
  public let field: String
  /// The metadata key of the overall score alone, or `nil`.
  public let scoreField: String?
  /// The lowest overall score kept, or `nil`.
  public let threshold: Double?
  /// The share of documents to keep by overall score, or `nil`.
  public let keepTopFraction: Double?
  /// The lowest score kept per facet.
  public let facetThresholds: [String: Double]

  /// The training stage whose evaluator is used.
  public let model: String

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(required: "The id of the evaluator.train stage whose evaluator to use.") var model: StageID
    @Setting(
      "quality", "Metadata key of {\"overall\", FACET...}.", check: { $0.isEmpty ? "expected a metadata key" : nil })
    var field: String
    @Setting("quality_score", "Metadata key of the overall score; \"\" for none.") var scoreField: String
    @Setting(nil, in: -1e9...1e9, "Drop records whose overall score is below this.") var threshold: Double?
    @Setting(
      nil, in: 0...1, "Keep about this share of documents, by overall score (percentiles of the training documents).")
    var keepTopFraction: Double?
    @Setting(JSONObject(), "FACET -> lowest score kept.") var facetThresholds: JSONObject
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "quality.mole", version: 1,
    summary: "Score records with a trained MOLE evaluator (overall and per facet); optional thresholds.",
    options: Options.self, make: { options in .steps(try QualityMole(options: options).plan) })

  init(options: Options) throws {
    model = options.model.id
    field = options.field
    scoreField = options.scoreField.isEmpty ? nil : options.scoreField
    threshold = options.threshold
    keepTopFraction = options.keepTopFraction
    if threshold != nil && keepTopFraction != nil {
      throw ConfigValueError("keepTopFraction", "give either threshold or keepTopFraction, not both")
    }
    var facets: [String: Double] = [:]
    for (facet, value) in options.facetThresholds.members {
      guard let number = value.doubleValue else {
        throw ConfigValueError("facetThresholds.\(facet)", "expected a number, got \(value.jsonText.prefix(40))")
      }
      facets[facet] = number
    }
    facetThresholds = facets
  }

  /// The scoring stage for a trained evaluator.
  public func loading(_ artifact: [UInt8], source: String) throws -> any RecordStage {
    let evaluator: Evaluator
    do {
      evaluator = try Evaluator(decoding: artifact)
    } catch let error as PipeError {
      throw PipeError(.corruptInput, error.message + "; retrain with pipe run --force TRAINING_STAGE", file: source)
    }
    let minimum = threshold ?? keepTopFraction.map { evaluator.overallThreshold(keepingTopFraction: $0) }
    let gate = try QualityGate(scenario: evaluator.scenario, minimumOverall: minimum, minimumFacets: facetThresholds)
    return Scoring(evaluator: evaluator, gate: gate, field: field, scoreField: scoreField)
  }

  /// Scores records; scorers (with their feature buffers) are pooled per thread of use.
  struct Scoring: RecordStage {
    let evaluator: Evaluator
    let gate: QualityGate
    let field: String
    let scoreField: String?
    let scorers: ScratchPool<ScorerBox>

    init(evaluator: Evaluator, gate: QualityGate, field: String, scoreField: String?) {
      self.evaluator = evaluator
      self.gate = gate
      self.field = field
      self.scoreField = scoreField
      scorers = ScratchPool { ScorerBox(evaluator.makeScorer()) }
    }

    func process(_ record: inout Record, context: StageContext) throws -> Verdict {
      let score = scorers.with { box in box.scorer.score(record) }
      record.setMetadata(field, evaluator.metadataValue(of: score))
      if let scoreField { record.setMetadata(scoreField, .double((score.overall * 1_000_000).rounded() / 1_000_000)) }
      if let reason = gate.dropReason(for: score) {
        return .drop(reason: reason, detail: String(format: "overall %.4f", score.overall))
      }
      return .keep
    }
  }

  final class ScorerBox {
    var scorer: Scorer
    init(_ scorer: Scorer) { self.scorer = scorer }
  }
}
