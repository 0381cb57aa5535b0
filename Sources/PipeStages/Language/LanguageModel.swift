import Foundation
import PipeCore

/// The character n-gram language identifier behind `lang.id@1`.
///
/// A multinomial naive Bayes model over hashed character n-grams (n = 1...4) of lower-cased
/// words padded with one space on each side, built from real text by
/// `Model/make_langid_model.py` (see Model/README.md for the languages, sources and accuracy).
///
/// Scoring, as in the script's `Model.classify_raw`:
/// 1. Words are runs of letters (`isLetter`) after `fold`; each n-gram is hashed (FNV-1a 64
///    over its scalar values read right to left, then a Murmur3-style finalizer) into one of
///    2^bits buckets. `n` counts all n-grams of the text.
/// 2. The dominant script (most letters) selects the candidate languages; a text with no
///    letters, or in a script no language of the model uses, is undetermined.
/// 3. For each candidate `l`: `LL(l) = n * floor(l) + W(l) / scale`, where `W(l)` sums the
///    stored weights of language `l` in the buckets of all n-grams (a weight is
///    `log(P(bucket | l)) - floor(l)` quantized to `1/scale` nats; unstored buckets weigh 0).
/// 4. `score = softmax over candidates of T * LL(l) / max(n, minNgrams)`, evaluated at the
///    winner: the log-likelihood per n-gram, sharpened by the temperature `T` fitted on the dev
///    split, so the score behaves like a probability (0.65 keeps most clean text). Short texts
///    (fewer than `minNgrams` n-grams) are divided by `minNgrams` and so are less sure.
///
/// The model is immutable and shared by every stage in the process (`shared()`).
public final class LanguageModel: Sendable {
  /// The result of classifying a text.
  public struct Prediction: Sendable, Equatable {
    /// The ISO 639-1 code of the most likely language, or `nil` when undetermined (no letters,
    /// or a script the model does not know).
    public var language: String?
    /// The winner's posterior probability among the candidates of its script, 0...1; 0 when
    /// undetermined.
    public var score: Double
  }

  /// The languages, as ISO 639-1 codes, in model order.
  public let languages: [String]
  /// The script id of each language.
  let scripts: [UInt8]
  /// `floor(l)`: the log-probability of an n-gram the language never showed.
  let floors: [Double]
  /// The weights, expanded from the file's sparse entries into one row of `rowStride` bytes
  /// per bucket (`rows[bucket * rowStride + language]`), so a bucket's weights are added with a
  /// few vector operations. 16 MB for 2^18 buckets and up to 64 languages.
  let rows: WeightRows
  /// Languages rounded up to a multiple of 16.
  let rowStride: Int
  let bucketMask: UInt64
  let maxN: Int
  let scale: Double
  let temperature: Double
  let minNgrams: Double
  /// The bucket-counting tables, one per thread at a time, reused from text to text.
  private let tables = ScratchPool { CountingTable() }

  // MARK: - Loading

  /// The environment variable that overrides the model file.
  public static let pathVariable = "PIPE_LANGID_MODEL"
  /// The model's file name in the resource bundle.
  static let resourceName = "langid.bin"

