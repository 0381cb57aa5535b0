import Foundation
import PipeCore
import Testing

@testable import PipeStages

@Suite struct NormalizeTests {
  let stage = Normalize()

  // MARK: - Default config

  @Test func cleanASCIIIsKeptUntouched() throws {
    let line = #"{"id":"a","text":"Plain text.\nSecond line,\n    indentation kept?","metadata":{"x":1}}"#
    var record = try parseRecord(line)
    #expect(try stage.process(&record, context: testContext) == .keep)
    #expect(!record.isModified)
    #expect(record.jsonLine == line)
  }

  @Test(arguments: [
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\u{2028}b\u{2029}c\u{0B}d\u{0C}e\u{85}f", "a\nb\nc\nd\ne\nf"),
    ("a  b\t\tc \t d", "a b c d"),
    ("a \u{7} b", "a b"),
    ("line  \nnext\t", "line\nnext"),
    ("\n\n  \nstart\n\n\n\n\nend\n\n \n", "start\n\n\nend"),
    ("one\n\ntwo\n\n\nthree", "one\n\ntwo\n\n\nthree"),
    ("a\u{0}b\u{7}c\u{1F}d\u{7F}e\u{9F}f\u{80}g", "abcdefg"),
    ("\u{FEFF}hello\u{200B}world\u{2060}!", "helloworld!"),
    ("non\u{A0}break\u{3000}ideo\u{2009}thin\u{202F}narrow", "non break ideo thin narrow"),
    ("a\u{A0}\u{A0} b", "a b"),
    ("    indented code\n\tif x:  y", "    indented code\n\tif x: y"),
    ("  \u{A0}lead", "   lead"),
    ("e\u{301}t\u{E9}", "\u{E9}t\u{E9}"),
    ("\u{212B}ngstr\u{F6}m", "\u{C5}ngstr\u{F6}m"),
    ("中文  测试。\r\n第二行", "中文 测试。\n第二行"),
    ("ภาษาไทย  ง่าย \n", "ภาษาไทย ง่าย"),
    ("\u{E01}\u{E48}\u{E38}", "\u{E01}\u{E38}\u{E48}"),
    ("한국어  텍스트", "한국어 텍스트"),
    ("\u{1100}\u{1161}\u{11A8}", "\u{AC01}"),
    ("か\u{3099}", "が"),
  ])
  func defaultRules(input: String, expected: String) throws {
    let (verdict, record) = try run(stage, on: input)
    #expect(verdict == .keep)
    #expect(textBytes(record) == utf8(expected), "\(scalarCodes(record.text)) != \(scalarCodes(expected))")
  }

  @Test(arguments: [
    "zwj 👩\u{200D}💻 and zwnj \u{200C} and soft\u{AD}hyphen kept",
    "Ünïcödé façade, naïve café — “quotes” … 😀",
    "中文文本，日本語のテキスト、한국어 텍스트。",
    "ภาษาไทยง่ายมาก",
    "Привет, мир!",
    "x",
  ])
  func normalizedTextIsUnchanged(text: String) throws {
    let (verdict, record) = try run(stage, on: text)
    #expect(verdict == .keep)
    #expect(!record.isModified)
  }

  @Test(arguments: ["", " ", "\n\n", " \t\r\n \u{3000}\u{A0}", "\u{FEFF}", "\u{7}\u{0}\n\u{200B}"])
  func emptyResultIsDropped(text: String) throws {
    let (verdict, _) = try run(stage, on: text)
    #expect(verdict == .drop(reason: "empty_after_normalize"))
  }

