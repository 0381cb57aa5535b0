public import PipeCore

/// The steps of near-duplicate removal (`dedup.minhash`), each a resumable task:
///
/// 1. `STAGE:signatures[i]` (a pass over shard i, at the end of the chain that makes it) writes
///    `signatures-0000i.bin`: for every record with a signature, its band keys (sorted per band;
///    past the memory budget, chunks spill to scratch files and are merged), 16-bit
///    fingerprints of its signature values (when candidates are verified by the signature) and
///    its line, score and id; with exact verification, also `shingles-0000i.bin`, each
///    record's distinct shingle hashes (`ShingleSetFileBuilder`).
/// 2. `STAGE:buckets[g]` merges bands 4g..<4g+4 of every shard's file (a streaming k-way merge
///    with fixed buffers). In a run of records sharing a key, each record is compared with the
///    run's representatives (its first records, up to `MinHashDedup.representativesPerBucket`);
///    it is linked to every one that reaches the threshold (the share of equal fingerprints, or
///    the exact Jaccard similarity of the shingle sets; without verification, to the first),
///    and becomes a representative itself if it matches none. Links go to `edges-0000g.bin`.
/// 3. `STAGE:clusters[0]` joins all links with union-find, reads the docs sections for ids and
///    scores, and forms clusters: connected components with each one's survivor (highest
///    score, ties to the first in input order; without scores, the first), or greedily
///    (`resolveGreedily`). It writes `clusters.jsonl` (one line per cluster: number, size,
///    survivor, members in input order) and `verdicts.bin` (per shard, the lines of clustered
///    records with the cluster size and, for all but the survivor, the survivor's id).
/// 4. `STAGE[i]` decides each record of shard i: a clustered record that is not the survivor is
///    dropped with the stage's reason and the survivor's id as detail; a survivor gets the
///    cluster size in its metadata.
///
/// Records are numbered by (shard, document) where document counts the records with a
/// signature in the shard; both follow the input order, so "first" is the same with any worker
/// count, and every file's bytes are too.
///
/// Memory: step 1 keeps at most the task's share of the cap in band entries (about 16 bytes
/// per band and record); step 2 keeps one read buffer per shard and maps the fingerprint
/// sections (page cache, read where candidates are) and reads compared shingle sets one pair at
/// a time; step 3 holds only the records that have a link (about 100 bytes each, ids included,
/// and greedily 8 bytes per link); step 4 holds the verdicts of its shard.
extension MinHashDedup {
  /// The plan the runtime runs.
  public var plan: StagePlan {
    let stage = self
    return StagePlan(
      collect: RecordCollector(
        name: "signatures",
        writes: [.intermediate(Files.signatures, indexed: true)]
          + (verification == .exact ? [.intermediate(Files.shingles, indexed: true)] : [])
      ) { context in try SignatureCollection(stage: stage, context: context) },
      steps: [
        Step(
          name: "buckets", shape: .grouped(NearDuplicateSteps.bucketTaskCount(self)),
          writes: [.intermediate(Files.edges, indexed: true)]
        ) { context in try NearDuplicateSteps.findEdges(stage: stage, context: context) },
        Step(name: "clusters", writes: [.intermediate(Files.verdicts, indexed: false), .kept(Files.clusters)]) {
          context in try NearDuplicateSteps.buildClusters(stage: stage, context: context)
        },
      ]
        + (exportsIndex
          ? [
            Step(name: DedupIndex.stepName, writes: DedupIndex.exportSpecs(indexFiles)) { context in
              try DedupIndex.export(
                stage.indexFiles, op: MinHashDedup.descriptorVersion2.qualifiedName, config: stage.identity,
                context: context)
            }
          ] : []),
      records: .decide { context in try NearDuplicateFilter(stage: stage, context: context) },
      recordsAreCheapToRecompute: true)
  }

  /// The artifacts' file names.
  enum Files {
    static let signatures = "signatures.bin"
    static let shingles = "shingles.bin"
    static let edges = "edges.bin"
    static let verdicts = "verdicts.bin"
    static let clusters = "clusters.jsonl"
  }

  /// The artifacts an exported index holds: the signature files, and the shingle sets when
  /// candidates are verified exactly.
  var indexFiles: [String] { [Files.signatures] + (verification == .exact ? [Files.shingles] : []) }

