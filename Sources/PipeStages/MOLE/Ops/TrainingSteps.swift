public import PipeCore
internal import Synchronization

/// What training produced: the evaluator's bytes and a report shown by `pipe inspect`.
public struct TrainedArtifact: Sendable {
  /// The artifact (a trained model), versioned by the stage.
  public var bytes: [UInt8]
  /// What training measured (held-out accuracy, counts), as JSON.
  public var report: JSONValue

  /// Creates an artifact.
  public init(bytes: [UInt8], report: JSONValue) {
    self.bytes = bytes
    self.report = report
  }
}

/// Training runs as one task over every record of its input, in order, and leaves two
/// artifacts: the evaluator (`model.bin`) and the report (`report.json`).
extension EvaluatorTrain {
  /// The evaluator's artifact, which `quality.mole` reads.
  static let modelFile = "model.bin"
  /// The training report.
  static let reportFile = "report.json"

  /// The plan the runtime runs: one task, no records downstream.
  public var plan: StagePlan {
    let stage = self
    return StagePlan(
      steps: [
        Step(name: nil, writes: [.kept(Self.modelFile), .kept(Self.reportFile)], readsInputRecords: true) { context in
          let artifact = try stage.train(
            forEachRecord: { body in try context.forEachInputRecord(body) }, context: context.stage)
          try context.create(Self.modelFile, index: nil).write(artifact.bytes)
          try context.writeJSON(artifact.report, to: Self.reportFile)
        }
      ], records: .none)
  }
}

/// Scoring loads the evaluator once per process and artifact: every shard's task would
/// otherwise decode the same model (about 50M instructions for a MOLE evaluator).
extension QualityMole {
  /// The plan the runtime runs: each shard's records scored with the evaluator `model` names.
  public var plan: StagePlan {
    let stage = self
    let use = ArtifactUse(
      .configKey("model", stage: model), artifact: EvaluatorTrain.modelFile,
      maker: "a training stage such as evaluator.train", sharedKeys: ["groupBy"])
    return StagePlan(
      records: .decide { context in
        let input = try context.open(use, index: nil)
        return RecordStageDecider(try stage.scoring(input), context: context.stage)
      }, uses: [use])
  }

  /// The scoring stage for the evaluator in `input`. The evaluator is decoded once per
  /// content; the stage (with this stage's thresholds) is made each time, because two
  /// quality.mole stages may read the same evaluator with different thresholds.
  func scoring(_ input: any ArtifactInput) throws -> any RecordStage {
    let bytes = try input.readAll()
    let key = bytes.withUnsafeBytes { XXH64.hash($0) }
    if let evaluator = Self.loaded.withLock({ $0[key] }) { return try scoring(evaluator, source: input.name) }
    let evaluator = try decode(bytes, source: input.name)
    Self.loaded.withLock { $0[key] = evaluator }
    return try scoring(evaluator, source: input.name)
  }

  private static let loaded = Mutex<[UInt64: Evaluator]>([:])
}
