import Foundation
import PipeManifest

/// A fresh directory per test (tests run in parallel), removed when the value goes away.
final class TemporaryDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "/pipe-manifest-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  /// `<dir>/manifest.sqlite`.
  var manifestPath: String { path + "/manifest.sqlite" }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// Builders for the rows the tests write.
enum Fixture {
  static func startRun(_ manifest: Manifest, seed: UInt64 = 42) throws -> Int64 {
    try manifest.startRun(
      pipelineName: "demo", pipelinePath: "pipelines/demo.json", pipelineJSON: #"{"name":"demo"}"#, seed: seed,
      workers: 4, command: "pipe run pipelines/demo.json", startedAt: 1_000)
  }

  @discardableResult
  static func recordStage(
    _ manifest: Manifest, _ id: String, position: Int, fingerprint: String = "fp-1", taskCount: Int = 2
  ) throws -> Bool {
    try manifest.recordStage(
      id: id, op: "\(id).op@1", position: position, inputs: position == 0 ? ["input"] : ["upstream"],
      configJSON: #"{"threshold":0.5}"#, fingerprint: fingerprint, taskCount: taskCount)
  }

  /// A completion for a filter task over records `<stage>-<shard>-<i>` for i in 0..<count, where
  /// every third record is dropped as "too_short" and every fifth (not already dropped) as "dup".
  static func completion(
    stage: String, shard: Int, records count: Int = 10, withOrigins: Bool = true, artifacts: [ArtifactRow] = []
  ) -> TaskCompletion {
    var verdicts: [RecordVerdict] = []
    var origins: [RecordOrigin] = []
    var drops: [String: Int] = [:]
    for i in 0..<count {
      let id = "rec-\(shard)-\(i)"
      if withOrigins {
        origins.append(RecordOrigin(recordID: id, sourcePath: "data/in/part-\(shard).jsonl.zst", line: i + 1))
      }
      if i % 3 == 0 {
        verdicts.append(RecordVerdict(recordID: id, kind: .dropped, reason: "too_short", detail: "\(i) chars"))
        drops["too_short", default: 0] += 1
      } else if i % 5 == 0 {
        verdicts.append(RecordVerdict(recordID: id, kind: .dropped, reason: "dup", detail: "duplicate of rec-0-1"))
        drops["dup", default: 0] += 1
      } else {
        verdicts.append(RecordVerdict(recordID: id, kind: .kept))
      }
    }
    let dropped = drops.values.reduce(0, +)
    return TaskCompletion(
      stage: stage, shard: shard, fingerprint: "task-fp", finishedAt: 2_000, durationSeconds: 1.5,
      recordsIn: count, recordsKept: count - dropped, recordsDropped: dropped, recordsEmitted: 0, bytesIn: count * 100,
      outputPath: "data/\(stage)/part-\(shard).jsonl.zst", outputBytes: 1234, checksum: "sha-\(shard)",
      rejectsPath: "rejects/\(stage)/part-\(shard).jsonl.zst", dropCounts: drops, origins: origins,
      verdicts: verdicts, artifacts: artifacts, decideSeconds: 0.25)
  }

  /// Starts and finishes one task.
  static func runTask(_ manifest: Manifest, stage: String, shard: Int, runID: Int64, records: Int = 10) throws {
    try manifest.markTaskStarted(
      stage: stage, shard: shard, input: "data/in/part-\(shard).jsonl.zst", fingerprint: "task-fp", runID: runID,
      startedAt: 1_500)
    try manifest.markTaskDone(completion(stage: stage, shard: shard, records: records))
  }
}
