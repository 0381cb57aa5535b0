import Foundation
import PipeCore
import Testing

/// Parquet files as pipeline inputs on the built binary: records from rows (text and id
/// columns chosen per input), rejects for rows without text, and failed tasks, never a crash
/// or a silent success, for damaged files and formats pipe does not read.
@Suite struct ParquetInputTests {
  static let fixtures = E2E.repositoryRoot + "/Tests/PipeIOTests/Fixtures/parquet"

  static func pipeline(in folder: String, input: String) throws -> String {
    try E2E.writePipeline(
      """
      { "name": "pq", "inputs": [\(input)],
        "stages": [{ "id": "keep", "op": "filter.length@1", "inputs": ["in"], "config": { "minChars": 1 } }],
        "output": { "from": "keep", "path": "output" } }
      """, in: folder)
  }

  @Test func parquetRowsBecomeRecordsWithRejectsCounted() throws {
    let folder = try E2E.temporaryDirectory("parquet-input")
    try FileManager.default.copyItem(atPath: Self.fixtures + "/zstd-v2-dict.parquet", toPath: folder + "/a.parquet")
    try FileManager.default.copyItem(atPath: Self.fixtures + "/columns.parquet", toPath: folder + "/b.parquet")
    let pipeline = try Self.pipeline(in: folder, input: #"{ "id": "in", "paths": ["a.parquet"] }"#)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--no-progress"])
    #expect(run.status == 0, "\(run.stderr)")
    try EngineTests.expectConservation(folder + "/run")
    // 30 rows: 2 with a null text (rejected, kept in rejects), 3 with an empty one (too short).
    let reasons = try E2E.sql(
      folder + "/run/manifest.sqlite", "SELECT reason, count FROM drop_counts ORDER BY reason")
    #expect(reasons == ["text_not_string|2", "too_few_chars|3"], "\(reasons)")
    let why = try E2E.pipe(["why", folder + "/run", "doc-000007"])
    #expect(why.status == 0, "\(why.stderr)")
    #expect(why.stdout.contains("a.parquet") && why.stdout.contains("line 8"), "\(why.stdout)")

    let chosen = try Self.pipeline(
      in: folder, input: #"{ "id": "in", "paths": ["b.parquet"], "textColumn": "body", "idColumn": "uid" }"#)
    let second = try E2E.pipe(["run", chosen, "--run-dir", folder + "/run-b", "--no-progress"])
    #expect(second.status == 0, "\(second.stderr)")
    let output = try E2E.readLines(folder + "/run-b/output/part-00000.jsonl.zst")
    #expect(
      output == [
        #"{"id":"7","text":"first","metadata":{"text":1}}"#, #"{"id":"8","text":"second","metadata":{"text":2}}"#,
      ])
  }

  @Test func damagedParquetAndOtherFormatsFailTheirTask() throws {
    let folder = try E2E.temporaryDirectory("parquet-bad")
    let good = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/snappy-v1-plain.parquet"))
    try good.prefix(good.count - 50).write(to: URL(fileURLWithPath: folder + "/cut.parquet"))
    // JSON lines compressed with gzip under a .jsonl name.
    try Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 3]).write(to: URL(fileURLWithPath: folder + "/gz.jsonl"))
    try FileManager.default.copyItem(atPath: Self.fixtures + "/columns.parquet", toPath: folder + "/notext.parquet")
    let cases: [(String, String, String)] = [
      ("cut.parquet", "", "does not end with \"PAR1\": it is truncated"),
      ("gz.jsonl", "", "gzip-compressed data"),
      (
        "notext.parquet", #", "textColumn": "content""#, "no column \"content\" for the text (columns: body, uid, text)"
      ),
    ]
    for (file, extra, message) in cases {
      let pipeline = try Self.pipeline(in: folder, input: "{ \"id\": \"in\", \"paths\": [\"\(file)\"]\(extra) }")
      let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run-" + file, "--no-progress"])
      #expect(run.status == 1, "\(file): \(run.stdout) \(run.stderr)")
      #expect(run.stderr.contains(message) && run.stderr.contains(file), "\(file): \(run.stderr)")
      #expect(!run.wasSignaled)
    }
    let badColumn = try Self.pipeline(in: folder, input: #"{ "id": "in", "paths": ["cut.parquet"], "textColumn": 3 }"#)
    let validate = try E2E.pipe(["validate", badColumn])
    #expect(validate.status == 2)
    #expect(validate.stderr.contains("inputs[0].textColumn: expected a column name"))
  }
}
