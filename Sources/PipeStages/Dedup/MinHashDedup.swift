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
public struct MinHashDedup: NearDuplicateStage {
  /// Which record of a cluster survives.
  public enum Survivor: String, Sendable, CaseIterable {
    /// The first in input order (shard order, then line order).
    case first
    /// The highest `metadata.<scoreField>` (records without a number there rank lowest); ties
    /// go to the first in input order.
    case maxScore = "max_score"
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

  /// The number of LSH bands.
  public var bandCount: Int { sketcher.bands }
  /// `bands x rows`.
  public var signatureSize: Int { sketcher.size }
  /// The share of equal signature values two candidates need to be linked.
  public let minimumSimilarity: Double
  /// The reject reason: `near_duplicate`.
  public var dropReason: String { Self.nearDuplicateReason }

  /// Creates the stage; the parameters are the op's config keys, with the same defaults.
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
    guard ngrams >= 1 else { throw PipeError(.config, "dedup.minhash: ngrams must be at least 1") }
    guard bands >= 1, rows >= 1, bands * rows <= MinHashSketcher.maxSize else {
      throw PipeError(
        .config,
        "dedup.minhash: bands x rows is \(bands * rows); it must be at most \(MinHashSketcher.maxSize) values per signature"
      )
    }
    if survivor == .maxScore, (scoreField ?? "").isEmpty {
      throw PipeError(
        .config, "dedup.minhash: survivor \"max_score\" needs scoreField (the metadata key holding the score)")
    }
    guard (1...Self.maxMemoryCapMB).contains(memoryCapMB) else {
      throw PipeError(.config, "dedup.minhash: memoryCapMB must be in 1...\(Self.maxMemoryCapMB)")
    }
    shingler = MinHashShingler(ngrams: ngrams, normalization: normalization)
    sketcher = MinHashSketcher(bands: bands, rows: rows, seed: seed, algorithm: algorithm)
    self.survivor = survivor
    self.scoreField = survivor == .maxScore ? scoreField : nil
    self.clusterSizeField = (countField ?? "").isEmpty ? nil : countField
    self.memoryCapBytes = memoryCapMB << 20
    self.minimumSimilarity = minimumSimilarity
  }

  /// The default `minSimilarity`.
  public static let defaultSimilarity = 0.6

  /// Creates the stage from a config validated against `descriptor`.
  init(config: StageConfig) throws {
    try self.init(
      ngrams: config.int("ngrams"), bands: config.int("bands"), rows: config.int("rows"),
      seed: UInt64(config.int("seed")),
      algorithm: MinHashSketcher.Algorithm(rawValue: config.string("signature")) ?? .fast,
      normalization: MinHashNormalization(
        lowercase: config.bool("lowercase"), removePunctuation: config.bool("removePunctuation"),
        normalizeDigits: config.bool("normalizeDigits"), stripDiacritics: config.bool("stripDiacritics")),
      survivor: Survivor(rawValue: config.string("survivor")) ?? .first,
      scoreField: config.optional("scoreField")?.stringValue, countField: config.string("countField"),
      minimumSimilarity: config.double("minSimilarity"), memoryCapMB: config.int("memoryCapMB"))
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "dedup.minhash", version: 1,
    summary: "Drop near-duplicate records (MinHash LSH over word n-grams), keeping one survivor per cluster.",
    keys: [
      ConfigKey(
        "ngrams", .int(1...64), default: .int(5), "Words per shingle (texts with fewer words are one shingle)."),
      ConfigKey("bands", .int(1...MinHashSketcher.maxSize), default: .int(16), "LSH bands (signature = bands x rows)."),
      ConfigKey("rows", .int(1...MinHashSketcher.maxSize), default: .int(7), "Signature values per band."),
      ConfigKey(
        "seed", .int(0...Int.max), default: .int(1), "Seed of the hash functions (same seed, same signatures)."),
      ConfigKey(
        "signature", .choice(MinHashSketcher.Algorithm.allCases.map(\.rawValue)), default: .string("fast"),
        "\"fast\" (one hash per shingle and round) or \"permutations\" (datatrove's bands x rows hashes per shingle)."),
      ConfigKey(
        "minSimilarity", .double(0...1), default: .double(defaultSimilarity),
        "Link two candidates only if this share of their signature values agree (0: link all, as datatrove)."),
      ConfigKey("lowercase", .bool, default: .bool(true), "Lowercase before cutting words."),
      ConfigKey(
        "removePunctuation", .bool, default: .bool(true),
        "Punctuation and symbols separate words (otherwise each is a word of its own)."),
      ConfigKey("normalizeDigits", .bool, default: .bool(true), "Replace every number by 0."),
      ConfigKey("stripDiacritics", .bool, default: .bool(true), "Remove accents and other nonspacing marks (NFD)."),
      ConfigKey(
        "survivor", .choice(Survivor.allCases.map(\.rawValue)), default: .string("first"),
        "Who survives in a cluster: \"first\" in input order, or \"max_score\" (highest scoreField, ties to the first)."
      ),
      ConfigKey("scoreField", .string, default: .null, "Metadata key of the score for \"max_score\"."),
      ConfigKey(
        "countField", .string, default: .string("duplicate_count"),
        "Metadata key set to the cluster size on survivors (\"\" for none)."),
      ConfigKey(
        "memoryCapMB", .int(1...maxMemoryCapMB), default: .int(512),
        "Memory for sorting and merging band keys; past it, sorted runs spill to disk and are merged."),
    ],
    make: { config in .nearDuplicate(try MinHashDedup(config: config)) })

  // MARK: - NearDuplicateStage

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
