import Foundation
import Testing

/// Curation stages through the built binary: what only shows end to end (paths resolved
/// against the pipeline file, counters in the manifest, reruns when a referenced file changes).
struct CurationTests {
  @Test func decontaminationCountsHitsPerBenchmarkAndRerunsWhenABenchmarkChanges() throws {
    let folder = try E2E.temporaryDirectory("decon")
    try FileManager.default.createDirectory(atPath: folder + "/bench", withIntermediateDirectories: true)
    let question =
      "Natalia sold clips to forty eight of her friends in April and then she sold half as many clips in May"
    try #"{"question": "\#(question)", "answer": "72"}"#.write(
      toFile: folder + "/bench/gsm.jsonl", atomically: true, encoding: .utf8)
    let arc = "Which gas do plants absorb from the air to make their food through photosynthesis in sunlight"
    try #"{"question": "\#(arc)"}"#.write(toFile: folder + "/bench/arc.jsonl", atomically: true, encoding: .utf8)
    try E2E.writeShard(
      folder + "/in.jsonl",
      json: [
        #"{"id":"leak","text":"Homework help: \#(question). How many clips did she sell?"}"#,
        #"{"id":"clean","text":"A recipe for bread: flour, water, salt and yeast, kneaded and baked for forty minutes."}"#,
      ])
    let pipeline = try E2E.writePipeline(
      """
      { "name": "decon", "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "decon", "op": "decontaminate@1", "inputs": ["in"],
                     "config": { "benchmarks": ["gsm8k=bench/gsm.jsonl", "bench/arc.jsonl"] } }] }
      """, in: folder)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory], in: "/")
    #expect(run.status == 0, "\(run.stderr)")
    let kept = try E2E.readLines(runDirectory + "/data/decon/part-00000.jsonl.zst")
    #expect(kept.count == 1 && kept[0].contains(#""id":"clean""#))
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("hits.gsm8k 1"), "\(inspect.stdout)")
    let why = try E2E.pipe(["why", runDirectory, "leak"])
    #expect(why.stdout.contains("contaminated") && why.stdout.contains("gsm8k"))

    // Editing a benchmark file reruns the stage, although the config text is unchanged.
    Thread.sleep(forTimeInterval: 1.1)
    try #"{"question": "nothing in common with any record at all, just some other words to fill the line up"}"#.write(
      toFile: folder + "/bench/gsm.jsonl", atomically: true, encoding: .utf8)
    let rerun = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory], in: "/")
    #expect(rerun.status == 0)
    #expect(rerun.stdout.contains("1 task(s) run"), "\(rerun.stdout)")
    #expect(try E2E.readLines(runDirectory + "/data/decon/part-00000.jsonl.zst").count == 2)

    // A benchmark that does not exist is a validation error at its JSON path.
    let missing = try E2E.writePipeline(
      """
      { "name": "decon", "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "decon", "op": "decontaminate@1", "inputs": ["in"],
                     "config": { "benchmarks": ["bench/arc.jsonl", "bench/none.jsonl"] } }] }
      """, in: folder, name: "missing.json")
    let invalid = try E2E.pipe(["validate", missing])
    #expect(invalid.status == 2)
    #expect(invalid.stderr.contains("stages[0].config.benchmarks[1]: no such file"), "\(invalid.stderr)")
  }
}
