import Foundation
import Testing

/// The engine's promises, checked on the built binary: determinism across worker counts,
/// byte-identical results after kills and resume, exact reruns after a config change,
/// conservation of records, and one process per run directory.
@Suite(.serialized)
struct EngineTests {
  /// A pipeline over the bundled samples with every op of the engine, written to `folder`.
  static func samplesPipeline(in folder: String, minChars: Int = 200) throws -> String {
    let text = """
      {
        "name": "engine",
        "seed": 7,
        "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
        "stages": [
          { "id": "normalize", "op": "normalize@1", "inputs": ["samples"] },
          { "id": "length", "op": "filter.length@1", "inputs": ["normalize"], "config": { "minChars": \(minChars) } },
          { "id": "dedup", "op": "dedup.exact@1", "inputs": ["length"] }
        ],
        "output": { "from": "dedup", "path": "output", "targetShardBytes": 200000 }
      }
      """
    return try E2E.writePipeline(text, in: folder)
  }

  static func reference(in folder: String) throws -> [String: Data] {
    let pipeline = try samplesPipeline(in: folder)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/reference", "--workers", "1"])
    #expect(run.status == 0, "reference run failed: \(run.stderr)")
    return try E2E.outputs(folder + "/reference")
  }

  @Test func outputsAreIdenticalWithOneTwoAndThreeWorkers() throws {
    let folder = try E2E.temporaryDirectory("workers")
    let expected = try Self.reference(in: folder)
    #expect(expected.keys.contains("output/manifest.json"))
    #expect(expected.keys.contains { $0.hasPrefix("data/dedup/") })
    for workers in [2, 3] {
      let runDirectory = folder + "/w\(workers)"
      let run = try E2E.pipe([
        "run", folder + "/pipeline.json", "--run-dir", runDirectory, "--workers", String(workers),
      ])
      #expect(run.status == 0, "\(run.stderr)")
      E2E.expectSameFiles(try E2E.outputs(runDirectory), expected, "with \(workers) workers")
    }
  }

  /// Kill points across the whole engine: inside a fused pass (at its first stage, at a stage
  /// fused after it, in its collect pass), inside the filter pass after the index, between a
  /// task's ledger and its merge into the manifest, inside the export, and after the Nth task
  /// (of 10: four passes of normalize, length and the keys, the index, four filter passes, the
  /// export).
  @Test(arguments: [
    "kill-in-task=normalize:1:100",
    "kill-in-task=length:2:10",
    "kill-in-task=dedup:keys:3:40",
    "kill-in-task=dedup:0:30",
    "kill-in-task=:export:0:500",
    "kill-before-merge=1",
    "kill-before-merge=5",
    "kill-before-merge=10",
    "kill-after-tasks=1",
    "kill-after-tasks=5",
    "kill-after-tasks=9",
  ])
  func killedRunResumesToIdenticalOutput(fault: String) throws {
    let folder = try E2E.temporaryDirectory("kill")
    let expected = try Self.reference(in: folder)
    let runDirectory = folder + "/killed"
    let killed = try E2E.pipe(
      ["run", folder + "/pipeline.json", "--run-dir", runDirectory, "--workers", "2"],
      environment: ["PIPE_FAULT": fault])
    #expect(killed.wasSignaled && killed.status == 9, "the fault \(fault) should have killed the run")
    // Mid-write kills leave a half-written temporary file behind, never a final one.
    if fault.hasPrefix("kill-in-task") {
      let leftovers = try E2E.snapshot(runDirectory).keys.filter { $0.hasSuffix(".tmp") }
      #expect(!leftovers.isEmpty, "expected the killed task's .tmp file")
    }
    let resumed = try E2E.pipe(["resume", runDirectory, "--workers", "2"])
    #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
    #expect(resumed.stdout.contains("up to date"))
    E2E.expectSameFiles(try E2E.outputs(runDirectory), expected, "after \(fault) and resume")
    try Self.expectConservation(runDirectory)
  }

  static func expectConservation(_ runDirectory: String) throws {
    let database = runDirectory + "/manifest.sqlite"
    let broken = try E2E.sql(
      database,
      "SELECT stage_id || '[' || shard || ']' FROM tasks WHERE stage_id NOT LIKE '%:index' AND records_in != records_kept + records_dropped;"
    )
    #expect(broken.isEmpty, "tasks where in != kept + dropped: \(broken)")
    let notDone = try E2E.sql(database, "SELECT count(*) FROM tasks WHERE status != 'done';")
    #expect(notDone == ["0"])
    // Drop counts by reason add up to the dropped records of each task.
    let mismatched = try E2E.sql(
      database,
      """
      SELECT t.stage_id FROM tasks t LEFT JOIN (SELECT task_id, SUM(count) AS n FROM task_drop_counts GROUP BY task_id) d
      ON d.task_id = t.id WHERE t.stage_id NOT LIKE '%:index' AND t.records_dropped != COALESCE(d.n, 0);
      """)
    #expect(mismatched.isEmpty, "drop reasons do not add up in \(mismatched)")
  }

