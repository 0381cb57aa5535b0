import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// Rule-based counterfactuals, facet by facet.
struct PerturbationTests {
  static let article = """
    The river rises in the northern hills. Its water is cold and clear in spring.
    Farmers along the river grow rice and beans. They depend on the spring floods.

    A dam was built upstream in 1962. Since then the floods have been smaller, and the farmers irrigate instead.
    """

  static let chinese = "今天天气很好。我们去公园散步。公园里有很多花。孩子们在草地上玩。"

  private func degrade(_ text: String, _ facet: Facet, seed: UInt64 = 1) -> String? {
    var generator = SeededRNG(seed: seed)
    return Perturbation.degrade(text, facet: facet, using: &generator)
  }

  private func segments(_ text: String) -> [String] {
    var copy = text
    return copy.withUTF8 { bytes in
      var found: [Segment] = []
      Segmentation.split(bytes, into: &found)
      return found.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.start..<$0.end]), as: UTF8.self) }
    }
  }

  private static let allFacets = Scenario.webArticle.facets + Scenario.code.facets

  @Test(arguments: allFacets)
  func isDeterministicPerSeed(facet: Facet) throws {
    let text =
      facet.rule == .shuffleSentences || Scenario.webArticle.facets.contains(facet) ? Self.article : CodeSamples.c
    let first = try #require(degrade(text, facet, seed: 42))
    #expect(degrade(text, facet, seed: 42) == first)
    #expect(first != text)
    // Across seeds the rule draws differently (several seeds, so one coincidence cannot fail it).
    if facet.rule != .stripComments {  // the only rule that draws nothing
      let others = (1...5).compactMap { degrade(text, facet, seed: UInt64(100 + $0)) }
      #expect(others.contains { $0 != first })
    }
  }

  @Test(arguments: allFacets)
  func emptyAndBlankTextsAreNotApplicable(facet: Facet) {
    #expect(degrade("", facet) == nil)
    #expect(degrade("   \n\n  ", facet) == nil)
  }

  @Test func oneWordTextSupportsOnlyNoise() {
    let facets = Scenario.webArticle.facets
    #expect(degrade("Hello", facets[0]) == nil)  // coherence: one sentence
    #expect(degrade("Hello", facets[1]) == nil)  // informativeness: nothing to keep
    #expect(degrade("Hello", facets[2]) == nil)  // fluency: no pair of words
    #expect(degrade("Hello", facets[3]) == nil)  // redundancy: needs a sentence of two words
    #expect(degrade("Hello", facets[4])?.contains("Hello") == true)  // noise: boilerplate around it
  }

  @Test func customFacetWithoutRuleNeedsAnLLM() throws {
    let scenario = try Scenario.custom(
      name: "reviews", definitions: [("engagement", "Holds the reader's interest."), ("noise", "No boilerplate.")])
    #expect(scenario.facets[0].rule == nil)
    #expect(scenario.facets[1].rule == .insertBoilerplate)
    #expect(degrade(Self.article, scenario.facets[0]) == nil)
  }

  @Test func shuffleKeepsEverySentenceAndTheLayout() throws {
    let shuffled = try #require(degrade(Self.article, Scenario.webArticle.facets[0]))
    #expect(segments(shuffled).sorted() == segments(Self.article).sorted())
    #expect(segments(shuffled) != segments(Self.article))
    // Separators stay in place: the same line breaks at the same positions.
    #expect(shuffled.filter { $0 == "\n" }.count == Self.article.filter { $0 == "\n" }.count)
    #expect(degrade("Only one sentence here.", Scenario.webArticle.facets[0]) == nil)
    #expect(degrade("Same. Same. Same.", Scenario.webArticle.facets[0]) == nil)
  }

  @Test func shuffleWorksOnChineseAndKeepsLinesWithLines() throws {
    let shuffled = try #require(degrade(Self.chinese, Scenario.webArticle.facets[0], seed: 3))
    #expect(segments(shuffled).sorted() == segments(Self.chinese).sorted())
    #expect(shuffled != Self.chinese)
    // A heading (no end punctuation) never trades places with a sentence.
    let text = "Rivers\n\nThe river rises in the hills. It flows south. It reaches the sea. It is long."
    for seed in 0..<20 {
      let result = try #require(degrade(text, Scenario.webArticle.facets[0], seed: UInt64(seed)))
      #expect(result.hasPrefix("Rivers\n\n"))
    }
  }

  @Test func fillerReplacesAboutHalfTheSentences() throws {
    let result = try #require(degrade(Self.article, Scenario.webArticle.facets[1]))
    let original = Set(segments(Self.article))
    let kept = segments(result).filter(original.contains)
    #expect(kept.count >= 2 && kept.count <= 4, "kept \(kept.count) of 6 sentences")
    let chinese = try #require(degrade(Self.chinese, Scenario.webArticle.facets[1]))
    #expect(chinese.unicodeScalars.allSatisfy { $0.value > 0x2E80 }, "Chinese text gets Chinese filler")
  }

  @Test func fluencySwapsAndDropsWords() throws {
    let result = try #require(degrade(Self.article, Scenario.webArticle.facets[2]))
    let words = { (text: String) in text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init) }
    #expect(words(result).count < words(Self.article).count, "function words were dropped")
    #expect(Set(words(result)).isSubset(of: Set(words(Self.article))))
    let chinese = try #require(degrade(Self.chinese, Scenario.webArticle.facets[2]))
    #expect(chinese != Self.chinese)
    #expect(degrade("hello hello", Scenario.webArticle.facets[2]) == nil, "swapping equal words changes nothing")
  }

  @Test func redundancyRepeatsASentenceLater() throws {
    let result = try #require(degrade(Self.article, Scenario.webArticle.facets[3]))
    let original = segments(Self.article)
    let degraded = segments(result)
    #expect(degraded.count > original.count)
    #expect(Set(degraded) == Set(original))
    let short = try #require(degrade("One short sentence.", Scenario.webArticle.facets[3]))
    #expect(short == "One short sentence. One short sentence.")
    let chinese = try #require(degrade("我们去公园散步。", Scenario.webArticle.facets[3]))
    #expect(chinese == "我们去公园散步。我们去公园散步。")
  }

  @Test func noiseInsertsBoilerplateLines() throws {
    let result = try #require(degrade(Self.article, Scenario.webArticle.facets[4]))
    let added = Set(segments(result)).subtracting(segments(Self.article))
    #expect(!added.isEmpty)
    #expect(added.allSatisfy { line in Phrases.boilerplate.contains { $0.contains(line) } })
    #expect(result.replacingOccurrences(of: "\n", with: " ").contains("They depend on the spring floods."))
  }

  @Test func codeRulesDegradeCAndPython() throws {
    let facets = Scenario.code.facets
    let stripped = try #require(degrade(CodeSamples.c, facets[1]))
    #expect(!stripped.contains("// running") && !stripped.contains("/*") && !stripped.contains("Adds up"))
    #expect(stripped.contains("#include <stdio.h>"), "preprocessor lines are code")
    #expect(stripped.contains("see http://example.org"), "string contents are not comments")
    let python = try #require(degrade(CodeSamples.python, facets[1]))
    #expect(!python.contains("#") && !python.contains("\"\"\""))
    #expect(python.contains("return total"))
    #expect(degrade("int x = 1;\nint y = 2;\n", facets[1]) == nil, "nothing to strip")

    let renamed = try #require(degrade(CodeSamples.python, facets[0]))
    #expect(renamed.contains("v1"))
    #expect(renamed.contains("def ") && renamed.contains("return "), "keywords are kept")
    #expect(!renamed.contains("\n    "), "indentation is flattened")

    let marked = try #require(degrade(CodeSamples.python, facets[2], seed: 9))
    #expect(["TODO", "FIXME", "XXX", "HACK"].contains { marked.contains("# " + $0) })
  }

  @Test(arguments: allFacets)
  func enormousTextIsHandledInLinearTime(facet: Facet) throws {
    // About 1.3 MB; a quadratic rule would take minutes here even in a release build.
    let unit = Scenario.webArticle.facets.contains(facet) ? Self.article + "\n\n" : CodeSamples.c
    let text = String(repeating: unit, count: 3000)
    let clock = ContinuousClock()
    let start = clock.now
    let result = degrade(text, facet)
    #expect(clock.now - start < .seconds(15))
    let degraded = try #require(result)
    #expect(degraded.utf8.count > text.utf8.count / 2)
  }

  @Test func recordsDrawFromTheStageContextPerFacet() throws {
    let record = Record(id: "doc-1", text: Self.article)
    let context = StageContext(stageID: "counterfactual", seed: 7, shardIndex: 0)
    let facet = Scenario.webArticle.facets[0]
    let first = try #require(Perturbation.degrade(record, facet: facet, context: context))
    // Same run seed, stage and record: same counterfactual, whatever the shard.
    let elsewhere = StageContext(stageID: "counterfactual", seed: 7, shardIndex: 5)
    #expect(Perturbation.degrade(record, facet: facet, context: elsewhere) == first)
    // Facets and records get independent generators.
    var coherence = Perturbation.generator(for: "doc-1", facet: "coherence", context: context)
    var noise = Perturbation.generator(for: "doc-1", facet: "noise", context: context)
    var other = Perturbation.generator(for: "doc-2", facet: "coherence", context: context)
    let draw = coherence.next()
    #expect(draw != noise.next())
    #expect(draw != other.next())
  }
}

/// Small code samples.
enum CodeSamples {
  static let c = """
    #include <stdio.h>

    /* Adds up the numbers
       given on the command line. */
    int sum_arguments(int count, char **values) {
        int total = 0;  // running sum
        for (int index = 1; index < count; index++) {
            total += atoi(values[index]);
        }
        printf("%d see http://example.org\\n", total);
        return total;
    }

    """

  static let python = """
    def add_numbers(values):
        \"\"\"Return the sum of values.\"\"\"
        # start from zero
        total = 0
        for value in values:
            total += value  # accumulate
        assert total >= 0
        return total
    """
}
