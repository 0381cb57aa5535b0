import Testing

@testable import PipeCore

/// A stage that keeps everything, for descriptors whose stage is never run.
struct KeepEverything: RecordStage {
  func process(_ record: inout Record, context: StageContext) throws -> Verdict { .keep }
}

struct OpDescriptorTests {
  static let op = OpDescriptor(
    name: "filter.length", version: 2, summary: "Drops short or long documents.",
    keys: [
      ConfigKey("minChars", .int(0...1_000_000), default: .int(0), "fewest characters"),
      ConfigKey("maxChars", .int(1...Int.max), default: nil, "most characters (required)"),
      ConfigKey("ratio", .double(0...1), default: .double(0.5), "a fraction"),
      ConfigKey("scale", .double(-.infinity...(.infinity)), default: .int(2), "any number, integral default"),
      ConfigKey("mode", .choice(["drop", "tag"]), default: .string("drop"), "what to do"),
      ConfigKey("fields", .strings, default: .array([]), "field names"),
      ConfigKey("lowercase", .bool, default: .bool(false), "fold case"),
      ConfigKey("label", .string, default: .null, "optional label"),
      ConfigKey("budget", .double(0...1e18), default: .int(20_000_000_000_000_000), "large integral default"),
    ],
    make: { _ in .record(KeepEverything()) })

  func resolve(_ json: String) throws -> (StageConfig?, [ValidationIssue]) {
    let config = try #require(try JSONValue.parse(json).objectValue)
    return Self.op.resolve(config, path: "stages[1].config")
  }

  @Test func defaultsAreFilledInSchemaOrder() throws {
    let (config, issues) = try resolve(#"{"maxChars": 100}"#)
    #expect(issues.isEmpty)
    let resolved = try #require(config)
    #expect(
      resolved.values.keys == [
        "minChars", "maxChars", "ratio", "scale", "mode", "fields", "lowercase", "label", "budget",
      ])
    #expect(resolved.values["minChars"]?.intValue == 0)
    #expect(resolved.values["maxChars"]?.intValue == 100)
    #expect(resolved.values["ratio"]?.doubleValue == 0.5)
    #expect(resolved.values["mode"]?.stringValue == "drop")
    #expect(resolved.values["fields"]?.arrayValue?.compactMap(\.stringValue) == [])
    #expect(resolved.values["lowercase"]?.boolValue == false)
    #expect(resolved.values["label"].flatMap { $0 == .null ? nil : $0 } == nil)
  }

