import Foundation
import PipeCore

/// The n-grams of one or more benchmarks, and which benchmarks each came from.
///
/// Every text given to `add(_:benchmark:)` is split into normalized tokens (see
/// `DecontaminationTokenizer`). Texts of at least `ngramSize` tokens contribute all their
/// n-grams; shorter texts of at least `minTokens` tokens contribute themselves as a whole, so a
/// record that is exactly a short benchmark question is still caught. Each key maps to a bit
/// mask of benchmarks (up to 64 per index). Memory is about 40 bytes per distinct n-gram.
public struct DecontaminationIndex: Sendable {
  /// The most benchmarks one index holds (one bit each).
  public static let maxBenchmarks = 64

  /// Benchmark names, in bit order.
  public private(set) var benchmarkNames: [String] = []
  /// Tokens per n-gram.
  public let ngramSize: Int
  /// The fewest tokens a text needs to be compared at all.
  public let minTokens: Int
  /// Whether tokens are lowercased.
  public let lowercase: Bool
  /// Distinct keys per benchmark, as added (n-grams and whole short texts).
  public private(set) var keyCounts: [Int] = []

  let tokenizer: DecontaminationTokenizer
  let hasher: NGramHasher
  private var table: [UInt64: UInt64] = [:]

  /// Creates an empty index.
  ///
  /// - Throws: `PipeError(.config)` when `ngramSize` or `minTokens` is below 1.
  public init(ngramSize: Int = 13, minTokens: Int = 8, lowercase: Bool = true) throws {
    guard ngramSize >= 1 else { throw PipeError(.config, "decontaminate: ngrams must be at least 1") }
    guard minTokens >= 1 else { throw PipeError(.config, "decontaminate: minTokens must be at least 1") }
    self.ngramSize = ngramSize
    self.minTokens = minTokens
    self.lowercase = lowercase
    tokenizer = DecontaminationTokenizer(lowercase: lowercase)
    hasher = NGramHasher(n: ngramSize)
  }

  /// The number of distinct keys.
  public var count: Int { table.count }

  /// Adds a benchmark and returns its bit index.
  ///
  /// - Throws: `PipeError(.config)` for a repeated name or past `maxBenchmarks`.
  @discardableResult
  public mutating func addBenchmark(named name: String) throws -> Int {
    guard !benchmarkNames.contains(name) else {
      throw PipeError(.config, "decontaminate: benchmark name \"\(name)\" is used twice; name them NAME=PATH")
    }
    guard benchmarkNames.count < Self.maxBenchmarks else {
      throw PipeError(
        .config, "decontaminate: at most \(Self.maxBenchmarks) benchmarks per stage; split them over two stages")
    }
    benchmarkNames.append(name)
    keyCounts.append(0)
    return benchmarkNames.count - 1
  }

  /// Indexes `text` as part of benchmark number `benchmark`; returns whether it added anything
  /// (false for texts shorter than `minTokens`).
  @discardableResult
  public mutating func add(_ text: String, benchmark: Int) -> Bool {
    precondition(benchmarkNames.indices.contains(benchmark), "add the benchmark first")
    let bit: UInt64 = 1 << UInt64(benchmark)
    var keys: [UInt64] = []
    var text = text
    text.withUTF8 { bytes in
      forEachKey(in: bytes) { key, _, _ in keys.append(key) }
    }
    for key in keys {
      let old = table[key, default: 0]
      if old & bit == 0 { keyCounts[benchmark] += 1 }
      table[key] = old | bit
    }
    return !keys.isEmpty
  }

  /// The benchmarks (bit mask) a key belongs to, or 0.
  func benchmarks(of key: UInt64) -> UInt64 { table[key] ?? 0 }

