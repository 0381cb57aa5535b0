import PipeCore
import Testing

@testable import PipeStages

/// Words and shingles of `dedup.minhash`: datatrove's normalization, and scripts without spaces.
@Suite struct MinHashShinglerTests {
  let shingler = MinHashShingler(ngrams: 5, normalization: MinHashNormalization())

  @Test func normalizationFollowsDatatrove() {
    #expect(shingler.words(of: "Hello, World!  Caf\u{E9} na\u{EF}ve") == ["hello", "world", "cafe", "naive"])
    #expect(shingler.words(of: "cafe\u{301}") == ["cafe"], "decomposed accents are stripped too")
    #expect(
      shingler.words(of: "\u{130}STANBUL \u{DF}tra\u{DF}e \u{3A3}\u{39F}\u{3A6}\u{399}\u{386}") == [
        "istanbul", "\u{DF}tra\u{DF}e", "\u{3C3}\u{3BF}\u{3C6}\u{3B9}\u{3B1}",
      ])
    #expect(shingler.words(of: "tab\there\nnew\u{A0}line\u{2028}x") == ["tab", "here", "new", "line", "x"])
    #expect(shingler.words(of: "don't stop-me (now)") == ["don", "t", "stop", "me", "now"])
  }

  @Test func numbersBecomeZeroLikeDatatrovesPattern() {
    // \p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)? -> "0", before punctuation is removed.
    #expect(shingler.words(of: "pi is 3.14159 and e 2,71") == ["pi", "is", "0", "and", "e", "0"])
    #expect(shingler.words(of: "1,000,000 people") == ["0", "0", "people"])
    #expect(shingler.words(of: "v1.2.3 abc123def 42.") == ["v0", "0", "abc0def", "0"])
    #expect(shingler.words(of: "\u{661}\u{662}\u{66B}\u{663} \u{967}\u{968}") == ["0", "0"], "digits of any script")
    #expect(shingler.words(of: "\u{FF11}\u{FF12}") == ["0"], "fullwidth digits")
  }

  @Test func optionsCanBeTurnedOff() {
    let raw = MinHashShingler(
      ngrams: 5,
      normalization: MinHashNormalization(
        lowercase: false, removePunctuation: false, normalizeDigits: false, stripDiacritics: false))
    #expect(raw.words(of: "Caf\u{E9} 3.14, end.") == ["Caf\u{E9}", "3", ".", "14", ",", "end", "."])
    let noDigits = MinHashShingler(ngrams: 5, normalization: MinHashNormalization(normalizeDigits: false))
    #expect(noDigits.words(of: "v1.2 x42") == ["v1", "2", "x42"])
  }

  @Test func chineseAndJapaneseAreOneWordPerCharacter() {
    #expect(shingler.words(of: "我们是中国人。") == ["我", "们", "是", "中", "国", "人"])
    // NFD then dropping marks turns voiced kana into their base, as datatrove does.
    #expect(shingler.words(of: "がくせい、カタカナ") == ["か", "く", "せ", "い", "カ", "タ", "カ", "ナ"])
    #expect(shingler.words(of: "日本語text混在") == ["日", "本", "語", "text", "混", "在"])
    #expect(shingler.shingles(of: String(repeating: "中文文本测试数据", count: 10)).count == 76)
  }

  @Test func thaiIsOneWordPerLetterAndKoreanIsSpaced() {
    // Thai vowel and tone marks are nonspacing marks: stripped like accents.
    #expect(shingler.words(of: "ภาษาไทย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"])
    #expect(shingler.words(of: "ที่นี่") == ["ท", "น"])
    #expect(shingler.words(of: "한국어 텍스트입니다") == ["한국어", "텍스트입니다"])
  }

  @Test func emptyAndPunctuationOnlyTextsHaveNoShingles() {
    #expect(shingler.shingles(of: "").isEmpty)
    #expect(shingler.shingles(of: " \n\t ").isEmpty)
    #expect(shingler.shingles(of: "!!! ... ---").isEmpty)
  }

  @Test func textsShorterThanNWordsAreOneShingle() {
    #expect(shingler.shingles(of: "hello").count == 1)
    #expect(shingler.shingles(of: "Hello!") == shingler.shingles(of: "hello"))
    #expect(shingler.shingles(of: "hello world") != shingler.shingles(of: "world hello"))
    #expect(shingler.shingles(of: "hello world") != shingler.shingles(of: "hello"))
    #expect(shingler.shingles(of: "one two three four five").count == 1)
    #expect(shingler.shingles(of: "one two three four five six").count == 2)
  }

  @Test func shinglesAreWordNGramsInOrder() {
    let text = "a b c d e f g"
    let shingles = shingler.shingles(of: text)
    #expect(shingles.count == 3)
    #expect(Set(shingles).count == 3)
    // The same five words elsewhere give the same shingle.
    #expect(shingler.shingles(of: "x c d e f g")[1] == shingles[2])
    #expect(shingler.shingles(of: "z a b c d e")[1] == shingles[0])
  }

  @Test func hugeTextsStreamInChunksWithTheSameHashes() {
    let words = (0..<200_000).map { MinHashDedupTests.word("w", $0 % 9973) }
    let text = words.joined(separator: " ")
    var streamed: [UInt64] = []
    var chunks = 0
    var lastFlags: [Bool] = []
    var copy = text
    let count = copy.withUTF8 { bytes in
      shingler.forEachShingleChunk(bytes, chunkSize: 1000) { chunk, isLast in
        streamed += chunk
        chunks += 1
        lastFlags.append(isLast)
      }
    }
    #expect(count == words.count)
    #expect(streamed == shingler.shingles(of: text))
    #expect(streamed.count == words.count - 4)
    #expect(chunks == (words.count - 4 + 999) / 1000)
    #expect(lastFlags.dropLast().allSatisfy { !$0 } && lastFlags.last == true)
  }

  @Test func longWordsAndMixedScriptsHashTheSameWhateverThePath() {
    // The 8-byte ASCII fast path and the scalar path must agree: a word's hash depends only on
    // its normalized bytes.
    let long = "Supercalifragilisticexpialidocious"
    #expect(shingler.shingles(of: long) == shingler.shingles(of: long.lowercased()))
    #expect(shingler.shingles(of: "\(long) end") == shingler.shingles(of: "\(long.uppercased()), END!"))
    #expect(shingler.words(of: "ÀBCDEFGHIJKLMNOP") == ["abcdefghijklmnop"])
    #expect(shingler.shingles(of: "ÀBCDEFGHIJKLMNOP") == shingler.shingles(of: "abcdefghijklmnop"))
  }
}
