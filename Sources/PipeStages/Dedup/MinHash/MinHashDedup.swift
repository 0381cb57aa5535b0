public import PipeCore

/// `dedup.minhash@1`: removes near-duplicate documents with MinHash and LSH, keeping one
/// survivor per cluster.
///
/// Per record: the text is normalized and cut into word n-grams (`MinHashShingler`), the
/// shingles get a MinHash signature of `bands x rows` values (`MinHashSketcher`), and each band
/// of `rows` values is hashed to one 64-bit key. The runtime then links every two records that
/// share a key in some band, takes connected components across all shards as clusters, keeps
/// one survivor per cluster and drops the others with reason `near_duplicate` and the
/// survivor's id as detail. Survivors get the cluster size in `metadata.<countField>` (absent
/// means 1), so a later stage can upsample by it.
///
/// Defaults: 5-grams and a signature of 112 values as datatrove's `MinhashConfig`, but cut
/// into 16 bands of 7 rows (datatrove: 14 of 8) and with candidates verified. A pair with
/// Jaccard similarity `s` becomes a candidate with probability `1 - (1 - s^7)^16` (0.5 near
/// `s = 0.65`, 0.90 at `s = 0.75`; datatrove's 14 x 8 gives 0.77 there), and a candidate is
/// linked only when at least `minSimilarity` (0.6) of the two signatures' values agree, which
/// removes the chance collisions of unrelated documents in one band (templated pages with
/// `s` = 0.2 to 0.5). Measured on the bench corpus (seeds 1-3): recall 0.992-0.994, precision
/// 1.0; datatrove's recipe: recall 0.983, precision 0.989. `bands: 14, rows: 8,
/// minSimilarity: 0` is datatrove's recipe. Records without any word (empty text, only
/// punctuation) are kept without being compared.
public struct MinHashDedup: Sendable {
  /// Which record of a cluster survives.
  public enum Survivor: String, Sendable, CaseIterable {
    /// The first in input order (shard order, then line order).
    case first
    /// The highest `metadata.<scoreField>` (records without a number there rank lowest); ties
    /// go to the first in input order.
    case maxScore = "max_score"
  }

  /// How candidates (records sharing a band key) are checked before they are linked.
  public enum Verification: String, Sendable, CaseIterable {
    /// Every candidate is linked (datatrove, datasketch).
    case none
    /// Linked when the share of equal signature values, an estimate of the Jaccard similarity,
    /// is at least the threshold.
    case signature
    /// Linked when the Jaccard similarity of the two shingle sets is at least the threshold;
    /// each shard's distinct shingle hashes are written beside its signatures.
    case exact
  }

  /// How linked records form clusters.
  public enum Clustering: String, Sendable, CaseIterable {
    /// Connected components of the links (datatrove, text-dedup): a chain of links makes one
    /// cluster even when its ends are far below the threshold.
    case components
    /// In priority order (input order, or highest score first), a record is kept unless it is
    /// linked to a record already kept, whose cluster it joins (datasketch's "query, then
    /// insert if new" in one pass over the links).
    case greedy
  }

  /// The reject reason for a near-duplicate.
  public static let nearDuplicateReason = "near_duplicate"
  /// The largest `memoryCapMB`: 1 TiB.
  static let maxMemoryCapMB = 1 << 20

  /// Turns text into shingle hashes.
  public let shingler: MinHashShingler
  /// Turns shingle hashes into a signature and band keys.
  public let sketcher: MinHashSketcher
  /// The survivor rule.
  public let survivor: Survivor
  /// The metadata key holding the score, for `max_score`.
  public let scoreField: String?
  /// The metadata key that receives the cluster size on survivors, if any.
  public let clusterSizeField: String?
  /// The memory the runtime's dedup steps may use before spilling to disk.
  public let memoryCapBytes: Int
  /// How candidates are checked.
  public let verification: Verification
  /// The similarity two candidates need to be linked (unused with `.none`).
  public let threshold: Double
  /// How linked records form clusters.
  public let clustering: Clustering
  /// Indexes of earlier runs (version 2): their records come before this stage's input, so a
  /// record linked to one of their survivors is dropped with its id; they are never dropped.
  private(set) var references: [DedupIndex] = []
  /// Whether the stage exports its signatures as an index for later runs (version 2).
  let exportsIndex: Bool

