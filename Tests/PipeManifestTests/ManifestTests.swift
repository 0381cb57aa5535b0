import Foundation
import PipeCore
import Synchronization
import Testing

@testable import PipeManifest

struct ManifestLifecycleTests {
  @Test func createsOpensAndReopens() throws {
    let dir = try TemporaryDirectory()
    do {
      let manifest = try Manifest(path: dir.manifestPath)
      #expect(manifest.path == dir.manifestPath)
      #expect(!manifest.isReadOnly)
      try manifest.setMeta("code_version", "0.1.0")
      let runID = try Fixture.startRun(manifest, seed: UInt64.max)
      try Fixture.recordStage(manifest, "filter", position: 0)
      try Fixture.runTask(manifest, stage: "filter", shard: 0, runID: runID)
      try manifest.finishRun(id: runID, status: .succeeded, error: nil, finishedAt: 3_000)
      #expect(try manifest.liveStatementCount() == 0)
      try manifest.close()
      try manifest.close()  // harmless
      #expect(throws: PipeError.self) { try manifest.runs() }
    }
    let reopened = try Manifest(path: dir.manifestPath)
    #expect(try reopened.meta("code_version") == "0.1.0")
    #expect(try reopened.meta("missing") == nil)
    let runs = try reopened.runs()
    #expect(runs.count == 1)
    let run = try #require(runs.first)
    #expect(run.seed == UInt64.max)
    #expect(run.status == .succeeded)
    #expect(run.finishedAt == 3_000)
    #expect(run.workers == 4)
    #expect(try reopened.task(stage: "filter", shard: 0)?.status == .done)
    #expect(try reopened.stages().map(\.id) == ["filter"])
    #expect(try reopened.liveStatementCount() == 0)
  }

  @Test func schemaVersionIsRecordedAndWalIsOn() throws {
    let dir = try TemporaryDirectory()
    _ = try Manifest(path: dir.manifestPath)
    let raw = try Connection(path: dir.manifestPath, readOnly: true)
    #expect(try raw.userVersion() == Schema.latestVersion)
    #expect(try raw.queryFirst("PRAGMA journal_mode") { $0.text(0) } == "wal")
  }

  @Test func refusesAManifestFromANewerPipe() throws {
    let dir = try TemporaryDirectory()
    _ = try Manifest(path: dir.manifestPath)
    let raw = try Connection(path: dir.manifestPath, readOnly: false)
    try raw.execute("PRAGMA user_version = 99")
    try raw.close()
    let error = try #require(throws: PipeError.self) { try Manifest(path: dir.manifestPath) }
    #expect(error.code == .manifest)
    #expect(error.message.contains("schema version 99"))
    let readError = try #require(throws: PipeError.self) { try Manifest.openReadOnly(path: dir.manifestPath) }
    #expect(readError.message.contains("schema version 99"))
  }

  @Test func anotherDatabaseIsLeftAlone() throws {
    let dir = try TemporaryDirectory()
    let other = try Connection(path: dir.manifestPath, readOnly: false)
    try other.execute("CREATE TABLE notes (body TEXT)")
    try other.close()
    let error = try #require(throws: PipeError.self) { try Manifest(path: dir.manifestPath) }
    #expect(error.message.contains("not a pipe manifest"))
    let raw = try Connection(path: dir.manifestPath, readOnly: true)
    #expect(try raw.queryFirst("SELECT count(*) FROM sqlite_schema") { $0.int(0) } == 1)
  }

  @Test func runsAreListedOldestFirst() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    #expect(try manifest.latestRun() == nil)
    let first = try Fixture.startRun(manifest)
    try manifest.finishRun(id: first, status: .interrupted, error: "SIGINT", finishedAt: 1_100)
    let second = try Fixture.startRun(manifest, seed: 7)
    #expect(second > first)
    let runs = try manifest.runs()
    #expect(runs.map(\.id) == [first, second])
    #expect(runs[0].status == .interrupted)
    #expect(runs[0].error == "SIGINT")
    #expect(runs[1].status == .running)
    #expect(runs[1].finishedAt == nil)
    #expect(try manifest.latestRun()?.id == second)
    #expect(try manifest.latestRun()?.pipelineJSON == #"{"name":"demo"}"#)
    let error = try #require(throws: PipeError.self) {
      try manifest.finishRun(id: 999, status: .failed, error: nil, finishedAt: 0)
    }
    #expect(error.message.contains("no such run"))
    #expect(try manifest.liveStatementCount() == 0)
  }
}

