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

  /// Random texts mixing every ASCII byte (the eight-at-a-time path's edges: controls, space,
  /// `@` `A` `Z` `[` `` ` `` `a` `z` `{`, DEL) with runs long enough for that path and some
  /// non-ASCII scalars, against the reference, for every combination of options.
  @Test func randomTextsMatchTheReferenceImplementation() {
    var generator = SeededRNG(seed: 7)
    let extra: [Unicode.Scalar] = ["\u{E9}", "\u{301}", "\u{130}", "\u{A0}", "\u{3000}", "中", "Ω", "ẞ"]
    let stages = [
      ExactDedup(), ExactDedup(lowercase: true), ExactDedup(collapseWhitespace: false), ExactDedup(nfc: false),
      ExactDedup(lowercase: true, collapseWhitespace: false, nfc: false),
    ]
    for _ in 0..<400 {
      var scalars = String.UnicodeScalarView()
      for _ in 0..<Int(generator.next() % 90) {
        let roll = generator.next() % 20
        if roll == 0 {
          scalars.append(extra[Int(generator.next() % UInt64(extra.count))])
        } else if roll < 4 {
          scalars.append(Unicode.Scalar(UInt8(generator.next() % 128)))
        } else if roll < 8 {
          scalars.append(" ")
        } else {
          scalars.append(Unicode.Scalar(UInt8(0x40 + generator.next() % 0x40)))
        }
      }
      let text = String(scalars)
      for stage in stages {
        #expect(stage.key(of: text) == referenceKey(text, stage), "\(scalarCodes(text))")
      }
    }
  }

  @Test func asciiWordsLowercaseAndClassifyLikeBytes() {
    var generator = SeededRNG(seed: 3)
    for byte in UInt8(0)..<128 {
      for position in 0..<8 {
        var bytes = (0..<8).map { _ in UInt8(generator.next() % 128) }
        bytes[position] = byte
        let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let lowered = ASCIIWord.lowercased(word)
        let expected = bytes.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        #expect((0..<8).map { UInt8(truncatingIfNeeded: lowered >> (8 * $0)) } == expected)
        #expect((0..<8).map { ASCIIWord.spaces(word) >> (8 * $0) & 0x80 != 0 } == bytes.map { $0 == 0x20 })
        let adjacentSpaces = (0..<7).contains { bytes[$0] == 0x20 && bytes[$0 + 1] == 0x20 }
        #expect(
          ASCIIWord.collapsesToItself(word)
            == (!bytes.contains { $0 < 0x20 } && bytes[0] != 0x20 && bytes[7] != 0x20 && !adjacentSpaces))
        #expect(ASCIIWord.isASCII(word))
      }
    }
    // Words of spaces, tabs and letters only: every arrangement of spaces is met.
    for pattern in 0..<(1 << 16) where pattern % 7 == 0 {
      let bytes = (0..<8).map { [UInt8(ascii: "a"), 0x20, 0x09, UInt8(ascii: "Q")][(pattern >> (2 * $0)) & 3] }
      let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
      let adjacentSpaces = (0..<7).contains { bytes[$0] == 0x20 && bytes[$0 + 1] == 0x20 }
      #expect(
        ASCIIWord.collapsesToItself(word)
          == (!bytes.contains(0x09) && bytes[0] != 0x20 && bytes[7] != 0x20 && !adjacentSpaces))
    }
    #expect(!ASCIIWord.isASCII(0x80))
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
