import PipeCore
import Testing

@testable import PipeStages

/// `quality.fineweb@1`: one passing and one failing document per rule, with datatrove's reasons.
@Suite struct FineWebFilterTests {
  let filter = FineWebFilter()

  @Test func keepsProseLines() throws {
    #expect(try reason(filter, proseLines(0, 6)) == nil)
  }

  @Test func emptyText() throws {
    #expect(try reason(filter, "") == "empty")
    #expect(try reason(filter, "  \n\t\n") == "empty")
  }

  @Test func oneWord() throws {
    #expect(try reason(filter, "hello") == "line_punct_ratio")
    #expect(try reason(filter, "hello.") == "short_line_ratio")
  }

  @Test func linePunctuation() throws {
    let text = (0..<10).map { words(10 * $0, 6).joined(separator: " ") }.joined(separator: "\n")
    #expect(try run(filter, on: text).verdict == .drop(reason: "line_punct_ratio", detail: "0 < 0.12"))
    // Terminal punctuation of other scripts counts: 。 ends Chinese sentences.
    let chinese = (0..<10).map { "这是一个相当长的中文句子，用来测试标点符号的统计是否正确第\($0)句。" }
    #expect(try reason(filter, chinese.joined(separator: "\n")) == nil)
  }

  @Test func shortLines() throws {
    let text = (0..<10).map { "Short line \(word($0))." }.joined(separator: "\n")
    #expect(try reason(filter, text) == "short_line_ratio")
  }

  @Test func duplicateLines() throws {
    #expect(try reason(filter, proseLines(0, 6) + "\n" + sentence(0)) == "char_dup_ratio")
  }

  @Test func manyNewlinesPerWord() throws {
    let text = (0..<20).map {
      String(repeating: word($0), count: 3) + " " + String(repeating: word($0 + 500), count: 3) + "."
    }
    #expect(try reason(filter, text.joined(separator: "\n")) == "list_ratio")
  }

  @Test func thaiText() throws {
    let thai = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำแต่ก็อ่านเข้าใจได้ง่าย!\nประโยคที่สองก็ยาวพอสมควรเพื่อไม่ให้เป็นบรรทัดสั้น!"
    #expect(try reason(filter, thai) == nil)
  }

  @Test func configOverrides() throws {
    let text = (0..<10).map { "Short line \(word($0))." }.joined(separator: "\n")
    #expect(try reason(makeStage(FineWebFilter.descriptor, ["shortLineThr": .double(1)]), text) == nil)
    let unpunctuated = (0..<10).map { words(10 * $0, 6).joined(separator: " ") }.joined(separator: "\n")
    let excludeZero = try makeStage(FineWebFilter.descriptor, ["linePunctExcludeZero": .bool(true)])
    #expect(try reason(excludeZero, unpunctuated) == nil)
    let custom = try makeStage(FineWebFilter.descriptor, ["stopChars": .array([.string("a")])])
    #expect(try reason(custom, unpunctuated) == nil)
  }

  @Test func descriptorDefaults() throws {
    let config = try resolvedConfig(FineWebFilter.descriptor)
    #expect(config.values["linePunctThr"]?.doubleValue == 0.12)
    #expect(config.values["stopChars"].flatMap { $0 == .null ? nil : $0 } == nil)
    #expect(config.values["shortLineThr"]?.doubleValue == 0.67)
    #expect(config.values["shortLineLength"]?.intValue == 30)
    #expect(config.values["charDuplicatesRatio"]?.doubleValue == 0.01)
    #expect(config.values["newLineRatio"]?.doubleValue == 0.3)
    #expect(FineWebFilter.descriptor.qualifiedName == "quality.fineweb@1")
  }
}
