public import PipeCore

/// What one line of a shard turned out to be.
public enum ShardEntry {
  /// A record.
  case record(Record)
  /// A line the caller said is a valid, unchanged record with this id: its bytes, unparsed.
  case unparsed(id: String, bytes: UnsafeBufferPointer<UInt8>)
  /// A line that is not a record: why (the reject reason and its detail), the id to file it
  /// under (its own when it has a usable one, else `SHARD:LINE`) and its bytes.
  case notARecord(reason: String, detail: String, id: String, bytes: UnsafeBufferPointer<UInt8>)
}

/// The one way `pipe` reads the records of a shard: blank lines are skipped, every other line
/// becomes a record (a record without an id gets `SHARD_FILE_NAME:LINE`) or an entry saying why
/// it is not one, and progress is reported every 4096 records.
public final class RecordReader {
  /// The shard.
  public let path: String
  private let reader: ShardReader
  private let shardName: String
  /// Non-blank lines read so far.
  public private(set) var linesRead = 0

  /// Opens the shard at `path` (JSONL, zstd JSONL or Parquet; see `ShardReader`).
  ///
  /// - Parameter columns: for a Parquet file, its text and id columns.
  /// - Throws: `PipeError` when it cannot be opened or is none of these formats.
  public init(path: String, columns: ParquetColumns = ParquetColumns()) throws {
    self.path = path
    reader = try ShardReader(path: path, columns: columns)
    shardName = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path))
  }

  /// Uncompressed bytes read so far.
  public var bytesRead: Int { reader.bytesRead }
  /// File bytes read so far (compressed for `.zst`).
  public var fileBytesRead: Int { reader.compressedBytesRead }

  /// The id a record without one gets: the shard's file name and the line.
  public func fallbackID(line: Int) -> String { "\(shardName):\(line)" }

  /// Calls `body` with each non-blank line's entry and line number (1-based), in order.
  ///
  /// - Parameters:
  ///   - unparsed: asked first for each line number (increasing); an id means the caller knows
  ///     the line to be a valid record with that id, kept unchanged, so it is handed over
  ///     without parsing.
  ///   - progress: called every 4096 lines and at the end with (lines, file bytes read).
  public func forEach(
    unparsed: ((Int) throws -> String?)? = nil, progress: ((Int, Int) -> Void)? = nil,
    _ body: (ShardEntry, Int) throws -> Void
  ) throws {
    var lastProgress = 0
    while let line = try reader.next() {
      if line.isBlank { continue }
      linesRead += 1
      if let progress, linesRead - lastProgress >= 4096 {
        lastProgress = linesRead
        progress(linesRead, reader.compressedBytesRead)
      }
      let number = line.number
      if line.isTruncated {
        try body(
          .notARecord(
            reason: "line_too_long",
            detail: "line is \(line.fullLength) bytes, over the \(reader.maxLineBytes)-byte limit",
            id: fallbackID(line: number), bytes: line.bytes), number)
        continue
      }
      if let unparsed, let id = try unparsed(number) {
        try body(.unparsed(id: id, bytes: line.bytes), number)
        continue
      }
      let record: Record
      do {
        record = try Record(line: line.bytes, fallbackID: self.fallbackID(line: number))
      } catch {
        let id = error.recordID.flatMap { $0.isEmpty ? nil : $0 } ?? fallbackID(line: number)
        try body(.notARecord(reason: error.reason, detail: error.message, id: id, bytes: line.bytes), number)
        continue
      }
      try body(.record(record), number)
    }
    progress?(linesRead, reader.compressedBytesRead)
  }

  /// Calls `body` with each record, skipping lines that are not records; returns how many
  /// lines were skipped.
  @discardableResult
  public func forEachRecord(progress: ((Int, Int) -> Void)? = nil, _ body: (Record, Int) throws -> Void) throws
    -> Int
  {
    var skipped = 0
    try forEach(progress: progress) { entry, line in
      switch entry {
      case .record(let record): try body(record, line)
      case .unparsed, .notARecord: skipped += 1
      }
    }
    return skipped
  }
}

extension ShardLine {
  /// Blank lines (empty or only spaces and tabs) separate nothing in JSONL: they are not
  /// records, so they are neither counted nor rejected.
  public var isBlank: Bool {
    !isTruncated && bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
  }
}
