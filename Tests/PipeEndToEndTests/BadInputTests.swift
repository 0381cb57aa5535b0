import Foundation
import PipeIO
import Testing

/// Bad input gets a clear answer and loses nothing: every case runs the built binary.
struct BadInputTests {
  static func passthroughPipeline(in folder: String, glob: String) throws -> String {
    try E2E.writePipeline(
      """
      { "name": "bad", "inputs": [{ "id": "in", "paths": ["\(glob)"] }],
        "stages": [{ "id": "pass", "op": "passthrough@1", "inputs": ["in"] }],
        "output": { "from": "pass" } }
      """, in: folder)
  }

  static func records(_ count: Int, prefix: String = "r") -> [String] {
    (0..<count).map {
      #"{"id":"\#(prefix)\#($0)","text":"record number \#($0) with some text","metadata":{"n":\#($0)}}"#
    }
  }

  @Test func truncatedZstdFailsTheTaskNamesTheFileAndResumesOnceFixed() throws {
    let folder = try E2E.temporaryDirectory("truncated")
    try FileManager.default.createDirectory(atPath: folder + "/in", withIntermediateDirectories: true)
    try E2E.writeShard(folder + "/in/a.jsonl.zst", json: Self.records(50, prefix: "a"))
    let broken = folder + "/in/b.jsonl.zst"
    try E2E.writeShard(broken, json: Self.records(3000, prefix: "b"))
    let whole = try #require(FileManager.default.contents(atPath: broken))
    try whole.prefix(whole.count - 40).write(to: URL(fileURLWithPath: broken))
    let pipeline = try Self.passthroughPipeline(in: folder, glob: "in/*.jsonl.zst")
    let runDirectory = folder + "/run"

    let failed = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(failed.status == 1)
    #expect(failed.stderr.contains(broken), "the error must name the file: \(failed.stderr)")
    #expect(failed.stderr.contains("truncated"))
    #expect(failed.stderr.contains("pipe resume"))
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("failed tasks:") && inspect.stdout.contains(broken))
    // The good shard is done and kept; the broken one left no output behind.
    #expect(FileManager.default.fileExists(atPath: runDirectory + "/data/pass/part-00000.jsonl.zst"))
    #expect(!FileManager.default.fileExists(atPath: runDirectory + "/data/pass/part-00001.jsonl.zst"))

    try whole.write(to: URL(fileURLWithPath: broken))
    let resumed = try E2E.pipe(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let output = try E2E.readLines(runDirectory + "/data/pass/part-00001.jsonl.zst")
    #expect(output.count == 3000)
  }

