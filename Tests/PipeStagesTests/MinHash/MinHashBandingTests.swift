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

/// Shingle-set files: what is written is read back as the distinct top halves of the hashes,
/// and the similarity is that of those sets.
struct ShingleSetFileTests {
  static func topHalves(_ values: [UInt64]) -> Set<UInt32> { Set(values.map { UInt32(truncatingIfNeeded: $0 >> 32) }) }

  @Test func theSimilarityIsTheJaccardOfTheDistinctTopHalves() throws {
    var rng = SeededRNG(seed: 41)
    let shared = (0..<300).map { _ in rng.next() }
    var documents: [[UInt64]] = [
      shared + (0..<100).map { _ in rng.next() },
      // Repeats, and thirty values in one bucket of the counting pass (past 16: sorted apart).
      shared + shared.prefix(50) + (0..<30).map { 0xAB00_0000_0000_0000 | UInt64($0) << 32 },
      [],
      (0..<5).map { _ in rng.next() },
      (0..<2_000).map { _ in rng.next() } + shared.prefix(10),
    ]
    documents[0].shuffle(using: &rng)
    let artifact = MemoryArtifact(name: "shingles-00000.bin")
    let builder = ShingleSetFileBuilder(writer: artifact)
    for document in documents { try builder.add(document) }
    try builder.finish()
    let sets = try ShingleSets(files: [artifact])
    #expect(sets.documents == [documents.count])
    for a in documents.indices {
      for b in documents.indices where a != b {
        let (x, y) = (Self.topHalves(documents[a]), Self.topHalves(documents[b]))
        let expected = x.isEmpty || y.isEmpty ? 0 : Double(x.intersection(y).count) / Double(x.union(y).count)
        #expect(try sets.jaccard(UInt64(a), UInt64(b)) == expected, "documents \(a) and \(b)")
        // The size bound never decides otherwise than the similarity itself.
        for threshold in [0.01, 0.2, 0.5, 0.75, 0.95] {
          #expect(try sets.reaches(UInt64(a), UInt64(b), threshold: threshold) == (expected >= threshold))
        }
      }
    }
    // 4 bytes a distinct value, then the offsets and the trailer.
    let distinct = documents.map { Self.topHalves($0).count }.reduce(0, +)
    #expect(artifact.size == 4 * distinct + 8 * (documents.count + 1) + ShingleSetFileBuilder.trailerBytes)
  }

  @Test func aFileOfAnotherFormatIsRefusedWithWhatToDo() throws {
    let artifact = MemoryArtifact(name: "shingles-00003.bin")
    let builder = ShingleSetFileBuilder(writer: artifact)
    try builder.add([1, 2, 3])
    try builder.finish()
    var bytes = artifact.data
    bytes[bytes.count - ShingleSetFileBuilder.trailerBytes + 4] = 1  // format 1 (64-bit hashes)
    let error = try #require(throws: PipeError.self) {
      _ = try ShingleSets(files: [MemoryArtifact(name: "shingles-00003.bin", data: bytes)])
    }
    #expect(error.message.contains("format 1"), "\(error.message)")
    #expect(error.message.contains("--force"))
    #expect(error.file == "shingles-00003.bin")
  }
}