  /// Calls `body` with each key of `text`: every n-gram (with the byte range from its first
  /// token's start to its last token's end, and `false`), or, for a text of `minTokens` up to
  /// `ngramSize - 1` tokens, the whole text once (`true`).
  func forEachKey(in text: UnsafeBufferPointer<UInt8>, _ body: (UInt64, Range<Int>, Bool) -> Void) {
    let n = ngramSize
    // The last n tokens: hashes and where they start and end.
    var hashes = [UInt64](repeating: 0, count: n)
    var starts = [Int](repeating: 0, count: n)
    var ends = [Int](repeating: 0, count: n)
    var seen = 0
    var rolling: UInt64 = 0
    tokenizer.forEachToken(in: text) { token in
      let slot = seen % n
      if seen < n {
        rolling = rolling &* NGramHasher.base &+ token.hash
      } else {
        rolling = hasher.roll(rolling, removing: hashes[slot], adding: token.hash)
      }
      hashes[slot] = token.hash
      starts[slot] = token.range.lowerBound
      ends[slot] = token.range.upperBound
      seen += 1
      if seen >= n {
        // The oldest token of the window sits in the slot after the newest.
        let first = starts[seen % n]
        body(NGramHasher.key(polynomial: rolling, length: n), first..<token.range.upperBound, false)
      }
    }
    if seen < n, seen >= minTokens {
      // Fewer tokens than an n-gram: the whole text is one key (`rolling` covers all of them).
      body(NGramHasher.key(polynomial: rolling, length: seen), starts[0]..<ends[seen - 1], true)
    }
  }
}

// MARK: - Loading benchmark files

extension DecontaminationIndex {
  /// One benchmark file to index.
  public struct BenchmarkFile: Sendable, Equatable {
    /// The name used in counters, drop details and flags.
    public var name: String
    /// The file path.
    public var path: String

    /// Creates a benchmark file.
    public init(name: String, path: String) {
      self.name = name
      self.path = path
    }

    /// Parses `NAME=PATH`, or a plain `PATH` whose name is the file's base name without
    /// `.jsonl`/`.json` (`data/mmlu.test.jsonl` is `mmlu.test`). A name is letters, digits,
    /// `_`, `-` and `.`; anything else before the first `=` makes the whole string a path.
    public init(parsing spec: String) throws {
      let reference = FileReference(spec)
      path = reference.path
      if let given = reference.name {
        name = given
      } else {
        var base = Substring(spec.split(separator: "/").last ?? Substring(spec))
        for suffix in [".zst", ".gz", ".jsonl", ".ndjson", ".json"] where base.hasSuffix(suffix) {
          base = base.dropLast(suffix.count)
        }
        name = String(base)
      }
      guard !path.isEmpty, !name.isEmpty else {
        throw PipeError(.config, "decontaminate: benchmark \"\(spec)\" has no path; write NAME=PATH or PATH")
      }
    }
  }

  /// Builds an index from benchmark files.
  ///
  /// Each file is JSON Lines (one object per line; blank lines are skipped) or one JSON array
  /// of objects. For every object, each of `fields` that is present is indexed: a top-level key,
  /// or a dotted path into nested objects (`metadata.question`); a string is indexed as is, and
  /// every string inside an array or object (`choices`, `answers.text`) on its own. Paths
  /// arrive resolved by pipeline validation; a relative one (in-memory use) is taken from the
  /// current directory.
  ///
  /// - Throws: `PipeError(.config)` naming the file (and line) when a file is missing,
  ///   unreadable, compressed, not JSON, or has none of the fields.
  public static func load(
    _ files: [BenchmarkFile], fields: [String], ngramSize: Int = 13, minTokens: Int = 8, lowercase: Bool = true
  ) throws -> DecontaminationIndex {
    guard !files.isEmpty else { throw PipeError(.config, "decontaminate: benchmarks is empty; name at least one file") }
    guard !fields.isEmpty else { throw PipeError(.config, "decontaminate: fields is empty; name the fields to index") }
    var index = try DecontaminationIndex(ngramSize: ngramSize, minTokens: minTokens, lowercase: lowercase)
    for file in files {
      let benchmark = try index.addBenchmark(named: file.name)
      try index.addFile(file, fields: fields, benchmark: benchmark)
    }
    return index
  }

