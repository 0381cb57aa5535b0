/// GPT-2's byte-level alphabet: vocabularies spell each byte as one printable character
/// (the printable Latin-1 bytes as themselves, the other 68 as U+0100 onwards in byte order),
/// so `Ġ` (U+0120) is the space byte. Tokens are kept as the bytes they stand for.
enum ByteLevelAlphabet {
  /// The character of each byte.
  static let characters: [Unicode.Scalar] = {
    var result = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
      if printable {
        result[byte] = Unicode.Scalar(UInt8(byte))
      } else {
        // U+0100-U+0143: all valid scalars.
        result[byte] = Unicode.Scalar(next) ?? " "
        next += 1
      }
    }
    return result
  }()

  /// The byte of each character, by scalar value (below U+0144).
  private static let bytes: [Int16] = {
    var result = [Int16](repeating: -1, count: 0x144)
    for (byte, character) in characters.enumerated() { result[Int(character.value)] = Int16(byte) }
    return result
  }()

  /// The bytes a vocabulary entry spells, or `nil` when it has a character outside the
  /// alphabet (an added token written as plain text).
  static func decode(_ token: String) -> [UInt8]? {
    var result: [UInt8] = []
    result.reserveCapacity(token.utf8.count)
    for scalar in token.unicodeScalars {
      guard scalar.value < 0x144, bytes[Int(scalar.value)] >= 0 else { return nil }
      result.append(UInt8(bytes[Int(scalar.value)]))
    }
    return result
  }
}
