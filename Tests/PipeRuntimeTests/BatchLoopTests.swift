import Dispatch
import Foundation
import PipeCore
import PipeIO
import PipeManifest
import PipeStages
import Synchronization
import Testing

@testable import PipeRuntime

/// A batch stage that works on each batch concurrently, as LLM stages do: records whose id ends
/// in 0 are dropped, in 1 are expanded into two records, in 2 into none, others are kept with a
/// mark. It remembers the largest batch it was given.
final class ConcurrentTestStage: BatchRecordStage {
  let batchSize = 3
  let largestBatch = Mutex(0)

  func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome] {
    largestBatch.withLock { $0 = max($0, batch.count) }
    let outcomes = Mutex([BatchOutcome?](repeating: nil, count: batch.count))
    DispatchQueue.concurrentPerform(iterations: batch.count) { index in
      var record = batch[index]
      context.counters.add("seen")
      let outcome: BatchOutcome
      switch record.id.last {
      case "0": outcome = .drop(reason: "ends_in_zero", detail: record.id)
      case "1":
        outcome = .expand([
          Record(id: record.id + "-a", text: "first"), Record(id: record.id + "-b", text: "second"),
        ])
      case "2": outcome = .expand([])
      case "3":
        outcome = .expand(
          [record],
          rejected: [RejectedOutput(record: Record(id: record.id + "-bad", text: "bad"), reason: "invalid_rewrite")])
      default:
        record.setMetadata("batched", .bool(true))
        outcome = .keep(record)
      }
      outcomes.withLock { $0[index] = outcome }
    }
    return outcomes.withLock { $0.compactMap { $0 } }
  }
}

struct BatchLoopTests {
  static let stage = ConcurrentTestStage()
  static let registry = OpRegistry([
    OpDescriptor(
      name: "test.batch", version: 1, summary: "test", keys: [], make: { _ in .batch(BatchLoopTests.stage) })
  ])

  static func run(_ base: String, workers: Int) throws -> (RunOutcome, String) {
    let text = """
      { "name": "b", "inputs": [{ "id": "in", "paths": ["*.jsonl"] }],
        "stages": [{ "id": "batch", "op": "test.batch@1", "inputs": ["in"] }], "output": { "from": "batch" } }
      """
    let spec = try PipelineLoader.validate(
      try JSONValue.parse(text), file: "b.json", baseDirectory: base, registry: registry,
      expandGlob: { try Glob.expand($0, relativeTo: $1) })
    let runDirectory = base + "/run-\(workers)"
    let request = RunRequest(
      spec: spec, pipelinePath: base + "/b.json", pipelineText: text, runDirectory: runDirectory, workers: workers)
    return (try Executor.run(request), runDirectory)
  }

  @Test func batchesAreWrittenInInputOrderWithDropsExpansionsAndRejects() throws {
    let base = try PlannerTests.folder()
    var lines = (0..<20).map { #"{"id":"r\#($0)","text":"text \#($0)"}"# }
    lines.insert("not json", at: 7)
    try lines.joined(separator: "\n").write(toFile: base + "/a.jsonl", atomically: true, encoding: .utf8)
    let (outcome, runDirectory) = try Self.run(base, workers: 2)
    #expect(outcome.succeeded)
    #expect(Self.stage.largestBatch.withLock { $0 } == 3)

    let kept = try readShard(runDirectory + "/data/batch/part-00000.jsonl.zst").map { try parse($0).id }
    var expected: [String] = []
    for index in 0..<20 {
      switch index % 10 {
      case 0, 2: continue
      case 1: expected += ["r\(index)-a", "r\(index)-b"]
      case 3: expected.append("r\(index)")
      default: expected.append("r\(index)")
      }
    }
    #expect(kept == expected)

    let manifest = try Manifest.openReadOnly(path: runDirectory + "/manifest.sqlite")
    defer { try? manifest.close() }
    let task = try #require(try manifest.tasks(stage: "batch").first)
    // 21 lines: 20 records and one that is not JSON. Dropped: r0, r10 (zero), r2, r12 (no
    // output), the bad line. Expanded: r1, r11 keep one record and emit one more each.
    #expect(task.recordsIn == 21)
    #expect(task.recordsDropped == 5)
    #expect(task.recordsKept == 16)
    #expect(task.recordsEmitted == 2)
    #expect(task.recordsIn == task.recordsKept + task.recordsDropped)
    #expect(
      try manifest.dropCounts().map { "\($0.reason)=\($0.count)" }.sorted() == [
        "ends_in_zero=2", "malformed_json=1", "no_output=2",
      ])
    // Counters added from several threads at once are all there.
    #expect(try manifest.counters(stage: "batch").first { $0.name == "seen" }?.value == 20)
    let rejects = try readShard(runDirectory + "/rejects/batch/part-00000.jsonl.zst")
    // Five dropped inputs and two refused outputs (of r3 and r13, which are kept).
    #expect(rejects.count == 7)
    #expect(rejects.filter { $0.contains("invalid_rewrite") }.count == 2)
    #expect(try manifest.counters(stage: "batch").first { $0.name == "rejected.invalid_rewrite" }?.value == 2)

    // Any worker count gives the same bytes.
    let (again, other) = try Self.run(base, workers: 1)
    #expect(again.succeeded)
    #expect(
      FileManager.default.contents(atPath: other + "/data/batch/part-00000.jsonl.zst")
        == FileManager.default.contents(atPath: runDirectory + "/data/batch/part-00000.jsonl.zst"))
  }

  private func readShard(_ path: String) throws -> [String] {
    let reader = try ShardReader(path: path)
    var lines: [String] = []
    while let line = try reader.next() { lines.append(String(decoding: line.bytes, as: UTF8.self)) }
    return lines
  }

  private func parse(_ line: String) throws -> Record {
    try Array(line.utf8).withUnsafeBufferPointer { buffer throws(RecordError) -> Record in
      try Record(line: buffer, fallbackID: "x")
    }
  }
}