  private mutating func addFile(_ file: BenchmarkFile, fields: [String], benchmark: Int) throws {
    let path = file.path
    let bytes: [UInt8]
    do {
      bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      let exists = FileManager.default.fileExists(atPath: path)
      throw PipeError(
        .config,
        exists
          ? "decontaminate: cannot read benchmark \(file.name)"
          : "decontaminate: benchmark file of \(file.name) does not exist",
        file: path)
    }
    if let format = Self.compression(of: bytes) {
      throw PipeError(
        .config,
        "decontaminate: benchmark \(file.name) is \(format)-compressed; decompress it first "
          + "(compressed benchmark files are not supported)", file: path)
    }
    var objects = 0
    var indexed = 0
    func take(_ object: JSONObject) {
      objects += 1
      var any = false
      for field in fields {
        guard let value = Self.lookup(field, in: object) else { continue }
        for text in Self.strings(in: value) where add(text, benchmark: benchmark) { any = true }
      }
      if any { indexed += 1 }
    }

    let firstByte = bytes.first { !Self.isSpace($0) }
    if firstByte == UInt8(ascii: "[") {
      // One JSON array of objects.
      let value: JSONValue
      do {
        value = try JSONValue.parse(bytes)
      } catch {
        throw PipeError(
          .config, "decontaminate: benchmark \(file.name) is not valid JSON: \(error.message)", file: path,
          line: error.line)
      }
      for (position, element) in (value.arrayValue ?? []).enumerated() {
        guard let object = element.objectValue else {
          throw PipeError(
            .config,
            "decontaminate: element \(position) of benchmark \(file.name) is \(element.typeDescription), "
              + "expected an object", file: path)
        }
        take(object)
      }
    } else {
      var lineNumber = 0
      var start = 0
      while start <= bytes.count {
        let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        lineNumber += 1
        var line = Array(bytes[start..<end])
        if line.last == 0x0D { line.removeLast() }
        if lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        start = end + 1
        guard line.contains(where: { !Self.isSpace($0) }) else { continue }
        let value: JSONValue
        do {
          value = try JSONValue.parse(line)
        } catch {
          throw PipeError(
            .config, "decontaminate: line \(lineNumber) of benchmark \(file.name) is not valid JSON: \(error.message)",
            file: path, line: lineNumber)
        }
        guard let object = value.objectValue else {
          throw PipeError(
            .config,
            "decontaminate: line \(lineNumber) of benchmark \(file.name) is \(value.typeDescription), "
              + "expected a JSON object", file: path, line: lineNumber)
        }
        take(object)
      }
    }
    guard indexed > 0 else {
      let what =
        objects == 0
        ? "has no records"
        : "has no record with any of the fields \(fields.joined(separator: ", ")) long enough to index "
          + "(at least \(minTokens) tokens)"
      throw PipeError(.config, "decontaminate: benchmark \(file.name) \(what)", file: path)
    }
  }

  /// The value at `field`: a top-level key, else a dotted path through nested objects.
  static func lookup(_ field: String, in object: JSONObject) -> JSONValue? {
    if let value = object[field] { return value }
    let parts = field.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count > 1 else { return nil }
    var current: JSONValue = .object(object)
    for part in parts {
      guard let next = current.objectValue?[String(part)] else { return nil }
      current = next
    }
    return current
  }

  /// Every string in `value`: itself, or those inside arrays and objects (to a depth of 8).
  static func strings(in value: JSONValue, depth: Int = 0) -> [String] {
    switch value {
    case .string(let text): return [text]
    case .array(let elements) where depth < 8: return elements.flatMap { strings(in: $0, depth: depth + 1) }
    case .object(let object) where depth < 8:
      return object.members.flatMap { strings(in: $0.value, depth: depth + 1) }
    default: return []
    }
  }

  /// The compression format of a file by its magic bytes, or `nil`.
  static func compression(of bytes: [UInt8]) -> String? {
    if bytes.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
    if bytes.starts(with: [0x1F, 0x8B]) { return "gzip" }
    if bytes.starts(with: [0x42, 0x5A, 0x68]) { return "bzip2" }
    if bytes.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
    return nil
  }

  private static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
  }
}
