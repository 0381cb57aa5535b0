import PipeCore

// Shingle-set file, one per shard (`shingles-0000i.bin`), written only when candidates are
// verified by exact Jaccard similarity. All integers are little-endian. The hashes come first
// so that they stream straight into the file; what locates them is at the end.
//
//   hashes: per document (numbered as in the signature file), its distinct shingle hashes
//     (UInt32: the top half of each 64-bit shingle hash), ascending
//   offsets: documents + 1 entries (UInt64): document d's hashes are [offsets[d], offsets[d+1])
//   trailer (24 bytes): "PMHX", version 2 (UInt32 each), documents (UInt64), hashes (UInt64)
//
// 32 bits a shingle halve the file and its sort; two distinct shingles of a compared pair (a
// thousand shingles between them) share a top half with chance below 1e-4, which moves their
// similarity by less than a thousandth.

/// Writes one shard's shingle sets as documents arrive; keeps only the offsets (8 bytes per
/// document) and a small buffer in memory.
final class ShingleSetFileBuilder {
  static let magic: UInt32 = 0x584D_4850  // "PMHX"
  static let version: UInt32 = 2
  static let trailerBytes = 24

  private let writer: any ArtifactOutput
  private var offsets: [UInt64] = [0]
  private var buffer: [UInt32] = []
  /// Reused across documents.
  private var sorted: [UInt32] = []
  private var scratch: [UInt32] = []

  init(writer: any ArtifactOutput) {
    self.writer = writer
  }

  /// Adds the next document's shingle hashes (any order, repeats allowed): their top halves,
  /// sorted (they are uniform, so `sortByUniformKey` applies) and without repeats.
  func add(_ shingles: [UInt64]) throws {
    sorted.removeAll(keepingCapacity: true)
    sorted.append(contentsOf: shingles.lazy.map { UInt32(truncatingIfNeeded: $0 >> 32) })
    sortByUniformKey(&sorted, scratch: &scratch, key: { UInt64($0) << 32 }, by: <)
    let first = buffer.count
    for (index, hash) in sorted.enumerated() where index == 0 || hash != sorted[index - 1] {
      buffer.append(hash.littleEndian)
    }
    offsets.append(offsets[offsets.count - 1] + UInt64(buffer.count - first))
    if buffer.count >= 1 << 13 { try flush() }
  }

  private func flush() throws {
    try buffer.withUnsafeBytes { try writer.write($0) }
    buffer.removeAll(keepingCapacity: true)
  }

  /// Writes the rest of the hashes, the offsets and the trailer.
  func finish() throws {
    try flush()
    try offsets.map(\.littleEndian).withUnsafeBytes { try writer.write($0) }
    var trailer: [UInt8] = []
    for value in [Self.magic, Self.version] { Binary.append(value, to: &trailer) }
    Binary.append(UInt64(offsets.count - 1), to: &trailer)
    Binary.append(offsets[offsets.count - 1], to: &trailer)
    try writer.write(trailer)
  }
}

/// The shingle sets of every shard, read on demand, and the exact Jaccard similarity of two
/// documents. Only the sets of compared documents are read, one read each after their shard's
/// offsets, so memory grows by 8 bytes a record at most, not with the sets.
final class ShingleSets {
  private struct Shard {
    let file: any ArtifactInput
    let documents: Int
    let offsetsAt: Int
  }
  private let shards: [Shard]
  private var first: [UInt32] = []
  private var second: [UInt32] = []

  init(files: [any ArtifactInput]) throws {
    shards = try files.map { file in
      let bad = PipeError(
        .corruptInput, "shingle-set file is truncated or corrupt; rerun the stage with --force", file: file.name)
      guard file.size >= ShingleSetFileBuilder.trailerBytes else { throw bad }
      var trailer = [UInt8](repeating: 0, count: ShingleSetFileBuilder.trailerBytes)
      try trailer.withUnsafeMutableBytes { try file.read(into: $0, at: file.size - ShingleSetFileBuilder.trailerBytes) }
      let documents = Int(trailer.loadLE(UInt64.self, at: 8))
      let hashes = Int(trailer.loadLE(UInt64.self, at: 16))
      guard trailer.loadLE(UInt32.self, at: 0) == ShingleSetFileBuilder.magic else { throw bad }
      let version = trailer.loadLE(UInt32.self, at: 4)
      guard version == ShingleSetFileBuilder.version else {
        throw PipeError(
          .corruptInput,
          "shingle-set file has format \(version), and this pipe reads format \(ShingleSetFileBuilder.version); "
            + "rerun the stage with --force (for a reference index, export it again with this pipe)",
          file: file.name)
      }
      guard file.size == 4 * hashes + 8 * (documents + 1) + ShingleSetFileBuilder.trailerBytes
      else { throw bad }
      return Shard(file: file, documents: documents, offsetsAt: 4 * hashes)
    }
    offsets = Array(repeating: nil, count: shards.count)
  }

