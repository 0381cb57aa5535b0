/// Eight ASCII bytes in a `UInt64` (little-endian: byte 0 is the lowest), tested and changed
/// all at once. No operation carries from one byte into the next for ASCII bytes.
enum ASCIIWord {
  static let ones: UInt64 = 0x0101_0101_0101_0101
  static let highBits: UInt64 = 0x8080_8080_8080_8080

  /// Whether all eight bytes are ASCII.
  @inline(__always)
  static func isASCII(_ word: UInt64) -> Bool { word & highBits == 0 }

  /// The high bit of each byte of an ASCII word that is a space (exact, no false alarms).
  @inline(__always)
  static func spaces(_ word: UInt64) -> UInt64 {
    let x = word ^ (ones &* 0x20)
    return ~(((x & ~highBits) &+ ~highBits) | x) & highBits
  }

  /// Whether collapsing whitespace leaves an ASCII word as it is, wherever it stands in a text:
  /// no control character (tab, newline...), and no space first, last or next to another.
  @inline(__always)
  static func collapsesToItself(_ word: UInt64) -> Bool {
    let spaces = spaces(word)
    return !hasControl(word) && spaces & (0x8000_0000_0000_0080 | spaces >> 8) == 0
  }

  /// Whether an ASCII word has a byte below 0x20 (tab, line breaks and other controls).
  @inline(__always)
  static func hasControl(_ word: UInt64) -> Bool { (word &- ones &* 0x20) & ~word & highBits != 0 }

  /// Whether an ASCII word is printable text that a layout pass keeps as it is after a
  /// printable character: no control (DEL included) and no space last or next to another.
  @inline(__always)
  static func isPlainText(_ word: UInt64) -> Bool {
    let x = word ^ (ones &* 0x7F)
    let deletes = ~(((x & ~highBits) &+ ~highBits) | x) & highBits
    let spaces = spaces(word)
    return !hasControl(word) && deletes == 0 && spaces & (0x8000_0000_0000_0000 | spaces >> 8) == 0
  }

  /// An ASCII word with `A`...`Z` lowercased.
  @inline(__always)
  static func lowercased(_ word: UInt64) -> UInt64 {
    // The high bit of each byte: set from `A` (0x41) up, and from `[` (0x5B) up.
    let fromA = (word &+ ones &* (0x80 - 0x41)) & highBits
    let pastZ = (word &+ ones &* (0x80 - 0x5B)) & highBits
    return word | ((fromA & ~pastZ) >> 2)
  }
}
