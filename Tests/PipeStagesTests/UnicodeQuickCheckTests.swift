import Foundation
import Testing

@testable import PipeStages

/// Guards the block lists in `NormalizationQuickCheck` against the Unicode data Foundation uses.
@Suite struct UnicodeQuickCheckTests {
  private static let nfcBlocks: [Range<UInt32>] = [
    0x80..<0x300, 0x400..<0x483, 0x48A..<0x530, 0xE00..<0xE80, 0x2010..<0x2028, 0x2030..<0x205F,
    0x3001..<0x3099, 0x309B..<0x3100, 0x3400..<0x4DC0, 0x4E00..<0xA000, 0xAC00..<0xD7A4, 0xFF01..<0xFFEF,
    0x1F000..<0x1FB00,
  ]

  /// Scalars that follow the first scalar in some canonical decomposition: they may compose
  /// with what precedes them, so they must never be called stable.
  private static let composingScalars: Set<UInt32> = {
    var result = Set<UInt32>()
    for value in UInt32(0xC0)..<0x1_2000 {
      guard let scalar = Unicode.Scalar(value) else { continue }
      let decomposed = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
      guard decomposed.count > 1 else { continue }
      for later in decomposed.dropFirst() { result.insert(later.value) }
    }
    return result
  }()

  @Test func stableBlocksAreStableAndDoNotCompose() {
    var unstable: [String] = []
    for block in Self.nfcBlocks {
      for value in block {
        guard let scalar = Unicode.Scalar(value), scalar.properties.generalCategory != .unassigned else { continue }
        #expect(NormalizationQuickCheck.isNFCStable(value))
        let text = String(scalar)
        if !text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
          || Self.composingScalars.contains(value)
        {
          unstable.append(String(value, radix: 16))
        }
        if NormalizationQuickCheck.isNFKCStable(value),
          !text.precomposedStringWithCompatibilityMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
        {
          unstable.append("nfkc " + String(value, radix: 16))
        }
      }
    }
    #expect(unstable.isEmpty, "\(unstable.prefix(20))")
  }

  @Test func combiningMarksAndSingletonsAreNotStable() {
    for value: UInt32 in [0x300, 0x301, 0x308, 0x340, 0x2000, 0x2126, 0x212B, 0x3099, 0x309A, 0x1161, 0x11A8, 0xF900] {
      #expect(!NormalizationQuickCheck.isNFCStable(value), "\(String(value, radix: 16))")
    }
    for value: UInt32 in [0xA0, 0xE33, 0xFB01, 0xFF21, 0x309B, 0x2460] {
      #expect(!NormalizationQuickCheck.isNFKCStable(value), "\(String(value, radix: 16))")
    }
  }

  @Test func marksOutOfOrderAreNotStable() {
    var ordered = NormalizationQuickCheck(compatibility: false)
    for value: UInt32 in [0xE01, 0xE38, 0xE48] { ordered.add(value) }
    #expect(ordered.isStable)
    var reversed = NormalizationQuickCheck(compatibility: false)
    for value: UInt32 in [0xE01, 0xE48, 0xE38] { reversed.add(value) }
    #expect(!reversed.isStable)
    var separated = NormalizationQuickCheck(compatibility: false)
    separated.add(0xE48)
    separated.resetToStarter()
    separated.add(0xE38)
    #expect(separated.isStable)
  }
}
