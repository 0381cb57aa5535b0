import Testing

@testable import PipeCore

/// Config keys declared once, as `@Setting` properties: names, types, defaults, validation,
/// typed reading and what enters fingerprints all come from that one declaration.
struct SettingTests {
  struct Shared: ConfigSchema {
    @Setting("web", "A key several ops share.") var scenario: String
  }

  struct Options: ConfigSchema {
    @Setting(5, in: 1...64, "Words per shingle.") var ngrams: Int
    @Setting(0.5, in: 0...1, "A share.") var share: Double
    @Setting(true, "Fold case.") var lowercase: Bool
    @Setting("fast", oneOf: ["fast", "slow"], "How.") var mode: String
    @Setting(nil, "An optional key.") var label: String?
    @Setting(nil, in: 1...10, "An optional number.") var budget: Double?
    @Setting([], "Names.") var names: [String]
    @Setting(512, in: 1...4096, "Memory only.", affectsOutput: false) var memoryCapMB: Int
    @Setting(required: "A stage to use.") var model: StageID
    @Setting("x", "Not empty.", check: { $0.isEmpty ? "expected a non-empty key" : nil }) var field: String
    var shared = Shared()
  }

  static let descriptor = OpDescriptor(
    name: "test.op", version: 1, summary: "", options: Options.self, make: { _ in .record(KeepEverything()) })

  @Test func keysComeFromThePropertiesInDeclarationOrder() {
    let keys = Options.keys
    #expect(
      keys.map(\.name) == [
        "ngrams", "share", "lowercase", "mode", "label", "budget", "names", "memoryCapMB", "model", "field", "scenario",
      ])
    #expect(keys[0].type.description == "an integer in 1...64" && keys[0].defaultValue == .int(5))
    #expect(keys[3].type.description == #"one of "fast", "slow""#)
    #expect(keys[4].defaultValue == .null && keys[5].defaultValue == .null)
    #expect(keys[8].defaultValue == nil, "a required key has no default")
    #expect(keys.filter { !$0.affectsOutput }.map(\.name) == ["memoryCapMB"])
  }

  @Test func readingIsTypedWithDefaultsFilledIn() throws {
    let (config, issues) = Self.descriptor.resolve(
      ["model": .string("train"), "share": .int(1), "label": .string("l"), "names": .array([.string("a")])],
      path: "stages[0].config")
    #expect(issues.isEmpty)
    let options = Options(resolved: try #require(config))
    #expect(options.ngrams == 5 && options.share == 1 && options.lowercase && options.mode == "fast")
    #expect(options.label == "l" && options.budget == nil && options.names == ["a"] && options.model.id == "train")
    #expect(options.shared.scenario == "web")
    // A fresh schema reads its defaults.
    #expect(Options().ngrams == 5 && Options().label == nil)
  }

  @Test func problemsAreReportedAtTheirPaths() {
    let (config, issues) = Self.descriptor.resolve(
      ["ngrams": .int(0), "mode": .string("medium"), "field": .string(""), "scenarioo": .string("x")], path: "c")
    #expect(config == nil)
    #expect(
      issues.map(\.description).sorted() == [
        "c.field: expected a non-empty key",
        #"c.mode: expected one of "fast", "slow", got "medium""#,
        "c.model: required key is missing: expected a stage id",
        "c.ngrams: expected an integer in 1...64, got 0",
        "c.scenarioo: unknown config key for test.op@1 (known: budget, field, label, lowercase, memoryCapMB, mode, model, "
          + "names, ngrams, scenario, share)",
      ])
  }

  @Test func resourceKeysStayOutOfTheFingerprintText() throws {
    let resolve = { (cap: Int) in
      try #require(Self.descriptor.resolve(["model": .string("m"), "memoryCapMB": .int(Int64(cap))], path: "c").0)
    }
    let small = try resolve(1)
    let large = try resolve(4096)
    #expect(small.canonicalText == large.canonicalText)
    #expect(!small.canonicalText.contains("memoryCapMB"))
    #expect(small.fullText != large.fullText && large.fullText.contains(#""memoryCapMB":4096"#))
    let other = try #require(Self.descriptor.resolve(["model": .string("m"), "ngrams": .int(6)], path: "c").0)
    #expect(other.canonicalText != small.canonicalText)
  }

  @Test func eachSchemaNamesEveryKeyOnce() {
    struct Twice: ConfigSchema {
      @Setting(1, in: 0...9, "a") var a: Int
      var nested = Nested()
      struct Nested: ConfigSchema {
        @Setting(2, in: 0...9, "b") var b: Int
      }
    }
    #expect(Twice.keys.map(\.name) == ["a", "b"])
  }
}
