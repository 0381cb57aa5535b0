import Foundation

/// Unicode NFC/NFKC of UTF-8 text in bounded pieces.
///
/// Foundation's `precomposedStringWithCanonicalMapping` takes time proportional to (changes x
/// length) on Linux: measured with swift-foundation in Swift 6.3.1, a 4.7 MB text with 100,000
/// decomposed accents took 4.7 s against 0.09 s when already composed, and 10 MB took 22 s. The
/// text is therefore cut into pieces of about 16 KB and each piece normalized on its own.
///
/// Cuts are made only before an ASCII scalar or a starter of the blocks
/// `NormalizationQuickCheck` knows: such a scalar never composes with what precedes it, and
/// canonical reordering never moves a mark across a starter, so normalizing the pieces gives the
/// same bytes as normalizing the whole (UAX #15 §9, "stable code points"). A run with no such
/// scalar (megabytes of combining marks) stays one piece and is merely slow.
enum UnicodeNormalization {
  /// The target piece size in bytes.
  static let pieceSize = 16 * 1024

  /// The NFKC (`compatibility`) or NFC form of `utf8`.
  static func normalize(_ utf8: UnsafeBufferPointer<UInt8>, compatibility: Bool) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(utf8.count + utf8.count / 8)
    var start = 0
    let count = utf8.count
    while start < count {
      var end = min(start + pieceSize, count)
      while end < count, !isBoundary(utf8, at: end, compatibility: compatibility) { end += 1 }
      let piece = String(decoding: UnsafeBufferPointer(rebasing: utf8[start..<end]), as: UTF8.self)
      let normalized =
        compatibility
        ? piece.precomposedStringWithCompatibilityMapping : piece.precomposedStringWithCanonicalMapping
      output.append(contentsOf: normalized.utf8)
      start = end
    }
    return output
  }

  /// Whether the text may be cut before the scalar starting at `index`.
  static func isBoundary(_ utf8: UnsafeBufferPointer<UInt8>, at index: Int, compatibility: Bool) -> Bool {
    let byte = utf8[index]
    if byte < 0x80 { return true }
    if byte & 0xC0 == 0x80 { return false }  // inside a multi-byte scalar
    let value = UTF8Scanning.decode(utf8, at: index).value
    let stable =
      compatibility ? NormalizationQuickCheck.isNFKCStable(value) : NormalizationQuickCheck.isNFCStable(value)
    guard stable else { return false }
    guard NormalizationQuickCheck.mayHaveCombiningClass(value), let scalar = Unicode.Scalar(value) else { return true }
    return scalar.properties.canonicalCombiningClass.rawValue == 0
  }
}
