import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// The three steps of exact deduplication, each a resumable task:
/// 1. `STAGE:keys[i]` writes the key of every record of shard i with its line and id;
/// 2. `STAGE:index[0]` reads all key files in shard order and, for every shard, lists the
///    lines whose key was seen before, with the id of the record that was kept;
/// 3. `STAGE[i]` drops the listed lines of shard i (through the shared record loop).
///
/// The first occurrence in input order (shard order, then line order) wins, whatever the
/// number of workers. Memory in step 2 is one dictionary entry per distinct key.
enum DuplicateSteps {
  static func writeKeys(
    task: PlannedTask, stage: any DuplicateKeyStage, keyFile: String, progress: TaskProgress
  ) throws -> TaskResult {
    let reader = try ShardReader(path: task.input)
    let writer = try ShardWriter(path: keyFile)
    var result = TaskResult()
    var buffer: [UInt8] = []
    let shardName = (task.input as NSString).lastPathComponent
    do {
      while let line = try reader.next() {
        if line.isBlank { continue }
        result.recordsIn += 1
        // Lines that are not records are rejected by step 3 through the shared loop; here
        // they simply have no key.
        guard !line.isTruncated,
          let record = try? Record(line: line.bytes, fallbackID: "\(shardName):\(line.number)"),
          let key = stage.duplicateKey(of: record)
        else { continue }
        buffer.removeAll(keepingCapacity: true)
        appendUInt64(UInt64(line.number), to: &buffer)
        appendUInt64(key.high, to: &buffer)
        appendUInt64(key.low, to: &buffer)
        appendString(record.id, to: &buffer)
        try writer.write(buffer)
        if result.recordsIn % 4096 == 0 {
          progress.update(records: result.recordsIn, bytes: reader.compressedBytesRead)
        }
      }
      result.recordsKept = result.recordsIn
      result.bytesIn = reader.bytesRead
      let summary = try writer.commit()
      result.artifacts.append(
        ArtifactRow(
          name: "keys", path: summary.path, bytes: summary.fileBytes, checksum: summary.checksum, shard: task.key.shard)
      )
    } catch {
      writer.abandon()
      throw error
    }
    return result
  }

  static func buildIndex(keyFiles: [String], indexFolder folder: String) throws -> TaskResult {
    var firstSeen: [DuplicateKey: String] = [:]
    var result = TaskResult()
    for (shard, file) in keyFiles.enumerated() {
      let bytes = try readWholeFile(file)
      var drops: [UInt8] = []
      var offset = 0
      while offset < bytes.count {
        guard let line = readUInt64(bytes, &offset), let high = readUInt64(bytes, &offset),
          let low = readUInt64(bytes, &offset), let id = readString(bytes, &offset)
        else {
          throw PipeError(.corruptInput, "key file is truncated or corrupt; rerun with `pipe run --force`", file: file)
        }
        result.recordsIn += 1
        let key = DuplicateKey(high: high, low: low)
        if let keptID = firstSeen[key] {
          result.recordsDropped += 1
          appendUInt64(line, to: &drops)
          appendString(keptID, to: &drops)
        } else {
          firstSeen[key] = id
          result.recordsKept += 1
        }
      }
      let path = "\(folder)/drops-\(RunLayout.number(shard)).bin"
      let writer = try ShardWriter(path: path)
      do {
        try writer.write(drops)
        let summary = try writer.commit()
        result.artifacts.append(
          ArtifactRow(
            name: "drops-\(RunLayout.number(shard))", path: summary.path, bytes: summary.fileBytes,
            checksum: summary.checksum, shard: shard))
      } catch {
        writer.abandon()
        throw error
      }
    }
    return result
  }

  /// The drop list of one shard: line number to the id of the record that was kept.
  static func loadDrops(indexFolder: String, shard: Int) throws -> [Int: String] {
    let file = "\(indexFolder)/drops-\(RunLayout.number(shard)).bin"
    let bytes = try readWholeFile(file)
    var drops: [Int: String] = [:]
    var offset = 0
    while offset < bytes.count {
      guard let line = readUInt64(bytes, &offset), let id = readString(bytes, &offset) else {
        throw PipeError(.corruptInput, "drop list is truncated or corrupt; rerun with `pipe run --force`", file: file)
      }
      drops[Int(line)] = id
    }
    return drops
  }

  // MARK: Binary helpers

  static func appendUInt64(_ value: UInt64, to buffer: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
  }

  static func appendString(_ string: String, to buffer: inout [UInt8]) {
    let bytes = Array(string.utf8)
    withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { buffer.append(contentsOf: $0) }
    buffer.append(contentsOf: bytes)
  }

  static func readUInt64(_ bytes: [UInt8], _ offset: inout Int) -> UInt64? {
    guard offset + 8 <= bytes.count else { return nil }
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * index) }
    offset += 8
    return value
  }

  static func readString(_ bytes: [UInt8], _ offset: inout Int) -> String? {
    guard offset + 4 <= bytes.count else { return nil }
    var length = 0
    for index in 0..<4 { length |= Int(bytes[offset + index]) << (8 * index) }
    offset += 4
    guard offset + length <= bytes.count else { return nil }
    let text = String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    offset += length
    return text
  }

  static func readWholeFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw PipeError(.io, "cannot read the artifact; it may have been deleted: rerun the stage", file: path)
    }
    return [UInt8](data)
  }
}
