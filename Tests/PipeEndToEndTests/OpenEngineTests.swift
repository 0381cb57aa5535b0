import Foundation
import Testing

/// The open engine on the built binary: `pipe verify` and the reruns it leads to, resource
/// keys outside fingerprints, deleting intermediates, materializing on request, fusion giving
/// the same bytes as writing every stage, and Ctrl-C and SIGTERM on a terminal.
@Suite(.serialized)
struct OpenEngineTests {
  /// The rows (stage[shard]) the last run of a run directory did.
  static func rowsOfLastRun(_ runDirectory: String) throws -> Set<String> {
    let database = runDirectory + "/manifest.sqlite"
    let lastRun = try E2E.sql(database, "SELECT max(id) FROM runs;").first ?? ""
    return Set(try E2E.sql(database, "SELECT stage_id || '[' || shard || ']' FROM tasks WHERE run_id = \(lastRun);"))
  }

  /// Every row of the engine pipeline's tasks that read the output of chain `shard` (its pass
  /// of normalize, length and the keys), and that pass itself.
  static func chainAndDownstream(shard: Int) -> Set<String> {
    ["normalize[\(shard)]", "length[\(shard)]", "dedup:keys[\(shard)]", "dedup:index[0]", ":export[0]"]
      .reduce(into: Set((0..<4).map { "dedup[\($0)]" })) { $0.insert($1) }
  }

  /// Runs the engine pipeline, damages one file with `damage`, checks that `pipe verify` finds
  /// it and that the next run redoes exactly `expected`, ending with the reference's bytes.
  func damageIsFoundAndRedone(
    _ file: String, expected: Set<String>, damage: (String) throws -> Void
  ) throws {
    let folder = try E2E.temporaryDirectory("verify")
    let reference = try EngineTests.reference(in: folder)
    let runDirectory = folder + "/run"
    #expect(try E2E.pipe(["run", folder + "/pipeline.json", "--run-dir", runDirectory]).status == 0)
    let clean = try E2E.pipe(["verify", runDirectory])
    #expect(clean.status == 0, "\(clean.stderr)")
    #expect(clean.stdout.contains("every file matches the manifest"))

    try damage(runDirectory + "/" + file)
    let verify = try E2E.pipe(["verify", runDirectory, "--json"])
    #expect(verify.status == 1)
    let report = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
    let problems = try #require(report["problems"] as? [[String: Any]])
    #expect(problems.count == 1, "\(problems)")
    #expect((problems.first?["path"] as? String)?.hasSuffix(file) == true)
    let text = try E2E.pipe(["verify", runDirectory])
    #expect(text.status == 1 && text.stderr.contains(file) && text.stderr.contains("pipe resume"))

    let rerun = try E2E.pipe(["run", folder + "/pipeline.json", "--run-dir", runDirectory])
    #expect(rerun.status == 0, "\(rerun.stderr)")
    #expect(try Self.rowsOfLastRun(runDirectory) == expected)
    E2E.expectSameFiles(try E2E.outputs(runDirectory), reference, "after \(file) was damaged and redone")
    #expect(try E2E.pipe(["verify", runDirectory]).status == 0)
  }

  @Test func verifyFindsAFlippedByte() throws {
    let file = "data/length/part-00001.jsonl.zst"
    try damageIsFoundAndRedone(file, expected: Self.chainAndDownstream(shard: 1)) { path in
      var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
      bytes[bytes.count / 2] ^= 0x40
      try bytes.write(to: URL(fileURLWithPath: path))
    }
  }

  @Test func verifyFindsATruncatedShard() throws {
    let file = "rejects/length/part-00002.jsonl.zst"
    try damageIsFoundAndRedone(file, expected: Self.chainAndDownstream(shard: 2)) { path in
      let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
      try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
    }
  }

  @Test func verifyFindsADeletedShard() throws {
    try damageIsFoundAndRedone("output/part-00000.jsonl.zst", expected: [":export[0]"]) { path in
      try FileManager.default.removeItem(atPath: path)
    }
  }

  /// A truncated or deleted file is noticed by `pipe run` itself, without `pipe verify`.
  @Test func runNoticesAResizedOrMissingFileWithoutVerify() throws {
    let folder = try E2E.temporaryDirectory("notice")
    let reference = try EngineTests.reference(in: folder)
    let runDirectory = folder + "/reference"
    let path = runDirectory + "/data/dedup/part-00003.jsonl.zst"
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    try bytes.dropLast(10).write(to: URL(fileURLWithPath: path))
    let rerun = try E2E.pipe(["run", folder + "/pipeline.json", "--run-dir", runDirectory])
    #expect(rerun.status == 0)
    #expect(try Self.rowsOfLastRun(runDirectory) == ["dedup[3]", ":export[0]"])
    E2E.expectSameFiles(try E2E.outputs(runDirectory), reference, "after a truncated shard was redone")
  }

