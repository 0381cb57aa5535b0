internal import PipeCore

/// Minimum scores for `quality.mole` filtering, and the drop reason that names what failed.
///
/// Facet minimums are checked first, in the scenario's facet order, then the overall minimum,
/// so a document that fails on coherence is dropped as `low_quality_coherence` even when its
/// overall score is also low. For keep-top-fraction filtering, take the overall minimum from
/// `Evaluator.overallThreshold(keepingTopFraction:)`.
public struct QualityGate: Sendable, Equatable {
  /// The lowest overall score kept, or `nil` for none.
  public var minimumOverall: Double?
  /// The lowest score kept per facet, by scenario facet order (`nil` for no limit).
  public var minimumFacets: [Double?]
  /// The facet names, for drop reasons.
  private let facetNames: [String]

  /// Creates a gate for `scenario`.
  ///
  /// - Throws: `PipeError(.config)` when `minimumFacets` names a facet the scenario lacks.
  public init(scenario: Scenario, minimumOverall: Double? = nil, minimumFacets: [String: Double] = [:]) throws {
    for name in minimumFacets.keys.sorted() where scenario.index(ofFacet: name) == nil {
      throw PipeError(
        .config,
        "quality threshold for \(name): scenario \(scenario.name) has facets "
          + scenario.facets.map(\.name).joined(separator: ", "))
    }
    self.minimumOverall = minimumOverall
    self.minimumFacets = scenario.facets.map { minimumFacets[$0.name] }
    facetNames = scenario.facets.map(\.name)
  }

  /// `low_quality_<facet>` for the first facet below its minimum, `low_quality_overall` when
  /// only the overall score is too low, or `nil` to keep the document.
  public func dropReason(for score: QualityScore) -> String? {
    for (index, minimum) in minimumFacets.enumerated() {
      if let minimum, index < score.facets.count, score.facets[index] < minimum {
        return "low_quality_" + facetNames[index]
      }
    }
    if let minimumOverall, score.overall < minimumOverall { return "low_quality_overall" }
    return nil
  }
}
