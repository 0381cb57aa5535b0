import Foundation
import PipeTestSupport
import Testing

@testable import PipeManifest

/// The command-line surface: help, usage errors, every bundled pipeline, inspect, why, cat, ops.
struct CLITests {
  static let commands = ["run", "resume", "inspect", "why", "validate", "cat", "ops"]

  @Test(arguments: commands)
  func everyCommandHasHelp(command: String) throws {
    let result = try E2E.pipe([command, "--help"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("usage: pipe \(command)"))
  }

  @Test func overviewListsCommandsAndBadUsageExitsTwo() throws {
    let overview = try E2E.pipe(["--help"])
    #expect(overview.status == 0)
    for command in Self.commands { #expect(overview.stdout.contains(command)) }
    let unknown = try E2E.pipe(["frobnicate"])
    #expect(unknown.status == 2)
    #expect(unknown.stderr.contains("unknown command"))
    let badOption = try E2E.pipe(["inspect", "/tmp", "--colour"])
    #expect(badOption.status == 2)
    #expect(badOption.stderr.contains("unknown option --colour"))
    let badWorkers = try E2E.pipe(["run", "pipelines/multilingual.json", "--workers", "zero"], in: E2E.repositoryRoot)
    #expect(badWorkers.status == 2)
    let missing = try E2E.pipe(["run", "/nonexistent/pipeline.json"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("/nonexistent/pipeline.json"))
    let notRun = try E2E.pipe(["resume", "/nonexistent-run-dir"])
    #expect(notRun.status == 2)
  }

  @Test func opsListsEveryOpWithItsKeys() throws {
    let result = try E2E.pipe(["ops"])
    #expect(result.status == 0)
    for op in ["normalize@1", "filter.length@1", "dedup.exact@1", "passthrough@1", "minChars", "lowercase"] {
      #expect(result.stdout.contains(op))
    }
    let json = try E2E.pipe(["ops", "--json"])
    let list = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(list.contains { $0["op"] as? String == "dedup.exact@1" })
  }

  static var pipelineFiles: [String] {
    let folder = E2E.repositoryRoot + "/pipelines"
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasSuffix(".json") }.sorted().map { folder + "/" + $0 }
  }

  @Test func everyPipelineFileValidatesAndRuns() throws {
    #expect(!Self.pipelineFiles.isEmpty)
    for file in Self.pipelineFiles {
      // Pipelines that call the local model server (make llm-server) need it up; with
      // PIPE_LLM_URL=skip they are validated only.
      let text = try String(contentsOfFile: file, encoding: .utf8)
      let needsServer = text.contains("127.0.0.1:87")
      // Pipelines that read a local model's file (a tokenizer) need it installed, which the
      // model server does (its first start installs SmolLM2 into ~/.cache/pipe-llm).
      let needsModelFile = text.contains("~/.cache/pipe-llm/")
      if needsModelFile {
        guard LiveServer.isEnabled else { continue }
        _ = try LiveServer.baseURL.get()
      }
      let validate = try E2E.pipe(["validate", file])
      #expect(validate.status == 0, "\(file): \(validate.stderr)")
      if needsServer && !LiveServer.isEnabled { continue }
      // The small variant of a pipeline made for the real models (make models): every endpoint
      // on the test server, and two seeds.
      let settings = needsServer ? try Self.smallVariant(text, url: try LiveServer.baseURL.get()) : []
      let runDirectory = try E2E.temporaryDirectory("pipelines")
      let run = try E2E.pipe(["run", file, "--run-dir", runDirectory, "--workers", "2"] + settings)
      #expect(run.status == 0, "\(file): \(run.stderr)")
      #expect(run.stdout.contains("run directory: \(runDirectory)"))
      try EngineTests.expectConservation(runDirectory)
      if text.contains(#""chat""#) { try ChatExportCheck.expectReadable(runDirectory + "/output") }
    }
  }

  /// `--set` arguments that point every endpoint of `pipeline` at `url` and synthesize from
  /// two seeds only.
  static func smallVariant(_ pipeline: String, url: String) throws -> [String] {
    let document = try #require(try JSONSerialization.jsonObject(with: Data(pipeline.utf8)) as? [String: Any])
    var settings: [String] = []
    for stage in document["stages"] as? [[String: Any]] ?? [] {
      guard let id = stage["id"] as? String, let config = stage["config"] as? [String: Any] else { continue }
      for name in (config["endpoints"] as? [String: Any] ?? [:]).keys.sorted() {
        settings += ["--set", "\(id).endpoints.\(name).baseURL=\(url)"]
      }
      if config["endpoint"] is [String: Any] { settings += ["--set", "\(id).endpoint.baseURL=\(url)"] }
      if (stage["op"] as? String ?? "").hasPrefix("agents.star") { settings += ["--set", "\(id).maxSeeds=2"] }
    }
    return settings
  }

  @Test func resumeUpgradesAManifestFromAnOlderPipe() throws {
    let folder = try E2E.temporaryDirectory("upgrade")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", runDirectory]).status == 0)
    // What the pipe before schema version 7 left: no tasks.decide_seconds, and none of what
    // version 8 added (the open engine's chains, row kinds, rejects checksums, deletions).
    let raw = try Connection(path: runDirectory + "/manifest.sqlite", readOnly: false)
    try raw.execute(
      """
      ALTER TABLE tasks DROP COLUMN decide_seconds; ALTER TABLE tasks DROP COLUMN rejects_bytes;
      ALTER TABLE tasks DROP COLUMN rejects_checksum; ALTER TABLE tasks DROP COLUMN chain;
      ALTER TABLE tasks DROP COLUMN kind; ALTER TABLE tasks DROP COLUMN output_deleted_at;
      ALTER TABLE artifacts DROP COLUMN deleted_at; PRAGMA user_version = 6
      """)
    try raw.close()

    // The read-only commands do not change the file; they say what does.
    let refused = try E2E.pipe(["inspect", runDirectory])
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("schema version 6, older than this pipe's"))
    #expect(refused.stderr.contains("`pipe resume` upgrades it"))

    // And it does, running nothing of a finished run.
    let resumed = try E2E.pipe(["resume", runDirectory, "--no-progress"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains(" 0 task(s) run"), "\(resumed.stdout)")
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("DECIDING"))
  }

  @Test func inspectWhyAndCatReadARun() throws {
    let folder = try E2E.temporaryDirectory("read")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/run"
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", runDirectory]).status == 0)

    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.status == 0)
    for column in [
      "STAGE", "STATUS", "KEPT", "DROPPED", "DECIDING", "REC/S", "TOP DROP REASONS", "normalize", "duplicate",
    ] {
      #expect(inspect.stdout.contains(column))
    }
    let json = try E2E.pipe(["inspect", runDirectory, "--json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let stages = try #require(document["stages"] as? [[String: Any]])
    for stage in stages {
      let recordsIn = stage["recordsIn"] as? Int ?? -1
      let kept = stage["recordsKept"] as? Int ?? -1
      let dropped = stage["recordsDropped"] as? Int ?? -1
      #expect(recordsIn == kept + dropped || (stage["id"] as? String ?? "").hasSuffix(":index"))
      #expect(stage["status"] as? String == "done")
      // Record stages time their decisions, a part of their tasks' time.
      if let decide = stage["decideSeconds"] as? Double {
        #expect(decide >= 0 && decide <= (stage["seconds"] as? Double ?? -1))
      }
    }
    let length = try #require(stages.first { $0["id"] as? String == "length" })
    #expect(length["decideSeconds"] as? Double != nil)
    let perStage = try E2E.pipe(["inspect", runDirectory, "--stage", "length"])
    #expect(perStage.stdout.contains("length[3]"))

    // A duplicate: why names the record that was kept.
    let rejects = try E2E.pipe(["cat", runDirectory, "dedup", "--rejects", "--limit", "1"])
    let rejected = try #require(
      try JSONSerialization.jsonObject(with: Data(rejects.stdout.utf8)) as? [String: Any])
    let id = try #require(rejected["id"] as? String)
    let reject = try #require(rejected["reject"] as? [String: Any])
    let keptID = try #require(reject["detail"] as? String)
    let why = try E2E.pipe(["why", runDirectory, id])
    #expect(why.status == 0)
    #expect(why.stdout.contains("source: \(E2E.repositoryRoot)/samples/part-"))
    #expect(why.stdout.contains("duplicate of \(keptID)"))
    #expect(why.stdout.contains("normalize"))
    let keptWhy = try E2E.pipe(["why", runDirectory, keptID, "--json"])
    let steps = try #require(
      (try JSONSerialization.jsonObject(with: Data(keptWhy.stdout.utf8)) as? [String: Any])?["stages"]
        as? [[String: Any]])
    #expect(steps.last?["verdict"] as? String == "exported")
    let unknown = try E2E.pipe(["why", runDirectory, "no-such-record"])
    #expect(unknown.status == 2)

    // length's records are written (the dedup filter reads them again); normalize's went
    // straight on to length in the same pass, and cat says so and how to keep them.
    let cat = try E2E.pipe(["cat", runDirectory, "length", "--limit", "3"])
    #expect(cat.stdout.split(separator: "\n").count == 3)
    let unwritten = try E2E.pipe(["cat", runDirectory, "normalize", "--limit", "3"])
    #expect(unwritten.status == 2)
    #expect(unwritten.stderr.contains("stage normalize was not written to disk"), "\(unwritten.stderr)")
    #expect(unwritten.stderr.contains(#"add "materialize": true to stage normalize"#))
    let normalizeRejects = try E2E.pipe(["cat", runDirectory, "normalize", "--rejects"])
    #expect(normalizeRejects.status == 0)
    let catFile = try E2E.pipe(["cat", E2E.repositoryRoot + "/samples/part-00000.jsonl.zst", "--limit", "2"])
    #expect(catFile.stdout.split(separator: "\n").count == 2)
  }
}

/// Progress goes to stderr only when it is a terminal (here a pseudo-terminal made by script(1)).
struct ProgressTests {
  @Test func progressLineIsDrawnOnATerminalOnly() throws {
    let script = "/usr/bin/script"
    try #require(FileManager.default.isExecutableFile(atPath: script), "script(1) from bsdutils is needed")
    let folder = try E2E.temporaryDirectory("progress")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let command = "\(E2E.binary) run \(pipeline) --run-dir \(folder)/tty --workers 1"
    let onTerminal = try E2E.shellOutput(script, ["-qec", command, folder + "/typescript"])
    #expect(onTerminal.contains("tasks "), "no progress line on a terminal: \(onTerminal.suffix(400))")
    #expect(onTerminal.contains("records/s") && onTerminal.contains("ETA"))
    let piped = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/piped"])
    #expect(piped.status == 0)
    #expect(!piped.stderr.contains("records/s"), "progress must stay off when stderr is not a terminal")
  }
}
