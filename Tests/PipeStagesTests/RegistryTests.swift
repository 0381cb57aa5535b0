import PipeCore
import PipeStages
import Testing

@Suite struct RegistryTests {
  @Test func listsEveryOpWithItsVersion() {
    let names = Set(Ops.registry.ops.map(\.qualifiedName))
    #expect(names.isSuperset(of: ["dedup.exact@1", "filter.length@1", "normalize@1"]))
    #expect(names.count == Ops.registry.ops.count, "an op@version is listed twice")
    #expect(Ops.registry.op("normalize@1")?.name == "normalize")
    #expect(Ops.registry.op("filter.length")?.version == 1)
    #expect(Ops.registry.op("dedup.exact@2") == nil)
  }

  @Test func everyOpAndKeyIsDocumented() {
    for op in Ops.registry.ops {
      #expect(!op.summary.isEmpty, "\(op.qualifiedName)")
      #expect(Set(op.keys.map(\.name)).count == op.keys.count, "\(op.qualifiedName) repeats a key")
      for key in op.keys {
        #expect(!key.doc.isEmpty, "\(op.qualifiedName).\(key.name)")
      }
    }
  }

  @Test func defaultConfigResolvesAndBuilds() throws {
    for op in Ops.registry.ops {
      let required = op.keys.filter { $0.defaultValue == nil }.map(\.name)
      guard required.isEmpty else {
        // An op with required keys reports each of them, by path, when they are missing.
        let (resolved, issues) = op.resolve([:], path: "stages[0].config")
        #expect(resolved == nil)
        #expect(issues.map(\.path) == required.map { "stages[0].config.\($0)" }, "\(op.qualifiedName)")
        continue
      }
      let (resolved, issues) = op.resolve([:], path: "stages[0].config")
      #expect(issues.isEmpty, "\(op.qualifiedName): \(issues)")
      let config = try #require(resolved)
      #expect(config.values.keys == op.keys.map(\.name))
      _ = try op.make(config)
    }
  }

  @Test func defaultsAreTheDocumentedOnes() throws {
    let normalize = try #require(Ops.registry.op("normalize@1"))
    let (config, _) = normalize.resolve([:], path: "config")
    #expect(
      config?.canonicalText
        == #"{"collapseSpaces":true,"form":"nfc","keepIndentation":true,"maxBlankLines":2,"removeControl":true,"trimLines":true,"unifySpaces":true}"#
    )
    let length = try #require(Ops.registry.op("filter.length@1"))
    #expect(
      length.resolve([:], path: "config").0?.canonicalText
        == #"{"maxChars":null,"maxWords":null,"minChars":0,"minWords":0}"#)
    let dedup = try #require(Ops.registry.op("dedup.exact@1"))
    #expect(
      dedup.resolve([:], path: "config").0?.canonicalText
        == #"{"collapseWhitespace":true,"field":"text","lowercase":false,"nfc":true}"#)
  }

  @Test func badValuesAreReportedByPath() throws {
    let normalize = try #require(Ops.registry.op("normalize@1"))
    let (config, issues) = normalize.resolve(
      ["form": .string("nfd"), "trimLine": .bool(true)], path: "stages[2].config")
    #expect(config == nil)
    #expect(Set(issues.map { $0.path }) == ["stages[2].config.form", "stages[2].config.trimLine"])
  }
}
