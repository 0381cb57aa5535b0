public import PipeCore

/// Rule-based counterfactuals: a copy of a text made worse in one facet.
///
/// Every rule works on UTF-8 bytes in any language (see `Segmentation` and `MoleWords` for how
/// sentences and words are found), is deterministic given its generator, and returns `nil`
/// ("not applicable") rather than an unchanged text when it cannot make the text worse: too
/// few sentences to shuffle, no words to scramble, no comments to strip, empty text. Facets
/// without a rule (custom facets) always give `nil`; they need an LLM rewrite.
public enum Perturbation {
  /// `text` made worse in `facet` by the facet's rule, or `nil` when the facet has no rule or
  /// the rule does not apply to this text.
  public static func degrade(_ text: String, facet: Facet, using generator: inout SeededRNG) -> String? {
    guard let rule = facet.rule else { return nil }
    return apply(rule, to: text, using: &generator)
  }

  /// `text` made worse by `rule`, or `nil` when the rule does not apply to this text.
  public static func apply(_ rule: PerturbationRule, to text: String, using generator: inout SeededRNG) -> String? {
    var copy = text
    let result = copy.withUTF8 { bytes -> [UInt8]? in
      switch rule {
      case .shuffleSentences: ProseRules.shuffleSentences(bytes, using: &generator)
      case .replaceWithFiller: ProseRules.replaceWithFiller(bytes, using: &generator)
      case .scrambleWords: ProseRules.scrambleWords(bytes, using: &generator)
      case .duplicateSentences: ProseRules.duplicateSentences(bytes, using: &generator)
      case .insertBoilerplate: ProseRules.insertBoilerplate(bytes, using: &generator)
      case .stripComments: CodeRules.stripComments(bytes)
      case .obscureIdentifiers: CodeRules.obscureIdentifiers(bytes, using: &generator)
      case .insertCorrectnessMarkers: CodeRules.insertCorrectnessMarkers(bytes, using: &generator)
      }
    }
    guard let result, !result.elementsEqual(text.utf8) else { return nil }
    return String(decoding: result, as: UTF8.self)
  }

  /// The record's text made worse in `facet`, with randomness from `generator(for:facet:context:)`.
  public static func degrade(_ record: Record, facet: Facet, context: StageContext) -> String? {
    var generator = generator(for: record.id, facet: facet.name, context: context)
    return degrade(record.text, facet: facet, using: &generator)
  }

  /// The generator for one record and facet: derived from (run seed, stage, record id, facet),
  /// so a facet's counterfactual does not depend on which other facets were degraded or in
  /// what order.
  public static func generator(for recordID: String, facet: String, context: StageContext) -> SeededRNG {
    var base = context.rng(for: recordID)
    return SeededRNG(seed: base.next() ^ XXH64.hash(facet, seed: 0x4641_4345))
  }
}

/// Appending byte ranges to an output buffer.
extension Array where Element == UInt8 {
  /// Appends `bytes[range]`.
  @inline(__always)
  mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
    append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
  }

  /// Appends the UTF-8 bytes of `text`.
  @inline(__always)
  mutating func append(_ text: String) {
    append(contentsOf: text.utf8)
  }
}
