import Foundation
import Testing

/// Token counting, mixture planning and sampling through the built binary, on the bundled
/// samples grouped by `metadata.source` (five sources from 3% to 40% of the tokens).
struct MixtureTests {
  static let pipelineText = """
    { "name": "mixture", "seed": 11, "inputs": [{ "id": "samples", "paths": ["SAMPLES/*.jsonl.zst"] }],
      "stages": [
        { "id": "tokens", "op": "tokens.count@1", "inputs": ["samples"], "config": { "groupBy": "source" } },
        { "id": "plan", "op": "mixture.plan@1", "inputs": ["tokens"],
          "config": { "groupBy": "source", "policy": "unimax", "maxEpochs": 3 } },
        { "id": "sample", "op": "mixture.sample@1", "inputs": ["plan"] }
      ],
      "output": { "from": "sample", "path": "out", "targetShardBytes": 262144 } }
    """

  static func writePipeline(in folder: String) throws -> String {
    try E2E.writePipeline(
      pipelineText.replacingOccurrences(of: "SAMPLES", with: E2E.repositoryRoot + "/samples"), in: folder)
  }

  /// Tokens per group in the exported records, from `metadata.tokens` and `metadata.mixture.group`.
  static func realizedTokens(_ runDirectory: String) throws -> (tokens: [String: Int], epochs: Set<Int>) {
    var tokens: [String: Int] = [:]
    var epochs = Set<Int>()
    let folder = runDirectory + "/out"
    for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where name.hasSuffix(".zst") {
      for line in try E2E.readLines(folder + "/" + name) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: Any])
        let mixture = try #require(metadata["mixture"] as? [String: Any])
        let group = try #require(mixture["group"] as? String)
        tokens[group, default: 0] += try #require(metadata["tokens"] as? Int)
        epochs.insert(try #require(mixture["epoch"] as? Int))
      }
    }
    return (tokens, epochs)
  }

  @Test func sampledSharesFollowThePlanWithAnyWorkerCountAndAcrossAKill() throws {
    let folder = try E2E.temporaryDirectory("mixture")
    let pipeline = try Self.writePipeline(in: folder)
    let reference = folder + "/w1"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", reference, "--workers", "1"])
    #expect(run.status == 0, "\(run.stderr)")

    // The plan, as inspect --json reports it, against what was written.
    let inspect = try E2E.pipe(["inspect", reference, "--json"])
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
    let plans = try #require(document["mixturePlans"] as? [[String: Any]])
    #expect(plans.count == 1)
    let plan = try #require(plans.first)
    #expect(plan["stage"] as? String == "plan")
    #expect(plan["policy"] as? String == "unimax")
    #expect(plan["sampledBy"] as? String == "sample")
    let groups = try #require(plan["groups"] as? [[String: Any]])
    #expect(Set(groups.compactMap { $0["group"] as? String }) == ["code", "doc", "gettext", "man", "man-i18n"])
    let (realized, epochs) = try Self.realizedTokens(reference)
    let total = Double(realized.values.reduce(0, +))
    var planned: [String: Double] = [:]
    for group in groups {
      let name = try #require(group["group"] as? String)
      let shareAfter = try #require(group["shareAfter"] as? Double)
      planned[name] = shareAfter
      let realizedShare = Double(realized[name] ?? 0) / total
      #expect(abs(realizedShare - shareAfter) < 0.02, "\(name): planned \(shareAfter), realized \(realizedShare)")
      // What inspect says was sampled is what the output holds.
      #expect(group["tokensSampled"] as? Int == realized[name], "\(name)")
      #expect(try #require(group["rate"] as? Double) <= 3)
    }
    // UniMax here repeats the small groups and cuts the large ones: both kinds of copy occur.
    #expect(epochs == [0, 1, 2])
    #expect((planned["man-i18n"] ?? 1) < 0.25)

    // Conservation: every record read is kept or dropped; copies are emitted on top.
    let counts = try E2E.sql(
      reference + "/manifest.sqlite",
      "SELECT SUM(records_in), SUM(records_kept), SUM(records_dropped), SUM(records_emitted) FROM tasks WHERE stage_id = 'sample'"
    )
    let numbers = try #require(counts.first).split(separator: "|").compactMap { Int($0) }
    #expect(numbers.count == 4 && numbers[0] == numbers[1] + numbers[2] && numbers[2] > 0 && numbers[3] > 0)
    let exported = try E2E.sql(
      reference + "/manifest.sqlite", "SELECT records_in FROM tasks WHERE stage_id = ':export'")
    #expect(exported.first.flatMap { Int($0) } == numbers[1] + numbers[3])
    let rows = try E2E.sql(reference + "/manifest.sqlite", "SELECT count(*) FROM mixture_plans WHERE stage = 'plan'")
    #expect(rows == ["5"])

    // The same bytes with three workers, and after kills at several points and a resume.
    let expected = try E2E.outputs(reference)
    let three = folder + "/w3"
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", three, "--workers", "3"]).status == 0)
    E2E.expectSameFiles(try E2E.outputs(three), expected, "with 3 workers")
    for fault in ["kill-in-task=sample:2:40", "kill-after-tasks=9"] {
      let killed = folder + "/" + fault.replacingOccurrences(of: ":", with: "_")
      let first = try E2E.pipe(
        ["run", pipeline, "--run-dir", killed, "--workers", "2"], environment: ["PIPE_FAULT": fault])
      #expect(first.wasSignaled, "\(fault) should have killed the run")
      let resumed = try E2E.pipe(["resume", killed, "--workers", "2"])
      #expect(resumed.status == 0, "\(resumed.stderr)")
      E2E.expectSameFiles(try E2E.outputs(killed), expected, "after \(fault) and resume")
    }

    // Changing only the policy reruns the plan and the sampling, not the token count.
    let edited = Self.pipelineText.replacingOccurrences(of: "SAMPLES", with: E2E.repositoryRoot + "/samples")
      .replacingOccurrences(of: #""policy": "unimax""#, with: #""policy": "temperature", "temperature": 2"#)
    try edited.write(toFile: pipeline, atomically: true, encoding: .utf8)
    let rerun = try E2E.pipe(["run", pipeline, "--run-dir", reference])
    #expect(rerun.status == 0, "\(rerun.stderr)")
    // plan:totals 4 + plan 1 + sample 4 + export 1.
    #expect(rerun.stdout.contains("10 task(s) run"), "\(rerun.stdout)")
    let text = try E2E.pipe(["inspect", reference]).stdout
    #expect(text.contains("mixture plan of plan (policy temperature), sampled by sample"), "\(text)")
  }

  /// The bundled multilingual pipeline caps groups at four copies, so its temperature plan is
  /// water-filled over many groups: the floating-point sums there once followed a `Set`'s order,
  /// which changes from one process to the next, and the plan's last digits with it.
  @Test func theSamePlanAndRejectsFromEveryProcess() throws {
    let folder = try E2E.temporaryDirectory("mixture-processes")
    let pipeline = E2E.repositoryRoot + "/pipelines/multilingual.json"
    var reference: [String: Data]?
    for (attempt, workers) in [1, 2, 1, 2].enumerated() {
      let runDirectory = folder + "/run\(attempt)"
      let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--workers", String(workers)])
      try #require(run.status == 0, "\(run.stderr)")
      let files = try E2E.outputs(runDirectory)
      #expect(files.keys.contains("artifacts/mixture/plan.json"))
      if let reference {
        E2E.expectSameFiles(files, reference, "in process \(attempt + 1) with \(workers) worker(s)")
      } else {
        reference = files
      }
    }
  }

  @Test func badMixturePipelinesAreRejectedAtTheirJSONPath() throws {
    let folder = try E2E.temporaryDirectory("mixture-bad")
    let samples = E2E.repositoryRoot + "/samples/*.jsonl.zst"
    let cases: [(stages: String, path: String)] = [
      (
        #"{ "id": "sample", "op": "mixture.sample@1", "inputs": ["in"] }"#,
        "stages[0].inputs"
      ),
      (
        #"{ "id": "plan", "op": "mixture.plan@1", "inputs": ["in"], "config": { "policy": "target", "shares": { "en": 0.5, "de": "half" } } }"#,
        "stages[0].config.shares.de"
      ),
      (
        #"{ "id": "plan", "op": "mixture.plan@1", "inputs": ["in"], "config": { "policy": "babel_tower", "dominant": "python", "curves": { "php": [[1e9]] } } }"#,
        "stages[0].config.curves.php[0]"
      ),
    ]
    for (index, testCase) in cases.enumerated() {
      let pipeline = try E2E.writePipeline(
        #"{ "name": "bad", "inputs": [{ "id": "in", "paths": ["\#(samples)"] }], "stages": [\#(testCase.stages)] }"#,
        in: folder, name: "bad\(index).json")
      let result = try E2E.pipe(["validate", pipeline])
      #expect(result.status == 2, "\(testCase.path): \(result.stderr)")
      #expect(result.stderr.contains(testCase.path + ":"), "\(testCase.path): \(result.stderr)")
    }

    // A plan whose target names a group absent from the data fails its task, saying which.
    let pipeline = try E2E.writePipeline(
      """
      { "name": "absent", "inputs": [{ "id": "in", "paths": ["\(samples)"] }], "stages": [
        { "id": "plan", "op": "mixture.plan@1", "inputs": ["in"],
          "config": { "groupBy": "source", "policy": "target", "shares": { "code": 0.5, "wiki": 0.5 } } },
        { "id": "sample", "op": "mixture.sample@1", "inputs": ["plan"] } ] }
      """, in: folder, name: "absent.json")
    let failed = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/absent"])
    #expect(failed.status == 1)
    #expect(failed.stderr.contains("\"wiki\""), "\(failed.stderr)")
  }
}
