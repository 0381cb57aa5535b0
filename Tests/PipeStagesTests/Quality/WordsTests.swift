import Testing

@testable import PipeStages

/// Word splitting: datatrove's English splitting (spaCy's rules), checked against spaCy 3.8's
/// output for each case, plus the cuts for scripts without spaces.
@Suite struct WordsTests {
  @Test(arguments: [
    (
      "I can't go to https://example.com/a-b now.",
      ["I", "ca", "n't", "go", "to", "https://example.com/a-b", "now", "."]
    ),
    (
      "Dr. Smith's 10am meeting, e.g. today (U.S.A.)!",
      ["Dr.", "Smith", "'s", "10", "am", "meeting", ",", "e.g.", "today", "(", "U.S.A.", ")", "!"]
    ),
    (
      "state-of-the-art x.Y 3+4 'quoted' \"dq\"",
      ["state", "-", "of", "-", "the", "-", "art", "x.", "Y", "3", "+", "4", "'", "quoted", "'", "\"", "dq", "\""]
    ),
    (
      "Hello:) f(x):) self.foo() os.path.join(a,b)",
      ["Hello", ":)", "f(x", "):", ")", "self.foo", "(", ")", "os.path.join(a", ",", "b", ")"]
    ),
    (
      "...and end... a...b 10km $100 100% #include <stdio.h> C++",
      [
        "...", "and", "end", "...", "a", "...", "b", "10", "km", "$", "100", "100", "%", "#", "include", "<", "stdio.h",
        ">", "C++",
      ]
    ),
    (
      "don't dont id Id ids cannot gonna",
      ["do", "n't", "do", "nt", "i", "d", "I", "d", "ids", "can", "not", "gon", "na"]
    ),
    (
      "Mr.Smith foo.Bar hello.world 192.168.1.1 8.8.8.8 user@example.com",
      ["Mr.", "Smith", "foo", ".", "Bar", "hello.world", "192.168.1.1", "8.8.8.8", "user@example.com"]
    ),
    (
      "—dash– “curly” ‘single’ «guillemets»",
      ["—", "dash", "–", "“", "curly", "”", "‘", "single", "’", "«", "guillemets", "»"]
    ),
    ("email: a@b.co, ftp://x.org:8080/p?q=1#f.", ["email", ":", "a@b.co", ",", "ftp://x.org:8080/p?q=1#f", "."]),
    ("x=1;y=2 --help ~/path a/b c:d", ["x=1;y=2", "--help", "~/path", "a", "/", "b", "c", ":", "d"]),
    (
      "“x”.“Y” é.B «a».«B» ü.Ö",
      ["“", "x”", ".", "“Y", "”", "é", ".", "B", "«", "a»", ".", "«B", "»", "ü.", "Ö"]
    ),
  ])
  func splitsLikeDatatroveForEnglish(text: String, expected: [String]) {
    #expect(splitWords(text) == expected)
  }

  @Test func emptyAndBlankTextHaveNoWords() {
    #expect(splitWords("").isEmpty)
    #expect(splitWords(" \n\t\u{3000}\u{A0}\u{1C}").isEmpty)
  }

  @Test func oneWord() {
    #expect(splitWords("hello") == ["hello"])
    #expect(splitWords("  hello\n") == ["hello"])
  }

  @Test func cjkIdeographsAndKanaAreWordsEach() {
    #expect(splitWords("我爱北京天安门。") == ["我", "爱", "北", "京", "天", "安", "门", "。"])
    #expect(splitWords("これはペンです") == ["こ", "れ", "は", "ペ", "ン", "で", "す"])
    #expect(splitWords("GPT-4是一个模型") == ["GPT-4", "是", "一", "个", "模", "型"])
    #expect(splitWords("中文 English 混合") == ["中", "文", "English", "混", "合"])
    // Korean is written with spaces.
    #expect(splitWords("안녕하세요 세계") == ["안녕하세요", "세계"])
  }

  @Test func datatroveSplittingKeepsRunsWhole() {
    #expect(splitWords("我爱北京天安门。", spaceless: false) == ["我爱北京天安门", "。"])
    #expect(splitWords("ภาษาไทย abc", spaceless: false) == ["ภาษาไทย", "abc"])
  }

  @Test func thaiRunsAreCutIntoChunks() throws {
    let text = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ"
    let words = splitWords(text)
    #expect(words.count >= 6)
    #expect(words.joined() == text)
    // No chunk starts with a combining mark or a following vowel, nor after a leading vowel.
    for word in words.dropFirst() {
      let first = try #require(word.unicodeScalars.first).value
      #expect(!(0x0E30...0x0E3A).contains(first) && !(0x0E45...0x0E4E).contains(first), "\(words)")
    }
    for previous in words.dropLast() {
      let last = try #require(previous.unicodeScalars.last).value
      #expect(!(0x0E40...0x0E44).contains(last), "\(words)")
    }
    #expect(splitWords("ไทย abc") == ["ไทย", "abc"])
  }

  @Test(arguments: [
    ("Hello world. This is a test! Is it? Yes.", 4),
    ("One sentence only", 1),
    ("Dr. Smith went home. He slept...", 2),
    ("Wait... what?! Really.", 2),
    ("A.  B.", 1),
    ("\"Quoted.\" Next one.", 2),
    ("", 0),
  ])
  func countsSentencesLikeSpacy(text: String, expected: Int) {
    #expect(sentenceCount(text) == expected)
  }
}
