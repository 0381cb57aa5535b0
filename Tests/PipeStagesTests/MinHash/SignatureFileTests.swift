import PipeCore
import Testing

@testable import PipeStages

/// The files of `dedup.minhash`'s steps, in memory: sorted band-key files with spills and the
/// k-way merge.
struct SignatureFileTests {
  // MARK: - Signature files

  static func randomKeys(documents: Int, bands: Int, seed: UInt64) -> [[UInt64]] {
    var rng = SeededRNG(seed: seed)
    // Few distinct keys, so equal keys (and their document order) matter.
    return (0..<documents).map { _ in (0..<bands).map { _ in rng.next() % 97 } }
  }

  /// Writes a signature file of `keys`; returns it, how many runs spilled and the scratch files
  /// made on the way.
  static func write(_ keys: [[UInt64]], bands: Int, budget: Int) throws -> (MemoryArtifact, Int, [MemoryArtifact]) {
    var scratch: [MemoryArtifact] = []
    let builder = try SignatureFileBuilder(
      bands: bands, fingerprintsPerDocument: 2, budget: budget,
      scratch: { name in
        let file = MemoryArtifact(name: name)
        scratch.append(file)
        return file
      })
    for (index, documentKeys) in keys.enumerated() {
      try builder.add(
        keys: documentKeys, signature: [UInt64(index), 7], line: index + 1, score: NearDuplicateSteps.noScore,
        id: "doc-\(index)")
    }
    let runs = builder.spilledRuns
    let file = MemoryArtifact(name: "signatures.bin")
    try builder.write(to: file)
    return (file, runs, scratch)
  }

  static func entries(_ file: any ArtifactInput, band: Int, bufferBytes: Int = 100) throws -> [BandEntry] {
    let header = try SignatureFileHeader(reading: file)
    let reader = BandSectionReader(
      file: file, offset: header.bandOffset(band), entries: header.documents, bufferBytes: bufferBytes)
    var entries: [BandEntry] = []
    while let entry = try reader.next() { entries.append(entry) }
    return entries
  }

  @Test func spilledRunsMergeToTheSameBytesAsOneSortInMemory() throws {
    let keys = Self.randomKeys(documents: 3000, bands: 3, seed: 11)
    let (inMemory, noRuns, fewScratch) = try Self.write(keys, bands: 3, budget: 64 << 20)
    let (spilled, runs, scratch) = try Self.write(keys, bands: 3, budget: 1)
    #expect(noRuns == 0)
    #expect(runs == 3000 / SignatureFileBuilder.minimumChunk)
    #expect(inMemory.data == spilled.data)
    #expect(fewScratch.map(\.name) == ["fingerprints", "docs"])
    // One scratch file per run spilled while adding, and one for the last chunk, spilled at the end.
    #expect(scratch.count == 2 + runs + 1)

    // Each band reads back sorted by (key, document), every document once.
    let file = spilled
    let header = try SignatureFileHeader(reading: file)
    #expect(header.documents == 3000 && header.bands == 3 && header.fingerprintsPerDocument == 2)
    for band in 0..<3 {
      let entries = try Self.entries(file, band: band)
      #expect(entries.count == 3000)
      #expect(zip(entries, entries.dropFirst()).allSatisfy { $0 < $1 })
      #expect(Set(entries.map(\.document)).count == 3000)
      #expect(entries.allSatisfy { keys[Int($0.document)][band] == $0.key })
    }
    // The docs section holds lines, scores and ids in document order.
    let docs = ArtifactCursor(file, offset: header.docsOffset, count: header.docsBytes)
    for index in 0..<3000 {
      #expect(try docs.uint64() == UInt64(index + 1))
      #expect(try docs.uint64() == NearDuplicateSteps.noScore)
      #expect(try docs.string() == "doc-\(index)")
    }
    #expect(docs.atEnd)
  }

  @Test(arguments: [0, 1, 31, 33, 1_000, 50_000])
  func bandEntrySortGivesTheComparisonOrder(count: Int) {
    var rng = SeededRNG(seed: UInt64(count) + 7)
    // Uniform keys (the bucket path), keys sharing their top bits (one bucket: the comparison
    // fallback), and uniform keys repeated across documents (equal keys: document order).
    let uniform = (0..<count).map { BandEntry(key: rng.next(), document: UInt32($0)) }
    let small = (0..<count).map { BandEntry(key: rng.next() % 97, document: UInt32($0)) }
    let pool = (0..<max(1, count / 10)).map { _ in rng.next() }
    let repeated = (0..<count).map { BandEntry(key: pool[Int(rng.next() % UInt64(pool.count))], document: UInt32($0)) }
    var scratch: [BandEntry] = []
    for entries in [uniform, small, repeated, uniform.reversed()] {
      var sorted = entries
      BandEntry.sort(&sorted, scratch: &scratch)
      let expected = entries.sorted(by: <)
      #expect(sorted.map(\.key) == expected.map(\.key))
      #expect(sorted.map(\.document) == expected.map(\.document))
    }
  }

  @Test func mergerOrdersByKeyThenSourceThenDocument() throws {
    var readers: [BandSectionReader] = []
    for shard in 0..<3 {
      let keys = Self.randomKeys(documents: 50 + shard, bands: 2, seed: UInt64(shard))
      let (file, _, _) = try Self.write(keys, bands: 2, budget: 1 << 20)
      let header = try SignatureFileHeader(reading: file)
      readers.append(
        BandSectionReader(file: file, offset: header.bandOffset(1), entries: header.documents, bufferBytes: 24))
    }
    var merger = try BandMerger(readers)
    var merged: [(UInt64, Int, UInt32)] = []
    while let (entry, source) = try merger.next() { merged.append((entry.key, source, entry.document)) }
    #expect(merged.count == 50 + 51 + 52)
    #expect(zip(merged, merged.dropFirst()).allSatisfy { $0 < $1 })
  }

  @Test func corruptOrTruncatedSignatureFilesAreReported() throws {
    let (file, _, _) = try Self.write(Self.randomKeys(documents: 10, bands: 2, seed: 1), bands: 2, budget: 1 << 20)
    let truncated = MemoryArtifact(name: "k.bin", data: Array(file.data.dropLast(5)))
    #expect(throws: PipeError.self) { try SignatureFileHeader(reading: truncated) }
    let garbage = MemoryArtifact(name: "k.bin", data: Array(String(repeating: "not a signature file ", count: 5).utf8))
    #expect(throws: PipeError.self) { try SignatureFileHeader(reading: garbage) }
  }
}
