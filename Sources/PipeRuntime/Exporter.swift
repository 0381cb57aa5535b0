import Foundation
import PipeCore
import PipeIO
import PipeManifest

/// The final export: a stage's output reshard by size into the output folder, with a
/// `manifest.json` listing every file, its record count, sizes and SHA-256.
///
/// The export is built in a sibling temporary folder and swapped in at the end, so the
/// output folder always holds one complete export (or none), never a mix.
enum Exporter {
  static func export(
    output: OutputSpec, folder: String, shards: [String], into result: RowResult, progress: TaskProgress,
    cancellation: Cancellation, faults: FaultPlan
  ) throws {
    let staging = folder + ".partial"
    try removeItemIfPresent(staging)
    try createDirectories(staging)
    var files: [ShardSummary] = []
    var writer: ShardWriter? = nil
    var bytesRead = 0
    do {
      for shard in shards {
        let reader = try RecordReader(path: shard)
        // The lines are copied as they are: every shard a run wrote holds records only.
        try reader.forEach(unparsed: { _ in "" }) { entry, _ in
          let bytes: UnsafeBufferPointer<UInt8>
          switch entry {
          case .unparsed(_, let line), .notARecord(_, _, _, let line): bytes = line
          case .record: return
          }
          if writer == nil {
            writer = try ShardWriter(
              path: "\(staging)/part-\(RunLayout.number(files.count)).jsonl.zst",
              compressionLevel: output.compressionLevel, computeSHA256: true)
          }
          try writer?.writeLine(UnsafeRawBufferPointer(bytes))
          result.recordsIn += 1
          if let current = writer, current.uncompressedBytes >= output.targetShardBytes {
            files.append(try current.commit())
            writer = nil
          }
          if result.recordsIn & 4095 == 0 {
            progress.update(records: result.recordsIn, bytes: bytesRead + reader.fileBytesRead)
            try cancellation.check()
          }
          if faults.isKillDue(stage: Planner.exportStageID, shard: 0, records: result.recordsIn) {
            try? writer?.flush()
            faults.kill()
          }
        }
        bytesRead += reader.fileBytesRead
        result.bytesIn += reader.bytesRead
      }
      if let current = writer {
        files.append(try current.commit())
        writer = nil
      }
    } catch {
      writer?.abandon()
      throw error
    }
    result.recordsKept = result.recordsIn

    var list: [JSONValue] = []
    var records = 0
    for file in files {
      records += file.lines
      list.append(
        .object([
          "path": .string((file.path as NSString).lastPathComponent),
          "records": .int(Int64(file.lines)),
          "bytes": .int(Int64(file.fileBytes)),
          "uncompressedBytes": .int(Int64(file.uncompressedBytes)),
          "sha256": .string(file.sha256 ?? ""),
        ]))
      result.artifacts.append(
        ArtifactRow(
          name: (file.path as NSString).lastPathComponent,
          path: "\(folder)/\((file.path as NSString).lastPathComponent)", bytes: file.fileBytes,
          checksum: file.sha256.map { "sha256:\($0)" }, shard: nil))
    }
    let manifest: JSONValue = .object([
      "format": .string("pipe-export@1"),
      "stage": .string(output.from),
      "records": .int(Int64(records)),
      "bytes": .int(Int64(files.reduce(0) { $0 + $1.fileBytes })),
      "uncompressedBytes": .int(Int64(files.reduce(0) { $0 + $1.uncompressedBytes })),
      "targetShardBytes": .int(Int64(output.targetShardBytes)),
      "files": .array(list),
    ])
    var text: [UInt8] = []
    manifest.write(to: &text)
    text.append(0x0A)
    let manifestWriter = try ShardWriter(path: "\(staging)/manifest.json")
    try manifestWriter.write(text)
    _ = try manifestWriter.commit()

    // Swap the complete export in.
    try removeItemIfPresent(folder)
    guard rename(staging, folder) == 0 else {
      throw PipeError(.io, "cannot move the export into place: \(String(cString: strerror(errno)))", file: folder)
    }
    fsyncDirectory((folder as NSString).deletingLastPathComponent)
  }
}
