import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// The steps of near-duplicate removal (`dedup.minhash`), each a resumable task:
///
/// 1. `STAGE:signatures[i]` reads shard i and writes `signatures-0000i.bin`: for every record
///    with a signature, its band keys (sorted per band; past the memory budget, chunks spill to
///    disk and are merged), 16-bit fingerprints of its signature values (when candidates are
///    verified) and its line, score and id.
/// 2. `STAGE:buckets[g]` merges bands 4g..<4g+4 of every shard's file (a streaming k-way merge
///    with fixed buffers). In a run of records sharing a key, each record is compared with the
///    run's representatives (its first records, up to 16); it is linked to every one whose
///    fingerprints agree on at least `minimumSimilarity` of the positions, and becomes a
///    representative itself if it matches none. Links go to `edges-0000g.bin`.
/// 3. `STAGE:clusters[0]` joins all links with union-find, reads the docs sections for ids and
///    scores, picks each cluster's survivor (highest score, ties to the first in input order;
///    without scores, the first) and writes `clusters.jsonl` (one line per cluster: number,
///    size, survivor, members in input order) and `verdicts.bin` (per shard, the lines of
///    clustered records with the cluster size and, for all but the survivor, the survivor's id).
/// 4. `STAGE[i]` is the shared record loop: a clustered record that is not the survivor is
///    dropped with the stage's reason and the survivor's id as detail; a survivor gets the
///    cluster size in its metadata.
///
/// Records are numbered by (shard, document) where document counts the records with a
/// signature in the shard; both follow the input order, so "first" is the same with any worker
/// count, and every file's bytes are too.
///
/// Memory: step 1 keeps at most the task's share of the cap in band entries (about 16 bytes
/// per band and record); step 2 keeps one read buffer per shard and maps the fingerprint
/// sections (page cache, read where candidates are); step 3 holds only the records that have a
/// link (about 100 bytes each, ids included); step 4 holds the verdicts of its shard.
enum NearDuplicateSteps {
  /// Where the artifacts of one near-duplicate stage live.
  struct Files: Sendable {
    let signaturesFolder: String
    let bucketsFolder: String
    let clustersFolder: String

    init(layout: RunLayout, stage: String) {
      signaturesFolder = layout.artifactFolder(stage: stage + NearDuplicateSteps.signaturesSuffix)
      bucketsFolder = layout.artifactFolder(stage: stage + NearDuplicateSteps.bucketsSuffix)
      clustersFolder = layout.artifactFolder(stage: stage + NearDuplicateSteps.clustersSuffix)
    }

    func signatures(_ shard: Int) -> String { "\(signaturesFolder)/signatures-\(RunLayout.number(shard)).bin" }
    func edges(_ group: Int) -> String { "\(bucketsFolder)/edges-\(RunLayout.number(group)).bin" }
    var verdicts: String { "\(clustersFolder)/verdicts.bin" }
    var clusters: String { "\(clustersFolder)/clusters.jsonl" }
  }

  /// The internal step ids are the stage id with one of these.
  static let signaturesSuffix = ":signatures"
  static let bucketsSuffix = ":buckets"
  static let clustersSuffix = ":clusters"

  /// A score that is absent (the bit pattern of a NaN no stage returns).
  static let noScore = UInt64.max
  /// Bands per bucket task: few enough tasks that each is worth its start and commit, enough
  /// that two to four workers share the step.
  static let bandsPerBucketTask = 4

  /// The number of bucket tasks for `bands` bands.
  static func bucketTaskCount(bands: Int) -> Int { (bands + bandsPerBucketTask - 1) / bandsPerBucketTask }

  /// The bands of bucket task `group`.
  static func bands(ofBucketTask group: Int, bands: Int) -> Range<Int> {
    (group * bandsPerBucketTask)..<min(bands, (group + 1) * bandsPerBucketTask)
  }

  // MARK: - Step 1: signatures

