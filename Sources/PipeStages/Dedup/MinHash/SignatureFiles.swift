import PipeCore

// The binary artifacts of near-duplicate removal, written so that any number of them can be
// merged in one streaming pass with bounded memory. All integers are little-endian.
//
// Signature file, one per shard (`signatures-0000i.bin`):
//
//   header (64 bytes): "PMHS", version 1 (UInt32), bands (UInt32), fingerprints per document
//     (UInt32, 0 when candidates are not verified), documents (UInt64), then the offsets of the
//     band sections, the fingerprint section and the docs section, and the docs section's
//     length (UInt64 each), and 8 bytes of zero
//   band sections, for band 0, 1, ...: `documents` entries of 12 bytes, key (UInt64) and
//     document (UInt32, its number among the shard's records with a signature), sorted by
//     (key, document); every document has an entry in every band, so no index is needed
//   fingerprint section: per document, its fingerprints (UInt16 each)
//   docs section: per document, its line in the shard (UInt64), its score (the bits of a
//     Double, or all ones for none) and its id (UInt32 length, UTF-8 bytes)
//
// A spilled run (a temporary file) is the band sections of a chunk of documents, behind a
// 24-byte header: "PMHK", version 1, bands, 0 (UInt32 each), documents (UInt64).

/// One entry of a band: a key and the document (number in its shard) that has it.
struct BandEntry: KeyedEntry {
  var key: UInt64
  var document: UInt32
}

/// An entry of a band across shards: a key and the document as `shard << 32 | number`.
struct ShardBandEntry: KeyedEntry {
  var key: UInt64
  var document: UInt64
}

/// A band entry: a uniformly distributed 64-bit key and the document that has it.
protocol KeyedEntry {
  associatedtype Document: Comparable
  var key: UInt64 { get }
  var document: Document { get }
}

extension KeyedEntry {
  /// Ordered by key, then document.
  @inline(__always)
  static func < (a: Self, b: Self) -> Bool {
    a.key != b.key ? a.key < b.key : a.document < b.document
  }

  /// Sorts `entries` in the order `<` gives (`sortByUniformKey`).
  static func sort(_ entries: inout [Self], scratch: inout [Self]) {
    sortByUniformKey(&entries, scratch: &scratch, key: { $0.key }, by: <)
  }
}

/// Sorts `values` whose `key`s are uniform hashes, in the order `less` gives (which must agree
/// with the keys' order): one counting pass on the keys' top bits leaves buckets of one or two
/// values, which an insertion sort finishes; a bucket of more than 16 (keys that are not
/// uniform, or a very unlucky bucket) is sorted by comparison. Inlined, so each caller gets a
/// specialized copy.
@inline(__always)
func sortByUniformKey<Value>(
  _ values: inout [Value], scratch: inout [Value], key: (Value) -> UInt64, by less: (Value, Value) -> Bool
) {
  let count = values.count
  guard count > 32 else {
    values.sort(by: less)
    return
  }
  let bits = min(16, max(4, Int.bitWidth - (count - 1).leadingZeroBitCount))
  let shift = UInt64(64 - bits)
  var starts = [Int](repeating: 0, count: (1 << bits) + 1)
  values.withUnsafeBufferPointer { source in
    for value in source { starts[Int(truncatingIfNeeded: key(value) >> shift) + 1] += 1 }
  }
  for bucket in 0..<(1 << bits) { starts[bucket + 1] += starts[bucket] }
  scratch.removeAll(keepingCapacity: true)
  scratch.append(contentsOf: values)  // every slot is overwritten below
  values.withUnsafeBufferPointer { source in
    scratch.withUnsafeMutableBufferPointer { target in
      // Values keep their order within a bucket (a stable scatter).
      var positions = Array(starts[0..<(1 << bits)])
      for value in source {
        let bucket = Int(truncatingIfNeeded: key(value) >> shift)
        target[positions[bucket]] = value
        positions[bucket] += 1
      }
      for bucket in 0..<(1 << bits) {
        let (low, high) = (starts[bucket], starts[bucket + 1])
        if high - low > 16 {
          target[low..<high].sort(by: less)
          continue
        }
        var index = low + 1
        while index < high {
          let value = target[index]
          var hole = index
          while hole > low && less(value, target[hole - 1]) {
            target[hole] = target[hole - 1]
            hole -= 1
          }
          target[hole] = value
          index += 1
        }
      }
    }
  }
  swap(&values, &scratch)
}

/// Where the sections of a signature file are.
struct SignatureFileHeader: Equatable {
  static let magic: UInt32 = 0x5348_4D50  // "PMHS"
  static let version: UInt32 = 1
  static let size = 64
  static let entryBytes = 12

