/// Snappy decompression (the raw format Parquet uses, without framing): a varint with the
/// uncompressed length, then literals and back-references. Written from the format
/// description; every length and offset is checked, so corrupt data is an error, not a crash.
enum Snappy {
  struct Failure: Error {
    let message: String
  }

  static func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(Failure) {
    guard let source = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
      throw Failure(message: "empty Snappy data")
    }
    let inputCount = input.count
    var position = 0
    var length = 0
    var shift = 0
    while true {
      guard position < inputCount else { throw Failure(message: "Snappy data ends early") }
      let next = Int(source[position])
      position += 1
      length |= (next & 0x7F) << shift
      if next & 0x80 == 0 { break }
      shift += 7
      guard shift <= 28 else { throw Failure(message: "bad Snappy length") }
    }
    // No Snappy element expands more than about 22 times (a 64-byte copy in 3 bytes): a
    // larger claim is damage, not a reason to allocate.
    guard length <= 32 * inputCount + 64 else {
      throw Failure(message: "Snappy data claims \(length) bytes from \(inputCount)")
    }
    if output.count != length { output = [UInt8](repeating: 0, count: length) }
    let written = output.withUnsafeMutableBufferPointer { out -> Int in
      guard let base = out.baseAddress else { return position == inputCount ? 0 : -1 }
      var cursor = 0
      while position < inputCount {
        let tag = Int(source[position])
        position += 1
        if tag & 3 == 0 {
          var literal = tag >> 2
          if literal >= 60 {
            let bytes = literal - 59
            guard position + bytes <= inputCount else { return -1 }
            literal = 0
            for index in 0..<bytes { literal |= Int(source[position + index]) << (8 * index) }
            position += bytes
          }
          literal += 1
          guard literal <= inputCount - position, literal <= length - cursor else { return -1 }
          if literal <= 16 && inputCount - position >= 16 && length - cursor >= 16 {
            // Short literals (most of them): two 8-byte moves, writing a little past the
            // literal into space the next element overwrites, instead of a memmove call.
            let word0 = UnsafeRawPointer(source + position).loadUnaligned(as: UInt64.self)
            let word1 = UnsafeRawPointer(source + position + 8).loadUnaligned(as: UInt64.self)
            UnsafeMutableRawPointer(base + cursor).storeBytes(of: word0, as: UInt64.self)
            UnsafeMutableRawPointer(base + cursor + 8).storeBytes(of: word1, as: UInt64.self)
          } else {
            (base + cursor).update(from: source + position, count: literal)
          }
          position += literal
          cursor += literal
          continue
        }
        let copyLength: Int
        let offset: Int
        switch tag & 3 {
        case 1:
          guard position < inputCount else { return -1 }
          copyLength = 4 + ((tag >> 2) & 7)
          offset = ((tag >> 5) << 8) | Int(source[position])
          position += 1
        case 2:
          guard position + 2 <= inputCount else { return -1 }
          copyLength = 1 + (tag >> 2)
          offset = Int(source[position]) | Int(source[position + 1]) << 8
          position += 2
        default:
          guard position + 4 <= inputCount else { return -1 }
          copyLength = 1 + (tag >> 2)
          offset =
            Int(source[position]) | Int(source[position + 1]) << 8 | Int(source[position + 2]) << 16
            | Int(source[position + 3]) << 24
          position += 4
        }
        guard offset > 0, offset <= cursor, copyLength <= length - cursor else { return -1 }
        let from = base + cursor - offset
        let to = base + cursor
        if offset >= 8 && length - cursor >= copyLength + 8 {
          // Eight bytes at a time: each move reads bytes already written (offset >= 8) and
          // may write up to seven bytes past the copy, into space the next element overwrites.
          var index = 0
          while index < copyLength {
            let word = UnsafeRawPointer(from + index).loadUnaligned(as: UInt64.self)
            UnsafeMutableRawPointer(to + index).storeBytes(of: word, as: UInt64.self)
            index += 8
          }
        } else if offset >= copyLength {
          to.update(from: from, count: copyLength)
        } else {
          // The copy overlaps what it writes (a run of a short pattern): byte by byte.
          for index in 0..<copyLength { to[index] = from[index] }
        }
        cursor += copyLength
      }
      return cursor
    }
    guard written >= 0 else { throw Failure(message: "an element runs past the data or refers outside it") }
    guard written == length else {
      throw Failure(message: "Snappy data gives \(written) bytes, not the \(length) it announces")
    }
  }
}