  static func writeSignatures(
    task: PlannedTask, stage: any NearDuplicateStage, files: Files, budget: Int, faults: FaultPlan,
    progress: TaskProgress
  ) throws -> TaskResult {
    let reader = try ShardReader(path: task.input)
    let shard = task.key.shard
    let builder = try SignatureFileBuilder(
      bands: stage.bandCount, fingerprintsPerDocument: stage.minimumSimilarity > 0 ? stage.signatureSize : 0,
      path: files.signatures(shard), budget: budget)
    var result = TaskResult()
    let shardName = (task.input as NSString).lastPathComponent
    var withoutWords = 0
    while let line = try reader.next() {
      if line.isBlank { continue }
      result.recordsIn += 1
      if result.recordsIn % 4096 == 0 {
        progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
      }
      // Lines that are not records are rejected by step 4 through the shared loop; here they
      // have no signature, like records without words.
      guard !line.isTruncated,
        let record = try? Record(line: line.bytes, fallbackID: "\(shardName):\(line.number)")
      else { continue }
      guard let signature = stage.signature(of: record) else {
        withoutWords += 1
        continue
      }
      let keys = stage.bandKeys(of: signature)
      guard signature.count == stage.signatureSize, keys.count == stage.bandCount else {
        throw PipeError(
          .stage,
          "internal error: \(signature.count) signature values and \(keys.count) band keys for a signature of "
            + "\(stage.signatureSize) values in \(stage.bandCount) bands")
      }
      try builder.add(
        keys: keys, signature: signature, line: line.number,
        score: stage.survivorScore(of: record).map(\.bitPattern) ?? noScore, id: record.id)
      faults.killIfDue(stage: task.key.stage, shard: shard, records: builder.documents, flushing: nil)
    }
    result.recordsKept = result.recordsIn
    result.bytesIn = reader.bytesRead
    progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
    let spilled = builder.spilledRuns
    let summary = try builder.commit()
    fsyncDirectory(files.signaturesFolder)
    result.artifacts = [
      ArtifactRow(
        name: "signatures", path: summary.path, bytes: summary.bytes, checksum: summary.checksum, shard: shard)
    ]
    result.counters = ["signed_records": builder.documents, "records_without_words": withoutWords]
    if spilled > 0 { result.counters["spilled_runs"] = spilled }
    return result
  }

  // MARK: - Step 2: buckets

  /// The fingerprint sections of every shard, mapped read-only.
  final class Fingerprints {
    let perDocument: Int
    private let regions: [MappedRegion]

    init(files: [BinaryFile], headers: [SignatureFileHeader], perDocument: Int) throws {
      self.perDocument = perDocument
      regions = try zip(files, headers).map { file, header in
        try file.map(offset: header.fingerprintsOffset, count: header.documents * perDocument * 2)
      }
    }

    /// The fingerprints of record (shard << 32 | document).
    func of(_ record: UInt64) -> UnsafePointer<UInt16>? {
      let region = regions[Int(record >> 32)]
      guard let start = region.start else { return nil }
      return (start + Int(record & 0xFFFF_FFFF) * perDocument * 2).assumingMemoryBound(to: UInt16.self)
    }

    /// Whether at least `minimum` of the positions agree.
    func similar(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, minimum: Double) -> Bool {
      var equal = 0
      for index in 0..<perDocument where a[index] == b[index] { equal += 1 }
      return Double(equal) >= minimum * Double(perDocument)
    }
  }

  /// Representatives kept per bucket: a record matching none of them is not linked in this
  /// band (it may be in another), which bounds the work on huge buckets of unrelated records.
  static let maxRepresentatives = 16

