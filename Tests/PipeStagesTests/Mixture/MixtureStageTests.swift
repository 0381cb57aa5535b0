import PipeCore
import Testing

@testable import PipeStages

@Suite struct TokenEstimatorTests {
  let estimator = TokenEstimator()

  /// Random texts of words, digits, punctuation, spaces and other scripts: reading words at
  /// once gives exactly the byte-by-byte sum.
  @Test func wordsAtOnceGiveTheByteByByteSum() {
    let pieces = [
      "the", "Tokenization", "snake_case", "x", "42", "3.14", "->", ");", " ", "  ", "\n", "\t", "café", "Привет",
      "中文", "ภาษา", "😀", "@", "Z_9", "[a]", "`q`", "{}",
    ]
    var generator = SeededRNG(seed: 5)
    for _ in 0..<500 {
      var text = ""
      for _ in 0..<Int(generator.next() % 30) { text += pieces[Int(generator.next() % UInt64(pieces.count))] }
      var bytes = Array(text.utf8)
      bytes.withUnsafeMutableBufferPointer { buffer in
        let input = UnsafeBufferPointer(buffer)
        #expect(
          TokenEstimator.estimate(input) == TokenEstimator.estimate(input, wordsAtOnce: false),
          "\(text.debugDescription)")
      }
    }
  }

  @Test func pricesEnglishWordsDigitsAndPunctuation() {
    #expect(estimator.count("") == 0)
    #expect(estimator.count("the") == 1)
    // "tokenization" has 12 letters: two pieces of six.
    #expect(estimator.count("tokenization") == 2)
    // Words, single spaces free: the cat sat on the mat = 6.
    #expect(estimator.count("the cat sat on the mat") == 6)
    // 1234567 is three groups of up to three digits.
    #expect(estimator.count("1234567") == 3)
    // "a, b." = a + , + b + . (punctuation runs of one cost one each).
    #expect(estimator.count("a, b.") == 4)
    // Code: indentation and newlines cost one per run, ");" two symbols one token.
    #expect(estimator.count("f(x);\n    return") == 1 + 1 + 1 + 1 + 1 + 1)
  }

  @Test func handlesScriptsWithoutSpacesAndOtherAlphabets() {
    // Ten Han characters at 0.8 each.
    #expect(estimator.count("我们今天去公园散步了") == 8)
    // Thai at 0.5 per character: 12 characters.
    #expect(estimator.count("ภาษาไทยง่ายๆ") == 6)
    // Cyrillic words: a letter run of 6 costs 2.
    #expect(estimator.count("привет мир") == 2 + 1)
    // More text never costs fewer tokens.
    #expect(estimator.count("привет мир привет") > estimator.count("привет мир"))
  }

  @Test func otherMethodsAndScale() {
    #expect(TokenEstimator(method: .bytes, bytesPerToken: 4).count("abcdefgh") == 2)
    #expect(TokenEstimator(method: .whitespace).count("  one two\tthree\n") == 3)
    #expect(TokenEstimator(scale: 2).count("the cat") == 4)
    // A non-empty text is at least one token, whatever the scale.
    #expect(TokenEstimator(scale: 0.01).count("a") == 1)
  }

  @Test func enormousTextIsCountedInOnePass() {
    let text = String(repeating: "word ", count: 200_000)
    #expect(estimator.count(text) == 200_000)
  }
}

@Suite struct TokenCountTests {
  @Test func writesTheCountAndTotalsPerGroup() throws {
    let stage = TokenCount()
    let context = StageContext(stageID: "tokens", seed: 1, shardIndex: 0)
    var english = makeRecord("the cat sat on the mat", id: "a", metadata: ["language": .string("en")])
    var german = makeRecord("der Hund", id: "b", metadata: ["language": .string("de")])
    var unknown = makeRecord("x", id: "c")
    #expect(try stage.process(&english, context: context) == .keep)
    #expect(try stage.process(&german, context: context) == .keep)
    #expect(try stage.process(&unknown, context: context) == .keep)
    #expect(english.metadata("tokens") == .int(6))
    #expect(german.metadata("tokens") == .int(2))
    let counters = context.counters.values
    #expect(counters["tokens.en"] == 6)
    #expect(counters["records.en"] == 1)
    #expect(counters["tokens.de"] == 2)
    #expect(counters["tokens.unknown"] == 1)
    #expect(counters["tokens"] == 9)
  }