  /// Parses a model file's bytes; `path` only names the file in errors.
  ///
  /// - Throws: `PipeError(.config)` when the bytes are not a valid model.
  public init(bytes: [UInt8], path: String) throws {
    func corrupt(_ why: String) -> PipeError {
      PipeError(
        .config,
        "the language model is corrupt (\(why)); rebuild it with `make langid-model` or point "
          + "\(Self.pathVariable) at a good copy", file: path)
    }
    var reader = ByteReader(bytes: bytes)
    guard bytes.count >= 8 + 20 + 24 + 8, Array(bytes[0..<8]) == Array("PIPELANG".utf8) else {
      throw corrupt("not a lang.id model file")
    }
    reader.offset = 8
    let version = reader.u32()
    let count = Int(reader.u32())
    let bits = Int(reader.u32())
    let maxN = Int(reader.u32())
    let entryCount = Int(reader.u32())
    guard version == 1 else { throw corrupt("format version \(version), expected 1") }
    guard (1...255).contains(count), (8...24).contains(bits), (1...8).contains(maxN) else {
      throw corrupt("bad header")
    }
    let scale = reader.f64()
    let temperature = reader.f64()
    let minNgrams = reader.f64()
    let bucketCount = 1 << bits
    let expected = 8 + 20 + 24 + count * 24 + bucketCount + 2 * entryCount + 8
    guard bytes.count == expected else { throw corrupt("\(bytes.count) bytes, expected \(expected)") }
    guard scale > 0, temperature > 0, minNgrams >= 1 else { throw corrupt("bad scoring constants") }
    let checksumOffset = expected - 8
    var checksumReader = ByteReader(bytes: bytes, offset: checksumOffset)
    let stored = checksumReader.u64()
    let actual = bytes.withUnsafeBufferPointer { Self.fnv1a64(UnsafeBufferPointer(rebasing: $0[0..<checksumOffset])) }
    guard stored == actual else { throw corrupt("checksum mismatch") }

    var languages: [String] = []
    var scripts: [UInt8] = []
    var floors: [Double] = []
    for _ in 0..<count {
      let code = bytes[reader.offset..<(reader.offset + 8)].prefix { $0 != 0 }
      languages.append(String(decoding: code, as: UTF8.self))
      reader.offset += 8
      scripts.append(bytes[reader.offset])
      reader.offset += 8
      floors.append(reader.f64())
    }
    var total = 0
    for bucket in 0..<bucketCount { total += Int(bytes[reader.offset + bucket]) }
    guard total == entryCount else { throw corrupt("bucket sizes add up to \(total), not \(entryCount)") }
    let rowStride = (count + 15) / 16 * 16
    let rows = WeightRows(count: bucketCount * rowStride)
    let languageBase = reader.offset + bucketCount
    let weightBase = languageBase + entryCount
    var index = 0
    for bucket in 0..<bucketCount {
      for _ in 0..<Int(bytes[reader.offset + bucket]) {
        let language = Int(bytes[languageBase + index])
        guard language < count else { throw corrupt("entry \(index) names language \(language)") }
        rows.base.storeBytes(of: bytes[weightBase + index], toByteOffset: bucket * rowStride + language, as: UInt8.self)
        index += 1
      }
    }

    self.languages = languages
    self.scripts = scripts
    self.floors = floors
    self.rows = rows
    self.rowStride = rowStride
    self.bucketMask = UInt64(bucketCount - 1)
    self.maxN = maxN
    self.scale = scale
    self.temperature = temperature
    self.minNgrams = minNgrams
  }

