import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// The steps of mixture planning, each a resumable task:
/// 1. `STAGE:totals[i]` measures every record of shard i and writes its per-group totals;
/// 2. `STAGE[0]` sums the totals of all shards, asks the stage for the plan, and writes it as
///    `plan.json` and as manifest rows.
/// The records pass through untouched; a sampling stage reading the planning stage applies the
/// plan through the shared record loop.
enum MixtureSteps {
  static func writeTotals(
    task: PlannedTask, stage: any GroupPlanningStage, totalsFile: String, progress: TaskProgress
  ) throws -> TaskResult {
    let reader = try ShardReader(path: task.input)
    var result = TaskResult()
    var totals: [String: GroupTotal] = [:]
    let shardName = (task.input as NSString).lastPathComponent
    while let line = try reader.next() {
      if line.isBlank { continue }
      result.recordsIn += 1
      // Lines that are not records have no group; a later record stage rejects them.
      guard !line.isTruncated, let record = try? Record(line: line.bytes, fallbackID: "\(shardName):\(line.number)")
      else { continue }
      let (group, tokens) = stage.measure(record)
      totals[group, default: GroupTotal(name: group, records: 0, tokens: 0)].records += 1
      totals[group, default: GroupTotal(name: group, records: 0, tokens: 0)].tokens += tokens
      if result.recordsIn % 4096 == 0 {
        progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
      }
    }
    result.recordsKept = result.recordsIn
    result.bytesIn = reader.bytesRead
    let groups: [JSONValue] = totals.values.sorted { $0.name < $1.name }.map { total in
      .object([
        "group": .string(total.name), "records": .int(Int64(total.records)), "tokens": .int(Int64(total.tokens)),
      ])
    }
    result.artifacts = [
      try ArtifactWriter.writeWhole(
        jsonBytes(.object(["groups": .array(groups)])), to: totalsFile, name: "totals", shard: task.key.shard)
    ]
    return result
  }

  static func writePlan(
    stage: any GroupPlanningStage, totalsFiles: [String], planFile: String
  ) throws -> TaskResult {
    var totals: [String: GroupTotal] = [:]
    var result = TaskResult()
    for file in totalsFiles {
      for total in try readTotals(file) {
        totals[total.name, default: GroupTotal(name: total.name, records: 0, tokens: 0)].records += total.records
        totals[total.name, default: GroupTotal(name: total.name, records: 0, tokens: 0)].tokens += total.tokens
        result.recordsIn += total.records
      }
    }
    let plan = try stage.plan(totals.values.sorted { $0.name < $1.name })
    result.artifacts = [try ArtifactWriter.writeWhole(jsonBytes(plan.json), to: planFile, name: "plan")]
    result.recordsKept = result.recordsIn
    result.mixtureGroups = plan.groups
    return result
  }

  static func loadPlan(_ file: String) throws -> GroupPlan {
    guard let data = FileManager.default.contents(atPath: file) else {
      throw PipeError(
        .io, "cannot read the mixture plan; it may have been deleted: rerun the planning stage", file: file)
    }
    do {
      return try GroupPlan(json: try JSONValue.parse([UInt8](data)), source: file)
    } catch let error as JSONParseError {
      throw PipeError(.corruptInput, "mixture plan is not valid JSON (\(error)); rerun the planning stage", file: file)
    }
  }

  private static func readTotals(_ file: String) throws -> [GroupTotal] {
    guard let data = FileManager.default.contents(atPath: file) else {
      throw PipeError(.io, "cannot read the group totals; they may have been deleted: rerun the stage", file: file)
    }
    let corrupt = PipeError(.corruptInput, "group totals are corrupt; rerun the stage with --force", file: file)
    guard let object = (try? JSONValue.parse([UInt8](data)))?.objectValue, let lines = object["groups"]?.arrayValue
    else { throw corrupt }
    return try lines.map { line in
      guard let line = line.objectValue, let name = line["group"]?.stringValue,
        let records = line["records"]?.intValue, let tokens = line["tokens"]?.intValue
      else { throw corrupt }
      return GroupTotal(name: name, records: records, tokens: tokens)
    }
  }

  /// A JSON document as one line of bytes.
  static func jsonBytes(_ value: JSONValue) -> [UInt8] {
    var bytes: [UInt8] = []
    value.write(to: &bytes, sortedKeys: false)
    bytes.append(0x0A)
    return bytes
  }
}
