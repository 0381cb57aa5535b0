import Foundation
import PipeCore

/// An exported dedup index: what a dedup stage with `exportIndex: true` writes to
/// `artifacts/STAGE.export/` (its key or signature files, one per shard, and `index.json`), so
/// that a later run can deduplicate new data against this run's records without reading them
/// again (`reference`).
///
/// `index.json`: `{"format": "pipe.dedup-index", "version": 1, "op": "dedup.minhash@2",
/// "config": {...}, "shards": N, "files": ["index-signatures.bin", ...]}`, where `config` holds
/// the keys that decide what counts as a duplicate (a reference made with other values would
/// not mean the same thing, so it is refused) and `files` the copies present per shard
/// (`index-signatures-00003.bin`, named by `exportedName`).
struct DedupIndex: Sendable {
  static let format = "pipe.dedup-index"
  static let version = 1
  /// The name of the step that exports the index, and so of its folder's suffix.
  static let stepName = "export"
  static let manifestName = "index.json"

  /// The folder holding the files.
  let folder: String
  /// `NAME@VERSION` of the op that made it.
  let op: String
  /// The config keys that decide what counts as a duplicate.
  let config: JSONObject
  /// The number of shards.
  let shards: Int
  /// The copies present for every shard (`index-signatures.bin`).
  let files: [String]

  /// The path of `artifact` (`keys.bin`) for `shard`, named as runs name indexed artifacts.
  func path(_ artifact: String, shard: Int) -> String {
    folder + "/" + ArtifactSpec.fileName(artifact, index: shard)
  }

  /// The JSON of `index.json`.
  static func manifest(op: String, config: JSONObject, shards: Int, files: [String]) -> JSONValue {
    .object([
      "format": .string(format), "version": .int(Int64(version)), "op": .string(op), "config": .object(config),
      "shards": .int(Int64(shards)), "files": .array(files.map { .string($0) }),
    ])
  }

  /// Reads the index that `path` names: an index folder (with `index.json`) or the
  /// `index.json` itself.
  ///
  /// - Throws: `PipeError(.config)` saying what was looked for, when there is no index there or
  ///   it is not one.
  static func load(_ path: String) throws -> DedupIndex {
    let manager = FileManager.default
    let file = path.hasSuffix("/" + manifestName) || path == manifestName ? path : path + "/" + manifestName
    guard manager.fileExists(atPath: file) else {
      throw PipeError(
        .config,
        "reference \(path): no dedup index there (no \(file)); run the earlier stage with \"exportIndex\": true "
          + "and name its folder RUN/artifacts/STAGE.export")
    }
    guard let data = manager.contents(atPath: file), let json = try? JSONValue.parse(Array(data)),
      let object = json.objectValue, object["format"]?.stringValue == format,
      let op = object["op"]?.stringValue, let config = object["config"]?.objectValue,
      let shards = object["shards"]?.intValue, shards >= 0,
      let files = object["files"]?.arrayValue?.compactMap(\.stringValue)
    else {
      throw PipeError(.config, "reference \(file) is not a dedup index written by pipe (\(format))")
    }
    guard object["version"]?.intValue == version else {
      throw PipeError(
        .config,
        "reference \(file) is a dedup index of version \(object["version"]?.canonicalText ?? "?"); "
          + "this pipe reads version \(version)")
    }
    return DedupIndex(
      folder: (file as NSString).deletingLastPathComponent, op: op, config: config, shards: Int(shards), files: files)
  }

  /// Checks that this index was made by `op` with the same `config` and has `files`.
  ///
  /// - Throws: `PipeError(.config)` naming the first key that differs.
  func check(op expectedOp: String, config expected: JSONObject, files needed: [String]) throws {
    guard op == expectedOp else {
      throw PipeError(
        .config, "reference \(folder) was made by \(op); this stage is \(expectedOp): use an index of the same op")
    }
    for (key, value) in expected.members where config[key] != value {
      throw PipeError(
        .config,
        "reference \(folder) was made with \(key) \(config[key]?.canonicalText ?? "unset"); this stage has "
          + "\(value.canonicalText): duplicates would not mean the same; use the same \(key)")
    }
    for file in needed.map(Self.exportedName) where !files.contains(file) {
      throw PipeError(.config, "reference \(folder) has no \(file) (made with other settings); export it again")
    }
  }

  /// The name under which an exported copy of `artifact` is written (`index-keys.bin`): the
  /// stage's own artifact keeps its name.
  static func exportedName(_ artifact: String) -> String { "index-" + artifact }

  /// What the export step writes: a copy of each indexed artifact, and `index.json`.
  static func exportSpecs(_ artifacts: [String]) -> [ArtifactSpec] {
    artifacts.map { .kept(exportedName($0), indexed: true) } + [.kept(manifestName)]
  }

  /// The export step: copies the stage's `artifacts` of every shard and writes `index.json`.
  static func export(_ artifacts: [String], op: String, config: JSONObject, context: any StepContext) throws {
    var bytes = 0
    for artifact in artifacts {
      for shard in 0..<context.shardCount {
        let source = try context.open(artifact, index: shard)
        try context.create(exportedName(artifact), index: shard).append(source)
        bytes += source.size
      }
    }
    try context.writeJSON(
      manifest(op: op, config: config, shards: context.shardCount, files: artifacts.map(exportedName)),
      to: manifestName)
    context.counters.add("exported_bytes", bytes)
    context.setCounts(recordsIn: 0, kept: 0, dropped: 0)
  }

  /// Opens the exported copy of `artifact` for `shard`.
  func open(_ artifact: String, shard: Int, context: any StepContext) throws -> any ArtifactInput {
    do {
      return try context.openExternal(path: path(Self.exportedName(artifact), shard: shard))
    } catch let error as PipeError {
      throw PipeError(
        .input, "reference \(folder): cannot read shard \(shard) of \(artifact) (\(error.message)); export it again",
        file: path(Self.exportedName(artifact), shard: shard))
    }
  }

  /// Loads and checks every reference of a stage.
  static func loadAll(_ paths: [String], op: String, config: JSONObject, files: [String]) throws -> [DedupIndex] {
    try paths.map { path in
      let index = try load(path)
      try index.check(op: op, config: config, files: files)
      return index
    }
  }
}
