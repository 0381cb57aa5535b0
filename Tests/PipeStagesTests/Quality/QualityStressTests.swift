import PipeCore
import Testing

@testable import PipeStages

/// Enormous and adversarial inputs: every filter must finish in about linear time.
@Suite struct QualityStressTests {
  static let stages: [(String, any RecordStage)] = [
    ("gopher", GopherFilter()), ("c4", C4Filter()), ("fineweb", FineWebFilter()), ("code", CodeFilter()),
  ]

  /// Ten megabytes on one line: one enormous word, an enormous URL-like token, and prose.
  static let enormousLines: [(String, String)] = [
    ("letters", String(repeating: "a", count: 10_000_000)),
    ("url", "https://" + String(repeating: "a.", count: 5_000_000) + "com"),
    ("at", String(repeating: "a@", count: 5_000_000) + "b.com"),
    ("prose", String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 230_000)),
  ]

  /// One megabyte on one line that splits into a token per character or two: linear work
  /// (a release build splits ten megabytes of these in one to three seconds), kept small so
  /// debug test runs stay short.
  static let tokenHeavyLines: [(String, String)] = [
    ("dots", String(repeating: "a.", count: 500_000)),
    ("hyphens", String(repeating: "a-", count: 500_000)),
    ("brackets", String(repeating: ")", count: 1_000_000)),
    ("emoticons", String(repeating: ":)", count: 500_000)),
    ("commas", String(repeating: "a,", count: 500_000)),
    ("quotes", String(repeating: "\"", count: 1_000_000)),
    ("cjk", String(repeating: "中文", count: 170_000)),
    ("thai", String(repeating: "ภาษาไทย", count: 48_000)),
  ]

  @Test(arguments: tokenHeavyLines.map(\.0))
  func tokenHeavyLineFinishes(shape: String) throws {
    let text = try #require(Self.tokenHeavyLines.first { $0.0 == shape }).1
    try expectQuick(text, shape)
  }

  private func expectQuick(_ text: String, _ shape: String) throws {
    let clock = ContinuousClock()
    for (name, stage) in Self.stages {
      var record = makeRecord(text)
      let start = clock.now
      let verdict = try stage.process(&record, context: testContext)
      let elapsed = clock.now - start
      // Generous for debug builds on a busy machine; quadratic behaviour would take hours.
      #expect(elapsed < .seconds(60), "\(name) took \(elapsed) on \(shape)")
      if name == "code" { #expect(reason(verdict) == "code_max_line_length") }
    }
  }

  @Test(arguments: enormousLines.map(\.0))
  func enormousLineFinishes(shape: String) throws {
    let text = try #require(Self.enormousLines.first { $0.0 == shape }).1
    #expect(text.utf8.count >= 10_000_000)
    try expectQuick(text, shape)
  }

  @Test func everyFilterDropsWhitespaceOnlyText() throws {
    for (name, stage) in Self.stages {
      for text in [" ", "\n\n\n", "\u{3000}\t\u{A0}"] {
        var record = makeRecord(text)
        let verdict = try stage.process(&record, context: testContext)
        #expect(reason(verdict) != nil, "\(name) kept \(text.debugDescription)")
      }
      var empty = makeRecord("")
      let verdict = try stage.process(&empty, context: testContext)
      // quality.code@1 keeps an empty file: its alphanumeric share of an empty text is not
      // below the threshold, and no other rule looks at size. Changing that changes the op's
      // output (a version 2); written down in the notes, pinned here so it cannot change unseen.
      if name == "code" {
        #expect(verdict == .keep)
      } else {
        #expect(reason(verdict) != nil, "\(name) kept an empty text")
      }
    }
  }

  @Test func escapedTextIsReadLikeRawText() throws {
    // A record whose text has JSON escapes takes the decoding path of `withTextUTF8`.
    var escaped = try parseRecord(#"{"id":"e","text":"\u0048ello world.\nSecond line here, fine.\n\"Quoted\" line."}"#)
    var plain = makeRecord("Hello world.\nSecond line here, fine.\n\"Quoted\" line.")
    for (_, stage) in Self.stages {
      #expect(try stage.process(&escaped, context: testContext) == stage.process(&plain, context: testContext))
    }
  }
}
