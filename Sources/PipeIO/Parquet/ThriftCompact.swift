/// A value of the Thrift compact protocol, decoded generically: Parquet's footer and page
/// headers are Thrift structs, and reading them as trees keeps the format's field numbers in
/// one place (`ParquetMetadata`) instead of a generated decoder per struct.
indirect enum ThriftValue {
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case binary(ArraySlice<UInt8>)
  case list([ThriftValue])
  case map([(ThriftValue, ThriftValue)])
  case structure([Int16: ThriftValue])

  var int: Int64? {
    if case .int(let value) = self { return value }
    return nil
  }
  var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }
  var string: String? {
    if case .binary(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
    return nil
  }
  var list: [ThriftValue]? {
    if case .list(let values) = self { return values }
    return nil
  }
  var fields: [Int16: ThriftValue]? {
    if case .structure(let fields) = self { return fields }
    return nil
  }
}

/// Why Thrift bytes could not be decoded (the caller adds the file and what was being read).
struct ThriftError: Error {
  let message: String
  /// True when the bytes ended inside the value: reading more may help.
  let needsMoreBytes: Bool
}

/// Reads compact-protocol values from bytes.
struct ThriftCompactReader {
  let bytes: [UInt8]
  private(set) var offset: Int
  private let end: Int
  private var depth = 0

  init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
    self.bytes = bytes
    self.offset = offset
    self.end = end ?? bytes.count
  }

  private mutating func byte() throws(ThriftError) -> UInt8 {
    guard offset < end else { throw ThriftError(message: "the data ends inside a value", needsMoreBytes: true) }
    defer { offset += 1 }
    return bytes[offset]
  }

  private mutating func varint() throws(ThriftError) -> UInt64 {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let next = try byte()
      result |= UInt64(next & 0x7F) << shift
      if next & 0x80 == 0 { return result }
      shift += 7
      guard shift < 64 else { throw ThriftError(message: "a varint longer than 10 bytes", needsMoreBytes: false) }
    }
  }

  private mutating func zigzag() throws(ThriftError) -> Int64 {
    let raw = try varint()
    return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
  }

  /// Reads one struct (its fields up to the stop field).
  mutating func readStruct() throws(ThriftError) -> ThriftValue {
    depth += 1
    defer { depth -= 1 }
    guard depth < 64 else { throw ThriftError(message: "structs nested more than 64 deep", needsMoreBytes: false) }
    var fields: [Int16: ThriftValue] = [:]
    var lastID: Int16 = 0
    while true {
      let header = try byte()
      if header == 0 { return .structure(fields) }
      let type = header & 0x0F
      let delta = Int16(header >> 4)
      let id: Int16
      if delta != 0 {
        id = lastID &+ delta
      } else {
        id = Int16(truncatingIfNeeded: try zigzag())
      }
      lastID = id
      fields[id] = try readValue(type: type)
    }
  }

  private mutating func readValue(type: UInt8) throws(ThriftError) -> ThriftValue {
    switch type {
    case 1: return .bool(true)
    case 2: return .bool(false)
    case 3: return .int(Int64(Int8(bitPattern: try byte())))
    case 4, 5, 6: return .int(try zigzag())
    case 7:
      var raw: UInt64 = 0
      for index in 0..<8 { raw |= UInt64(try byte()) << (8 * UInt64(index)) }
      return .double(Double(bitPattern: raw))
    case 8:
      let length = Int(try varint())
      guard length >= 0, length <= end - offset else {
        throw ThriftError(message: "a string of \(length) bytes runs past the data", needsMoreBytes: true)
      }
      defer { offset += length }
      return .binary(bytes[offset..<(offset + length)])
    case 9, 10:
      depth += 1
      defer { depth -= 1 }
      guard depth < 64 else { throw ThriftError(message: "lists nested more than 64 deep", needsMoreBytes: false) }
      let header = try byte()
      var count = Int(header >> 4)
      if count == 15 { count = Int(try varint()) }
      let elementType = header & 0x0F
      guard count <= end - offset else {
        throw ThriftError(message: "a list of \(count) elements runs past the data", needsMoreBytes: true)
      }
      var values: [ThriftValue] = []
      values.reserveCapacity(count)
      for _ in 0..<count {
        // Booleans in lists are one byte each (1 true).
        if elementType == 1 || elementType == 2 {
          values.append(.bool(try byte() == 1))
        } else {
          values.append(try readValue(type: elementType))
        }
      }
      return .list(values)
    case 11:
      let count = Int(try varint())
      guard count <= end - offset else {
        throw ThriftError(message: "a map of \(count) entries runs past the data", needsMoreBytes: true)
      }
      var entries: [(ThriftValue, ThriftValue)] = []
      if count > 0 {
        let types = try byte()
        for _ in 0..<count {
          entries.append((try readValue(type: types >> 4), try readValue(type: types & 0x0F)))
        }
      }
      return .map(entries)
    case 12: return try readStruct()
    default: throw ThriftError(message: "unknown Thrift type \(type)", needsMoreBytes: false)
    }
  }
}
