import Testing

@testable import PipeCore

struct PipelineLoaderTests {
  struct GlobFailure: Error, CustomStringConvertible {
    var description: String { "bad pattern" }
  }

  static let registry = OpRegistry([
    OpDescriptor(
      name: "filter.length", version: 1, summary: "length filter",
      keys: [
        ConfigKey("minChars", .int(0...Int.max), default: .int(0), "fewest characters"),
        ConfigKey("maxChars", .int(1...Int.max), default: .int(Int64(Int.max)), "most characters"),
      ], make: { _ in .record(KeepEverything()) }),
    OpDescriptor(
      name: "dedup.exact", version: 1, summary: "exact dedup",
      keys: [ConfigKey("field", .choice(["text", "id"]), default: .string("text"), "what to compare")],
      make: { _ in .record(KeepEverything()) }),
  ])

  /// Canned glob results; `boom` throws; anything else matches nothing.
  static func glob(_ pattern: String, _ base: String) throws -> [String] {
    switch pattern {
    case "data/*.jsonl": return ["/p/data/a.jsonl", "/p/data/b.jsonl"]
    case "data/a*.jsonl": return ["/p/data/a.jsonl"]
    case "more/*.jsonl": return ["/p/more/c.jsonl"]
    case "boom": throw GlobFailure()
    default: return []
    }
  }

  func validate(_ json: String) throws -> Result<PipelineSpec, PipelineValidationError> {
    let document = try JSONValue.parse(json)
    return Result { () throws(PipelineValidationError) in
      try PipelineLoader.validate(
        document, file: "pipelines/p.json", baseDirectory: "/p", registry: Self.registry, expandGlob: Self.glob)
    }
  }

  func issues(_ json: String) throws -> [ValidationIssue] {
    switch try validate(json) {
    case .success: return []
    case .failure(let error): return error.issues
    }
  }

  /// A pipeline document; each part is one member's text and `nil` leaves the member out.
  static func pipeline(
    name: String? = #""name": "p""#,
    inputs: String? = #""inputs": [{"id": "raw", "paths": ["data/*.jsonl"]}]"#,
    stages: String? = #""stages": [{"id": "a", "op": "filter.length@1", "inputs": ["raw"]}]"#,
    output: String? = nil, extra: String? = nil
  ) -> String {
    "{" + [name, inputs, stages, output, extra].compactMap { $0 }.joined(separator: ",\n") + "}"
  }

  // MARK: Valid pipelines

  @Test func validPipelineGivesStagesInTopologicalOrderAndResolvedInputs() throws {
    var bases: [String] = []
    let json = """
      {
        "name": "web-v1", "description": "demo", "seed": 7,
        "inputs": [
          {"id": "raw", "paths": ["data/*.jsonl", "data/a*.jsonl"]},
          {"id": "extra", "paths": "more/*.jsonl"}
        ],
        "stages": [
          {"id": "a", "op": "filter.length@1", "inputs": ["raw"], "config": {"minChars": 10}},
          {"id": "c", "op": "dedup.exact@1", "inputs": ["b", "extra"]},
          {"id": "b", "op": "filter.length@1", "inputs": ["a"], "description": "second"},
          {"id": "d", "op": "dedup.exact@1", "inputs": ["a"], "config": {"field": "id"}}
        ],
        "output": {"from": "c", "targetShardBytes": 4096}
      }
      """
    let spec = try PipelineLoader.validate(
      JSONValue.parse(json), file: "p.json", baseDirectory: "/p", registry: Self.registry,
      expandGlob: { pattern, base in
        bases.append(base)
        return try Self.glob(pattern, base)
      })
    #expect(bases == ["/p", "/p", "/p"])
    #expect(spec.name == "web-v1")
    #expect(spec.description == "demo")
    #expect(spec.seed == 7)
    #expect(spec.baseDirectory == "/p")
    #expect(spec.inputs.map(\.id) == ["raw", "extra"])
    #expect(spec.input("raw")?.files == ["/p/data/a.jsonl", "/p/data/b.jsonl"])
    #expect(spec.input("raw")?.patterns == ["data/*.jsonl", "data/a*.jsonl"])
    #expect(spec.input("extra")?.files == ["/p/more/c.jsonl"])
    #expect(spec.stages.map(\.id) == ["a", "b", "c", "d"])
    #expect(spec.stages.map(\.index) == [0, 2, 1, 3])
    #expect(spec.stage("c")?.inputs == ["b", "extra"])
    #expect(spec.stage("c")?.op.qualifiedName == "dedup.exact@1")
    #expect(spec.stage("a")?.config.values["minChars"]?.intValue == 10)
    #expect(spec.stage("a")?.config.values["maxChars"]?.intValue == Int.max)
    #expect(spec.stage("d")?.config.values["field"]?.stringValue == "id")
    let output = try #require(spec.output)
    #expect(output.from == "c")
    #expect(output.path == "output")
    #expect(output.targetShardBytes == 4096)
    #expect(output.compressionLevel == 3)
  }

