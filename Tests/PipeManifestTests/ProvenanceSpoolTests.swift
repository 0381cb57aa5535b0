import Foundation
import PipeManifest
import Testing

/// The spool keeps provenance in bounded memory and loses nothing on the way to the manifest.
struct ProvenanceSpoolTests {
  @Test func spilledProvenanceReachesTheManifestWhole() throws {
    let directory = try TemporaryDirectory()
    let manifest = try Manifest(path: directory.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "filter", position: 0, taskCount: 1)
    try manifest.markTaskStarted(
      stage: "filter", shard: 0, input: "in.jsonl", fingerprint: "f", runID: runID, startedAt: 1)

    // A 1 kB limit forces many spilled blocks for 5,000 rows of each kind.
    let spillPath = directory.path + "/spool.tmp"
    let spool = ProvenanceSpool(spillPath: spillPath, memoryLimit: 1024)
    for index in 0..<5000 {
      try spool.addOrigin(recordID: "rec-\(index)", sourcePath: "/data/in-\(index % 3).jsonl", line: index + 1)
      try spool.addVerdict(
        recordID: "rec-\(index)", kind: index % 2 == 0 ? .dropped : .modified,
        reason: index % 2 == 0 ? "too_short" : nil, detail: index % 4 == 0 ? "detail \(index)" : nil)
    }
    #expect(FileManager.default.fileExists(atPath: spillPath), "the spool should have spilled")
    try manifest.markTaskDone(
      TaskCompletion(
        stage: "filter", shard: 0, fingerprint: "f", finishedAt: 2, durationSeconds: 1, recordsIn: 5000,
        recordsKept: 2500, recordsDropped: 2500, recordsEmitted: 0, bytesIn: 0, outputPath: nil, outputBytes: 0,
        checksum: nil, provenance: spool))
    spool.discard()
    #expect(!FileManager.default.fileExists(atPath: spillPath))

    // Rows are stored 64 per statement, then the last 8 one by one: every row, each batch's
    // first and last, and the single rows are all checked.
    for index in 0..<5000 {
      let history = try manifest.provenance(recordID: "rec-\(index)")
      #expect(history.origins.map(\.line) == [index + 1], "origin of rec-\(index)")
      #expect(history.verdicts.count == 1, "verdicts of rec-\(index)")
    }
    for index in [0, 1, 63, 64, 1023, 2048, 4991, 4992, 4999] {
      let history = try manifest.provenance(recordID: "rec-\(index)")
      #expect(history.origins.map(\.line) == [index + 1])
      #expect(history.origins.map(\.sourcePath) == ["/data/in-\(index % 3).jsonl"])
      let verdict = try #require(history.verdicts.first)
      #expect(verdict.kind == (index % 2 == 0 ? .dropped : .modified))
      #expect(verdict.reason == (index % 2 == 0 ? "too_short" : nil))
      #expect(verdict.detail == (index % 4 == 0 ? "detail \(index)" : nil))
    }
    // Every row arrived, in order.
    #expect(try manifest.provenance(recordID: "rec-5000").isEmpty)
    try manifest.close()
  }
}

/// Stage counters (schema v2) are stored per task and summed per stage.
struct StageCounterTests {
  @Test func countersAreStoredPerTaskReplacedOnRetryAndSummedPerStage() throws {
    let directory = try TemporaryDirectory()
    let manifest = try Manifest(path: directory.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "decon", position: 0, taskCount: 2)
    func complete(_ shard: Int, _ counters: [String: Int]) throws {
      try manifest.markTaskStarted(
        stage: "decon", shard: shard, input: "in", fingerprint: "f", runID: runID, startedAt: 1)
      try manifest.markTaskDone(
        TaskCompletion(
          stage: "decon", shard: shard, fingerprint: "f", finishedAt: 2, durationSeconds: 1, recordsIn: 1,
          recordsKept: 1, recordsDropped: 0, recordsEmitted: 0, bytesIn: 0, outputPath: nil, outputBytes: 0,
          checksum: nil, counters: counters))
    }
    try complete(0, ["hits.mmlu": 3, "hits.gsm8k": 1])
    try complete(1, ["hits.mmlu": 2])
    #expect(
      try manifest.counters() == [
        StageCounter(stage: "decon", name: "hits.gsm8k", value: 1),
        StageCounter(stage: "decon", name: "hits.mmlu", value: 5),
      ])
    try complete(1, ["hits.mmlu": 10])  // a retry replaces the task's counters
    #expect(try manifest.counters(stage: "decon").map(\.value) == [1, 13])
    try manifest.close()
  }
}
