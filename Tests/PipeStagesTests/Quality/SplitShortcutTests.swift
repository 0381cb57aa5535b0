import Testing

@testable import PipeStages

/// The splitter's shortcuts (eight-byte run scanning, the short-run table, runs no rule can cut,
/// the run cache) must give exactly what the full rules give, token for token and whitespace
/// for whitespace.
@Suite struct SplitShortcutTests {
  /// Every token and whitespace token, in order.
  struct Recorder: TokenSink {
    var events: [String] = []
    mutating func token(_ start: Int, _ end: Int, ascii: Bool) { events.append("t\(start)-\(end)") }
    mutating func whitespace(_ start: Int, _ end: Int) { events.append("w\(start)-\(end)") }
  }

  /// Pieces that exercise each rule: affixes, infixes, exceptions, units, URLs, scripts, and
  /// characters that end or stop the eight-byte scan (non-ASCII, control characters, spaces).
  static let pieces = [
    "word", "Word", "a", "I", "dont", "can't", "Mr.", "Mr.Smith", "e.g.", "U.S.", "US$", "US$5", "C$", "A$10",
    "10km", "5$", "10am", "3+4", "2-3", "x^2", "1,000", "foo,", "bar.", "baz:", "(qux", "quux)", "\"q\"", "'s",
    "dogs'", "it's", "it’s", "get_value", "__init__", "a(b", "x[i]y", "self.x", "os.path.join(a,b)", "f(x):)",
    "http://example.com/a-b", "www.test.org", "user@host.com", "10.1.2.3", "...", "a...b", "end...", "…", "a…b",
    "well-known", "state-of-the-art", "a–b", "a—b", "~x", "x~y", "a/b", "a<b", "a=b", "a:b", "#tag", "$100",
    "100%", "C++", "++", "e", "café", "naïve", "Straße", "«non»", "¿Qué?", "日本語です", "ภาษาไทย", "слово,",
    "كلمة", "שלום", "हिन्दी", "😀", "😀x", "a😀", "x\u{1}y", "\u{7}", "ab\u{85}cd", "ab\u{A0}cd", "Uber", "Cat",
    "Ab", "AB.", "Ph.D.", "°F.", "xs'", "xS", "y's", "@home", "a\\b", "x|y", "abcdefgh", "abcdefghi",
    "abcdefg,", "abcdefgh,", "abcdefghijklmnop", "abcdefgh_ijklmnop", "0123456789abcdef", "[1]", "[edit]",
    // Letters then one mark, and the exceptions and rules that keep some of them whole.
    "that.", "end)", "why?", "Yes!", "note:", "list;", "aB.", "AB,", "Ab.", "etc.", "Inc.", "Jan.", "dont,",
    "cant;", "im.", "Ms,", "abcdefghijklmno.", "abcdefghijklmnop,", "US,", "C.", "A,", "goin'", "x.", "s.",
  ]
  static let spaces = [" ", " ", " ", "  ", "\n", "\n\n", "\t", " \n ", "\u{A0}", "\u{3000}", "\r\n"]

  /// A deterministic pseudo-random generator (SplitMix64), so failures reproduce.
  struct Generator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static func events(_ text: String, _ splitter: inout EnglishWordSplitter) -> [String] {
    var text = text
    return text.withUTF8 { bytes in
      var recorder = Recorder()
      splitter.split(bytes, into: &recorder)
      return recorder.events
    }
  }

  @Test func shortcutsSplitLikeTheFullRules() {
    var generator = Generator(state: 42)
    var fast = EnglishWordSplitter()
    var reference = EnglishWordSplitter.withoutShortcuts()
    var mismatches: [String] = []
    // Twice round the same texts, so the second round reads runs from the caches.
    var texts: [String] = []
    for _ in 0..<3000 {
      var text = ""
      for _ in 0..<Int.random(in: 1...14, using: &generator) {
        // Pieces glued together make runs that no list above spells out.
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
          text += Self.pieces.randomElement(using: &generator) ?? ""
        }
        text += Self.spaces.randomElement(using: &generator) ?? " "
      }
      texts.append(text)
    }
    for text in texts + texts {
      let expected = Self.events(text, &reference)
      if Self.events(text, &fast) != expected { mismatches.append(text) }
    }
    let mismatched = mismatches.count
    #expect(mismatched == 0, "first mismatches: \(mismatches.prefix(3))")
  }

  @Test func everyPieceAloneAndBetweenWordsSplitsLikeTheFullRules() {
    var fast = EnglishWordSplitter()
    var reference = EnglishWordSplitter.withoutShortcuts()
    for piece in Self.pieces {
      // Alone (the end of the text stops the eight-byte scan) and with text after it.
      for text in [piece, "\(piece) and more words after it", "words \(piece) words\n\(piece)\t\(piece)  end"] {
        #expect(Self.events(text, &fast) == Self.events(text, &reference), "\(text)")
      }
    }
  }

  @Test func eightByteScanClassifiesEveryByte() {
    // Each byte value in each lane of an eight-byte word, the rest letters.
    for lane in 0..<8 {
      for value in 0..<256 {
        var bytes = [UInt8](repeating: UInt8(ascii: "k"), count: 8)
        bytes[lane] = UInt8(value)
        let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let bit: UInt64 = 0x80 << UInt64(lane * 8)
        let isLetter = (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
        #expect((AsciiRun.letters(word) & bit != 0) == isLetter, "byte \(value) lane \(lane)")
        #expect((AsciiRun.stops(word) & bit != 0) == (value < 0x21 || value >= 0x80), "byte \(value) lane \(lane)")
        // Letters never need the rules, so a run of letters may skip them.
        if isLetter {
          #expect(SplitterTables.shared.asciiFlags[value] & (AsciiFlag.needsRules | AsciiFlag.space) == 0)
        }
      }
    }
  }
}