struct ManifestStageTests {
  @Test func stagesAreListedByPosition() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    try Fixture.recordStage(manifest, "dedup", position: 1)
    try manifest.recordStage(
      id: "read", op: "read.jsonl@1", position: 0, inputs: ["web/*.jsonl.zst", "code/a/b.jsonl"], configJSON: "{}",
      fingerprint: "f", taskCount: 3)
    let stages = try manifest.stages()
    #expect(stages.map(\.id) == ["read", "dedup"])
    #expect(
      stages[0]
        == StageRow(
          id: "read", op: "read.jsonl@1", position: 0, inputs: ["web/*.jsonl.zst", "code/a/b.jsonl"], configJSON: "{}",
          fingerprint: "f", taskCount: 3))
  }

  @Test func fingerprintChangeWipesThatStagesTasksAndEverythingOnThem() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    #expect(try Fixture.recordStage(manifest, "a", position: 0))  // new
    #expect(try Fixture.recordStage(manifest, "b", position: 1))
    for shard in 0..<2 {
      try manifest.markTaskStarted(
        stage: "a", shard: shard, input: "in-\(shard)", fingerprint: "t", runID: runID, startedAt: 1)
      try manifest.markTaskDone(
        Fixture.completion(
          stage: "a", shard: shard, artifacts: [ArtifactRow(name: "index", path: "artifacts/a/\(shard).idx", bytes: 9)])
      )
    }
    // Stage b sees the same record ids (as a downstream stage would) but records no origins.
    try manifest.markTaskStarted(stage: "b", shard: 0, input: "a/part-0", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(Fixture.completion(stage: "b", shard: 0, withOrigins: false))

    // Same fingerprint: nothing changes.
    #expect(try !Fixture.recordStage(manifest, "a", position: 0))
    #expect(try manifest.tasks(stage: "a").count == 2)

    // New fingerprint: a's tasks and what hangs off them go, b's stay.
    #expect(try Fixture.recordStage(manifest, "a", position: 0, fingerprint: "fp-2"))
    #expect(try manifest.tasks(stage: "a").isEmpty)
    #expect(try manifest.dropCounts(stage: "a").isEmpty)
    #expect(try manifest.artifacts(stage: "a").isEmpty)
    let history = try manifest.provenance(recordID: "rec-0-3")
    #expect(history.origins.isEmpty)
    #expect(history.verdicts.map(\.stage) == ["b"])
    #expect(try manifest.tasks(stage: "b").count == 1)
    #expect(try !manifest.dropCounts(stage: "b").isEmpty)
    #expect(try manifest.stages().first?.fingerprint == "fp-2")

    // No orphan rows left in the per-task tables.
    let raw = try Connection(path: dir.manifestPath, readOnly: true)
    for table in ["task_drop_counts", "record_origins", "record_verdicts", "artifacts"] {
      let orphans = try raw.queryFirst(
        "SELECT count(*) FROM \(table) WHERE task_id NOT IN (SELECT id FROM tasks)"
      ) { $0.int(0) }
      #expect(orphans == 0, "\(table)")
    }
    #expect(try raw.queryFirst("SELECT count(*) FROM record_origins") { $0.int(0) } == 0)
    #expect(try manifest.liveStatementCount() == 0)
  }

  @Test func shrinkingTheTaskCountDropsTheTasksPastIt() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0, taskCount: 3)
    for shard in 0..<3 { try Fixture.runTask(manifest, stage: "a", shard: shard, runID: runID) }
    #expect(try !Fixture.recordStage(manifest, "a", position: 0, taskCount: 2))
    #expect(try manifest.tasks(stage: "a").map(\.shard) == [0, 1])
  }

  @Test func removingStagesCascades() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    for (position, id) in ["a", "b", "c"].enumerated() {
      try Fixture.recordStage(manifest, id, position: position)
      try Fixture.runTask(manifest, stage: id, shard: 0, runID: runID)
    }
    try manifest.removeStages(notIn: ["a", "c"])
    #expect(try manifest.stages().map(\.id) == ["a", "c"])
    #expect(try Set(manifest.tasks().map(\.stage)) == ["a", "c"])
    #expect(try manifest.dropCounts(stage: "b").isEmpty)
    try manifest.removeStages(notIn: [])
    #expect(try manifest.stages().isEmpty)
    #expect(try manifest.tasks().isEmpty)
    #expect(try manifest.provenance(recordID: "rec-0-1").isEmpty)
    #expect(try manifest.liveStatementCount() == 0)
  }
}

