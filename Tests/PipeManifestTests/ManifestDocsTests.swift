import Foundation
import PipeCore
import Testing

@testable import PipeManifest

/// The example queries in docs/manifest.md run against a manifest the tests build, through
/// SQLite here and through the `sqlite3` shell when it is installed, so the docs cannot rot.
struct ManifestDocsTests {
  /// `docs/manifest.md`, found from this file's real location (the test folder may be a symlink).
  static func docsFile() throws -> String {
    let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent("docs/manifest.md").path
  }

  /// The ```sql blocks under "## Example queries".
  static func exampleQueries() throws -> [String] {
    let text = try String(contentsOfFile: docsFile(), encoding: .utf8)
    guard let start = text.range(of: "## Example queries") else { return [] }
    var section = text[start.upperBound...]
    if let end = section.range(of: "\n## ") { section = section[..<end.lowerBound] }
    var queries: [String] = []
    var current: [Substring]?
    for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("```sql") {
        current = []
      } else if line.hasPrefix("```"), let lines = current {
        queries.append(lines.joined(separator: "\n"))
        current = nil
      } else {
        current?.append(line)
      }
    }
    return queries
  }

  /// A small manifest with two stages, done tasks, a failed task and provenance.
  static func populatedManifest(in dir: TemporaryDirectory) throws {
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "read", position: 0)
    try Fixture.recordStage(manifest, "filter", position: 1)
    for shard in 0..<2 { try Fixture.runTask(manifest, stage: "read", shard: shard, runID: runID) }
    try manifest.markTaskStarted(
      stage: "filter", shard: 0, input: "read/0", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(Fixture.completion(stage: "filter", shard: 0, withOrigins: false))
    try manifest.markTaskStarted(
      stage: "filter", shard: 1, input: "read/1", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskFailed(
      stage: "filter", shard: 1, error: "corrupt zstd frame", errorFile: "data/read/part-1.jsonl.zst", errorLine: 3,
      finishedAt: 2)
    // A mixture plan and the sampling stage that applied it.
    try Fixture.recordStage(manifest, "plan", position: 2, taskCount: 1)
    try Fixture.recordStage(manifest, "sample", position: 3, taskCount: 1)
    try manifest.markTaskStarted(stage: "plan", shard: 0, input: "totals", fingerprint: "t", runID: runID, startedAt: 1)
    var plan = Fixture.completion(stage: "plan", shard: 0, withOrigins: false)
    plan.mixtureGroups = [
      PlannedGroup(
        name: "en", records: 8, tokensAvailable: 800, tokensTargeted: 400, rate: 0.5, shareBefore: 0.8,
        shareAfter: 0.667),
      PlannedGroup(
        name: "sw", records: 2, tokensAvailable: 200, tokensTargeted: 200, rate: 1, shareBefore: 0.2, shareAfter: 0.333),
    ]
    try manifest.markTaskDone(plan)
    try manifest.markTaskStarted(
      stage: "sample", shard: 0, input: "read/0", fingerprint: "t", runID: runID, startedAt: 1)
    var sample = Fixture.completion(stage: "sample", shard: 0, withOrigins: false)
    sample.counters = ["tokens.en": 390, "tokens.sw": 200]
    try manifest.markTaskDone(sample)
    try manifest.storeLLMCacheEntry(
      LLMCacheEntry(
        key: "k", endpoint: "local", model: "smollm2", path: "chat/completions", request: "{}", response: "{}",
        promptTokens: 3,
        completionTokens: 5, latencySeconds: 0.2, createdAt: 2))
    try manifest.finishRun(id: runID, status: .failed, error: "1 task failed", finishedAt: 3)
    try manifest.close()
  }

  @Test func theExampleQueriesRunAndReturnRows() throws {
    let queries = try Self.exampleQueries()
    #expect(queries.count >= 6)
    let dir = try TemporaryDirectory()
    try Self.populatedManifest(in: dir)
    // PIPE_MANIFEST_KEEP_DB=/some/path keeps a copy to try the queries by hand.
    if let keep = ProcessInfo.processInfo.environment["PIPE_MANIFEST_KEEP_DB"] {
      try? FileManager.default.removeItem(atPath: keep)
      try FileManager.default.copyItem(atPath: dir.manifestPath, toPath: keep)
    }
    let db = try Connection(path: dir.manifestPath, readOnly: true)
    for sql in queries {
      let rows = try db.query(sql) { _ in true }
      // The conservation check is the one query that returns no rows on a healthy manifest.
      if !sql.contains("records_in <> records_kept + records_dropped") {
        #expect(!rows.isEmpty, "no rows from:\n\(sql)")
      }
    }
  }

  /// The SQLite shell, which `make deps` installs; a convenience of the development machine,
  /// not a build dependency, so the test says it is skipped where it is missing.
  static let shell = "/usr/bin/sqlite3"

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: shell), "needs /usr/bin/sqlite3 (make deps)"))
  func theExampleQueriesRunInTheSQLiteShell() throws {
    let shell = Self.shell
    let dir = try TemporaryDirectory()
    try Self.populatedManifest(in: dir)
    for sql in try Self.exampleQueries() {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: shell)
      process.arguments = ["-readonly", "-bail", dir.manifestPath, sql]
      let output = Pipe()
      let errors = Pipe()
      process.standardOutput = output
      process.standardError = errors
      try process.run()
      _ = output.fileHandleForReading.readDataToEndOfFile()  // drained so the shell never blocks on a full pipe
      let errorData = errors.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      let stderr = String(decoding: errorData, as: UTF8.self)
      #expect(process.terminationStatus == 0, "sqlite3 failed on:\n\(sql)\n\(stderr)")
      #expect(stderr.isEmpty, "\(stderr)")
    }
  }
}
