import Foundation
import Testing

@testable import PipeStages

/// The bands that accept or reject a rewrite.
struct CounterfactualValidatorTests {
  static let original = """
    The committee met on Tuesday to review the budget for the new library. Members agreed to fund longer opening \
    hours and a larger children's section, and asked for a report on costs by the end of the month.
    """

  let validator = CounterfactualValidator()

  @Test func acceptsAPlausibleRewrite() {
    let rewrite = """
      The committee met on Tuesday to review the budget for the new library. Members agreed, more or less, to fund \
      things like longer hours and a bigger section, and asked for some kind of report by the end of the month.
      """
    #expect(validator.rejection(original: Self.original, counterfactual: rewrite) == nil)
  }

  @Test func rejectsEmptyIdenticalAndShortRewrites() {
    #expect(validator.rejection(original: Self.original, counterfactual: " \n ")?.reason == "empty")
    #expect(validator.rejection(original: Self.original, counterfactual: Self.original)?.reason == "identical")
    #expect(validator.rejection(original: Self.original, counterfactual: "Too short.")?.reason == "too_short")
  }

  @Test func rejectsRewritesOutsideTheLengthBand() {
    let truncated = String(Self.original.prefix(120))
    #expect(validator.rejection(original: Self.original, counterfactual: truncated)?.reason == "length_ratio_low")
    let padded = Self.original + " " + Self.original.prefix(80)
    #expect(validator.rejection(original: Self.original, counterfactual: padded)?.reason == "length_ratio_high")
  }

  @Test func rejectsNearCopiesAndOffTopicRewrites() {
    let nearCopy = Self.original.replacingOccurrences(of: "month.", with: "month!")
    let tooSimilar = validator.rejection(original: Self.original, counterfactual: nearCopy)
    #expect(tooSimilar?.reason == "too_similar")
    #expect(tooSimilar?.detail.contains("jaccard") == true)
    let unrelated = """
      Penguins huddle together through the polar winter, taking turns at the windy edge of the group while \
      the eggs rest on their feet, and the females return from the sea weeks later with food.
      """
    #expect(validator.rejection(original: Self.original, counterfactual: unrelated)?.reason == "off_topic")
  }

  @Test func bandsAreConfigurable() {
    let nearCopy = Self.original.replacingOccurrences(of: "month.", with: "month!")
    let lenient = CounterfactualValidator(maximumSimilarity: 1)
    #expect(lenient.rejection(original: Self.original, counterfactual: nearCopy) == nil)
  }

  @Test func jaccardOfCharacterTrigramsIgnoresCaseAndSpacing() {
    let a = CharacterTrigrams("Hello   World")
    let b = CharacterTrigrams("hello world")
    #expect(a.jaccard(b) == 1)
    #expect(a.characters == 10)
    #expect(CharacterTrigrams("abc").jaccard(CharacterTrigrams("xyz")) == 0)
  }
}
