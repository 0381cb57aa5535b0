import Testing

@testable import PipeCore

struct JSONScannerTests {
  // MARK: Accepted text

  @Test func membersOfAFlatObjectHaveTheirKeysKindsAndExactValueRanges() throws {
    let line = bytes(#"{"id": "d1", "n":-0,"e":1e5,"f": 1.5E-3 ,"t":true,"F":false,"z":null,"a":[1,{"x":[]}],"o":{}}"#)
    let members = try scanObject(line).get()
    let expected: [(String, JSONKind, String)] = [
      ("id", .string, #""d1""#), ("n", .number, "-0"), ("e", .number, "1e5"), ("f", .number, "1.5E-3"),
      ("t", .bool, "true"), ("F", .bool, "false"), ("z", .null, "null"), ("a", .array, #"[1,{"x":[]}]"#),
      ("o", .object, "{}"),
    ]
    try #require(members.count == expected.count)
    for (member, (key, kind, value)) in zip(members, expected) {
      #expect(member.key == key)
      #expect(member.kind == kind)
      #expect(text(line, member.value) == value)
    }
  }

  @Test func surroundingWhitespaceAndCRLFAreAllowed() throws {
    let line = bytes(" \t{ \"a\" :\n[ 1 , 2 ] }\r")
    let members = try scanObject(line).get()
    #expect(members.map(\.key) == ["a"])
    #expect(text(line, members[0].value) == "[ 1 , 2 ]")
  }

  @Test func keysAreDecodedAndDuplicatesAreKeptInOrder() throws {
    let line = bytes(#"{"\u0069d":1,"t\"x":2,"id":3,"":4}"#)
    let members = try scanObject(line).get()
    #expect(members.map(\.key) == ["id", "t\"x", "id", ""])
    #expect(members.map { text(line, $0.value) } == ["1", "2", "3", "4"])
  }

  @Test func onlyTopLevelMembersAreReported() throws {
    let members = try scanObject(bytes(#"{"a":{"b":{"c":1}},"d":[{"e":2}]}"#)).get()
    #expect(members.map(\.key) == ["a", "d"])
  }

  @Test func emptyObject() throws {
    #expect(try scanObject(bytes("{}")).get().isEmpty)
    #expect(try scanObject(bytes(" { } ")).get().isEmpty)
  }

  @Test(arguments: [
    #""a\"b\\c\/d\be\ff\ng\rh\ti""#, #""\u00e9\uD83D\uDE00\u0000""#, #""""#, #""\\""#,
    "-0", "0", "12", "-12.5", "1e5", "1E+5", "1.5E-3", "0.0e0", "-0.5e-10", "true", "false", "null",
    "[]", "[[]]", "[1,[2,[3]]]", #"{"a":{"b":[null,true]}}"#, " [ 1 ,\n 2 ] ",
  ])
  func validatesEveryKindOfValue(_ json: String) throws {
    _ = try validateJSON(bytes(json)).get()
  }

  @Test(arguments: [
    ("{}", JSONKind.object), ("[]", .array), (#""x""#, .string), ("-1.5", .number), ("true", .bool),
    ("false", .bool), ("null", .null),
  ])
  func validateReportsTheTopLevelKind(_ json: String, _ kind: JSONKind) throws {
    #expect(try validateJSON(bytes(json)).get() == kind)
  }

  // MARK: Rejected text

  @Test(arguments: [
    (#"{"a":1,}"#, 7, "expected a string key"),  // trailing comma in object
    (#"{"a":[1,2,]}"#, 10, "expected a value"),  // trailing comma in array
    (#"{"a" 1}"#, 5, "expected ':'"),
    (#"{"a"}"#, 4, "expected ':'"),
    (#"{"a":"abc}"#, 5, "unterminated string"),
    (#"{"a":"abcdefghijklmnopqrstuvwxyz"#, 5, "unterminated string"),
    (#"{"a":"x\xy"}"#, 7, "invalid escape"),
    (#"{"a":"\u12"}"#, 6, "four hex digits"),
    (#"{"a":"\u12G4"}"#, 6, "four hex digits"),
    (#"{"a":"\u12"#, 6, "truncated"),
    (#"{"a":"\"#, 6, "unterminated escape"),
    ("{\"a\":\"x\ty\"}", 7, "control character"),
    ("{\"a\":\"\u{0}\"}", 6, "control character"),
    ("{\"a\":\"x\ny\"}", 7, "control character"),
    (#"{"a":01}"#, 6, "expected ',' or '}'"),
    (#"{"a":-01}"#, 7, "expected ',' or '}'"),
    (#"{"a":.5}"#, 5, "expected a value"),
    (#"{"a":1.}"#, 5, "after '.'"),
    (#"{"a":1.e5}"#, 5, "after '.'"),
    (#"{"a":1e}"#, 5, "exponent"),
    (#"{"a":1e+}"#, 5, "exponent"),
    (#"{"a":-}"#, 5, "invalid number"),
    (#"{"a":+1}"#, 5, "expected a value"),
    (#"{"a":tru}"#, 5, "expected true"),
    (#"{"a":nul"#, 5, "expected null"),
    (#"{"a":fals}"#, 5, "expected false"),
    (#"{"a":True}"#, 5, "expected a value"),
    (#"{"a":1} x"#, 8, "unexpected text after"),
    (#"{"a":1}{}"#, 7, "unexpected text after"),
    (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
    (#"{"a":[1 2]}"#, 8, "expected ',' or ']'"),
    (#"{"a":[1,2}"#, 9, "expected ',' or ']'"),
    (#"{"a":1"#, 6, "unexpected end"),
    (#"{"a":"#, 5, "unexpected end"),
    ("{", 1, "expected a string key"),
    ("{,}", 1, "expected a string key"),
    ("{a:1}", 1, "expected a string key"),
    ("[1]", 0, "expected a JSON object"),
    (#"  "x""#, 2, "expected a JSON object"),
    ("42", 0, "expected a JSON object"),
    ("", 0, "empty line"),
    ("   ", 3, "blank line"),
    ("\r\n", 2, "blank line"),
  ])
  func rejectsMalformedTextAtTheRightOffset(_ json: String, _ offset: Int, _ message: String) throws {
    let error = try #require(scanError(bytes(json)))
    #expect(error.kind == .malformed)
    #expect(error.offset == offset)
    #expect(error.message.contains(message), "message was: \(error.message)")
  }

  @Test(arguments: [("[1,]", 3), ("[1 2]", 3), ("", 0), ("  ", 2), (#""a" "b""#, 4), ("{}}", 2), ("01", 1)])
  func validateRejectsWithOffset(_ json: String, _ offset: Int) throws {
    guard case .failure(let error) = validateJSON(bytes(json)) else {
      Issue.record("\(json) was accepted")
      return
    }
    #expect(error.kind == .malformed)
    #expect(error.offset == offset)
  }

  // MARK: Nesting

  /// `{"a":` then `depth` nested arrays: a top-level object plus `depth` arrays.
  func nested(_ depth: Int) -> [UInt8] {
    bytes(#"{"a":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}")
  }

  @Test func nestingUpToTheMaximumDepthIsAccepted() throws {
    // The top-level object counts as one level.
    let members = try scanObject(nested(JSONScanner.maximumDepth - 1)).get()
    #expect(members.count == 1)
    let array = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
    #expect(try validateJSON(bytes(array)).get() == .array)
  }

  @Test func nestingDeeperThanTheMaximumIsRejectedWhereItStarts() throws {
    let error = try #require(scanError(nested(JSONScanner.maximumDepth)))
    #expect(error.kind == .malformed)
    #expect(error.offset == 5 + 511)
    #expect(error.message.contains("nesting deeper than 512"))

    let objects = String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
    let objectError = try #require(scanError(bytes(objects)))
    #expect(objectError.offset == 512 * 5)
  }

  @Test func absurdNestingFailsFastWithoutExhaustingTheStack() throws {
    let deep = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
    guard case .failure(let error) = validateJSON(deep) else {
      Issue.record("accepted")
      return
    }
    #expect(error.offset == 512)
  }
}
