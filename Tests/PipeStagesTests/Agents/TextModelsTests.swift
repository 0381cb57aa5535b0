import PipeCore
import Testing

@testable import PipeStages

struct TextModelsTests {
  @Test func embeddingsAreUnitLengthAndCloserForSimilarInstructions() {
    let embedder = HashedEmbedder(dimensions: 256)
    let a = embedder.embed("How do I sort a list of numbers in Python?")
    let b = embedder.embed("How can I sort a list of strings in Python?")
    let c = embedder.embed("Describe the water cycle for a ten year old.")
    func dot(_ x: [Float], _ y: [Float]) -> Float { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
    #expect(abs(dot(a, a) - 1) < 1e-5)
    #expect(dot(a, b) > dot(a, c) + 0.2)
    #expect(embedder.embed("").allSatisfy { $0 == 0 })
    #expect(embedder.embed("数据 处理") != embedder.embed("数据 分析"))
  }

  @Test func offlineIFDIsBelowOneForAGroundedResponseAndAboutOneOtherwise() {
    let reference = [
      "the cat sat on the mat", "a dog ran in the park", "the weather is cold in winter",
      "python lists can be sorted with the sorted function", "water boils at one hundred degrees",
    ]
    let scorer = NGramScorer(order: 2, reference: reference)
    let grounded = scorer.ifd(
      instruction: "Explain how quicksort partitions an array around a pivot",
      response: "quicksort partitions the array around a pivot")
    let unrelated = scorer.ifd(
      instruction: "Explain how quicksort partitions an array around a pivot",
      response: "the weather is cold in winter")
    #expect(grounded < 0.9, "\(grounded)")
    #expect(abs(unrelated - 1) < 0.6 && unrelated > grounded, "\(unrelated)")
    // A richer model (trigrams) is a different model: the two IFDs differ.
    let large = NGramScorer(order: 3, reference: reference)
    #expect(large.ifd(instruction: "the cat", response: "the cat sat on the mat") != grounded)
  }

  @Test func ifdFromLogProbabilities() {
    // Conditioned tokens are likelier (closer to 0): IFD below 1.
    let value = InstructionFollowingDifficulty.value(conditioned: [-0.5, -0.7], unconditioned: [-2, -2.4])
    #expect(value.map { abs($0 - 0.2019) < 1e-3 } == true)
    #expect(InstructionFollowingDifficulty.value(conditioned: [], unconditioned: [-1]) == nil)
  }

  @Test func judgeVerdictsParseTheLastBracketedLetter() {
    #expect(JudgeVerdict.parse("Assistant A is more precise. [[A]]") == .first)
    #expect(JudgeVerdict.parse("[[A]] at first, but on reflection [[B]]") == .second)
    #expect(JudgeVerdict.parse("It is a tie: [[ c ]]") == .tie)
    #expect(JudgeVerdict.parse("I cannot decide.") == nil)
    #expect(JudgeVerdict.parse("[[D]] [[") == nil)
  }

  @Test func schemaVerdictsParseFromTheJSONObjectWithTheBracketsAsFallback() {
    #expect(JudgeVerdict.parse(#"{"comparison": "A is right, B is cut short.", "verdict": "A"}"#, json: true) == .first)
    #expect(JudgeVerdict.parse(#"{"comparison": "[[A]] looks better", "verdict": " b "}"#, json: true) == .second)
    #expect(JudgeVerdict.parse(#"{"comparison": "x", "verdict": "C"}"#, json: false) == nil)
    // A server that ignores the schema: the brackets still count.
    #expect(JudgeVerdict.parse("B is better. [[B]]", json: true) == .second)
    #expect(JudgeVerdict.parse(#"{"comparison": "cut off"#, json: true) == nil)
    #expect(JudgeVerdict.parse(#"{"comparison": "x", "verdict": "D"}"#, json: true) == nil)
  }
}
