import Testing

@testable import PipeCore

struct RecordTests {
  // MARK: Reading and untouched writing

  @Test(arguments: [
    #"{"id":"d1","text":"hello","metadata":{"lang":"en"}}"#,
    #"  {  "metadata" : { "b" : [1 , 2.50] , "a":null } ,"text":"x\u00e9\ud83d\ude00\n",   "id" : "d\u0031", "extra":{"k":true}}  "#,
    "{\"text\":\"Привет 中文 😀\",\"id\":\"é\"}\r",
    #"{"id":"d","text":"","z":1e5,"a":-0,"m":[]}"#,
  ])
  func untouchedRecordIsWrittenByteForByte(_ line: String) throws {
    let record = try makeRecord(line)
    #expect(!record.isModified)
    #expect(written(record) == bytes(line))
    #expect(record.jsonLine == line)
  }

  @Test func fieldsAreDecodedFromTheOriginalBytes() throws {
    let record = try makeRecord(#"{"id":"d\u0031","text":"a\"b\u00e9","metadata":{"n":1.5,"s":"x"},"src":[1,"y"]}"#)
    #expect(record.id == "d1")
    #expect(record.text == "a\"bé")
    #expect(record.metadata("n") == .double(1.5))
    #expect(record.metadata("s") == .string("x"))
    #expect(record.metadata("missing") == nil)
    #expect(record.field("src") == .array([.int(1), .string("y")]))
    #expect(record.field("nope") == nil)
    #expect(record.field("id") == .string("d1"))
    #expect(record.field("text") == .string("a\"bé"))
    #expect(record.field("metadata")?.canonicalText == #"{"n":1.5,"s":"x"}"#)
    #expect(record.metadataObject.keys == ["n", "s"])
  }

  @Test func missingIDGetsTheFallbackWrittenFirstAndTheRestIsCopied() throws {
    let record = try makeRecord(#"{"text" : "hi\n",  "metadata": {"a" : 1.50}, "x":[ 1 ]}"#, fallbackID: "part-3/17")
    #expect(record.id == "part-3/17")
    #expect(!record.isModified)
    #expect(record.jsonLine == #"{"id":"part-3/17","text":"hi\n","metadata":{"a" : 1.50},"x":[ 1 ]}"#)
  }

  @Test(arguments: [#"{"id":null,"text":"t"}"#, #"{"id":"","text":"t"}"#, #"{"text":"t","id":null}"#])
  func nullOrEmptyIDIsReplacedByTheFallback(_ line: String) throws {
    let record = try makeRecord(line, fallbackID: "s/1")
    #expect(record.id == "s/1")
    #expect(record.jsonLine == #"{"id":"s/1","text":"t"}"#)
    #expect(record.field("id") == .string("s/1"))
  }

  @Test func fallbackIsNotEvaluatedWhenTheRecordHasAnID() throws {
    let line = bytes(#"{"id":"x","text":"t"}"#)
    let record = try line.withUnsafeBufferPointer { buffer throws(RecordError) -> Record in
      try Record(
        line: buffer,
        fallbackID: { () -> String in
          Issue.record("fallback evaluated")
          return "unused"
        }())
    }
    #expect(record.id == "x")
  }

  @Test(arguments: [("42", "42"), ("-7", "-7"), ("1.5e3", "1.5e3")])
  func numericIDIsAcceptedAsText(_ literal: String, _ id: String) throws {
    let line = #"{"id":\#(literal),"text":"t"}"#
    let record = try makeRecord(line)
    #expect(record.id == id)
    #expect(record.jsonLine == line)
  }

  @Test func theLastOfRepeatedKeysWinsAsForAnyJSONReader() throws {
    var record = try makeRecord(#"{"id":"a","text":"first","id":"b","text":"second"}"#)
    #expect(record.id == "b")
    #expect(record.text == "second")
    record.setMetadata("k", .int(1))
    #expect(record.jsonLine == #"{"id":"b","text":"second","metadata":{"k":1}}"#)
  }

  @Test func aNullIDAfterARealOneLeavesTheRecordWithoutAnID() throws {
    // Readers see the last `id`, which is null: the record has no id and gets the fallback.
    let record = try makeRecord(#"{"id":"a","text":"t","id":null}"#, fallbackID: "s/9")
    #expect(record.id == "s/9")
    #expect(record.jsonLine == #"{"id":"s/9","text":"t"}"#)
  }

  @Test(arguments: [
    (#"{"id":"a"}"#, "missing_text"),
    (#"{"id":"a","metadata":{"text":"nested"}}"#, "missing_text"),
    (#"{"id":"a","text":5}"#, "text_not_string"),
    (#"{"id":"a","text":null}"#, "text_not_string"),
    (#"{"id":"a","text":["x"]}"#, "text_not_string"),
    (#"{"id":true,"text":"t"}"#, "id_not_scalar"),
    (#"{"id":{"a":1},"text":"t"}"#, "id_not_scalar"),
    (#"{"id":"a","text":"t""#, "malformed_json"),
    (#"{"id":"a","text":"t",}"#, "malformed_json"),
    (#"["not an object"]"#, "malformed_json"),
    ("", "malformed_json"),
    ("  ", "malformed_json"),
  ])
  func badLinesAreRejectedWithTheirReason(_ line: String, _ reason: String) throws {
    let error = try #require(#expect(throws: RecordError.self) { try makeRecord(line) })
    #expect(error.reason == reason)
    #expect(!error.message.isEmpty)
  }

  @Test(arguments: [
    bytes(#"{"id":"a","text":""#) + [0xC3, 0x28] + bytes(#""}"#),
    bytes(#"{"id":"a","text":""#) + [0xED, 0xA0, 0x80] + bytes(#""}"#),
    bytes(#"{"id":"a","text":"t"}"#) + [0xFF],
    [0xEF, 0xBB, 0xBF] + bytes(#"{"id":"a","text":"t"}"#) + [0x80],
  ])
  func invalidUTF8IsItsOwnReason(_ line: [UInt8]) throws {
    let error = try #require(#expect(throws: RecordError.self) { try makeRecord(line) })
    #expect(error.reason == "invalid_utf8")
  }

  // MARK: Changing text

  @Test func settingTextReencodesOnlyTheText() throws {
    var record = try makeRecord(#"{"id":"a", "text":"old", "meta" : [1, 2.50], "metadata":{"x": "\u00e9"}}"#)
    record.text = "new \"quoted\"\n"
    #expect(record.isModified)
    #expect(record.text == "new \"quoted\"\n")
    #expect(record.jsonLine == #"{"id":"a","text":"new \"quoted\"\n","meta":[1, 2.50],"metadata":{"x": "\u00e9"}}"#)
  }

  @Test func settingTheSameTextLeavesTheRecordUnchanged() throws {
    let line = #"{"id":"a","text":"caf\u00e9 \n x"}"#
    var record = try makeRecord(line)
    record.text = "café \n x"
    #expect(!record.isModified)
    #expect(record.jsonLine == line)
  }

  @Test func settingCanonicallyEquivalentButDifferentTextIsAChange() throws {
    // "e" + COMBINING ACUTE and "é" compare equal as Swift strings but are different bytes:
    // a normalization stage must see its change written.
    var record = try makeRecord("{\"id\":\"a\",\"text\":\"cafe\u{301}\"}")
    record.text = "caf\u{E9}"
    #expect(record.isModified)
    #expect(record.jsonLine == "{\"id\":\"a\",\"text\":\"caf\u{E9}\"}")
    record.withTextUTF8 { #expect(Array($0) == Array("caf\u{E9}".utf8)) }
  }

  @Test func withTextUTF8GivesTheDecodedBytes() throws {
    let plain = try makeRecord(#"{"id":"a","text":"plain Привет"}"#)
    plain.withTextUTF8 { #expect(Array($0) == Array("plain Привет".utf8)) }
    let escaped = try makeRecord(#"{"id":"a","text":"tab\tq\"u\u00e9\ud83d\ude00"}"#)
    escaped.withTextUTF8 { #expect(Array($0) == Array("tab\tq\"ué😀".utf8)) }
    var changed = escaped
    changed.text = "new"
    changed.withTextUTF8 { #expect(Array($0) == Array("new".utf8)) }
    let empty = try makeRecord(#"{"id":"a","text":""}"#)
    #expect(empty.withTextUTF8 { $0.count } == 0)
  }

  // MARK: Changing metadata

  static let withMetadata = #"{"id":"a","text":"t","metadata":{"a": 1.50, "b" : "x\u0041", "c":[1, 2]},"z":0}"#

  @Test func setMetadataAddsANewKeyAtTheEndKeepingOtherBytes() throws {
    var record = try makeRecord(Self.withMetadata)
    record.setMetadata("n", .string("new"))
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"a":1.50,"b":"x\u0041","c":[1, 2],"n":"new"},"z":0}"#)
    #expect(record.metadata("n") == .string("new"))
    #expect(record.metadata("a") == .double(1.5))
  }

  @Test func setMetadataReplacesAnExistingKeyInPlace() throws {
    var record = try makeRecord(Self.withMetadata)
    record.setMetadata("b", .int(7))
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"a":1.50,"b":7,"c":[1, 2]},"z":0}"#)
    #expect(record.metadata("b") == .int(7))
    record.setMetadata("b", .bool(false))
    #expect(record.metadata("b") == .bool(false))
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"a":1.50,"b":false,"c":[1, 2]},"z":0}"#)
  }

  @Test func setMetadataNilRemovesAKey() throws {
    var record = try makeRecord(Self.withMetadata)
    record.setMetadata("a", nil)
    #expect(record.metadata("a") == nil)
    #expect(record.isModified)
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"b":"x\u0041","c":[1, 2]},"z":0}"#)
    #expect(record.metadataObject.keys == ["b", "c"])
  }

  @Test func repeatedMetadataKeysAreWrittenOnceWithTheLastValue() throws {
    var record = try makeRecord(#"{"id":"a","text":"t","metadata":{"a":1,"b":2,"a":3}}"#)
    #expect(record.metadata("a") == .int(3))
    record.setMetadata("b", .int(9))
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"b":9,"a":3}}"#)
    #expect(try JSONValue.parse(record.jsonLine).objectValue?["metadata"] == .object(["b": .int(9), "a": .int(3)]))
  }

  @Test func setMetadataWhenThereIsNoMetadataAddsTheMember() throws {
    var record = try makeRecord(#"{"id":"a","text":"t","z":0}"#)
    #expect(record.metadata("k") == nil)
    record.setMetadata("k", .array([.int(1)]))
    record.setMetadata("j", .null)
    #expect(record.jsonLine == #"{"id":"a","text":"t","z":0,"metadata":{"k":[1],"j":null}}"#)
    #expect(record.metadata("j") == .null)
    #expect(record.metadataObject.keys == ["k", "j"])
  }

  @Test func setMetadataOverANonObjectMetadataReplacesIt() throws {
    var record = try makeRecord(#"{"id":"a","text":"t","metadata":"oops"}"#)
    #expect(record.metadata("k") == nil)
    record.setMetadata("k", .int(1))
    #expect(record.jsonLine == #"{"id":"a","text":"t","metadata":{"k":1}}"#)
  }

  @Test func textAndMetadataChangesCombineWithAGeneratedID() throws {
    var record = try makeRecord(#"{"text":"t","metadata":{"a":1}}"#, fallbackID: "f/1")
    record.text = "u"
    record.setMetadata("a", nil)
    record.setMetadata("b", .string("é"))
    #expect(record.jsonLine == #"{"id":"f/1","text":"u","metadata":{"b":"é"}}"#)
  }

  // MARK: Other fields

  @Test func setFieldReplacesInPlaceAddsAtTheEndAndRemoves() throws {
    var record = try makeRecord(#"{"id":"a","src":"web","text":"t","n":1}"#)
    #expect(record.field("src") == .string("web"))
    record.setField("src", .string("book"))
    record.setField("new", .object(["k": .int(2)]))
    record.setField("n", nil)
    #expect(record.field("src") == .string("book"))
    #expect(record.field("n") == nil)
    #expect(record.field("new") == .object(["k": .int(2)]))
    #expect(record.jsonLine == #"{"id":"a","src":"book","text":"t","new":{"k":2}}"#)
  }

  @Test func settingAFieldThatDoesNotExistToNilWritesNothingNew() throws {
    var record = try makeRecord(#"{"id":"a","text":"t"}"#)
    record.setField("ghost", nil)
    #expect(record.jsonLine == #"{"id":"a","text":"t"}"#)
  }

  @Test func inMemoryRecordsWriteIDTextAndMetadata() throws {
    var record = Record(id: "g-1", text: "line\n\"two\"", metadata: ["score": .double(0.25), "lang": .string("fr")])
    #expect(record.id == "g-1")
    #expect(!record.isModified)
    #expect(record.jsonLine == #"{"id":"g-1","text":"line\n\"two\"","metadata":{"score":0.25,"lang":"fr"}}"#)
    #expect(record.metadata("lang") == .string("fr"))
    record.setMetadata("lang", .string("en"))
    #expect(record.jsonLine == #"{"id":"g-1","text":"line\n\"two\"","metadata":{"score":0.25,"lang":"en"}}"#)
  }

  // MARK: Property: whatever stages do, the line re-parses to the expected fields

  /// A JSON string literal that escapes some characters that need no escape, as other writers do.
  func looselyEncoded(_ text: String, _ rng: inout SeededRNG) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      let literal = String(decoding: referenceEncode(String(scalar)).dropFirst().dropLast(), as: UTF8.self)
      if literal.count == 1, Int.random(in: 0..<6, using: &rng) == 0 {
        let upper = Bool.random(using: &rng)
        if scalar.value >= 0x10000 {
          let value = scalar.value - 0x10000
          out += hex4(0xD800 + (value >> 10), upper) + hex4(0xDC00 + (value & 0x3FF), upper)
        } else {
          out += hex4(scalar.value, upper)
        }
      } else {
        out += literal
      }
    }
    return out + "\""
  }

  func hex4(_ value: UInt32, _ uppercase: Bool) -> String {
    let digits = String(value, radix: 16, uppercase: uppercase)
    return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
  }

  @Test func randomRecordsRoundTripThroughStageChanges() throws {
    var rng = SeededRNG(seed: 0xC0FFEE)
    for iteration in 0..<3000 {
      // The document as a model.
      enum IDForm { case string(String), number(Int64), missing, null }
      let idForms: [IDForm] = [
        .string("doc-" + randomString(&rng, maxCount: 6)), .number(Int64.random(in: -99...99_999, using: &rng)),
        .missing, .null,
      ]
      let idForm = pick(idForms, &rng)
      let text = randomString(&rng, maxCount: 60)
      var metadata: JSONValue? = nil
      switch Int.random(in: 0..<4, using: &rng) {
      case 0: metadata = nil
      case 1: metadata = .int(3)
      default:
        var object = JSONObject()
        for index in 0..<Int.random(in: 0...4, using: &rng) { object["m\(index)"] = randomValue(&rng, depth: 1) }
        metadata = .object(object)
      }
      var extras: [(String, JSONValue)] = []
      for index in 0..<Int.random(in: 0...2, using: &rng) { extras.append(("x\(index)", randomValue(&rng))) }

      // The line: members shuffled, whitespace sprinkled, strings loosely escaped.
      var members: [String] = [
        "\"text\"" + randomWhitespace(&rng) + ":" + randomWhitespace(&rng) + looselyEncoded(text, &rng)
      ]
      switch idForm {
      case .string(let id): members.append("\"id\":" + looselyEncoded(id, &rng))
      case .number(let id): members.append("\"id\":\(id)")
      case .missing: break
      case .null: members.append("\"id\":null")
      }
      if let metadata { members.append("\"metadata\":" + randomWhitespace(&rng) + metadata.jsonText) }
      for (key, value) in extras { members.append("\"\(key)\":" + value.jsonText) }
      members.shuffle(using: &rng)
      let line =
        randomWhitespace(&rng) + "{" + members.joined(separator: randomWhitespace(&rng) + "," + randomWhitespace(&rng))
        + "}"
      let fallback = "shard/\(iteration)"
      var record = try makeRecord(line, fallbackID: fallback)

      var expectedID: String
      switch idForm {
      case .string(let id): expectedID = id
      case .number(let id): expectedID = String(id)
      case .missing, .null: expectedID = fallback
      }
      #expect(record.id == expectedID)
      #expect(record.text.utf8.elementsEqual(text.utf8))

      // Stage changes.
      var expectedText = text
      if Bool.random(using: &rng) {
        expectedText = randomString(&rng, maxCount: 30)
        record.text = expectedText
      }
      var expectedMetadata = metadata
      for _ in 0..<Int.random(in: 0...3, using: &rng) {
        let key = "m\(Int.random(in: 0...5, using: &rng))"
        let value: JSONValue? = Int.random(in: 0..<4, using: &rng) == 0 ? nil : randomValue(&rng, depth: 2)
        record.setMetadata(key, value)
        var object = expectedMetadata?.objectValue ?? JSONObject()
        object[key] = value
        expectedMetadata = .object(object)
        #expect(record.metadata(key) == value)
      }
      var expectedExtras = JSONObject(extras)
      for _ in 0..<Int.random(in: 0...2, using: &rng) {
        let key = "x\(Int.random(in: 0...3, using: &rng))"
        let value: JSONValue? = Bool.random(using: &rng) ? randomValue(&rng) : nil
        record.setField(key, value)
        expectedExtras[key] = value
      }

      // The written line.
      let out = written(record)
      if case .missing = idForm {
      } else if case .null = idForm {
      } else if !record.isModified {
        #expect(out == bytes(line))
      }
      let parsed = try #require(try JSONValue.parse(out).objectValue, "\(line)")
      switch idForm {
      case .number(let id): #expect(parsed["id"] == .int(id))
      default: #expect(parsed["id"] == .string(expectedID))
      }
      #expect(parsed["text"]?.stringValue?.utf8.elementsEqual(expectedText.utf8) == true, "\(line)")
      #expect(parsed["metadata"]?.canonicalText == expectedMetadata?.canonicalText, "\(line)")
      for key in ["x0", "x1", "x2", "x3"] {
        #expect(parsed[key]?.canonicalText == expectedExtras[key]?.canonicalText, "\(line) \(key)")
      }
      #expect(Set(parsed.keys).isSubset(of: ["id", "text", "metadata", "x0", "x1", "x2", "x3"]))

      // And it reads back as the same record.
      let again = try makeRecord(out, fallbackID: "other")
      #expect(again.id == expectedID)
      #expect(again.text.utf8.elementsEqual(expectedText.utf8))
      #expect(written(again) == out)
    }
  }
}
