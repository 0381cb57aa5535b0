import Foundation

/// Decoding and encoding of JSON string literals on raw UTF-8 bytes.
public enum JSONString {
  /// Decodes the string literal at `range` (quotes included) of already validated text.
  ///
  /// `\u` escapes are decoded with surrogate pairs combined; a lone surrogate, which has no
  /// Unicode scalar, becomes U+FFFD, as most JSON libraries do.
  public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, hasEscapes: Bool? = nil) -> String {
    let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
    guard let base = bytes.baseAddress, !inner.isEmpty else { return "" }
    let escaped =
      hasEscapes ?? (memchr(base + inner.lowerBound, Int32(UInt8(ascii: "\\")), inner.count) != nil)
    if !escaped {
      return String(decoding: UnsafeBufferPointer(start: base + inner.lowerBound, count: inner.count), as: UTF8.self)
    }
    // Escapes only shrink text (`\n` is 2 bytes for 1, `\uXXXX` 6 for at most 3, a pair 12 for 4),
    // so the decoded bytes fit in `inner.count`.
    return String(unsafeUninitializedCapacity: inner.count) { buffer -> Int in
      guard let out = buffer.baseAddress else { return 0 }
      return decodeEscaped(base, inner, into: out)
    }
  }

  /// Calls `body` with the UTF-8 bytes of the literal at `range` (quotes included), decoding
  /// escapes into a temporary buffer rather than a `String`: the scanner has validated the
  /// bytes and escapes decode to valid scalars, so the bytes are exactly the `String`'s,
  /// without a second validation pass.
  public static func withDecodedBytes<Result>(
    _ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
  ) rethrows -> Result {
    let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
    guard let base = bytes.baseAddress, !inner.isEmpty else {
      return try body(UnsafeBufferPointer(start: nil, count: 0))
    }
    if !containsBackslash(bytes, in: inner) {
      return try body(UnsafeBufferPointer(start: base + inner.lowerBound, count: inner.count))
    }
    let out = UnsafeMutablePointer<UInt8>.allocate(capacity: inner.count)
    defer { out.deallocate() }
    let written = decodeEscaped(base, inner, into: out)
    return try body(UnsafeBufferPointer(start: out, count: written))
  }

  /// Decodes the literal body `inner` of `base` into `out` (room for `inner.count` bytes);
  /// returns the number of bytes written. Text between escapes is copied eight bytes at a
  /// time: in real text an escape (mostly `\n`) comes every few dozen bytes, too often for a
  /// `memchr` and a `memcpy` call per run to pay off.
  private static func decodeEscaped(
    _ base: UnsafePointer<UInt8>, _ inner: Range<Int>, into out: UnsafeMutablePointer<UInt8>
  )
    -> Int
  {
    var written = 0
    var index = inner.lowerBound
    let end = inner.upperBound
    let ones: UInt64 = 0x0101_0101_0101_0101
    let backslashes = ones &* 0x5C
    while index < end {
      // Escapes only shrink the text, so `written <= index - inner.lowerBound` and the eight
      // bytes stored fit whenever eight can be read.
      while end &- index >= 8 {
        let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
        UnsafeMutableRawPointer(out + written).storeBytes(of: word, as: UInt64.self)
        let xor = UInt64(littleEndian: word) ^ backslashes
        // High bit of each byte that is a backslash; the lowest flagged one is exact.
        let found = (xor &- ones) & ~xor & (ones &* 0x80)
        if found == 0 {
          index &+= 8
          written &+= 8
        } else {
          let run = found.trailingZeroBitCount >> 3
          index &+= run
          written &+= run
          break
        }
      }
      guard index < end else { break }
      if base[index] != UInt8(ascii: "\\") {
        out[written] = base[index]
        written &+= 1
        index &+= 1
        continue
      }
      let escape = base[index + 1]
      index += 2
      switch escape {
      case UInt8(ascii: "n"): out[written] = 0x0A
      case UInt8(ascii: "t"): out[written] = 0x09
      case UInt8(ascii: "r"): out[written] = 0x0D
      case UInt8(ascii: "b"): out[written] = 0x08
      case UInt8(ascii: "f"): out[written] = 0x0C
      case UInt8(ascii: "u"):
        var scalar = hex4(base + index)
        index += 4
        if (0xD800..<0xDC00).contains(scalar) {
          // A high surrogate must be followed by an escaped low surrogate to form one scalar.
          if index + 6 <= end, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") {
            let low = hex4(base + index + 2)
            if (0xDC00..<0xE000).contains(low) {
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
              index += 6
            } else {
              scalar = 0xFFFD
            }
          } else {
            scalar = 0xFFFD
          }
        } else if (0xDC00..<0xE000).contains(scalar) {
          scalar = 0xFFFD
        }
        written += writeUTF8(scalar, to: out + written)
        continue
      default:
        out[written] = escape  // \" \\ \/
      }
      written += 1
    }
    return written
  }

  /// Whether `bytes[range]` contains a backslash, i.e. whether a literal's body has escapes.
  static func containsBackslash(_ bytes: UnsafeBufferPointer<UInt8>, in range: Range<Int>) -> Bool {
    guard let base = bytes.baseAddress, !range.isEmpty else { return false }
    return memchr(base + range.lowerBound, Int32(UInt8(ascii: "\\")), range.count) != nil
  }

  @inline(__always)
  static func hex4(_ pointer: UnsafePointer<UInt8>) -> UInt32 {
    var value: UInt32 = 0
    for offset in 0..<4 {
      value = value << 4 | UInt32(hexValue(pointer[offset]) ?? 0)
    }
    return value
  }

  @inline(__always)
  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  /// Writes `scalar` as UTF-8 at `out`; returns the number of bytes written.
  @inline(__always)
  static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
    switch scalar {
    case 0..<0x80:
      out[0] = UInt8(scalar)
      return 1
    case 0x80..<0x800:
      out[0] = UInt8(0xC0 | scalar >> 6)
      out[1] = UInt8(0x80 | scalar & 0x3F)
      return 2
    case 0x800..<0x10000:
      out[0] = UInt8(0xE0 | scalar >> 12)
      out[1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
      out[2] = UInt8(0x80 | scalar & 0x3F)
      return 3
    default:
      out[0] = UInt8(0xF0 | scalar >> 18)
      out[1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
      out[2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
      out[3] = UInt8(0x80 | scalar & 0x3F)
      return 4
    }
  }

  /// Appends `string` as a JSON string literal (quotes included) to `out`.
  ///
  /// Non-ASCII text is written as UTF-8, not `\u` escapes, to keep shards small; quotes,
  /// backslashes and control characters are escaped.
  public static func append(_ string: String, to out: inout [UInt8]) {
    var string = string
    string.withUTF8 { utf8 in appendEscaped(utf8, to: &out) }
  }

  /// Appends already valid UTF-8 `bytes` as a JSON string literal to `out`.
  public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    guard let base = bytes.baseAddress else {
      out.append(UInt8(ascii: "\""))
      return
    }
    var runStart = 0
    var index = 0
    let count = bytes.count
    while index < count {
      // Skip eight bytes at a time when none needs escaping (non-ASCII passes through).
      while count - index >= 8 {
        let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
        if needsNoEscape(word) { index += 8 } else { break }
      }
      guard index < count else { break }
      let byte = base[index]
      let replacement: StaticString?
      switch byte {
      case UInt8(ascii: "\""): replacement = "\\\""
      case UInt8(ascii: "\\"): replacement = "\\\\"
      case 0x0A: replacement = "\\n"
      case 0x0D: replacement = "\\r"
      case 0x09: replacement = "\\t"
      case 0x08: replacement = "\\b"
      case 0x0C: replacement = "\\f"
      case 0..<0x20: replacement = nil
      default:
        index += 1
        continue
      }
      out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
      if let replacement {
        out.append(contentsOf: UnsafeBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount))
      } else {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(contentsOf: [
          UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
          digits[Int(byte >> 4)], digits[Int(byte & 0xF)],
        ])
      }
      index += 1
      runStart = index
    }
    out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
    out.append(UInt8(ascii: "\""))
  }

  /// True when none of the eight bytes is `"`, `\` or below 0x20.
  @inline(__always)
  static func needsNoEscape(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    // Bytes >= 0x80 are masked out of the tests first so they never look special.
    let ascii = word & ~highs
    let isHigh = word & highs
    let control = (ascii &- ones &* 0x20) & ~ascii
    let quoteXor = ascii ^ (ones &* 0x22)
    let quote = (quoteXor &- ones) & ~quoteXor
    let slashXor = ascii ^ (ones &* 0x5C)
    let slash = (slashXor &- ones) & ~slashXor
    // A high byte maps to (byte & 0x7F) and may look special: clear flags at high positions.
    // Borrows can still set a flag next to a real or masked match; that only sends the loop to
    // the exact byte-by-byte path, never skips a byte that needs escaping.
    return (control | quote | slash) & highs & ~isHigh == 0
  }
}