  @Test func configIsValidated() throws {
    let op = TokenCount.descriptor
    let (config, issues) = op.resolve(["method": .string("bytes"), "bytesPerToken": .int(2)], path: "c")
    #expect(issues.isEmpty)
    guard case .record(let stage) = try op.make(try #require(config)) else {
      Issue.record("tokens.count is a record stage")
      return
    }
    var record = makeRecord("abcdef")
    _ = try stage.process(&record, context: testContext)
    #expect(record.metadata("tokens") == .int(3))
    let (_, bad) = op.resolve(["method": .string("bpe")], path: "c")
    #expect(bad.map(\.path) == ["c.method"])
  }
}

@Suite struct MixtureSampleTests {
  private func plan(rates: [String: Double], maxEpochs: Int = 4) -> GroupPlan {
    GroupPlan(
      policy: "test", groupBy: "language", tokensField: "tokens", budget: nil, maxEpochs: maxEpochs,
      groups: rates.sorted { $0.key < $1.key }.map { name, rate in
        PlannedGroup(
          name: name, records: 0, tokensAvailable: 0, tokensTargeted: 0, rate: rate, shareBefore: 0, shareAfter: 0)
      })
  }

  private func record(_ index: Int, _ language: String) -> Record {
    makeRecord("text \(index)", id: "doc-\(index)", metadata: ["language": .string(language), "tokens": .int(10)])
  }

  @Test func copiesFollowTheRateAndAreDeterministic() {
    let stage = MixtureSample()
    let plan = plan(rates: ["en": 0.25, "sw": 2.5, "de": 1])
    let context = StageContext(stageID: "sample", seed: 42, shardIndex: 0)
    var copies: [String: [Int]] = [:]
    for index in 0..<20_000 {
      for language in ["en", "sw", "de"] {
        copies[language, default: []].append(
          stage.copies(of: record(index, language), plan: plan, context: context).copies)
      }
    }
    let en = copies["en"] ?? []
    let sw = copies["sw"] ?? []
    #expect(Set(en).isSubset(of: [0, 1]))
    #expect(Set(sw).isSubset(of: [2, 3]))
    #expect(Set(copies["de"] ?? []) == [1])
    // Means within 1.5% of the rate (20,000 draws: the standard error is about 0.3%).
    #expect(abs(Double(en.reduce(0, +)) / 20_000 - 0.25) < 0.015)
    #expect(abs(Double(sw.reduce(0, +)) / 20_000 - 2.5) < 0.015)
    // The same record gets the same copies on any shard; another seed gives other draws.
    let elsewhere = StageContext(stageID: "sample", seed: 42, shardIndex: 9)
    let reseeded = StageContext(stageID: "sample", seed: 43, shardIndex: 0)
    var same = true
    var differs = false
    for index in 0..<200 {
      let value = stage.copies(of: record(index, "en"), plan: plan, context: elsewhere).copies
      same = same && value == en[index]
      differs = differs || stage.copies(of: record(index, "en"), plan: plan, context: reseeded).copies != en[index]
    }
    #expect(same)
    #expect(differs)
    // Realized totals are counted per group.
    #expect(context.counters.values["records.de"] == 20_000)
    #expect(context.counters.values["tokens.de"] == 200_000)
  }