  @Test func malformedLinesBecomeRejectsWithReasonAndLineAndTheShardGoesOn() throws {
    let folder = try E2E.temporaryDirectory("malformed")
    let shard = folder + "/mixed.jsonl"
    var lines: [[UInt8]] = []
    lines.append(Array(#"{"id":"ok1","text":"first good record"}"#.utf8))  // line 1
    lines.append(Array(#"{"id":"bad-json","text":"unterminated"#.utf8))  // line 2
    // line 3: {"text":"\xC3("}, a lead byte followed by an ASCII byte
    lines.append([0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D])
    lines.append(Array(#"{"id":"no-text","metadata":{}}"#.utf8))  // line 4
    lines.append(Array(#"{"id":"num-text","text":42}"#.utf8))  // line 5
    lines.append(Array(#"{"text":"a record without an id","extra":[1,2,{"x":null}]}"#.utf8))  // line 6
    lines.append([])  // line 7: blank, not a record
    lines.append(Array(#"{"id":"ok2","text":"last good record","metadata":{"k":"é"}}"#.utf8))  // line 8
    try E2E.writeShard(shard, lines: lines)
    let pipeline = try Self.passthroughPipeline(in: folder, glob: "mixed.jsonl")
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")

    let kept = try E2E.readLines(runDirectory + "/data/pass/part-00000.jsonl.zst")
    #expect(kept.count == 3)
    #expect(kept[0] == #"{"id":"ok1","text":"first good record"}"#)
    #expect(kept[1] == #"{"id":"mixed.jsonl:6","text":"a record without an id","extra":[1,2,{"x":null}]}"#)
    #expect(kept[2] == #"{"id":"ok2","text":"last good record","metadata":{"k":"é"}}"#)

    let rejects = try E2E.readLines(runDirectory + "/rejects/pass/part-00000.jsonl.zst").map {
      try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    let reasons = rejects.map { (($0["reject"] as? [String: Any])?["reason"] as? String) ?? "" }
    let linesOfRejects = rejects.map { (($0["reject"] as? [String: Any])?["line"] as? Int) ?? 0 }
    #expect(reasons == ["malformed_json", "invalid_utf8", "missing_text", "text_not_string"])
    #expect(linesOfRejects == [2, 3, 4, 5])
    #expect(rejects[0]["raw"] as? String == #"{"id":"bad-json","text":"unterminated"#)
    #expect(rejects[1]["raw_base64"] as? String == Data(lines[2]).base64EncodedString())
    #expect(rejects[2]["id"] as? String == "no-text", "a dropped record keeps its fields")

    let inspect = try E2E.pipe(["inspect", runDirectory, "--json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
    let stages = try #require(document["stages"] as? [[String: Any]])
    let pass = try #require(stages.first { $0["id"] as? String == "pass" })
    #expect(pass["recordsIn"] as? Int == 7)
    #expect(pass["recordsKept"] as? Int == 3)
    #expect(pass["recordsDropped"] as? Int == 4)
    let drops = try #require(pass["dropReasons"] as? [String: Int])
    #expect(drops == ["malformed_json": 1, "invalid_utf8": 1, "missing_text": 1, "text_not_string": 1])

    let why = try E2E.pipe(["why", runDirectory, "mixed.jsonl:2"])
    #expect(why.status == 0)
    #expect(why.stdout.contains("malformed_json") && why.stdout.contains("line 2"))
  }

  @Test func emptyShardsRunAndCountNothing() throws {
    let folder = try E2E.temporaryDirectory("empty")
    try E2E.writeShard(folder + "/empty.jsonl.zst", lines: [])
    _ = FileManager.default.createFile(atPath: folder + "/zero.jsonl.zst", contents: Data())
    _ = FileManager.default.createFile(atPath: folder + "/zero.jsonl", contents: Data())
    let pipeline = try Self.passthroughPipeline(in: folder, glob: "*.jsonl*")
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")
    let counts = try E2E.sql(
      runDirectory + "/manifest.sqlite",
      "SELECT count(*), sum(records_in) FROM tasks WHERE stage_id = 'pass' AND status = 'done';")
    #expect(counts == ["3|0"])
    #expect(run.stdout.contains("(0 records;"))
  }

  @Test func hugeLineOfTensOfMegabytesPassesThroughIntact() throws {
    let folder = try E2E.temporaryDirectory("huge")
    let text = String(repeating: "all work and no play makes a long line ", count: 800_000)  // ~31 MB
    let line = #"{"id":"huge","text":"\#(text)","metadata":{"size":"large"}}"#
    try E2E.writeShard(
      folder + "/huge.jsonl.zst", json: [#"{"id":"small","text":"x"}"#, line, #"{"id":"after","text":"y"}"#])
    let pipeline = try Self.passthroughPipeline(in: folder, glob: "huge.jsonl.zst")
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")
    let kept = try E2E.readLines(runDirectory + "/data/pass/part-00000.jsonl.zst")
    #expect(kept.count == 3)
    #expect(kept[1] == line)
  }

  /// Every kind of bad pipeline file: exit 2 and the JSON path of the problem in the message.
  @Test(arguments: [
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "passthrough@1", "inputs": ["in"]}],"#,
      "line 1"
    ),
    (
      #"{"name": "x", "colour": 1, "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "passthrough@1", "inputs": ["in"]}]}"#,
      "colour: unknown key"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "filter.length@1", "inputs": ["in"], "config": {"minChars": "many"}}]}"#,
      "stages[0].config.minChars: expected"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "filter.length@1", "inputs": ["in"], "config": {"minChars": -5}}]}"#,
      "stages[0].config.minChars: expected"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "filter.length@1", "inputs": ["in"], "config": {"minChar": 5}}]}"#,
      "stages[0].config.minChar: unknown config key"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "nosuch.op@1", "inputs": ["in"]}]}"#,
      "stages[0].op: unknown op"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "passthrough@1", "inputs": ["nowhere"]}]}"#,
      "stages[0].inputs[0]"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "a", "op": "passthrough@1", "inputs": ["b"]}, {"id": "b", "op": "passthrough@1", "inputs": ["a"]}]}"#,
      "cycle"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "in", "op": "passthrough@1", "inputs": ["in"]}]}"#,
      "stages[0].id: duplicate id"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["nothing-here/*.jsonl"]}], "stages": [{"id": "s", "op": "passthrough@1", "inputs": ["in"]}]}"#,
      "inputs[0].paths[0]"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": "*.jsonl"}], "stages": {"id": "s"}}"#,
      "stages: expected an array"
    ),
    (
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["*.jsonl"]}], "stages": [{"id": "s", "op": "passthrough", "inputs": ["in"]}]}"#,
      "needs a version"
    ),
  ])
  func badPipelineFileExitsTwoWithItsJSONPath(document: String, expected: String) throws {
    let folder = try E2E.temporaryDirectory("badspec")
    try E2E.writeShard(folder + "/a.jsonl", json: [#"{"id":"1","text":"t"}"#])
    let pipeline = try E2E.writePipeline(document, in: folder)
    for command in ["validate", "run"] {
      let arguments = command == "run" ? ["run", pipeline, "--run-dir", folder + "/run"] : ["validate", pipeline]
      let result = try E2E.pipe(arguments)
      #expect(result.status == 2, "\(command): \(result.stderr)")
      #expect(result.stderr.contains(expected), "\(command) message lacks \"\(expected)\": \(result.stderr)")
      #expect(result.stderr.contains(pipeline), "the message names the file")
    }
    #expect(!FileManager.default.fileExists(atPath: folder + "/run"), "a bad pipeline must not create a run")
  }

  @Test func manyProblemsAreReportedTogether() throws {
    let folder = try E2E.temporaryDirectory("many")
    let pipeline = try E2E.writePipeline(
      #"{"name": "bad name!", "extra": true, "inputs": [{"id": "in", "paths": ["none/*.x"]}], "stages": [{"id": "a", "op": "nosuch@1", "inputs": ["zzz"]}, {"id": "a", "op": "filter.length@1", "inputs": ["in"], "config": {"maxWords": "ten"}}]}"#,
      in: folder)
    let result = try E2E.pipe(["validate", pipeline])
    #expect(result.status == 2)
    for fragment in [
      "name:", "extra:", "inputs[0].paths[0]", "stages[0].op", "stages[0].inputs[0]", "stages[1].id",
      "stages[1].config.maxWords",
    ] {
      #expect(result.stderr.contains(fragment), "missing \(fragment) in \(result.stderr)")
    }
  }
}

/// Config problems only the op can see are reported by `pipe validate` too, by JSON path.
struct OpConfigValidationTests {
  @Test func minimumAboveMaximumIsReportedByValidateAndRunCreatesNothing() throws {
    let folder = try E2E.temporaryDirectory("opconfig")
    try E2E.writeShard(folder + "/a.jsonl", json: [#"{"id":"1","text":"t"}"#])
    let pipeline = try E2E.writePipeline(
      #"{"name": "x", "inputs": [{"id": "in", "paths": ["a.jsonl"]}], "stages": [{"id": "s", "op": "filter.length@1", "inputs": ["in"], "config": {"minChars": 10, "maxChars": 5}}]}"#,
      in: folder)
    let validate = try E2E.pipe(["validate", pipeline])
    #expect(validate.status == 2)
    #expect(validate.stderr.contains("stages[0].config"), "\(validate.stderr)")
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run"])
    #expect(run.status == 2)
    #expect(!FileManager.default.fileExists(atPath: folder + "/run"))
  }
}