  @Test func composedTextReachesTheOutputBytes() throws {
    // String == says "e\u{301}" == "é", so this checks the bytes a writer would emit.
    var record = try parseRecord(#"{"id":"1","text":"caf\u0065\u0301","metadata":{"lang":"fr"}}"#)
    #expect(try stage.process(&record, context: testContext) == .keep)
    #expect(textBytes(record) == utf8("caf\u{E9}"))
    #expect(record.jsonLine == "{\"id\":\"1\",\"text\":\"caf\u{E9}\",\"metadata\":{\"lang\":\"fr\"}}")
  }

  @Test func escapedLineIsNormalizedAndOtherFieldsKept() throws {
    var record = try parseRecord(#"{"text":"a\r\nb  c\t","id":"7","metadata":{"url":"u"},"extra":[1,2]}"#)
    #expect(try stage.process(&record, context: testContext) == .keep)
    #expect(record.jsonLine == #"{"text":"a\nb c","id":"7","metadata":{"url":"u"},"extra":[1,2]}"#)
  }

  // MARK: - Config options

  @Test func formNFKCFoldsCompatibilityCharacters() throws {
    let nfkc = Normalize(form: .nfkc)
    #expect(utf8(nfkc.normalize("ﬁle ＡＢＣ ① x²")) == utf8("file ABC 1 x2"))
    // NFKC turns U+00A8 into a space and a combining mark; the extra space is collapsed.
    #expect(utf8(nfkc.normalize("a ¨ b")) == utf8("a \u{308} b"))
    #expect(utf8(nfkc.normalize("ภาษาไทย 中文 かな")) == utf8("ภาษาไทย 中文 かな"))
    #expect(utf8(nfkc.normalize("\u{E33}")) == utf8("\u{E4D}\u{E32}"))
  }

  @Test func formNFCKeepsCompatibilityCharacters() {
    #expect(utf8(stage.normalize("ﬁle ＡＢＣ ①")) == utf8("ﬁle ＡＢＣ ①"))
  }

  @Test func formNoneKeepsDecomposedText() {
    let none = Normalize(form: .none)
    #expect(utf8(none.normalize("e\u{301}  x")) == utf8("e\u{301} x"))
  }

  @Test func removeControlOff() {
    let keep = Normalize(removeControl: false)
    #expect(utf8(keep.normalize("a\u{7}b\u{FEFF}c\u{200B}d\u{85}e")) == utf8("a\u{7}b\u{FEFF}c\u{200B}d\ne"))
  }

  @Test func unifySpacesOff() {
    let keep = Normalize(unifySpaces: false)
    #expect(utf8(keep.normalize("a\u{A0}\u{A0}b  c")) == utf8("a\u{A0}\u{A0}b c"))
    // NFC maps U+2000 to U+2002; the result is still a fixed point.
    let once = keep.normalize("a\u{2000}b")
    #expect(utf8(once) == utf8("a\u{2002}b"))
    #expect(utf8(keep.normalize(once)) == utf8(once))
  }

  @Test func collapseSpacesOff() {
    let keep = Normalize(collapseSpaces: false)
    #expect(utf8(keep.normalize("a  b\t\tc\u{A0}d  \n")) == utf8("a  b\t\tc d"))
  }

  @Test func keepIndentationOff() {
    let flat = Normalize(keepIndentation: false)
    #expect(utf8(flat.normalize("    code\n\t\tmore")) == utf8(" code\n more"))
    #expect(utf8(stage.normalize("    code\n\t\tmore")) == utf8("    code\n\t\tmore"))
  }

  @Test func trimLinesOff() {
    let keep = Normalize(trimLines: false)
    #expect(utf8(keep.normalize("a  \nb\t")) == utf8("a \nb "))
    // Blank lines keep their whitespace too (indentation rules apply), still limited in number.
    #expect(utf8(keep.normalize("a\n  \n\n   \n\nb")) == utf8("a\n  \n\nb"))
    let raw = Normalize(collapseSpaces: false, trimLines: false)
    #expect(utf8(raw.normalize("a  \nb")) == utf8("a  \nb"))
  }

  @Test(arguments: [(0, "a\nb"), (1, "a\n\nb"), (2, "a\n\n\nb"), (5, "a\n\n\n\n\n\nb"), (Int.max, "a\n\n\n\n\n\nb")])
  func maxBlankLines(limit: Int, expected: String) {
    let limited = Normalize(maxBlankLines: limit)
    #expect(utf8(limited.normalize("a\n\n \n\t\n\n\nb")) == utf8(expected))
  }

  @Test func everythingOffStillUnifiesLineBreaksAndTrimsTheDocument() {
    let minimal = Normalize(
      form: .none, removeControl: false, unifySpaces: false, collapseSpaces: false, keepIndentation: false,
      trimLines: false, maxBlankLines: Int.max)
    #expect(utf8(minimal.normalize("\n\na \u{7}\r\n\r\n\r\nb  \n\n")) == utf8("a \u{7}\n\n\nb  "))
  }

  @Test func configFromDescriptor() throws {
    let (resolved, issues) = Normalize.descriptor.resolve(
      ["form": .string("nfkc"), "collapseSpaces": .bool(false), "maxBlankLines": .int(0)], path: "stages[0].config")
    #expect(issues.isEmpty)
    let config = try #require(resolved)
    guard case .record(let made) = try Normalize.descriptor.make(config) else {
      Issue.record("normalize@1 must be a record stage")
      return
    }
    var record = makeRecord("ﬁ  x\n\n\ny")
    #expect(try made.process(&record, context: testContext) == .keep)
    #expect(textBytes(record) == utf8("fi  x\ny"))
  }

  // MARK: - Properties

  @Test(arguments: [
    Normalize(), Normalize(form: .nfkc), Normalize(form: .none), Normalize(unifySpaces: false),
    Normalize(removeControl: false), Normalize(collapseSpaces: false, trimLines: false),
    Normalize(keepIndentation: false, maxBlankLines: 0),
  ])
  func normalizingTwiceChangesNothing(stage: Normalize) {
    let samples = [
      "  a \u{A8} b\u{2000}\u{2001}c \u{7}\u{301} d\r\n\r\n\r\n\r\n e\u{0}\u{308}",
      "\u{E01}\u{E48}\u{7}\u{E38} \u{3000} \u{FF21}\u{FF22}\n\n\n\n\u{1E9B}\u{323}",
      "x \u{2025}  \u{A0}\u{308}\t\n\t\u{2126} \u{FB01}\u{FEFF}\u{85}\u{85}\u{85}\u{85}end",
      "\u{1100}\u{1161} \u{11A8}\u{AC00}\u{11A8}  か\u{3099}\u{309B}",
    ]
    for sample in samples {
      let once = stage.normalize(sample)
      #expect(utf8(stage.normalize(once)) == utf8(once), "\(scalarCodes(once))")
    }
  }

  @Test func quickCheckAgreesWithFoundation() {
    // The fast path (no String, no Foundation) must give the same bytes as the slow path.
    let samples = [
      "café naïve Ünïcödé", "中文测试，日本語のかなカナ", "한국어", "ภาษาไทย\u{E48}\u{E38}", "Привет",
      "emoji 😀🎉", "“quotes” – dash …", "e\u{301}", "\u{2126}", "\u{FA10}",
    ]
    for sample in samples {
      var text = sample
      let fast = text.withUTF8 { stage.normalizedBytes($0) } ?? utf8(sample)
      let slow = utf8(stage.layout.normalizeSlowly(sample))
      #expect(fast == slow, "\(scalarCodes(sample))")
    }
  }

  /// Random texts over the characters the layout pass treats differently (spaces single and in
  /// runs, tabs, line breaks, controls, DEL, Unicode spaces, letters), for every option: eight
  /// bytes at a time must give exactly the bytes of the byte-by-byte pass.
  @Test func wordAtATimeMatchesByteByByte() {
    let pieces: [String] = [
      "a", "Z", "word", "longerword", " ", " ", " ", "  ", "\t", "\n", "\r\n", "\u{7}", "\u{7F}", "\u{A0}", "\u{3000}",
      "é", "中", "\u{85}", "\u{200B}", "x y", "ab cd ef gh",
    ]
    var layouts: [TextLayout] = []
    for bits in 0..<32 {
      var layout = TextLayout()
      layout.removeControl = bits & 1 != 0
      layout.unifySpaces = bits & 2 != 0
      layout.collapseSpaces = bits & 4 != 0
      layout.keepIndentation = bits & 8 != 0
      layout.trimLines = bits & 16 != 0
      layout.maxBlankLines = bits % 3
      layouts.append(layout)
    }
    var generator = SeededRNG(seed: 11)
    for _ in 0..<300 {
      var text = ""
      for _ in 0..<Int(generator.next() % 40) { text += pieces[Int(generator.next() % UInt64(pieces.count))] }
      var bytes = utf8(text)
      bytes.withUnsafeMutableBufferPointer { mutable in
        let buffer = UnsafeBufferPointer(mutable)
        for layout in layouts {
          let fast = layout.apply(to: buffer, quickCheck: false)
          let slow = layout.apply(to: buffer, quickCheck: false, wordAtATime: false)
          #expect(fast.bytes == slow.bytes, "\(scalarCodes(text)) \(layout)")
          #expect(fast.isNormalizationStable == slow.isNormalizationStable)
        }
      }
    }
  }

  // MARK: - Large input

  @Test func tenMegabyteText() throws {
    let paragraph = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20) + "End.\n\n"
    let clean = String(repeating: paragraph, count: 10 * 1024 * 1024 / paragraph.utf8.count)
    #expect(clean.utf8.count > 9_000_000)

    // Clean apart from the trailing blank line: only the end changes.
    let (verdict, record) = try run(stage, on: clean)
    #expect(verdict == .keep)
    #expect(textBytes(record) == Array(utf8(clean).dropLast(2)))

    let messyParagraph =
      String(repeating: "The quick brown fox jumps over the lazy dog.  \u{A0}", count: 20) + "End.\n\n"
    let messy = String(repeating: messyParagraph, count: 10 * 1024 * 1024 / paragraph.utf8.count)
    let (messyVerdict, messyRecord) = try run(stage, on: messy)
    #expect(messyVerdict == .keep)
    #expect(textBytes(messyRecord) == Array(utf8(clean).dropLast(2)))

    let cjk = String(repeating: "中文文本处理测试。日本語のテキスト。\n", count: 10 * 1024 * 1024 / 64)
    let (cjkVerdict, cjkRecord) = try run(stage, on: cjk)
    #expect(cjkVerdict == .keep)
    #expect(textBytes(cjkRecord) == Array(utf8(cjk).dropLast()))
  }
}

extension TextLayout {
  /// The reference behaviour: the same layout pass, then Foundation's NFC, then the pass again.
  fileprivate func normalizeSlowly(_ text: String) -> String {
    var text = text
    let laidOut = text.withUTF8 { apply(to: $0, quickCheck: nil).bytes ?? Array($0) }
    var composed = String(decoding: laidOut, as: UTF8.self).precomposedStringWithCanonicalMapping
    return composed.withUTF8 { bytes in
      String(decoding: apply(to: bytes, quickCheck: nil).bytes ?? Array(bytes), as: UTF8.self)
    }
  }
}
