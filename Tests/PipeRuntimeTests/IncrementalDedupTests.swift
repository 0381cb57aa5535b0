import Foundation
import PipeCore
import PipeIO
import PipeStages
import Testing

@testable import PipeRuntime

/// `reference` and `exportIndex` of `dedup.exact` and `dedup.minhash@2`: a new crawl is
/// deduplicated against an earlier run's exported index exactly as one run over both would
/// deduplicate it, and the earlier run is not touched.
struct IncrementalDedupTests {
  typealias Helpers = NearDuplicateTests

  /// Corpus A (two shards) and corpus B (two shards): B repeats some of A exactly and with a
  /// few words changed, and repeats itself.
  static func writeCorpora(in folder: String) throws {
    let texts = (0..<8).map { Helpers.text(seed: 300 + UInt64($0), words: 150) }
    let near = { (index: Int) in NearDuplicateVersion2Tests.edited(texts[index], at: [20, 80], tag: "n") }
    let files: [String: [String]] = [
      "a0.jsonl": [Helpers.line("a0-0", texts[0]), Helpers.line("a0-1", texts[1]), Helpers.line("a0-2", texts[0])],
      "a1.jsonl": [Helpers.line("a1-0", texts[2]), Helpers.line("a1-1", texts[3])],
      "b0.jsonl": [
        Helpers.line("b0-0", texts[1]), Helpers.line("b0-1", near(2)), Helpers.line("b0-2", texts[4]),
        Helpers.line("b0-3", texts[5]),
      ],
      "b1.jsonl": [
        Helpers.line("b1-0", texts[4]), Helpers.line("b1-1", near(3)), Helpers.line("b1-2", texts[6]),
        Helpers.line("b1-3", texts[0]),
      ],
    ]
    for (name, lines) in files {
      try lines.joined(separator: "\n").write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }
  }

  static func run(
    _ folder: String, _ name: String, op: String, files: [String], config: String, workers: Int = 2
  ) throws -> RunOutcome {
    let paths = files.map { "\"\($0)\"" }.joined(separator: ", ")
    let text = """
      { "name": "\(name)", "seed": 3, "inputs": [{ "id": "in", "paths": [\(paths)] }],
        "stages": [ { "id": "d", "op": "\(op)", "inputs": ["in"], "config": \(config) } ] }
      """
    let spec = try PlannerTests.spec(text, base: folder)
    return try Executor.run(
      RunRequest(
        spec: spec, pipelinePath: folder + "/\(name).json", pipelineText: text, runDirectory: folder + "/" + name,
        workers: workers))
  }

  static func decompressed(_ path: String) throws -> [String] {
    let reader = try ShardReader(path: path)
    var lines: [String] = []
    while let line = try reader.next() { lines.append(String(decoding: line.bytes, as: UTF8.self)) }
    return lines
  }

  @Test(arguments: ["dedup.exact@1", "dedup.minhash@2"])
  func againstAnExportedIndexBIsDeduplicatedAsInOneRunAndAIsUntouched(op: String) throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpora(in: folder)
    let both = try Self.run(
      folder, "both", op: op, files: ["a0.jsonl", "a1.jsonl", "b0.jsonl", "b1.jsonl"], config: "{}")
    #expect(both.succeeded, "\(both.failures)")
    let first = try Self.run(folder, "a", op: op, files: ["a0.jsonl", "a1.jsonl"], config: #"{ "exportIndex": true }"#)
    #expect(first.succeeded, "\(first.failures)")
    #expect(FileManager.default.fileExists(atPath: folder + "/a/artifacts/d.export/index.json"))
    let before = try Helpers.snapshot(folder + "/a")
    let second = try Self.run(
      folder, "b", op: op, files: ["b0.jsonl", "b1.jsonl"], config: #"{ "reference": ["a/artifacts/d.export"] }"#)
    #expect(second.succeeded, "\(second.failures)")
    #expect(try Helpers.snapshot(folder + "/a") == before, "the reference run is not touched")

    for shard in 0..<2 {
      let name = "part-0000\(shard).jsonl.zst"
      let single = "part-0000\(shard + 2).jsonl.zst"
      #expect(
        try Self.decompressed(folder + "/b/data/d/" + name) == Self.decompressed(folder + "/both/data/d/" + single))
      #expect(
        try Self.decompressed(folder + "/b/rejects/d/" + name)
          == Self.decompressed(folder + "/both/rejects/d/" + single))
    }
    // B's copies of A's records name A's survivors; B's own repeat names B's first.
    let rejects = try (0..<2).flatMap { try Helpers.records(folder + "/b/rejects/d/part-0000\($0).jsonl.zst") }
    let details = Dictionary(
      uniqueKeysWithValues: rejects.map {
        ($0["id"]?.stringValue ?? "", $0["reject"]?.objectValue?["detail"]?.stringValue ?? "")
      })
    #expect(details["b0-0"] == "a0-1" && details["b1-3"] == "a0-0" && details["b1-0"] == "b0-2")
    if op.hasPrefix("dedup.minhash") {
      #expect(details["b0-1"] == "a1-0" && details["b1-1"] == "a1-1", "near copies of A's records")
    } else {
      #expect(details["b0-1"] == nil && details["b1-1"] == nil, "near copies are not exact duplicates")
    }
  }

  @Test(arguments: [
    ("dedup.exact@1", #"{ "lowercase": true, "reference": ["a/artifacts/d.export"] }"#, "lowercase"),
    ("dedup.minhash@2", #"{ "threshold": 0.7, "reference": ["a/artifacts/d.export"] }"#, "threshold"),
    ("dedup.minhash@2", #"{ "reference": ["a"] }"#, "no dedup index there"),
  ])
  func aReferenceMadeOtherwiseIsRefusedBeforeAnythingRuns(op: String, config: String, message: String) throws {
    let folder = try PlannerTests.folder()
    try Self.writeCorpora(in: folder)
    let first = try Self.run(folder, "a", op: op, files: ["a0.jsonl", "a1.jsonl"], config: #"{ "exportIndex": true }"#)
    #expect(first.succeeded, "\(first.failures)")
    let error = try #require(throws: PipelineValidationError.self) {
      try Self.run(folder, "b", op: op, files: ["b0.jsonl", "b1.jsonl"], config: config)
    }
    #expect(error.issues.map(\.path) == ["stages[0].config"])
    #expect(error.issues.first?.message.contains(message) == true, "\(error)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/b/manifest.sqlite"), "nothing ran")
  }

  /// `reference` was added to `dedup.exact@1`, which already had runs: absent, it leaves the
  /// fingerprint as it was (those runs do not redo the stage); given, it changes it.
  /// `exportIndex` never does (it adds a step, it does not change the records).
  @Test func referenceChangesTheFingerprintOnlyWhenGiven() throws {
    let descriptor = ExactDedup.descriptor
    let plain = descriptor.resolve([:], path: "c").0?.canonicalText
    #expect(plain == #"{"collapseWhitespace":true,"field":"text","lowercase":false,"nfc":true}"#)
    let referencing = descriptor.resolve(["reference": .array([.string("x")])], path: "c").0?.canonicalText
    #expect(referencing?.contains(#""reference":["x"]"#) == true)
    #expect(descriptor.resolve(["exportIndex": .bool(true)], path: "c").0?.canonicalText == plain)
  }
}
