import CZstd
import Glibc
import PipeCore

/// A file read at offsets (pread), for Parquet's footer and pages.
final class RandomAccessFile {
  let path: String
  let size: Int64
  private let fd: Int32
  /// Bytes read so far (progress).
  private(set) var bytesRead = 0

  init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw Sys.error(.input, "cannot open input file", path: path) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else {
      close(fd)
      throw PipeError(.input, "cannot read input file: it is a directory", file: path)
    }
    self.fd = fd
    size = Int64(info.st_size)
  }

  deinit { close(fd) }

  /// `count` bytes at `offset`, or fewer at the end of the file.
  func read(at offset: Int64, count: Int) throws -> [UInt8] {
    guard count > 0 else { return [] }
    var result = [UInt8](repeating: 0, count: count)
    var done = 0
    try result.withUnsafeMutableBytes { buffer in
      guard let base = buffer.baseAddress else { return }
      while done < count {
        let n = try Sys.retrying(.io, "cannot read input file", path: path) {
          pread(fd, base + done, count - done, off_t(offset) + off_t(done))
        }
        if n == 0 { break }
        done += n
      }
    }
    bytesRead += done
    if done < count { result.removeLast(count - done) }
    return result
  }
}

/// Reads one column chunk page by page and hands out its values row by row, as JSON.
/// Holds one decompressed page (and the chunk's dictionary) at a time.
final class ParquetColumnReader {
  let leaf: ParquetLeaf
  private let file: RandomAccessFile
  private let chunk: ParquetChunk
  private let errors: ParquetErrors
  private var next: Int64
  private let end: Int64

  /// Dictionary values, each as its JSON text.
  private var dictionary: [[UInt8]] = []
  /// The current page: levels and values.
  private var definitions: [Int32] = []
  private var repetitions: [Int32] = []
  private var entries = 0
  private var entry = 0
  private var page: [UInt8] = []
  private var valueOffset = 0
  private var valueEnd = 0
  private var bitOffset = 0
  /// Dictionary-encoded pages: the indices.
  private var indices: [Int32] = []
  private var indexPosition = 0
  private var usesDictionary = false
  private var booleanRLE: [Int32]? = nil

  init(leaf: ParquetLeaf, chunk: ParquetChunk, file: RandomAccessFile, errors: ParquetErrors) throws {
    self.leaf = leaf
    self.chunk = chunk
    self.file = file
    self.errors = errors.within("column \(leaf.path)")
    next = chunk.start
    end = chunk.start + chunk.length
    guard chunk.start >= 4, chunk.length >= 0, end <= file.size else {
      throw self.errors.damaged("its chunk (bytes \(chunk.start)..<\(end)) lies outside the file of \(file.size) bytes")
    }
    switch chunk.codec {
    case 0, 1, 6: break
    default:
      let names: [Int64: String] = [2: "GZIP", 3: "LZO", 4: "BROTLI", 5: "LZ4", 7: "LZ4_RAW"]
      throw self.errors.unsupported(
        "compression \(names[chunk.codec] ?? "codec \(chunk.codec)") is not supported (pipe reads uncompressed, "
          + "Snappy and zstd Parquet; rewrite with compression='zstd')")
    }
  }

  // MARK: Rows

  /// Appends the next row's value (a JSON scalar, `null` or a JSON array) to `out`.
  func appendRow(_ shape: ParquetField.Shape, to out: inout [UInt8]) throws {
    try ensureEntry()
    switch shape {
    case .scalar:
      if definition() == leaf.maxDefinition { try appendValue(to: &out) } else { out += Self.null }
      entry += 1
    case .list(let listDefinition):
      let first = definition()
      if first < listDefinition {
        out += Self.null
        entry += 1
        return
      }
      if first == listDefinition {
        out += Array("[]".utf8)
        entry += 1
        return
      }
      out.append(UInt8(ascii: "["))
      var isFirst = true
      while true {
        if !isFirst { out.append(UInt8(ascii: ",")) }
        isFirst = false
        if definition() == leaf.maxDefinition { try appendValue(to: &out) } else { out += Self.null }
        entry += 1
        guard try hasEntry(), repetition() == 1 else { break }
      }
      out.append(UInt8(ascii: "]"))
    }
  }