  /// Loads a model file.
  ///
  /// - Throws: `PipeError(.config)` naming `path` when it is missing, unreadable or corrupt.
  public static func load(path: String) throws -> LanguageModel {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw PipeError(
        .config, "cannot read the language model; build it with `make langid-model` or set \(pathVariable)",
        file: path)
    }
    return try LanguageModel(bytes: [UInt8](data), path: path)
  }

  /// The model shipped with `pipe`, or the file named by `PIPE_LANGID_MODEL`; loaded once per
  /// process, on first use.
  ///
  /// - Throws: `PipeError(.config)` when the file is missing or corrupt (every call throws the
  ///   same error).
  public static func shared() throws -> LanguageModel {
    try sharedResult.get()
  }

  /// Loaded lazily; Swift initializes a static once, thread-safely.
  private static let sharedResult: Result<LanguageModel, PipeError> = {
    do {
      if let path = try locate() { return .success(try load(path: path)) }
      // `make dist` appends the model to the binary, so that one file runs on a cluster node.
      if let bytes = EmbeddedFiles.read(resourceName) {
        return .success(try LanguageModel(bytes: bytes, path: "\(resourceName) embedded in the pipe binary"))
      }
      return .success(try load(path: try defaultPath()))
    } catch let error as PipeError {
      return .failure(error)
    } catch {
      return .failure(PipeError(.config, "cannot load the language model: \(error)"))
    }
  }()

  /// `PIPE_LANGID_MODEL`, else `langid.bin` in the resource bundle SwiftPM builds for
  /// PipeStages (`<package>_PipeStages.resources`, beside the executable).
  ///
  /// The bundle is looked up by hand rather than through `Bundle.module`, whose accessor stops
  /// the process with `fatalError` when the bundle is missing (a binary copied without it);
  /// here that is a config error telling the user what to set.
  static func defaultPath() throws -> String {
    if let path = try locate() { return path }
    throw PipeError(
      .config,
      "cannot find the language model: no *_PipeStages.resources/\(resourceName) beside the executable "
        + "(\(Bundle.main.bundleURL.path)) nor embedded in it (make dist); set \(pathVariable) to the path of "
        + "langid.bin")
  }

  /// `PIPE_LANGID_MODEL`, else the model in the resource bundle, else nil.
  private static func locate() throws -> String? {
    if let path = ProcessInfo.processInfo.environment[pathVariable], !path.isEmpty {
      return path
    }
    var folders = [Bundle.main.bundleURL]
    if let resources = Bundle.main.resourceURL { folders.append(resources) }
    let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    folders.append(executable)
    let fileManager = FileManager.default
    for folder in folders {
      let names = (try? fileManager.contentsOfDirectory(atPath: folder.path)) ?? []
      for name in names.sorted() where name.hasSuffix("_PipeStages.resources") {
        let candidate = folder.appendingPathComponent(name).appendingPathComponent(resourceName).path
        if fileManager.fileExists(atPath: candidate) { return candidate }
      }
    }
    return nil
  }

  // MARK: - Classifying

  /// How `classify` reads a text: lang.id@1 reads every word of the first `maxChars`
  /// scalars; lang.id@2 reads only the words of the text's dominant script and stops once
  /// its decision is clear.
  public struct Reading: Sendable, Equatable {
    /// Letters of other scripts than the dominant one are word breaks, so a Chinese
    /// paragraph that quotes commands and paths is decided by its Chinese alone.
    public var dominantScriptOnly: Bool
    /// Stop reading once the best language leads the second by this many nats of
    /// log-likelihood (checked every `chunk` n-grams); `nil` reads to the end.
    public var stopMargin: Double?
    /// N-grams between two checks.
    public var chunk: Int

    /// Creates a reading.
    public init(dominantScriptOnly: Bool, stopMargin: Double?, chunk: Int = 64) {
      self.dominantScriptOnly = dominantScriptOnly
      self.stopMargin = stopMargin
      self.chunk = max(1, chunk)
    }

    /// lang.id@1: the whole text (up to `maxChars`), every script.
    public static let version1 = Reading(dominantScriptOnly: false, stopMargin: nil, chunk: .max)
  }

  /// Classifies a text given as UTF-8 bytes, looking at its first `maxChars` scalars.
  public func classify(
    _ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int = 10_000, reading: Reading = .version1
  ) -> Prediction {
    let languageCount = languages.count
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: languageCount + Script.count) { buffer in
      guard let sums = buffer.baseAddress else { return Prediction(language: nil, score: 0) }
      let scriptCounts = sums + languageCount
      sums.initialize(repeating: 0, count: languageCount + Script.count)
      let ngrams = accumulate(bytes, maxChars: maxChars, sums: sums, scriptCounts: scriptCounts, reading: reading)
      var dominant = Script.other
      var best = 0
      for script in 1..<Script.count where scriptCounts[script] > best {
        best = scriptCounts[script]
        dominant = UInt8(script)
      }
      return score(ngrams: ngrams, script: dominant, sums: sums)
    }
  }

  /// Classifies `text`, looking at its first `maxChars` scalars.
  public func classify(_ text: String, maxChars: Int = 10_000, reading: Reading = .version1) -> Prediction {
    var text = text
    return text.withUTF8 { classify($0, maxChars: maxChars, reading: reading) }
  }

  /// Steps 3 and 4 of the type's documentation.
  private func score(ngrams: Int, script: UInt8, sums: UnsafeMutablePointer<Int>) -> Prediction {
    guard ngrams > 0, script != Script.other else { return Prediction(language: nil, score: 0) }
    let norm = temperature / max(Double(ngrams), minNgrams)
    var z: [(language: Int, value: Double)] = []
    for language in 0..<languages.count where scripts[language] == script {
      z.append((language, (Double(ngrams) * floors[language] + Double(sums[language]) / scale) * norm))
    }
    guard !z.isEmpty else { return Prediction(language: nil, score: 0) }
    var winner = 0
    for index in 1..<z.count where z[index].value > z[winner].value { winner = index }
    var total = 0.0
    for candidate in z { total += exp(candidate.value - z[winner].value) }
    return Prediction(language: languages[z[winner].language], score: 1.0 / total)
  }

  /// Steps 1 and 2: adds the weights of every n-gram to `sums`, counts letters per script in
  /// `scriptCounts`, and returns the number of n-grams.
  ///
  /// Two passes, for speed: the first counts how often each bucket occurs, in an array of one
  /// count per bucket kept from text to text (a word's last `maxN - 1` scalars live in a stack
  /// buffer and each n-gram's hash extends the previous one, so nothing is allocated per
  /// n-gram); the second adds `count * row` once per distinct bucket, 16 languages per vector
  /// operation, and sets the count back to zero for the next text.
  private func accumulate(
    _ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int, sums: UnsafeMutablePointer<Int>,
    scriptCounts: UnsafeMutablePointer<Int>, reading: Reading = .version1
  ) -> Int {
    // At most maxN n-grams per letter and maxN - 1 per word end (a word is a letter or more and
    // a separator), and never more distinct ones than buckets.
    let scalarLimit = min(bytes.count, maxChars)
    let ngramLimit = maxN * scalarLimit + (maxN - 1) * (scalarLimit / 2 + 1)
    let distinctLimit = min(ngramLimit, Int(bucketMask) + 1)
    return tables.with { table in
      // One more than can be used: the first pass writes a bucket there before knowing it is new.
      table.reserve(buckets: Int(bucketMask) + 1, touched: distinctLimit + 1)
      if reading == .version1 {
        return accumulate(
          bytes, maxChars: maxChars, counts: table.counts, touched: table.touched, sums: sums,
          scriptCounts: scriptCounts)
      }
      return accumulateInChunks(
        bytes, maxChars: maxChars, counts: table.counts, touched: table.touched, sums: sums,
        scriptCounts: scriptCounts, reading: reading)
    }
  }

  /// lang.id@2's reading: words of the dominant script only (when asked), in chunks of
  /// `Reading.chunk` n-grams, stopping once the leader is ahead by `stopMargin` nats.
  private func accumulateInChunks(
    _ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int, counts: UnsafeMutablePointer<UInt32>,
    touched: UnsafeMutablePointer<UInt32>, sums: UnsafeMutablePointer<Int>, scriptCounts: UnsafeMutablePointer<Int>,
    reading: Reading
  ) -> Int {
    var onlyScript = Self.anyScript
    if reading.dominantScriptOnly {
      onlyScript = Self.dominantScript(bytes, maxChars: maxChars)
      guard onlyScript != Script.other else { return 0 }
    }
    var state = ScanState()
    var ngrams = 0
    var stopMargin = reading.stopMargin
    while true {
      var touchedCount = 0
      ngrams += countBuckets(
        bytes, maxChars: maxChars, counts: counts, touched: touched, touchedCount: &touchedCount,
        scriptCounts: scriptCounts, state: &state, ngramLimit: reading.chunk, onlyScript: onlyScript)
      addRows(counts: counts, touched: touched, touchedCount: touchedCount, sums: sums)
      if state.finished { break }
      guard let margin = stopMargin else { continue }
      var script = onlyScript
      if script == Self.anyScript {
        var best = 0
        script = Script.other
        for candidate in 1..<Script.count where scriptCounts[candidate] > best {
          best = scriptCounts[candidate]
          script = UInt8(candidate)
        }
      }
      guard leaders(ngrams: ngrams, script: script, sums: sums).lead >= margin else { continue }
      // Sure on what was read. When much of a long text is still unread, ask its middle too,
      // so that a header in another language (an English NAME section above a German man
      // page) does not decide alone: the same winner there stops the reading (its n-grams
      // count); another winner reads the whole text, as version 1 does. A paragraph (a few
      // kilobytes) is decided by its beginning.
      let window = min(bytes.count, maxChars)
      let unread = window - state.position
      guard unread > state.position && unread > Self.probeAfter else { break }
      let agreed = probe(
        bytes, from: (state.position + window) / 2, maxChars: maxChars, counts: counts, touched: touched,
        script: script, onlyScript: onlyScript, chunk: 2 * reading.chunk, sums: sums, ngrams: &ngrams)
      if agreed { break }
      stopMargin = nil
    }
    return ngrams
  }

  /// Unread bytes beyond which lang.id@2 checks the middle of a text before stopping.
  static let probeAfter = 4096

  /// Reads up to `chunk` n-grams from a word boundary at or after byte `start`, into sums of
  /// their own; when their best language of `script` is the best of `sums` too, adds them to
  /// `sums` and `ngrams` and returns true.
  private func probe(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, maxChars: Int, counts: UnsafeMutablePointer<UInt32>,
    touched: UnsafeMutablePointer<UInt32>, script: UInt8, onlyScript: UInt8, chunk: Int,
    sums: UnsafeMutablePointer<Int>, ngrams: inout Int
  ) -> Bool {
    // To the start of a word: past continuation bytes, then past the word under way.
    var position = start
    while position < bytes.count && bytes[position] & 0xC0 == 0x80 { position += 1 }
    while position < bytes.count && position < start + 64 && bytes[position] > 0x20 { position += 1 }
    let languageCount = languages.count
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: languageCount + Script.count) { buffer in
      guard let probeSums = buffer.baseAddress else { return false }
      probeSums.initialize(repeating: 0, count: languageCount + Script.count)
      // Scalars are counted from the byte position, which is at least the scalars before it:
      // the probe never reads past maxChars.
      var state = ScanState(position: position, scalars: position)
      var touchedCount = 0
      let probed = countBuckets(
        bytes, maxChars: maxChars, counts: counts, touched: touched, touchedCount: &touchedCount,
        scriptCounts: probeSums + languageCount, state: &state, ngramLimit: chunk, onlyScript: onlyScript)
      addRows(counts: counts, touched: touched, touchedCount: touchedCount, sums: probeSums)
      guard probed > 0,
        leaders(ngrams: probed, script: script, sums: probeSums).winner
          == leaders(ngrams: ngrams, script: script, sums: sums).winner
      else { return false }
      for language in 0..<languageCount { sums[language] += probeSums[language] }
      ngrams += probed
      return true
    }
  }

  /// The language of `script` with the highest log-likelihood (-1 when the script has none;
  /// the first among equals), and how many nats it leads the second by (infinity when the
  /// script has one language).
  private func leaders(ngrams: Int, script: UInt8, sums: UnsafeMutablePointer<Int>) -> (winner: Int, lead: Double) {
    var winner = -1
    var first = -Double.infinity
    var second = -Double.infinity
    for language in 0..<languages.count where scripts[language] == script {
      let value = Double(ngrams) * floors[language] + Double(sums[language]) / scale
      if value > first {
        second = first
        first = value
        winner = language
      } else if value > second {
        second = value
      }
    }
    return (winner, first - second)
  }

  /// What a letter of each script weighs when the dominant script is chosen (lang.id@2): a Han
  /// or kana character three Latin letters, a Hangul syllable two, as Chinese and Japanese
  /// text is about a third as long as its English translation. So a Chinese paragraph that
  /// quotes commands, paths and options is decided by its Chinese.
  static let letterWeights: [Int] = (0..<Script.count).map { script in
    switch script {
    case 24: return 3
    case 21: return 2
    default: return 1
    }
  }
  static let heaviestLetter = letterWeights.max() ?? 1

  /// The script of each scalar of the Basic Multilingual Plane that is a letter once folded,
  /// `Script.other` for the others (whose count is never read).
  static let letterScripts: [UInt8] = (0..<0x1_0000).map { value -> UInt8 in
    let folded = fold(UInt32(value))
    return isLetter(folded) ? script(of: folded) : Script.other
  }

  /// The script with the most letters among the first `maxChars` scalars, each weighed by
  /// `letterWeights` (`Script.other` when there is no letter); ties go to the lower script id,
  /// as in `classify`.
  static func dominantScript(_ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int) -> UInt8 {
    guard let base = bytes.baseAddress else { return Script.other }
    let scriptTable = letterScripts
    let weightTable = letterWeights
    return scriptTable.withUnsafeBufferPointer { scripts in
      weightTable.withUnsafeBufferPointer { weights in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Script.count) { buffer -> UInt8 in
          guard let counts = buffer.baseAddress else { return Script.other }
          counts.initialize(repeating: 0, count: Script.count)
          var position = 0
          var scalars = 0
          let count = bytes.count
          var nextCheck = 256
          while position < count && scalars < maxChars {
            // Stop once the leader cannot be caught: the rest of the text weighs less than its
            // lead (a letter weighs at most one per UTF-8 byte, as the heavy ones take three
            // bytes, and at most `heaviestLetter` per scalar up to maxChars).
            if scalars >= nextCheck {
              nextCheck = scalars + 256
              var first = 0
              var second = 0
              for script in 1..<Script.count {
                let value = counts[script]
                if value > first {
                  second = first
                  first = value
                } else if value > second {
                  second = value
                }
              }
              if first - second > min(count - position, heaviestLetter * (maxChars - scalars)) { break }
            }
            // Eight ASCII bytes at a time: count their letters (Latin letters weigh one).
            if position + 8 <= count && scalars + 8 <= maxChars {
              let word = UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)
              if word & 0x8080_8080_8080_8080 == 0 {
                let folded = word | 0x2020_2020_2020_2020
                let atLeastA = (folded &+ 0x1F1F_1F1F_1F1F_1F1F) & 0x8080_8080_8080_8080
                let pastZ = (folded &+ 0x0505_0505_0505_0505) & 0x8080_8080_8080_8080
                counts[Int(Script.latin)] += (atLeastA & ~pastZ).nonzeroBitCount
                position += 8
                scalars += 8
                continue
              }
            }
            let byte = base[position]
            scalars += 1
            if byte < 0x80 {
              position += 1
              if (byte | 0x20) &- 0x61 < 26 { counts[Int(Script.latin)] += 1 }
              continue
            }
            let value: UInt32
            if byte & 0xE0 == 0xC0 && position + 1 < count {
              // Two bytes (Latin beyond ASCII, Greek, Cyrillic, Hebrew, Arabic...), inline.
              value = UInt32(byte & 0x1F) << 6 | UInt32(base[position + 1] & 0x3F)
              position += 2
            } else {
              let decoded = UTF8Scanning.decode(bytes, at: position)
              position += decoded.length
              value = decoded.value
            }
            var script = Script.other
            if value < 0x1_0000 {
              script = scripts[Int(value)]
            } else {
              let folded = fold(value)
              if isLetter(folded) { script = Self.script(of: folded) }
            }
            if script != Script.other { counts[Int(script)] += weights[Int(script)] }
          }
          var best = 0
          var dominant = Script.other
          for script in 1..<Script.count where counts[script] > best {
            best = counts[script]
            dominant = UInt8(script)
          }
          return dominant
        }
      }
    }
  }

  /// `accumulate` with the counting table's arrays.
  private func accumulate(
    _ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int, counts: UnsafeMutablePointer<UInt32>,
    touched: UnsafeMutablePointer<UInt32>, sums: UnsafeMutablePointer<Int>, scriptCounts: UnsafeMutablePointer<Int>
  ) -> Int {
    // `touched` holds the distinct buckets, in order of first use.
    var touchedCount = 0
    var state = ScanState()
    let ngrams = countBuckets(
      bytes, maxChars: maxChars, counts: counts, touched: touched, touchedCount: &touchedCount,
      scriptCounts: scriptCounts, state: &state)
    addRows(counts: counts, touched: touched, touchedCount: touchedCount, sums: sums)
    return ngrams
  }

  /// The second pass: adds `count * row` to `sums` for each of the first `touchedCount`
  /// buckets of `touched`, and sets their counts back to zero.
  private func addRows(
    counts: UnsafeMutablePointer<UInt32>, touched: UnsafeMutablePointer<UInt32>, touchedCount: Int,
    sums: UnsafeMutablePointer<Int>
  ) {
    let lanes = rowStride / 16
    withUnsafeTemporaryAllocation(of: SIMD16<UInt32>.self, capacity: lanes) { laneBuffer in
      guard let vectors = laneBuffer.baseAddress else { return }
      vectors.initialize(repeating: .zero, count: lanes)
      // UInt32 lanes cannot overflow while fewer than 2^32 / 255 n-grams are added; flush
      // into `sums` before that.
      let flushLimit = Int(UInt32.max) / 255
      var pending = 0
      func flush() {
        for lane in 0..<lanes {
          for offset in 0..<16 where lane * 16 + offset < languages.count {
            sums[lane * 16 + offset] &+= Int(vectors[lane][offset])
          }
          vectors[lane] = .zero
        }
        pending = 0
      }
      do {
        let rowBase = UnsafeRawPointer(rows.base)
        for index in 0..<touchedCount {
          let bucket = Int(truncatingIfNeeded: touched[index])
          let count = Int(truncatingIfNeeded: counts[bucket])
          counts[bucket] = 0
          if pending + count > flushLimit { flush() }
          pending += count
          let row = rowBase + bucket * rowStride
          if count == 1 {
            // Most distinct n-grams of a text occur once; skip the multiplication, which
            // baseline x86-64 (SSE2) has no single instruction for on 32-bit lanes.
            for lane in 0..<lanes {
              let weights = row.loadUnaligned(fromByteOffset: lane * 16, as: SIMD16<UInt8>.self)
              vectors[lane] &+= SIMD16<UInt32>(truncatingIfNeeded: weights)
            }
          } else if count <= 257 {
            // 255 * 257 fits 16 bits, and 16-bit lanes multiply in one instruction.
            let factor = SIMD16<UInt16>(repeating: UInt16(truncatingIfNeeded: count))
            for lane in 0..<lanes {
              let weights = row.loadUnaligned(fromByteOffset: lane * 16, as: SIMD16<UInt8>.self)
              vectors[lane] &+= SIMD16<UInt32>(
                truncatingIfNeeded: SIMD16<UInt16>(truncatingIfNeeded: weights) &* factor)
            }
          } else {
            let factor = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: count))
            for lane in 0..<lanes {
              let weights = row.loadUnaligned(fromByteOffset: lane * 16, as: SIMD16<UInt8>.self)
              vectors[lane] &+= SIMD16<UInt32>(truncatingIfNeeded: weights) &* factor
            }
          }
        }
      }
      flush()
    }
  }

  /// Where the first pass stopped in a text, so that it can go on (lang.id@2 reads a text in
  /// chunks and stops once it is sure).
  struct ScanState {
    var position = 0
    var scalars = 0
    var inWord = false
    var historyCount = 0
    /// history[0] is the previous scalar of the padded word, history[1] the one before...
    var history = SIMD8<UInt32>()
    /// True once the text (or its first `maxChars` scalars) is read to the end.
    var finished = false
  }

  /// Letters of every script count (lang.id@1).
  static let anyScript: UInt8 = 0xFF

  /// The first pass of `accumulate`: words, n-grams, buckets, counted in `counts`; each bucket
  /// seen for the first time is appended to `touched`. Reads from `state` until `ngramLimit`
  /// n-grams are counted (then stops after the current scalar) or the text ends. With
  /// `onlyScript`, letters of other scripts are word breaks (lang.id@2).
  private func countBuckets(
    _ bytes: UnsafeBufferPointer<UInt8>, maxChars: Int, counts: UnsafeMutablePointer<UInt32>,
    touched: UnsafeMutablePointer<UInt32>, touchedCount: inout Int, scriptCounts: UnsafeMutablePointer<Int>,
    state: inout ScanState, ngramLimit: Int = .max, onlyScript: UInt8 = LanguageModel.anyScript
  ) -> Int {
    let space: UInt32 = 0x20
    let historySize = maxN - 1
    var history = state.history
    var historyCount = state.historyCount
    var inWord = state.inWord
    var ngrams = 0
    // Counted in a local, not in `touchedCount`: stores through `counts` and `touched` might
    // alias an inout, which kept it in memory, loaded and stored again for every n-gram.
    var found = touchedCount
    let bucketMask = self.bucketMask
    let maxN = self.maxN

    @inline(__always) func add(_ hash: UInt64) {
      var h = hash
      h ^= h >> 33
      h = h &* 0xFF51_AFD7_ED55_8CCD
      h ^= h >> 33
      let bucket = Int(truncatingIfNeeded: h & bucketMask)
      let count = counts[bucket]
      counts[bucket] = count &+ 1
      // Written always, kept only when new: no branch to mispredict on about half the n-grams.
      touched[found] = UInt32(truncatingIfNeeded: bucket)
      found &+= count == 0 ? 1 : 0
      ngrams &+= 1
    }

    @inline(__always) func emit(_ cp: UInt32) {
      var hash: UInt64 = 0xCBF2_9CE4_8422_2325
      hash = (hash ^ UInt64(cp)) &* 0x0000_0100_0000_01B3
      if cp != space { add(hash) }
      var length = 1
      while length < maxN && length <= historyCount {
        hash = (hash ^ UInt64(history[length - 1])) &* 0x0000_0100_0000_01B3
        add(hash)
        length += 1
      }
    }

    @inline(__always) func push(_ cp: UInt32) {
      guard historySize > 0 else { return }
      var index = min(historyCount, historySize - 1)
      while index > 0 {
        history[index] = history[index - 1]
        index -= 1
      }
      history[0] = cp
      historyCount = min(historyCount + 1, historySize)
    }

    var position = state.position
    var scalars = state.scalars
    let count = bytes.count
    while position < count && scalars < maxChars && ngrams < ngramLimit {
      var cp: UInt32
      let script: UInt8
      let byte = bytes[position]
      scalars &+= 1
      if byte < 0x80 {
        // ASCII fast path: the same answers as fold, isLetter and script(of:).
        position += 1
        let lower = byte | 0x20
        if lower &- 0x61 < 26 {
          cp = UInt32(lower)
          script = Script.latin
        } else {
          cp = 0
          script = Script.other
        }
      } else {
        let decoded = UTF8Scanning.decode(bytes, at: position)
        position += decoded.length
        let folded = Self.fold(decoded.value)
        if Self.isLetter(folded) {
          cp = folded
          script = Self.script(of: folded)
        } else {
          cp = 0
          script = Script.other
        }
      }
      if cp != 0 && onlyScript != Self.anyScript && script != onlyScript { cp = 0 }
      if cp != 0 {
        if !inWord {
          inWord = true
          historyCount = 0
          push(space)
        }
        scriptCounts[Int(script)] += 1
        emit(cp)
        push(cp)
      } else if inWord {
        emit(space)
        inWord = false
      }
    }
    let finished = !(position < count && scalars < maxChars)
    if finished && inWord {
      emit(space)
      inWord = false
    }
    state = ScanState(
      position: position, scalars: scalars, inWord: inWord, historyCount: historyCount, history: history,
      finished: finished)
    touchedCount = found
    return ngrams
  }

  // MARK: - Helpers

  /// FNV-1a 64 of `bytes` (the model file's checksum).
  static func fnv1a64(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
  }

  /// Little-endian reads from the model file; bounds are checked once, by size, beforehand.
  private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u32() -> UInt32 {
      var value: UInt32 = 0
      for index in 0..<4 { value |= UInt32(bytes[offset + index]) << (8 * index) }
      offset += 4
      return value
    }

    mutating func u64() -> UInt64 {
      var value: UInt64 = 0
      for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * index) }
      offset += 8
      return value
    }

    mutating func f64() -> Double { Double(bitPattern: u64()) }
  }
}

