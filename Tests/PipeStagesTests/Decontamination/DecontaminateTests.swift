import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// A temporary folder for one test, removed when the test ends.
private final class TemporaryFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("decontaminate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  /// Writes `text` to `name` and returns the path.
  func write(_ name: String, _ text: String) throws -> String {
    let file = url.appendingPathComponent(name)
    try Data(text.utf8).write(to: file)
    return file.path
  }

  /// Writes JSON Lines made of `objects`.
  func writeJSONL(_ name: String, _ objects: [JSONObject]) throws -> String {
    try write(name, objects.map { JSONValue.object($0).jsonText }.joined(separator: "\n") + "\n")
  }
}

private let mathQuestion =
  "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
  + "How many clips did Natalia sell altogether in April and May?"
private let scienceQuestion =
  "Which of the following statements best explains why the surface of a frozen lake stays solid "
  + "while the water underneath remains liquid during a long winter?"
private let shortQuestion = "What is the boiling point of water at sea level?"  // 9 tokens

private let filler =
  "The committee met on Tuesday to review the budget for the coming year and to plan the spring "
  + "festival, which will take place in the old market square as usual. "

@Suite struct DecontaminateTests {
  /// Two benchmarks: `gsm` (question/answer layout) and `arc` (question + choices).
  private func makeStage(
    action: Decontaminate.Action = .drop, minMatches: Int = 1, ngrams: Int = 13, folder: TemporaryFolder
  ) throws -> Decontaminate {
    let gsm = try folder.writeJSONL(
      "gsm8k.jsonl",
      [
        ["question": .string(mathQuestion), "answer": .string("72")],
        ["question": .string(shortQuestion), "answer": .string("100 degrees Celsius")],
      ])
    let arc = try folder.writeJSONL(
      "arc.jsonl",
      [["question": .string(scienceQuestion), "choices": .array([.string("Ice floats"), .string("Wind")])]])
    let index = try DecontaminationIndex.load(
      [.init(name: "gsm8k", path: gsm), .init(name: "arc", path: arc)], fields: Decontaminate.defaultFields,
      ngramSize: ngrams)
    return try Decontaminate(index: index, action: action, minMatches: minMatches)
  }

  private func run(
    _ stage: Decontaminate, _ text: String, counters: StageCounters = StageCounters()
  ) throws -> (Verdict, Record) {
    var record = makeRecord(text)
    let context = StageContext(stageID: "decon", seed: 1, shardIndex: 0, counters: counters)
    let verdict = try stage.process(&record, context: context)
    return (verdict, record)
  }

  // MARK: - Verdicts

