/// What the pre-tokenizer patterns ask of a character: `\p{L}`, `\p{N}`, `\s` and the line
/// breaks `\r` and `\n`. One byte per scalar, looked up in a table for the Basic Multilingual
/// Plane (built once from the standard library's Unicode data) and computed beyond it.
struct ScalarClass: OptionSet, Sendable {
  let rawValue: UInt8

  /// General category L (Lu, Ll, Lt, Lm, Lo): `\p{L}`.
  static let letter = ScalarClass(rawValue: 1)
  /// General category N (Nd, Nl, No): `\p{N}`, and Rust's `char::is_numeric`.
  static let number = ScalarClass(rawValue: 2)
  /// The White_Space property: `\s` of the regex engines the references use.
  static let whitespace = ScalarClass(rawValue: 4)
  /// `\r` or `\n`.
  static let lineBreak = ScalarClass(rawValue: 8)

  /// Neither letter, number nor whitespace: `[^\s\p{L}\p{N}]`.
  var isOther: Bool { rawValue & 7 == 0 }

  /// The class of `value` (a valid scalar value).
  @inline(__always)
  static func of(_ value: UInt32) -> ScalarClass {
    if value < 0x1_0000 { return ScalarClass(rawValue: table[Int(value)]) }
    return compute(value)
  }

  private static let table: [UInt8] = (0..<0x1_0000).map { compute(UInt32($0)).rawValue }

  private static func compute(_ value: UInt32) -> ScalarClass {
    guard let scalar = Unicode.Scalar(value) else { return [] }
    var result: ScalarClass = []
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      result.insert(.letter)
    case .decimalNumber, .letterNumber, .otherNumber:
      result.insert(.number)
    default: break
    }
    if scalar.properties.isWhitespace { result.insert(.whitespace) }
    if value == 0x0A || value == 0x0D { result.insert(.lineBreak) }
    return result
  }
}

/// A text segment decoded once into scalars, their classes and their UTF-8 offsets, so the
/// patterns can look around freely. Buffers are reused from segment to segment.
struct DecodedSegment {
  var scalars: [UInt32] = []
  var classes: [ScalarClass] = []
  /// `offsets[i]` is where scalar `i` starts in the segment's bytes; one extra entry at the end.
  var offsets: [Int] = []

  /// Decodes `bytes` (valid UTF-8).
  mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>) {
    scalars.removeAll(keepingCapacity: true)
    classes.removeAll(keepingCapacity: true)
    offsets.removeAll(keepingCapacity: true)
    var index = 0
    let count = bytes.count
    while index < count {
      let lead = bytes[index]
      var value: UInt32
      var length: Int
      if lead < 0x80 {
        value = UInt32(lead)
        length = 1
      } else if lead < 0xE0 {
        value = UInt32(lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
        length = 2
      } else if lead < 0xF0 {
        value = UInt32(lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F)
        length = 3
      } else {
        value =
          UInt32(lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
          | UInt32(bytes[index + 3] & 0x3F)
        length = 4
      }
      scalars.append(value)
      classes.append(ScalarClass.of(value))
      offsets.append(index)
      index += length
    }
    offsets.append(count)
  }
}