  @Test func shardCompressionLevelDefaultsToOneAndCanBeSet() throws {
    #expect(try validate(Self.pipeline()).get().shardCompressionLevel == 1)
    #expect(try validate(Self.pipeline(extra: #""shardCompressionLevel": 3"#)).get().shardCompressionLevel == 3)
  }

  @Test func independentStagesKeepFileOrder() throws {
    let spec = try validate(
      Self.pipeline(
        stages: #"""
          "stages": [
            {"id": "z", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "y", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "x", "op": "dedup.exact@1", "inputs": ["z", "y"]},
            {"id": "w", "op": "dedup.exact@1", "inputs": ["raw"]}
          ]
          """#)
    ).get()
    #expect(spec.stages.map(\.id) == ["z", "y", "x", "w"])
    #expect(spec.seed == 0)
    #expect(spec.output == nil)
  }

  @Test func topologicalOrderPrefersFileOrderAmongReadyStages() {
    let order = PipelineLoader.topologicalOrder([
      ("d", ["c"], 0), ("a", ["in"], 1), ("c", ["b", "a"], 2), ("b", ["a"], 3), ("e", ["in"], 4),
    ])
    #expect(order.ids == ["a", "b", "c", "d", "e"])
    #expect(order.cycle == nil)
  }

  // MARK: One problem at a time, each at its JSON path

  @Test(arguments: [
    (pipeline(extra: #""stagez": []"#), "stagez", "unknown key (expected one of: name, description"),
    (pipeline(name: nil), "name", "required key is missing"),
    (pipeline(name: #""name": "my pipeline""#), "name", #""my pipeline" is not a valid name"#),
    (pipeline(name: #""name": ".hidden""#), "name", "is not a valid name"),
    (pipeline(name: #""name": "\#(String(repeating: "n", count: 65))""#), "name", "at most 64"),
    (pipeline(name: #""name": 5"#), "name", "expected a string, got 5"),
    (pipeline(extra: #""seed": -1"#), "seed", "expected an integer in 0...max, got -1"),
    (pipeline(extra: #""seed": 1.5"#), "seed", "expected an integer in 0...max, got 1.5"),
    (pipeline(extra: #""description": []"#), "description", "expected a string, got []"),
    (pipeline(inputs: #""inputs": [{"id": "raw"}]"#), "inputs[0].paths", "required key is missing"),
    (pipeline(inputs: #""inputs": [{"id": "raw", "paths": []}]"#), "inputs[0].paths", "at least one path"),
    (pipeline(inputs: #""inputs": [{"id": "raw", "paths": 3}]"#), "inputs[0].paths", "got a number"),
    (
      pipeline(inputs: #""inputs": [{"id": "raw", "paths": ["data/*.jsonl", "nothing/*.jsonl"]}]"#),
      "inputs[0].paths[1]", #""nothing/*.jsonl" matches no file (relative paths resolve against /p)"#
    ),
    (
      pipeline(inputs: #""inputs": [{"id": "raw", "paths": ["boom"]}]"#), "inputs[0].paths[0]",
      #"cannot expand "boom": bad pattern"#
    ),
    (
      pipeline(inputs: #""inputs": [{"id": "raw", "paths": ["data/*.jsonl"], "glob": 1}]"#), "inputs[0].glob",
      "unknown key"
    ),
    (
      pipeline(
        inputs: #""inputs": [{"id": "raw", "paths": ["data/*.jsonl"]}, {"id": "other", "paths": ["more/*.jsonl"]}]"#,
        stages: #""stages": [{"id": "other", "op": "dedup.exact@1", "inputs": ["raw"]}]"#),
      "stages[0].id", #"duplicate id "other" (also at inputs[1].id)"#
    ),
    (
      pipeline(
        inputs: #""inputs": [{"id": "raw", "paths": ["data/*.jsonl"]}, {"id": "raw", "paths": ["more/*.jsonl"]}]"#),
      "inputs[1].id", #"duplicate id "raw" (also at inputs[0].id)"#
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "nope@1", "inputs": ["raw"]}]"#), "stages[0].op",
      #"unknown op "nope@1": run `pipe ops`"#
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "filter.length", "inputs": ["raw"]}]"#), "stages[0].op",
      #""filter.length" needs a version, as in "filter.length@1" (newest: filter.length@1)"#
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "filter.length@9", "inputs": ["raw"]}]"#), "stages[0].op",
      "known versions: filter.length@1"
    ),
    (pipeline(stages: #""stages": [{"id": "a", "op": "@", "inputs": ["raw"]}]"#), "stages[0].op", #"unknown op "@""#),
    (pipeline(stages: #""stages": [{"id": "a", "op": "@1", "inputs": ["raw"]}]"#), "stages[0].op", #"unknown op "@1""#),
    (pipeline(stages: #""stages": [{"id": "a", "op": 3, "inputs": ["raw"]}]"#), "stages[0].op", "expected a string"),
    (pipeline(stages: #""stages": [{"id": "a", "inputs": ["raw"]}]"#), "stages[0].op", "required key is missing"),
    (
      pipeline(stages: #""stages": [{"op": "dedup.exact@1", "inputs": ["raw"]}]"#), "stages[0].id",
      "required key is missing"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1"}]"#), "stages[0].inputs",
      "required key is missing"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": []}]"#), "stages[0].inputs",
      "at least one"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": ["raw", "raw"]}]"#),
      "stages[0].inputs", "listed twice"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": ["raw"], "config": [1]}]"#),
      "stages[0].config", "expected an object"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": ["raw"], "cfg": {}}]"#),
      "stages[0].cfg", "unknown key"
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": ["raw"], "description": 1}]"#),
      "stages[0].description", "expected a string"
    ),
    (pipeline(stages: #""stages": [1]"#), "stages[0]", "expected an object"),
    (
      pipeline(
        stages: #"""
          "stages": [
            {"id": "a", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "b", "op": "dedup.exact@1", "inputs": ["a"]},
            {"id": "c", "op": "dedup.exact@1", "inputs": ["ghost"]}
          ]
          """#), "stages[2].inputs[0]", #""ghost" is neither an input nor a stage id"#
    ),
    (
      pipeline(
        stages: #"""
          "stages": [
            {"id": "a", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "b", "op": "dedup.exact@1", "inputs": ["a", "b"]}
          ]
          """#), "stages[1].inputs", #"stage "b" lists itself as an input"#
    ),
    (
      pipeline(
        stages: #"""
          "stages": [
            {"id": "s", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "a", "op": "dedup.exact@1", "inputs": ["c"]},
            {"id": "b", "op": "dedup.exact@1", "inputs": ["a"]},
            {"id": "c", "op": "dedup.exact@1", "inputs": ["s", "b"]}
          ]
          """#), "stages[1].inputs", "cycle: a -> c -> b -> a"
    ),
    (
      pipeline(
        stages: #"""
          "stages": [
            {"id": "a", "op": "dedup.exact@1", "inputs": ["raw"]},
            {"id": "b", "op": "filter.length@1", "inputs": ["a"], "config": {"minChars": -1}}
          ]
          """#), "stages[1].config.minChars", "expected an integer in 0...max, got -1"
    ),
    (pipeline(output: #""output": {"from": "zzz"}"#), "output.from", #""zzz" is not a stage id"#),
    (pipeline(output: #""output": {"from": "raw"}"#), "output.from", "is not a stage id"),
    (pipeline(output: #""output": {"path": "x"}"#), "output.from", "required key is missing"),
    (
      pipeline(output: #""output": {"from": "a", "targetShardBytes": 1023}"#), "output.targetShardBytes",
      "expected an integer in 1024...max, got 1023"
    ),
    (pipeline(output: #""output": {"from": "a", "compressionLevel": 20}"#), "output.compressionLevel", "in 1...19"),
    (pipeline(extra: #""shardCompressionLevel": 0"#), "shardCompressionLevel", "in 1...19, got 0"),
    (pipeline(extra: #""shardCompressionLevel": "3""#), "shardCompressionLevel", "in 1...19"),
    (pipeline(output: #""output": {"from": "a", "path": ""}"#), "output.path", "non-empty string"),
    (pipeline(output: #""output": {"from": "a", "format": "parquet"}"#), "output.format", "unknown key"),
    (pipeline(output: #""output": "a""#), "output", "expected an object, got a string"),
    (pipeline(stages: #""stages": {}"#), "stages", "expected an array of stages, got an object"),
    (pipeline(stages: #""stages": []"#), "stages", "at least one stage"),
    (pipeline(stages: nil), "stages", "required key is missing"),
  ])
  func eachProblemIsReportedAloneAtItsPath(_ json: String, _ path: String, _ message: String) throws {
    let found = try issues(json)
    let issue = try #require(found.only, "issues: \(found)")
    #expect(issue.path == path)
    #expect(issue.message.contains(message), "message was: \(issue.message)")
  }

  @Test(arguments: [
    (pipeline(inputs: #""inputs": {"id": "raw"}"#), ["inputs", "stages[0].inputs[0]"]),
    (pipeline(inputs: #""inputs": []"#), ["inputs", "stages[0].inputs[0]"]),
    (pipeline(inputs: nil), ["inputs", "stages[0].inputs[0]"]),
    (
      pipeline(inputs: #""inputs": [{"id": "bad id", "paths": ["data/*.jsonl"]}]"#),
      ["inputs[0].id", "stages[0].inputs[0]"]
    ),
    (
      pipeline(inputs: #""inputs": [{"id": "raw", "paths": [5, "nothing/*"]}]"#),
      ["inputs[0].paths[0]", "inputs[0].paths[1]"]
    ),
    (
      pipeline(stages: #""stages": [{"id": "a", "op": "dedup.exact@1", "inputs": [5, "ghost"]}]"#),
      ["stages[0].inputs[0]", "stages[0].inputs[1]"]
    ),
    (pipeline(inputs: #""inputs": [{"id": "raw", "paths": "nothing/*"}]"#), ["inputs[0].paths"]),
    (
      // A stage listing itself is one problem; the real cycle through it is another.
      pipeline(
        stages: #"""
          "stages": [
            {"id": "b", "op": "dedup.exact@1", "inputs": ["b", "c"]},
            {"id": "c", "op": "dedup.exact@1", "inputs": ["b"]}
          ]
          """#), ["stages[0].inputs", "stages[0].inputs"]
    ),
  ])
  func relatedProblemsAreEachReportedAtTheirOwnPath(_ json: String, _ paths: [String]) throws {
    #expect(try issues(json).map(\.path) == paths)
  }

  @Test func selfInputInsideACycleReportsBoth() throws {
    let found = try issues(
      Self.pipeline(
        stages: #"""
          "stages": [
            {"id": "b", "op": "dedup.exact@1", "inputs": ["b", "c"]},
            {"id": "c", "op": "dedup.exact@1", "inputs": ["b"]}
          ]
          """#))
    #expect(found.map(\.message) == [#"stage "b" lists itself as an input"#, "cycle: b -> c -> b"])
  }

  @Test func rootMustBeAnObject() throws {
    let found = try issues("[1]")
    #expect(found == [ValidationIssue(path: "$", "expected an object, got an array")])
  }

  @Test func aDocumentWithManyProblemsReportsAllOfThem() throws {
    let json = """
      {
        "name": "bad name!",
        "sed": 1,
        "inputs": [
          {"id": "raw", "paths": ["data/*.jsonl", "nothing/*"]},
          {"id": "raw", "paths": []},
          "str"
        ],
        "stages": [
          {"id": "a", "op": "filter.length", "inputs": ["raw"]},
          {"id": "b", "op": "filter.length@1", "inputs": ["a"], "config": {"minChars": -1, "typo": 1}},
          {"id": "c", "op": "nope@1", "inputs": ["ghost"]},
          {"id": "x", "op": "dedup.exact@1", "inputs": ["y"]},
          {"id": "y", "op": "dedup.exact@1", "inputs": ["x"], "extra": 1},
          {"id": "b", "op": "dedup.exact@1", "inputs": ["a"]}
        ],
        "output": {"from": "nowhere", "targetShardBytes": 10, "compressionLevel": 0}
      }
      """
    let error = try #require(
      #expect(throws: PipelineValidationError.self) { try validate(json).get() })
    #expect(error.issues.count == 17)
    #expect(
      Set(error.issues.map(\.path)) == [
        "sed", "name", "inputs[0].paths[1]", "inputs[1].id", "inputs[1].paths", "inputs[2]", "stages[0].op",
        "stages[1].config.minChars", "stages[1].config.typo", "stages[2].op", "stages[4].extra", "stages[5].id",
        "stages[2].inputs[0]", "stages[3].inputs", "output.from", "output.targetShardBytes", "output.compressionLevel",
      ])
    #expect(error.issues.contains { $0.path == "stages[3].inputs" && $0.message == "cycle: x -> y -> x" })
    #expect(error.file == "pipelines/p.json")
    let lines = error.description.split(separator: "\n")
    #expect(lines.count == 17)
    #expect(lines.allSatisfy { $0.hasPrefix("pipelines/p.json: ") })
  }
}
