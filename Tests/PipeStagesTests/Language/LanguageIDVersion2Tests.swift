import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// `lang.id@2`: words of the dominant script only, and reading that stops once the decision is
/// clear (with a look at the middle of long texts before stopping).
struct LanguageIDVersion2Tests {
  static let version2 = LanguageModel.Reading(dominantScriptOnly: true, stopMargin: LanguageID.defaultStopMargin)

  /// German prose, long enough to be read in several chunks.
  static let german = String(
    repeating: "Der Befehl zeigt den Inhalt einer Datenbank in einer für Menschen lesbaren Form an, "
      + "und die Optionen bestimmen, welche Einträge ausgegeben werden und in welcher Reihenfolge. ", count: 80)

  @Test func aSingleScriptTextReadToTheEndScoresAsVersionOne() throws {
    let model = try LanguageModel.shared()
    let whole = LanguageModel.Reading(dominantScriptOnly: true, stopMargin: nil)
    var compared = 0
    defer { #expect(compared >= 8) }
    for (_, text) in LanguageIDTests.sentences {
      // Only sentences whose every letter is in one script: the same n-grams are read.
      let scripts = Set(
        text.unicodeScalars.map { LanguageModel.fold($0.value) }.filter(LanguageModel.isLetter)
          .map(LanguageModel.script(of:)))
      guard scripts.count == 1 else { continue }
      compared += 1
      let first = model.classify(text)
      let second = model.classify(text, reading: whole)
      #expect(second == first, "\(text.prefix(30))")
    }
  }

  @Test func theReadingStopsEarlyOnAClearTextWithTheSameAnswer() throws {
    let model = try LanguageModel.shared()
    let full = model.classify(Self.german)
    let early = model.classify(Self.german, reading: Self.version2)
    #expect(full.language == "de" && early.language == "de")
    // The score is a per-n-gram average, so a prefix gives about the same.
    #expect(abs(full.score - early.score) < 0.05)
  }

  @Test func aHeaderInAnotherLanguageDoesNotDecideALongText() throws {
    let model = try LanguageModel.shared()
    // An English header, clear enough for the margin on its own, above a long German body.
    let header = String(
      repeating: "This manual page describes the options of the program and the files it reads at start. ", count: 4)
    let text = header + Self.german
    let headerAlone = model.classify(header, reading: Self.version2)
    #expect(headerAlone.language == "en")
    // The header alone is past the margin: without the look at the middle of the text, the
    // reading would stop there and answer "en".
    #expect(model.classify(text, reading: Self.version2).language == "de")
    #expect(model.classify(text).language == "de")
  }

  @Test func mixedScriptTextIsDecidedByItsMainScriptAlone() throws {
    let model = try LanguageModel.shared()
    let prose = "如果此字段包含一个数字，此数字会用于 UID。如果一个现有用户更改了 UID，此用户的文件所有权需要手动修复。"
    let quoted =
      "如果此字段包含一个数字 pip install --upgrade setuptools ，此数字会用于 /usr/local/bin 。"
      + "如果一个现有用户更改了 make install PREFIX=/opt ，此用户的文件所有权需要手动修复。"
    let withoutLatin = "如果此字段包含一个数字 ，此数字会用于 。如果一个现有用户更改了 ，此用户的文件所有权需要手动修复。"
    let stripped = model.classify(withoutLatin, reading: Self.version2)
    let mixed = model.classify(quoted, reading: Self.version2)
    // The Latin words are word breaks: the same n-grams as the text without them.
    #expect(mixed == stripped)
    #expect(mixed.language == "zh" && mixed.score >= 0.65)
    #expect(model.classify(prose, reading: Self.version2).language == "zh")
  }

  @Test func theDominantScriptCountsLettersAndStopsWhenItCannotChange() throws {
    func dominant(_ text: String, maxChars: Int = 10_000) -> UInt8 {
      var text = text
      return text.withUTF8 { LanguageModel.dominantScript($0, maxChars: maxChars) }
    }
    #expect(dominant("hello world") == LanguageModel.Script.latin)
    #expect(dominant("12345 !!!") == LanguageModel.Script.other)
    let cyrillic = dominant("привет мир")
    #expect(cyrillic != LanguageModel.Script.latin && cyrillic != LanguageModel.Script.other)
    // A Latin run long enough to decide early, then more Cyrillic letters than it: all read.
    let latin = String(repeating: "a", count: 600)
    let russian = String(repeating: "ж", count: 700)
    #expect(dominant(latin + " " + russian) == cyrillic)
    // maxChars: only what is classified counts.
    #expect(dominant(latin + " " + russian, maxChars: 600) == LanguageModel.Script.latin)
  }

  @Test func version2IsAnOpWithItsStopMargin() throws {
    let descriptor = LanguageID.descriptorVersion2
    #expect(descriptor.qualifiedName == "lang.id@2")
    let (defaults, _) = descriptor.resolve([:], path: "stages[0].config")
    #expect(try #require(defaults).values["stopMargin"]?.doubleValue == LanguageID.defaultStopMargin)
    let (config, issues) = descriptor.resolve(["stopMargin": .double(0)], path: "stages[0].config")
    #expect(issues.isEmpty)
    guard case .record(let stage as LanguageID) = try descriptor.make(try #require(config)) else {
      Issue.record("lang.id@2 is not a record stage")
      return
    }
    #expect(stage.reading.stopMargin == nil && stage.reading.dominantScriptOnly)
    let (_, bad) = descriptor.resolve(["stopMargin": .double(-1)], path: "stages[0].config")
    #expect(bad.first?.path == "stages[0].config.stopMargin")
  }
}
