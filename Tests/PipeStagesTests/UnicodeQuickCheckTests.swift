import Foundation
import Testing

@testable import PipeStages

/// Guards the block lists in `NormalizationQuickCheck` against the Unicode data Foundation uses.
@Suite struct UnicodeQuickCheckTests {
  /// Every scalar the quick check could call stable (a superset of its blocks).
  private static let candidates: [Range<UInt32>] = [0x80..<0x1100, 0x1E00..<0x3100, 0x3400..<0xFFF0, 0x1F000..<0x1FB00]

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
    var stableCount = 0
    for block in Self.candidates {
      for value in block {
        guard let scalar = Unicode.Scalar(value), scalar.properties.generalCategory != .unassigned else { continue }
        let text = String(scalar)
        if NormalizationQuickCheck.isNFCStable(value) {
          stableCount += 1
          if !text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
            || Self.composingScalars.contains(value)
          {
            unstable.append(String(value, radix: 16))
          }
          if scalar.properties.canonicalCombiningClass.rawValue != 0,
            !NormalizationQuickCheck.mayHaveCombiningClass(value)
          {
            unstable.append("class " + String(value, radix: 16))
          }
        }
        if NormalizationQuickCheck.isNFKCStable(value),
          !text.precomposedStringWithCompatibilityMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
        {
          unstable.append("nfkc " + String(value, radix: 16))
        }
      }
    }
    #expect(unstable.isEmpty, "\(unstable.prefix(20))")
    #expect(stableCount > 40_000)
  }

  @Test func lowercasingStableScalarsGivesStableStarters() {
    var problems: [String] = []
    for block in Self.candidates {
      for value in block where value != 0x130 && NormalizationQuickCheck.isNFCStable(value) {
        guard let scalar = Unicode.Scalar(value), scalar.properties.changesWhenLowercased else { continue }
        let lowered = scalar.properties.lowercaseMapping.unicodeScalars
        guard lowered.count == 1, let single = lowered.first else {
          problems.append(String(value, radix: 16))
          continue
        }
        let text = String(single)
        if !text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
          || Self.composingScalars.contains(single.value) || single.properties.canonicalCombiningClass.rawValue != 0
        {
          problems.append(String(value, radix: 16))
        }
      }
    }
    #expect(problems.isEmpty, "\(problems.prefix(20))")
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

/// Normalizing in pieces must give the bytes Foundation gives for the whole text.
@Suite struct UnicodeNormalizationTests {
  @Test(arguments: [false, true])
  func piecesGiveTheSameBytesAsTheWhole(compatibility: Bool) {
    // Units of awkward lengths, so piece ends land inside and between every kind of sequence.
    let units = [
      "cafe\u{301} ", "\u{1100}\u{1161}\u{11A8}", "か\u{3099}", "\u{E01}\u{E48}\u{E38}", "ﬁ", "\u{212B}",
      "a\u{328}\u{301}\u{302}", "中文", "\u{301}\u{301}", "\u{1E9B}\u{323}", "x", "\u{AC00}\u{11A8}", "ا\u{653}",
      "\u{928}\u{93C}", "😀",
    ]
    var text = ""
    var index = 0
    while text.utf8.count < 3 * UnicodeNormalization.pieceSize + 100 {
      text += units[index % units.count]
      index += 1 + index % 3
    }
    let whole =
      compatibility ? text.precomposedStringWithCompatibilityMapping : text.precomposedStringWithCanonicalMapping
    var copy = text
    let pieces = copy.withUTF8 { UnicodeNormalization.normalize($0, compatibility: compatibility) }
    #expect(pieces == Array(whole.utf8))
  }

  @Test func longDecomposedTextIsNormalizedQuickly() {
    // 10 MB with 200,000 decomposed accents: about 20 s for Foundation in one piece.
    let units = 10 * 1024 * 1024 / 48
    let text = String(repeating: "Some repeated sentence with cafe\u{301} and 中文. ", count: units)
    let start = ContinuousClock.now
    var copy = text
    let normalized = copy.withUTF8 { UnicodeNormalization.normalize($0, compatibility: false) }
    // Each composed é is one byte shorter than e + U+0301.
    #expect(normalized.count == text.utf8.count - units)
    #expect(ContinuousClock.now - start < .seconds(10))
  }
}
