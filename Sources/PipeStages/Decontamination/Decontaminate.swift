public import PipeCore

/// `decontaminate@1`: finds records that share n-grams with benchmark data, and drops or flags
/// them.
///
/// The benchmarks are JSONL files given in the config (`benchmarks`: `NAME=PATH` or `PATH`;
/// relative paths are resolved against the pipeline file's folder by validation). Their `fields`
/// are indexed once, when the stage is made (see `DecontaminationIndex`). Each record's text is
/// normalized the same way (lowercased, punctuation dropped, whitespace collapsed, one token per
/// CJK character), and every n-gram of it (13 tokens by default) is looked up.
///
/// - A record with at least `minMatches` matching n-grams of one benchmark is contaminated.
///   Matches are counted per position, so a copied passage of 20 tokens gives 8 matching
///   13-grams.
/// - A record shorter than an n-gram (but of at least `minTokens` tokens) is contaminated when
///   it equals, after normalization, a benchmark text of the same length: a short question
///   copied alone. Shorter records and empty texts are never contaminated.
///
/// With `action: "drop"` a contaminated record is dropped with reason `contaminated` and a
/// detail naming the benchmark, the number of matches and the first matching n-gram; with
/// `"flag"` it is kept with `metadata.contamination = {"benchmark", "ngram", "matches"}`. Both
/// add 1 to the counters `contaminated` and `hits.<benchmark>` (for each benchmark the record
/// matched at least `minMatches` times).
public struct Decontaminate: RecordStage {
  /// Reject reason for a contaminated record.
  public static let contaminatedReason = "contaminated"
  /// The metadata key written in flag mode.
  public static let flagKey = "contamination"
  /// Fields indexed by default: the text field and common benchmark layouts.
  public static let defaultFields = [
    "text", "question", "prompt", "problem", "query", "instruction", "input", "context", "passage", "answer",
    "completion", "solution", "output", "choices",
  ]

  /// What to do with a contaminated record.
  public enum Action: String, Sendable, CaseIterable {
    /// Drop it with reason `contaminated`.
    case drop
    /// Keep it and write `metadata.contamination`.
    case flag
  }

  /// The benchmark n-grams.
  public let index: DecontaminationIndex
  /// What to do with a contaminated record.
  public let action: Action
  /// Matching n-grams of one benchmark that make a record contaminated.
  public let minMatches: Int

  /// Creates the stage around a built index.
  ///
  /// - Throws: `PipeError(.config)` when `minMatches` is below 1 or the index is empty.
  public init(index: DecontaminationIndex, action: Action = .drop, minMatches: Int = 1) throws {
    guard minMatches >= 1 else { throw PipeError(.config, "decontaminate: minMatches must be at least 1") }
    guard !index.benchmarkNames.isEmpty else { throw PipeError(.config, "decontaminate: no benchmark is indexed") }
    self.index = index
    self.action = action
    self.minMatches = minMatches
  }

