import Testing

@testable import PipeStages

/// Sentence and word splitting on UTF-8 bytes.
struct SegmentationTests {
  /// The segment contents of `text`.
  private func sentences(_ text: String) -> [String] {
    var copy = text
    return copy.withUTF8 { bytes in
      var segments: [Segment] = []
      Segmentation.split(bytes, into: &segments)
      return segments.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.start..<$0.end]), as: UTF8.self) }
    }
  }

  private func words(_ text: String) -> [String] {
    var copy = text
    return copy.withUTF8 { bytes in
      var spans: [MoleWordSpan] = []
      MoleWords.spans(in: bytes, range: 0..<bytes.count, into: &spans)
      return spans.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.start..<$0.end]), as: UTF8.self) }
    }
  }

  @Test func splitsOnTerminalsFollowedBySpaceAndOnLineBreaks() {
    #expect(
      sentences("  One two. Three four! Five six?\nSeven eight\n\nNine.  ")
        == ["One two.", "Three four!", "Five six?", "Seven eight", "Nine."])
  }

  @Test func keepsAbbreviationsDecimalsAndLowercaseContinuations() {
    #expect(
      sentences("Pi is 3.14 e.g. here. Dr. Smith came. Use panic! macro now.") == [
        "Pi is 3.14 e.g. here.", "Dr. Smith came.", "Use panic! macro now.",
      ])
    #expect(sentences("He said \"Stop.\" Then left.") == ["He said \"Stop.\"", "Then left."])
  }

  @Test func splitsChineseAndJapaneseWithoutSpaces() {
    #expect(sentences("今天天气很好。我们去公园吧！你来吗？") == ["今天天气很好。", "我们去公园吧！", "你来吗？"])
    #expect(sentences("これはペンです。「はい」と言った。") == ["これはペンです。", "「はい」と言った。"])
  }

  @Test func emptyAndBlankTextsHaveNoSegments() {
    #expect(sentences("").isEmpty)
    #expect(sentences(" \n\t \n").isEmpty)
  }

  @Test func wordsSplitCJKPerCharacterAndThaiInChunks() {
    #expect(words("Hello, wörld_1 (x)!") == ["Hello", "wörld_1", "x"])
    #expect(words("中文ABC字") == ["中", "文", "ABC", "字"])
    let thai = words("ภาษาไทยง่ายนิดเดียว")
    #expect(thai.count >= 3)
    #expect(thai.joined() == "ภาษาไทยง่ายนิดเดียว")
    // A chunk never starts with a combining mark.
    for chunk in thai {
      let first = chunk.unicodeScalars.first?.value ?? 0
      #expect(!ScalarClass.isSoutheastAsianMark(first))
    }
  }

  @Test func wordHashFoldsASCIICaseOnly() {
    #expect(MoleWords.hash("Hello") == MoleWords.hash("hELLO"))
    #expect(MoleWords.hash("Über") != MoleWords.hash("über"))
  }
}
