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
    var chatFiles: [ShardSummary] = []
    var chatWriter: ShardWriter? = nil
    var chatSkipped = 0
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
          if let chat = output.chat {
            guard let line = ChatLine.make(from: bytes, chat) else {
              chatSkipped += 1
              return
            }
            if chatWriter == nil {
              chatWriter = try ShardWriter(
                path: "\(staging)/chat-\(RunLayout.number(chatFiles.count)).jsonl", computeSHA256: true)
            }
            try chatWriter?.writeLine(line)
            if let current = chatWriter, current.uncompressedBytes >= output.targetShardBytes {
              chatFiles.append(try current.commit())
              chatWriter = nil
            }
          }
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
      if let current = chatWriter {
        chatFiles.append(try current.commit())
        chatWriter = nil
      }
    } catch {
      writer?.abandon()
      chatWriter?.abandon()
      throw error
    }
    result.recordsKept = result.recordsIn

    func listed(_ files: [ShardSummary]) -> [JSONValue] {
      files.map { file in
        result.artifacts.append(
          ArtifactRow(
            name: (file.path as NSString).lastPathComponent,
            path: "\(folder)/\((file.path as NSString).lastPathComponent)", bytes: file.fileBytes,
            checksum: file.sha256.map { "sha256:\($0)" }, shard: nil))
        return .object([
          "path": .string((file.path as NSString).lastPathComponent),
          "records": .int(Int64(file.lines)),
          "bytes": .int(Int64(file.fileBytes)),
          "uncompressedBytes": .int(Int64(file.uncompressedBytes)),
          "sha256": .string(file.sha256 ?? ""),
        ])
      }
    }
    let list = listed(files)
    let records = files.reduce(0) { $0 + $1.lines }
    var manifest: JSONObject = [
      "format": .string("pipe-export@1"),
      "stage": .string(output.from),
      "records": .int(Int64(records)),
      "bytes": .int(Int64(files.reduce(0) { $0 + $1.fileBytes })),
      "uncompressedBytes": .int(Int64(files.reduce(0) { $0 + $1.uncompressedBytes })),
      "targetShardBytes": .int(Int64(output.targetShardBytes)),
      "files": .array(list),
    ]
    if let chat = output.chat {
      manifest["chat"] = .object([
        "format": .string("messages"), "user": .string(chat.user), "assistant": .string(chat.assistant),
        "conversations": .int(Int64(chatFiles.reduce(0) { $0 + $1.lines })),
        "skipped": .int(Int64(chatSkipped)),
        "files": .array(listed(chatFiles)),
      ])
    }
    var text: [UInt8] = []
    JSONValue.object(manifest).write(to: &text)
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

/// One record as a chat conversation (`ChatExport`).
enum ChatLine {
  /// The conversation line of the record in `bytes`, or `nil` when the record lacks a turn's
  /// text or it is blank (a conversation with an empty turn would train on nothing).
  static func make(from bytes: UnsafeBufferPointer<UInt8>, _ chat: ChatExport) -> [UInt8]? {
    guard let record = (try? JSONValue.parse(Array(bytes)))?.objectValue else { return nil }
    var metadata = record["metadata"]?.objectValue ?? JSONObject()
    func turn(_ field: String) -> String? {
      let value: JSONValue?
      if field == "text" {
        value = record["text"]
      } else {
        value = metadata[String(field.dropFirst("metadata.".count))]
      }
      guard let text = value?.stringValue, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
        return nil
      }
      return text
    }
    guard let user = turn(chat.user), let assistant = turn(chat.assistant) else { return nil }
    // The turns are in the messages; the rest of the metadata is the provenance.
    var kept = JSONObject()
    for (key, value) in metadata.members where "metadata." + key != chat.user && "metadata." + key != chat.assistant {
      kept[key] = value
    }
    metadata = kept
    var messages: [JSONValue] = []
    if let system = chat.system { messages.append(.object(["role": .string("system"), "content": .string(system)])) }
    messages.append(.object(["role": .string("user"), "content": .string(user)]))
    messages.append(.object(["role": .string("assistant"), "content": .string(assistant)]))
    var line: [UInt8] = []
    JSONValue.object([
      "id": record["id"] ?? .null, "messages": .array(messages), "metadata": .object(metadata),
    ]).write(to: &line)
    return line
  }
}