  @Test func givenValuesAreKept() throws {
    let (config, issues) = try resolve(
      #"{"label":"x","lowercase":true,"fields":["a","b"],"mode":"tag","ratio":1,"maxChars":5,"minChars":3}"#)
    #expect(issues.isEmpty)
    let resolved = try #require(config)
    #expect(resolved.values["minChars"]?.intValue == 3)
    #expect(resolved.values["ratio"]?.doubleValue == 1)
    #expect(resolved.values["mode"]?.stringValue == "tag")
    #expect(resolved.values["fields"]?.arrayValue?.compactMap(\.stringValue) == ["a", "b"])
    #expect(resolved.values["lowercase"]?.boolValue == true)
    #expect(resolved.values["label"].flatMap { $0 == .null ? nil : $0 } == .string("x"))
    #expect(resolved.values.keys.first == "minChars")
  }

  @Test func unknownKeyIsReportedWithItsPathAndTheKnownKeys() throws {
    let (config, issues) = try resolve(#"{"maxChars": 100, "minChar": 3}"#)
    #expect(config == nil)
    let issue = try #require(issues.only)
    #expect(issue.path == "stages[1].config.minChar")
    #expect(issue.message.hasPrefix("unknown config key for filter.length@2"))
    #expect(issue.message.contains("minChars"))
  }

  @Test func missingRequiredKey() throws {
    let (config, issues) = try resolve("{}")
    #expect(config == nil)
    let issue = try #require(issues.only)
    #expect(issue.path == "stages[1].config.maxChars")
    #expect(issue.message.contains("required key is missing"))
  }

  @Test(arguments: [
    (#""minChars": "10""#, "minChars", "expected an integer in 0...1000000, got \"10\""),
    (#""minChars": 1.5"#, "minChars", "expected an integer in 0...1000000, got 1.5"),
    (#""minChars": -1"#, "minChars", "expected an integer in 0...1000000, got -1"),
    (#""minChars": 1000001"#, "minChars", "got 1000001"),
    (#""minChars": null"#, "minChars", "got null"),
    (#""ratio": 1.01"#, "ratio", "expected a number in 0...1, got 1.01"),
    (#""ratio": -0.1"#, "ratio", "got -0.1"),
    (#""ratio": true"#, "ratio", "got true"),
    (#""mode": "delete""#, "mode", #"expected one of "drop", "tag", got "delete""#),
    (#""mode": 1"#, "mode", "got 1"),
    (#""fields": ["a", 1]"#, "fields", "expected an array of strings"),
    (#""fields": "a""#, "fields", "expected an array of strings"),
    (#""lowercase": "yes""#, "lowercase", "expected a boolean"),
    (#""label": 3"#, "label", "expected a string, got 3"),
  ])
  func badValuesAreReportedWithTheirPath(_ member: String, _ key: String, _ message: String) throws {
    let (config, issues) = try resolve(#"{"maxChars": 10, \#(member)}"#)
    #expect(config == nil)
    let issue = try #require(issues.only)
    #expect(issue.path == "stages[1].config.\(key)")
    #expect(issue.message.contains(message), "message was: \(issue.message)")
  }

  @Test func everyProblemIsReportedAtOnce() throws {
    let (config, issues) = try resolve(#"{"bogus": 1, "other": 2, "minChars": -5, "mode": "x"}"#)
    #expect(config == nil)
    #expect(
      issues.map(\.path).sorted() == [
        "stages[1].config.bogus", "stages[1].config.maxChars", "stages[1].config.minChars", "stages[1].config.mode",
        "stages[1].config.other",
      ])
  }

  @Test func integralSpellingsNormalizeToTheSameCanonicalText() throws {
    let a = try #require(try resolve(#"{"maxChars": 10, "ratio": 1, "minChars": 2}"#).0)
    let b = try #require(try resolve(#"{"maxChars": 10.0, "ratio": 1.0, "minChars": 2e0}"#).0)
    #expect(a.canonicalText == b.canonicalText)
    #expect(a.values["maxChars"] == .int(10))
    #expect(b.values["maxChars"] == .int(10))
    #expect(b.values["ratio"] == .double(1))
  }

  @Test func spellingOutADefaultDoesNotChangeTheCanonicalText() throws {
    let implicit = try #require(try resolve(#"{"maxChars": 10}"#).0)
    let explicit = try #require(
      try resolve(
        #"{"maxChars": 10, "minChars": 0.0, "ratio": 0.5, "scale": 2.0, "mode": "drop", "fields": [], "lowercase": false, "label": null, "budget": 2e16}"#
      ).0)
    #expect(implicit.canonicalText == explicit.canonicalText)
    #expect(implicit.values == explicit.values)
  }

  @Test func typeDescriptions() {
    #expect(ConfigType.int(1...Int.max).description == "an integer in 1...max")
    #expect(ConfigType.double(0...(.infinity)).description == "a number in 0...inf")
    #expect(ConfigType.double(0.25...1).description == "a number in 0.25...1")
    #expect(ConfigType.double(-.infinity...0).description == "a number in -inf...0")
    #expect(ConfigType.choice(["a", "b"]).description == #"one of "a", "b""#)
  }

  @Test func registryFindsOpsByQualifiedNameOrNewest() {
    let v1 = OpDescriptor(name: "x.op", version: 1, summary: "", keys: [], make: { _ in .record(KeepEverything()) })
    let v3 = OpDescriptor(name: "x.op", version: 3, summary: "", keys: [], make: { _ in .record(KeepEverything()) })
    let registry = OpRegistry([v3, Self.op, v1])
    #expect(registry.ops.map(\.qualifiedName) == ["filter.length@2", "x.op@1", "x.op@3"])
    #expect(registry.op("x.op@1")?.version == 1)
    #expect(registry.op("x.op")?.version == 3)
    #expect(registry.op("x.op@2") == nil)
    #expect(registry.op("x.op@one") == nil)
    #expect(registry.op("nope@1") == nil)
    #expect(registry.op("@") == nil)
    #expect(registry.op("@1") == nil)
  }
}

extension Array {
  /// The single element, or `nil` when there are none or several.
  var only: Element? { count == 1 ? first : nil }
}