  /// A resource key is left out of fingerprints: raising the memory cap of MinHash reruns
  /// nothing, while the manifest shows the new value.
  @Test func raisingMemoryCapRerunsNothingAndChangesNoByte() throws {
    let folder = try E2E.temporaryDirectory("memorycap")
    func pipeline(cap: Int) throws -> String {
      try E2E.writePipeline(
        """
        { "name": "cap", "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
          "stages": [ { "id": "near", "op": "dedup.minhash@1", "inputs": ["samples"], "config": { "memoryCapMB": \(cap) } } ],
          "output": { "from": "near" } }
        """, in: folder)
    }
    let runDirectory = folder + "/run"
    #expect(try E2E.pipe(["run", try pipeline(cap: 1), "--run-dir", runDirectory]).status == 0)
    let before = try E2E.outputs(runDirectory)
    let raised = try E2E.pipe(["run", try pipeline(cap: 4096), "--run-dir", runDirectory])
    #expect(raised.status == 0)
    #expect(raised.stdout.contains(" 0 task(s) run"), "\(raised.stdout)")
    E2E.expectSameFiles(try E2E.outputs(runDirectory), before, "after raising memoryCapMB")
    let config = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT config_json FROM stages WHERE id = 'near';")
    #expect(config.first?.contains(#""memoryCapMB":4096"#) == true, "\(config)")
    // A key that does change the output does rerun.
    let changed = try E2E.writePipeline(
      (try String(contentsOfFile: folder + "/pipeline.json", encoding: .utf8)).replacingOccurrences(
        of: #""memoryCapMB": 4096"#, with: #""memoryCapMB": 4096, "ngrams": 4"#), in: folder)
    let rerun = try E2E.pipe(["run", changed, "--run-dir", runDirectory])
    #expect(!rerun.stdout.contains(" 0 task(s) run"))
  }

  /// Writing every stage's records (`"materialize": true`) gives the same outputs, rejects and
  /// artifacts as the fused passes: fusion changes where records are, never what they are.
  @Test func fusedPassesWriteTheSameBytesAsMaterializingEveryStage() throws {
    let folder = try E2E.temporaryDirectory("fusion")
    func pipeline(materialize: Bool, name: String) throws -> String {
      let flag = materialize ? #", "materialize": true"# : ""
      return try E2E.writePipeline(
        """
        { "name": "fusion", "seed": 5,
          "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
          "stages": [
            { "id": "normalize", "op": "normalize@1", "inputs": ["samples"]\(flag) },
            { "id": "language", "op": "lang.id@1", "inputs": ["normalize"], "config": { "belowThreshold": "keep" }\(flag) },
            { "id": "length", "op": "filter.length@1", "inputs": ["language"], "config": { "minChars": 300 }\(flag) },
            { "id": "near", "op": "dedup.minhash@1", "inputs": ["length"]\(flag) },
            { "id": "tokens", "op": "tokens.count@1", "inputs": ["near"]\(flag) },
            { "id": "code", "op": "lang.code@1", "inputs": ["tokens"]\(flag) }
          ],
          "output": { "from": "code", "targetShardBytes": 300000 } }
        """, in: folder, name: name)
    }
    let fused = try E2E.pipe([
      "run", try pipeline(materialize: false, name: "fused.json"), "--run-dir", folder + "/fused",
    ])
    #expect(fused.status == 0, "\(fused.stderr)")
    let written = try E2E.pipe(
      ["run", try pipeline(materialize: true, name: "written.json"), "--run-dir", folder + "/written"])
    #expect(written.status == 0, "\(written.stderr)")
    let a = try E2E.outputs(folder + "/fused").filter { !$0.key.hasPrefix("data/") }
    let b = try E2E.outputs(folder + "/written").filter { !$0.key.hasPrefix("data/") }
    E2E.expectSameFiles(a, b, "fused against materialized")
    #expect(!FileManager.default.fileExists(atPath: folder + "/fused/data/language"))
    #expect(FileManager.default.fileExists(atPath: folder + "/written/data/language/part-00000.jsonl.zst"))
    // The materialized stage's records are the ones `pipe cat` prints; the fused run says how
    // to get them.
    let cat = try E2E.pipe(["cat", folder + "/written", "language", "--limit", "2"])
    #expect(cat.status == 0 && cat.stdout.split(separator: "\n").count == 2)
    let refused = try E2E.pipe(["cat", folder + "/fused", "language"])
    #expect(refused.status == 2 && refused.stderr.contains("materialize"))
    // Every stage keeps its own counts, rejects and provenance.
    for run in ["fused", "written"] {
      try EngineTests.expectConservation(folder + "/" + run)
    }
    try Self.expectSameCountsAndVerdicts(folder + "/fused", folder + "/written")
  }

  /// Every stage of two runs read, kept and dropped as many records, with the same verdicts.
  static func expectSameCountsAndVerdicts(_ first: String, _ second: String) throws {
    for query in [
      "SELECT stage_id || ':' || SUM(records_in) || '/' || SUM(records_kept) || '/' || SUM(records_dropped) "
        + "FROM tasks GROUP BY stage_id ORDER BY stage_id;",
      "SELECT stage || ' ' || kind || ' ' || count(*) FROM verdicts GROUP BY stage, kind ORDER BY stage, kind;",
    ] {
      let rows = try E2E.sql(first + "/manifest.sqlite", query)
      #expect(!rows.isEmpty)
      #expect(rows == (try E2E.sql(second + "/manifest.sqlite", query)), "\(query)")
    }
  }

  /// A dedup filter read again by a later pass is recomputed there from its own input rather
  /// than written: the same outputs, rejects, counts and verdicts as writing every stage, and
  /// the same bytes after kills inside the recomputing pass, between a ledger and its merge and
  /// after the Nth task.
  @Test func recomputedDedupFilterGivesTheSameBytesAndResumes() throws {
    let folder = try E2E.temporaryDirectory("recompute")
    func pipeline(materialize: Bool, name: String) throws -> String {
      let flag = materialize ? #", "materialize": true"# : ""
      return try E2E.writePipeline(
        """
        { "name": "recompute", "seed": 3,
          "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
          "stages": [
            { "id": "normalize", "op": "normalize@1", "inputs": ["samples"]\(flag) },
            { "id": "dedup", "op": "dedup.exact@1", "inputs": ["normalize"], "config": { "lowercase": true }\(flag) },
            { "id": "near", "op": "dedup.minhash@1", "inputs": ["dedup"]\(flag) },
            { "id": "tokens", "op": "tokens.count@1", "inputs": ["near"]\(flag) }
          ],
          "output": { "from": "tokens", "targetShardBytes": 300000 } }
        """, in: folder, name: name)
    }
    let fusedPipeline = try pipeline(materialize: false, name: "fused.json")
    let fused = try E2E.pipe(["run", fusedPipeline, "--run-dir", folder + "/fused", "--workers", "2"])
    try #require(fused.status == 0, "\(fused.stderr)")
    let written = try E2E.pipe(
      ["run", try pipeline(materialize: true, name: "written.json"), "--run-dir", folder + "/written"])
    try #require(written.status == 0, "\(written.stderr)")
    // dedup's records were not written: near's pass read normalize's and dropped the duplicates again.
    #expect(!FileManager.default.fileExists(atPath: folder + "/fused/data/dedup"))
    #expect(FileManager.default.fileExists(atPath: folder + "/fused/data/normalize/part-00000.jsonl.zst"))
    let inspect = try E2E.pipe(["inspect", folder + "/fused", "--json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
    let stages = try #require(document["stages"] as? [[String: Any]])
    let dedup = try #require(stages.first { $0["id"] as? String == "dedup" })
    #expect(dedup["output"] as? String == "passed on")
    #expect(dedup["shardsWritten"] as? Int == 0)
    let expected = try E2E.outputs(folder + "/fused")
    E2E.expectSameFiles(
      expected.filter { !$0.key.hasPrefix("data/") },
      try E2E.outputs(folder + "/written").filter { !$0.key.hasPrefix("data/") }, "recomputed against written")
    #expect(expected.keys.contains { $0.hasPrefix("rejects/dedup/") })
    try Self.expectSameCountsAndVerdicts(folder + "/fused", folder + "/written")
    try EngineTests.expectConservation(folder + "/fused")

    for fault in ["kill-in-task=near:1:20", "kill-in-task=tokens:2:10", "kill-before-merge=12", "kill-after-tasks=14"] {
      let runDirectory = folder + "/" + fault.replacingOccurrences(of: ":", with: "_")
      let killed = try E2E.pipe(
        ["run", fusedPipeline, "--run-dir", runDirectory, "--workers", "2"], environment: ["PIPE_FAULT": fault])
      #expect(killed.wasSignaled, "\(fault) should have killed the run: \(killed.stderr)")
      let resumed = try E2E.pipe(["resume", runDirectory, "--workers", "2"])
      #expect(resumed.status == 0, "\(resumed.stderr)")
      E2E.expectSameFiles(try E2E.outputs(runDirectory), expected, "after \(fault) and resume")
      try EngineTests.expectConservation(runDirectory)
    }
  }

  /// `"keepIntermediates": false`: every intermediate is deleted once its readers are done, the
  /// output is the same, inspect says what was deleted, and a later change recomputes what it
  /// needs from the nearest data that was kept.
  @Test func keepIntermediatesFalseDeletesAfterUseAndRecomputesOnChange() throws {
    let folder = try E2E.temporaryDirectory("intermediates")
    let reference = try EngineTests.reference(in: folder)
    let text = try String(contentsOfFile: folder + "/pipeline.json", encoding: .utf8)
    let lean = try E2E.writePipeline(
      text.replacingOccurrences(of: #""seed": 7,"#, with: #""seed": 7, "keepIntermediates": false,"#), in: folder,
      name: "lean.json")
    let runDirectory = folder + "/lean"
    let run = try E2E.pipe(["run", lean, "--run-dir", runDirectory, "--workers", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    let left = try E2E.outputs(runDirectory)
    #expect(left.keys.filter { $0.hasPrefix("data/") }.isEmpty, "\(left.keys.sorted())")
    #expect(left.keys.filter { $0.hasPrefix("artifacts/") }.isEmpty, "keys and drop lists are intermediates")
    E2E.expectSameFiles(
      left, reference.filter { !$0.key.hasPrefix("data/") && !$0.key.hasPrefix("artifacts/") }, "without intermediates")
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("deleted after use"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("kept records of length: 4 shard(s)"))
    let again = try E2E.pipe(["run", lean, "--run-dir", runDirectory])
    #expect(again.stdout.contains(" 0 task(s) run"), "deleted intermediates are not missing: \(again.stdout)")
    #expect(try E2E.pipe(["verify", runDirectory]).status == 0)

    // A change to the export needs the dedup filter's records again: they are recomputed (and
    // what they are made from), then deleted again; the output matches a run made that way.
    let smaller = try E2E.writePipeline(
      (try String(contentsOfFile: lean, encoding: .utf8)).replacingOccurrences(
        of: #""targetShardBytes": 200000"#, with: #""targetShardBytes": 150000"#), in: folder, name: "lean.json")
    let changed = try E2E.pipe(["run", smaller, "--run-dir", runDirectory])
    #expect(changed.status == 0, "\(changed.stderr)")
    #expect(changed.stdout.contains("to recompute intermediates deleted after use"), "\(changed.stdout)")
    #expect(try E2E.outputs(runDirectory).keys.filter { $0.hasPrefix("data/") }.isEmpty)
    let direct = try E2E.pipe(["run", smaller, "--run-dir", folder + "/direct"])
    #expect(direct.status == 0)
    E2E.expectSameFiles(
      try E2E.outputs(runDirectory).filter { $0.key.hasPrefix("output/") },
      try E2E.outputs(folder + "/direct").filter { $0.key.hasPrefix("output/") }, "after recomputing")
  }

  // MARK: - Signals

  /// Runs `pipe` under script(1), which gives it a pseudo-terminal: what is written to its
  /// stdin arrives as typed, so a 0x03 byte is a Ctrl-C the terminal turns into SIGINT.
  final class TerminalRun: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    private let collected = NSLock()
    private var bytes = Data()

    init(_ arguments: [String], environment: [String: String]) throws {
      let command = ([E2E.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
      process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
      process.arguments = ["-qefc", "exec " + command, "/dev/null"]
      var env = ProcessInfo.processInfo.environment
      for (key, value) in environment { env[key] = value }
      process.environment = env
      process.standardInput = input
      process.standardOutput = output
      process.standardError = output
      output.fileHandleForReading.readabilityHandler = { [self] handle in
        let chunk = handle.availableData
        collected.lock()
        bytes.append(chunk)
        collected.unlock()
      }
      try process.run()
    }

    var text: String {
      collected.lock()
      defer { collected.unlock() }
      return String(decoding: bytes, as: UTF8.self)
    }

    func type(_ byte: UInt8) {
      input.fileHandleForWriting.write(Data([byte]))
    }

    /// The pid of `pipe` itself: script's child.
    var pipePID: Int32? {
      let children =
        (try? String(
          contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
          encoding: .utf8)) ?? ""
      return children.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// Waits until `condition` holds, at most `seconds`.
    static func wait(_ seconds: Double, until condition: () throws -> Bool) rethrows -> Bool {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
      }
      return try condition()
    }

    func finish() -> Int32 {
      process.waitUntilExit()
      output.fileHandleForReading.readabilityHandler = nil
      return process.terminationStatus
    }
  }

  /// `slowness` is the pause per 100 records in milliseconds: long enough, the running tasks
  /// outlast the grace period and are abandoned; short, they finish within it.
  func interruptAndResume(signal: String, slowness: Int) throws {
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "script(1) is needed")
    let folder = try E2E.temporaryDirectory("signal")
    let reference = try EngineTests.reference(in: folder)
    let runDirectory = folder + "/run"
    // Slowed down (a pause every 100 records) so that the run is surely going when signalled.
    let run = try TerminalRun(
      ["run", folder + "/pipeline.json", "--run-dir", runDirectory, "--workers", "2"],
      environment: ["PIPE_FAULT": "slow-records=\(slowness)"])
    let started = TerminalRun.wait(30) {
      ((try? E2E.sql(runDirectory + "/manifest.sqlite", "SELECT count(*) FROM tasks WHERE status = 'running';"))?
        .first).flatMap(Int.init) ?? 0 > 0
    }
    #expect(started, "the run never started: \(run.text)")
    if signal == "INT" {
      run.type(0x03)
    } else {
      let pid = try #require(run.pipePID)
      kill(pid, SIGTERM)
    }
    let status = run.finish()
    #expect(status == (signal == "INT" ? 130 : 143), "\(run.text)")
    #expect(run.text.contains("SIG\(signal) received: no new task starts"), "\(run.text)")
    #expect(run.text.contains("interrupted by SIG\(signal)"), "\(run.text)")
    #expect(run.text.contains("finish with: pipe resume \(runDirectory)"), "\(run.text)")
    let statusRow = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT status FROM runs ORDER BY id DESC LIMIT 1;")
    #expect(statusRow == ["interrupted"])
    let running = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT count(*) FROM tasks WHERE status = 'running';")
    #expect(running == ["0"], "no task is left running after a clean stop")
    let leftovers = try E2E.snapshot(runDirectory).keys.filter { $0.hasSuffix(".tmp") }
    #expect(leftovers.isEmpty, "abandoned tasks remove their temporary files: \(leftovers)")

    let resumed = try E2E.pipe(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    E2E.expectSameFiles(try E2E.outputs(runDirectory), reference, "after SIG\(signal) and resume")
    try EngineTests.expectConservation(runDirectory)
  }

  @Test func ctrlCStopsCleanlyAndResumes() throws {
    try interruptAndResume(signal: "INT", slowness: 1500)
  }

  @Test func sigtermStopsCleanlyAndResumes() throws {
    try interruptAndResume(signal: "TERM", slowness: 100)
  }

  @Test func aSecondCtrlCStopsAtOnce() throws {
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "script(1) is needed")
    let folder = try E2E.temporaryDirectory("signal2")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    let run = try TerminalRun(
      ["run", pipeline, "--run-dir", runDirectory, "--workers", "2"], environment: ["PIPE_FAULT": "slow-records=400"])
    _ = TerminalRun.wait(30) {
      run.text.contains("[") || FileManager.default.fileExists(atPath: runDirectory + "/data")
    }
    Thread.sleep(forTimeInterval: 0.5)
    run.type(0x03)
    #expect(TerminalRun.wait(10) { run.text.contains("received: no new task starts") }, "\(run.text)")
    run.type(0x03)
    let status = run.finish()
    #expect(status == 130)
    #expect(run.text.contains("stopped at once"), "\(run.text)")
    // It did not wait to record the stop: the run is left as a crash would leave it.
    let statusRow = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT status FROM runs ORDER BY id DESC LIMIT 1;")
    #expect(statusRow == ["running"])
    // Whatever it left, resume finishes it.
    let resumed = try E2E.pipe(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
  }
}