/// Numbers records across shards: the state is the count so far.
private struct OrdinalStage: StatefulBatchStage {
  let batchSize = 4
  func initialState() throws -> JSONValue { .int(0) }
  func process(_ batch: [Record], state: inout JSONValue, context: StageContext) throws -> [BatchOutcome] {
    var count = state.intValue ?? -1000
    return batch.map { record in
      var record = record
      count += 1
      record.setMetadata("ordinal", .int(Int64(count)))
      state = .int(Int64(count))
      return .keepExplained(record, detail: "ordinal \(count)")
    }
  }
}

struct StatefulBatchTests {
  static let registry = OpRegistry([
    OpDescriptor(
      name: "test.ordinal", version: 1, summary: "t", keys: [], make: { _ in .statefulBatch(OrdinalStage()) })
  ])

  @Test func shardsRunInOrderCarryingTheState() throws {
    let base = try PlannerTests.folder()
    for shard in 0..<3 {
      let lines = (0..<(5 + shard)).map { #"{"id":"s\#(shard)-\#($0)","text":"t"}"# }
      try lines.joined(separator: "\n").write(toFile: base + "/in-\(shard).jsonl", atomically: true, encoding: .utf8)
    }
    let text = """
      { "name": "o", "inputs": [{ "id": "in", "paths": ["in-*.jsonl"] }],
        "stages": [{ "id": "ordinal", "op": "test.ordinal@1", "inputs": ["in"] }], "output": { "from": "ordinal" } }
      """
    let spec = try PipelineLoader.validate(
      try JSONValue.parse(text), file: "o.json", baseDirectory: base, registry: Self.registry,
      expandGlob: { try Glob.expand($0, relativeTo: $1) })
    let plan = try Planner(spec: spec, layout: RunLayout(root: base + "/run")).plan()
    let third = try #require(plan.tasks.first { $0.key == TaskKey(stage: "ordinal", shard: 2) })
    #expect(third.dependencies.contains(TaskKey(stage: "ordinal", shard: 1)))
    let request = RunRequest(
      spec: spec, pipelinePath: base + "/o.json", pipelineText: text, runDirectory: base + "/run", workers: 2)
    #expect(try Executor.run(request).succeeded)
    // 5 + 6 + 7 records numbered 1...18 across the shards; each task left its state behind.
    let last = try String(contentsOfFile: base + "/run/artifacts/ordinal/state-00002.json", encoding: .utf8)
    #expect(last.trimmingCharacters(in: .whitespacesAndNewlines) == "18")
    let first = try String(contentsOfFile: base + "/run/artifacts/ordinal/state-00000.json", encoding: .utf8)
    #expect(first.trimmingCharacters(in: .whitespacesAndNewlines) == "5")
    let manifest = try Manifest.openReadOnly(path: base + "/run/manifest.sqlite")
    defer { try? manifest.close() }
    let history = try manifest.provenance(recordID: "s2-6")
    #expect(history.verdicts.contains { $0.detail == "ordinal 18" })
  }
}
