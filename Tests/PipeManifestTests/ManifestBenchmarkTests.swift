import Foundation
import Glibc
import PipeManifest
import Testing

/// Provenance at scale: 1,000,000 origins and 1,000,000 verdicts over 10 tasks, then lookups.
///
/// Prints figures and asserts only correctness, never time (machines differ). Off by default
/// because it takes a while; run it with
/// `PIPE_MANIFEST_BENCH=1 swift test --filter ManifestBenchmarkTests`
/// (add `-c release -Xswiftc -enable-testing` for release-build figures).
struct ManifestBenchmarkTests {
  @Test(.enabled(if: ProcessInfo.processInfo.environment["PIPE_MANIFEST_BENCH"] != nil))
  func provenanceInsertAndLookupAtScale() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    let tasks = 10
    let perTask = 100_000
    try Fixture.recordStage(manifest, "read", position: 0, taskCount: tasks)
    let reasons = ["too_short", "low_quality", "duplicate", "bad_language", "toxic"]

    func completion(_ shard: Int) -> TaskCompletion {
      var origins: [RecordOrigin] = []
      var verdicts: [RecordVerdict] = []
      origins.reserveCapacity(perTask)
      verdicts.reserveCapacity(perTask)
      var drops: [String: Int] = [:]
      for i in 0..<perTask {
        let id = "cc-2024-\(shard)-\(String(i * 7919 % 1_000_003))-\(i)"
        origins.append(RecordOrigin(recordID: id, sourcePath: "raw/web/part-\(shard).jsonl.zst", line: i + 1))
        if i % 4 == 0 {
          let reason = reasons[i % reasons.count]
          verdicts.append(RecordVerdict(recordID: id, kind: .dropped, reason: reason))
          drops[reason, default: 0] += 1
        } else {
          verdicts.append(RecordVerdict(recordID: id, kind: .kept))
        }
      }
      let dropped = drops.values.reduce(0, +)
      return TaskCompletion(
        stage: "read", shard: shard, fingerprint: "t", finishedAt: 2, durationSeconds: 1, recordsIn: perTask,
        recordsKept: perTask - dropped, recordsDropped: dropped, recordsEmitted: 0, bytesIn: 0, outputPath: "out",
        outputBytes: 0, checksum: nil, dropCounts: drops, origins: origins, verdicts: verdicts)
    }

    var insertSeconds = 0.0
    var insertCPUSeconds = 0.0
    for shard in 0..<tasks {
      let done = completion(shard)  // built outside the clock: only the manifest is measured
      try manifest.markTaskStarted(
        stage: "read", shard: shard, input: "in", fingerprint: "t", runID: runID, startedAt: 1)
      let start = Date()
      let cpuStart = cpuSeconds()
      try manifest.markTaskDone(done)
      insertSeconds += Date().timeIntervalSince(start)
      insertCPUSeconds += cpuSeconds() - cpuStart
    }
    let rows = Double(tasks * perTask * 2)
    print(
      "manifest bench: inserted \(Int(rows)) rows (origins + verdicts) in \(fmt(insertSeconds)) s wall, "
        + "\(fmt(insertCPUSeconds)) s CPU = \(Int(rows / insertSeconds)) rows/s wall, "
        + "\(Int(rows / insertCPUSeconds)) rows/s CPU")

    // Retry: replace one task's 200,000 rows.
    let retry = completion(3)
    let retryStart = Date()
    try manifest.markTaskStarted(stage: "read", shard: 3, input: "in", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(retry)
    print(
      "manifest bench: retry of one task (delete + reinsert 200000 rows) took \(fmt(Date().timeIntervalSince(retryStart))) s"
    )

    // As a run does when it ends.
    let indexStart = Date()
    try manifest.buildRecordLookupIndexes()
    print("manifest bench: building the record lookup indexes took \(fmt(Date().timeIntervalSince(indexStart))) s")

    var lookupSeconds: [Double] = []
    for k in 0..<1_000 {
      let shard = k % tasks
      let i = (k * 104_729) % perTask
      let id = "cc-2024-\(shard)-\(String(i * 7919 % 1_000_003))-\(i)"
      let start = Date()
      let history = try manifest.provenance(recordID: id)
      lookupSeconds.append(Date().timeIntervalSince(start))
      #expect(history.origins.count == 1)
      #expect(history.verdicts.count == 1)
    }
    lookupSeconds.sort()
    let mean = lookupSeconds.reduce(0, +) / Double(lookupSeconds.count)
    print(
      "manifest bench: provenance(recordID:) over 1000 lookups: mean \(fmt(mean * 1e6)) µs, median \(fmt(lookupSeconds[500] * 1e6)) µs, max \(fmt((lookupSeconds.last ?? 0) * 1e6)) µs"
    )

    let fingerprintStart = Date()
    #expect(try Fixture.recordStage(manifest, "read", position: 0, fingerprint: "changed", taskCount: tasks))
    print(
      "manifest bench: wiping the stage (2,000,000 rows) on a fingerprint change took \(fmt(Date().timeIntervalSince(fingerprintStart))) s"
    )

    let attributes = try FileManager.default.attributesOfItem(atPath: dir.manifestPath)
    let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
    print("manifest bench: database file \(size / 1_000_000) MB (after the wipe; WAL not checkpointed)")
  }

  /// CPU time of this process: less disturbed than wall time when the machine is shared.
  private func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  private func fmt(_ value: Double) -> String {
    String(format: "%.3f", value)
  }
}