  private static let null = Array("null".utf8)

  @inline(__always) private func definition() -> Int {
    leaf.maxDefinition == 0 ? 0 : Int(definitions[entry])
  }

  @inline(__always) private func repetition() -> Int {
    leaf.maxRepetition == 0 ? 0 : Int(repetitions[entry])
  }

  private func ensureEntry() throws {
    guard try hasEntry() else {
      throw errors.damaged("has fewer values than the row group has rows: the file is damaged")
    }
  }

  /// Whether an entry is available, loading the next page when the current one is used up.
  private func hasEntry() throws -> Bool {
    while entry >= entries {
      guard next < end else { return false }
      try loadPage()
    }
    return true
  }

  // MARK: Values

  private func appendValue(to out: inout [UInt8]) throws {
    if usesDictionary {
      guard indexPosition < indices.count else {
        throw errors.damaged("a page has fewer dictionary indices than values")
      }
      let index = Int(indices[indexPosition])
      indexPosition += 1
      guard index >= 0, index < dictionary.count else {
        throw errors.damaged("dictionary index \(index) out of \(dictionary.count) entries: the file is damaged")
      }
      out += dictionary[index]
      return
    }
    try appendPlain(to: &out)
  }

  /// One PLAIN value from the page, as JSON.
  private func appendPlain(to out: inout [UInt8]) throws {
    func take(_ count: Int) throws -> Int {
      guard count >= 0, valueOffset + count <= valueEnd else { throw errors.damaged("a page ends inside a value") }
      defer { valueOffset += count }
      return valueOffset
    }
    switch leaf.type {
    case .boolean:
      if let values = booleanRLE {
        guard indexPosition < values.count else { throw errors.damaged("a page has fewer booleans than values") }
        out += Array((values[indexPosition] != 0 ? "true" : "false").utf8)
        indexPosition += 1
        return
      }
      let byte = valueOffset + bitOffset / 8
      guard byte < valueEnd else { throw errors.damaged("a page ends inside a value") }
      let bit = (page[byte] >> (bitOffset % 8)) & 1
      bitOffset += 1
      out += Array((bit == 1 ? "true" : "false").utf8)
    case .int32:
      let at = try take(4)
      let value = Int32(bitPattern: UInt32(loading: page, at: at))
      out += Array(String(value).utf8)
    case .int64:
      let at = try take(8)
      out += Array(String(Int64(bitPattern: UInt64(loading: page, at: at))).utf8)
    case .float:
      let at = try take(4)
      Self.appendDouble(Double(Float(bitPattern: UInt32(loading: page, at: at))), to: &out)
    case .double:
      let at = try take(8)
      Self.appendDouble(Double(bitPattern: UInt64(loading: page, at: at)), to: &out)
    case .byteArray:
      let at = try take(4)
      let length = Int(UInt32(loading: page, at: at))
      let start = try take(length)
      appendBytes(start..<(start + length), to: &out)
    case .fixedLengthByteArray:
      let start = try take(leaf.typeLength)
      appendBytes(start..<(start + leaf.typeLength), to: &out)
    case .int96:
      throw errors.unsupported(
        "INT96 values (old Spark timestamps) are not supported; rewrite with timestamps as INT64")
    }
  }

  private func appendBytes(_ range: Range<Int>, to out: inout [UInt8]) {
    page.withUnsafeBufferPointer { buffer in
      let bytes = UnsafeBufferPointer(rebasing: buffer[range])
      Self.appendBytes(bytes, isText: leaf.isText, to: &out)
    }
  }

