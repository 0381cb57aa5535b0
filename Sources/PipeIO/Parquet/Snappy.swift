/// Snappy decompression (the raw format Parquet uses, without framing): a varint with the
/// uncompressed length, then literals and back-references. Written from the format
/// description; every length and offset is checked, so corrupt data is an error, not a crash.
enum Snappy {
  struct Failure: Error {
    let message: String
  }

  static func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(Failure) {
    var position = 0
    var length = 0
    var shift = 0
    while true {
      guard position < input.count else { throw Failure(message: "Snappy data ends early") }
      let next = Int(input[position])
      position += 1
      length |= (next & 0x7F) << shift
      if next & 0x80 == 0 { break }
      shift += 7
      guard shift <= 28 else { throw Failure(message: "bad Snappy length") }
    }
    // No Snappy element expands more than about 22 times (a 64-byte copy in 3 bytes): a
    // larger claim is damage, not a reason to allocate.
    guard length <= 32 * input.count + 64 else {
      throw Failure(message: "Snappy data claims \(length) bytes from \(input.count)")
    }
    if output.count != length { output = [UInt8](repeating: 0, count: length) }
    let written = try output.withUnsafeMutableBufferPointer { out throws(Failure) -> Int in
      var cursor = 0
      func byte() throws(Failure) -> Int {
        guard position < input.count else { throw Failure(message: "Snappy data ends early") }
        defer { position += 1 }
        return Int(input[position])
      }
      while position < input.count {
        let tag = try byte()
        if tag & 3 == 0 {
          var literal = tag >> 2
          if literal >= 60 {
            let bytes = literal - 59
            literal = 0
            for index in 0..<bytes { literal |= try byte() << (8 * index) }
          }
          literal += 1
          guard literal <= input.count - position, cursor + literal <= length, let base = out.baseAddress,
            let source = input.baseAddress
          else { throw Failure(message: "a Snappy literal runs past the data") }
          (base + cursor).update(from: source.assumingMemoryBound(to: UInt8.self) + position, count: literal)
          position += literal
          cursor += literal
          continue
        }
        let copyLength: Int
        let offset: Int
        switch tag & 3 {
        case 1:
          copyLength = 4 + ((tag >> 2) & 7)
          offset = ((tag >> 5) << 8) | (try byte())
        case 2:
          copyLength = 1 + (tag >> 2)
          offset = (try byte()) | (try byte()) << 8
        default:
          copyLength = 1 + (tag >> 2)
          offset = (try byte()) | (try byte()) << 8 | (try byte()) << 16 | (try byte()) << 24
        }
        guard offset > 0, offset <= cursor, cursor + copyLength <= length else {
          throw Failure(message: "a Snappy copy refers outside the data")
        }
        // Byte by byte when the copy overlaps what it writes (a run of a short pattern).
        if offset >= copyLength, let base = out.baseAddress {
          (base + cursor).update(from: base + cursor - offset, count: copyLength)
        } else {
          for index in 0..<copyLength { out[cursor + index] = out[cursor - offset + index] }
        }
        cursor += copyLength
      }
      return cursor
    }
    guard written == length else {
      throw Failure(message: "Snappy data gives \(written) bytes, not the \(length) it announces")
    }
  }
}