  /// The files of `artifact` for every shard in input order: the references' first (oldest
  /// first), then this stage's own.
  func inputs(_ artifact: String, context: any StepContext) throws -> [any ArtifactInput] {
    var files: [any ArtifactInput] = []
    for reference in references {
      for shard in 0..<reference.shards { files.append(try reference.open(artifact, shard: shard, context: context)) }
    }
    for shard in 0..<context.shardCount { files.append(try context.open(artifact, index: shard)) }
    return files
  }

  /// The number of reference shards, which come before the stage's own in the numbering.
  var referenceShards: Int { references.reduce(0) { $0 + $1.shards } }

  /// The memory a task may use: its share of the cap among the tasks that run at once.
  func budget(_ context: any StepContext) -> Int { memoryCapBytes / max(1, context.concurrentTasks) }
}

enum NearDuplicateSteps {
  /// A score that is absent (the bit pattern of a NaN no stage returns).
  static let noScore = UInt64.max
  /// Bands per bucket task: few enough tasks that each is worth its start and commit, enough
  /// that two to four workers share the step: 4. With exact verification, enough bands that
  /// there are at most four tasks: a candidate pair is compared once per task, and there a
  /// comparison (two shingle sets read and merged) costs more than a band's sort. The output
  /// does not depend on it.
  static func bandsPerBucketTask(_ stage: MinHashDedup) -> Int {
    stage.verification == .exact ? max(4, (stage.bandCount + 3) / 4) : 4
  }

  /// The number of bucket tasks of `stage`.
  static func bucketTaskCount(_ stage: MinHashDedup) -> Int {
    let each = bandsPerBucketTask(stage)
    return (stage.bandCount + each - 1) / each
  }

  /// The bands of bucket task `group`.
  static func bands(ofBucketTask group: Int, _ stage: MinHashDedup) -> Range<Int> {
    let each = bandsPerBucketTask(stage)
    return (group * each)..<min(stage.bandCount, (group + 1) * each)
  }

  // MARK: - Step 2: buckets

  /// The fingerprint sections of every shard, mapped read-only.
  final class Fingerprints {
    let perDocument: Int
    private let regions: [any MappedArtifact]

    init(files: [any ArtifactInput], headers: [SignatureFileHeader], perDocument: Int) throws {
      self.perDocument = perDocument
      regions = try zip(files, headers).map { file, header in
        try file.map(offset: header.fingerprintsOffset, count: header.documents * perDocument * 2)
      }
    }

    /// The fingerprints of record (shard << 32 | document).
    func of(_ record: UInt64) -> UnsafePointer<UInt16>? {
      let region = regions[Int(record >> 32)]
      guard let start = region.bytes.baseAddress else { return nil }
      return (start + Int(record & 0xFFFF_FFFF) * perDocument * 2).assumingMemoryBound(to: UInt16.self)
    }

    /// Whether at least `minimum` of the positions agree.
    func similar(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, minimum: Double) -> Bool {
      var equal = 0
      for index in 0..<perDocument where a[index] == b[index] { equal += 1 }
      return Double(equal) >= minimum * Double(perDocument)
    }
  }

  /// Two records (shard << 32 | document) that share a band key, the earlier first.
  struct CandidatePair: Hashable {
    let first: UInt64
    let second: UInt64
  }

