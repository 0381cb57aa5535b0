public import PipeCore

/// Which columns of a Parquet file make a record's `id` and `text`; the others go to its
/// `metadata`.
public struct ParquetColumns: Sendable, Hashable {
  /// The text column (default `text`).
  public var text: String
  /// The id column (default `id`); without it, ids are made from the file name and row.
  public var id: String

  /// Creates a choice of columns.
  public init(text: String = "text", id: String = "id") {
    self.text = text
    self.id = id
  }
}

/// A Parquet file read as JSON lines, one record per row, in row order, row group by row
/// group and page by page (memory: one page per column and the dictionaries, not the row
/// group). Row `n` (1-based) is line `n`, so provenance and rejects name the row.
///
/// A row becomes `{"id": ..., "text": ..., "metadata": {every other column}}`: strings,
/// integers, floats (NaN and infinities as null), booleans, nulls and lists of them; binary
/// that is not UTF-8 as base64. Ids that are numbers become strings.
final class ParquetSource: ByteSource {
  private let file: RandomAccessFile
  private let metadata: ParquetMetadata
  private let path: String
  private let textField: Int
  private let idField: Int?
  /// Column names as JSON keys, by field.
  private let keys: [[UInt8]]
  private var group = 0
  private var rowInGroup: Int64 = 0
  private var readers: [ParquetColumnReader] = []
  private var pending: [UInt8] = []
  private var pendingStart = 0
  private var line: [UInt8] = []

  static let magic: [UInt8] = Array("PAR1".utf8)

  init(path: String, columns: ParquetColumns) throws {
    self.path = path
    file = try RandomAccessFile(path: path)
    let errors = ParquetErrors(path: path)
    func fail(_ message: String) -> PipeError { errors.damaged(message) }
    guard file.size >= 12 else { throw fail("the file has \(file.size) bytes, too few for Parquet: it is truncated") }
    let head = try file.read(at: 0, count: 4)
    let tail = try file.read(at: file.size - 8, count: 8)
    guard head == Self.magic else { throw fail("the file does not start with \"PAR1\": not a Parquet file") }
    guard Array(tail[4...]) == Self.magic else {
      throw fail("the file does not end with \"PAR1\": it is truncated (the footer is missing)")
    }
    let footerLength = Int64(UInt32(loading: tail, at: 0))
    guard footerLength > 0, footerLength <= file.size - 12 else {
      throw fail("the footer length (\(footerLength) bytes) does not fit the file: it is truncated or damaged")
    }
    metadata = try ParquetMetadata(
      try file.read(at: file.size - 8 - footerLength, count: Int(footerLength)), errors: errors)
    let names = metadata.fields.map(\.name)
    guard let text = names.firstIndex(of: columns.text) else {
      throw PipeError(
        .input,
        "Parquet: no column \"\(columns.text)\" for the text (columns: \(names.joined(separator: ", "))); "
          + "name the text column with \"textColumn\" in the input",
        file: path)
    }
    textField = text
    idField = names.firstIndex(of: columns.id)
    keys = names.map { name in
      var key: [UInt8] = []
      JSONString.append(name, to: &key)
      return key
    }
  }

  var fileBytesRead: Int { file.bytesRead }

  func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    while pending.count - pendingStart < buffer.count {
      guard try appendRow() else { break }
    }
    let count = min(buffer.count, pending.count - pendingStart)
    guard count > 0 else { return 0 }
    pending.withUnsafeBytes { source in
      guard let from = source.baseAddress else { return }
      buffer.baseAddress?.copyMemory(from: from + pendingStart, byteCount: count)
    }
    pendingStart += count
    // Drop what was handed out, so the buffer holds a little more than one fill, not the file.
    if pendingStart == pending.count {
      pending.removeAll(keepingCapacity: true)
      pendingStart = 0
    } else if pendingStart >= 1 << 16 {
      pending.removeFirst(pendingStart)
      pendingStart = 0
    }
    return count
  }

  /// Appends the next row's JSON line to `pending`; false at the end of the file.
  private func appendRow() throws -> Bool {
    while readers.isEmpty || rowInGroup >= metadata.rowGroups[group].rows {
      if !readers.isEmpty { group += 1 }
      readers = []
      rowInGroup = 0
      guard group < metadata.rowGroups.count else { return false }
      let chunks = metadata.rowGroups[group].chunks
      let file = self.file
      let path = self.path
      let groupNumber = group
      readers = try metadata.fields.map { field in
        try ParquetColumnReader(
          leaf: metadata.leaves[field.leaf], chunk: chunks[field.leaf], file: file,
          errors: ParquetErrors(path: path).within("row group \(groupNumber)"))
      }
      if metadata.rowGroups[group].rows == 0 {
        readers = []
        group += 1
      }
    }
    rowInGroup += 1
    // The id first, then the text, then the other columns in schema order.
    pending += Array(#"{"#.utf8)
    if let idField {
      line.removeAll(keepingCapacity: true)
      try readers[idField].appendRow(metadata.fields[idField].shape, to: &line)
      if line != Array("null".utf8) {
        pending += Array(#""id":"#.utf8)
        if line.first == UInt8(ascii: "\"") {
          pending += line
        } else {
          pending += [UInt8(ascii: "\"")] + line + [UInt8(ascii: "\"")]
        }
        pending.append(UInt8(ascii: ","))
      }
    }
    pending += Array(#""text":"#.utf8)
    try readers[textField].appendRow(metadata.fields[textField].shape, to: &pending)
    pending += Array(#","metadata":{"#.utf8)
    var first = true
    for (index, field) in metadata.fields.enumerated() where index != textField && index != idField {
      if !first { pending.append(UInt8(ascii: ",")) }
      first = false
      pending += keys[index]
      pending.append(UInt8(ascii: ":"))
      try readers[index].appendRow(field.shape, to: &pending)
    }
    pending += Array("}}\n".utf8)
    return true
  }
}