struct ManifestTaskTests {
  @Test func attemptsIncrementAndARestartClearsTheLastError() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    func start() throws -> Int {
      try manifest.markTaskStarted(stage: "a", shard: 1, input: "in-1", fingerprint: "t", runID: runID, startedAt: 10)
    }
    #expect(try start() == 1)
    try manifest.markTaskFailed(stage: "a", shard: 1, error: "boom", errorFile: nil, errorLine: nil, finishedAt: 11)
    #expect(try start() == 2)
    let task = try #require(try manifest.task(stage: "a", shard: 1))
    #expect(task.status == .running)
    #expect(task.attempt == 2)
    #expect(task.error == nil)
    #expect(task.finishedAt == nil)
    #expect(try start() == 3)
    #expect(try manifest.task(stage: "a", shard: 0) == nil)
  }

  @Test func aStartMarkThatFindsTheManifestBusyIsRecordedByTheNextWrite() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    func start(_ shard: Int) throws {
      try manifest.markTaskStartedUnlessBusy(
        stage: "a", shard: shard, input: "in-\(shard)", fingerprint: "t", runID: runID, startedAt: Double(shard))
    }
    // Free: written at once.
    try start(0)
    #expect(try manifest.task(stage: "a", shard: 0)?.status == .running)
    // Busy (this thread holds the connection): kept for the next write.
    try manifest.withConnection("hold the manifest") { _ in try start(1) }
    #expect(try manifest.task(stage: "a", shard: 1) == nil)
    #expect(manifest.deferredStarts.withLock { $0.count } == 1)
    // Another task's write records it first, in order.
    try manifest.markTaskFailed(stage: "a", shard: 0, error: "boom", errorFile: nil, errorLine: nil, finishedAt: 5)
    let deferred = try #require(try manifest.task(stage: "a", shard: 1))
    #expect(deferred.status == .running && deferred.attempt == 1 && deferred.startedAt == 1 && deferred.input == "in-1")
    #expect(manifest.deferredStarts.withLock { $0.isEmpty })
    // A task whose own mark is still waiting can finish: its done write records the start first.
    try manifest.withConnection("hold the manifest") { _ in try start(2) }
    try manifest.markTaskDone(Fixture.completion(stage: "a", shard: 2))
    let done = try #require(try manifest.task(stage: "a", shard: 2))
    #expect(done.status == .done && done.attempt == 1 && done.startedAt == 2)
  }

  @Test func aFailedTaskKeepsItsErrorFileAndLine() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    try manifest.markTaskStarted(stage: "a", shard: 0, input: "in", fingerprint: "t", runID: runID, startedAt: 100)
    try manifest.markTaskFailed(
      stage: "a", shard: 0, error: "corrupt zstd frame", errorFile: "data/in/part-0.jsonl.zst", errorLine: 812,
      finishedAt: 102.5)
    let task = try #require(try manifest.task(stage: "a", shard: 0))
    #expect(task.status == .failed)
    #expect(task.error == "corrupt zstd frame")
    #expect(task.errorFile == "data/in/part-0.jsonl.zst")
    #expect(task.errorLine == 812)
    #expect(task.finishedAt == 102.5)
    #expect(task.durationSeconds == 2.5)
    #expect(task.runID == runID)

    let error = try #require(throws: PipeError.self) {
      try manifest.markTaskFailed(stage: "a", shard: 5, error: "x", errorFile: nil, errorLine: nil, finishedAt: 0)
    }
    #expect(error.message.contains("never started"))
  }

  @Test func doneRecordsCountsAndOutputs() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    try Fixture.runTask(manifest, stage: "a", shard: 0, runID: runID, records: 10)
    let task = try #require(try manifest.task(stage: "a", shard: 0))
    #expect(task.status == .done)
    #expect(task.recordsIn == 10)
    #expect(task.recordsDropped == 5)  // 0, 3, 6, 9 too short; 5 dup
    #expect(task.recordsKept == 5)
    #expect(task.recordsIn == task.recordsKept + task.recordsDropped)
    #expect(task.outputPath == "data/a/part-0.jsonl.zst")
    #expect(task.rejectsPath == "rejects/a/part-0.jsonl.zst")
    #expect(task.checksum == "sha-0")
    #expect(task.outputBytes == 1234)
    #expect(task.bytesIn == 1000)
    #expect(task.durationSeconds == 1.5)
    #expect(task.finishedAt == 2_000)
    #expect(task.startedAt == 1_500)
  }

  /// A ledger written where the manifest could not be (a cluster node) completes a task whose
  /// start was never recorded: the row is created done. A row of an unknown stage is refused.
  @Test func doneWithoutAStartCreatesTheRowButNotForAnUnknownStage() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    try Fixture.recordStage(manifest, "a", position: 0)
    try manifest.markTaskDone(Fixture.completion(stage: "a", shard: 0))
    let task = try #require(try manifest.task(stage: "a", shard: 0))
    #expect(task.status == .done && task.attempt == 1)
    #expect(task.checksum == Fixture.completion(stage: "a", shard: 0).checksum)
    let error = try #require(throws: PipeError.self) {
      try manifest.markTaskDone(Fixture.completion(stage: "nowhere", shard: 0))
    }
    #expect(error.code == .manifest)
    #expect(error.message.contains("unknown stage 'nowhere'"))
    #expect(error.file == dir.manifestPath)
  }

  @Test func startingATaskOfAnUnknownStageNamesTheProblem() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    let error = try #require(throws: PipeError.self) {
      try manifest.markTaskStarted(stage: "ghost", shard: 0, input: "in", fingerprint: "t", runID: runID, startedAt: 0)
    }
    #expect(error.message.contains("unknown stage 'ghost'"))
    let cause = try #require(error.cause as? SQLiteError)
    #expect(cause.code ~= .constraint)
    #expect(cause.code ~= .foreignKeyConstraint)
    #expect(try manifest.liveStatementCount() == 0)
  }

  @Test func markTaskDoneIsAtomic() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    try manifest.markTaskStarted(stage: "a", shard: 0, input: "in", fingerprint: "t", runID: runID, startedAt: 1)
    // Two artifacts with the same name violate the (task_id, name) key after every other row of
    // the completion has been written.
    let artifact = ArtifactRow(name: "index", path: "artifacts/a/index", bytes: 1)
    var bad = Fixture.completion(stage: "a", shard: 0, artifacts: [artifact, artifact])
    bad.origins.append(RecordOrigin(recordID: "only-in-the-bad-one", sourcePath: "never/stored.jsonl", line: 1))

    let error = try #require(throws: PipeError.self) { try manifest.markTaskDone(bad) }
    #expect(error.code == .manifest)
    #expect(try #require(error.cause as? SQLiteError).code ~= .constraint)

    let task = try #require(try manifest.task(stage: "a", shard: 0))
    #expect(task.status == .running)
    #expect(task.recordsIn == 0)
    #expect(task.outputPath == nil)
    #expect(try manifest.dropCounts().isEmpty)
    #expect(try manifest.provenance(recordID: "rec-0-1").isEmpty)
    #expect(try manifest.provenance(recordID: "only-in-the-bad-one").isEmpty)
    #expect(try manifest.artifacts(stage: "a").isEmpty)
    let raw = try Connection(path: dir.manifestPath, readOnly: true)
    #expect(try raw.queryFirst("SELECT count(*) FROM strings WHERE value = 'never/stored.jsonl'") { $0.int(0) } == 0)

    // A done task stays exactly as it was when a second, failing completion is rolled back.
    try manifest.markTaskDone(Fixture.completion(stage: "a", shard: 0, records: 4))
    let done = try manifest.task(stage: "a", shard: 0)
    let doneHistory = try manifest.provenance(recordID: "rec-0-1")
    #expect(throws: PipeError.self) { try manifest.markTaskDone(bad) }
    #expect(try manifest.task(stage: "a", shard: 0) == done)
    #expect(try manifest.provenance(recordID: "rec-0-1") == doneHistory)
    #expect(try manifest.dropCounts(stage: "a") == [DropCount(stage: "a", reason: "too_short", count: 2)])
    #expect(try manifest.liveStatementCount() == 0)

    // The interner's ids from the rolled-back transaction are not reused: a later completion
    // with the same new source path still works.
    var good = Fixture.completion(stage: "a", shard: 0)
    good.origins.append(RecordOrigin(recordID: "later", sourcePath: "never/stored.jsonl", line: 3))
    try manifest.markTaskDone(good)
    #expect(try manifest.provenance(recordID: "later").origins.first?.sourcePath == "never/stored.jsonl")
  }

  @Test func aRetryReplacesTheTasksRows() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    try Fixture.runTask(manifest, stage: "a", shard: 0, runID: runID, records: 10)
    #expect(try manifest.provenance(recordID: "rec-0-9").verdicts.count == 1)
    // The second attempt sees fewer records; nothing of the first may remain.
    try Fixture.runTask(manifest, stage: "a", shard: 0, runID: runID, records: 4)
    #expect(try manifest.provenance(recordID: "rec-0-9").isEmpty)
    #expect(try manifest.provenance(recordID: "rec-0-3").verdicts.count == 1)
    #expect(try manifest.dropCounts(stage: "a") == [DropCount(stage: "a", reason: "too_short", count: 2)])
    #expect(try manifest.task(stage: "a", shard: 0)?.attempt == 2)
    #expect(try manifest.task(stage: "a", shard: 0)?.decideSeconds == 0.25)

    // A restart alone clears the previous attempt's results.
    try manifest.markTaskStarted(stage: "a", shard: 0, input: "in", fingerprint: "t", runID: runID, startedAt: 5)
    #expect(try manifest.provenance(recordID: "rec-0-3").isEmpty)
    #expect(try manifest.dropCounts().isEmpty)
    #expect(try manifest.task(stage: "a", shard: 0)?.recordsIn == 0)
    #expect(try manifest.task(stage: "a", shard: 0)?.decideSeconds == nil)
  }

  @Test func resetTasksDeletesAStagesTasks() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0)
    try Fixture.recordStage(manifest, "b", position: 1)
    try Fixture.runTask(manifest, stage: "a", shard: 0, runID: runID)
    try Fixture.runTask(manifest, stage: "b", shard: 0, runID: runID)
    try manifest.resetTasks(stage: "a")
    #expect(try manifest.tasks().map(\.stage) == ["b"])
    #expect(try manifest.dropCounts().allSatisfy { $0.stage == "b" })
  }

  @Test func plannedTasksArePendingUntilStarted() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0, taskCount: 3)
    try manifest.planTasks(stage: "a", inputs: ["p0", "p1", "p2"], fingerprint: "t")
    #expect(try manifest.tasks(stage: "a").map(\.status) == [.pending, .pending, .pending])
    #expect(try manifest.tasks(stage: "a").map(\.input) == ["p0", "p1", "p2"])
    try Fixture.runTask(manifest, stage: "a", shard: 1, runID: runID)
    try manifest.planTasks(stage: "a", inputs: ["p0", "p1", "p2"], fingerprint: "t")  // leaves task 1 alone
    let tasks = try manifest.tasks(stage: "a")
    #expect(tasks.map(\.status) == [.pending, .done, .pending])
    #expect(tasks[1].attempt == 1)
  }

  @Test func tasksAreOrderedByStagePositionThenShard() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "z-first", position: 0)
    try Fixture.recordStage(manifest, "a-second", position: 1)
    try Fixture.runTask(manifest, stage: "a-second", shard: 1, runID: runID)
    try Fixture.runTask(manifest, stage: "a-second", shard: 0, runID: runID)
    try Fixture.runTask(manifest, stage: "z-first", shard: 1, runID: runID)
    let order = try manifest.tasks().map { "\($0.stage)/\($0.shard)" }
    #expect(order == ["z-first/1", "a-second/0", "a-second/1"])
  }

  @Test func manyThreadsShareOneManifest() async throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "a", position: 0, taskCount: 64)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for shard in 0..<64 {
        group.addTask { try Fixture.runTask(manifest, stage: "a", shard: shard, runID: runID, records: 50) }
      }
      try await group.waitForAll()
    }
    let tasks = try manifest.tasks(stage: "a")
    #expect(tasks.count == 64)
    #expect(tasks.allSatisfy { $0.status == .done })
    #expect(
      try manifest.dropCounts(stage: "a").reduce(0) { $0 + $1.count } == tasks.reduce(0) { $0 + $1.recordsDropped })
    #expect(try manifest.liveStatementCount() == 0)
  }
}

