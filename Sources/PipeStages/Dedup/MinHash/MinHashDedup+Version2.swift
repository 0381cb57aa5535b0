public import PipeCore

/// `dedup.minhash@2`: the user's similarity threshold instead of a banding.
///
/// Version 1 asks for bands and rows and links candidates when 60% of their signature values
/// agree, which suits copies far above any threshold but no user can say "0.8" with it.
/// Version 2 takes `threshold` (the Jaccard similarity of the word n-gram sets above which two
/// documents are duplicates, default 0.8, as datasketch and text-dedup), derives bands and rows
/// from it and the signature size, links a candidate pair only when it reaches the threshold,
/// and clusters greedily, so that a record is dropped only for a survivor it is similar to.
///
/// Candidates are checked by the exact Jaccard similarity of the shingle sets by default
/// (`verify: "exact"`; each shard's distinct shingle hashes are written beside its signatures,
/// 8 bytes per shingle). `verify: "signature"` uses the signature's estimate instead: no
/// shingle files and about a third less time in the stage, but a pair at 0.78 passes 0.8 one
/// time in three with 112 values (standard deviation 0.039). On real revisions with many pairs
/// just below the threshold (Tests/Benchmarks/neardup_eval.py), the estimate kept 92% of them
/// apart and exact verification all; docs/dedup.md has the figures.
extension MinHashDedup {
  /// Version 2's config keys.
  struct OptionsVersion2: ConfigSchema {
    @Setting(5, in: 1...64, "Words per shingle (texts with fewer words are one shingle).") var ngrams: Int
    @Setting(
      0.8, in: 0...1,
      "Jaccard similarity of the shingle sets at or above which two records are duplicates.")
    var threshold: Double
    @Setting(
      MinHashDedup.defaultSignatureSize, in: 1...MinHashSketcher.maxSize,
      "MinHash values per record; more sharpen the estimate and cost time.")
    var signatureSize: Int
    @Setting(nil, in: 1...MinHashSketcher.maxSize, "LSH bands (with rows; derived from threshold when absent).")
    var bands: Int?
    @Setting(nil, in: 1...MinHashSketcher.maxSize, "Signature values per band (with bands).") var rows: Int?
    @Setting(
      "exact", oneOf: MinHashDedup.Verification.allCases.map(\.rawValue),
      "How candidates are checked against threshold: \"exact\" (shingle sets), \"signature\" (estimate) or \"none\".")
    var verify: String
    @Setting(
      "greedy", oneOf: MinHashDedup.Clustering.allCases.map(\.rawValue),
      "\"greedy\": a record is dropped only for a linked survivor; \"components\": every chain of links is one cluster."
    )
    var clustering: String
    @Setting(1, in: 0...Int.max, "Seed of the hash functions (same seed, same signatures).") var seed: Int
    @Setting(
      "fast", oneOf: MinHashSketcher.Algorithm.allCases.map(\.rawValue),
      "\"fast\" (one hash per shingle and round) or \"permutations\" (one hash per shingle and value).")
    var signature: String
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
      FileList(),
      "Indexes exported by earlier runs (their RUN/artifacts/STAGE.export folders), oldest first: records similar "
        + "to their survivors are dropped with their id; theirs are untouched.")
    var reference: FileList
    @Setting(
      false, "Export this stage's signatures as an index for later runs' reference (artifacts/STAGE.export).",
      affectsOutput: false)
    var exportIndex: Bool
    @Setting(
      512, in: 1...MinHashDedup.maxMemoryCapMB,
      "Memory for sorting and merging band keys; past it, sorted runs spill to disk and are merged (same output).",
      affectsOutput: false)
    var memoryCapMB: Int
  }

  /// Creates the stage from version 2's options.
  init(options: OptionsVersion2) throws {
    let banding: MinHashBanding?
    switch (options.bands, options.rows) {
    case (let bands?, let rows?): banding = MinHashBanding(bands: bands, rows: rows)
    case (nil, nil): banding = nil
    default:
      throw PipeError(
        .config, "dedup.minhash: give both bands and rows, or neither (they are then derived from threshold)")
    }
    try self.init(
      ngrams: options.ngrams, threshold: options.threshold, signatureSize: options.signatureSize, banding: banding,
      verification: Verification(rawValue: options.verify) ?? .exact,
      clustering: Clustering(rawValue: options.clustering) ?? .greedy, seed: UInt64(options.seed),
      algorithm: MinHashSketcher.Algorithm(rawValue: options.signature) ?? .fast,
      normalization: MinHashNormalization(
        lowercase: options.lowercase, removePunctuation: options.removePunctuation,
        normalizeDigits: options.normalizeDigits, stripDiacritics: options.stripDiacritics),
      survivor: Survivor(rawValue: options.survivor) ?? .first, scoreField: options.scoreField,
      countField: options.countField, memoryCapMB: options.memoryCapMB,
      references: options.reference.files.map(\.path), exportsIndex: options.exportIndex)
  }

  /// Version 2: a similarity threshold, a derived banding and verified candidates.
  public static let descriptorVersion2 = OpDescriptor(
    name: "dedup.minhash", version: 2,
    summary:
      "Drop records whose word n-gram Jaccard similarity to another reaches threshold (MinHash LSH, verified), "
      + "keeping one survivor per cluster.",
    options: OptionsVersion2.self, make: { options in .steps(try MinHashDedup(options: options).plan) })
}
