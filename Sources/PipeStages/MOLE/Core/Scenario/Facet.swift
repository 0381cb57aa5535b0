/// One quality facet of a scenario: a name, a one-line definition and, optionally, the rule
/// that degrades it offline.
///
/// The definition is what an LLM rewriter is told ("make it clearly worse in {name}:
/// {definition}"); the rule is what `Perturbation` applies without an LLM. A facet without a
/// rule (a custom facet such as "engagement") can only be degraded by an LLM: `Perturbation`
/// returns `nil` for it.
public struct Facet: Sendable, Hashable {
  /// The facet's name, snake_case: a key of `metadata.quality` and part of drop reasons.
  public var name: String
  /// What the facet means, in one line.
  public var definition: String
  /// The offline degradation, or `nil` when only an LLM can degrade this facet.
  public var rule: PerturbationRule?

  /// Creates a facet.
  public init(name: String, definition: String, rule: PerturbationRule? = nil) {
    self.name = name
    self.definition = definition
    self.rule = rule
  }
}

/// An offline, rule-based way to make a text worse in one facet.
///
/// Each rule is deterministic given its random generator and returns `nil` when it cannot
/// apply (see `Perturbation`). Raw values are stable: they are stored in evaluator artifacts.
public enum PerturbationRule: String, Sendable, Hashable, CaseIterable {
  /// Coherence: put the sentences in a random order (never the original one), keeping the
  /// whitespace between them where it was.
  case shuffleSentences = "shuffle_sentences"
  /// Informativeness: replace about half the sentences with generic filler of similar length.
  case replaceWithFiller = "replace_with_filler"
  /// Fluency: swap adjacent words and drop function words.
  case scrambleWords = "scramble_words"
  /// Redundancy: repeat some sentences later in the text.
  case duplicateSentences = "duplicate_sentences"
  /// Noise: insert web boilerplate lines (navigation, sharing, cookie and subscription prompts).
  case insertBoilerplate = "insert_boilerplate"
  /// Code documentation: remove comments and docstrings.
  case stripComments = "strip_comments"
  /// Code readability: rename identifiers to meaningless names and flatten indentation.
  case obscureIdentifiers = "obscure_identifiers"
  /// Code correctness markers: insert TODO/FIXME notes and commented-out code, and remove
  /// assertions and error raising.
  case insertCorrectnessMarkers = "insert_correctness_markers"
}