/// The per-bucket counts of `LanguageModel.accumulate`'s first pass, kept between texts.
///
/// A table allocated and zeroed per text cost a `memset` of its whole size per document; the
/// kept array is all zeros between uses because the second pass zeroes the counts it reads, and
/// indexing it by bucket needs no probing (22% less time deciding than an open-addressing
/// table, with the changes of the same commit, on the 200,000-document bench corpus).
/// One `UInt32` per bucket is a quarter of the model's own rows (16 or more bytes per bucket).
final class CountingTable {
  private(set) var counts: UnsafeMutablePointer<UInt32>
  private(set) var touched: UnsafeMutablePointer<UInt32>
  private var bucketCapacity = 0
  private var touchedCapacity = 0

  init() {
    counts = Self.zeroed(1)
    touched = Self.zeroed(1)
  }

  deinit {
    free(counts)
    free(touched)
  }

  /// Makes room for `buckets` counts and `touched` bucket numbers; the counts stay zero.
  func reserve(buckets: Int, touched touchedCount: Int) {
    if buckets > bucketCapacity {
      free(counts)
      counts = Self.zeroed(buckets)
      bucketCapacity = buckets
    }
    if touchedCount > touchedCapacity {
      free(touched)
      touched = Self.zeroed(touchedCount)
      touchedCapacity = touchedCount
    }
  }

