import PipeCore
import Testing

@testable import PipeStages

/// `dedup.minhash@2`: bands and rows derived from the threshold, and its config mistakes.
struct MinHashBandingTests {
  /// The same optimum as datasketch 2.0's `MinHashLSH(threshold, num_perm).b, .r` (read from
  /// datasketch in the bench venv: 9 x 13, 25 x 5, 5 x 22, 25 x 10).
  @Test(arguments: [(0.8, 128, 9, 13), (0.5, 128, 25, 5), (0.9, 112, 5, 22), (0.7, 256, 25, 10)])
  func equalWeightsGiveDatasketchsBanding(threshold: Double, size: Int, bands: Int, rows: Int) {
    let banding = MinHashBanding.optimal(threshold: threshold, size: size, falsePositiveWeight: 0.5)
    #expect(banding == MinHashBanding(bands: bands, rows: rows))
  }

  @Test func verifiedCandidatesFavourRecall() {
    let verified = MinHashBanding.optimal(
      threshold: 0.8, size: 112, falsePositiveWeight: MinHashBanding.verifiedFalsePositiveWeight)
    let unverified = MinHashBanding.optimal(
      threshold: 0.8, size: 112, falsePositiveWeight: MinHashBanding.unverifiedFalsePositiveWeight)
    #expect(verified == MinHashBanding(bands: 14, rows: 8))
    #expect(unverified == MinHashBanding(bands: 9, rows: 12))
    // At the threshold, the verified banding finds nine pairs in ten, datasketch's about half.
    #expect(verified.candidateProbability(0.8) > 0.9 && unverified.candidateProbability(0.8) < 0.5)
    #expect(verified.candidateProbability(0.3) < 0.001)
  }

  @Test func version2DefaultsAndDerivedBanding() throws {
    let descriptor = MinHashDedup.descriptorVersion2
    #expect(descriptor.qualifiedName == "dedup.minhash@2")
    let (config, issues) = descriptor.resolve([:], path: "stages[0].config")
    #expect(issues.isEmpty)
    let stage = try MinHashDedup(options: MinHashDedup.OptionsVersion2(resolved: try #require(config)))
    #expect(stage.threshold == 0.8 && stage.verification == .exact && stage.clustering == .greedy)
    #expect(stage.signatureSize == 112 && stage.banding == MinHashBanding(bands: 14, rows: 8))
    #expect(stage.minimumSimilarity == 0, "no fingerprints with exact verification")
    guard case .steps(let plan) = try descriptor.make(try #require(config)) else {
      Issue.record("expected a stage with steps")
      return
    }
    #expect(plan.collect?.writes.count == 2, "signatures and shingle sets")

    let (estimate, _) = descriptor.resolve(
      ["threshold": .double(0.6), "verify": .string("signature"), "signatureSize": .int(128)], path: "c")
    let signature = try MinHashDedup(options: MinHashDedup.OptionsVersion2(resolved: try #require(estimate)))
    #expect(signature.minimumSimilarity == 0.6 && signature.signatureSize == 128)
    #expect(signature.banding.bands * signature.banding.rows <= 128)
    let (explicit, _) = descriptor.resolve(["bands": .int(20), "rows": .int(5)], path: "c")
    #expect(
      try MinHashDedup(options: MinHashDedup.OptionsVersion2(resolved: try #require(explicit))).banding
        == MinHashBanding(bands: 20, rows: 5))
  }

  @Test(arguments: [
    (#"{"bands": 20}"#, "both bands and rows"),
    (#"{"rows": 5}"#, "both bands and rows"),
    (#"{"bands": 20, "rows": 6}"#, "at most signatureSize (112)"),
    (#"{"threshold": 1}"#, "strictly between 0 and 1"),
    (#"{"survivor": "max_score"}"#, "needs scoreField"),
  ])
  func version2ConfigMistakesSayWhatToChange(json: String, message: String) throws {
    let object = try #require(try JSONValue.parse(Array(json.utf8)).objectValue)
    let (config, issues) = MinHashDedup.descriptorVersion2.resolve(object, path: "c")
    #expect(issues.isEmpty)
    let error = try #require(throws: PipeError.self) { try MinHashDedup.descriptorVersion2.make(try #require(config)) }
    #expect(error.message.contains(message), "\(error.message)")
  }

  @Test func version2RejectsOutOfRangeValuesAtTheirPaths() {
    let (_, issues) = MinHashDedup.descriptorVersion2.resolve(
      ["threshold": .double(1.5), "verify": .string("sha1"), "signatureSize": .int(5000)], path: "c")
    #expect(issues.map(\.path).sorted() == ["c.signatureSize", "c.threshold", "c.verify"])
  }
}

/// The sort of uniform hashes that shingle-set files and band sections use.
struct ShingleSetSortTests {
  @Test(arguments: [0, 1, 31, 33, 200, 5_000, 100_000])
  func sortsLikeTheStandardLibrary(count: Int) {
    var rng = SeededRNG(seed: UInt64(count) + 9)
    var values = (0..<count).map { _ in rng.next() }
    // Repeats, and a run of equal top bits (a bucket past 16 values).
    if count > 40 {
      for index in 0..<20 { values[index] = 0xAB00_0000_0000_0000 | UInt64(index * 7 % 13) }
      values[21] = values[22]
    }
    var sorted = values
    var scratch: [UInt64] = []
    sortByUniformKey(&sorted, scratch: &scratch, key: { $0 }, by: <)
    #expect(sorted == values.sorted())
  }
}