struct ManifestQueryTests {
  @Test func provenanceReturnsOriginsAndVerdictsInPipelineOrder() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "quality", position: 1)
    try Fixture.recordStage(manifest, "read", position: 0)
    try manifest.markTaskStarted(
      stage: "quality", shard: 0, input: "read/0", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(
      TaskCompletion(
        stage: "quality", shard: 0, fingerprint: "t", finishedAt: 2, durationSeconds: 1, recordsIn: 1, recordsKept: 0,
        recordsDropped: 1, recordsEmitted: 0, bytesIn: 10, outputPath: nil, outputBytes: 0, checksum: nil,
        dropCounts: ["low_quality": 1],
        verdicts: [RecordVerdict(recordID: "doc-1", kind: .dropped, reason: "low_quality", detail: "score 0.12")]))
    try manifest.markTaskStarted(stage: "read", shard: 3, input: "web/3", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(
      TaskCompletion(
        stage: "read", shard: 3, fingerprint: "t", finishedAt: 2, durationSeconds: 1, recordsIn: 1, recordsKept: 1,
        recordsDropped: 0, recordsEmitted: 0, bytesIn: 10, outputPath: "read/3", outputBytes: 10, checksum: nil,
        origins: [RecordOrigin(recordID: "doc-1", sourcePath: "web/part-3.jsonl.zst", line: 77)],
        verdicts: [RecordVerdict(recordID: "doc-1", kind: .modified, reason: nil, detail: "normalized unicode")]))

    let history = try manifest.provenance(recordID: "doc-1")
    #expect(
      history.origins == [RecordHistory.Origin(stage: "read", shard: 3, sourcePath: "web/part-3.jsonl.zst", line: 77)])
    #expect(
      history.verdicts == [
        RecordHistory.Verdict(stage: "read", shard: 3, kind: .modified, reason: nil, detail: "normalized unicode"),
        RecordHistory.Verdict(stage: "quality", shard: 0, kind: .dropped, reason: "low_quality", detail: "score 0.12"),
      ])
    #expect(try manifest.provenance(recordID: "doc-2").isEmpty)
    #expect(try manifest.liveStatementCount() == 0)
  }

  @Test func repeatedRecordIDsListEveryMatch() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "read", position: 0)
    try manifest.markTaskStarted(stage: "read", shard: 0, input: "in", fingerprint: "t", runID: runID, startedAt: 1)
    try manifest.markTaskDone(
      TaskCompletion(
        stage: "read", shard: 0, fingerprint: "t", finishedAt: 2, durationSeconds: 1, recordsIn: 2, recordsKept: 2,
        recordsDropped: 0, recordsEmitted: 0, bytesIn: 10, outputPath: nil, outputBytes: 0, checksum: nil,
        origins: [
          RecordOrigin(recordID: "same", sourcePath: "a.jsonl", line: 1),
          RecordOrigin(recordID: "same", sourcePath: "a.jsonl", line: 9),
        ]))
    #expect(try manifest.provenance(recordID: "same").origins.map(\.line) == [1, 9])
  }

  @Test func dropCountsSumPerStageAndReason() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "b", position: 1)
    try Fixture.recordStage(manifest, "a", position: 0)
    // Per task of 10 records: too_short 4 (0, 3, 6, 9), dup 1 (5).
    for shard in 0..<2 {
      try Fixture.runTask(manifest, stage: "a", shard: shard, runID: runID)
      try Fixture.runTask(manifest, stage: "b", shard: shard, runID: runID)
    }
    let expected = [
      DropCount(stage: "a", reason: "too_short", count: 8), DropCount(stage: "a", reason: "dup", count: 2),
      DropCount(stage: "b", reason: "too_short", count: 8), DropCount(stage: "b", reason: "dup", count: 2),
    ]
    #expect(try manifest.dropCounts() == expected)
    #expect(try manifest.dropCounts(stage: "b") == Array(expected[2...]))
    #expect(try manifest.dropCounts(stage: "nope").isEmpty)
  }

  @Test func artifactsAreListedPerStage() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "train", position: 0)
    for shard in [1, 0] {
      try manifest.markTaskStarted(
        stage: "train", shard: shard, input: "in", fingerprint: "t", runID: runID, startedAt: 1)
      try manifest.markTaskDone(
        Fixture.completion(
          stage: "train", shard: shard,
          artifacts: [
            ArtifactRow(
              name: "model", path: "artifacts/train/model-\(shard).bin", bytes: 100, checksum: "c\(shard)", shard: shard
            ),
            ArtifactRow(name: "vocab", path: "artifacts/train/vocab.txt", bytes: 5),
          ]))
    }
    let artifacts = try manifest.artifacts(stage: "train")
    #expect(artifacts.map(\.name) == ["model", "vocab", "model", "vocab"])
    #expect(
      artifacts[0]
        == ArtifactRow(name: "model", path: "artifacts/train/model-0.bin", bytes: 100, checksum: "c0", shard: 0))
    #expect(artifacts[1].shard == nil)
    #expect(artifacts[1].checksum == nil)
    #expect(try manifest.artifacts(stage: "other").isEmpty)
  }

  @Test func recordLookupsUseTheRecordIDIndexesOnceBuilt() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    let views = [("origins", "record_origins_by_record"), ("verdicts", "record_verdicts_by_record")]
    func plans() throws -> [(String, String, [String])] {
      // A fresh connection each time: one that has read the schema plans with what it read.
      let raw = try Connection(path: dir.manifestPath, readOnly: true)
      return try views.map { view, index in
        (view, index, try raw.query("EXPLAIN QUERY PLAN SELECT * FROM \(view) WHERE record_id = 'x'") { $0.text(3) })
      }
    }
    // A new manifest has no lookup index: a run builds them when it ends.
    for (view, index, plan) in try plans() { #expect(!plan.contains { $0.contains(index) }, "\(view): \(plan)") }
    try manifest.buildRecordLookupIndexes()
    try manifest.buildRecordLookupIndexes()  // a second build is a no-op, not an error
    for (view, index, plan) in try plans() { #expect(plan.contains { $0.contains(index) }, "\(view): \(plan)") }
    try manifest.dropRecordLookupIndexes()
    for (view, index, plan) in try plans() { #expect(!plan.contains { $0.contains(index) }, "\(view): \(plan)") }
  }
}

struct ManifestReadOnlyTests {
  @Test func aMissingManifestGivesAClearError() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/nothing-here/manifest.sqlite"
    let error = try #require(throws: PipeError.self) { try Manifest.openReadOnly(path: path) }
    #expect(error.code == .manifest)
    #expect(error.message == "no manifest at \(path): is this a run directory?")
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  @Test func aWriterInAMissingFolderSaysSo() throws {
    let dir = try TemporaryDirectory()
    let error = try #require(throws: PipeError.self) {
      try Manifest(path: dir.path + "/no/such/folder/manifest.sqlite")
    }
    #expect(error.message.contains("does its folder exist"))
  }

  @Test func aFileThatIsNotAManifestIsRejected() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/manifest.sqlite"
    try Data("this is not sqlite, it is just text long enough to fill a header......".utf8).write(
      to: URL(fileURLWithPath: path))
    let error = try #require(throws: PipeError.self) { try Manifest.openReadOnly(path: path) }
    #expect(error.message.contains("not a pipe manifest"))
    #expect(throws: PipeError.self) { try Manifest(path: path) }
  }

  @Test func aReaderSeesTheWritersCommittedDataWhileTheWriterIsOpen() throws {
    let dir = try TemporaryDirectory()
    let writer = try Manifest(path: dir.manifestPath)
    let runID = try Fixture.startRun(writer)
    try Fixture.recordStage(writer, "a", position: 0)

    let reader = try Manifest.openReadOnly(path: dir.manifestPath)
    #expect(reader.isReadOnly)
    #expect(try reader.tasks().isEmpty)
    try Fixture.runTask(writer, stage: "a", shard: 0, runID: runID)
    #expect(try reader.task(stage: "a", shard: 0)?.status == .done)
    #expect(try reader.provenance(recordID: "rec-0-2").origins.count == 1)
    #expect(try reader.latestRun()?.id == runID)

    // While another connection holds an open write transaction, the reader sees the last commit
    // and is not blocked.
    let other = try Connection(path: dir.manifestPath, readOnly: false)
    try other.execute("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('pending', 'yes');")
    #expect(try reader.meta("pending") == nil)
    try other.execute("COMMIT")
    #expect(try reader.meta("pending") == "yes")

    let error = try #require(throws: PipeError.self) { try reader.setMeta("k", "v") }
    #expect(error.message.contains("read-only"))
    #expect(try reader.liveStatementCount() == 0)
  }

  @Test func aReaderOpensAManifestWhoseWriterHasClosed() throws {
    let dir = try TemporaryDirectory()
    do {
      let writer = try Manifest(path: dir.manifestPath)
      try writer.setMeta("k", "v")
      try writer.close()
    }
    let reader = try Manifest.openReadOnly(path: dir.manifestPath)
    #expect(try reader.meta("k") == "v")
  }
}