  var bands: Int
  var fingerprintsPerDocument: Int
  var documents: Int
  var docsBytes: Int

  var bandsOffset: Int { Self.size }
  var fingerprintsOffset: Int { bandsOffset + bands * documents * Self.entryBytes }
  var docsOffset: Int { fingerprintsOffset + documents * fingerprintsPerDocument * 2 }
  var fileSize: Int { docsOffset + docsBytes }

  func bandOffset(_ band: Int) -> Int { bandsOffset + band * documents * Self.entryBytes }

  var bytes: [UInt8] {
    var out: [UInt8] = []
    for value in [Self.magic, Self.version, UInt32(bands), UInt32(fingerprintsPerDocument)] {
      Binary.append(value, to: &out)
    }
    for value in [documents, bandsOffset, fingerprintsOffset, docsOffset, docsBytes, 0] {
      Binary.append(UInt64(value), to: &out)
    }
    return out
  }

  /// Reads and checks the header of `file`.
  init(reading file: any ArtifactInput) throws {
    var header = [UInt8](repeating: 0, count: Self.size)
    guard file.size >= Self.size else {
      throw PipeError(.corruptInput, "signature file is truncated; rerun the stage with --force", file: file.name)
    }
    try header.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    guard header.loadLE(UInt32.self, at: 0) == Self.magic, header.loadLE(UInt32.self, at: 4) == Self.version else {
      throw PipeError(.corruptInput, "not a signature file (bad header); rerun the stage with --force", file: file.name)
    }
    bands = Int(header.loadLE(UInt32.self, at: 8))
    fingerprintsPerDocument = Int(header.loadLE(UInt32.self, at: 12))
    documents = Int(header.loadLE(UInt64.self, at: 16))
    docsBytes = Int(header.loadLE(UInt64.self, at: 48))
    guard header.loadLE(UInt64.self, at: 24) == UInt64(bandsOffset),
      header.loadLE(UInt64.self, at: 32) == UInt64(fingerprintsOffset),
      header.loadLE(UInt64.self, at: 40) == UInt64(docsOffset), file.size == fileSize
    else {
      throw PipeError(
        .corruptInput, "signature file is truncated or corrupt; rerun the stage with --force", file: file.name)
    }
  }

  init(bands: Int, fingerprintsPerDocument: Int, documents: Int, docsBytes: Int) {
    self.bands = bands
    self.fingerprintsPerDocument = fingerprintsPerDocument
    self.documents = documents
    self.docsBytes = docsBytes
  }
}

// MARK: - Writing a shard's signature file within a memory budget

/// Collects one shard's band keys, fingerprints and docs and writes its signature file.
///
/// Band entries stay in memory while they fit in `budget` bytes; past it, each chunk is sorted
/// and spilled as a run to a scratch file, and the runs are merged at the end. Fingerprints
/// and docs stream to scratch files and are copied in. The bytes written are the same
/// whatever the budget.
final class SignatureFileBuilder {
  let bands: Int
  let fingerprintsPerDocument: Int
  let budget: Int
  private let scratch: (String) throws -> any ScratchFile
  private var chunk: [[BandEntry]]
  private var chunkDocuments = 0
  private let chunkLimit: Int
  private(set) var documents = 0
  private var runs: [any ArtifactInput] = []
  private let fingerprints: any ScratchFile
  private let docs: any ScratchFile
  /// Fingerprints waiting to be written, already little-endian.
  private var fingerprintBuffer: [UInt16] = []
  private var docBuffer: [UInt8] = []
  private var docsBytes = 0

  /// The fewest documents per spilled run, however small the budget.
  static let minimumChunk = 256

  /// Memory of one document's entries in the chunk (16-byte stride per band), plus its share
  /// of the buffer the standard library's merge sort takes for one band (half the entries).
  static func bytesPerDocument(bands: Int) -> Int {
    bands * MemoryLayout<BandEntry>.stride + MemoryLayout<BandEntry>.stride / 2
  }

  /// Creates a builder whose temporary files come from `scratch` (by name).
  init(
    bands: Int, fingerprintsPerDocument: Int, budget: Int, scratch: @escaping (String) throws -> any ScratchFile
  ) throws {
    self.bands = bands
    self.fingerprintsPerDocument = fingerprintsPerDocument
    self.budget = budget
    self.scratch = scratch
    chunk = Array(repeating: [], count: bands)
    chunkLimit = max(Self.minimumChunk, budget / Self.bytesPerDocument(bands: bands))
    fingerprints = try scratch("fingerprints")
    docs = try scratch("docs")
  }

  /// How many runs were spilled.
  var spilledRuns: Int { runs.count }