  @Test func copiedQuestionInsideALongDocumentIsDropped() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    let document = String(repeating: filler, count: 20) + mathQuestion + " " + String(repeating: filler, count: 20)
    let (verdict, _) = try run(stage, document)
    guard case .drop(let reason, let detail) = verdict else {
      Issue.record("expected a drop, got \(verdict)")
      return
    }
    #expect(reason == "contaminated")
    // 31 tokens of question give 19 overlapping 13-grams.
    #expect(
      detail?.hasPrefix("gsm8k: 19 matching 13-grams, first \"Natalia sold clips to 48") == true, "\(detail ?? "")")
  }

  @Test func normalizationIgnoresCasePunctuationAndSpacing() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    let shouted = "NATALIA -- sold   clips to 48 of her friends, in April; and then she SOLD half as many clips!!"
    #expect(try run(stage, filler + shouted).0 != .keep)
  }

  @Test func paraphraseSharingFewerThanNTokensIsKept() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    // At most 11 consecutive tokens in common with the benchmark question.
    let paraphrase =
      "Natalia sold clips to 48 of her friends in April, and later she sold some more. "
      + "In May she sold half as many clips as in April; how many did she sell in both months?"
    #expect(try run(stage, filler + paraphrase + filler).0 == .keep)
    #expect(try run(stage, String(repeating: filler, count: 50)).0 == .keep)
  }

  @Test func flagModeKeepsAndWritesMetadata() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(action: .flag, folder: folder)
    let (verdict, record) = try run(stage, filler + scienceQuestion)
    #expect(verdict == .keep)
    let flag = try #require(record.metadata("contamination")?.objectValue)
    #expect(flag["benchmark"] == .string("arc"))
    #expect(flag["matches"] == .int(14))  // 26 tokens: 14 windows
    #expect(flag["ngram"] == .string("Which of the following statements best explains why the surface of a frozen"))
    let (clean, untouched) = try run(stage, filler)
    #expect(clean == .keep)
    #expect(!untouched.isModified)
  }

  @Test func countersArePerBenchmark() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    let counters = StageCounters()
    _ = try run(stage, filler + mathQuestion, counters: counters)
    _ = try run(stage, mathQuestion + " " + scienceQuestion, counters: counters)
    _ = try run(stage, filler, counters: counters)
    #expect(counters.values == ["contaminated": 2, "hits.gsm8k": 2, "hits.arc": 1])
  }

  @Test func theBenchmarkWithMoreMatchesIsNamedAndOthersListed() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    // 19 gsm8k matches, 14 arc matches.
    let (verdict, _) = try run(stage, mathQuestion + " " + scienceQuestion)
    guard case .drop(_, let detail) = verdict else {
      Issue.record("expected a drop")
      return
    }
    #expect(detail?.hasPrefix("gsm8k: 19 matching") == true)
    #expect(detail?.hasSuffix("; arc: 14") == true, "\(detail ?? "")")
  }

  @Test func minMatchesRaisesTheBar() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(minMatches: 5, folder: folder)
    let words = mathQuestion.split(separator: " ")
    let fourteen = words.prefix(14).joined(separator: " ")  // 2 matching 13-grams
    let seventeen = words.prefix(17).joined(separator: " ")  // 5 matching 13-grams
    #expect(try run(stage, filler + fourteen + " zebra").0 == .keep)
    #expect(try run(stage, filler + seventeen + " zebra").0 != .keep)
  }

  @Test func shortRecordsAreComparedWhole() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    let (verdict, _) = try run(stage, "what is the BOILING point of water at sea level")
    #expect(
      verdict
        == .drop(
          reason: "contaminated",
          detail: #"gsm8k: whole text matches ("what is the BOILING point of water at sea level")"#))
    // Not a whole-text match: one token more, or one less.
    #expect(try run(stage, "So, what is the boiling point of water at sea level?").0 == .keep)
    #expect(try run(stage, "the boiling point of water at sea level").0 == .keep)
    // A short question inside a long document is not found: it has no 13-gram (documented).
    #expect(try run(stage, filler + shortQuestion + " " + filler).0 == .keep)
  }

  @Test func emptyAndTinyTextsAreKept() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    for text in ["", "   ", "Natalia", "?!...", "72"] {
      #expect(try run(stage, text).0 == .keep, "\(text.debugDescription)")
    }
  }

  @Test func cjkCharactersAreTokens() throws {
    let folder = try TemporaryFolder()
    let question = "小明有十二个苹果，他给了小红三个，又买了五个。请问小明现在一共有多少个苹果？"
    let path = try folder.writeJSONL("cmath.jsonl", [["problem": .string(question)]])
    let index = try DecontaminationIndex.load([.init(name: "cmath", path: path)], fields: ["problem"])
    let stage = try Decontaminate(index: index)
    // The question with other punctuation, inside a Chinese document.
    let document = "今天的数学作业如下：小明有十二个苹果 他给了小红三个 又买了五个。老师说明天检查。"
    let (verdict, _) = try run(stage, document)
    guard case .drop(_, let detail) = verdict else {
      Issue.record("expected a drop, got \(verdict)")
      return
    }
    // 20 characters in common: 8 matching 13-grams.
    #expect(detail == #"cmath: 8 matching 13-grams, first "小明有十二个苹果 他给了小红""#)
    #expect(try run(stage, "小明有十二个梨，他给了小红三个。").0 == .keep)
  }

  @Test func caseSensitiveIndexWhenAsked() throws {
    let folder = try TemporaryFolder()
    let path = try folder.writeJSONL("b.jsonl", [["text": .string(mathQuestion)]])
    let index = try DecontaminationIndex.load([.init(name: "b", path: path)], fields: ["text"], lowercase: false)
    let stage = try Decontaminate(index: index)
    #expect(try run(stage, mathQuestion).0 != .keep)
    #expect(try run(stage, mathQuestion.uppercased()).0 == .keep)
  }

  @Test func enormousLineFinishesFast() throws {
    let folder = try TemporaryFolder()
    let stage = try makeStage(folder: folder)
    var text = String(repeating: filler, count: 10 * 1024 * 1024 / filler.utf8.count)
    text += mathQuestion
    #expect(text.utf8.count >= 10_000_000)
    let clock = ContinuousClock()
    var verdict = Verdict.keep
    let elapsed = try clock.measure { verdict = try run(stage, text).0 }
    #expect(verdict != .keep)
    // About 1.9 million tokens: linear time, seconds even in a debug build.
    #expect(elapsed < .seconds(30), "took \(elapsed)")
    // One enormous token (no separators) is one token: nothing to match, no quadratic work.
    let blob = String(repeating: "a", count: 10_000_000)
    var blobVerdict = Verdict.drop(reason: "unset")
    let blobTime = try clock.measure { blobVerdict = try run(stage, blob).0 }
    #expect(blobVerdict == .keep)
    #expect(blobTime < .seconds(30), "took \(blobTime)")
  }

  // MARK: - Tokens and keys

  @Test func tokenizerNormalizes() {
    let tokenizer = DecontaminationTokenizer(lowercase: true)
    func tokens(_ text: String) -> [String] {
      var text = text
      var result: [String] = []
      text.withUTF8 { bytes in
        tokenizer.forEachToken(in: bytes) { token in
          result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[token.range]), as: UTF8.self))
        }
      }
      return result
    }
    #expect(tokens("Hello, World!  It's 2024.") == ["Hello", "World", "It", "s", "2024"])
    #expect(tokens("Ünïcödé naïve CAFÉ") == ["Ünïcödé", "naïve", "CAFÉ"])
    #expect(tokens("中文abc 日本語テキスト") == ["中", "文", "abc", "日", "本", "語", "テ", "キ", "ス", "ト"])
    #expect(tokens("Привет, мир") == ["Привет", "мир"])
    #expect(tokens("") == [] && tokens(" \n\t--- ") == [])
    // Same normalized tokens, same hashes.
    var hashes: [[UInt64]] = []
    for var text in ["CAFÉ au lait", "café, au-lait"] {
      var list: [UInt64] = []
      text.withUTF8 { bytes in tokenizer.forEachToken(in: bytes) { list.append($0.hash) } }
      hashes.append(list)
    }
    #expect(hashes[0] == hashes[1])
  }

  @Test func rollingKeysEqualDirectKeys() {
    let hasher = NGramHasher(n: 4)
    let tokens: [UInt64] = [11, 22, 33, 44, 55, 66]
    var rolling = NGramHasher.polynomial(tokens[0..<4])
    for start in 1...2 {
      rolling = hasher.roll(rolling, removing: tokens[start - 1], adding: tokens[start + 3])
      #expect(rolling == NGramHasher.polynomial(tokens[start..<(start + 4)]))
    }
    #expect(NGramHasher.key(polynomial: 5, length: 3) != NGramHasher.key(polynomial: 5, length: 4))
  }

  // MARK: - Benchmark files and config

  @Test func namesFromSpecs() throws {
    let named = try DecontaminationIndex.BenchmarkFile(parsing: "mmlu=data/mmlu_test.jsonl")
    #expect(named == .init(name: "mmlu", path: "data/mmlu_test.jsonl"))
    let plain = try DecontaminationIndex.BenchmarkFile(parsing: "bench/gsm8k.test.jsonl")
    #expect(plain == .init(name: "gsm8k.test", path: "bench/gsm8k.test.jsonl"))
    // An `=` inside a path is part of the path.
    let odd = try DecontaminationIndex.BenchmarkFile(parsing: "runs/a b=c/x.json")
    #expect(odd == .init(name: "x", path: "runs/a b=c/x.json"))
    #expect(throws: PipeError.self) { try DecontaminationIndex.BenchmarkFile(parsing: "name=") }
  }

  @Test func missingBenchmarkFileIsAConfigErrorNamingIt() throws {
    let folder = try TemporaryFolder()
    let missing = folder.url.appendingPathComponent("nope.jsonl").path
    let error = try #require(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "nope", path: missing)], fields: ["text"])
    }
    #expect(error.code == .config)
    #expect(error.file == missing)
    #expect(error.description.contains("does not exist"))
  }

  @Test func badJSONLineIsAConfigErrorWithItsLine() throws {
    let folder = try TemporaryFolder()
    let path = try folder.write(
      "bad.jsonl", "{\"question\": \"\(mathQuestion)\"}\n\n{\"question\": \"unterminated}\n{\"question\": \"x\"}\n")
    let error = try #require(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "bad", path: path)], fields: ["question"])
    }
    #expect(error.code == .config)
    #expect(error.file == path)
    #expect(error.line == 3)
    #expect(error.description.hasPrefix("\(path):3: decontaminate: line 3 of benchmark bad is not valid JSON"))

    let notObject = try folder.write("number-line.jsonl", "42\n")
    let second = try #require(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "x", path: notObject)], fields: ["text"])
    }
    #expect(second.line == 1)
    #expect(second.message.contains("expected a JSON object"))
  }

  @Test func compressedAndFieldlessFilesAreConfigErrors() throws {
    let folder = try TemporaryFolder()
    let zst = folder.url.appendingPathComponent("b.jsonl.zst")
    try Data([0x28, 0xB5, 0x2F, 0xFD, 0, 0]).write(to: zst)
    let compressed = try #require(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "b", path: zst.path)], fields: ["text"])
    }
    #expect(compressed.message.contains("zstd-compressed"))

    let other = try folder.writeJSONL("o.jsonl", [["title": .string(mathQuestion)]])
    let fieldless = try #require(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "o", path: other)], fields: ["question", "text"])
    }
    #expect(fieldless.message.contains("no record with any of the fields question, text"))

    let empty = try folder.write("e.jsonl", "\n\n")
    #expect(throws: PipeError.self) {
      _ = try DecontaminationIndex.load([.init(name: "e", path: empty)], fields: ["text"])
    }
    let twice = try folder.writeJSONL("t.jsonl", [["text": .string(mathQuestion)]])
    #expect(throws: PipeError.self) {
      _ = try DecontaminationIndex.load(
        [.init(name: "t", path: twice), .init(name: "t", path: twice)], fields: ["text"])
    }
  }

  @Test func nestedFieldsArraysAndJSONArrayFiles() throws {
    let folder = try TemporaryFolder()
    let path = try folder.write(
      "nested.json",
      JSONValue.array([
        .object(["metadata": .object(["question": .string(mathQuestion)])]),
        .object(["answers": .object(["text": .array([.string(scienceQuestion)])])]),
      ]).jsonText)
    let index = try DecontaminationIndex.load(
      [.init(name: "nested", path: path)], fields: ["metadata.question", "answers"])
    let stage = try Decontaminate(index: index)
    #expect(try run(stage, mathQuestion).0 != .keep)
    #expect(try run(stage, scienceQuestion).0 != .keep)
    #expect(index.keyCounts == [19 + 14])
  }

  @Test func descriptorBuildsTheIndexOnce() throws {
    let folder = try TemporaryFolder()
    let path = try folder.writeJSONL("gsm8k.jsonl", [["question": .string(mathQuestion)]])
    let descriptor = Decontaminate.descriptor
    #expect(descriptor.qualifiedName == "decontaminate@1")
    let (missing, issues) = descriptor.resolve([:], path: "stages[1].config")
    #expect(missing == nil)
    #expect(issues.map(\.path) == ["stages[1].config.benchmarks"])

    let (config, none) = descriptor.resolve(
      ["benchmarks": .array([.string(path)]), "action": .string("flag")], path: "c")
    #expect(none.isEmpty)
    let resolved = try #require(config)
    #expect(resolved.values["ngrams"]?.intValue == 13)
    #expect(resolved.values["fields"]?.arrayValue?.compactMap(\.stringValue) == Decontaminate.defaultFields)
    guard case .record(let stage) = try descriptor.make(resolved) else {
      Issue.record("expected a record stage")
      return
    }
    var record = makeRecord(filler + mathQuestion)
    #expect(try stage.process(&record, context: testContext) == .keep)
    #expect(record.metadata("contamination")?.objectValue?["benchmark"] == .string("gsm8k"))

    let (bad, _) = descriptor.resolve(["benchmarks": .array([.string(folder.url.path + "/none.jsonl")])], path: "c")
    #expect(throws: PipeError.self) { try descriptor.make(try #require(bad)) }
    let (empty, _) = descriptor.resolve(["benchmarks": .array([])], path: "c")
    #expect(throws: PipeError.self) { try descriptor.make(try #require(empty)) }
  }
}