  /// The number of LSH bands.
  public var bandCount: Int { sketcher.bands }
  /// The banding of the signature.
  public var banding: MinHashBanding { MinHashBanding(bands: sketcher.bands, rows: sketcher.rows) }
  /// Values per signature (at least `bands x rows`).
  public var signatureSize: Int { sketcher.size }
  /// The share of equal signature values two candidates need to be linked; 0 when candidates
  /// are not checked against the signature (version 1's `minSimilarity`).
  public var minimumSimilarity: Double { verification == .signature ? threshold : 0 }
  /// The reject reason: `near_duplicate`.
  public var dropReason: String { Self.nearDuplicateReason }

  /// Creates the stage with version 1's keys and defaults: a signature of `bands x rows` values,
  /// candidates linked when `minimumSimilarity` of their values agree (0: all linked).
  ///
  /// - Throws: `PipeError(.config)` when `bands * rows` exceeds `MinHashSketcher.maxSize`, or
  ///   `max_score` has no `scoreField`.
  public init(
    ngrams: Int = 5, bands: Int = 16, rows: Int = 7, seed: UInt64 = 1, algorithm: MinHashSketcher.Algorithm = .fast,
    normalization: MinHashNormalization = MinHashNormalization(), survivor: Survivor = .first,
    scoreField: String? = nil, countField: String? = "duplicate_count", minimumSimilarity: Double = defaultSimilarity,
    memoryCapMB: Int = 512
  ) throws {
    guard (0...1).contains(minimumSimilarity) else {
      throw PipeError(.config, "dedup.minhash: minSimilarity must be in 0...1")
    }
    guard bands >= 1, rows >= 1, bands * rows <= MinHashSketcher.maxSize else {
      throw PipeError(
        .config,
        "dedup.minhash: bands x rows is \(bands * rows); it must be at most \(MinHashSketcher.maxSize) values per signature"
      )
    }
    try self.init(
      ngrams: ngrams, threshold: minimumSimilarity, signatureSize: bands * rows,
      banding: MinHashBanding(bands: bands, rows: rows), verification: minimumSimilarity > 0 ? .signature : .none,
      clustering: .components, seed: seed, algorithm: algorithm, normalization: normalization, survivor: survivor,
      scoreField: scoreField, countField: countField, memoryCapMB: memoryCapMB)
  }

