import Testing

@testable import PipeCore

/// Strict UTF-8 validation and the 8-bytes-at-a-time paths of the scanner and the encoder.
struct UTF8AndFastPathTests {
  // MARK: UTF-8

  @Test(arguments: [
    "Привет, мир", "中文字符测试", "ภาษาไทย", "😀👍🏽🇫🇷", "é", "\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}",
    "\u{FFFF}", "\u{10000}", "\u{10FFFF}", "mixed ascii Приветxx中文xxxภาษาxxx😀 end",
  ])
  func validMultiByteTextPassesInStringsAndKeys(_ sample: String) throws {
    let line = bytes("{\"\(sample)\":\"\(sample)\"}")
    let members = try scanObject(line).get()
    #expect(members.map(\.key) == [sample])
    #expect(Array(decodeLiteral(Array(line[members[0].value])).utf8) == Array(sample.utf8))
  }

  static let invalidSequences: [[UInt8]] = [
    [0x80],  // lone continuation byte
    [0xBF],
    [0xC0, 0x80],  // overlong NUL
    [0xC1, 0xBF],  // overlong
    [0xE0, 0x80, 0x80],  // overlong 3-byte
    [0xE0, 0x9F, 0xBF],
    [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
    [0xF0, 0x8F, 0xBF, 0xBF],
    [0xED, 0xA0, 0x80],  // UTF-8-encoded surrogate U+D800
    [0xED, 0xBF, 0xBF],  // U+DFFF
    [0xF4, 0x90, 0x80, 0x80],  // U+110000
    [0xF5, 0x80, 0x80, 0x80],
    [0xF8, 0x88, 0x80, 0x80, 0x80],
    [0xFE], [0xFF],
    [0xC3],  // truncated 2-byte (followed by the closing quote)
    [0xE4, 0xB8],  // truncated 3-byte
    [0xF0, 0x9F, 0x98],  // truncated 4-byte
    [0xC3, 0x41],  // lead followed by ASCII
    [0xE4, 0x41, 0xAD],
  ]

  @Test(arguments: invalidSequences, 0..<10)
  func invalidUTF8InAStringIsReportedAtItsFirstByte(_ sequence: [UInt8], _ prefix: Int) throws {
    let head = bytes(#"{"a":""#) + [UInt8](repeating: UInt8(ascii: "x"), count: prefix)
    let error = try #require(scanError(head + sequence + bytes(#"yyyyyyyyyy"}"#)))
    #expect(error.kind == .invalidUTF8)
    #expect(error.offset == head.count)
  }

  @Test(arguments: invalidSequences)
  func invalidUTF8InAKeyIsReported(_ sequence: [UInt8]) throws {
    let error = try #require(scanError(bytes(#"{"k"#) + sequence + bytes(#"":1}"#)))
    #expect(error.kind == .invalidUTF8)
    #expect(error.offset == 3)
  }

  @Test(arguments: [[0xE4, 0xB8], [0xC3], [0xF0, 0x9F, 0x98]] as [[UInt8]])
  func sequenceTruncatedByTheEndOfTheLineIsInvalidUTF8(_ tail: [UInt8]) throws {
    let error = try #require(scanError(bytes(#"{"a":"abc"#) + tail))
    #expect(error.kind == .invalidUTF8)
    #expect(error.offset == 9)
  }

  @Test(arguments: [
    (bytes(#"{"a":"#) + [0xFF] + bytes("}"), 5),  // where a value should be
    (bytes("{") + [0xFF] + bytes(#""a":1}"#), 1),  // where a key should be
    ([0xC0, 0x80] + bytes("{}"), 0),  // before the object
    (bytes(#"{"a":1}"#) + [0xFF], 7),  // after the object
    (bytes(#"{"a":1 "#) + [0x80] + bytes("}"), 7),  // between tokens
    (bytes(#"{"a":1,,"b":""#) + [0xED, 0xA0, 0x80] + bytes(#""}"#), 13),  // after a syntax error
  ])
  func invalidUTF8OutsideStringsIsInvalidUTF8NotMalformed(_ line: [UInt8], _ offset: Int) throws {
    let error = try #require(scanError(line))
    #expect(error.kind == .invalidUTF8)
    #expect(error.offset == offset)
  }

  @Test func validNonASCIIOutsideStringsIsMalformed() throws {
    let error = try #require(scanError(bytes(#"{"a":1,中:2}"#)))
    #expect(error.kind == .malformed)
    #expect(error.offset == 7)
    #expect(scanError(bytes(#"{"a":é}"#))?.kind == .malformed)
  }

  @Test func invalidUTF8KindAndOffsetAgreeWithSwiftsValidatorOnRandomBytes() {
    var rng = SeededRNG(seed: 0x0717_F8)
    let alphabet: [UInt8] = [
      0x61, 0x20, 0x80, 0xBF, 0xC2, 0xC0, 0xDF, 0xE0, 0xED, 0xEF, 0xA0, 0x9F, 0xF0, 0xF4, 0x90, 0x8F, 0xF5, 0xFF,
    ]
    for _ in 0..<5000 {
      let content = (0..<Int.random(in: 1...12, using: &rng)).map { _ in pick(alphabet, &rng) }
      let line = bytes(#"{"a":""#) + content + bytes(#""}"#)
      let expected = referenceFirstInvalidUTF8(line)
      let error = scanError(line)
      #expect(error?.offset == expected, "content \(content)")
      if expected != nil { #expect(error?.kind == .invalidUTF8, "content \(content)") }
    }
  }

  // MARK: Fast path: the 8-byte predicates

  /// A word holding `byte` at `position` among `filler` bytes (little-endian, as loaded).
  func word(_ byte: UInt8, at position: Int, filler: UInt8) -> UInt64 {
    var bytes = [UInt8](repeating: filler, count: 8)
    bytes[position] = byte
    return bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
  }

  @Test(arguments: 0..<8)
  func plainPredicatesAreExactForEveryByteAtEveryPosition(_ position: Int) {
    for value in 0...255 {
      let byte = UInt8(value)
      // Fillers that cannot turn a borrow into a false alarm, so both answers must be exact.
      for filler in [UInt8(ascii: "a"), 0x21, 0x30, 0x7E] {
        let w = word(byte, at: position, filler: filler)
        #expect(Cursor.isPlain(w) == referenceIsPlain(byte), "byte \(byte) at \(position)")
        #expect(JSONString.needsNoEscape(w) == !referenceNeedsEscape(byte), "byte \(byte) at \(position)")
      }
    }
  }

  @Test func needsNoEscapeNeverMissesAByteThatNeedsEscaping() {
    var rng = SeededRNG(seed: 42)
    let interesting: [UInt8] = [
      0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0x81, 0x85, 0x9F, 0xA0, 0xA2, 0xDC, 0xFF,
    ]
    for _ in 0..<200_000 {
      let bytes = (0..<8).map { _ in
        Bool.random(using: &rng) ? pick(interesting, &rng) : UInt8.random(in: 0...255, using: &rng)
      }
      let w = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
      #expect(Cursor.isPlain(w) == bytes.allSatisfy(referenceIsPlain))
      if bytes.contains(where: referenceNeedsEscape) { #expect(!JSONString.needsNoEscape(w)) }
      if bytes.allSatisfy(referenceIsPlain) { #expect(JSONString.needsNoEscape(w)) }
    }
  }

  @Test func theLowestFlaggedByteIsTheFirstSpecialByte() {
    // The scanner jumps straight to the lowest flagged byte, so it must be exact.
    var rng = SeededRNG(seed: 7)
    let interesting: [UInt8] = [
      0x00, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x61, 0x7F, 0x80, 0xA2, 0xDC, 0xFF,
    ]
    for _ in 0..<200_000 {
      let bytes = (0..<8).map { _ in
        Int.random(in: 0..<4, using: &rng) == 0
          ? pick(interesting, &rng) : UInt8.random(in: 0x20...0x7E, using: &rng)
      }
      let w = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
      let expected = bytes.firstIndex { !referenceIsPlain($0) } ?? 8
      #expect(Cursor.specialBytes(w).trailingZeroBitCount / 8 == expected, "\(bytes)")
    }
  }

  // MARK: Fast path: special bytes at every offset in a 16-byte window

  static let specials: [String] = ["\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "\u{7F}", "é", "中", "😀", "\u{0}"]

  @Test(arguments: specials, 0..<16)
  func encoderMatchesTheReferenceWithTheSpecialCharacterAtEveryOffset(_ special: String, _ prefix: Int) {
    for suffix in 0..<16 {
      let sample = String(repeating: "a", count: prefix) + special + String(repeating: "b", count: suffix)
      #expect(encodeLiteral(sample) == referenceEncode(sample), "\(prefix) + \(special.debugDescription) + \(suffix)")
    }
  }

  @Test(arguments: specials, 0..<16)
  func scannerFindsTheSpecialCharacterAtEveryOffset(_ special: String, _ prefix: Int) throws {
    for suffix in 0..<16 {
      let sample = String(repeating: "a", count: prefix) + special + String(repeating: "b", count: suffix)
      let literal = referenceEncode(sample)
      let line =
        bytes(#"{"k":"#) + literal + bytes(#","z":"#) + referenceEncode(String(repeating: "c", count: suffix))
        + bytes("}")
      let members = try scanObject(line).get()
      try #require(members.count == 2)
      #expect(members[0].value == 5..<(5 + literal.count))
      #expect(Array(decodeLiteral(Array(line[members[0].value])).utf8) == Array(sample.utf8))
    }
  }

  @Test(arguments: 0..<16)
  func aRawSpecialByteIsFoundAtEveryOffset(_ prefix: Int) throws {
    let cases: [([UInt8], JSONSyntaxError.Kind?)] = [
      ([0x22], nil), ([0x01], .malformed), ([0x0A], .malformed), ([0x1F], .malformed), ([0x80], .invalidUTF8),
      ([0xFF], .invalidUTF8), ([0xC3, 0xA9], nil), ([0x7F], nil),
    ]
    for (special, kind) in cases {
      for suffix in 0..<16 {
        let head = bytes(#"{"k":""#) + [UInt8](repeating: 0x61, count: prefix)
        let line = head + special + [UInt8](repeating: 0x62, count: suffix) + bytes(#""}"#)
        let result = scanObject(line)
        switch (result, kind, special) {
        case (.success(let members), nil, [0x22]):
          // The quote closes the string early: the b's are then garbage.
          Issue.record("accepted \(line) as \(members)")
        case (.failure(let error), nil, [0x22]):
          #expect(error.kind == .malformed)
          #expect(error.offset == head.count + 1)
        case (.success(let members), nil, _):
          #expect(members[0].value == 5..<(line.count - 1))
        case (.failure(let error), let kind?, _):
          #expect(error.kind == kind)
          #expect(error.offset == head.count)
        default:
          Issue.record("\(special) at \(prefix)+\(suffix): unexpected \(result)")
        }
      }
    }
  }

  // MARK: Random strings against the reference

  @Test func randomStringsEncodeLikeTheReferenceAndScanAndDecodeBack() throws {
    var rng = SeededRNG(seed: 2024)
    for _ in 0..<5000 {
      let sample = randomString(&rng, maxCount: 60)
      let literal = referenceEncode(sample)
      #expect(encodeLiteral(sample) == literal)
      let line = bytes(#"{"k":"#) + literal + bytes("}")
      let members = try scanObject(line).get()
      #expect(members.first?.value == 5..<(5 + literal.count))
      #expect(Array(decodeLiteral(literal).utf8) == Array(sample.utf8))
    }
  }

  @Test func randomStringsWithOneBadPieceAreRejectedWhereThePieceIs() throws {
    var rng = SeededRNG(seed: 77)
    let badPieces: [([UInt8], JSONSyntaxError.Kind)] = [
      ([0x01], .malformed), ([0x0A], .malformed), ([0x00], .malformed), ([0x80], .invalidUTF8),
      ([0xED, 0xA0, 0x80], .invalidUTF8), ([0xF4, 0x90, 0x80, 0x80], .invalidUTF8), ([0xC3], .invalidUTF8),
      ([0xC0, 0xAF], .invalidUTF8), ([0xE0, 0x80, 0xAF], .invalidUTF8),
    ]
    for _ in 0..<5000 {
      // Pieces are the encodings of single scalars, so a bad piece never lands inside an escape
      // or a multi-byte sequence.
      let pieces = randomString(&rng, maxCount: 40).unicodeScalars.map {
        Array(referenceEncode(String($0)).dropFirst().dropLast())
      }
      let insertAt = Int.random(in: 0...pieces.count, using: &rng)
      let (bad, kind) = pick(badPieces, &rng)
      let content = pieces[..<insertAt].joined() + bad + pieces[insertAt...].joined()
      let line = bytes(#"{"k":""#) + content + bytes(#""}"#)
      let error = try #require(scanError(line))
      #expect(error.kind == kind)
      #expect(error.offset == 6 + pieces[..<insertAt].reduce(0) { $0 + $1.count })
    }
  }
}
