import Foundation
import PipeCore
import PipeIO
import PipeStages
import Testing

@testable import PipeManifest
@testable import PipeRuntime

/// `dedup.minhash@2` through the executor: the threshold means the Jaccard similarity of the
/// shingle sets, greedy clusters, and the same bytes with any worker count and memory cap.
struct NearDuplicateVersion2Tests {
  typealias Helpers = NearDuplicateTests

  static func run(
    _ folder: String, runDirectory: String, workers: Int = 1, config: String = "{}"
  ) throws -> RunOutcome {
    let text = """
      { "name": "near2", "seed": 3, "inputs": [{ "id": "in", "paths": ["s*.jsonl"] }],
        "stages": [ { "id": "near", "op": "dedup.minhash@2", "inputs": ["in"], "config": \(config) } ],
        "output": { "from": "near" } }
      """
    let spec = try PlannerTests.spec(text, base: folder)
    return try Executor.run(
      RunRequest(
        spec: spec, pipelinePath: folder + "/p.json", pipelineText: text, runDirectory: runDirectory, workers: workers))
  }

  /// `text` with the words at `positions` replaced: each replaced word more than 5 words from
  /// the others changes 5 of the 5-word shingles.
  static func edited(_ text: String, at positions: [Int], tag: String) -> String {
    var words = text.split(separator: " ").map(String.init)
    for position in positions { words[position] = "zz" + tag + Helpers.word(UInt64(position)) }
    return words.joined(separator: " ")
  }

  /// The exact Jaccard similarity of two texts' shingle sets, as the stage computes it.
  static func jaccard(_ a: String, _ b: String) -> Double {
    let shingler = MinHashShingler(ngrams: 5, normalization: MinHashNormalization())
    let x = Set(shingler.shingles(of: a))
    let y = Set(shingler.shingles(of: b))
    return Double(x.intersection(y).count) / Double(x.union(y).count)
  }

  static func keptIDs(_ runDirectory: String, shards: Int) throws -> [String] {
    try (0..<shards).flatMap { try Helpers.records(runDirectory + "/data/near/part-0000\($0).jsonl.zst") }
      .map { $0["id"]?.stringValue ?? "" }
  }

  @Test func recordsAtOrAboveTheThresholdAreDroppedAndThoseJustBelowKept() throws {
    let folder = try PlannerTests.folder()
    var lines: [String] = []
    var expectedDropped: [String] = []
    // Pairs of an original and a copy with 2 to 7 words replaced: Jaccard 0.90 down to 0.70.
    for edits in 2...7 {
      let original = Helpers.text(seed: 40 + UInt64(edits), words: 200)
      let copy = Self.edited(original, at: (0..<edits).map { 10 + $0 * 25 }, tag: "e")
      let similarity = Self.jaccard(original, copy)
      lines += [Helpers.line("o\(edits)", original), Helpers.line("c\(edits)", copy)]
      if similarity >= 0.8 { expectedDropped.append("c\(edits)") }
    }
    #expect(expectedDropped == ["c2", "c3", "c4"], "the set straddles 0.8 (0.903, 0.858, 0.815 | 0.774, ...)")
    try lines.joined(separator: "\n").write(toFile: folder + "/s0.jsonl", atomically: true, encoding: .utf8)
    let outcome = try Self.run(folder, runDirectory: folder + "/run")
    #expect(outcome.succeeded, "\(outcome.failures)")
    let kept = try Self.keptIDs(folder + "/run", shards: 1)
    let all = (2...7).flatMap { ["o\($0)", "c\($0)"] }
    #expect(Set(all).subtracting(kept) == Set(expectedDropped))
    let rejects = try Helpers.records(folder + "/run/rejects/near/part-00000.jsonl.zst")
    #expect(rejects.map { $0["reject"]?.objectValue?["detail"]?.stringValue ?? "" } == ["o2", "o3", "o4"])
    let manifest = try Manifest.openReadOnly(path: folder + "/run/manifest.sqlite")
    defer { try? manifest.close() }
    let counters = try manifest.counters().filter { $0.stage == "near:buckets" }
    #expect((counters.first { $0.name == "verified_pairs" }?.value ?? 0) >= 3)
  }