  /// Creates the stage from a config validated against `descriptor`, reading the benchmarks.
  init(options: Options) throws {
    let files = try options.benchmarks.files.map { try DecontaminationIndex.BenchmarkFile(parsing: $0.text) }
    let index = try DecontaminationIndex.load(
      files, fields: options.fields, ngramSize: options.ngrams, minTokens: options.minTokens,
      lowercase: options.lowercase)
    try self.init(
      index: index, action: Action(rawValue: options.action) ?? .drop, minMatches: options.minMatches)
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      required: "Benchmark JSONL files, each NAME=PATH or PATH (name = file base name); relative to the pipeline file.")
    var benchmarks: FileList
    @Setting(
      defaultFields,
      "Fields of each benchmark line to index (top-level keys or dotted paths); missing ones are skipped.")
    var fields: [String]
    @Setting(13, in: 1...64, "Tokens per n-gram.") var ngrams: Int
    @Setting(
      "drop", oneOf: Action.allCases.map(\.rawValue),
      "drop: reject with reason contaminated; flag: keep and write metadata.contamination.")
    var action: String
    @Setting(1, in: 1...Int.max, "Matching n-grams of one benchmark needed to call a record contaminated.")
    var minMatches: Int
    @Setting(8, in: 1...64, "Texts shorter than ngrams but with at least this many tokens are compared whole.")
    var minTokens: Int
    @Setting(true, "Compare case-insensitively.") var lowercase: Bool
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "decontaminate", version: 1,
    summary: "Drop or flag records sharing n-grams with benchmark files (13-grams by default).",
    options: Options.self,
    make: { options in .record(try Decontaminate(options: options)) })

  /// What one record shares with the benchmarks.
  public struct Matches: Sendable, Equatable {
    /// Matching n-grams (or 1 for a whole short text) per benchmark, in index order.
    public var counts: [Int]
    /// The first matching n-gram of each benchmark, as it appears in the text.
    public var firstNgrams: [String?]
    /// Whether the record was compared whole (shorter than an n-gram).
    public var wholeText: Bool
  }

  /// The matches of `text` against every benchmark.
  public func matches(in text: UnsafeBufferPointer<UInt8>) -> Matches {
    let benchmarkCount = index.benchmarkNames.count
    var counts = [Int](repeating: 0, count: benchmarkCount)
    var firstRanges = [Range<Int>?](repeating: nil, count: benchmarkCount)
    var wholeText = false
    index.forEachKey(in: text) { key, range, whole in
      var mask = index.benchmarks(of: key)
      guard mask != 0 else { return }
      wholeText = whole
      while mask != 0 {
        let benchmark = mask.trailingZeroBitCount
        mask &= mask - 1
        counts[benchmark] += 1
        if firstRanges[benchmark] == nil { firstRanges[benchmark] = range }
      }
    }
    let ngrams = firstRanges.map { range in range.map { Self.surface(text, range: $0) } }
    return Matches(counts: counts, firstNgrams: ngrams, wholeText: wholeText)
  }

  /// The text of an n-gram as written, at most 1,000 bytes (cut at a character boundary).
  static func surface(_ text: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> String {
    var end = range.upperBound
    if end - range.lowerBound > 1000 {
      end = range.lowerBound + 1000
      while end > range.lowerBound, text[end] & 0xC0 == 0x80 { end -= 1 }
    }
    return String(decoding: UnsafeBufferPointer(rebasing: text[range.lowerBound..<end]), as: UTF8.self)
  }

  /// Drops or flags the record when it is contaminated; keeps it otherwise.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let found = record.withTextUTF8 { matches(in: $0) }
    let hit = found.counts.indices.filter { found.counts[$0] >= minMatches }
    guard !hit.isEmpty else { return .keep }
    // The benchmark with the most matches (the first in config order on a tie) is named.
    let top =
      hit.max { found.counts[$0] < found.counts[$1] || (found.counts[$0] == found.counts[$1] && $0 > $1) } ?? hit[0]
    context.counters.add("contaminated")
    for benchmark in hit { context.counters.add("hits." + index.benchmarkNames[benchmark]) }
    let name = index.benchmarkNames[top]
    let ngram = found.firstNgrams[top] ?? ""
    switch action {
    case .flag:
      record.setMetadata(
        Self.flagKey,
        .object(["benchmark": .string(name), "ngram": .string(ngram), "matches": .int(Int64(found.counts[top]))]))
      return .keep
    case .drop:
      var detail =
        found.wholeText
        ? "\(name): whole text matches (\(ngram.debugDescription))"
        : "\(name): \(found.counts[top]) matching \(index.ngramSize)-gram\(found.counts[top] == 1 ? "" : "s"), "
          + "first \(ngram.debugDescription)"
      for other in hit where other != top {
        detail += "; \(index.benchmarkNames[other]): \(found.counts[other])"
      }
      return .drop(reason: Self.contaminatedReason, detail: detail)
    }
  }
}
