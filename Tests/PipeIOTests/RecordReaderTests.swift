import Foundation
import PipeCore
import Testing

@testable import PipeIO

/// The one way shards are read: records, ids made from lines, lines that are not records, the
/// shortcut for lines known to be kept unchanged, and progress.
struct RecordReaderTests {
  static func shard(_ lines: [String]) throws -> String {
    let path = NSTemporaryDirectory() + "pipe-reader-\(UUID().uuidString).jsonl"
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func entriesKeepTheirLineNumbersAndReasons() throws {
    let path = try Self.shard([
      #"{"id":"a","text":"one"}"#, "", "   ", #"{"text":"no id"}"#, "{broken", #"{"id":"c"}"#,
      #"{"id":"d","text":"x"}"#,
    ])
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try RecordReader(path: path)
    var seen: [String] = []
    try reader.forEach { entry, line in
      switch entry {
      case .record(let record): seen.append("\(line) record \(record.id)")
      case .unparsed(let id, _): seen.append("\(line) unparsed \(id)")
      case .notARecord(let reason, _, let id, _): seen.append("\(line) \(reason) \(id)")
      }
    }
    let name = (path as NSString).lastPathComponent
    #expect(
      seen == [
        "1 record a", "4 record \(name):4", "5 malformed_json \(name):5", "6 missing_text c", "7 record d",
      ])
    #expect(reader.linesRead == 5, "blank lines are not counted")
  }

  @Test func linesKnownUnchangedAreHandedOverUnparsed() throws {
    let path = try Self.shard([#"{"id":"a","text":"one"}"#, #"{"id":"b","text":"two"}"#, "{broken"])
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try RecordReader(path: path)
    var asked: [Int] = []
    var seen: [String] = []
    var ticks: [Int] = []
    try reader.forEach(
      unparsed: { line in
        asked.append(line)
        return line == 2 || line == 3 ? "known-\(line)" : nil
      }, progress: { lines, _ in ticks.append(lines) }
    ) { entry, line in
      switch entry {
      case .record(let record): seen.append("record \(record.id)")
      case .unparsed(let id, let bytes): seen.append("unparsed \(id) \(bytes.count)")
      case .notARecord(let reason, _, _, _): seen.append(reason)
      }
    }
    #expect(asked == [1, 2, 3])
    #expect(seen == ["record a", "unparsed known-2 23", "unparsed known-3 7"])
    #expect(ticks == [3], "progress is reported at the end (and every 4096 lines)")
  }
}
