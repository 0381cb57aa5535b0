// Byte-level helpers shared by the text ops: UTF-8 decoding, character classes and a
// conservative Unicode normalization quick check.
//
// The ops scan `Record.withTextUTF8` bytes directly so that the common case (nothing to change,
// or only counting) never builds a `String`. Record text comes from strictly validated JSON or
// from a Swift `String`, so the bytes are valid UTF-8; the decoder still never traps on bad
// input, it yields U+FFFD for one byte and moves on.

/// UTF-8 decoding on raw bytes.
enum UTF8Scanning {
  /// The scalar value starting at `index` (which must be in bounds) and its length in bytes.
  ///
  /// A malformed or truncated sequence yields U+FFFD with length 1, like `String(decoding:)`.
  @inline(__always)
  static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
    let lead = bytes[index]
    if lead < 0x80 { return (UInt32(lead), 1) }
    let count = bytes.count
    @inline(__always) func continuation(_ offset: Int) -> UInt32? {
      guard index + offset < count else { return nil }
      let byte = bytes[index + offset]
      return byte & 0xC0 == 0x80 ? UInt32(byte & 0x3F) : nil
    }
    if lead & 0xE0 == 0xC0, lead >= 0xC2, let b1 = continuation(1) {
      return (UInt32(lead & 0x1F) << 6 | b1, 2)
    }
    if lead & 0xF0 == 0xE0, let b1 = continuation(1), let b2 = continuation(2) {
      let value = UInt32(lead & 0x0F) << 12 | b1 << 6 | b2
      // Overlong forms and surrogates are not scalars.
      if value >= 0x800, !(0xD800...0xDFFF).contains(value) { return (value, 3) }
    }
    if lead & 0xF8 == 0xF0, let b1 = continuation(1), let b2 = continuation(2), let b3 = continuation(3) {
      let value = UInt32(lead & 0x07) << 18 | b1 << 12 | b2 << 6 | b3
      if (0x10000...0x10FFFF).contains(value) { return (value, 4) }
    }
    return (0xFFFD, 1)
  }

  /// Whether `value` has the Unicode `White_Space` property (the 25 code points of
  /// PropList.txt), written out so the check costs a few comparisons instead of a table lookup.
  @inline(__always)
  static func isWhitespace(_ value: UInt32) -> Bool {
    if value < 0x80 { return value == 0x20 || (0x09...0x0D).contains(value) }
    switch value {
    case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
  }

  /// The number of Unicode scalars: every byte that is not a UTF-8 continuation byte starts one.
  static func scalarCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var count = 0
    for byte in bytes where byte & 0xC0 != 0x80 { count += 1 }
    return count
  }
}

// MARK: - Normalization quick check

/// A conservative test for "this text is already in NFC (or NFKC)", without building a `String`.
///
/// The Unicode quick-check algorithm (UAX #15 §9) needs the NFC_QC/NFKC_QC properties, which the
/// standard library does not expose. Instead, each scalar is tested against blocks verified to be
/// normalization-stable *and* never the second element of a canonical composition (see
/// `UnicodeQuickCheckTests`, which checks them against Foundation's Unicode data); anything else
/// answers "unknown" and the caller normalizes the slow way. Combining marks inside the blocks
/// (Thai, Arabic, Devanagari, Cyrillic) must also be in canonical order, which is checked with
/// their combining class. The blocks cover most web text, so it stays on the fast path.
struct NormalizationQuickCheck {
  /// Which form to check for.
  let compatibility: Bool
  /// Canonical combining class of the previous scalar; marks must appear in non-decreasing
  /// class order or normalization would reorder them.
  private var lastCombiningClass: UInt8 = 0
  /// `false` once a scalar outside the known-stable blocks, or marks out of order, was seen.
  private(set) var isStable = true

  /// Creates a check for NFKC (`compatibility`) or NFC.
  init(compatibility: Bool) { self.compatibility = compatibility }

  /// Records a starter that the caller writes itself (a space or a line break).
  @inline(__always)
  mutating func resetToStarter() { lastCombiningClass = 0 }

  /// Marks an ASCII scalar (always stable, always a starter).
  @inline(__always)
  mutating func addASCII() { lastCombiningClass = 0 }

  /// Feeds one non-ASCII scalar that will appear in the output.
  mutating func add(_ value: UInt32) {
    guard isStable else { return }
    let stable = compatibility ? Self.isNFKCStable(value) : Self.isNFCStable(value)
    guard stable else {
      isStable = false
      return
    }
    var combiningClass: UInt8 = 0
    if Self.mayHaveCombiningClass(value), let scalar = Unicode.Scalar(value) {
      combiningClass = scalar.properties.canonicalCombiningClass.rawValue
    }
    if combiningClass != 0, lastCombiningClass > combiningClass { isStable = false }
    lastCombiningClass = combiningClass
  }

  /// Whether a scalar of the stable blocks may have a non-zero combining class; the others
  /// skip the property lookup.
  @inline(__always)
  static func mayHaveCombiningClass(_ value: UInt32) -> Bool {
    (0x400..<0x1000).contains(value) || (0x302A...0x302F).contains(value)
  }

  /// Blocks whose every code point is NFC-stable and never combines with a preceding scalar.
  static func isNFCStable(_ value: UInt32) -> Bool {
    switch value {
    case 0x80..<0x300,  // Latin-1, Latin Extended-A/B, IPA, spacing modifiers (not the combining marks)
      0x370..<0x374, 0x375..<0x37E, 0x37F..<0x387, 0x388..<0x400,  // Greek (not the three singletons)
      0x400..<0x590,  // Cyrillic, Armenian
      0x600..<0x653, 0x656..<0x700,  // Arabic (not the hamza and madda marks, which compose)
      0x900..<0x93C, 0x93D..<0x958, 0x960..<0x980,  // Devanagari (not the nukta or the nukta letters)
      0xE00..<0xE80,  // Thai: no compositions
      0x10A0..<0x1100,  // Georgian
      0x1E00..<0x1F00,  // Latin Extended Additional (Vietnamese)
      0x2010..<0x2028, 0x2030..<0x205F,  // dashes, quotes, bullets (U+2000-200A are singletons)
      0x3001..<0x3099, 0x309B..<0x3100,  // CJK punctuation, kana (not the combining voiced marks)
      0x3400..<0x4DC0, 0x4E00..<0xA000,  // CJK ideographs (not the compatibility ideographs)
      0xAC00..<0xD7A4,  // Hangul syllables (the conjoining jamo compose, so they are excluded)
      0xFF01..<0xFFEF,  // fullwidth and halfwidth forms
      0x1F000..<0x1FB00:  // emoji and pictographs
      return true
    default:
      return false
    }
  }

  /// Blocks whose every code point is NFKC-stable and never combines with a preceding scalar.
  static func isNFKCStable(_ value: UInt32) -> Bool {
    switch value {
    case 0xE01..<0xE33, 0xE34..<0xE5C,  // Thai letters, marks and digits (U+0E33 SARA AM decomposes)
      0x3041..<0x3097, 0x30A1..<0x30FF,  // kana, without the voiced marks and digraphs
      0x3400..<0x4DC0, 0x4E00..<0xA000,  // CJK ideographs
      0xAC00..<0xD7A4:  // Hangul syllables
      return true
    default:
      return false
    }
  }
}
