public import PipeCore

/// `dedup.paragraphs@1`: removes boilerplate, the paragraphs (or lines) repeated across
/// documents, as dolma's and datatrove's paragraph and line deduplication do.
///
/// A unit (a paragraph: a run of non-blank lines; or, with `unit: "line"`, one non-blank line)
/// that occurs in more than `maxDocuments` documents is kept in the first of them (input order)
/// and removed from every other one. Units are compared after trimming and collapsing
/// whitespace (and lowercasing with `lowercase`), by a 128-bit hash; units shorter than
/// `minUnitChars` characters are never removed. A document that loses units is rewritten with
/// its remaining units joined by a blank line (paragraphs) or a newline (lines) and gets a note
/// for `pipe why`; one left with fewer than `minChars` characters is dropped with reason
/// `boilerplate_only`. Documents are never dropped for being short to begin with.
public struct ParagraphDedup: Sendable {
  /// What a unit is.
  public enum Unit: String, Sendable, CaseIterable {
    /// A run of non-blank lines.
    case paragraph
    /// One non-blank line.
    case line
  }

  /// The reject reason for a document left too short.
  public static let tooShortReason = "boilerplate_only"

  /// What a unit is.
  public let unit: Unit
  /// A unit in more than this many documents is kept only in the first.
  public let maxDocuments: Int
  /// Units shorter than this (characters, after whitespace is collapsed) are never removed.
  public let minUnitChars: Int
  /// A document that lost units and has fewer characters left is dropped.
  public let minChars: Int
  /// How units are hashed (whitespace collapsed, NFC, optional lowercase).
  let hasher: ExactDedup
  /// The memory the index step's dictionary may use; past it, keys are counted in partitions.
  public let memoryCapBytes: Int

  /// Creates the stage; the parameters are the op's config keys, with the same defaults.
  public init(
    unit: Unit = .paragraph, maxDocuments: Int = 1, minUnitChars: Int = 0, minChars: Int = 50, lowercase: Bool = false,
    memoryCapMB: Int = 512
  ) {
    memoryCapBytes = memoryCapMB << 20
    self.unit = unit
    self.maxDocuments = maxDocuments
    self.minUnitChars = minUnitChars
    self.minChars = minChars
    hasher = ExactDedup(field: .text, lowercase: lowercase, collapseWhitespace: true, nfc: true)
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      "paragraph", oneOf: Unit.allCases.map(\.rawValue),
      "\"paragraph\" (a run of non-blank lines) or \"line\" (one non-blank line).")
    var unit: String
    @Setting(1, in: 1...Int(UInt32.max), "A unit in more than this many documents is kept only in the first of them.")
    var maxDocuments: Int
    @Setting(0, in: 0...Int.max, "Units with fewer characters (whitespace collapsed) are never removed.")
    var minUnitChars: Int
    @Setting(50, in: 0...Int.max, "A document that lost units and has fewer characters left is dropped.")
    var minChars: Int
    @Setting(false, "Lowercase (full Unicode) before comparing units.") var lowercase: Bool
    @Setting(
      512, in: 1...(1 << 20),
      "Memory for the index of distinct units; past it, units are counted in partitions (same output).",
      affectsOutput: false)
    var memoryCapMB: Int
  }

  init(options: Options) {
    self.init(
      unit: Unit(rawValue: options.unit) ?? .paragraph, maxDocuments: options.maxDocuments,
      minUnitChars: options.minUnitChars, minChars: options.minChars, lowercase: options.lowercase,
      memoryCapMB: options.memoryCapMB)
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "dedup.paragraphs", version: 1,
    summary:
      "Remove paragraphs (or lines) repeated across documents from all but the first; drop what is left too short.",
    options: Options.self, make: { options in .steps(ParagraphDedup(options: options).plan) })

  // MARK: - Units

  /// The units of `text`: their ranges in its UTF-8 bytes, in order.
  public func units(of text: String) -> [Range<Int>] {
    var text = text
    return text.withUTF8 { units(of: $0) }
  }

  /// The units of UTF-8 bytes: ranges of non-blank lines, or runs of them for paragraphs, with
  /// the trailing line break left out.
  func units(of bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
    var result: [Range<Int>] = []
    var lineStart = 0
    var current: Range<Int>? = nil
    func isBlank(_ range: Range<Int>) -> Bool {
      for index in range where !Self.isSpace(bytes[index]) { return false }
      return true
    }
    var index = 0
    while index <= bytes.count {
      if index == bytes.count || bytes[index] == 0x0A {
        var end = index
        if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
        let line = lineStart..<end
        if isBlank(line) {
          if let open = current {
            result.append(open)
            current = nil
          }
        } else if unit == .line {
          result.append(line)
        } else {
          current = (current?.lowerBound ?? line.lowerBound)..<line.upperBound
        }
        lineStart = index + 1
      }
      index += 1
    }
    if let open = current { result.append(open) }
    return result
  }

  static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C
  }

  /// The key of a unit's text, or nil when it is shorter than `minUnitChars` (never removed).
  func key(of unitText: String) -> DuplicateKey? {
    if minUnitChars > 0 {
      var characters = 0
      var lastWasSpace = true
      for scalar in unitText.unicodeScalars {
        let space = scalar.properties.isWhitespace
        if !(space && lastWasSpace) { characters += 1 }
        lastWasSpace = space
      }
      if lastWasSpace && characters > 0 { characters -= 1 }
      if characters < minUnitChars { return nil }
    }
    return hasher.key(of: unitText)
  }

  /// `text` without the units at `removed` (indexes into `units(of:)`), the rest joined by a
  /// blank line (paragraphs) or a newline (lines).
  public func removing(_ removed: Set<Int>, from text: String) -> String {
    var text = text
    return text.withUTF8 { bytes in
      let kept = units(of: bytes).enumerated().filter { !removed.contains($0.offset) }.map {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.element]), as: UTF8.self)
      }
      return kept.joined(separator: unit == .paragraph ? "\n\n" : "\n")
    }
  }
}