  /// The number of documents of each shard.
  var documents: [Int] { shards.map(\.documents) }

  /// Each shard's offsets, read whole at its first comparison: 8 bytes a record of the shards
  /// compared, against a read per set (which took a third of the comparisons' time).
  private var offsets: [[UInt64]?]

  private func offsets(ofShard index: Int) throws -> [UInt64] {
    if let known = offsets[index] { return known }
    let shard = shards[index]
    var table = [UInt64](repeating: 0, count: shard.documents + 1)
    try table.withUnsafeMutableBytes { try shard.file.read(into: $0, at: shard.offsetsAt) }
    #if _endian(big)
      table = table.map { UInt64(littleEndian: $0) }
    #endif
    offsets[index] = table
    return table
  }

  /// Where the set of record `shard << 32 | number` is: hashes `from..<to` of its shard.
  private func range(of record: UInt64) throws -> (from: Int, to: Int) {
    let shard = shards[Int(record >> 32)]
    let number = Int(record & 0xFFFF_FFFF)
    let table = try offsets(ofShard: Int(record >> 32))
    guard number < shard.documents else {
      throw PipeError(
        .corruptInput, "shingle-set file has no record \(number); rerun the stage with --force", file: shard.file.name)
    }
    let from = Int(clamping: table[number])
    let to = Int(clamping: table[number + 1])
    guard from <= to, to <= shard.offsetsAt / 4 else {
      throw PipeError(
        .corruptInput, "shingle-set file has bad offsets; rerun the stage with --force", file: shard.file.name)
    }
    return (from, to)
  }

  /// Reads the set of record `shard << 32 | number` into `set` (its capacity is reused).
  private func read(_ record: UInt64, into set: inout [UInt32]) throws {
    let shard = shards[Int(record >> 32)]
    let (from, to) = try range(of: record)
    if set.count != to - from {
      set.removeAll(keepingCapacity: true)
      set.append(contentsOf: repeatElement(0, count: to - from))
    }
    if to > from { try set.withUnsafeMutableBytes { try shard.file.read(into: $0, at: 4 * from) } }
  }

  /// The record whose set is in `first`, so that comparisons with the same representative
  /// read it once.
  private var firstRecord: UInt64? = nil

  /// Whether the similarity of the two records reaches `threshold`. Two sets whose sizes differ
  /// too much cannot (the similarity is at most the smaller size over the larger, the value
  /// `jaccard` computes when one set holds the other), so they are not read.
  func reaches(_ a: UInt64, _ b: UInt64, threshold: Double) throws -> Bool {
    let (x, y) = (try range(of: a), try range(of: b))
    let (m, n) = (x.to - x.from, y.to - y.from)
    guard m > 0 && n > 0, Double(min(m, n)) / Double(max(m, n)) >= threshold else { return false }
    return try jaccard(a, b) >= threshold
  }

  /// The Jaccard similarity of the two records' shingle sets (a merge of two sorted lists).
  func jaccard(_ a: UInt64, _ b: UInt64) throws -> Double {
    if firstRecord != a {
      try read(a, into: &first)
      firstRecord = a
    }
    try read(b, into: &second)
    let (m, n) = (first.count, second.count)
    guard m > 0 && n > 0 else { return 0 }
    var (i, j, common) = (0, 0, 0)
    while i < m && j < n {
      let u = UInt32(littleEndian: first[i])
      let v = UInt32(littleEndian: second[j])
      if u == v {
        common += 1
        i += 1
        j += 1
      } else if u < v {
        i += 1
      } else {
        j += 1
      }
    }
    return Double(common) / Double(m + n - common)
  }
}
