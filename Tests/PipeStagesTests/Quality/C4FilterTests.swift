import PipeCore
import Testing

@testable import PipeStages

/// `quality.c4@1`: line removal, document drops and the cleaned text, as datatrove's filter.
@Suite struct C4FilterTests {
  let filter = C4Filter()

  @Test func keepsCleanProseUnchanged() throws {
    let text = proseLines(0, 6)
    let (verdict, record) = try run(filter, on: text)
    #expect(verdict == .keep)
    #expect(!record.isModified)
  }

  @Test func removesBadLinesAndKeepsTheRest() throws {
    let lines = [
      "Menu", sentence(0), "Home page", "Yes.", sentence(9),
      "Please enable JavaScript to continue reading this page.", sentence(18),
      "Read our privacy policy before you go.", "He said wait...", "Paris is the capital of France.[1]",
      "  " + sentence(27) + "  ", sentence(36), "a " + String(repeating: "x", count: 1001) + " b.",
    ]
    let (verdict, record) = try run(filter, on: lines.joined(separator: "\n"))
    #expect(verdict == .keep)
    let expected = [
      sentence(0), sentence(9), sentence(18), "Paris is the capital of France.", sentence(27), sentence(36),
    ]
    #expect(textBytes(record) == utf8(expected.joined(separator: "\n")))
  }

  @Test func tooFewSentences() throws {
    #expect(try run(filter, on: proseLines(0, 4)).verdict == .drop(reason: "too_few_sentences", detail: "4 < 5"))
    // Sentences inside one line count separately.
    #expect(try reason(filter, proseLines(0, 4) + "\nOne. Two. Three. Four. Five.") == nil)
  }

  @Test func loremIpsumAndCurlyBracketDropTheDocument() throws {
    #expect(try reason(filter, proseLines(0, 6) + "\nLorem ipsum dolor sit amet.") == "lorem_ipsum")
    #expect(try reason(filter, proseLines(0, 6) + "\nLOREM IPSUM dolor sit amet.") == "lorem_ipsum")
    #expect(try reason(filter, proseLines(0, 6) + "\nThe value of x is {x} today.") == "curly_bracket")
    // A brace in a line that is removed anyway does not count.
    #expect(try reason(filter, proseLines(0, 6) + "\nThe value of x is {x} today") == nil)
  }

  @Test func emptyAndOneWordText() throws {
    #expect(try reason(filter, "") == "too_few_sentences")
    #expect(try reason(filter, "hello") == "too_few_sentences")
  }

  @Test func citationsAreRemoved() {
    var text = "See [12] and [edit] or [citation needed] but [x] stays."
    let removed = text.withUTF8 { C4Filter.removingCitations($0, 0, $0.count) }
    #expect(removed.map { String(decoding: $0, as: UTF8.self) } == "See  and  or  but [x] stays.")
    var plain = "No citations here."
    #expect(plain.withUTF8 { C4Filter.removingCitations($0, 0, $0.count) } == nil)
  }

  @Test func cjkAndThaiLines() throws {
    // Chinese sentences end with 。, which is not C4's terminal punctuation: the lines go.
    #expect(try reason(filter, "这是第一句。\n这是第二句。") == "too_few_sentences")
    #expect(try reason(filter, "ภาษาไทย ง่าย มาก.\nภาษาไทย ยาก ไหม?") == "too_few_sentences")
  }

  @Test func configOverrides() throws {
    let lenient = try makeStage(C4Filter.descriptor, ["minNumSentences": .int(-1), "filterCurlyBracket": .bool(false)])
    #expect(try reason(lenient, "Short text with braces {x}.") == nil)
    let noTerminal = try makeStage(
      C4Filter.descriptor, ["filterNoTerminalPunct": .bool(false), "minNumSentences": .int(2)])
    let (verdict, record) = try run(noTerminal, on: "First line without a stop\nSecond line without one")
    #expect(verdict == .keep)
    #expect(textBytes(record) == utf8("First line without a stop\nSecond line without one"))
    let sentences = try makeStage(C4Filter.descriptor, ["splitParagraph": .bool(false)])
    let (sentenceVerdict, sentenceRecord) = try run(sentences, on: prose(0, 5) + " Menu")
    #expect(sentenceVerdict == .keep)
    #expect(textBytes(sentenceRecord) == utf8(prose(0, 5)))
  }

  @Test func descriptorDefaults() throws {
    let config = try resolvedConfig(C4Filter.descriptor)
    #expect(
      config.canonicalText
        == #"{"filterCurlyBracket":true,"filterJavascript":true,"filterLoremIpsum":true,"filterNoTerminalPunct":true,"filterPolicy":true,"maxWordLength":1000,"minNumSentences":5,"minWordsPerLine":3,"removeCitations":true,"splitParagraph":true}"#
    )
    #expect(C4Filter.descriptor.qualifiedName == "quality.c4@1")
  }

  @Test func phrasesAreFoundInOnePassAsOnePerPhrase() {
    let phrases = ["lorem ipsum", "javascript", "terms of use", "use cookies", "uses cookies", "use of cookies"]
    let finder = CaselessPhrases(phrases)
    let lines = [
      "", "u", "use", "We USE COOKIES; see the Terms Of Use.", "This site uses cookies and JavaScript.",
      "Lorem Ipsum dolor", "lorem  ipsum", "use of cookies is the use cookies", "java script", "terms of us",
      "TERMS OF USE", "ends with javascrip", "xxjavascriptxxlorem ipsumxx",
    ]
    for line in lines {
      let bytes = Array(line.utf8)
      let found = bytes.withUnsafeBufferPointer { finder.occurrences(in: $0, 0, bytes.count) }
      var expected: UInt64 = 0
      for (index, phrase) in phrases.enumerated()
      where bytes.withUnsafeBufferPointer({ QualityText.containsIgnoringCase($0, 0, bytes.count, Array(phrase.utf8)) })
      {
        expected |= 1 << UInt64(index)
      }
      #expect(found == expected, "\(line)")
    }
    let both = Array("We USE COOKIES; see the Terms Of Use.".utf8)
    #expect(both.withUnsafeBufferPointer { finder.occurrences(in: $0, 0, both.count) } == 0b1100)
  }
}