  /// Adds the next document: its band keys, the fingerprints of its signature values (when
  /// verifying), its line, score bits and id. Returns its number in the shard.
  @discardableResult
  func add(keys: [UInt64], signature: [UInt64], line: Int, score: UInt64, id: String) throws -> UInt32 {
    precondition(keys.count == bands, "one key per band")
    let document = UInt32(documents)
    if chunkDocuments == chunkLimit { try spill() }
    for band in 0..<bands {
      // Grow by doubling but never past the chunk limit, so the budget holds.
      if chunk[band].count == chunk[band].capacity {
        chunk[band].reserveCapacity(min(chunkLimit, max(256, chunk[band].capacity * 2)))
      }
      chunk[band].append(BandEntry(key: keys[band], document: document))
    }
    chunkDocuments += 1
    documents += 1
    if fingerprintsPerDocument > 0 {
      for value in signature { fingerprintBuffer.append(Self.fingerprint(value).littleEndian) }
      if fingerprintBuffer.count >= 1 << 15 {
        try fingerprintBuffer.withUnsafeBytes { try fingerprints.write($0) }
        fingerprintBuffer.removeAll(keepingCapacity: true)
      }
    }
    let before = docBuffer.count
    Binary.append(UInt64(line), to: &docBuffer)
    Binary.append(score, to: &docBuffer)
    Binary.append(id, to: &docBuffer)
    docsBytes += docBuffer.count - before
    if docBuffer.count >= 1 << 16 {
      try docs.write(docBuffer)
      docBuffer.removeAll(keepingCapacity: true)
    }
    return document
  }

  /// 16 well-mixed bits of a signature value: two different values agree on them with chance
  /// 2^-16, so the share of equal fingerprints estimates the share of equal values.
  @inline(__always)
  static func fingerprint(_ value: UInt64) -> UInt16 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return UInt16(truncatingIfNeeded: (z ^ (z >> 31)) >> 48)
  }

  private func sortChunk() {
    var scratch: [BandEntry] = []
    for band in 0..<bands { BandEntry.sort(&chunk[band], scratch: &scratch) }
  }

  private func spill() throws {
    sortChunk()
    let file = try scratch("run\(runs.count)")
    var buffer: [UInt8] = []
    for value in [RunFile.magic, RunFile.version, UInt32(bands), 0] { Binary.append(value, to: &buffer) }
    Binary.append(UInt64(chunkDocuments), to: &buffer)
    try file.write(buffer)
    for band in 0..<bands {
      buffer.removeAll(keepingCapacity: true)
      chunk[band].withUnsafeBufferPointer { RunFile.encode($0, to: &buffer) }
      try file.write(buffer)
      chunk[band].removeAll(keepingCapacity: true)
    }
    runs.append(try file.finishWriting())
    chunkDocuments = 0
  }

  /// Writes the signature file into `writer`: header, band sections (sorted in memory, or
  /// merged from the spilled runs), fingerprints and docs.
  func write(to writer: any ArtifactOutput) throws {
    try fingerprintBuffer.withUnsafeBytes { try fingerprints.write($0) }
    try docs.write(docBuffer)
    let fingerprintSection = try fingerprints.finishWriting()
    let docsSection = try docs.finishWriting()
    let header = SignatureFileHeader(
      bands: bands, fingerprintsPerDocument: fingerprintsPerDocument, documents: documents, docsBytes: docsBytes)
    try writer.write(header.bytes)
    if runs.isEmpty {
      sortChunk()
      var buffer: [UInt8] = []
      for band in 0..<bands {
        buffer.removeAll(keepingCapacity: true)
        chunk[band].withUnsafeBufferPointer { RunFile.encode($0, to: &buffer) }
        try writer.write(buffer)
        chunk[band] = []
      }
    } else {
      if chunkDocuments > 0 { try spill() }
      chunk = []
      let bufferBytes = BandMerger.bufferBytes(budget: budget, sources: runs.count)
      var out: [UInt8] = []
      out.reserveCapacity(1 << 16)
      for band in 0..<bands {
        // Runs hold consecutive ranges of documents, so merging by (key, run, document) is
        // merging by (key, document).
        let sources = try runs.map { try RunFile.reader($0, band: band, bufferBytes: bufferBytes) }
        var merger = try BandMerger(sources)
        while let (entry, _) = try merger.next() {
          Binary.append(entry.key, to: &out)
          Binary.append(entry.document, to: &out)
          if out.count >= 1 << 16 {
            try writer.write(out)
            out.removeAll(keepingCapacity: true)
          }
        }
      }
      try writer.write(out)
    }
    try writer.append(fingerprintSection)
    try writer.append(docsSection)
    runs = []
  }
}

/// Spilled runs: band sections of a chunk of documents behind a small header.
enum RunFile {
  static let magic: UInt32 = 0x4B48_4D50  // "PMHK"
  static let version: UInt32 = 1
  static let headerBytes = 24

