import Foundation
import Testing

/// `dedup.minhash@1` on the built binary: the same bytes with any number of workers and after a
/// kill at any step and `pipe resume`, conservation in every task, and the cluster summary.
@Suite(.serialized)
struct MinHashEngineTests {
  /// A pipeline over the bundled samples: normalize, then near-duplicate removal, then export.
  static func pipeline(in folder: String) throws -> String {
    try E2E.writePipeline(
      """
      {
        "name": "minhash",
        "seed": 7,
        "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
        "stages": [
          { "id": "normalize", "op": "normalize@1", "inputs": ["samples"] },
          { "id": "near", "op": "dedup.minhash@1", "inputs": ["normalize"], "config": { "memoryCapMB": 1 } }
        ],
        "output": { "from": "near", "path": "output", "targetShardBytes": 200000 }
      }
      """, in: folder)
  }

  static func reference(in folder: String) throws -> [String: Data] {
    let run = try E2E.pipe(["run", try pipeline(in: folder), "--run-dir", folder + "/reference", "--workers", "1"])
    #expect(run.status == 0, "reference run failed: \(run.stderr)")
    return try E2E.outputs(folder + "/reference")
  }

  @Test func sameBytesWithOneTwoAndThreeWorkers() throws {
    let folder = try E2E.temporaryDirectory("minhash-workers")
    let expected = try Self.reference(in: folder)
    #expect(expected.keys.contains("artifacts/near.clusters/clusters.jsonl"))
    for workers in [2, 3] {
      let runDirectory = folder + "/w\(workers)"
      let run = try E2E.pipe(["run", folder + "/pipeline.json", "--run-dir", runDirectory, "--workers", "\(workers)"])
      #expect(run.status == 0, "\(run.stderr)")
      E2E.expectSameFiles(try E2E.outputs(runDirectory), expected, "with \(workers) workers")
    }
  }

  @Test(arguments: [
    "kill-in-task=near:signatures:1:200",
    "fail-in-task=near:buckets:2",
    "fail-in-task=near:clusters:0",
    "kill-in-task=near:3:50",
    "kill-after-tasks=6",
    "kill-after-tasks=10",
    "kill-after-tasks=14",
  ])
  func killedRunResumesToIdenticalOutput(fault: String) throws {
    let folder = try E2E.temporaryDirectory("minhash-kill")
    let expected = try Self.reference(in: folder)
    let runDirectory = folder + "/killed"
    let killed = try E2E.pipe(
      ["run", folder + "/pipeline.json", "--run-dir", runDirectory, "--workers", "2"],
      environment: ["PIPE_FAULT": fault])
    #expect(killed.status != 0, "the fault \(fault) should have stopped the run")
    let resumed = try E2E.pipe(["resume", runDirectory, "--workers", "2"])
    #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
    E2E.expectSameFiles(try E2E.outputs(runDirectory), expected, "after \(fault) and resume")
    let database = runDirectory + "/manifest.sqlite"
    let broken = try E2E.sql(
      database, "SELECT stage_id || '[' || shard || ']' FROM tasks WHERE records_in != records_kept + records_dropped;")
    #expect(broken.isEmpty, "tasks where in != kept + dropped: \(broken)")
  }

  @Test func inspectSummarizesTheClusters() throws {
    let folder = try E2E.temporaryDirectory("minhash-inspect")
    _ = try Self.reference(in: folder)
    let inspect = try E2E.pipe(["inspect", folder + "/reference", "--stage", "near"])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("near:clusters: "), "\(inspect.stdout)")
    for counter in ["clusters ", "clustered_documents ", "largest_cluster ", "near_duplicates "] {
      #expect(inspect.stdout.contains(counter), "missing \(counter) in \(inspect.stdout)")
    }
    #expect(inspect.stdout.contains("near_duplicate "), "the filter's drop reason")
    let clusters = try String(
      contentsOfFile: folder + "/reference/artifacts/near.clusters/clusters.jsonl", encoding: .utf8)
    let first = try #require(clusters.split(separator: "\n").first)
    #expect(first.hasPrefix(#"{"cluster":0,"size":"#))
  }
}
