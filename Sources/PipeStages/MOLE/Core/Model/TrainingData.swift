/// An original text and a copy of it made worse in one facet.
public struct CounterfactualPair: Sendable {
  /// What the train/held-out split keeps together, usually the source document's id (or its
  /// duplicate cluster's), so a document never sits on both sides.
  public var group: String
  /// The original text.
  public var original: String
  /// The degraded copy.
  public var counterfactual: String
  /// The name of the facet that was degraded.
  public var facet: String

  /// Creates a pair.
  public init(group: String, original: String, counterfactual: String, facet: String) {
    self.group = group
    self.original = original
    self.counterfactual = counterfactual
    self.facet = facet
  }
}

/// A text with a known overall quality score (for example from human raters).
public struct LabelledText: Sendable {
  /// What the train/held-out split keeps together (see `CounterfactualPair.group`).
  public var group: String
  /// The text.
  public var text: String
  /// Its overall score; higher is better, on any scale.
  public var score: Double

  /// Creates a labelled text.
  public init(group: String, text: String, score: Double) {
    self.group = group
    self.text = text
    self.score = score
  }
}
