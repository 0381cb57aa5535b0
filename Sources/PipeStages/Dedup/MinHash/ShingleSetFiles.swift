import PipeCore

// Shingle-set file, one per shard (`shingles-0000i.bin`), written only when candidates are
// verified by exact Jaccard similarity. All integers are little-endian. The hashes come first
// so that they stream straight into the file; what locates them is at the end.
//
//   hashes: per document (numbered as in the signature file), its distinct shingle hashes
//     (UInt64), ascending
//   offsets: documents + 1 entries (UInt64): document d's hashes are [offsets[d], offsets[d+1])
//   trailer (24 bytes): "PMHX", version 1 (UInt32 each), documents (UInt64), hashes (UInt64)

/// Writes one shard's shingle sets as documents arrive; keeps only the offsets (8 bytes per
/// document) and a small buffer in memory.
final class ShingleSetFileBuilder {
  static let magic: UInt32 = 0x584D_4850  // "PMHX"
  static let version: UInt32 = 1
  static let trailerBytes = 24

  private let writer: any ArtifactOutput
  private var offsets: [UInt64] = [0]
  private var buffer: [UInt64] = []
  private var sorted: [UInt64] = []
  private var scratch: [UInt64] = []

  init(writer: any ArtifactOutput) {
    self.writer = writer
  }

  /// Adds the next document's shingle hashes (any order, repeats allowed).
  func add(_ shingles: [UInt64]) throws {
    sorted.removeAll(keepingCapacity: true)
    sorted.append(contentsOf: shingles)
    // The standard library's stable sort took an eighth of the stage's time here.
    sortByUniformKey(&sorted, scratch: &scratch, key: { $0 }, by: <)
    var distinct = 0
    for (index, hash) in sorted.enumerated() where index == 0 || hash != sorted[index - 1] {
      buffer.append(hash.littleEndian)
      distinct += 1
    }
    offsets.append(offsets[offsets.count - 1] + UInt64(distinct))
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
/// documents. Only the sets of compared documents are read (two reads each), so memory does
/// not grow with the corpus.
final class ShingleSets {
  private struct Shard {
    let file: any ArtifactInput
    let documents: Int
    let offsetsAt: Int
  }
  private let shards: [Shard]
  private var first: [UInt64] = []
  private var second: [UInt64] = []

  init(files: [any ArtifactInput]) throws {
    shards = try files.map { file in
      let bad = PipeError(
        .corruptInput, "shingle-set file is truncated or corrupt; rerun the stage with --force", file: file.name)
      guard file.size >= ShingleSetFileBuilder.trailerBytes else { throw bad }
      var trailer = [UInt8](repeating: 0, count: ShingleSetFileBuilder.trailerBytes)
      try trailer.withUnsafeMutableBytes { try file.read(into: $0, at: file.size - ShingleSetFileBuilder.trailerBytes) }
      let documents = Int(trailer.loadLE(UInt64.self, at: 8))
      let hashes = Int(trailer.loadLE(UInt64.self, at: 16))
      guard trailer.loadLE(UInt32.self, at: 0) == ShingleSetFileBuilder.magic,
        trailer.loadLE(UInt32.self, at: 4) == ShingleSetFileBuilder.version,
        file.size == 8 * hashes + 8 * (documents + 1) + ShingleSetFileBuilder.trailerBytes
      else { throw bad }
      return Shard(file: file, documents: documents, offsetsAt: 8 * hashes)
    }
  }

  /// The number of documents of each shard.
  var documents: [Int] { shards.map(\.documents) }

  /// Reads the set of record `shard << 32 | number` into `set` (its capacity is reused).
  private func read(_ record: UInt64, into set: inout [UInt64]) throws {
    let shard = shards[Int(record >> 32)]
    let number = Int(record & 0xFFFF_FFFF)
    var range: (UInt64, UInt64) = (0, 0)
    try withUnsafeMutableBytes(of: &range) { try shard.file.read(into: $0, at: shard.offsetsAt + 8 * number) }
    let from = Int(UInt64(littleEndian: range.0))
    let to = Int(UInt64(littleEndian: range.1))
    guard from <= to, 8 * to <= shard.offsetsAt else {
      throw PipeError(
        .corruptInput, "shingle-set file has bad offsets; rerun the stage with --force", file: shard.file.name)
    }
    if set.count != to - from {
      set.removeAll(keepingCapacity: true)
      set.append(contentsOf: repeatElement(0, count: to - from))
    }
    if to > from { try set.withUnsafeMutableBytes { try shard.file.read(into: $0, at: 8 * from) } }
  }

  /// The record whose set is in `first`, so that comparisons with the same representative
  /// read it once.
  private var firstRecord: UInt64? = nil

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
      let u = UInt64(littleEndian: first[i])
      let v = UInt64(littleEndian: second[j])
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