  private static func zeroed<Element>(_ count: Int) -> UnsafeMutablePointer<Element> {
    guard let raw = calloc(max(1, count), MemoryLayout<Element>.stride) else {
      fatalError("out of memory for lang.id's counting table (\(count) elements)")
    }
    return raw.bindMemory(to: Element.self, capacity: max(1, count))
  }
}

/// The model's weight rows: one block of memory, on 2 MB pages where the kernel allows.
///
/// Classifying reads a row at a random place in the table (16 MB for the bundled model) for each distinct n-gram of a
/// text; on 4 KB pages most of those reads also missed the TLB. Transparent huge pages are
/// asked for with `madvise`, as most distributions' default ("madvise") requires; where they
/// are off the block is ordinary memory and only slower.
final class WeightRows: @unchecked Sendable {
  /// The first byte; the block is zeroed at creation and written only while loading.
  let base: UnsafeMutableRawPointer
  let count: Int

  init(count: Int) {
    let hugePage = 2 << 20
    let size = max(1, count)
    var pointer: UnsafeMutableRawPointer? = nil
    if size >= hugePage, posix_memalign(&pointer, hugePage, size) == 0, let pointer {
      _ = madvise(pointer, size, Int32(MADV_HUGEPAGE))
      base = pointer
    } else if let block = malloc(size) {
      base = block
    } else {
      fatalError("out of memory for the language model's \(size) bytes of weights")
    }
    memset(base, 0, size)
    self.count = size
  }

  deinit {
    free(base)
  }
}
