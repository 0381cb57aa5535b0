import Testing

@testable import PipeTokenizers

/// The pieces of `text` under `steps`.
func pieces(_ text: String, _ steps: [PreTokenizerStep]) -> [String] {
  var segment = DecodedSegment()
  var text = text
  return text.withUTF8 { bytes in
    segment.decode(bytes)
    var result: [String] = []
    PreTokenizer(steps: steps).forEachPiece(segment) { range in
      let slice = bytes[segment.offsets[range.lowerBound]..<segment.offsets[range.upperBound]]
      result.append(String(decoding: UnsafeBufferPointer(rebasing: slice), as: UTF8.self))
    }
    return result
  }
}

/// Expected pieces are what Hugging Face `tokenizers` 0.23 (`pre_tokenizers.Split` with each
/// regex, behavior "isolated") printed for the same strings.
@Suite struct PreTokenizerTests {
  @Test func gpt2SplitsAsTheRegexDoes() {
    let gpt2: [PreTokenizerStep] = [.split(.gpt2)]
    #expect(pieces("Hello world, it's 2024!", gpt2) == ["Hello", " world", ",", " it", "'s", " 2024", "!"])
    #expect(pieces("  two  spaces\n\n  x", gpt2) == [" ", " two", " ", " spaces", "\n\n ", " x"])
    #expect(
      pieces("They'LL (go) ſ'ſ 'Ve", gpt2) == ["They", "'", "LL", " (", "go", ")", " ſ", "'", "ſ", " '", "Ve"])
    #expect(pieces("a\tb \r\n\r\n c", gpt2) == ["a", "\t", "b", " \r\n\r\n", " c"])
    #expect(pieces("12345 67", gpt2) == ["12345", " 67"])
    #expect(pieces("x  ", gpt2) == ["x", "  "])
    #expect(pieces("ok!!\n\nyes", gpt2) == ["ok", "!!", "\n", "\n", "yes"])
  }

  @Test func qwen2SplitsDigitsOneByOneAndKeepsLineBreaksWithPunctuation() {
    let qwen2: [PreTokenizerStep] = [.split(.qwen2)]
    #expect(
      pieces("Hello world, it's 2024!", qwen2) == ["Hello", " world", ",", " it", "'s", " ", "2", "0", "2", "4", "!"])
    #expect(pieces("  two  spaces\n\n  x", qwen2) == [" ", " two", " ", " spaces", "\n\n", " ", " x"])
    #expect(pieces("They'LL (go) ſ'ſ 'Ve", qwen2) == ["They", "'LL", " (", "go", ")", " ſ", "'ſ", " '", "Ve"])
    #expect(pieces("a\tb \r\n\r\n c", qwen2) == ["a", "\tb", " \r\n\r\n", " c"])
    #expect(pieces("12345 67", qwen2) == ["1", "2", "3", "4", "5", " ", "6", "7"])
    #expect(pieces("ok!!\n\nyes", qwen2) == ["ok", "!!\n\n", "yes"])
    // Contractions in any case, the long s folding to s as in the regex engines.
    #expect(pieces("'ſx", qwen2) == ["'ſ", "x"])
    #expect(pieces("'Sx", qwen2) == ["'S", "x"])
    #expect(pieces("'LLx", qwen2) == ["'LL", "x"])
    #expect(pieces("'\u{212A}x", qwen2) == ["'\u{212A}x"])
  }

  @Test func llama3GroupsDigitsByThree() {
    let llama3: [PreTokenizerStep] = [.split(.llama3)]
    #expect(pieces("Hello world, it's 2024!", llama3) == ["Hello", " world", ",", " it", "'s", " ", "202", "4", "!"])
    #expect(pieces("12345 67", llama3) == ["123", "45", " ", "67"])
  }

  @Test func smolLM2IsolatesDigitsBeforeTheByteLevelSplit() {
    let smol: [PreTokenizerStep] = [.isolateDigits, .split(.gpt2)]
    #expect(
      pieces("Hello world, it's 2024!", smol) == ["Hello", " world", ",", " it", "'s", " ", "2", "0", "2", "4", "!"])
    #expect(pieces("12345 67", smol) == ["1", "2", "3", "4", "5", " ", "6", "7"])
    // Other number characters (category N) are digits too.
    #expect(pieces("x½²", smol) == ["x", "½", "²"])
  }

  @Test func scriptsWithoutSpacesAndWhitespaceBeyondASCII() {
    let qwen2: [PreTokenizerStep] = [.split(.qwen2)]
    #expect(pieces("中文，路径 /usr", qwen2) == ["中文", "，路径", " /", "usr"])
    // U+00A0 and U+3000 are whitespace (\s): they lead the next word as a space would.
    #expect(pieces("a\u{00A0}b\u{3000}\u{3000}c", qwen2) == ["a", "\u{00A0}b", "\u{3000}", "\u{3000}c"])
    #expect(pieces("", qwen2) == [])
  }

  @Test func everyPatternIsRecognizedFromItsRegex() {
    for pattern in SplitPattern.allCases { #expect(SplitPattern(regex: pattern.regex) == pattern) }
    #expect(SplitPattern(regex: #"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#) == .gpt2)
    #expect(SplitPattern(regex: #"\w+|[^\w\s]+"#) == nil)
  }
}
