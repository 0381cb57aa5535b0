import Foundation
import PipeCore
import PipeIO
import PipeManifest
import PipeStages
import Testing

@testable import PipeRuntime

/// The planner's fingerprints decide what reruns; these tests pin what they depend on.
struct PlannerTests {
  static func folder() throws -> String {
    let path = NSTemporaryDirectory() + "pipe-runtime-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func spec(_ text: String, base: String) throws -> PipelineSpec {
    try PipelineLoader.validate(
      try JSONValue.parse(text), file: "test.json", baseDirectory: base, registry: Ops.registry,
      expandGlob: { try Glob.expand($0, relativeTo: $1) })
  }

  static func pipeline(minChars: Int, seed: Int = 1) -> String {
    """
    { "name": "t", "seed": \(seed), "inputs": [{ "id": "in", "paths": ["*.jsonl"] }],
      "stages": [
        { "id": "norm", "op": "normalize@1", "inputs": ["in"] },
        { "id": "len", "op": "filter.length@1", "inputs": ["norm"], "config": { "minChars": \(minChars) } },
        { "id": "dup", "op": "dedup.exact@1", "inputs": ["len"] }
      ],
      "output": { "from": "dup" } }
    """
  }

  static func fingerprints(_ text: String, base: String) throws -> [TaskKey: String] {
    let plan = try Planner(spec: try spec(text, base: base), layout: RunLayout(root: base + "/run")).plan()
    return plan.rows.mapValues(\.fingerprint)
  }

