import Foundation
import PipeCore
import Testing

@testable import PipeStages

@Suite struct ExactDedupTests {
  let stage = ExactDedup()

  @Test func sameTextSameKeyDifferentTextDifferentKey() {
    #expect(stage.key(of: "hello world") == stage.key(of: "hello world"))
    #expect(stage.key(of: "hello world") != stage.key(of: "hello world!"))
    #expect(stage.key(of: "a") != stage.key(of: "b"))
    #expect(stage.key(of: "中文") != stage.key(of: "中文 " + "x"))
  }

  @Test func keyOfRecordMatchesKeyOfText() throws {
    let record = try parseRecord(#"{"id":"1","text":"line one\nline two"}"#)
    #expect(stage.duplicateKey(of: record) == stage.key(of: "line one\nline two"))
    #expect(stage.duplicateKey(of: makeRecord("line one  line two")) == stage.duplicateKey(of: record))
    #expect(stage.dropReason == "duplicate")
  }

  @Test func composedAndDecomposedAccentsCollide() {
    #expect(stage.key(of: "caf\u{E9} cr\u{E8}me") == stage.key(of: "cafe\u{301} cre\u{300}me"))
    #expect(stage.key(of: "\u{212B}") == stage.key(of: "\u{C5}"))
    let raw = ExactDedup(nfc: false)
    #expect(raw.key(of: "caf\u{E9}") != raw.key(of: "cafe\u{301}"))
  }

  @Test func whitespaceIsCollapsedAndTrimmed() {
    #expect(stage.key(of: "  a  b\n\tc \u{3000}") == stage.key(of: "a b c"))
    #expect(stage.key(of: "a\u{A0}b") == stage.key(of: "a b"))
    #expect(stage.key(of: "ab") != stage.key(of: "a b"))
    let raw = ExactDedup(collapseWhitespace: false)
    #expect(raw.key(of: "a  b") != raw.key(of: "a b"))
    #expect(raw.key(of: "a b") == raw.key(of: "a b"))
  }

  @Test func lowercase() {
    #expect(stage.key(of: "Hello World") != stage.key(of: "hello world"))
    let folded = ExactDedup(lowercase: true)
    #expect(folded.key(of: "Hello World") == folded.key(of: "hello world"))
    #expect(folded.key(of: "ÉCOLE Straße") == folded.key(of: "école straße"))
    #expect(folded.key(of: "E\u{301}COLE") == folded.key(of: "\u{E9}cole"))
  }

  @Test func emptyAndWhitespaceOnlyTextsAreDuplicatesOfEachOther() {
    #expect(stage.key(of: "") == stage.key(of: " \n\t "))
  }

  @Test(arguments: [
    "plain ascii  text\n", "Café  CRÈME brûlée", "cafe\u{301}", "中文 测试\u{3000}日本語", "ภาษาไทย\u{E48}\u{E38}",
    "\u{130}stanbul", "\u{130}\u{64B}x", "ΟΔΟΣ ǅ ẞ ＡＢＣ", "한국어", "Ωmega \u{2126}", "😀  🎉", "", "  ",
  ])
  func keyMatchesReferenceImplementation(text: String) {
    for stage in [
      ExactDedup(), ExactDedup(lowercase: true), ExactDedup(collapseWhitespace: false), ExactDedup(nfc: false),
      ExactDedup(lowercase: true, collapseWhitespace: false, nfc: false),
    ] {
      #expect(stage.key(of: text) == referenceKey(text, stage), "\(scalarCodes(text))")
    }
  }

  /// The key computed the obvious, slow way: Foundation lowercasing and NFC, split and join.
  private func referenceKey(_ text: String, _ stage: ExactDedup) -> DuplicateKey {
    var normalized = text
    if stage.lowercase { normalized = normalized.lowercased() }
    if stage.nfc { normalized = normalized.precomposedStringWithCanonicalMapping }
    if stage.collapseWhitespace {
      normalized = normalized.unicodeScalars.split(whereSeparator: \.properties.isWhitespace)
        .map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
    }
    var bytes = utf8(normalized)
    return bytes.withUnsafeMutableBytes { buffer in
      DuplicateKey(
        high: XXH64.hash(UnsafeRawBufferPointer(buffer), seed: ExactDedup.seeds.0),
        low: XXH64.hash(UnsafeRawBufferPointer(buffer), seed: ExactDedup.seeds.1))
    }
  }

  @Test func metadataField() throws {
    let byURL = ExactDedup(field: .metadata("url"), lowercase: true)
    let first = makeRecord("one", id: "1", metadata: ["url": .string("https://Example.com/a")])
    let second = makeRecord("two", id: "2", metadata: ["url": .string("https://example.com/a ")])
    let other = makeRecord("one", id: "3", metadata: ["url": .string("https://example.com/b")])
    #expect(byURL.duplicateKey(of: first) == byURL.duplicateKey(of: second))
    #expect(byURL.duplicateKey(of: first) != byURL.duplicateKey(of: other))
    #expect(byURL.duplicateKey(of: makeRecord("x", metadata: [:])) == nil)
    #expect(byURL.duplicateKey(of: makeRecord("x", metadata: ["url": .null])) == nil)

    // Non-string values are compared by their canonical JSON.
    let byCount = ExactDedup(field: .metadata("n"))
    let one = byCount.duplicateKey(of: makeRecord("x", metadata: ["n": .int(1)]))
    #expect(one != nil)
    #expect(one == byCount.duplicateKey(of: makeRecord("y", metadata: ["n": .double(1.0)])))
    #expect(one != byCount.duplicateKey(of: makeRecord("y", metadata: ["n": .string("1")])))
    #expect(one != byCount.duplicateKey(of: makeRecord("y", metadata: ["n": .int(2)])))
  }

  @Test(arguments: [
    ("text", ExactDedup.Field.text), ("metadata.url", .metadata("url")), ("metadata.a.b", .metadata("a.b")),
  ])
  func fieldSpelling(spelling: String, expected: ExactDedup.Field) {
    #expect(ExactDedup.Field(spelling) == expected)
  }

  @Test(arguments: ["", "id", "metadata.", "metadata", "Text", "meta.url"])
  func unsupportedFieldIsAConfigError(spelling: String) throws {
    #expect(ExactDedup.Field(spelling) == nil)
    let (resolved, issues) = ExactDedup.descriptor.resolve(["field": .string(spelling)], path: "config")
    #expect(issues.isEmpty)
    let config = try #require(resolved)
    let error = try #require(throws: ConfigValueError.self) { try ExactDedup.descriptor.make(config) }
    #expect(error.keyPath == "field")
  }

  @Test func configFromDescriptor() throws {
    let (resolved, issues) = ExactDedup.descriptor.resolve(
      [
        "lowercase": .bool(true), "collapseWhitespace": .bool(false), "nfc": .bool(false),
        "field": .string("metadata.title"),
      ], path: "config")
    #expect(issues.isEmpty)
    guard case .steps(let plan) = try ExactDedup.descriptor.make(try #require(resolved)) else {
      Issue.record("dedup.exact@1 must be a stage with steps")
      return
    }
    #expect(plan.collect?.name == "keys" && plan.steps.map(\.name) == ["index"])
    let made = try ExactDedup(options: ExactDedup.Options(resolved: try #require(resolved)))
    let a = makeRecord("x", metadata: ["title": .string("Title")])
    let b = makeRecord("y", metadata: ["title": .string("title")])
    let c = makeRecord("y", metadata: ["title": .string("title ")])
    #expect(made.duplicateKey(of: a) == made.duplicateKey(of: b))
    #expect(made.duplicateKey(of: a) != made.duplicateKey(of: c))
    #expect(made.dropReason == "duplicate")
  }

  @Test func tenMegabyteText() {
    let count = 10 * 1024 * 1024 / 48
    let base = String(repeating: "Some repeated sentence with caf\u{E9} and 中文. ", count: count)
    let key = stage.key(of: base)
    #expect(stage.key(of: base + "  ") == key)
    #expect(stage.key(of: String(repeating: "Some repeated sentence with cafe\u{301} and 中文. ", count: count)) == key)
    #expect(stage.key(of: base + "x") != key)
    var changed = Array(base.utf8)
    changed[changed.count / 2] = UInt8(ascii: "#")
    #expect(stage.key(of: String(decoding: changed, as: UTF8.self)) != key)
  }
}

extension ExactDedupTests {
  @Test func scriptsWithoutCaseSkipTheLookupSafely() {
    for block: Range<UInt32> in [0x590..<0x10A0, 0x3000..<0xA000, 0xAC00..<0xD7A4] {
      for value in block {
        guard let scalar = Unicode.Scalar(value) else { continue }
        #expect(!scalar.properties.changesWhenLowercased, "\(String(value, radix: 16))")
        #expect(!ExactDedup.mayHaveCase(value))
      }
    }
  }
}