  /// Appends one band's entries to `out`.
  static func encode(_ entries: UnsafeBufferPointer<BandEntry>, to out: inout [UInt8]) {
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: entries.count * SignatureFileHeader.entryBytes))
    out.withUnsafeMutableBytes { raw in
      var offset = start
      for entry in entries {
        raw.storeBytes(of: entry.key.littleEndian, toByteOffset: offset, as: UInt64.self)
        raw.storeBytes(of: entry.document.littleEndian, toByteOffset: offset + 8, as: UInt32.self)
        offset += SignatureFileHeader.entryBytes
      }
    }
  }

  /// A reader of one band of a run.
  static func reader(_ file: any ArtifactInput, band: Int, bufferBytes: Int) throws -> BandSectionReader {
    var header = [UInt8](repeating: 0, count: headerBytes)
    try header.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    let bands = Int(header.loadLE(UInt32.self, at: 8))
    let documents = Int(header.loadLE(UInt64.self, at: 16))
    guard header.loadLE(UInt32.self, at: 0) == magic, band < bands,
      file.size == headerBytes + bands * documents * SignatureFileHeader.entryBytes
    else {
      throw PipeError(.corruptInput, "spilled run is corrupt; rerun the stage", file: file.name)
    }
    return BandSectionReader(
      file: file, offset: headerBytes + band * documents * SignatureFileHeader.entryBytes, entries: documents,
      bufferBytes: bufferBytes)
  }
}

// MARK: - Reading and merging

/// Streams the entries of one band section through a fixed buffer.
final class BandSectionReader {
  let file: any ArtifactInput
  private var position: Int
  private let end: Int
  private var buffer: [UInt8]
  private var bufferStart = 0
  private var bufferCount = 0

  init(file: any ArtifactInput, offset: Int, entries: Int, bufferBytes: Int) {
    self.file = file
    position = offset
    end = offset + entries * SignatureFileHeader.entryBytes
    let perBuffer = max(1, min(entries, bufferBytes / SignatureFileHeader.entryBytes))
    buffer = [UInt8](repeating: 0, count: perBuffer * SignatureFileHeader.entryBytes)
  }

  func next() throws -> BandEntry? {
    if bufferStart == bufferCount {
      guard position < end else { return nil }
      let take = min(buffer.count, end - position)
      try buffer.withUnsafeMutableBytes {
        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<take]), at: position)
      }
      position += take
      bufferStart = 0
      bufferCount = take
    }
    let offset = bufferStart
    bufferStart += SignatureFileHeader.entryBytes
    return buffer.withUnsafeBytes { raw in
      BandEntry(
        key: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
        document: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
    }
  }
}

/// A k-way merge of sorted band sections, in (key, source, document) order.
struct BandMerger {
  private var sources: [BandSectionReader]
  /// A binary min-heap of (entry, source).
  private var heap: [(entry: BandEntry, source: Int)] = []

  /// The read buffer per source for a memory budget: between 4 KiB and 1 MiB.
  static func bufferBytes(budget: Int, sources: Int) -> Int {
    min(1 << 20, max(4096, budget / max(1, sources) / 2))
  }

  init(_ sources: [BandSectionReader]) throws {
    self.sources = sources
    heap.reserveCapacity(sources.count)
    for (index, source) in sources.enumerated() {
      if let entry = try source.next() { push((entry, index)) }
    }
  }

  @inline(__always)
  private static func less(_ a: (entry: BandEntry, source: Int), _ b: (entry: BandEntry, source: Int)) -> Bool {
    if a.entry.key != b.entry.key { return a.entry.key < b.entry.key }
    if a.source != b.source { return a.source < b.source }
    return a.entry.document < b.entry.document
  }

  private mutating func push(_ item: (entry: BandEntry, source: Int)) {
    heap.append(item)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard Self.less(heap[child], heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  /// The next entry and the index of the source it came from.
  mutating func next() throws -> (BandEntry, Int)? {
    guard let top = heap.first else { return nil }
    if let entry = try sources[top.source].next() {
      heap[0] = (entry, top.source)
    } else {
      let last = heap.removeLast()
      if heap.isEmpty { return (top.entry, top.source) }
      heap[0] = last
    }
    var parent = 0
    let count = heap.count
    while true {
      let left = 2 * parent + 1
      guard left < count else { break }
      var smallest = left
      if left + 1 < count, Self.less(heap[left + 1], heap[left]) { smallest = left + 1 }
      guard Self.less(heap[smallest], heap[parent]) else { break }
      heap.swapAt(smallest, parent)
      parent = smallest
    }
    return (top.entry, top.source)
  }
}
