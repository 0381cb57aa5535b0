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
  /// The metadata key whose value selects the group percentiles for `keepTopFraction`, or `nil`.
  public let groupBy: String?

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
    @Setting(
      nil,
      "With keepTopFraction: keep that share within each group of this metadata key (\"language\", say), from "
        + "the group's percentiles; the training stage needs the same groupBy. Groups it did not measure use "
        + "the overall percentiles (counted as keep_top_fraction_overall).")
    var groupBy: String?
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
    groupBy = options.groupBy
    if let groupBy {
      if groupBy.isEmpty { throw ConfigValueError("groupBy", "expected a metadata key") }
      if keepTopFraction == nil {
        throw ConfigValueError("groupBy", "groups apply to keepTopFraction; set keepTopFraction or leave groupBy out")
      }
    }
  }

  /// The evaluator in an artifact.
  func decode(_ artifact: [UInt8], source: String) throws -> Evaluator {
    do {
      return try Evaluator(decoding: artifact)
    } catch let error as PipeError {
      throw PipeError(.corruptInput, error.message + "; retrain with pipe run --force TRAINING_STAGE", file: source)
    }
  }

  /// The scoring stage for a trained evaluator, with this stage's thresholds.
  func scoring(_ evaluator: Evaluator, source: String) throws -> any RecordStage {
    let minimum = threshold ?? keepTopFraction.map { evaluator.overallThreshold(keepingTopFraction: $0) }
    let gate = try QualityGate(scenario: evaluator.scenario, minimumOverall: minimum, minimumFacets: facetThresholds)
    var groupGates: [String: QualityGate] = [:]
    if let groupBy, let keepTopFraction {
      guard evaluator.groupField == groupBy else {
        let trained = evaluator.groupField.map { "groupBy \"\($0)\"" } ?? "no groupBy"
        throw PipeError(
          .config,
          "quality.mole groupBy \"\(groupBy)\": the evaluator \(model) was trained with \(trained); set groupBy "
            + "\"\(groupBy)\" in the training stage's config too", file: source)
      }
      for group in evaluator.groups {
        var groupGate = gate
        groupGate.minimumOverall = evaluator.overallThreshold(keepingTopFraction: keepTopFraction, inGroup: group)
        groupGates[group] = groupGate
      }
    }
    return Scoring(
      evaluator: evaluator, gate: gate, groupBy: groupBy, groupGates: groupGates, field: field, scoreField: scoreField)
  }

  /// Scores records; scorers (with their feature buffers) are pooled per thread of use.
  struct Scoring: RecordStage {
    let evaluator: Evaluator
    let gate: QualityGate
    /// With `groupBy`: the gate of each group the evaluator has percentiles for.
    let groupBy: String?
    let groupGates: [String: QualityGate]
    let field: String
    let scoreField: String?
    let scorers: ScratchPool<ScorerBox>

    init(
      evaluator: Evaluator, gate: QualityGate, groupBy: String?, groupGates: [String: QualityGate], field: String,
      scoreField: String?
    ) {
      self.evaluator = evaluator
      self.gate = gate
      self.groupBy = groupBy
      self.groupGates = groupGates
      self.field = field
      self.scoreField = scoreField
      scorers = ScratchPool { ScorerBox(evaluator.makeScorer()) }
    }

    func process(_ record: inout Record, context: StageContext) throws -> Verdict {
      let score = scorers.with { box in box.scorer.score(record) }
      record.setMetadata(field, evaluator.metadataValue(of: score))
      if let scoreField { record.setMetadata(scoreField, .double((score.overall * 1_000_000).rounded() / 1_000_000)) }
      var gate = self.gate
      if let groupBy {
        if let groupGate = groupGates[record.groupName(metadataKey: groupBy)] {
          gate = groupGate
        } else {
          context.counters.add("keep_top_fraction_overall", 1)
        }
      }
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
