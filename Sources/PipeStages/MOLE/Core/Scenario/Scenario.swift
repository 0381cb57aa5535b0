import PipeCore

/// A kind of content and the facets its quality is judged on.
///
/// Two scenarios are built in, `webArticle` and `code`; `init(name:facets:)` defines others.
/// The order of `facets` is the order of the evaluator's heads and of `QualityScore.facets`.
public struct Scenario: Sendable, Hashable {
  /// The scenario's name, for example `web_article`.
  public var name: String
  /// The facets, in head order.
  public var facets: [Facet]

  /// Creates a scenario.
  ///
  /// - Throws: `PipeError(.config)` when there are no facets, or a name is empty or repeated.
  public init(name: String, facets: [Facet]) throws {
    guard !facets.isEmpty else {
      throw PipeError(.config, "scenario \(name): list at least one facet")
    }
    var seen = Set<String>()
    for facet in facets {
      guard !facet.name.isEmpty else { throw PipeError(.config, "scenario \(name): a facet has an empty name") }
      guard seen.insert(facet.name).inserted else {
        throw PipeError(.config, "scenario \(name): facet \(facet.name) is listed twice")
      }
    }
    self.name = name
    self.facets = facets
  }

  /// A custom scenario from (name, definition) pairs.
  ///
  /// A facet whose name is one of the built-in facets (`coherence`, `informativeness`,
  /// `fluency`, `redundancy`, `noise`, `readability`, `documentation`, `correctness_markers`)
  /// gets that facet's rule; any other facet has no rule and can only be degraded by an LLM.
  ///
  /// - Throws: `PipeError(.config)` as `init(name:facets:)`.
  public static func custom(name: String, definitions: [(name: String, definition: String)]) throws -> Scenario {
    let builtIn = Dictionary(
      (webArticle.facets + code.facets).map { ($0.name, $0.rule) }, uniquingKeysWith: { first, _ in first })
    return try Scenario(
      name: name,
      facets: definitions.map { Facet(name: $0.name, definition: $0.definition, rule: builtIn[$0.name] ?? nil) })
  }

  /// The index of the facet named `name`, if any.
  public func index(ofFacet name: String) -> Int? {
    facets.firstIndex { $0.name == name }
  }

  /// Prose such as web pages, articles and documentation.
  public static let webArticle = Scenario(
    validName: "web_article",
    facets: [
      Facet(
        name: "coherence", definition: "Sentences follow a logical order and each connects to the ones around it.",
        rule: .shuffleSentences),
      Facet(
        name: "informativeness", definition: "The text conveys specific, substantive information, not generic filler.",
        rule: .replaceWithFiller),
      Facet(
        name: "fluency", definition: "Sentences are grammatical and read naturally.", rule: .scrambleWords),
      Facet(
        name: "redundancy", definition: "The text does not repeat the same content.", rule: .duplicateSentences),
      Facet(
        name: "noise",
        definition: "The text is free of boilerplate such as navigation, sharing, cookie or subscription prompts.",
        rule: .insertBoilerplate),
    ])

  /// Source code.
  public static let code = Scenario(
    validName: "code",
    facets: [
      Facet(
        name: "readability", definition: "Identifiers are meaningful and the layout shows the structure.",
        rule: .obscureIdentifiers),
      Facet(
        name: "documentation", definition: "Comments and docstrings explain what the code does and why.",
        rule: .stripComments),
      Facet(
        name: "correctness_markers",
        definition: "The code checks its inputs and errors and carries no TODO, FIXME or commented-out code.",
        rule: .insertCorrectnessMarkers),
    ])

  /// The built-in scenarios by name.
  public static let builtIn: [String: Scenario] = [webArticle.name: webArticle, code.name: code]

  /// A scenario known to be valid (the built-ins).
  private init(validName: String, facets: [Facet]) {
    self.name = validName
    self.facets = facets
  }
}