  /// a, b, c in input order: a–b and b–c reach 0.8, a–c does not. Greedy keeps a and c (c's
  /// only similar record was dropped); connected components drop b and c.
  @Test func greedyClustersDropOnlyForASimilarSurvivor() throws {
    let folder = try PlannerTests.folder()
    let a = Helpers.text(seed: 70, words: 200)
    let b = Self.edited(a, at: [10, 40, 70], tag: "b")
    let c = Self.edited(b, at: [110, 140, 170], tag: "c")
    #expect(Self.jaccard(a, b) >= 0.8 && Self.jaccard(b, c) >= 0.8 && Self.jaccard(a, c) < 0.8)
    let lines = [Helpers.line("a", a), Helpers.line("b", b), Helpers.line("c", c)]
    try lines.joined(separator: "\n").write(toFile: folder + "/s0.jsonl", atomically: true, encoding: .utf8)

    let greedy = try Self.run(folder, runDirectory: folder + "/greedy")
    #expect(greedy.succeeded, "\(greedy.failures)")
    #expect(try Self.keptIDs(folder + "/greedy", shards: 1) == ["a", "c"])
    let clusters = try String(
      contentsOfFile: folder + "/greedy/artifacts/near.clusters/clusters.jsonl", encoding: .utf8)
    #expect(clusters == #"{"cluster":0,"size":2,"survivor":"a","members":["a","b"]}"# + "\n")

    let components = try Self.run(
      folder, runDirectory: folder + "/components", config: #"{ "clustering": "components" }"#)
    #expect(components.succeeded, "\(components.failures)")
    #expect(try Self.keptIDs(folder + "/components", shards: 1) == ["a"])
  }

  /// With `max_score`, the greedy order is by score: the best record survives, and a record
  /// similar only to a dropped one stays.
  @Test func greedyOrderFollowsTheScoreWithMaxScore() throws {
    let folder = try PlannerTests.folder()
    let a = Helpers.text(seed: 71, words: 200)
    let b = Self.edited(a, at: [10, 40, 70], tag: "b")
    let c = Self.edited(b, at: [110, 140, 170], tag: "c")
    let lines = [
      Helpers.line("a", a, metadata: ["q": .double(0.1)]), Helpers.line("b", b, metadata: ["q": .double(0.5)]),
      Helpers.line("c", c, metadata: ["q": .double(0.9)]),
    ]
    try lines.joined(separator: "\n").write(toFile: folder + "/s0.jsonl", atomically: true, encoding: .utf8)
    let outcome = try Self.run(
      folder, runDirectory: folder + "/run", config: #"{ "survivor": "max_score", "scoreField": "q" }"#)
    #expect(outcome.succeeded, "\(outcome.failures)")
    // c first (0.9): kept; b is similar to c: dropped; a is similar only to b: kept.
    #expect(try Self.keptIDs(folder + "/run", shards: 1) == ["a", "c"])
    let rejects = try Helpers.records(folder + "/run/rejects/near/part-00000.jsonl.zst")
    #expect(rejects.map { $0["id"]?.stringValue ?? "" } == ["b"])
    #expect(rejects.first?["reject"]?.objectValue?["detail"] == .string("c"))
  }

  @Test func sameBytesWithAnyWorkerCountMemoryCapAndAfterALostShingleFile() throws {
    let folder = try PlannerTests.folder()
    try Helpers.writeCorpus(in: folder, extraPerShard: 600)
    let reference = try Self.run(folder, runDirectory: folder + "/w1")
    #expect(reference.succeeded, "\(reference.failures)")
    let expected = try Helpers.snapshot(folder + "/w1")
    #expect(expected.keys.contains("artifacts/near.signatures/shingles-00001.bin"))
    for (name, workers, config) in [("w3", 3, "{}"), ("capped", 2, #"{ "memoryCapMB": 1 }"#)] {
      let outcome = try Self.run(folder, runDirectory: folder + "/" + name, workers: workers, config: config)
      #expect(outcome.succeeded, "\(outcome.failures)")
      let actual = try Helpers.snapshot(folder + "/" + name)
      #expect(actual.keys.sorted() == expected.keys.sorted())
      for (file, data) in expected { #expect(actual[file] == data, "\(file) differs in \(name)") }
    }
    try FileManager.default.removeItem(atPath: folder + "/w3/artifacts/near.signatures/shingles-00001.bin")
    let again = try Self.run(folder, runDirectory: folder + "/w3", workers: 3)
    #expect(again.ranTasks.contains(TaskKey(stage: "near:signatures", shard: 1)))
    #expect(try Helpers.snapshot(folder + "/w3") == expected)
  }
}