  @Test func planHasOneTaskPerStageAndShardPlusDedupStepsAndExport() throws {
    let base = try Self.folder()
    for name in ["a", "b", "c"] {
      _ = FileManager.default.createFile(atPath: "\(base)/\(name).jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    }
    let plan = try Planner(spec: try Self.spec(Self.pipeline(minChars: 5), base: base), layout: RunLayout(root: base))
      .plan()
    let counts = Dictionary(grouping: plan.rows.values, by: \.key.stage).mapValues(\.count)
    #expect(counts == ["norm": 3, "len": 3, "dup:keys": 3, "dup:index": 1, "dup": 3, ":export": 1])
    #expect(plan.stages.map(\.id) == ["norm", "len", "dup:keys", "dup:index", "dup", ":export"])
    // norm, len and the keys pass are one task per shard (one pass); len's records are written,
    // since the filter reads them again after the index; norm's are not.
    let chain = try #require(plan.tasks.first { $0.key == TaskKey(stage: "norm", shard: 1) })
    #expect(chain.rows.map(\.key) == ["norm", "len", "dup:keys"].map { TaskKey(stage: $0, shard: 1) })
    #expect(chain.rows.map(\.materialized) == [false, true, false])
    #expect(plan.tasks.map(\.key.stage) == ["norm", "norm", "norm", "dup:index", "dup", "dup", "dup", ":export"])
    // The filter of shard 1 waits for the pass that writes its input shard and for the index.
    let filter = try #require(plan.tasks.first { $0.key == TaskKey(stage: "dup", shard: 1) })
    #expect(Set(filter.dependencies) == [TaskKey(stage: "norm", shard: 1), TaskKey(stage: "dup:index", shard: 0)])
    #expect(plan.rows[TaskKey(stage: "norm", shard: 0)]?.shard?.isSource == true)
    #expect(plan.rows[TaskKey(stage: "len", shard: 0)]?.shard?.isSource == false)
    #expect(plan.rows[TaskKey(stage: "dup", shard: 0)]?.shard?.label == "data/len/part-00000.jsonl.zst")
  }

  @Test func changingAConfigChangesThatStageAndItsDownstreamOnly() throws {
    let base = try Self.folder()
    _ = FileManager.default.createFile(atPath: "\(base)/a.jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    let before = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    let same = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    #expect(before == same, "fingerprints must be deterministic")
    let after = try Self.fingerprints(Self.pipeline(minChars: 6), base: base)
    let changed = Set(before.keys.filter { before[$0] != after[$0] }.map(\.stage))
    #expect(changed == ["len", "dup:keys", "dup:index", "dup", ":export"])
    let reseeded = try Self.fingerprints(Self.pipeline(minChars: 5, seed: 2), base: base)
    #expect(before.keys.allSatisfy { before[$0] != reseeded[$0] }, "the seed reaches every task")
  }

  @Test func spellingOutADefaultDoesNotChangeTheFingerprint() throws {
    let base = try Self.folder()
    _ = FileManager.default.createFile(atPath: "\(base)/a.jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    let implicit = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    let explicit = try Self.fingerprints(
      Self.pipeline(minChars: 5).replacingOccurrences(
        of: #""op": "normalize@1", "inputs": ["in"] }"#,
        with: #""op": "normalize@1", "inputs": ["in"], "config": { "form": "nfc" } }"#), base: base)
    #expect(implicit == explicit)
  }

  @Test func shardCompressionLevelReachesTheTasksThatWriteShards() throws {
    let base = try Self.folder()
    _ = FileManager.default.createFile(atPath: "\(base)/a.jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    func withLevel(_ level: Int) -> String {
      Self.pipeline(minChars: 5).replacingOccurrences(
        of: #"{ "name": "t","#, with: #"{ "name": "t", "shardCompressionLevel": \#(level),"#)
    }
    let implicit = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    #expect(try Self.fingerprints(withLevel(1), base: base) == implicit, "1 is the default")
    let three = try Self.fingerprints(withLevel(3), base: base)
    // Every task writes a shard or reads one written at the other level.
    #expect(implicit.keys.allSatisfy { implicit[$0] != three[$0] })
  }

  @Test func editingOneSourceFileChangesOnlyItsChain() throws {
    let base = try Self.folder()
    for name in ["a", "b"] {
      _ = FileManager.default.createFile(atPath: "\(base)/\(name).jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    }
    let before = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    _ = FileManager.default.createFile(atPath: "\(base)/b.jsonl", contents: Data(#"{"text":"changed"}"#.utf8))
    let after = try Self.fingerprints(Self.pipeline(minChars: 5), base: base)
    let changed = Set(before.keys.filter { before[$0] != after[$0] })
    #expect(changed.contains(TaskKey(stage: "norm", shard: 1)))
    #expect(!changed.contains(TaskKey(stage: "norm", shard: 0)))
    #expect(!changed.contains(TaskKey(stage: "len", shard: 0)))
    #expect(changed.contains(TaskKey(stage: "dup:index", shard: 0)), "the index reads every shard")
  }

  @Test func fingerprintPartsAreLengthPrefixed() {
    #expect(Fingerprint.of(["ab", "c"]) != Fingerprint.of(["a", "bc"]))
    #expect(Fingerprint.of(["x"]).count == 32)
  }

  @Test func layoutMakesPathsAbsoluteAndKeepsInternalIDsOutOfFolderNames() {
    #expect(RunLayout.absolute("/a/./b/../c") == "/a/c")
    let layout = RunLayout(root: "/runs/x")
    #expect(layout.dataShard(stage: "dedup:keys", shard: 7) == "/runs/x/data/dedup.keys/part-00007.jsonl.zst")
    #expect(layout.outputFolder("/abs/out") == "/abs/out")
    #expect(layout.outputFolder("out") == "/runs/x/out")
  }
}

/// The executor in process: counts, rejects and reruns without the CLI.
struct ExecutorTests {
  @Test func runCountsKeepsAndRejectsThenSkipsWhenUpToDate() throws {
    let base = try PlannerTests.folder()
    let lines = [
      #"{"id":"1","text":"hello world, this is long enough"}"#, #"{"id":"2","text":"short"}"#, "not json",
      #"{"id":"3","text":"hello world, this is long enough"}"#,
    ]
    try lines.joined(separator: "\n").write(toFile: base + "/a.jsonl", atomically: true, encoding: .utf8)
    let text = PlannerTests.pipeline(minChars: 10)
    let spec = try PlannerTests.spec(text, base: base)
    let request = RunRequest(
      spec: spec, pipelinePath: base + "/p.json", pipelineText: text, runDirectory: base + "/run", workers: 2)
    let outcome = try Executor.run(request)
    #expect(outcome.succeeded)
    #expect(outcome.outputRecords == 1)
    let manifest = try Manifest.openReadOnly(path: base + "/run/manifest.sqlite")
    #expect(
      try manifest.dropCounts().map { "\($0.stage):\($0.reason)=\($0.count)" } == [
        "norm:malformed_json=1", "len:too_few_chars=1", "dup:duplicate=1",
      ])
    try manifest.close()
    let again = try Executor.run(request)
    #expect(again.tasksRun == 0 && again.tasksSkipped == outcome.tasksRun)
  }

  @Test func faultPlanParsesItsClauses() {
    let plan = FaultPlan.parse("kill-in-task=dedup:3:50,fail-in-task=norm:1,kill-after-tasks=4")
    #expect(plan.killInTask?.stage == "dedup" && plan.killInTask?.shard == 3 && plan.killInTask?.records == 50)
    #expect(plan.failInTask?.stage == "norm" && plan.failInTask?.shard == 1)
    #expect(plan.killAfterTasks == 4)
    #expect(FaultPlan.parse("").killAfterTasks == nil && FaultPlan.parse("nonsense").killInTask == nil)
  }
}
