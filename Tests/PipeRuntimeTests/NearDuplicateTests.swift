import Foundation
import PipeCore
import PipeIO
import PipeStages
import Testing

@testable import PipeManifest
@testable import PipeRuntime

/// `dedup.minhash` through the executor: clusters, survivors, determinism, reruns.
struct NearDuplicateTests {
  // MARK: - Whole runs

  /// A deterministic text of `words` words of letters (digits would all normalize to 0).
  static func text(seed: UInt64, words: Int = 120) -> String {
    var rng = SeededRNG(seed: seed)
    return (0..<words).map { _ in word(rng.next() % 20_000) }.joined(separator: " ")
  }

  static func word(_ number: UInt64) -> String {
    var number = number
    var letters: [Character] = []
    repeat {
      letters.append(Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(number % 26))))
      number /= 26
    } while number > 0
    return String(letters)
  }

  /// `text` with a few words replaced (Jaccard about 0.85 for 120 words and 2 edits).
  static func edited(_ text: String, seed: UInt64) -> String {
    var words = text.split(separator: " ").map(String.init)
    var rng = SeededRNG(seed: seed)
    for _ in 0..<2 { words[Int(rng.next() % UInt64(words.count))] = "edit" + word(rng.next() % 1000) }
    return words.joined(separator: " ")
  }

  static func line(_ id: String, _ text: String, metadata: JSONObject = [:]) -> String {
    JSONValue.object(["id": .string(id), "text": .string(text), "metadata": .object(metadata)]).jsonText
  }

  /// Three shards: cluster A (a0 in shard 0, a near copy in shard 1, an exact copy in shard
  /// 2), cluster B (b0 and a case-changed copy in shard 1), unrelated records, a malformed line,
  /// an empty text and two equal one-word texts.
  static func writeCorpus(in folder: String, extraPerShard: Int = 0) throws {
    let a = text(seed: 1)
    let b = text(seed: 2)
    let shards: [[String]] = [
      [line("a0", a, metadata: ["q": .double(0.1)]), line("u0", text(seed: 10)), line("e0", ""), line("s0", "Hello")],
      [
        line("u1", text(seed: 11)), line("a1", edited(a, seed: 5), metadata: ["q": .double(0.9)]), "{not json",
        line("b0", b), line("b1", b.uppercased()), line("s1", "hello!"),
      ],
      [line("a2", a, metadata: ["q": .double(0.9)]), line("u2", text(seed: 12))],
    ]
    for (index, records) in shards.enumerated() {
      var lines = records
      for extra in 0..<extraPerShard {
        lines.append(line("x\(index)-\(extra)", text(seed: 1000 + UInt64(index * 100_000 + extra), words: 20)))
      }
      try lines.joined(separator: "\n").write(toFile: "\(folder)/s\(index).jsonl", atomically: true, encoding: .utf8)
    }
  }

  static func pipeline(config: String = "{}") -> String {
    """
    { "name": "near", "seed": 3, "inputs": [{ "id": "in", "paths": ["s*.jsonl"] }],
      "stages": [ { "id": "near", "op": "dedup.minhash@1", "inputs": ["in"], "config": \(config) } ],
      "output": { "from": "near" } }
    """
  }

  static func run(_ folder: String, runDirectory: String, workers: Int, config: String = "{}") throws -> RunOutcome {
    let text = pipeline(config: config)
    let spec = try PlannerTests.spec(text, base: folder)
    return try Executor.run(
      RunRequest(
        spec: spec, pipelinePath: folder + "/p.json", pipelineText: text, runDirectory: runDirectory, workers: workers))
  }

  /// The bytes of every data, rejects, artifact and output file of a run.
  static func snapshot(_ runDirectory: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let root = URL(fileURLWithPath: runDirectory)
    for folder in ["data", "rejects", "artifacts", "output"] {
      guard let enumerator = FileManager.default.enumerator(atPath: runDirectory + "/" + folder) else { continue }
      for case let path as String in enumerator {
        let url = root.appendingPathComponent(folder).appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
          files[folder + "/" + path] = try Data(contentsOf: url)
        }
      }
    }
    return files
  }

  static func records(_ path: String) throws -> [JSONObject] {
    let reader = try ShardReader(path: path)
    var out: [JSONObject] = []
    while let line = try reader.next() {
      out.append(try JSONValue.parse(Array(line.bytes)).objectValue ?? [:])
    }
    return out
  }

  @Test func nearAndExactCopiesAcrossShardsCollapseToTheFirst() throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpus(in: folder)
    let outcome = try Self.run(folder, runDirectory: folder + "/run", workers: 2)
    #expect(outcome.succeeded, "\(outcome.failures)")
    let kept = try (0..<3).flatMap { try Self.records(folder + "/run/data/near/part-0000\($0).jsonl.zst") }
    #expect(kept.map { $0["id"]?.stringValue ?? "" } == ["a0", "u0", "e0", "s0", "u1", "b0", "u2"])
    let survivors = Dictionary(
      uniqueKeysWithValues: kept.map { ($0["id"]?.stringValue ?? "", $0["metadata"]?.objectValue?["duplicate_count"]) })
    #expect(survivors["a0"] == .int(3))
    #expect(survivors["b0"] == .int(2))
    #expect(survivors["s0"] == .int(2), "equal short texts are one shingle and meet")
    #expect(survivors["u0"] == .some(nil) && survivors["e0"] == .some(nil))

    let rejects = try (1..<3).flatMap { try Self.records(folder + "/run/rejects/near/part-0000\($0).jsonl.zst") }
    let reasons = rejects.map { record -> String in
      let reject = record["reject"]?.objectValue ?? [:]
      let detail = reject["reason"]?.stringValue == "malformed_json" ? "" : reject["detail"]?.stringValue ?? ""
      return "\(record["id"]?.stringValue ?? "?") \(reject["reason"]?.stringValue ?? "") \(detail)"
    }
    #expect(
      reasons.sorted()
        == [
          "a1 near_duplicate a0", "a2 near_duplicate a0", "b1 near_duplicate b0", "s1 near_duplicate s0",
          "s1.jsonl:3 malformed_json ",
        ].sorted())

    let clusters = try String(contentsOfFile: folder + "/run/artifacts/near.clusters/clusters.jsonl", encoding: .utf8)
    #expect(
      clusters.split(separator: "\n") == [
        #"{"cluster":0,"size":3,"survivor":"a0","members":["a0","a1","a2"]}"#,
        #"{"cluster":1,"size":2,"survivor":"s0","members":["s0","s1"]}"#,
        #"{"cluster":2,"size":2,"survivor":"b0","members":["b0","b1"]}"#,
      ])
    let manifest = try Manifest.openReadOnly(path: folder + "/run/manifest.sqlite")
    defer { try? manifest.close() }
    let counters = Dictionary(
      uniqueKeysWithValues: try manifest.counters().filter { $0.stage == "near:clusters" }.map { ($0.name, $0.value) })
    #expect(counters["clusters"] == 3 && counters["clustered_documents"] == 7 && counters["largest_cluster"] == 3)
    #expect(counters["near_duplicates"] == 4)
    let stages = try manifest.stages().map(\.id)
    #expect(stages == ["near:signatures", "near:buckets", "near:clusters", "near", ":export"])
    // The run built the record lookup indexes when it ended, and `why` finds the drops.
    let raw = try Connection(path: folder + "/run/manifest.sqlite", readOnly: true)
    let indexes = try raw.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE '%_by_record'") {
      $0.text(0)
    }
    #expect(indexes.sorted() == ["record_origins_by_record", "record_verdicts_by_record"])
    let history = try manifest.provenance(recordID: "a1")
    #expect(history.verdicts.map(\.reason) == ["near_duplicate"])
    #expect(history.origins.contains { $0.stage == "near" })
  }

  /// The filter step copies unclustered records without parsing them again: their bytes pass
  /// unchanged and their origins are recorded, while a record without an id still gets its
  /// generated id written, and one whose real id looks generated is kept as it is.
  @Test func unclusteredRecordsPassByteForByteAndGeneratedIdsAreWritten() throws {
    let folder = try PlannerTests.folder()
    let lines = [
      #"{ "text" : "\#(Self.text(seed: 20))",  "id": "spaced", "extra": [1, 2.50] }"#,
      #"{"text": "\#(Self.text(seed: 21))", "metadata": {"k": "v"}}"#,
      #"{"id": "s0.jsonl:3", "text": "\#(Self.text(seed: 22))"}"#,
    ]
    try lines.joined(separator: "\n").write(toFile: "\(folder)/s0.jsonl", atomically: true, encoding: .utf8)
    let outcome = try Self.run(folder, runDirectory: folder + "/run", workers: 1)
    #expect(outcome.succeeded, "\(outcome.failures)")

    let reader = try ShardReader(path: folder + "/run/data/near/part-00000.jsonl.zst")
    var kept: [String] = []
    while let line = try reader.next() { kept.append(String(decoding: line.bytes, as: UTF8.self)) }
    #expect(kept.count == 3)
    #expect(kept.first == lines[0], "an unclustered record passes byte for byte")
    #expect(kept.last == lines[2])
    let generated = try JSONValue.parse(Array(kept[1].utf8)).objectValue
    #expect(generated?["id"] == .string("s0.jsonl:2"))
    #expect(generated?["metadata"]?.objectValue?["k"] == .string("v"))

    let manifest = try Manifest.openReadOnly(path: folder + "/run/manifest.sqlite")
    defer { try? manifest.close() }
    for (id, line) in [("spaced", 1), ("s0.jsonl:2", 2), ("s0.jsonl:3", 3)] {
      let origins = try manifest.provenance(recordID: id).origins.filter { $0.stage == "near" }
      #expect(origins.map(\.line) == [line], "origin of \(id)")
    }
  }

  @Test func maxScoreKeepsTheHighestScoreAndTiesGoToTheFirst() throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpus(in: folder)
    let outcome = try Self.run(
      folder, runDirectory: folder + "/run", workers: 1, config: #"{ "survivor": "max_score", "scoreField": "q" }"#)
    #expect(outcome.succeeded, "\(outcome.failures)")
    let clusters = try String(contentsOfFile: folder + "/run/artifacts/near.clusters/clusters.jsonl", encoding: .utf8)
    // a1 and a2 both score 0.9: a1 comes first in input order.
    #expect(
      clusters.split(separator: "\n").first == #"{"cluster":0,"size":3,"survivor":"a1","members":["a0","a1","a2"]}"#)
    let rejected = try Self.records(folder + "/run/rejects/near/part-00000.jsonl.zst")
    #expect(rejected.map { $0["id"]?.stringValue } == ["a0"])
    #expect(rejected.first?["reject"]?.objectValue?["detail"] == .string("a1"))
  }

  @Test func outputIsTheSameWithAnyWorkerCountAndMemoryCap() throws {
    let folder = try PlannerTests.folder()
    // 2500 extra records per shard: with a 1 MB cap, shards spill, and a band's 7,500+ entries
    // are merged from the files (sorting them in memory takes their 32 bytes each plus 1 MiB
    // of bucket tables); under the default cap they are sorted in memory.
    try Self.writeCorpus(in: folder, extraPerShard: 2500)
    let reference = try Self.run(folder, runDirectory: folder + "/w1", workers: 1)
    #expect(reference.succeeded, "\(reference.failures)")
    let expected = try Self.snapshot(folder + "/w1")
    for (name, workers, config) in [
      ("w3", 3, "{}"), ("capped", 8, #"{ "memoryCapMB": 1 }"#), ("capped1", 1, #"{ "memoryCapMB": 1 }"#),
    ] {
      let outcome = try Self.run(folder, runDirectory: folder + "/" + name, workers: workers, config: config)
      #expect(outcome.succeeded, "\(outcome.failures)")
      let actual = try Self.snapshot(folder + "/" + name)
      #expect(actual.keys.sorted() == expected.keys.sorted())
      for (file, data) in expected { #expect(actual[file] == data, "\(file) differs in \(name)") }
    }
    let manifest = try Manifest.openReadOnly(path: folder + "/capped/manifest.sqlite")
    defer { try? manifest.close() }
    let spilled = try manifest.counters().first { $0.stage == "near:signatures" && $0.name == "spilled_runs" }
    #expect((spilled?.value ?? 0) > 0, "the capped run should have spilled")
  }

  @Test func lostArtifactsAreRebuiltToIdenticalOutput() throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpus(in: folder)
    let first = try Self.run(folder, runDirectory: folder + "/run", workers: 2)
    #expect(first.succeeded)
    let expected = try Self.snapshot(folder + "/run")
    #expect(try Self.run(folder, runDirectory: folder + "/run", workers: 2).tasksRun == 0)
    // A lost verdict file reruns the clustering and every filter task, nothing upstream.
    try FileManager.default.removeItem(atPath: folder + "/run/artifacts/near.clusters/verdicts.bin")
    let again = try Self.run(folder, runDirectory: folder + "/run", workers: 2)
    #expect(Set(again.ranTasks.map(\.stage)) == ["near:clusters", "near", ":export"])
    #expect(try Self.snapshot(folder + "/run") == expected)
    // A lost signature file reruns its task and everything that reads it.
    try FileManager.default.removeItem(atPath: folder + "/run/artifacts/near.signatures/signatures-00002.bin")
    let third = try Self.run(folder, runDirectory: folder + "/run", workers: 2)
    #expect(third.ranTasks.filter { $0.stage == "near:signatures" } == [TaskKey(stage: "near:signatures", shard: 2)])
    #expect(third.ranTasks.filter { $0.stage == "near:buckets" }.count == 4, "16 bands, 4 per task")
    #expect(try Self.snapshot(folder + "/run") == expected)
  }

  @Test func faultsCanTargetInternalSteps() {
    let plan = FaultPlan.parse("kill-in-task=near:signatures:3:50,fail-in-task=near:clusters:0")
    #expect(plan.killInTask?.stage == "near:signatures" && plan.killInTask?.shard == 3)
    #expect(plan.killInTask?.records == 50)
    #expect(plan.failInTask?.stage == "near:clusters" && plan.failInTask?.shard == 0)
  }

  @Test func planHasSignatureBucketClusterAndFilterSteps() throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpus(in: folder)
    let plan = try Planner(
      spec: try PlannerTests.spec(Self.pipeline(config: #"{ "bands": 9, "rows": 3 }"#), base: folder),
      layout: RunLayout(root: folder + "/run")
    ).plan()
    let counts = Dictionary(grouping: plan.tasks, by: \.key.stage).mapValues(\.count)
    #expect(counts == ["near:signatures": 3, "near:buckets": 3, "near:clusters": 1, "near": 3, ":export": 1])
    let filter = try #require(plan.tasks.first { $0.key == TaskKey(stage: "near", shard: 1) })
    #expect(Set(filter.dependencies) == [TaskKey(stage: "near:clusters", shard: 0)])
    #expect(filter.rows.first?.shard?.isSource == true)
    let bucket = try #require(plan.tasks.first { $0.key == TaskKey(stage: "near:buckets", shard: 2) })
    #expect(Set(bucket.dependencies) == Set((0..<3).map { TaskKey(stage: "near:signatures", shard: $0) }))
    // Changing the survivor rule changes every step's fingerprint (the config is one).
    let other = try Planner(
      spec: try PlannerTests.spec(
        Self.pipeline(config: #"{ "bands": 9, "rows": 3, "countField": "n" }"#), base: folder),
      layout: RunLayout(root: folder + "/run")
    ).plan()
    #expect(other.rows.allSatisfy { plan.rows[$0.key]?.fingerprint != $0.value.fingerprint })
  }
}