  static func findEdges(
    stage: any NearDuplicateStage, group: Int, shards: Int, files: Files, budget: Int, progress: TaskProgress
  ) throws -> TaskResult {
    let inputs = try (0..<shards).map { try BinaryFile(path: files.signatures($0)) }
    let headers = try inputs.map { try SignatureFileHeader(reading: $0) }
    let minimum = stage.minimumSimilarity
    let perDocument = minimum > 0 ? stage.signatureSize : 0
    // Checked before mapping: a fingerprint section shorter than expected would fault on read.
    for (file, header) in zip(inputs, headers)
    where header.bands != stage.bandCount || header.fingerprintsPerDocument != perDocument {
      throw PipeError(
        .corruptInput, "signature file does not match the stage config; rerun with --force", file: file.path)
    }
    let fingerprints = minimum > 0 ? try Fingerprints(files: inputs, headers: headers, perDocument: perDocument) : nil
    let bufferBytes = BandMerger.bufferBytes(budget: budget, sources: shards)
    let writer = try ArtifactWriter(path: files.edges(group))
    var result = TaskResult()
    var out: [UInt8] = []
    out.reserveCapacity(1 << 16)
    var candidates = 0
    var edges = 0
    func link(_ a: UInt64, _ b: UInt64) throws {
      appendLittleEndian(a, to: &out)
      appendLittleEndian(b, to: &out)
      edges += 1
      if out.count >= 1 << 16 {
        try writer.write(out)
        out.removeAll(keepingCapacity: true)
      }
    }
    // A band's entries of all shards, sorted in memory when they fit in the budget, come out in
    // the merge's order: (key, shard, number). The memory: the entries and the sort's scratch
    // copy, one shard's section as read, and the sort's two bucket tables (at most 2^16 + 1
    // positions each).
    let bandDocuments = headers.reduce(0) { $0 + $1.documents }
    let largestShard = headers.map(\.documents).max() ?? 0
    let sortBytes =
      bandDocuments * 2 * MemoryLayout<ShardBandEntry>.stride + largestShard * SignatureFileHeader.entryBytes
      + 2 * ((1 << 16) + 1) * MemoryLayout<Int>.stride
    let sortsInMemory = sortBytes <= budget
    var sorted: [ShardBandEntry] = []
    var scratch: [ShardBandEntry] = []
    var section: [UInt8] = []
    do {
      for band in bands(ofBucketTask: group, bands: stage.bandCount) {
        var runKey: UInt64 = 0
        var runFirst: UInt64? = nil
        var representatives: [(document: UInt64, fingerprints: UnsafePointer<UInt16>?)] = []
        func visit(_ key: UInt64, _ document: UInt64) throws {
          result.recordsIn += 1
          if let first = runFirst, key == runKey {
            candidates += 1
            guard let fingerprints else {
              try link(first, document)
              return
            }
            if representatives.isEmpty { representatives.append((first, fingerprints.of(first))) }
            let mine = fingerprints.of(document)
            var matched = false
            for representative in representatives {
              guard let theirs = representative.fingerprints, let mine,
                fingerprints.similar(theirs, mine, minimum: minimum)
              else { continue }
              try link(representative.document, document)
              matched = true
            }
            if !matched && representatives.count < maxRepresentatives {
              representatives.append((document, mine))
            }
          } else {
            runKey = key
            runFirst = document
            representatives.removeAll(keepingCapacity: true)
          }
          if result.recordsIn % 65536 == 0 { progress.update(records: result.recordsIn, bytes: 0) }
        }
        if sortsInMemory {
          sorted.removeAll(keepingCapacity: true)
          sorted.reserveCapacity(bandDocuments)
          for (shard, (file, header)) in zip(inputs, headers).enumerated() {
            let bytes = header.documents * SignatureFileHeader.entryBytes
            if section.count < bytes { section = [UInt8](repeating: 0, count: bytes) }
            try section.withUnsafeMutableBytes { raw in
              try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<bytes]), at: header.bandOffset(band))
              let tag = UInt64(shard) << 32
              for offset in stride(from: 0, to: bytes, by: SignatureFileHeader.entryBytes) {
                sorted.append(
                  ShardBandEntry(
                    key: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                    document: tag
                      | UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))))
              }
            }
          }
          ShardBandEntry.sort(&sorted, scratch: &scratch)
          for entry in sorted { try visit(entry.key, entry.document) }
        } else {
          let readers = zip(inputs, headers).map { file, header in
            BandSectionReader(
              file: file, offset: header.bandOffset(band), entries: header.documents, bufferBytes: bufferBytes)
          }
          var merger = try BandMerger(readers)
          while let (entry, shard) = try merger.next() {
            try visit(entry.key, UInt64(shard) << 32 | UInt64(entry.document))
          }
        }
      }
      try writer.write(out)
      let summary = try writer.commit()
      fsyncDirectory(files.bucketsFolder)
      result.recordsKept = result.recordsIn
      result.counters = ["candidate_pairs": candidates, "linked_pairs": edges]
      result.artifacts = [
        ArtifactRow(name: "edges", path: summary.path, bytes: summary.bytes, checksum: summary.checksum, shard: group)
      ]
    } catch {
      writer.abandon()
      throw error
    }
    return result
  }

  // MARK: - Step 3: clusters

  /// Union-find over the records that have edges, keyed by (shard << 32 | document).
  struct UnionFind {
    private(set) var nodes: [UInt64: Int32] = [:]
    private(set) var parent: [Int32] = []
    private(set) var size: [Int32] = []

    mutating func node(_ document: UInt64) -> Int32 {
      if let index = nodes[document] { return index }
      let index = Int32(parent.count)
      nodes[document] = index
      parent.append(index)
      size.append(1)
      return index
    }

    mutating func find(_ start: Int32) -> Int32 {
      var x = start
      while parent[Int(x)] != x {
        let grandparent = parent[Int(parent[Int(x)])]
        parent[Int(x)] = grandparent
        x = grandparent
      }
      return x
    }

    mutating func union(_ a: UInt64, _ b: UInt64) {
      var rootA = find(node(a))
      var rootB = find(node(b))
      guard rootA != rootB else { return }
      if size[Int(rootA)] < size[Int(rootB)] { swap(&rootA, &rootB) }
      parent[Int(rootB)] = rootA
      size[Int(rootA)] += size[Int(rootB)]
    }
  }

  static func buildClusters(shards: Int, bucketTasks: Int, files: Files, progress: TaskProgress) throws -> TaskResult {
    var unionFind = UnionFind()
    var result = TaskResult()
    var pairs = 0
    for group in 0..<bucketTasks {
      let reader = try ArtifactReader(path: files.edges(group))
      while !reader.atEnd {
        let a = try reader.uint64()
        let b = try reader.uint64()
        unionFind.union(a, b)
        pairs += 1
        if pairs % 65536 == 0 { progress.update(records: pairs, bytes: 0) }
      }
    }
    let count = unionFind.parent.count
    // Everything below is per clustered record, in input order.
    var lines = [UInt64](repeating: 0, count: count)
    var scores = [UInt64](repeating: noScore, count: count)
    var ids = [String](repeating: "", count: count)
    var order: [Int32] = []
    order.reserveCapacity(count)
    var shardStarts: [Int] = []
    for shard in 0..<shards {
      shardStarts.append(order.count)
      let file = try BinaryFile(path: files.signatures(shard))
      let header = try SignatureFileHeader(reading: file)
      let reader = try ArtifactReader(file: file, offset: header.docsOffset, count: header.docsBytes)
      var document: UInt64 = 0
      while !reader.atEnd {
        let line = try reader.uint64()
        let score = try reader.uint64()
        let id = try reader.string()
        if let node = unionFind.nodes[UInt64(shard) << 32 | document] {
          lines[Int(node)] = line
          scores[Int(node)] = score
          ids[Int(node)] = id
          order.append(node)
        }
        document += 1
      }
    }
    shardStarts.append(order.count)
    guard order.count == count else {
      throw PipeError(
        .corruptInput, "edge files name records that the signature files do not have; rerun the stage with --force",
        file: files.bucketsFolder)
    }

    // Survivors and cluster numbers, in input order: the first record of a cluster numbers it,
    // and a later one replaces the survivor only with a strictly higher score.
    var survivor = [Int32](repeating: -1, count: count)
    var clusterNumber = [Int32](repeating: -1, count: count)
    var clusterRoots: [Int32] = []
    for node in order {
      let root = Int(unionFind.find(node))
      if clusterNumber[root] < 0 {
        clusterNumber[root] = Int32(clusterRoots.count)
        clusterRoots.append(Int32(root))
      }
      let best = survivor[root]
      if best < 0 || isHigher(scores[Int(node)], than: scores[Int(best)]) { survivor[root] = node }
    }

    // verdicts.bin: a header with each shard's byte range, then per shard, in line order, the
    // line, the cluster size and the survivor's id (empty for the survivor itself).
    var body: [UInt8] = []
    var ranges: [(offset: Int, count: Int)] = []
    for shard in 0..<shards {
      let start = body.count
      for node in order[shardStarts[shard]..<shardStarts[shard + 1]] {
        let root = Int(unionFind.find(node))
        let kept = survivor[root]
        appendLittleEndian(lines[Int(node)], to: &body)
        appendLittleEndian(UInt32(unionFind.size[root]), to: &body)
        DuplicateSteps.appendString(kept == node ? "" : ids[Int(kept)], to: &body)
      }
      ranges.append((start, body.count - start))
    }
    var header: [UInt8] = []
    for value in [Verdicts.magic, Verdicts.version, UInt32(shards), 0] { appendLittleEndian(value, to: &header) }
    let bodyStart = Verdicts.headerBytes + 16 * shards
    for range in ranges {
      appendLittleEndian(UInt64(bodyStart + range.offset), to: &header)
      appendLittleEndian(UInt64(range.count), to: &header)
    }
    let verdicts = try ArtifactWriter(path: files.verdicts)
    let clustersFile = try ArtifactWriter(path: files.clusters)
    var largest = 0
    do {
      try verdicts.write(header)
      try verdicts.write(body)
      body = []

      // clusters.jsonl: members grouped by cluster number, each group in input order.
      let clusters = clusterRoots.count
      var starts = [Int](repeating: 0, count: clusters + 1)
      for node in order { starts[Int(clusterNumber[Int(unionFind.find(node))]) + 1] += 1 }
      for index in 0..<clusters { starts[index + 1] += starts[index] }
      var members = [Int32](repeating: 0, count: count)
      var next = starts
      for node in order {
        let number = Int(clusterNumber[Int(unionFind.find(node))])
        members[next[number]] = node
        next[number] += 1
      }
      var out: [UInt8] = []
      for number in 0..<clusters {
        let root = Int(clusterRoots[number])
        let size = Int(unionFind.size[root])
        largest = max(largest, size)
        out.append(contentsOf: Array(#"{"cluster":"#.utf8))
        out.append(contentsOf: Array(String(number).utf8))
        out.append(contentsOf: Array(#","size":"#.utf8))
        out.append(contentsOf: Array(String(size).utf8))
        out.append(contentsOf: Array(#","survivor":"#.utf8))
        JSONString.append(ids[Int(survivor[root])], to: &out)
        out.append(contentsOf: Array(#","members":["#.utf8))
        for (offset, node) in members[starts[number]..<starts[number + 1]].enumerated() {
          if offset > 0 { out.append(UInt8(ascii: ",")) }
          JSONString.append(ids[Int(node)], to: &out)
        }
        out.append(contentsOf: Array("]}\n".utf8))
        if out.count >= 1 << 16 {
          try clustersFile.write(out)
          out.removeAll(keepingCapacity: true)
        }
      }
      try clustersFile.write(out)
      let verdictSummary = try verdicts.commit()
      let clusterSummary = try clustersFile.commit()
      fsyncDirectory(files.clustersFolder)
      result.artifacts = [
        ArtifactRow(
          name: "verdicts", path: verdictSummary.path, bytes: verdictSummary.bytes, checksum: verdictSummary.checksum),
        ArtifactRow(
          name: "clusters", path: clusterSummary.path, bytes: clusterSummary.bytes, checksum: clusterSummary.checksum),
      ]
      result.counters = [
        "linked_pairs": pairs, "clusters": clusters, "clustered_documents": count, "largest_cluster": largest,
        "near_duplicates": count - clusters,
      ]
    } catch {
      verdicts.abandon()
      clustersFile.abandon()
      throw error
    }
    result.recordsIn = count
    result.recordsKept = count
    return result
  }

  /// Whether score `a` beats `b`: a number beats no score, and a larger number a smaller one.
  static func isHigher(_ a: UInt64, than b: UInt64) -> Bool {
    if a == noScore { return false }
    if b == noScore { return true }
    return Double(bitPattern: a) > Double(bitPattern: b)
  }

  // MARK: - Step 4: filter

  /// The verdicts file: "PMHV", version 1, shards, 0 (UInt32 each), then per shard the offset
  /// and length of its entries (UInt64 each), then the entries.
  enum Verdicts {
    static let magic: UInt32 = 0x5648_4D50  // "PMHV"
    static let version: UInt32 = 1
    static let headerBytes = 16
  }

  /// A clustered record of one shard: the cluster size and, unless it survives, the survivor.
  struct Verdict {
    let clusterSize: Int
    let survivorID: String?
  }

  /// The records of one shard that step 1 signed, read in line order alongside step 4's pass
  /// over the same shard: step 1 parsed each of them, so step 4 knows they are valid records
  /// with these ids without parsing them again.
  final class SignedDocuments {
    private let reader: ArtifactReader
    private var next: (line: Int, id: String)?

    /// Opens the docs section of the shard's signature file; nil when it is missing or does not
    /// look right (step 4 then parses every record, as it would without this shortcut).
    init?(files: Files, shard: Int) {
      guard let file = try? BinaryFile(path: files.signatures(shard)),
        let header = try? SignatureFileHeader(reading: file),
        let reader = try? ArtifactReader(file: file, offset: header.docsOffset, count: header.docsBytes)
      else { return nil }
      self.reader = reader
    }

    /// The id of the signed record on `line`, or nil when that line was not signed. Lines must
    /// be asked for in increasing order.
    func id(atLine line: Int) throws -> String? {
      while true {
        if let next {
          if next.line > line { return nil }
          self.next = nil
          if next.line == line { return next.id }
        }
        guard !reader.atEnd else { return nil }
        let signedLine = Int(try reader.uint64())
        _ = try reader.uint64()  // the score, which only step 3 needs
        next = (signedLine, try reader.string())
      }
    }
  }

  /// The verdicts of one shard, by line number.
  static func loadVerdicts(files: Files, shard: Int) throws -> [Int: Verdict] {
    let file = try BinaryFile(path: files.verdicts)
    var header = [UInt8](repeating: 0, count: Verdicts.headerBytes)
    guard file.size >= Verdicts.headerBytes else {
      throw PipeError(.corruptInput, "verdicts file is truncated; rerun with --force", file: file.path)
    }
    try header.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    let shards = Int(header.loadLE(UInt32.self, at: 8))
    guard header.loadLE(UInt32.self, at: 0) == Verdicts.magic, shard < shards,
      file.size >= Verdicts.headerBytes + 16 * shards
    else {
      throw PipeError(
        .corruptInput, "verdicts file is corrupt or for another input; rerun with --force", file: file.path)
    }
    var range = [UInt8](repeating: 0, count: 16)
    try range.withUnsafeMutableBytes { try file.read(into: $0, at: Verdicts.headerBytes + 16 * shard) }
    let offset = Int(range.loadLE(UInt64.self, at: 0))
    let length = Int(range.loadLE(UInt64.self, at: 8))
    guard offset + length <= file.size else {
      throw PipeError(.corruptInput, "verdicts file is truncated; rerun with --force", file: file.path)
    }
    let reader = try ArtifactReader(file: file, offset: offset, count: length)
    var verdicts: [Int: Verdict] = [:]
    while !reader.atEnd {
      let line = Int(try reader.uint64())
      let size = Int(try reader.uint32())
      let survivor = try reader.string()
      verdicts[line] = Verdict(clusterSize: size, survivorID: survivor.isEmpty ? nil : survivor)
    }
    return verdicts
  }
}

/// Sequential reads of a byte range of a binary artifact through a buffer of at most 1 MiB.
final class ArtifactReader {
  private let file: BinaryFile
  private var buffer: [UInt8]
  private var start = 0
  private var count = 0
  private var position: Int
  private let end: Int

  convenience init(path: String) throws {
    let file = try BinaryFile(path: path)
    try self.init(file: file, offset: 0, count: file.size)
  }

  init(file: BinaryFile, offset: Int, count: Int) throws {
    self.file = file
    position = offset
    end = offset + count
    buffer = [UInt8](repeating: 0, count: min(1 << 20, max(16, count)))
  }

  var atEnd: Bool { start == count && position == end }

  private func ensure(_ bytes: Int) throws {
    if count - start >= bytes { return }
    // Move what is left to the front and refill.
    let left = count - start
    if left > 0 { buffer.replaceSubrange(0..<left, with: buffer[start..<count]) }
    if buffer.count < bytes { buffer += [UInt8](repeating: 0, count: bytes - buffer.count) }
    let take = min(buffer.count - left, end - position)
    guard left + take >= bytes else {
      throw PipeError(.corruptInput, "artifact is truncated or corrupt; rerun the stage with --force", file: file.path)
    }
    try buffer.withUnsafeMutableBytes {
      try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[left..<(left + take)]), at: position)
    }
    position += take
    start = 0
    count = left + take
  }

  func uint64() throws -> UInt64 {
    try ensure(8)
    defer { start += 8 }
    return buffer.loadLE(UInt64.self, at: start)
  }

  func uint32() throws -> UInt32 {
    try ensure(4)
    defer { start += 4 }
    return buffer.loadLE(UInt32.self, at: start)
  }

  /// A string written by `DuplicateSteps.appendString` (UInt32 length, UTF-8 bytes).
  func string() throws -> String {
    let length = Int(try uint32())
    try ensure(length)
    defer { start += length }
    return String(decoding: buffer[start..<(start + length)], as: UTF8.self)
  }
}
