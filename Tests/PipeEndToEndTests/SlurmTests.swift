import Foundation
import Testing

/// The local two-node Slurm cluster of `Tests/PipeTestSupport/slurm_local.sh`, started (or
/// restarted) with `MaxArraySize=5` so that arrays over more shards must be split.
enum SlurmCluster {
  /// `PIPE_SLURM=skip` skips the Slurm tests (a machine where Slurm cannot be installed).
  static let isEnabled = ProcessInfo.processInfo.environment["PIPE_SLURM"] != "skip"
  /// What the tests expect of the cluster.
  static let maxArraySize = 5

  /// Starts the cluster once per test process (fast when it already runs as wanted).
  static let started: Result<Void, TestFailure> = {
    let script = E2E.repositoryRoot + "/Tests/PipeTestSupport/slurm_local.sh"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script, "start"]
    var environment = ProcessInfo.processInfo.environment
    environment["PIPE_SLURM_MAX_ARRAY_SIZE"] = String(maxArraySize)
    process.environment = environment
    let log = NSTemporaryDirectory() + "pipe-slurm-start-\(getpid()).log"
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = FileHandle(forWritingAtPath: log)
    process.standardOutput = handle
    process.standardError = handle
    do {
      try process.run()
      process.waitUntilExit()
    } catch {
      return .failure(TestFailure(message: "cannot run \(script): \(error)"))
    }
    guard process.terminationStatus == 0 else {
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      return .failure(TestFailure(message: "slurm_local.sh start failed:\n\(text)"))
    }
    return .success(())
  }()

  /// Fails the test when the cluster could not be started.
  static func require() throws {
    try started.get()
  }

  struct TestFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
  }

  /// A run with `--executor slurm --wait`; `extra` adds arguments.
  static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    try E2E.pipe(arguments + ["--executor", "slurm", "--wait"], environment: environment)
  }

  /// The latest submission record of a run directory.
  static func submission(_ runDirectory: String) throws -> [String: Any] {
    let data = try #require(FileManager.default.contents(atPath: runDirectory + "/slurm/submission.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// The jobs of the latest submission: stage, offset, indices.
  static func jobs(_ runDirectory: String) throws -> [(stage: String, offset: Int, indices: [Int], id: String)] {
    let jobs = try #require(try submission(runDirectory)["jobs"] as? [[String: Any]])
    return jobs.map {
      (
        $0["stage"] as? String ?? "", $0["offset"] as? Int ?? -1, $0["indices"] as? [Int] ?? [],
        $0["id"] as? String ?? ""
      )
    }
  }

  /// What a run produced (`E2E.outputs`) without the Slurm job scripts and logs.
  static func results(_ runDirectory: String) throws -> [String: Data] {
    try E2E.outputs(runDirectory).filter { !$0.key.hasPrefix("slurm/") }
  }

  /// Waits until Slurm no longer lists `job` as pending or running.
  static func waitFor(_ job: String) throws {
    for _ in 0..<1500 {
      if try E2E.shellOutput("/usr/bin/squeue", ["-h", "-r", "-j", job, "-o", "%T"]).isEmpty { return }
      usleep(200_000)
    }
    Issue.record("job \(job) still queued after 5 minutes")
  }

  /// The cluster's MaxArraySize, from `scontrol show config`.
  static func configuredMaxArraySize() throws -> Int? {
    let config = try E2E.shellOutput("/usr/bin/scontrol", ["show", "config"])
    for line in config.split(separator: "\n") where line.hasPrefix("MaxArraySize") {
      return line.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
    return nil
  }

  /// Job ids of the latest submission that Slurm still lists (pending or running).
  static func activeJobs(_ runDirectory: String) throws -> [String] {
    var ids = try jobs(runDirectory).map(\.id)
    if let collector = try submission(runDirectory)["collector"] as? String { ids.append(collector) }
    let output = try E2E.shellOutput("/usr/bin/squeue", ["-h", "-r", "-j", ids.joined(separator: ","), "-o", "%i %T"])
    return output.split(separator: "\n").map(String.init)
  }
}

/// `--executor slurm` against a real Slurm (two slurmd nodes on this machine): the same bytes as
/// the local executor, arrays split under MaxArraySize, failures named and resumed exactly,
/// an element run twice harmless.
@Suite(.serialized, .enabled(if: SlurmCluster.isEnabled, "PIPE_SLURM=skip"))
struct SlurmTests {
  /// The verdicts `pipe why` gives for some records, with the run directory's path taken out.
  static func whyAnswers(_ runDirectory: String, ids: [String]) throws -> [String] {
    try ids.map { id in
      let result = try E2E.pipe(["why", runDirectory, id])
      #expect(result.status == 0, "\(result.stderr)")
      return result.stdout.replacingOccurrences(of: runDirectory, with: "RUN")
    }
  }

  /// Some record ids of a run: kept, and dropped by each stage that dropped any.
  static func sampleIDs(_ runDirectory: String) throws -> [String] {
    let dropped = try E2E.sql(
      runDirectory + "/manifest.sqlite",
      "SELECT record_id FROM (SELECT stage, MIN(record_id) AS record_id FROM verdicts WHERE kind = 'dropped' GROUP BY stage) ORDER BY stage;"
    )
    let kept = try E2E.pipe(["cat", runDirectory + "/output/part-00000.jsonl.zst", "--limit", "2"]).stdout
      .split(separator: "\n").compactMap { line -> String? in
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
          return nil
        }
        return object["id"] as? String
      }
    return dropped + kept
  }

  @Test func multilingualGivesTheLocalExecutorsBytesAndAnswers() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-multilingual")
    let pipeline = E2E.repositoryRoot + "/pipelines/multilingual.json"
    let local = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/local", "--workers", "2"])
    #expect(local.status == 0, "\(local.stderr)")
    let slurm = try SlurmCluster.run(["run", pipeline, "--run-dir", folder + "/slurm"])
    #expect(slurm.status == 0, "\(slurm.stderr)")
    #expect(slurm.stdout.contains("done on Slurm"))
    E2E.expectSameFiles(
      try SlurmCluster.results(folder + "/slurm"), try SlurmCluster.results(folder + "/local"), "on Slurm")
    try OpenEngineTests.expectSameCountsAndVerdicts(folder + "/slurm", folder + "/local")
    let ids = try Self.sampleIDs(folder + "/local")
    #expect(ids.count >= 4)
    #expect(try Self.whyAnswers(folder + "/slurm", ids: ids) == (try Self.whyAnswers(folder + "/local", ids: ids)))
    try EngineTests.expectConservation(folder + "/slurm")
    // Each group of tasks was one array, and every element ran on one of the two nodes.
    let jobs = try SlurmCluster.jobs(folder + "/slurm")
    #expect(jobs.contains { $0.stage == "normalize" && $0.indices == [0, 1, 2, 3] })
    let logs = try FileManager.default.contentsOfDirectory(atPath: folder + "/slurm/slurm/logs")
    #expect(logs.contains { $0.hasPrefix("collect-") })
    #expect(try SlurmCluster.activeJobs(folder + "/slurm").isEmpty)
    // A second submission finds everything up to date and submits nothing.
    let again = try SlurmCluster.run(["resume", folder + "/slurm"])
    #expect(again.status == 0)
    #expect(again.stdout.contains("nothing to submit"), "\(again.stdout)")
  }

  /// Twelve input shards (of the samples' records) with MaxArraySize 5: each record stage is
  /// split into arrays of task indices 0-4, 5-9 and 10-11, the dependencies pair them, and the
  /// result is the local executor's. The pipeline has MinHash, a mixture and MOLE training.
  @Test func twelveShardsUnderMaxArraySizeFiveWithMinHashMixtureAndTraining() throws {
    try SlurmCluster.require()
    #expect(try SlurmCluster.configuredMaxArraySize() == SlurmCluster.maxArraySize, "the test cluster's MaxArraySize")
    let folder = try E2E.temporaryDirectory("slurm-twelve")
    let records =
      try E2E.readLines(E2E.repositoryRoot + "/samples/part-00000.jsonl.zst")
      + E2E.readLines(E2E.repositoryRoot + "/samples/part-00001.jsonl.zst")
    #expect(records.count > 100)
    for shard in 0..<12 {
      let lines = records.indices.filter { $0 % 12 == shard }.map { records[$0] }
      try E2E.writeShard(folder + "/in/part-\(String(format: "%02d", shard)).jsonl.zst", json: lines)
    }
    let pipeline = try E2E.writePipeline(
      """
      { "name": "twelve", "seed": 5,
        "inputs": [{ "id": "docs", "paths": ["in/*.jsonl.zst"] }],
        "stages": [
          { "id": "normalize", "op": "normalize@1", "inputs": ["docs"] },
          { "id": "language", "op": "lang.id@1", "inputs": ["normalize"], "config": { "belowThreshold": "keep" } },
          { "id": "prose", "op": "filter.length@1", "inputs": ["language"], "config": { "minChars": 300, "minWords": 50 } },
          { "id": "counterfactuals", "op": "counterfactual.generate@1", "inputs": ["prose"],
            "config": { "scenario": "web_article", "method": "rules" } },
          { "id": "train", "op": "evaluator.train@1", "inputs": ["counterfactuals"], "config": { "scenario": "web_article" } },
          { "id": "score", "op": "quality.mole@1", "inputs": ["prose"], "config": { "model": "train", "keepTopFraction": 0.9 } },
          { "id": "near", "op": "dedup.minhash@1", "inputs": ["score"] },
          { "id": "tokens", "op": "tokens.count@1", "inputs": ["near"], "config": { "groupBy": "language" } },
          { "id": "mixture", "op": "mixture.plan@1", "inputs": ["tokens"],
            "config": { "groupBy": "language", "policy": "temperature", "temperature": 3, "maxEpochs": 2 } },
          { "id": "sample", "op": "mixture.sample@1", "inputs": ["mixture"] }
        ],
        "output": { "from": "sample", "path": "output" } }
      """, in: folder)
    let local = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/local", "--workers", "2"])
    #expect(local.status == 0, "\(local.stderr)")
    let slurm = try SlurmCluster.run(["run", pipeline, "--run-dir", folder + "/slurm", "--max-parallel", "2"])
    #expect(slurm.status == 0, "\(slurm.stderr)")
    E2E.expectSameFiles(
      try SlurmCluster.results(folder + "/slurm"), try SlurmCluster.results(folder + "/local"), "on Slurm")
    try OpenEngineTests.expectSameCountsAndVerdicts(folder + "/slurm", folder + "/local")
    try EngineTests.expectConservation(folder + "/slurm")
    let normalize = try SlurmCluster.jobs(folder + "/slurm").filter { $0.stage == "normalize" }
    #expect(normalize.map(\.offset) == [0, 5, 10])
    #expect(normalize.map(\.indices) == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1]])
    let script = try String(
      contentsOfFile: folder + "/slurm/slurm/round-1/"
        + (try #require(
          try FileManager.default.contentsOfDirectory(atPath: folder + "/slurm/slurm/round-1").sorted()
            .first { $0.hasSuffix("-normalize-5.sh") })),
      encoding: .utf8)
    #expect(script.contains("#SBATCH --array=0-4%2"))
    #expect(script.contains("$((SLURM_ARRAY_TASK_ID + 5))"))
    // `%2` throttles each of the 3 arrays: 6 elements at once share each LLM endpoint's limits.
    #expect(script.contains("--llm-share 6"))
  }

  /// A failure injected in one task (a shard's fused pass, or the dedup index step): the run
  /// fails naming it, nothing downstream is left pending in Slurm, and `pipe resume --executor
  /// slurm` submits only that task and its downstream (first script of round 2: that task's
  /// array) and ends with the bytes of an uninterrupted run.
  @Test(arguments: [
    (task: "normalize", shard: 2, firstScript: "001-normalize.sh"),
    (task: "dedup:index", shard: 0, firstScript: "001-dedup.index.sh"),
  ])
  func aFailedTaskIsNamedAndResumeSubmitsOnlyWhatIsMissing(task: String, shard: Int, firstScript: String) throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-fail")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let local = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/local", "--workers", "2"])
    #expect(local.status == 0, "\(local.stderr)")
    let runDirectory = folder + "/slurm"
    let failed = try SlurmCluster.run(
      ["run", pipeline, "--run-dir", runDirectory], environment: ["PIPE_FAULT": "fail-in-task=\(task):\(shard)"])
    #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
    #expect(failed.stderr.contains("\(task)[\(shard)]"), "\(failed.stderr)")
    #expect(failed.stderr.contains("fault injected"), "\(failed.stderr)")
    #expect(try SlurmCluster.activeJobs(runDirectory).isEmpty, "jobs left pending after the failure")
    let status = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT status FROM runs ORDER BY id DESC LIMIT 1;")
    #expect(status == ["failed"])
    let error = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT error FROM tasks WHERE stage_id = '\(task)' AND shard = \(shard);")
    #expect(error.first?.contains("fault injected") == true, "\(error)")
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("failed tasks:"), "\(inspect.stdout)")

    let resumed = try SlurmCluster.run(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    // Round 2 ran the failed task and what reads it: the index and the filter passes over all
    // shards (the index changed), and the export; no first pass of another shard.
    let jobs = try SlurmCluster.jobs(runDirectory)
    let firstPass = jobs.filter { $0.stage == "normalize" }.map(\.indices)
    #expect(firstPass == (task == "normalize" ? [[shard]] : []))
    #expect(jobs.contains { $0.stage == "dedup:index" })
    let script = try String(contentsOfFile: runDirectory + "/slurm/round-2/" + firstScript, encoding: .utf8)
    #expect(script.contains("#SBATCH --array=\(shard)\n"))
    E2E.expectSameFiles(
      try SlurmCluster.results(runDirectory), try SlurmCluster.results(folder + "/local"), "after resume on Slurm")
    try EngineTests.expectConservation(runDirectory)
  }

  /// `scancel` of one running array element: the run ends failed naming that task, nothing
  /// downstream stays pending, and the resume on Slurm gives the uninterrupted bytes.
  @Test func aCancelledElementFailsTheRunAndResumeFinishesIt() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-cancel")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let local = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/local", "--workers", "2"])
    #expect(local.status == 0, "\(local.stderr)")
    let runDirectory = folder + "/slurm"
    // Slow tasks (20 ms per 100 records), so that the element is surely still running.
    let submitted = try E2E.pipe(
      ["run", pipeline, "--run-dir", runDirectory, "--executor", "slurm"],
      environment: ["PIPE_FAULT": "slow-records=40"])
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let first = try #require(try SlurmCluster.jobs(runDirectory).first { $0.stage == "normalize" })
    let element = "\(first.id)_1"
    var running = false
    for _ in 0..<300 where !running {
      let state = try E2E.shellOutput("/usr/bin/squeue", ["-h", "-j", element, "-o", "%T"])
      running = state.contains("RUNNING")
      if !running { usleep(100_000) }
    }
    #expect(running, "element \(element) never ran")
    _ = try E2E.shellOutput("/usr/bin/scancel", [element])
    let collector = try #require(try SlurmCluster.submission(runDirectory)["collector"] as? String)
    try SlurmCluster.waitFor(collector)
    #expect(try SlurmCluster.activeJobs(runDirectory).isEmpty, "jobs left pending after the cancel")
    let status = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT status || ' ' || error FROM runs;")
    #expect(status.first?.hasPrefix("failed normalize[1]") == true, "\(status)")
    #expect(status.first?.contains(element) == true, "the error names the Slurm element: \(status)")

    let resumed = try SlurmCluster.run(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let normalize = try SlurmCluster.jobs(runDirectory).filter { $0.stage == "normalize" }
    #expect(normalize.map(\.indices) == [[1]], "only the cancelled task's pass is submitted again")
    E2E.expectSameFiles(
      try SlurmCluster.results(runDirectory), try SlurmCluster.results(folder + "/local"), "after cancel and resume")
    try EngineTests.expectConservation(runDirectory)
  }

  /// An element submitted again by hand after the run finished rewrites the same bytes, and its
  /// ledger, merged by the next command, changes no count.
  @Test func anElementRunTwiceChangesNoByteAndNoCount() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-twice")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/slurm"
    let first = try SlurmCluster.run(["run", pipeline, "--run-dir", runDirectory])
    #expect(first.status == 0, "\(first.stderr)")
    let before = try SlurmCluster.results(runDirectory)
    let counts = "SELECT stage_id, shard, records_in, records_kept, records_dropped, checksum FROM tasks ORDER BY 1, 2;"
    let countsBefore = try E2E.sql(runDirectory + "/manifest.sqlite", counts)
    let script = runDirectory + "/slurm/round-1/001-normalize.sh"
    let job = try E2E.shellOutput("/usr/bin/sbatch", ["--parsable", "--array=2", script])
      .trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(!job.isEmpty)
    try SlurmCluster.waitFor(job)
    let ledger = runDirectory + "/ledgers/normalize/part-00002.ledger"
    #expect(FileManager.default.fileExists(atPath: ledger), "the element wrote its ledger again")
    let resumed = try E2E.pipe(["resume", runDirectory])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("0 task(s) run"), "\(resumed.stdout)")
    #expect(!FileManager.default.fileExists(atPath: ledger), "the ledger was merged")
    E2E.expectSameFiles(try SlurmCluster.results(runDirectory), before, "after an element ran twice")
    #expect(try E2E.sql(runDirectory + "/manifest.sqlite", counts) == countsBefore)
  }

  /// `--tasks-per-job 3` over four shards: one element runs shards 0-2 in turn, another
  /// shard 3; spill and scratch files go to the job's `$TMPDIR`; the bytes are the local ones.
  @Test func severalTasksPerElementGiveTheSameBytes() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-per-job")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let local = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/local", "--workers", "2"])
    #expect(local.status == 0, "\(local.stderr)")
    try FileManager.default.createDirectory(atPath: folder + "/node-tmp", withIntermediateDirectories: true)
    let runDirectory = folder + "/slurm"
    let slurm = try SlurmCluster.run(
      ["run", pipeline, "--run-dir", runDirectory, "--tasks-per-job", "3"],
      environment: ["TMPDIR": folder + "/node-tmp"])
    #expect(slurm.status == 0, "\(slurm.stderr)")
    let script = try String(contentsOfFile: runDirectory + "/slurm/round-1/001-normalize.sh", encoding: .utf8)
    #expect(script.contains("#SBATCH --array=0-1\n"))
    #expect(script.contains("0) tasks=0,1,2 ;;"))
    #expect(script.contains("1) tasks=3 ;;"))
    E2E.expectSameFiles(
      try SlurmCluster.results(runDirectory), try SlurmCluster.results(folder + "/local"), "3 per job")
    try EngineTests.expectConservation(runDirectory)
  }

  /// A forced rerun whose task fails ends failed, although the task's row from the first run
  /// says done with the same fingerprint: only this run's ledgers count.
  @Test func aForcedRerunThatFailsIsNotReportedDone() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-forced")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/slurm"
    let first = try SlurmCluster.run(["run", pipeline, "--run-dir", runDirectory])
    #expect(first.status == 0, "\(first.stderr)")
    let forced = try SlurmCluster.run(
      ["run", pipeline, "--run-dir", runDirectory, "--force", "length"],
      environment: ["PIPE_FAULT": "fail-in-task=normalize:1"])
    #expect(forced.status == 1, "\(forced.stdout)\(forced.stderr)")
    #expect(forced.stderr.contains("normalize[1]"), "\(forced.stderr)")
    let status = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT status FROM runs ORDER BY id DESC LIMIT 1;")
    #expect(status == ["failed"])
  }

  /// A run directory whose path a `#SBATCH --output` line cannot hold is refused up front.
  @Test func aRunDirectoryWithASpaceIsRefused() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-space")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let result = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/my run", "--executor", "slurm"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("whitespace"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/my run"))
  }

  /// A second `pipe run` on a directory whose jobs are still queued is refused.
  @Test func aRunDirectoryWithJobsInFlightIsRefused() throws {
    try SlurmCluster.require()
    let folder = try E2E.temporaryDirectory("slurm-busy")
    let pipeline = try EngineTests.samplesPipeline(in: folder)
    let runDirectory = folder + "/slurm"
    let submitted = try E2E.pipe(
      ["run", pipeline, "--run-dir", runDirectory, "--executor", "slurm", "--sbatch-arg", "--begin=now+600"])
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let again = try E2E.pipe(["resume", runDirectory])
    #expect(again.status == 2)
    #expect(again.stderr.contains("still pending or running"), "\(again.stderr)")
    // inspect shows the submission in flight: every task pending, with its jobs.
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("Slurm submission 1 in progress"), "\(inspect.stdout)")
    let normalizeJob = try #require(try SlurmCluster.jobs(runDirectory).first { $0.stage == "normalize" })
    let row = inspect.stdout.split(separator: "\n").first { $0.hasPrefix("  normalize ") }.map(String.init) ?? ""
    #expect(row.split(separator: " ") == ["normalize", Substring(normalizeJob.id), "0", "0", "4", "0"], "\(row)")
    let collector = try #require(try SlurmCluster.submission(runDirectory)["collector"] as? String)
    _ = try E2E.shellOutput("/usr/bin/scancel", try SlurmCluster.jobs(runDirectory).map(\.id) + [collector])
  }
}