  static func findEdges(stage: MinHashDedup, context: any StepContext) throws {
    let group = context.index
    let budget = stage.budget(context)
    let maxRepresentatives = MinHashDedup.representativesPerBucket
    let inputs = try stage.inputs(MinHashDedup.Files.signatures, context: context)
    let shards = inputs.count
    let headers = try inputs.map { try SignatureFileHeader(reading: $0) }
    let minimum = stage.minimumSimilarity
    let perDocument = minimum > 0 ? stage.signatureSize : 0
    // Checked before mapping: a fingerprint section shorter than expected would fault on read.
    for (file, header) in zip(inputs, headers)
    where header.bands != stage.bandCount || header.fingerprintsPerDocument != perDocument {
      throw PipeError(
        .corruptInput, "signature file does not match the stage config; rerun with --force", file: file.name)
    }
    let fingerprints = minimum > 0 ? try Fingerprints(files: inputs, headers: headers, perDocument: perDocument) : nil
    let shingleSets: ShingleSets?
    if stage.verification == .exact {
      let files = try stage.inputs(MinHashDedup.Files.shingles, context: context)
      let sets = try ShingleSets(files: files)
      for (index, (documents, header)) in zip(sets.documents, headers).enumerated() where documents != header.documents
      {
        throw PipeError(
          .corruptInput, "shingle-set file does not match its signature file; rerun with --force",
          file: files[index].name)
      }
      shingleSets = sets
    } else {
      shingleSets = nil
    }
    let threshold = stage.threshold
    var verified = 0
    let bufferBytes = BandMerger.bufferBytes(budget: budget, sources: shards)
    let writer = try context.create(MinHashDedup.Files.edges, index: group)
    var visited = 0
    var out: [UInt8] = []
    out.reserveCapacity(1 << 16)
    var candidates = 0
    var edges = 0
    func link(_ a: UInt64, _ b: UInt64) throws {
      Binary.append(a, to: &out)
      Binary.append(b, to: &out)
      edges += 1
      if out.count >= 1 << 16 {
        try writer.write(out)
        out.removeAll(keepingCapacity: true)
      }
    }
    // A near-duplicate pair collides in many bands (at 0.9 similarity, 0.9^4 of 24 bands of 4
    // rows: 16), so each pair is compared and linked once per task: the verdicts already reached
    // are kept, in 1/16 of the budget (cleared when full; a pair decided again gets the same
    // verdict and a repeated edge, which the clusters step ignores).
    var decided: [CandidatePair: Bool] = [:]
    let decidedLimit = max(1 << 12, budget / 16 / 64)
    func decide(_ a: UInt64, _ b: UInt64, similar compare: () throws -> Bool) throws -> Bool {
      let pair = CandidatePair(first: a, second: b)
      if let known = decided[pair] { return known }
      if stage.verification != .none { verified += 1 }
      let similar = try compare()
      if decided.count >= decidedLimit { decided.removeAll(keepingCapacity: true) }
      decided[pair] = similar
      if similar { try link(a, b) }
      return similar
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
    for band in bands(ofBucketTask: group, stage) {
      var runKey: UInt64 = 0
      var runFirst: UInt64? = nil
      var representatives: [(document: UInt64, fingerprints: UnsafePointer<UInt16>?)] = []
      func visit(_ key: UInt64, _ document: UInt64) throws {
        visited += 1
        if let first = runFirst, key == runKey {
          candidates += 1
          if let shingleSets {
            // Exact: compared with each representative's shingle set.
            if representatives.isEmpty { representatives.append((first, nil)) }
            var matched = false
            for representative in representatives
            where try decide(
              representative.document, document,
              similar: { try shingleSets.reaches(representative.document, document, threshold: threshold) })
            {
              matched = true
            }
            if !matched && representatives.count < maxRepresentatives { representatives.append((document, nil)) }
            return
          }
          guard let fingerprints else {
            _ = try decide(first, document, similar: { true })
            return
          }
          if representatives.isEmpty { representatives.append((first, fingerprints.of(first))) }
          let mine = fingerprints.of(document)
          var matched = false
          for representative in representatives
          where try decide(
            representative.document, document,
            similar: {
              guard let theirs = representative.fingerprints, let mine else { return false }
              return fingerprints.similar(theirs, mine, minimum: minimum)
            })
          {
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
        if visited % 65536 == 0 { context.reportProgress(records: visited, bytes: 0) }
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
    context.setCounts(recordsIn: visited, kept: visited, dropped: 0)
    context.counters.add("candidate_pairs", candidates)
    if stage.verification != .none { context.counters.add("verified_pairs", verified) }
    context.counters.add("linked_pairs", edges)
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

  static func buildClusters(stage: MinHashDedup, context: any StepContext) throws {
    let signatureFiles = try stage.inputs(MinHashDedup.Files.signatures, context: context)
    let shards = signatureFiles.count
    let ownFirst = stage.referenceShards
    var unionFind = UnionFind()
    var pairs = 0
    var lastEdges = ""
    for group in 0..<bucketTaskCount(stage) {
      let input = try context.open(MinHashDedup.Files.edges, index: group)
      lastEdges = input.name
      let reader = ArtifactCursor(input)
      while !reader.atEnd {
        let a = try reader.uint64()
        let b = try reader.uint64()
        unionFind.union(a, b)
        pairs += 1
        if pairs % 65536 == 0 { context.reportProgress(records: pairs, bytes: 0) }
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
      let file = signatureFiles[shard]
      let header = try SignatureFileHeader(reading: file)
      let reader = ArtifactCursor(file, offset: header.docsOffset, count: header.docsBytes)
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
        file: lastEdges)
    }

    // Each record's cluster (the node standing for it) and each cluster's survivor and size.
    var clusterOf = [Int32](repeating: -1, count: count)
    var survivor = [Int32](repeating: -1, count: count)
    var clusterSize = [Int32](repeating: 0, count: count)
    // Reference records come first in input order and are never replaced as survivors.
    let ownStart = Int32(shardStarts[ownFirst])
    var isReference = [Bool](repeating: false, count: count)
    for node in order[..<Int(ownStart)] { isReference[Int(node)] = true }
    switch stage.clustering {
    case .components:
      // Connected components; in input order, a later member replaces the survivor only with
      // a strictly higher score, and never a reference record.
      for node in order {
        let root = unionFind.find(node)
        clusterOf[Int(node)] = root
        clusterSize[Int(root)] += 1
        let best = survivor[Int(root)]
        if best < 0
          || (isReference[Int(node)] == isReference[Int(best)] && isHigher(scores[Int(node)], than: scores[Int(best)]))
        {
          survivor[Int(root)] = node
        }
      }
    case .greedy:
      try resolveGreedily(
        stage: stage, context: context, order: order, scores: scores, isReference: isReference,
        nodes: unionFind.nodes, clusterOf: &clusterOf, survivor: &survivor, clusterSize: &clusterSize)
    }

    // Cluster numbers, in input order of their first member; a record alone in its cluster
    // (greedy: kept, but every record linked to it went to another survivor) is no cluster.
    var clusterNumber = [Int32](repeating: -1, count: count)
    var clusterRoots: [Int32] = []
    var clustered = 0
    for node in order where clusterSize[Int(clusterOf[Int(node)])] > 1 {
      clustered += 1
      let root = Int(clusterOf[Int(node)])
      if clusterNumber[root] < 0 {
        clusterNumber[root] = Int32(clusterRoots.count)
        clusterRoots.append(Int32(root))
      }
    }

    // verdicts.bin: a header with each shard's byte range, then per shard, in line order, the
    // line, the cluster size and the survivor's id (empty for the survivor itself).
    // Only the stage's own shards get verdicts: reference records are never dropped or marked.
    var body: [UInt8] = []
    var ranges: [(offset: Int, count: Int)] = []
    var (dropped, droppedForReference) = (0, 0)
    for shard in ownFirst..<shards {
      let start = body.count
      for node in order[shardStarts[shard]..<shardStarts[shard + 1]] where clusterSize[Int(clusterOf[Int(node)])] > 1 {
        let root = Int(clusterOf[Int(node)])
        let kept = survivor[root]
        Binary.append(lines[Int(node)], to: &body)
        Binary.append(UInt32(clusterSize[root]), to: &body)
        Binary.append(kept == node ? "" : ids[Int(kept)], to: &body)
        if kept != node {
          dropped += 1
          if isReference[Int(kept)] { droppedForReference += 1 }
        }
      }
      ranges.append((start, body.count - start))
    }
    let ownShards = shards - ownFirst
    var header: [UInt8] = []
    for value in [Verdicts.magic, Verdicts.version, UInt32(ownShards), 0] { Binary.append(value, to: &header) }
    let bodyStart = Verdicts.headerBytes + 16 * ownShards
    for range in ranges {
      Binary.append(UInt64(bodyStart + range.offset), to: &header)
      Binary.append(UInt64(range.count), to: &header)
    }
    let verdicts = try context.create(MinHashDedup.Files.verdicts, index: nil)
    let clustersFile = try context.create(MinHashDedup.Files.clusters, index: nil)
    var largest = 0
    do {
      try verdicts.write(header)
      try verdicts.write(body)
      body = []

      // clusters.jsonl: members grouped by cluster number, each group in input order.
      let clusters = clusterRoots.count
      var starts = [Int](repeating: 0, count: clusters + 1)
      for node in order where clusterNumber[Int(clusterOf[Int(node)])] >= 0 {
        starts[Int(clusterNumber[Int(clusterOf[Int(node)])]) + 1] += 1
      }
      for index in 0..<clusters { starts[index + 1] += starts[index] }
      var members = [Int32](repeating: 0, count: clustered)
      var next = starts
      for node in order where clusterNumber[Int(clusterOf[Int(node)])] >= 0 {
        let number = Int(clusterNumber[Int(clusterOf[Int(node)])])
        members[next[number]] = node
        next[number] += 1
      }
      var out: [UInt8] = []
      for number in 0..<clusters {
        let root = Int(clusterRoots[number])
        let size = Int(clusterSize[root])
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
      for (name, value) in [
        ("linked_pairs", pairs), ("clusters", clusters), ("clustered_documents", clustered),
        ("largest_cluster", largest), ("near_duplicates", dropped),
      ] {
        context.counters.add(name, value)
      }
      if ownFirst > 0 {
        context.counters.add("reference_duplicates", droppedForReference)
      }
    }
    context.setCounts(recordsIn: count, kept: count, dropped: 0)
  }

  /// Greedy clusters: records in priority order (input order; with `max_score`, highest score
  /// first, ties in input order), each kept unless it is linked to a record kept before it,
  /// whose cluster it then joins (the first such record in priority order). So every dropped
  /// record reached the threshold with its survivor, and no two survivors are linked, whereas
  /// a connected component can chain records far below the threshold. The links are read a
  /// second time into adjacency lists (4 bytes per link and end).
  static func resolveGreedily(
    stage: MinHashDedup, context: any StepContext, order: [Int32], scores: [UInt64], isReference: [Bool],
    nodes: [UInt64: Int32], clusterOf: inout [Int32], survivor: inout [Int32], clusterSize: inout [Int32]
  ) throws {
    let count = order.count
    var rank = [Int32](repeating: 0, count: count)
    var byRank = order
    if stage.survivor == .maxScore {
      var position = [Int32](repeating: 0, count: count)
      for (index, node) in order.enumerated() { position[Int(node)] = Int32(index) }
      byRank.sort { a, b in
        // Reference records first: they were decided by their own run.
        if isReference[Int(a)] != isReference[Int(b)] { return isReference[Int(a)] }
        if isHigher(scores[Int(a)], than: scores[Int(b)]) { return true }
        if isHigher(scores[Int(b)], than: scores[Int(a)]) { return false }
        return position[Int(a)] < position[Int(b)]
      }
    }
    for (index, node) in byRank.enumerated() { rank[Int(node)] = Int32(index) }
    // Adjacency lists: degrees, then offsets, then the neighbours.
    var starts = [Int](repeating: 0, count: count + 1)
    func forEachLink(_ body: (Int32, Int32) -> Void) throws {
      for group in 0..<bucketTaskCount(stage) {
        let reader = ArtifactCursor(try context.open(MinHashDedup.Files.edges, index: group))
        while !reader.atEnd {
          let a = try reader.uint64()
          let b = try reader.uint64()
          guard let x = nodes[a], let y = nodes[b] else { continue }
          body(x, y)
        }
      }
    }
    try forEachLink { x, y in
      starts[Int(x) + 1] += 1
      starts[Int(y) + 1] += 1
    }
    for index in 0..<count { starts[index + 1] += starts[index] }
    var neighbours = [Int32](repeating: 0, count: starts[count])
    var fill = starts
    try forEachLink { x, y in
      neighbours[fill[Int(x)]] = y
      fill[Int(x)] += 1
      neighbours[fill[Int(y)]] = x
      fill[Int(y)] += 1
    }
    for node in byRank {
      var best: Int32 = -1
      for neighbour in neighbours[starts[Int(node)]..<starts[Int(node) + 1]]
      where rank[Int(neighbour)] < rank[Int(node)] && survivor[Int(neighbour)] == neighbour {
        if best < 0 || rank[Int(neighbour)] < rank[Int(best)] { best = neighbour }
      }
      let root = best < 0 ? node : best
      if best < 0 { survivor[Int(node)] = node }
      clusterOf[Int(node)] = root
      clusterSize[Int(root)] += 1
    }
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
    private let reader: ArtifactCursor
    private var next: (line: Int, id: String)?

    /// Opens the docs section of the shard's signature file; nil when it is missing or does not
    /// look right (step 4 then parses every record, as it would without this shortcut).
    init?(context: any StepContext) {
      guard let file = try? context.open(MinHashDedup.Files.signatures, index: context.index),
        let header = try? SignatureFileHeader(reading: file)
      else { return nil }
      reader = ArtifactCursor(file, offset: header.docsOffset, count: header.docsBytes)
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
  static func loadVerdicts(_ file: any ArtifactInput, shard: Int) throws -> [Int: Verdict] {
    var header = [UInt8](repeating: 0, count: Verdicts.headerBytes)
    guard file.size >= Verdicts.headerBytes else {
      throw PipeError(.corruptInput, "verdicts file is truncated; rerun with --force", file: file.name)
    }
    try header.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    let shards = Int(header.loadLE(UInt32.self, at: 8))
    guard header.loadLE(UInt32.self, at: 0) == Verdicts.magic, shard < shards,
      file.size >= Verdicts.headerBytes + 16 * shards
    else {
      throw PipeError(
        .corruptInput, "verdicts file is corrupt or for another input; rerun with --force", file: file.name)
    }
    var range = [UInt8](repeating: 0, count: 16)
    try range.withUnsafeMutableBytes { try file.read(into: $0, at: Verdicts.headerBytes + 16 * shard) }
    let offset = Int(range.loadLE(UInt64.self, at: 0))
    let length = Int(range.loadLE(UInt64.self, at: 8))
    guard offset + length <= file.size else {
      throw PipeError(.corruptInput, "verdicts file is truncated; rerun with --force", file: file.name)
    }
    let reader = ArtifactCursor(file, offset: offset, count: length)
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

/// Step 1 on one shard: each record's signature, band keys, line, score and id.
final class SignatureCollection: RecordCollection {
  private let stage: MinHashDedup
  private let context: any StepContext
  private let builder: SignatureFileBuilder
  private let shingleSets: ShingleSetFileBuilder?
  /// The current record's shingle hashes (with exact verification), in a reused buffer.
  private var shingles: [UInt64] = []
  private var withoutWords = 0

  init(stage: MinHashDedup, context: any StepContext) throws {
    self.stage = stage
    self.context = context
    builder = try SignatureFileBuilder(
      bands: stage.bandCount, fingerprintsPerDocument: stage.minimumSimilarity > 0 ? stage.signatureSize : 0,
      budget: stage.budget(context), scratch: { try context.scratch($0) })
    shingleSets =
      stage.verification == .exact
      ? ShingleSetFileBuilder(writer: try context.create(MinHashDedup.Files.shingles, index: context.index)) : nil
  }

  func add(_ record: Record, line: Int) throws {
    // With exact verification the shingles are kept for the shingle-set file, and the
    // signature is made from them (the same values as from the text: a minimum per bin).
    let signature: [UInt64]?
    if shingleSets != nil {
      record.withTextUTF8 { stage.shingles(of: $0, into: &shingles) }
      signature = stage.sketcher.signature(of: shingles)
    } else {
      signature = stage.signature(of: record)
    }
    guard let signature else {
      withoutWords += 1
      return
    }
    let keys = stage.bandKeys(of: signature)
    guard signature.count == stage.signatureSize, keys.count == stage.bandCount else {
      throw PipeError(
        .stage,
        "internal error: \(signature.count) signature values and \(keys.count) band keys for a signature of "
          + "\(stage.signatureSize) values in \(stage.bandCount) bands")
    }
    try builder.add(
      keys: keys, signature: signature, line: line,
      score: stage.survivorScore(of: record).map(\.bitPattern) ?? NearDuplicateSteps.noScore, id: record.id)
    if let shingleSets { try shingleSets.add(shingles) }
  }

  func finish() throws {
    let spilled = builder.spilledRuns
    try builder.write(to: context.create(MinHashDedup.Files.signatures, index: context.index))
    try shingleSets?.finish()
    context.counters.add("signed_records", builder.documents)
    context.counters.add("records_without_words", withoutWords)
    if spilled > 0 { context.counters.add("spilled_runs", spilled) }
  }
}

/// Step 4 on one shard: drops non-survivors and marks survivors with their cluster size.
final class NearDuplicateFilter: RecordDecider {
  private let verdicts: [Int: NearDuplicateSteps.Verdict]
  private let signed: NearDuplicateSteps.SignedDocuments?
  private let reason: String
  private let countField: String?

  init(stage: MinHashDedup, context: any StepContext) throws {
    verdicts = try NearDuplicateSteps.loadVerdicts(
      context.open(MinHashDedup.Files.verdicts, index: nil), shard: context.index)
    signed = NearDuplicateSteps.SignedDocuments(context: context)
    reason = stage.dropReason
    countField = stage.clusterSizeField
  }

  func decide(_ record: Record, line: Int) throws -> BatchOutcome {
    guard let verdict = verdicts[line] else { return .keep(record) }
    if let survivor = verdict.survivorID { return .drop(reason: reason, detail: survivor) }
    guard let countField else { return .keep(record) }
    var marked = record
    marked.setMetadata(countField, .int(Int64(verdict.clusterSize)))
    return .keep(marked)
  }

  /// Most records are in no cluster and pass unchanged: step 1 already parsed them, so their
  /// lines can be copied as they are (half of this step's work was parsing them again).
  func unchangedRecordID(atLine line: Int) throws -> String? {
    guard let signed, verdicts[line] == nil else { return nil }
    return try signed.id(atLine: line)
  }
}
