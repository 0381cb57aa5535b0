import Glibc

/// What a file's first bytes say it is.
enum FileFormat: Equatable {
  case parquet
  case zstd
  /// Anything else that may be text (JSON lines); empty files too.
  case text
  /// A known binary format pipe does not read, or binary data: a description.
  case other(String)

  /// Looks at the first bytes of `file` without moving its read position.
  static func sniff(_ file: FileInput) -> FileFormat {
    var head = [UInt8](repeating: 0, count: 8)
    let count = head.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, 8, 0) }
    guard count > 0 else { return .text }
    return classify(Array(head[0..<count]))
  }

  static func classify(_ head: [UInt8]) -> FileFormat {
    func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head[0..<magic.count]) == magic }
    if starts(Array("PAR1".utf8)) { return .parquet }
    if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
    if starts([0x1F, 0x8B]) { return .other("gzip-compressed data (decompress it, or recompress with zstd)") }
    if starts(Array("BZh".utf8)) { return .other("bzip2-compressed data (recompress it with zstd)") }
    if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .other("xz-compressed data (recompress it with zstd)") }
    if starts([0x50, 0x4B, 0x03, 0x04]) { return .other("a zip archive (extract it)") }
    if starts(Array("ORC".utf8)) { return .other("an ORC file (convert it to Parquet or JSON lines)") }
    if starts(Array("ARROW1".utf8)) { return .other("an Arrow IPC file (write it as Parquet)") }
    if starts([0x4F, 0x62, 0x6A, 0x01]) { return .other("an Avro file (convert it to Parquet or JSON lines)") }
    if head.contains(0) { return .other("binary data (NUL bytes at its start)") }
    return .text
  }
}
