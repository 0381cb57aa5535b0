import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// Signatures, band keys, survivor scores and the config of `dedup.minhash@1`, in memory.
@Suite struct MinHashDedupTests {
  static let text = """
    The quick brown fox jumps over the lazy dog while the farmer watches from the porch and the
    children play in the field behind the old red barn until the sun goes down over the hills and
    everyone walks home for dinner, tired but happy after a long summer day spent outside together
    """

  static func stage(_ algorithm: MinHashSketcher.Algorithm = .fast, seed: UInt64 = 1) throws -> MinHashDedup {
    try MinHashDedup(seed: seed, algorithm: algorithm)
  }

  /// A word of letters for a number (digits would all normalize to 0).
  static func word(_ prefix: String, _ number: Int) -> String {
    var number = number
    var letters = prefix
    repeat {
      letters.append(Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(number % 26))))
      number /= 26
    } while number > 0
    return letters
  }

  static func jaccard(_ shingler: MinHashShingler, _ a: String, _ b: String) -> Double {
    let x = Set(shingler.shingles(of: a))
    let y = Set(shingler.shingles(of: b))
    return Double(x.intersection(y).count) / Double(x.union(y).count)
  }

  @Test(arguments: MinHashSketcher.Algorithm.allCases)
  func identicalTextsAfterNormalizationHaveIdenticalKeys(algorithm: MinHashSketcher.Algorithm) throws {
    let stage = try Self.stage(algorithm)
    let a = try #require(stage.bandKeys(of: makeRecord(Self.text)))
    let b = try #require(
      stage.bandKeys(of: makeRecord(Self.text.uppercased().replacingOccurrences(of: " ", with: "  "))))
    #expect(a == b)
    #expect(a.count == 16)
    #expect(try #require(stage.signature(of: makeRecord(Self.text))).count == 112)
  }

  @Test(arguments: MinHashSketcher.Algorithm.allCases)
  func similarityIsEstimatedFromTheSignature(algorithm: MinHashSketcher.Algorithm) throws {
    let stage = try Self.stage(algorithm)
    // Two long texts sharing about 80% of their shingles, and an unrelated one.
    let words = (0..<2000).map { Self.word("w", $0) }
    var edited = words
    for index in stride(from: 0, to: edited.count, by: 45) { edited[index] = Self.word("x", index) }
    let a = words.joined(separator: " ")
    let b = edited.joined(separator: " ")
    let c = (0..<2000).map { Self.word("v", $0) }.joined(separator: " ")
    let truth = Self.jaccard(stage.shingler, a, b)
    #expect(truth > 0.75 && truth < 0.85)
    let sa = try #require(stage.signature(of: makeRecord(a)))
    let sb = try #require(stage.signature(of: makeRecord(b)))
    let sc = try #require(stage.signature(of: makeRecord(c)))
    // 112 values: the standard error is about 0.04, so 0.15 is a safe margin.
    #expect(abs(MinHashDedup.estimatedSimilarity(sa, sb) - truth) < 0.15)
    #expect(MinHashDedup.estimatedSimilarity(sa, sc) < 0.1)
  }

  @Test func fastSketchAgreesOnABinWithProbabilityJaccard() throws {
    // Over many seeds, the share of equal values converges to the Jaccard similarity.
    let a = (0..<60).map { Self.word("a", $0) }.joined(separator: " ")
    let b = (0..<60).map { $0 % 10 == 0 ? Self.word("b", $0) : Self.word("a", $0) }.joined(separator: " ")
    var equal = 0
    var total = 0
    for seed in 1...40 {
      let stage = try Self.stage(.fast, seed: UInt64(seed))
      let sa = try #require(stage.signature(of: makeRecord(a)))
      let sb = try #require(stage.signature(of: makeRecord(b)))
      equal += zip(sa, sb).filter { $0 == $1 }.count
      total += sa.count
    }
    let truth = Self.jaccard(MinHashShingler(ngrams: 5, normalization: MinHashNormalization()), a, b)
    #expect(truth > 0.2 && truth < 0.5)
    #expect(abs(Double(equal) / Double(total) - truth) < 0.03, "estimate \(Double(equal) / Double(total)) vs \(truth)")
  }

  @Test(arguments: MinHashSketcher.Algorithm.allCases)
  func signaturesDependOnTheSetOfShinglesOnly(algorithm: MinHashSketcher.Algorithm) throws {
    let stage = try Self.stage(algorithm)
    // Six distinct shingles, repeated many times (a text far longer than one chunk, whose
    // bins round 0 cannot fill: the replay path), versus the same six shingles once.
    let huge = String(repeating: "a b c d e f ", count: 11_000)
    let small = "a b c d e f a b c d"
    #expect(Set(stage.shingler.shingles(of: huge)) == Set(stage.shingler.shingles(of: small)))
    let sh = try #require(stage.signature(of: makeRecord(huge)))
    let ss = try #require(stage.signature(of: makeRecord(small)))
    #expect(sh == ss)
    #expect(stage.sketcher.signature(of: stage.shingler.shingles(of: huge)) == sh)
  }

  @Test func hugeTextWithManyShinglesMatchesTheAllAtOnceSignature() throws {
    let stage = try Self.stage()
    let text = (0..<150_000).map { Self.word("t", $0 % 50_021) }.joined(separator: "\n")
    let streamed = try #require(stage.signature(of: makeRecord(text)))
    #expect(stage.sketcher.signature(of: stage.shingler.shingles(of: text)) == streamed)
  }

  @Test func emptyAndOneWordTexts() throws {
    let stage = try Self.stage()
    #expect(stage.signature(of: makeRecord("")) == nil)
    #expect(stage.bandKeys(of: makeRecord("  ...  ")) == nil)
    let one = try #require(stage.bandKeys(of: makeRecord("Hello")))
    #expect(stage.bandKeys(of: makeRecord("hello!")) == one)
    #expect(stage.bandKeys(of: makeRecord("world")) != one)
    // A one-shingle set fills every bin with the same shingle's values.
    #expect(Set(try #require(stage.signature(of: makeRecord("hello")))).count > 1)
  }

  @Test func cjkAndThaiTextsAreComparedCharacterWise() throws {
    let stage = try Self.stage()
    let chinese = "自然语言处理是人工智能和语言学领域的分支学科。此领域探讨如何处理及运用自然语言；自然语言处理包括多方面和步骤，基本有认知、理解、生成等部分。"
    let editedChinese = chinese.replacingOccurrences(of: "基本", with: "主要")
    let thai = "ภาษาไทยเป็นภาษาที่มีระดับเสียงของคำแน่นอนหรือวรรณยุกต์เช่นเดียวกับภาษาจีนและออกเสียงแยกคำต่อคำ"
    let sc = try #require(stage.signature(of: makeRecord(chinese)))
    let se = try #require(stage.signature(of: makeRecord(editedChinese)))
    let st = try #require(stage.signature(of: makeRecord(thai)))
    #expect(MinHashDedup.estimatedSimilarity(sc, se) > 0.6)
    #expect(MinHashDedup.estimatedSimilarity(sc, st) < 0.1)
    #expect(stage.shingler.shingles(of: chinese).count > 50, "a Chinese document is many words, not one")
  }

  @Test func enormousLineOfOneRepeatedCharacter() throws {
    let stage = try Self.stage()
    let line = String(repeating: "x", count: 3_000_000)
    let keys = try #require(stage.bandKeys(of: makeRecord(line)))
    #expect(keys == stage.bandKeys(of: makeRecord(line.uppercased())))
    #expect(stage.shingler.shingles(of: line).count == 1)
  }

  @Test func seedsChangeTheHashFunctions() throws {
    let a = try #require(try Self.stage(seed: 1).signature(of: makeRecord(Self.text)))
    let b = try #require(try Self.stage(seed: 2).signature(of: makeRecord(Self.text)))
    #expect(a != b)
    #expect(try Self.stage(seed: 1).signature(of: makeRecord(Self.text)) == a, "deterministic")
  }

  @Test func survivorScoreReadsTheConfiguredMetadataKey() throws {
    let stage = try MinHashDedup(survivor: .maxScore, scoreField: "quality")
    #expect(stage.survivorScore(of: makeRecord("x", metadata: ["quality": .double(0.25)])) == 0.25)
    #expect(stage.survivorScore(of: makeRecord("x", metadata: ["quality": .int(3)])) == 3)
    #expect(stage.survivorScore(of: makeRecord("x", metadata: ["quality": .string("high")])) == nil)
    #expect(stage.survivorScore(of: makeRecord("x")) == nil)
    #expect(try MinHashDedup().survivorScore(of: makeRecord("x", metadata: ["quality": .double(1)])) == nil)
  }

  @Test func descriptorDefaultsAndValidation() throws {
    let descriptor = MinHashDedup.descriptor
    #expect(descriptor.qualifiedName == "dedup.minhash@1")
    let (config, issues) = descriptor.resolve([:], path: "stages[0].config")
    #expect(issues.isEmpty)
    let resolved = try #require(config)
    #expect(
      resolved.values["ngrams"]?.intValue == 5 && resolved.values["bands"]?.intValue == 16
        && resolved.values["rows"]?.intValue == 7)
    guard case .steps(let plan) = try descriptor.make(resolved) else {
      Issue.record("expected a stage with steps")
      return
    }
    #expect(plan.collect?.name == "signatures" && plan.steps.map(\.name) == ["buckets", "clusters"])
    let made = try MinHashDedup(options: MinHashDedup.Options(resolved: resolved))
    #expect(made.bandCount == 16 && made.signatureSize == 112)
    #expect(made.dropReason == "near_duplicate")
    #expect(made.clusterSizeField == "duplicate_count")
    #expect(made.memoryCapBytes == 512 << 20)

    let (tooBig, _) = descriptor.resolve(["bands": .int(100), "rows": .int(100)], path: "c")
    #expect(throws: PipeError.self) { try descriptor.make(try #require(tooBig)) }
    let (noScore, _) = descriptor.resolve(["survivor": .string("max_score")], path: "c")
    #expect(throws: PipeError.self) { try descriptor.make(try #require(noScore)) }
    let (noCount, _) = descriptor.resolve(["countField": .string("")], path: "c")
    let silent = try MinHashDedup(options: MinHashDedup.Options(resolved: try #require(noCount)))
    #expect(silent.clusterSizeField == nil)
    let (_, bad) = descriptor.resolve(["signature": .string("sha1"), "minSimilarity": .double(2)], path: "c")
    #expect(bad.map(\.path).sorted() == ["c.minSimilarity", "c.signature"])
  }
}