  @Test func changingOneStageConfigRerunsExactlyItAndItsDownstream() throws {
    let folder = try E2E.temporaryDirectory("rerun")
    let pipeline = try Self.samplesPipeline(in: folder, minChars: 200)
    let runDirectory = folder + "/run"
    let first = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(first.status == 0, "\(first.stderr)")
    try Self.expectConservation(runDirectory)

    let again = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(again.status == 0)
    #expect(again.stdout.contains("0 task(s) run"), "an unchanged pipeline should run nothing: \(again.stdout)")

    _ = try Self.samplesPipeline(in: folder, minChars: 500)
    let changed = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(changed.status == 0, "\(changed.stderr)")
    let database = runDirectory + "/manifest.sqlite"
    let lastRun = try E2E.sql(database, "SELECT max(id) FROM runs;").first ?? ""
    let rerun = Set(try E2E.sql(database, "SELECT DISTINCT stage_id FROM tasks WHERE run_id = \(lastRun);"))
    // length runs in one pass with normalize and the keys, so that pass reruns whole (its
    // normalize rows come out the same); then everything after it.
    #expect(rerun == ["normalize", "length", "dedup:keys", "dedup:index", "dedup", ":export"])
    let kept = Set(try E2E.sql(database, "SELECT DISTINCT stage_id FROM tasks WHERE run_id != \(lastRun);"))
    #expect(kept.isEmpty)
    // The new threshold really applied.
    let dropped = try E2E.sql(
      database, "SELECT SUM(records_dropped) FROM tasks WHERE stage_id = 'length';")
    let before = try E2E.sql(database, "SELECT SUM(records_in) FROM tasks WHERE stage_id = 'length';")
    #expect((Int(dropped.first ?? "") ?? 0) > 0 && (Int(before.first ?? "") ?? 0) > 0)
    try Self.expectConservation(runDirectory)
  }

  @Test func forcedStageRerunsWithItsDownstream() throws {
    let folder = try E2E.temporaryDirectory("force")
    let pipeline = try Self.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", runDirectory]).status == 0)
    let forced = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--force", "dedup"])
    #expect(forced.status == 0)
    let database = runDirectory + "/manifest.sqlite"
    let rerun = Set(try E2E.sql(database, "SELECT DISTINCT stage_id FROM tasks WHERE run_id = 2;"))
    // dedup's keys are collected in the pass of normalize and length, which reruns with them.
    #expect(rerun == ["normalize", "length", "dedup:keys", "dedup:index", "dedup", ":export"])
  }

  @Test func secondRunOnABusyRunDirectoryRefuses() throws {
    let folder = try E2E.temporaryDirectory("busy")
    let pipeline = try Self.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
    // Hold the lock from another process, as a running `pipe run` would.
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    holder.arguments = [runDirectory + "/run.lock", "sleep", "20"]
    try holder.run()
    defer { holder.terminate() }
    Thread.sleep(forTimeInterval: 0.5)
    let second = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(second.status == 2)
    #expect(second.stderr.contains("in use"), "\(second.stderr)")
    #expect(!FileManager.default.fileExists(atPath: runDirectory + "/manifest.sqlite"))
  }

  @Test func exportManifestListsFilesWithCountsAndChecksums() throws {
    let folder = try E2E.temporaryDirectory("export")
    let pipeline = try Self.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0)
    #expect(run.stdout.contains("output: \(runDirectory)/output"))
    let data = try #require(FileManager.default.contents(atPath: runDirectory + "/output/manifest.json"))
    let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let files = try #require(manifest["files"] as? [[String: Any]])
    #expect(files.count > 1, "200 kB target shards should give several files")
    var total = 0
    for file in files {
      let name = try #require(file["path"] as? String)
      let lines = try E2E.readLines(runDirectory + "/output/" + name)
      #expect(lines.count == file["records"] as? Int)
      total += lines.count
      let sha = try E2E.shellOutput("/usr/bin/sha256sum", [runDirectory + "/output/" + name])
      #expect(sha.hasPrefix(try #require(file["sha256"] as? String)))
    }
    #expect(total == manifest["records"] as? Int)
    let keptByDedup = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT SUM(records_kept) FROM tasks WHERE stage_id = 'dedup';")
    #expect(keptByDedup == [String(total)])
  }
}
