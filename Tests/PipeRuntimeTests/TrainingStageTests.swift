import Foundation
import PipeCore
import PipeIO
import PipeManifest
import PipeStages
import Testing

@testable import PipeRuntime

/// "Trains" the mean text length of its input; the artifact is that number as text.
private func meanLengthTrainer() -> StageImplementation {
  .steps(
    StagePlan(
      steps: [
        Step(name: nil, writes: [.kept("model.bin"), .kept("report.json")], readsInputRecords: true) { context in
          var total = 0
          var count = 0
          try context.forEachInputRecord { record in
            total += record.text.count
            count += 1
          }
          context.counters.add("trained_on", count)
          let mean = count > 0 ? total / count : 0
          try context.create("model.bin", index: nil).write(Array("mean=\(mean)".utf8))
          try context.writeJSON(.object(["records": .int(Int64(count))]), to: "report.json")
        }
      ], records: .none))
}

/// Keeps records at least as long as the trained mean, writing the mean into the metadata.
private struct AboveMean: RecordStage {
  let mean: Int
  func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    record.setMetadata("mean", .int(Int64(mean)))
    return record.text.count >= mean ? .keep : .drop(reason: "below_mean", detail: nil)
  }
}

private func aboveMeanScorer(model: String) -> StageImplementation {
  let use = ArtifactUse(.configKey("model", stage: model), artifact: "model.bin", maker: "a training stage")
  return .steps(
    StagePlan(
      records: .decide { context in
        let input = try context.open(use, index: nil)
        let text = String(decoding: try input.readAll(), as: UTF8.self)
        guard text.hasPrefix("mean="), let mean = Int(text.dropFirst(5)) else {
          throw PipeError(.corruptInput, "not a mean-length model", file: input.name)
        }
        return RecordStageDecider(AboveMean(mean: mean), context: context.stage)
      }, uses: [use]))
}

struct TrainingStageTests {
  static let registry = OpRegistry(
    Ops.registry.ops + [
      OpDescriptor(name: "test.train", version: 1, summary: "t", keys: [], make: { _ in meanLengthTrainer() }),
      OpDescriptor(
        name: "test.score", version: 1, summary: "s",
        keys: [ConfigKey("model", .stage, default: nil, "the training stage")],
        make: { config in aboveMeanScorer(model: config.values["model"]?.stringValue ?? "") }),
    ])

  static func spec(_ text: String, base: String) throws -> PipelineSpec {
    try PipelineLoader.validate(
      try JSONValue.parse(text), file: "t.json", baseDirectory: base, registry: registry,
      expandGlob: { try Glob.expand($0, relativeTo: $1) })
  }

  // The scoring stage is listed before the training stage: the config reference orders them.
  static let pipeline = """
    { "name": "t", "inputs": [{ "id": "docs", "paths": ["docs*.jsonl"] }, { "id": "train", "paths": ["train.jsonl"] }],
      "stages": [
        { "id": "score", "op": "test.score@1", "inputs": ["docs"], "config": { "model": "fit" } },
        { "id": "fit", "op": "test.train@1", "inputs": ["train"] }
      ],
      "output": { "from": "score" } }
    """

  static func write(_ texts: [String], to path: String) throws {
    let lines = texts.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# }
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
  }

  @Test func scoringWaitsForTrainingAndRerunsWhenTheModelChanges() throws {
    let base = try PlannerTests.folder()
    try "{\"id\":\"x\",\"text\":\"aaaa\"}\nnot json\n".write(
      toFile: base + "/train.jsonl", atomically: true, encoding: .utf8)
    try Self.write(["a", "aaaa", "aaaaaaa"], to: base + "/docs-0.jsonl")
    try Self.write(["aaaaa"], to: base + "/docs-1.jsonl")
    let spec = try Self.spec(Self.pipeline, base: base)
    #expect(spec.stages.map(\.id) == ["fit", "score"])
    let plan = try Planner(spec: spec, layout: RunLayout(root: base + "/run")).plan()
    let scoring = try #require(plan.tasks.first { $0.key == TaskKey(stage: "score", shard: 1) })
    #expect(scoring.dependencies.contains(TaskKey(stage: "fit", shard: 0)))

    let request = RunRequest(
      spec: spec, pipelinePath: base + "/t.json", pipelineText: Self.pipeline, runDirectory: base + "/run", workers: 2)
    let outcome = try Executor.run(request)
    #expect(outcome.succeeded)
    // Trained on one record of length 4 (the bad line is skipped and counted).
    #expect(try String(contentsOfFile: base + "/run/artifacts/fit/model.bin", encoding: .utf8) == "mean=4")
    #expect(FileManager.default.fileExists(atPath: base + "/run/artifacts/fit/report.json"))
    #expect(outcome.outputRecords == 3)
    let manifest = try Manifest.openReadOnly(path: base + "/run/manifest.sqlite")
    #expect(
      try manifest.counters(stage: "fit").map { "\($0.name)=\($0.value)" } == ["lines_not_records=1", "trained_on=1"])
    #expect(try manifest.dropCounts().map { "\($0.stage):\($0.reason)=\($0.count)" } == ["score:below_mean=1"])
    try manifest.close()

    // New training data changes the model, so every scoring task reruns.
    Thread.sleep(forTimeInterval: 1.1)
    try Self.write(["aaaaaaaaaa"], to: base + "/train.jsonl")
    let rerun = try Executor.run(request)
    #expect(rerun.succeeded)
    #expect(rerun.tasksRun == 4)  // fit, score[0], score[1], export
    #expect(rerun.outputRecords == 0)
  }

  @Test func referencesMustNameATrainingStage() throws {
    let base = try PlannerTests.folder()
    try Self.write(["a"], to: base + "/docs-0.jsonl")
    try Self.write(["a"], to: base + "/train.jsonl")
    for (model, message) in [
      ("nowhere", #""nowhere" is not a stage id"#), ("norm", "makes no model.bin; name a training stage"),
    ] {
      let text = """
        { "name": "t", "inputs": [{ "id": "docs", "paths": ["docs*.jsonl"] }],
          "stages": [
            { "id": "norm", "op": "normalize@1", "inputs": ["docs"] },
            { "id": "score", "op": "test.score@1", "inputs": ["norm"], "config": { "model": "\(model)" } }
          ] }
        """
      #expect {
        try Self.spec(text, base: base)
      } throws: { error in
        let description = "\(error)"
        return description.contains("stages[1].config.model") && description.contains(message)
      }
    }
  }
}
