import Testing

@testable import PipeCore

struct JSONValueTests {
  @Test(arguments: [
    ("null", JSONValue.null), ("true", .bool(true)), ("false", .bool(false)), ("1", .int(1)), ("-7", .int(-7)),
    ("1.0", .double(1)), ("1e2", .double(100)), ("-1.5E-3", .double(-0.0015)),
    ("9223372036854775807", .int(Int64.max)), ("-9223372036854775808", .int(Int64.min)),
    ("9223372036854775808", .double(9_223_372_036_854_775_808)), ("\"a\\u00e9\"", .string("aé")),
    ("[1,\"x\",null]", .array([.int(1), .string("x"), .null])), (" [ ] ", .array([])), ("{}", .object([:])),
  ])
  func parsesValues(_ json: String, _ expected: JSONValue) throws {
    #expect(try JSONValue.parse(json) == expected)
  }

  @Test func integersAndDoublesAreDistinct() throws {
    #expect(try JSONValue.parse("1") == .int(1))
    #expect(try JSONValue.parse("1.0") != .int(1))
    #expect(try JSONValue.parse("1.0").intValue == 1)
    #expect(try JSONValue.parse("1.5").intValue == nil)
    #expect(try JSONValue.parse("1").doubleValue == 1.0)
  }

  @Test func objectKeysKeepTheirOrder() throws {
    let value = try JSONValue.parse(#"{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"c":2}]}"#)
    let object = try #require(value.objectValue)
    #expect(object.keys == ["z", "a", "m"])
    #expect(object["a"]?.objectValue?.keys == ["y", "b"])
    #expect(object["m"]?.arrayValue?.first?.objectValue?.keys == ["q", "c"])
    #expect(value.jsonText == #"{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"c":2}]}"#)
  }

  @Test func duplicateKeyIsAnErrorWithItsLineAndColumn() throws {
    let document = """
      {
        "a": 1,
        "b": {"c": 2, "c": 3}
      }
      """
    let error = try #require(#expect(throws: JSONParseError.self) { try JSONValue.parse(document) })
    #expect(error.line == 3)
    #expect(error.column == 17)
    #expect(error.message.contains(#"duplicate key "c""#))
    #expect(error.description.hasPrefix("line 3, column 17: "))
  }

  @Test func duplicateKeyIsFoundAfterEscapesAreDecoded() throws {
    let error = try #require(#expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"id":1,"\u0069d":2}"#) })
    #expect(error.line == 1)
    #expect(error.column == 9)
  }

  @Test(arguments: [
    ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7),  // missing colon
    ("{\n  \"a\": 1,\n}", 3, 1),  // trailing comma
    ("[1,\n2,\n3", 3, 2),  // unterminated array
    ("\n\n   x", 3, 4),
    ("", 1, 1),
    ("{\"a\": \"x\ny\"}", 1, 9),  // raw newline in a string
  ])
  func syntaxErrorsHaveLineAndColumn(_ document: String, _ line: Int, _ column: Int) throws {
    let error = try #require(#expect(throws: JSONParseError.self) { try JSONValue.parse(document) })
    #expect(error.line == line)
    #expect(error.column == column)
  }

  @Test func invalidUTF8InADocumentIsAParseError() throws {
    let error = try #require(#expect(throws: JSONParseError.self) { try JSONValue.parse([0x5B, 0x0A, 0xFF, 0x5D]) })
    #expect(error.line == 2)
    #expect(error.column == 1)
    #expect(error.message.contains("UTF-8"))
  }

  @Test func canonicalTextSortsKeysAtEveryLevelAndIgnoresSpelling() throws {
    let first = try JSONValue.parse(#"{"b":1,"a":[1.5,"x"]}"#)
    let second = try JSONValue.parse(#" { "a" : [ 1.50, "\u0078" ] , "b" : 1.0 } "#)
    #expect(first.canonicalText == #"{"a":[1.5,"x"],"b":1}"#)
    #expect(second.canonicalText == first.canonicalText)
    let nested = try JSONValue.parse(#"{"é":{"b":null,"B":true},"a":{"y":[{"d":1,"c":2}]}}"#)
    #expect(nested.canonicalText == #"{"a":{"y":[{"c":2,"d":1}]},"é":{"B":true,"b":null}}"#)
    // Canonical text is JSON that parses back to an equal value.
    #expect(try JSONValue.parse(nested.canonicalText).canonicalText == nested.canonicalText)
  }

  @Test(arguments: [
    (1.0, "1"), (-0.0, "0"), (0.1, "0.1"), (1.5, "1.5"), (1e15, "1000000000000000"),
    (9_500_000_000_000_002, "9500000000000002"),
    (123456789012345.0, "123456789012345"), (1e16, "1e+16"), (1.5e17, "1.5e+17"), (1e-5, "1e-05"),
    (1e300, "1e+300"), (-2.5e-8, "-2.5e-08"), (Double.infinity, "null"), (Double.nan, "null"),
  ])
  func doublesAreWrittenInShortestForm(_ value: Double, _ expected: String) throws {
    #expect(JSONValue.double(value).jsonText == expected)
    if value.isFinite {
      #expect(try JSONValue.parse(expected).doubleValue == value)
    }
  }

  @Test func writerEscapesStringsAndKeys() {
    let value = JSONValue.object(["k\"\n": .string("v\u{1}\\"), "arr": .array([.bool(false), .null, .int(-3)])])
    #expect(value.jsonText == #"{"k\"\n":"v\u0001\\","arr":[false,null,-3]}"#)
  }

  @Test func randomValuesRoundTripThroughTheWriter() throws {
    var rng = SeededRNG(seed: 5)
    for _ in 0..<2000 {
      let value = randomValue(&rng)
      #expect(try JSONValue.parse(value.jsonText) == value)
      #expect(try JSONValue.parse(value.canonicalText).canonicalText == value.canonicalText)
    }
  }

  @Test func objectSubscriptKeepsPositionOnReplaceAndRemovesOnNil() {
    var object: JSONObject = ["a": .int(1), "b": .int(2), "c": .int(3)]
    object["b"] = .string("x")
    #expect(object.keys == ["a", "b", "c"])
    object["a"] = nil
    #expect(object.keys == ["b", "c"])
    #expect(object.count == 2)
    object["a"] = .null
    #expect(object.members.map(\.key) == ["b", "c", "a"])
    #expect(object["a"] == .null)
    // Order matters for equality.
    #expect(JSONObject([("x", .int(1)), ("y", .int(2))]) != JSONObject([("y", .int(2)), ("x", .int(1))]))
  }

  @Test func parseValidatedReadsOneValueInsideABuffer() {
    let buffer = bytes(#"{"a": [1, {"b": "c"}], "d": 2}"#)
    let value = buffer.withUnsafeBufferPointer { JSONValue.parse(validated: $0, range: 6..<21) }
    #expect(value == .array([.int(1), .object(["b": .string("c")])]))
  }
}
