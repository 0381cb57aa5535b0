import Foundation
import PipeCore
import PipeIO
import PipeManifest
import Synchronization

/// Training stages run as one task over every shard of their input, in order, and leave two
/// artifacts: the trained bytes (`model.bin`) and the report (`report.json`). Stages that use
/// the artifact load it once per task.
enum TrainingSteps {
  static func train(
    _ trainer: any TrainingStage, inputs: [String], artifactFile: String, reportFile: String,
    context: StageContext, progress: TaskProgress
  ) throws -> TaskResult {
    var result = TaskResult()
    var skipped = 0
    var bytesRead = 0
    let artifact = try trainer.train(
      forEachRecord: { body in
        for input in inputs {
          let reader = try ShardReader(path: input)
          let shardName = (input as NSString).lastPathComponent
          while let line = try reader.next() {
            if line.isBlank { continue }
            result.recordsIn += 1
            // Lines that are not records were rejected upstream or are counted here.
            guard !line.isTruncated,
              let record = try? Record(line: line.bytes, fallbackID: "\(shardName):\(line.number)")
            else {
              skipped += 1
              continue
            }
            try body(record)
            if result.recordsIn % 4096 == 0 {
              progress.update(records: result.recordsIn, bytes: bytesRead + reader.compressedBytesRead)
            }
          }
          bytesRead += reader.compressedBytesRead
          result.bytesIn += reader.bytesRead
        }
      }, context: context)
    result.recordsKept = result.recordsIn
    if skipped > 0 { context.counters.add("lines_not_records", skipped) }
    result.counters = context.counters.values
    result.artifacts = [
      try ArtifactWriter.writeWhole(artifact.bytes, to: artifactFile, name: "model"),
      try ArtifactWriter.writeWhole(MixtureSteps.jsonBytes(artifact.report), to: reportFile, name: "report"),
    ]
    return result
  }

  /// The record stage built from an artifact, loaded once per stage and artifact version in
  /// this process: every shard's task of a scoring stage would otherwise decode the same model
  /// (about 50M instructions for a MOLE evaluator).
  static func load(_ scorer: any ArtifactScoringStage, stage: String, artifactFile: String) throws -> any RecordStage {
    let version = "\(fileSize(artifactFile) ?? -1):\(fileModificationTime(artifactFile) ?? 0)"
    let key = stage + "\u{0}" + artifactFile + "\u{0}" + version
    if let loaded = loadedStages.withLock({ $0[key] }) { return loaded }
    guard let data = FileManager.default.contents(atPath: artifactFile) else {
      throw PipeError(
        .io, "cannot read the trained artifact; it may have been deleted: rerun the training stage", file: artifactFile)
    }
    let loaded = try scorer.loading([UInt8](data), source: artifactFile)
    loadedStages.withLock { $0[key] = loaded }
    return loaded
  }

  private static let loadedStages = Mutex<[String: any RecordStage]>([:])
}