struct ConnectionTests {
  struct Boom: Error {}

  @Test func aThrowingTransactionRollsBack() throws {
    let dir = try TemporaryDirectory()
    let db = try Connection(path: dir.manifestPath, readOnly: false)
    try db.execute("CREATE TABLE t (x INTEGER)")
    #expect(throws: Boom.self) {
      try db.transaction {
        try db.run("INSERT INTO t VALUES (1)")
        throw Boom()
      }
    }
    #expect(try db.queryFirst("SELECT count(*) FROM t") { $0.int(0) } == 0)
    try db.transaction { try db.run("INSERT INTO t VALUES (?)", [.integer(2)]) }
    #expect(try db.queryFirst("SELECT x FROM t") { $0.int(0) } == 2)
    #expect(db.liveStatementCount() == 0)
    try db.close()
  }

  @Test func errorsCarryTheirCodeAndSQL() throws {
    let dir = try TemporaryDirectory()
    let db = try Connection(path: dir.manifestPath, readOnly: false)
    let error = try #require(throws: SQLiteError.self) { try db.execute("SELEC 1") }
    #expect(error.code ~= .error)
    #expect(error.sql == "SELEC 1")
    #expect(!(error.code ~= .constraint))
    try db.execute("CREATE TABLE u (x TEXT PRIMARY KEY)")
    try db.run("INSERT INTO u VALUES ('a')")
    let duplicate = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO u VALUES ('a')") }
    #expect(duplicate.code ~= .constraint)
    #expect(duplicate.code != .constraint)  // extended: SQLITE_CONSTRAINT_PRIMARYKEY
  }

  @Test func textRoundTripsIncludingEmptyAndNonASCII() throws {
    let dir = try TemporaryDirectory()
    let db = try Connection(path: dir.manifestPath, readOnly: false)
    for value in ["", "plain", "naïve — 日本語 🚀", "with\u{0}nul"] {
      let back = try db.queryFirst("SELECT ?", [.text(value)]) { $0.optionalText(0) }
      #expect(back == value)
    }
    #expect(try db.queryFirst("SELECT ?", [.null]) { $0.optionalText(0) } == .some(nil))
  }
}
