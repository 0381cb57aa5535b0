import PipeCore
import Testing

@testable import PipeStages

@Suite struct LengthFilterTests {
  // MARK: - Counting

  @Test(arguments: [
    ("", 0), ("a", 1), ("hello", 5), ("caf\u{E9}", 4), ("cafe\u{301}", 5), ("中文", 2), ("👍", 1),
    ("👩\u{200D}💻", 3), ("ภาษา", 4),
  ])
  func characterCountIsScalars(text: String, expected: Int) {
    var text = text
    #expect(text.withUTF8 { TextMetrics.characterCount($0) } == expected)
  }

  @Test(arguments: [
    ("", 0),
    ("   \n\t ", 0),
    ("one", 1),
    ("hello world  foo\nbar", 4),
    ("don't stop-me now!", 3),
    ("中文测试", 4),
    ("我爱北京。天安门", 7),
    ("これはペンです", 7),
    ("GPT-4是一个模型", 6),
    ("中文 English 混合", 5),
    ("안녕하세요 세계", 2),
    ("ภาษาไทยง่ายมาก", 4),  // 14 scalars: ceil(14 / 4)
    ("ภาษาไทย\u{200B}ง่าย", 3),  // 7 + 4 scalars split by a zero-width space: 2 + 1
    ("ไทย abc", 2),
    ("abcไทย", 2),
    ("ＡＢＣ，ｄｅｆ", 2),
  ])
  func wordCount(text: String, expected: Int) {
    var text = text
    #expect(text.withUTF8 { TextMetrics.wordCount($0) } == expected)
  }

  // MARK: - Verdicts

  @Test func defaultsKeepEverything() throws {
    let filter = try LengthFilter()
    for text in ["", "x", String(repeating: "long ", count: 10_000)] {
      #expect(try run(filter, on: text).verdict == .keep)
    }
  }

  @Test func minChars() throws {
    let filter = try LengthFilter(minChars: 5)
    #expect(try run(filter, on: "hello").verdict == .keep)
    #expect(try run(filter, on: "hell").verdict == .drop(reason: "too_few_chars", detail: "4 < 5"))
    #expect(try run(filter, on: "").verdict == .drop(reason: "too_few_chars", detail: "0 < 5"))
    #expect(try run(filter, on: "中文中文中").verdict == .keep)
  }

  @Test func maxChars() throws {
    let filter = try LengthFilter(maxChars: 4)
    #expect(try run(filter, on: "four").verdict == .keep)
    #expect(try run(filter, on: "fives").verdict == .drop(reason: "too_many_chars", detail: "5 > 4"))
  }

  @Test func minWords() throws {
    let filter = try LengthFilter(minWords: 3)
    #expect(try run(filter, on: "one two three").verdict == .keep)
    #expect(try run(filter, on: "one").verdict == .drop(reason: "too_few_words", detail: "1 < 3"))
    // Chinese without spaces is three words, not one.
    #expect(try run(filter, on: "北京市").verdict == .keep)
    #expect(try run(filter, on: "ภาษาไทย").verdict == .drop(reason: "too_few_words", detail: "2 < 3"))
  }

  @Test func maxWords() throws {
    let filter = try LengthFilter(maxWords: 2)
    #expect(try run(filter, on: "one two").verdict == .keep)
    #expect(try run(filter, on: "one two three").verdict == .drop(reason: "too_many_words", detail: "3 > 2"))
    #expect(try run(filter, on: "中文字").verdict == .drop(reason: "too_many_words", detail: "3 > 2"))
  }

  @Test func charactersAreCheckedBeforeWords() throws {
    let filter = try LengthFilter(minChars: 10, minWords: 5)
    #expect(try run(filter, on: "tiny").verdict == .drop(reason: "too_few_chars", detail: "4 < 10"))
    #expect(try run(filter, on: "long enough text").verdict == .drop(reason: "too_few_words", detail: "3 < 5"))
  }

  @Test func recordIsNotModified() throws {
    let line = #"{"id":"x","text":"a\nb c","metadata":{}}"#
    var record = try parseRecord(line)
    #expect(try LengthFilter(minWords: 1).process(&record, context: testContext) == .keep)
    #expect(!record.isModified)
    #expect(record.jsonLine == line)
  }

  @Test func tenMegabyteText() throws {
    let text = String(repeating: "word 中文 ", count: 10 * 1024 * 1024 / 12)
    let words = text.utf8.count / 12 * 3
    let scalars = text.utf8.count / 12 * 8
    var copy = text
    #expect(copy.withUTF8 { TextMetrics.wordCount($0) } == words)
    #expect(copy.withUTF8 { TextMetrics.characterCount($0) } == scalars)
    let filter = try LengthFilter(maxChars: scalars - 1, maxWords: words)
    #expect(try run(filter, on: text).verdict == .drop(reason: "too_many_chars", detail: "\(scalars) > \(scalars - 1)"))
    #expect(try run(LengthFilter(minWords: words), on: text).verdict == .keep)
  }

  // MARK: - Config

  @Test func configFromDescriptor() throws {
    let (resolved, issues) = LengthFilter.descriptor.resolve(
      ["minChars": .int(2), "maxChars": .null, "maxWords": .int(3)], path: "stages[1].config")
    #expect(issues.isEmpty)
    let config = try #require(resolved)
    guard case .record(let made) = try LengthFilter.descriptor.make(config) else {
      Issue.record("filter.length@1 must be a record stage")
      return
    }
    var record = makeRecord("a b c d")
    #expect(try made.process(&record, context: testContext) == .drop(reason: "too_many_words", detail: "4 > 3"))
  }

  @Test(arguments: [
    ["minChars": .int(10), "maxChars": .int(5)] as JSONObject,
    ["minWords": .int(3), "maxWords": .int(2)] as JSONObject,
  ])
  func minimumAboveMaximumIsAConfigError(config: JSONObject) throws {
    let (resolved, issues) = LengthFilter.descriptor.resolve(config, path: "config")
    #expect(issues.isEmpty)
    let valid = try #require(resolved)
    let error = try #require(throws: PipeError.self) { try LengthFilter.descriptor.make(valid) }
    #expect(error.code == .config)
    #expect(error.message.contains("greater than"))
  }

  @Test func equalMinimumAndMaximumIsAllowed() throws {
    let filter = try LengthFilter(minChars: 3, maxChars: 3)
    #expect(try run(filter, on: "abc").verdict == .keep)
  }

  @Test func negativeLimitsAreRejectedBySchemaAndInit() throws {
    let (_, issues) = LengthFilter.descriptor.resolve(["minChars": .int(-1)], path: "config")
    #expect(issues.map(\.path) == ["config.minChars"])
    #expect(throws: PipeError.self) { try LengthFilter(maxWords: -1) }
  }
}