  @Test func neverBeyondTheEpochLimitAndUnplannedGroupsKeptOnce() {
    let stage = MixtureSample()
    let context = StageContext(stageID: "sample", seed: 1, shardIndex: 0)
    let plan = plan(rates: ["en": 3.7], maxEpochs: 3)
    for index in 0..<500 {
      #expect(stage.copies(of: record(index, "en"), plan: plan, context: context).copies <= 3)
    }
    #expect(stage.copies(of: record(1, "xx"), plan: plan, context: context).copies == 1)
    #expect(context.counters.values["unplanned_records"] == 1)
  }

  @Test func marksEachCopyWithGroupAndEpoch() {
    var copy = record(1, "en")
    MixtureSample(field: "mix").mark(&copy, group: "en", epoch: 2)
    #expect(copy.metadata("mix") == .object(["group": .string("en"), "epoch": .int(2)]))
  }
}

@Suite struct MixturePlanConfigTests {
  private func issues(_ config: JSONObject) -> [String] {
    let op = MixturePlanStage.descriptor
    let (resolved, schemaIssues) = op.resolve(config, path: "c")
    guard let resolved else { return schemaIssues.map(\.path) }
    do {
      _ = try op.make(resolved)
      return []
    } catch let error as ConfigValueError {
      return ["c." + error.keyPath]
    } catch {
      return ["\(error)"]
    }
  }

  @Test func validConfigsBuild() {
    #expect(issues([:]) == [])
    #expect(issues(["policy": .string("target"), "shares": .object(["en": .double(0.7), "de": .double(0.3)])]) == [])
    #expect(issues(["policy": .string("temperature"), "temperature": .int(3)]) == [])
    #expect(issues(["policy": .string("unimax"), "budget": .int(1_000_000), "maxEpochs": .int(2)]) == [])
    #expect(
      issues([
        "policy": .string("babel_tower"), "dominant": .string("python"), "caps": .object(["php": .double(5e9)]),
        "curves": .object([
          "c#": .array([.array([.double(1e9), .double(0.2)]), .array([.double(2e9), .double(0.3)])])
        ]),
        "independent": .array([.string("c++")]),
      ]) == [])
  }

  @Test func badConfigsNameTheKey() {
    #expect(issues(["policy": .string("target")]) == ["c.shares"])
    #expect(issues(["policy": .string("target"), "shares": .object(["en": .double(0.7)])]) == ["c.shares"])
    #expect(issues(["policy": .string("target"), "shares": .object(["en": .string("most")])]) == ["c.shares.en"])
    #expect(issues(["policy": .string("temperature")]) == ["c.temperature"])
    #expect(issues(["policy": .string("caps")]) == ["c.caps"])
    #expect(issues(["policy": .string("babel_tower"), "caps": .object(["php": .int(5)])]) == ["c.dominant"])
    #expect(
      issues(["policy": .string("babel_tower"), "dominant": .string("python"), "caps": .object(["python": .int(5)])])
        == ["c.caps.python"])
    #expect(
      issues([
        "policy": .string("babel_tower"), "dominant": .string("python"),
        "curves": .object(["php": .array([.array([.int(1)])])]),
      ]) == ["c.curves.php[0]"])
    // A key the chosen policy does not read is reported rather than ignored.
    #expect(issues(["caps": .object(["en": .int(5)])]) == ["c.caps"])
    #expect(issues(["policy": .string("unimax"), "temperature": .int(2)]) == ["c.temperature"])
    #expect(issues(["policy": .string("softmax")]) == ["c.policy"])
    #expect(issues(["maxEpochs": .int(0)]) == ["c.maxEpochs"])
  }
}

/// What `tokens.count` adds to its stage's fingerprint.
struct TokenCountIdentityTests {
  @Test func anEstimateAddsNothingToTheFingerprint() throws {
    // Runs made before exact counting existed must stay up to date: no content identity.
    let descriptor = TokenCount.descriptor
    let (config, issues) = descriptor.resolve([:], path: "stages[0].config")
    #expect(issues.isEmpty)
    let implementation = try descriptor.make(try #require(config))
    #expect(implementation.contentIdentity == nil)
    #expect(StageImplementation.record(TokenCount()).contentIdentity == nil)
  }
}
