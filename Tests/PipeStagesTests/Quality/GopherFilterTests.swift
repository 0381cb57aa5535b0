import PipeCore
import Testing

@testable import PipeStages

/// `quality.gopher@1`: one passing and one failing document per rule, with datatrove's reasons.
@Suite struct GopherFilterTests {
  let filter = GopherFilter()

  @Test func keepsOrdinaryProse() throws {
    #expect(try reason(filter, prose(0, 8)) == nil)
    #expect(try reason(filter, proseLines(0, 8)) == nil)
    #expect(try run(filter, on: prose(0, 8)).record.isModified == false)
  }

  @Test func emptyText() throws {
    #expect(try run(filter, on: "").verdict == .drop(reason: "empty", detail: "the text is empty"))
  }

  @Test func oneWordIsAShortDocument() throws {
    // Repetition rules need two words or more; one word fails the length rule.
    #expect(try reason(filter, "hello") == "gopher_short_doc")
    #expect(try run(filter, on: "hello").verdict == .drop(reason: "gopher_short_doc", detail: "1 < 50"))
  }

  // MARK: - Repetition

  @Test func duplicateParagraphs() throws {
    let a = prose(0, 3)
    let b = prose(100, 3)
    #expect(try reason(filter, [a, b, a, a].joined(separator: "\n\n")) == "dup_para_frac")
    #expect(try reason(filter, [a, b].joined(separator: "\n\n")) == nil)
  }

  @Test func duplicateParagraphCharacters() throws {
    let long = prose(0, 6)
    let smalls = (0..<5).map { prose(200 + 30 * $0, 1) }
    #expect(try reason(filter, ([long] + smalls + [long]).joined(separator: "\n\n")) == "dup_para_char_frac")
  }

  @Test func duplicateLines() throws {
    let x = sentence(0)
    let y = sentence(50)
    #expect(try reason(filter, [x, y, x, x].joined(separator: "\n")) == "dup_line_frac")
  }