  /// Creates the stage with version 2's keys: documents with Jaccard similarity of at least
  /// `threshold` are duplicates. Without `banding`, bands and rows are derived from the
  /// threshold and `signatureSize` (`MinHashBanding.optimal`, weighted for recall when
  /// candidates are verified, as datasketch when they are not).
  ///
  /// - Throws: `PipeError(.config)` for a threshold outside (0, 1], a signature size outside
  ///   `1...MinHashSketcher.maxSize`, a banding larger than the signature, or `max_score`
  ///   without `scoreField`.
  public init(
    ngrams: Int = 5, threshold: Double, signatureSize: Int = defaultSignatureSize, banding: MinHashBanding? = nil,
    verification: Verification = .exact, clustering: Clustering = .greedy, seed: UInt64 = 1,
    algorithm: MinHashSketcher.Algorithm = .fast,
    normalization: MinHashNormalization = MinHashNormalization(), survivor: Survivor = .first,
    scoreField: String? = nil, countField: String? = "duplicate_count", memoryCapMB: Int = 512,
    references: [String] = [], exportsIndex: Bool = false
  ) throws {
    guard ngrams >= 1 else { throw PipeError(.config, "dedup.minhash: ngrams must be at least 1") }
    guard (0...1).contains(threshold) else {
      throw PipeError(.config, "dedup.minhash: threshold must be in 0...1")
    }
    guard (1...MinHashSketcher.maxSize).contains(signatureSize) else {
      throw PipeError(.config, "dedup.minhash: signatureSize must be in 1...\(MinHashSketcher.maxSize)")
    }
    let resolved: MinHashBanding
    if let banding {
      guard banding.bands >= 1, banding.rows >= 1, banding.bands * banding.rows <= signatureSize else {
        throw PipeError(
          .config,
          "dedup.minhash: bands x rows is \(banding.bands * banding.rows); it must be at most signatureSize "
            + "(\(signatureSize)); raise signatureSize or lower bands or rows")
      }
      resolved = banding
    } else {
      guard threshold > 0 && threshold < 1 else {
        throw PipeError(
          .config,
          "dedup.minhash: bands and rows are derived from a threshold strictly between 0 and 1; "
            + "for threshold \(threshold), give bands and rows")
      }
      resolved = MinHashBanding.optimal(
        threshold: threshold, size: signatureSize,
        falsePositiveWeight: verification == .none
          ? MinHashBanding.unverifiedFalsePositiveWeight : MinHashBanding.verifiedFalsePositiveWeight)
    }
    if survivor == .maxScore, (scoreField ?? "").isEmpty {
      throw PipeError(
        .config, "dedup.minhash: survivor \"max_score\" needs scoreField (the metadata key holding the score)")
    }
    guard (1...Self.maxMemoryCapMB).contains(memoryCapMB) else {
      throw PipeError(.config, "dedup.minhash: memoryCapMB must be in 1...\(Self.maxMemoryCapMB)")
    }
    shingler = MinHashShingler(ngrams: ngrams, normalization: normalization)
    sketcher = MinHashSketcher(
      bands: resolved.bands, rows: resolved.rows, size: signatureSize, seed: seed, algorithm: algorithm)
    self.survivor = survivor
    self.scoreField = survivor == .maxScore ? scoreField : nil
    self.clusterSizeField = (countField ?? "").isEmpty ? nil : countField
    self.memoryCapBytes = memoryCapMB << 20
    self.verification = verification
    self.threshold = threshold
    self.clustering = clustering
    self.exportsIndex = exportsIndex
    self.references = try DedupIndex.loadAll(
      references, op: Self.descriptorVersion2.qualifiedName, config: identity, files: indexFiles)
  }

  /// The settings that decide which records are near-duplicates, as an exported index records
  /// them: a reference made with other values is refused.
  var identity: JSONObject {
    [
      "ngrams": .int(Int64(shingler.ngrams)), "threshold": .double(threshold),
      "signatureSize": .int(Int64(signatureSize)), "bands": .int(Int64(banding.bands)),
      "rows": .int(Int64(banding.rows)), "verify": .string(verification.rawValue),
      "clustering": .string(clustering.rawValue), "seed": .int(Int64(bitPattern: sketcher.seed)),
      "signature": .string(sketcher.algorithm.rawValue), "lowercase": .bool(shingler.normalization.lowercase),
      "removePunctuation": .bool(shingler.normalization.removePunctuation),
      "normalizeDigits": .bool(shingler.normalization.normalizeDigits),
      "stripDiacritics": .bool(shingler.normalization.stripDiacritics),
    ]
  }

  /// Version 2's default signature size: datatrove's 112 values.
  public static let defaultSignatureSize = 112

  /// The default `minSimilarity`.
  public static let defaultSimilarity = 0.6