  /// A string for text and for binary that is valid UTF-8; other binary as base64.
  static func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>, isText: Bool, to out: inout [UInt8]) {
    if isText || String(validating: bytes, as: UTF8.self) != nil {
      // Text that is not valid UTF-8 stays as it is: the record is then rejected as
      // invalid_utf8 (kept and counted), as a JSONL line would be.
      JSONString.appendEscaped(bytes, to: &out)
    } else {
      out.append(UInt8(ascii: "\""))
      out += Array(Base64.encode(bytes).utf8)
      out.append(UInt8(ascii: "\""))
    }
  }

  static func appendDouble(_ value: Double, to out: inout [UInt8]) {
    // JSON has no NaN or infinity.
    guard value.isFinite else {
      out += null
      return
    }
    out += Array(JSONValue.formatDouble(value).utf8)
  }

  // MARK: Pages

  private func loadPage() throws {
    // The header: read a little, more if the header is longer (statistics can be).
    var want = 256
    var header: [Int16: ThriftValue] = [:]
    var headerBytes = 0
    while true {
      let available = Int(min(Int64(want), end - next))
      let bytes = try file.read(at: next, count: available)
      var reader = ThriftCompactReader(bytes)
      do {
        header = try reader.readStruct().fields ?? [:]
        headerBytes = reader.offset
        break
      } catch {
        guard error.needsMoreBytes, Int64(available) < end - next else {
          throw errors.damaged("the page header at byte \(next) is not valid (\(error.message)): the file is damaged")
        }
        want *= 4
      }
    }
    guard let type = header[1]?.int, let uncompressedSize = header[2]?.int, let compressedSize = header[3]?.int,
      uncompressedSize >= 0, compressedSize >= 0
    else { throw errors.damaged("the page header at byte \(next) lacks its type or sizes: the file is damaged") }
    let dataStart = next + Int64(headerBytes)
    guard dataStart + compressedSize <= end else {
      throw errors.damaged("the page at byte \(next) runs past its column chunk: the file is damaged")
    }
    next = dataStart + compressedSize
    let raw = try file.read(at: dataStart, count: Int(compressedSize))
    guard raw.count == Int(compressedSize) else { throw errors.damaged("the file ends inside a page: it is truncated") }

    switch type {
    case 2:  // dictionary page
      guard let dictionaryHeader = header[7]?.fields, let count = dictionaryHeader[1]?.int else {
        throw errors.damaged("a dictionary page without its header")
      }
      page = try decompress(raw, size: Int(uncompressedSize))
      valueOffset = 0
      valueEnd = page.count
      bitOffset = 0
      booleanRLE = nil
      guard count >= 0, count <= page.count * 8 + 8 else {
        throw errors.damaged("a dictionary page claims \(count) values in \(page.count) bytes")
      }
      var values: [[UInt8]] = []
      values.reserveCapacity(Int(count))
      for _ in 0..<count {
        var json: [UInt8] = []
        try appendPlain(to: &json)
        values.append(json)
      }
      dictionary = values
      entries = 0
      entry = 0
    case 0:  // data page v1
      guard let dataHeader = header[5]?.fields, let count = dataHeader[1]?.int, let encoding = dataHeader[2]?.int
      else { throw errors.damaged("a data page without its header") }
      page = try decompress(raw, size: Int(uncompressedSize))
      var offset = 0
      repetitions = []
      definitions = []
      if leaf.maxRepetition > 0 {
        try checkLevelEncoding(dataHeader[4]?.int)
        repetitions = try levels(lengthPrefixed: &offset, maximum: leaf.maxRepetition, count: Int(count))
      }
      if leaf.maxDefinition > 0 {
        try checkLevelEncoding(dataHeader[3]?.int)
        definitions = try levels(lengthPrefixed: &offset, maximum: leaf.maxDefinition, count: Int(count))
      }
      try startValues(at: offset, encoding: encoding, count: Int(count))
    case 3:  // data page v2: levels uncompressed, then the (maybe compressed) values
      guard let dataHeader = header[8]?.fields, let count = dataHeader[1]?.int, let encoding = dataHeader[4]?.int,
        let definitionBytes = dataHeader[5]?.int, let repetitionBytes = dataHeader[6]?.int,
        definitionBytes >= 0, repetitionBytes >= 0, definitionBytes + repetitionBytes <= compressedSize
      else { throw errors.damaged("a v2 data page without its header") }
      let levelBytes = Int(definitionBytes + repetitionBytes)
      let isCompressed = dataHeader[7]?.bool ?? true
      let values = Array(raw[levelBytes...])
      page =
        Array(raw[..<levelBytes])
        + (isCompressed ? try decompress(values, size: Int(uncompressedSize) - levelBytes) : values)
      repetitions = []
      definitions = []
      if leaf.maxRepetition > 0 {
        repetitions = try hybrid(0..<Int(repetitionBytes), bitWidth: bitWidth(leaf.maxRepetition), count: Int(count))
      }
      if leaf.maxDefinition > 0 {
        let range = Int(repetitionBytes)..<levelBytes
        definitions = try hybrid(range, bitWidth: bitWidth(leaf.maxDefinition), count: Int(count))
      }
      try startValues(at: levelBytes, encoding: encoding, count: Int(count))
    default:
      // Index pages and unknown kinds carry no values.
      return
    }
  }

  private func checkLevelEncoding(_ encoding: Int64?) throws {
    guard encoding == nil || encoding == 3 else {
      throw errors.unsupported("levels encoded with \(Self.encodingName(encoding ?? -1)) are not supported (RLE only)")
    }
  }

  private func startValues(at offset: Int, encoding: Int64, count: Int) throws {
    entries = count
    entry = 0
    valueOffset = offset
    valueEnd = page.count
    bitOffset = 0
    indexPosition = 0
    booleanRLE = nil
    let present = leaf.maxDefinition == 0 ? count : definitions.reduce(0) { $0 + ($1 == leaf.maxDefinition ? 1 : 0) }
    switch encoding {
    case 0:
      usesDictionary = false
    case 2, 8:
      guard !dictionary.isEmpty || present == 0 else {
        throw errors.damaged("a dictionary-encoded page without a dictionary page")
      }
      guard offset < page.count || present == 0 else { throw errors.damaged("a page ends before its values") }
      usesDictionary = true
      if present > 0 {
        let width = Int(page[offset])
        guard width <= 32 else { throw errors.damaged("dictionary indices of \(width) bits: the file is damaged") }
        indices = try hybrid((offset + 1)..<page.count, bitWidth: width, count: present)
      } else {
        indices = []
      }
    case 3 where leaf.type == .boolean:
      usesDictionary = false
      var at = offset
      let length = try lengthPrefix(&at)
      booleanRLE = try hybrid(at..<(at + length), bitWidth: 1, count: present)
    default:
      throw errors.unsupported(
        "values encoded with \(Self.encodingName(encoding)) are not supported (PLAIN, dictionary and RLE)")
    }
  }

  static func encodingName(_ encoding: Int64) -> String {
    let names: [Int64: String] = [
      0: "PLAIN", 2: "PLAIN_DICTIONARY", 3: "RLE", 4: "BIT_PACKED", 5: "DELTA_BINARY_PACKED",
      6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY", 8: "RLE_DICTIONARY", 9: "BYTE_STREAM_SPLIT",
    ]
    return names[encoding] ?? "encoding \(encoding)"
  }

  private func bitWidth(_ maximum: Int) -> Int { maximum == 0 ? 0 : Int.bitWidth - maximum.leadingZeroBitCount }

  private func lengthPrefix(_ offset: inout Int) throws -> Int {
    guard offset + 4 <= page.count else { throw errors.damaged("a page ends inside its levels") }
    let length = Int(UInt32(loading: page, at: offset))
    offset += 4
    guard length <= page.count - offset else { throw errors.damaged("levels run past their page: the file is damaged") }
    return length
  }

  private func levels(lengthPrefixed offset: inout Int, maximum: Int, count: Int) throws -> [Int32] {
    let length = try lengthPrefix(&offset)
    defer { offset += length }
    return try hybrid(offset..<(offset + length), bitWidth: bitWidth(maximum), count: count)
  }

  /// `count` values of the RLE / bit-packed hybrid encoding in `page[range]`.
  private func hybrid(_ range: Range<Int>, bitWidth: Int, count: Int) throws -> [Int32] {
    // A page's values are counted in an Int32; past 2^28 the header is damaged, and memory
    // must not be claimed on its word.
    guard count >= 0, count <= 1 << 28 else { throw errors.damaged("a page claims \(count) values") }
    var result: [Int32] = []
    result.reserveCapacity(min(count, 1 << 16))
    var position = range.lowerBound
    let end = range.upperBound
    guard range.lowerBound >= 0, end <= page.count else { throw errors.damaged("levels run past their page") }
    func varint() throws -> Int {
      var value = 0
      var shift = 0
      while true {
        guard position < end else { throw errors.damaged("a page ends inside an RLE run header") }
        let byte = Int(page[position])
        position += 1
        value |= (byte & 0x7F) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
        guard shift < 63 else { throw errors.damaged("a bad RLE run header") }
      }
    }
    let valueBytes = (bitWidth + 7) / 8
    while result.count < count {
      let header = try varint()
      if header & 1 == 0 {
        let run = header >> 1
        guard position + valueBytes <= end else { throw errors.damaged("a page ends inside an RLE run") }
        var value = 0
        for index in 0..<valueBytes { value |= Int(page[position + index]) << (8 * index) }
        position += valueBytes
        let take = min(run, count - result.count)
        result.append(contentsOf: repeatElement(Int32(truncatingIfNeeded: value), count: take))
        if run == 0 && take == 0 { throw errors.damaged("an empty RLE run") }
      } else {
        let groups = header >> 1
        let bytes = groups * bitWidth
        guard groups > 0, position + bytes <= end || bitWidth == 0 else {
          throw errors.damaged("a page ends inside bit-packed values")
        }
        let values = groups * 8
        let mask = bitWidth == 0 ? 0 : (1 << bitWidth) - 1
        var bit = 0
        for _ in 0..<values where result.count < count {
          var value = 0
          var got = 0
          while got < bitWidth {
            let byte = Int(page[position + (bit + got) / 8])
            let shift = (bit + got) % 8
            let chunk = min(8 - shift, bitWidth - got)
            value |= ((byte >> shift) & ((1 << chunk) - 1)) << got
            got += chunk
          }
          bit += bitWidth
          result.append(Int32(truncatingIfNeeded: value & mask))
        }
        position += bytes
      }
    }
    return result
  }

  private func decompress(_ raw: [UInt8], size: Int) throws -> [UInt8] {
    switch chunk.codec {
    case 1:
      var output: [UInt8] = []
      let failure = raw.withUnsafeBytes { input -> Snappy.Failure? in
        do throws(Snappy.Failure) {
          try Snappy.decompress(input, into: &output)
          return nil
        } catch {
          return error
        }
      }
      if let failure { throw errors.damaged("a Snappy page is corrupt (\(failure.message)): the file is damaged") }
      return output
    case 6:
      do { return try ZstdDecoder.decompress(raw) } catch {
        throw errors.damaged("a zstd page is corrupt: the file is damaged")
      }
    default:
      return raw
    }
  }
}

extension FixedWidthInteger {
  /// A little-endian integer loaded from `bytes` at `offset` (which the caller has checked).
  init(loading bytes: [UInt8], at offset: Int) {
    var value: Self = 0
    for index in 0..<(Self.bitWidth / 8) { value |= Self(bytes[offset + index]) << (8 * index) }
    self = value
  }
}

/// Standard base64 (RFC 4648, with padding), for binary column values in JSON.
enum Base64 {
  private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var index = 0
    while index < bytes.count {
      let a = Int(bytes[index])
      let b = index + 1 < bytes.count ? Int(bytes[index + 1]) : 0
      let c = index + 2 < bytes.count ? Int(bytes[index + 2]) : 0
      out.append(alphabet[a >> 2])
      out.append(alphabet[((a & 3) << 4) | (b >> 4)])
      out.append(index + 1 < bytes.count ? alphabet[((b & 15) << 2) | (c >> 6)] : UInt8(ascii: "="))
      out.append(index + 2 < bytes.count ? alphabet[c & 63] : UInt8(ascii: "="))
      index += 3
    }
    return String(decoding: out, as: UTF8.self)
  }
}