  @Test func duplicateLinesAmongLinesOfOneLength() throws {
    // Lines of equal length are compared by content: only the five copies count.
    let distinct = (0..<9).map { "row 1\($0) same" }
    let lines = distinct + Array(repeating: distinct[0], count: 5) + ["a longer line of its own length"]
    #expect(
      try run(filter, on: lines.joined(separator: "\n")).verdict
        == .drop(reason: "dup_line_frac", detail: "0.3333 > 0.3"))
    let withoutCopies = try reason(filter, distinct.joined(separator: "\n"))
    #expect(withoutCopies != nil && !(withoutCopies ?? "").hasPrefix("dup_line"))
  }

  @Test func duplicateLineCharacters() throws {
    let long = prose(0, 6)
    let lines = [long] + (0..<5).map { sentence(300 + 10 * $0) } + [long]
    #expect(try reason(filter, lines.joined(separator: "\n")) == "dup_line_char_frac")
  }

  @Test func topTwoGram() throws {
    let verdict = try run(filter, on: Array(repeating: "go now", count: 30).joined(separator: " ")).verdict
    #expect(reason(verdict) == "top_2_gram")
  }

  /// A repeated n-gram with unique filler after each occurrence.
  private func repeated(_ gram: [String], times: Int, filler: Int, start: Int = 500) -> String {
    (0..<times).flatMap { gram + words(start + 40 * $0, filler) }.joined(separator: " ")
  }

  @Test func topThreeAndFourGrams() throws {
    #expect(
      try reason(filter, repeated(["xq", "zq", String(repeating: "y", count: 13)], times: 4, filler: 12))
        == "top_3_gram")
    #expect(
      try reason(filter, repeated(["xq", "zq", "wq", String(repeating: "y", count: 8)], times: 4, filler: 12))
        == "top_4_gram")
  }

  @Test(arguments: [(5, 8, 20), (6, 4, 20), (7, 6, 30), (8, 3, 30), (9, 3, 30), (10, 2, 30)])
  func duplicatedNGrams(n: Int, times: Int, filler: Int) throws {
    let text = repeated(words(3000, n), times: times, filler: filler, start: 600)
    #expect(try reason(filter, text) == "duplicated_\(n)_n_grams")
  }

  // MARK: - Quality

  @Test func shortDocument() throws {
    let text = (words(0, 20) + ["the"] + words(20, 20) + ["and"]).joined(separator: " ") + "."
    #expect(try run(filter, on: text).verdict == .drop(reason: "gopher_short_doc", detail: "42 < 50"))
  }

  @Test func averageWordLength() throws {
    let short = (0..<60).map(shortWord).joined(separator: " ") + " the and."
    #expect(try reason(filter, short) == "gopher_below_avg_threshold")
    let long = (0..<60).map { word($0) + word($0 + 700) }.joined(separator: " ") + " the and."
    #expect(try reason(filter, long) == "gopher_above_avg_threshold")
  }

  @Test func hashesAndEllipses() throws {
    let hashes = prose(0, 8) + " " + (0..<20).map { "#" + word(2000 + $0) }.joined(separator: " ")
    #expect(try reason(filter, hashes) == "gopher_too_many_hashes")
    let ellipses =
      (0..<20).map { word(2100 + $0) + "... " + word(2200 + $0) }.joined(separator: " ") + " " + prose(0, 8)
    #expect(try reason(filter, ellipses) == "gopher_too_many_ellipsis")
  }

  @Test func bulletAndEllipsisLines() throws {
    let bullets = (0..<10).map { "- " + sentence(9 * $0) }.joined(separator: "\n")
    #expect(try reason(filter, bullets) == "gopher_too_many_bullets")
    let bulletsWithDot = (0..<10).map { "  • " + sentence(9 * $0) }.joined(separator: "\n")
    #expect(try reason(filter, bulletsWithDot) == "gopher_too_many_bullets")
    let endings = (0..<10).map { String(sentence(9 * $0).dropLast()) + ($0 < 4 ? "..." : ".") }
    #expect(try reason(filter, endings.joined(separator: "\n")) == "gopher_too_many_end_ellipsis")
  }

  @Test func alphabeticWords() throws {
    let numbers = prose(0, 8) + " " + (0..<40).map { String(1000 + 7 * $0) }.joined(separator: " ")
    let verdict = try run(filter, on: numbers).verdict
    #expect(reason(verdict) == "gopher_below_alpha_threshold")
  }

  @Test func stopWords() throws {
    let text = (0..<8).map { words(9 * $0, 9).joined(separator: " ") + "." }.joined(separator: " ")
    #expect(try run(filter, on: text).verdict == .drop(reason: "gopher_enough_stop_words", detail: "0 < 2"))
    // Stop words match case-sensitively, as in datatrove.
    let capitalized = "The And " + text
    #expect(try reason(filter, capitalized) == "gopher_enough_stop_words")
  }

  @Test func cjkTextIsNotOneLongWord() throws {
    // Chinese prose: each ideograph is a word, so the document is long enough but its words are
    // short (English thresholds do not fit Chinese; override them for such corpora).
    let chinese = String(repeating: "这是一个关于中文分词的测试句子，我们希望每个汉字都算作一个词。", count: 3)
    #expect(try reason(filter, chinese) != "gopher_short_doc")
    var quality = GopherFilter.Quality()
    quality.minAvgWordLength = 0
    quality.minStopWords = 0
    let relaxed = GopherFilter(quality: quality)
    let unique = (0..<80).map { String(decoding: [UInt16(0x4E00 + 37 * $0)], as: UTF16.self) }.joined() + "。"
    #expect(try reason(relaxed, unique) == nil)
  }

  @Test func thaiText() throws {
    // Short texts fail the top 2-gram rule first (as in datatrove); switch it off to see the
    // length rule count Thai chunks as words.
    var repetition = GopherFilter.Repetition()
    repetition.topNGramFracs = []
    var quality = GopherFilter.Quality()
    quality.minStopWords = 0
    let relaxed = GopherFilter(repetition: repetition, quality: quality)
    let thai = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ"
    #expect(try run(relaxed, on: thai).verdict == .drop(reason: "gopher_short_doc", detail: "10 < 50"))
  }

  @Test func datatroveWordSplittingOption() throws {
    // With datatrove's splitting, 80 ideographs are one word and the document is short.
    let unique = (0..<80).map { String(decoding: [UInt16(0x4E00 + 37 * $0)], as: UTF16.self) }.joined() + "。"
    var quality = GopherFilter.Quality()
    quality.minAvgWordLength = 0
    quality.minStopWords = 0
    var repetition = GopherFilter.Repetition()
    repetition.topNGramFracs = []
    #expect(try reason(GopherFilter(repetition: repetition, quality: quality), unique) == nil)
    let exact = GopherFilter(repetition: repetition, quality: quality, splitSpacelessScripts: false)
    #expect(try run(exact, on: unique).verdict == .drop(reason: "gopher_short_doc", detail: "1 < 50"))
    let configured = try makeStage(GopherFilter.descriptor, ["splitSpacelessScripts": .bool(false)])
    #expect(try reason(configured, unique) == "top_2_gram")
  }

  // MARK: - Config

  @Test func descriptorDefaultsAreDatatrovesAndBuild() throws {
    let config = try resolvedConfig(GopherFilter.descriptor)
    #expect(config.values["dupLineFrac"]?.doubleValue == 0.3)
    #expect(config.values["top4GramFrac"]?.doubleValue == 0.16)
    #expect(config.values["dup10GramFrac"]?.doubleValue == 0.1)
    #expect(config.values["minDocWords"]?.intValue == 50)
    #expect(config.values["maxDocWords"]?.intValue == 100_000)
    #expect(
      config.values["stopWords"]?.arrayValue?.compactMap(\.stringValue) == [
        "the", "be", "to", "of", "and", "that", "have", "with",
      ])
    let built = GopherFilter(options: GopherFilter.Options(resolved: config))
    #expect(built.repetition == GopherFilter.Repetition())
    #expect(built.quality == GopherFilter.Quality())
    #expect(GopherFilter.descriptor.qualifiedName == "quality.gopher@1")
  }

  @Test func configOverrides() throws {
    let long = prose(0, 12)
    #expect(try reason(makeStage(GopherFilter.descriptor), long) == nil)
    let strict = try makeStage(GopherFilter.descriptor, ["maxDocWords": .int(100)])
    #expect(try run(strict, on: long).verdict == .drop(reason: "gopher_long_doc", detail: "132 > 100"))
    // 0 turns a rule off.
    let text = (0..<8).map { words(9 * $0, 9).joined(separator: " ") + "." }.joined(separator: " ")
    #expect(try reason(makeStage(GopherFilter.descriptor, ["minStopWords": .int(0)]), text) == nil)
    let custom = try makeStage(GopherFilter.descriptor, ["stopWords": .array([.string("bababa"), .string("cebaba")])])
    #expect(try reason(custom, text) == nil)
    let noDuplicates = try makeStage(GopherFilter.descriptor, ["dupLineFrac": .int(0), "dupLineCharFrac": .int(0)])
    let x = sentence(0)
    #expect(try reason(noDuplicates, [x, sentence(50), x, x].joined(separator: "\n")) != "dup_line_frac")
    let (_, issues) = GopherFilter.descriptor.resolve(["dupLineFrac": .double(1.5)], path: "config")
    #expect(issues.map(\.path) == ["config.dupLineFrac"])
  }
}