  /// Representatives kept per bucket (a run of records sharing a band key): a record matching
  /// none of them is not linked in this band (it may be in another), which bounds the work on
  /// huge buckets of unrelated records. Part of what version 1 means: changing it changes
  /// which records are linked, so it would be a new version.
  static let representativesPerBucket = 16

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(5, in: 1...64, "Words per shingle (texts with fewer words are one shingle).") var ngrams: Int
    @Setting(16, in: 1...MinHashSketcher.maxSize, "LSH bands (signature = bands x rows).") var bands: Int
    @Setting(7, in: 1...MinHashSketcher.maxSize, "Signature values per band.") var rows: Int
    @Setting(1, in: 0...Int.max, "Seed of the hash functions (same seed, same signatures).") var seed: Int
    @Setting(
      "fast", oneOf: MinHashSketcher.Algorithm.allCases.map(\.rawValue),
      "\"fast\" (one hash per shingle and round) or \"permutations\" (datatrove's bands x rows hashes per shingle).")
    var signature: String
    @Setting(
      MinHashDedup.defaultSimilarity, in: 0...1,
      "Link two candidates only if this share of their signature values agree (0: link all, as datatrove).")
    var minSimilarity: Double
    @Setting(true, "Lowercase before cutting words.") var lowercase: Bool
    @Setting(true, "Punctuation and symbols separate words (otherwise each is a word of its own).")
    var removePunctuation: Bool
    @Setting(true, "Replace every number by 0.") var normalizeDigits: Bool
    @Setting(true, "Remove accents and other nonspacing marks (NFD).") var stripDiacritics: Bool
    @Setting(
      "first", oneOf: Survivor.allCases.map(\.rawValue),
      "Who survives in a cluster: \"first\" in input order, or \"max_score\" (highest scoreField, ties to the first).")
    var survivor: String
    @Setting(nil, "Metadata key of the score for \"max_score\".") var scoreField: String?
    @Setting("duplicate_count", "Metadata key set to the cluster size on survivors (\"\" for none).")
    var countField: String
    @Setting(
      512, in: 1...MinHashDedup.maxMemoryCapMB,
      "Memory for sorting and merging band keys; past it, sorted runs spill to disk and are merged (same output).",
      affectsOutput: false)
    var memoryCapMB: Int
  }

  /// Creates the stage from its options.
  init(options: Options) throws {
    try self.init(
      ngrams: options.ngrams, bands: options.bands, rows: options.rows, seed: UInt64(options.seed),
      algorithm: MinHashSketcher.Algorithm(rawValue: options.signature) ?? .fast,
      normalization: MinHashNormalization(
        lowercase: options.lowercase, removePunctuation: options.removePunctuation,
        normalizeDigits: options.normalizeDigits, stripDiacritics: options.stripDiacritics),
      survivor: Survivor(rawValue: options.survivor) ?? .first, scoreField: options.scoreField,
      countField: options.countField, minimumSimilarity: options.minSimilarity, memoryCapMB: options.memoryCapMB)
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "dedup.minhash", version: 1,
    summary: "Drop near-duplicate records (MinHash LSH over word n-grams), keeping one survivor per cluster.",
    options: Options.self, make: { options in .steps(try MinHashDedup(options: options).plan) })

  // MARK: - Signatures

  /// Shingles are streamed to the sketch in chunks of this many hashes, so a huge text never
  /// holds all its shingles at once.
  static let chunkSize = 1 << 16

  /// The band keys of `record`'s text, or `nil` when it has no word.
  public func bandKeys(of record: Record) -> [UInt64]? {
    signature(of: record).map { sketcher.bandKeys(of: $0) }
  }

  /// One 64-bit key per band of `signature`.
  public func bandKeys(of signature: [UInt64]) -> [UInt64] {
    sketcher.bandKeys(of: signature)
  }

  /// The MinHash signature of `record`'s text, or `nil` when it has no word.
  public func signature(of record: Record) -> [UInt64]? {
    record.withTextUTF8 { bytes in
      var state = MinHashSketcher.State(sketcher)
      shingler.forEachShingleChunk(bytes, chunkSize: Self.chunkSize) { state.add($0, isLast: $1) }
      return state.finish { body in
        shingler.forEachShingleChunk(bytes, chunkSize: Self.chunkSize) { chunk, _ in body(chunk) }
      }
    }
  }

  /// Replaces `shingles` with the shingle hashes of UTF-8 text, in text order (repeats
  /// included); its capacity is reused from one record to the next.
  func shingles(of bytes: UnsafeBufferPointer<UInt8>, into shingles: inout [UInt64]) {
    shingles.removeAll(keepingCapacity: true)
    shingler.forEachShingleChunk(bytes, chunkSize: Self.chunkSize) { chunk, _ in shingles.append(contentsOf: chunk) }
  }

  /// The value of `metadata.<scoreField>` for `max_score`; `nil` otherwise or when it is not a
  /// finite number.
  public func survivorScore(of record: Record) -> Double? {
    guard let scoreField, let value = record.metadata(scoreField)?.doubleValue, value.isFinite else { return nil }
    return value
  }

  /// The share of equal values in two signatures: an estimate of the Jaccard similarity.
  public static func estimatedSimilarity(_ a: [UInt64], _ b: [UInt64]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    return Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
  }
}
