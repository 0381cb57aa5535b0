import Foundation
import PipeCore
import PipeManifest

/// The states stateful stages carry from shard to shard: one JSON artifact per finished task.
enum StateFiles {
  static func load(_ path: String) throws -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw PipeError(
        .io, "cannot read the state the previous shard left; rerun the stage with --force", file: path)
    }
    do {
      return try JSONValue.parse([UInt8](data))
    } catch {
      throw PipeError(
        .corruptInput, "the saved stage state is not valid JSON (\(error)); rerun with --force", file: path)
    }
  }

  static func artifact(_ state: JSONValue, to path: String) throws -> ArtifactRow {
    try ArtifactWriter.writeWhole(MixtureSteps.jsonBytes(state), to: path, name: "state")
  }
}
