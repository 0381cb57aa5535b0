import Testing

@testable import PipeCore

struct JSONStringTests {
  @Test(arguments: [
    (#""\n""#, "\n"), (#""\t""#, "\t"), (#""\"""#, "\""), (#""\\""#, "\\"), (#""\/""#, "/"), (#""\b""#, "\u{08}"),
    (#""\f""#, "\u{0C}"), (#""\r""#, "\r"), (#""\u00e9""#, "é"), (#""\u00E9""#, "é"), (#""\u0000""#, "\u{0}"),
    (#""\u4e2d\u6587""#, "中文"), (#""\ud83d\ude00""#, "😀"), (#""\uD83D\uDE00""#, "😀"),
    (#""\udbff\udfff""#, "\u{10FFFF}"), (#""a\nb\tc\u0041\\d""#, "a\nb\tcA\\d"), (#""plain ascii""#, "plain ascii"),
    (#""""#, ""), (#""Привет""#, "Привет"),
  ])
  func decodesEscapes(_ literal: String, _ expected: String) {
    #expect(Array(decodeLiteral(bytes(literal)).utf8) == Array(expected.utf8))
  }

  @Test(arguments: [
    (#""\ud83d""#, "\u{FFFD}"),  // lone high surrogate at the end
    (#""\ud83dx""#, "\u{FFFD}x"),  // high surrogate followed by a plain character
    (#""\ude00""#, "\u{FFFD}"),  // lone low surrogate
    (#""a\ude00\ud83d""#, "a\u{FFFD}\u{FFFD}"),
    (#""\ud83d\u0041""#, "\u{FFFD}A"),  // high then an escape that is not a low surrogate: both kept
    (#""\ud83d\ud83d\ude00""#, "\u{FFFD}😀"),  // high then a complete pair
    (#""\ud83d\n""#, "\u{FFFD}\n"),
    (#""\ude00\ud83d\ude00""#, "\u{FFFD}😀"),
  ])
  func loneSurrogatesBecomeReplacementCharacters(_ literal: String, _ expected: String) {
    #expect(Array(decodeLiteral(bytes(literal)).utf8) == Array(expected.utf8))
  }

  @Test func decodeHonoursARangeInsideALargerBuffer() {
    let buffer = bytes(#"xx"a\"b"yy"#)
    let decoded = buffer.withUnsafeBufferPointer { JSONString.decode($0, range: 2..<8) }
    #expect(decoded == "a\"b")
    let noHint = buffer.withUnsafeBufferPointer { JSONString.decode($0, range: 2..<8, hasEscapes: nil) }
    #expect(noHint == "a\"b")
  }

  @Test(arguments: [
    ("a\"b", #""a\"b""#), ("a\\b", #""a\\b""#), ("\n\r\t\u{08}\u{0C}", #""\n\r\t\b\f""#),
    ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#), ("\u{7F}", "\"\u{7F}\""), ("é中😀", "\"é中😀\""), ("/", #""/""#),
    ("", #""""#),
  ])
  func encodesOnlyWhatMustBeEscaped(_ input: String, _ expected: String) {
    #expect(encodeLiteral(input) == bytes(expected))
  }

  @Test(arguments: 0..<0x20)
  func everyControlCharacterRoundTrips(_ value: Int) {
    let sample = "ab\(Character(Unicode.Scalar(UInt8(value))))cdefghijk"
    let literal = encodeLiteral(sample)
    #expect(!literal.dropFirst().dropLast().contains { $0 < 0x20 })
    #expect(decodeLiteral(literal).utf8.elementsEqual(sample.utf8))
  }

  @Test func appendAddsToExistingBytes() {
    var out = bytes("[")
    JSONString.append("x\"y", to: &out)
    #expect(out == bytes(#"["x\"y""#))
  }

  @Test func randomEscapedLiteralsDecodeLikeAReferenceModel() {
    // Each piece is (literal text, expected decoded text); lone surrogates decode to U+FFFD.
    let pieces: [(String, String)] = [
      ("abc", "abc"), ("hello world, ", "hello world, "), ("é", "é"), ("中", "中"), ("😀", "😀"), (#"\n"#, "\n"),
      (#"\t"#, "\t"), (#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\b"#, "\u{08}"), (#"\f"#, "\u{0C}"),
      (#"\r"#, "\r"),
      (#"\u0041"#, "A"), (#"\u00E9"#, "é"), (#"\u4e2d"#, "中"), (#"\u0000"#, "\u{0}"), (#"\ud83d\ude00"#, "😀"),
      (#"\uDBFF\uDFFF"#, "\u{10FFFF}"), (#"\ud800"#, "\u{FFFD}"), (#"\udfff"#, "\u{FFFD}"),
    ]
    var rng = SeededRNG(seed: 31)
    for _ in 0..<5000 {
      var literal = "\""
      var expected = ""
      var previousWasLoneHigh = false
      for _ in 0..<Int.random(in: 0...20, using: &rng) {
        var piece = pick(pieces, &rng)
        // A lone high surrogate followed by a low one would form a pair: not what the model says.
        while previousWasLoneHigh && piece.0.lowercased().hasPrefix(#"\udf"#) {
          piece = pick(pieces, &rng)
        }
        literal += piece.0
        expected += piece.1
        previousWasLoneHigh = piece.0 == #"\ud800"#
      }
      literal += "\""
      #expect(Array(decodeLiteral(bytes(literal)).utf8) == Array(expected.utf8), "\(literal)")
    }
  }

  @Test func randomStringsRoundTripThroughEncodeAndDecode() {
    var rng = SeededRNG(seed: 99)
    for _ in 0..<5000 {
      let sample = randomString(&rng, maxCount: 80)
      let literal = encodeLiteral(sample)
      #expect(decodeLiteral(literal).utf8.elementsEqual(sample.utf8), "\(sample.debugDescription)")
      // And the encoding is valid JSON the scanner accepts as one string.
      #expect((try? validateJSON(literal).get()) == .string)
    }
  }
}
