public import PipeCore

/// `normalize@1`: rewrites `text` into one canonical spelling of the same content.
///
/// In order, on the UTF-8 bytes:
/// 1. Line breaks (CR LF, CR, VT, FF, NEL, U+2028, U+2029) become LF. Always on: the line rules
///    below need one kind of line break.
/// 2. `removeControl`: C0 and C1 controls other than tab and line breaks are removed, and so are
///    U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER and U+FEFF (BOM / ZWNBSP): they are invisible,
///    carry no meaning in running text and break word matching and dedup. ZWNJ and ZWJ
///    (U+200C/U+200D) are kept because Persian, Indic scripts and emoji sequences need them;
///    U+00AD SOFT HYPHEN is kept too (it is a hyphenation hint, not noise).
/// 3. `unifySpaces`: U+00A0, U+1680, U+2000-200A, U+202F, U+205F and U+3000 become U+0020.
/// 4. `collapseSpaces`: a run of spaces and tabs inside a line becomes one space; with
///    `keepIndentation` the run that starts a line is left alone, so source code and indented
///    lists keep their structure.
/// 5. `trimLines`: spaces and tabs at the end of each line are removed.
/// 6. A line holding only spaces, tabs and controls is blank; more than `maxBlankLines`
///    consecutive blank lines are cut to `maxBlankLines`, and blank lines at the start and end of
///    the document (and so its final line break) are removed.
/// 7. `form`: Unicode NFC or NFKC; then steps 1-6 run again, since NFKC can produce spaces
///    (U+00A8 becomes U+0020 U+0308), so the result is a fixed point: normalizing it again
///    changes nothing.
///
/// A record whose text is empty afterwards (including one that was empty to begin with) is
/// dropped with reason `empty_after_normalize`. An unchanged record keeps its original bytes.
public struct Normalize: RecordStage {
  /// The Unicode normalization form applied to the text.
  public enum Form: String, Sendable, CaseIterable {
    /// Canonical composition: the same text, one spelling (composed é, not e + U+0301).
    case nfc
    /// Compatibility composition: also folds ligatures, fullwidth forms, superscripts.
    case nfkc
    /// No Unicode normalization.
    case none
  }

  /// The reject reason for a record whose text is empty after normalization.
  public static let emptyReason = "empty_after_normalize"

  /// The Unicode normalization form.
  public let form: Form
  /// The whitespace and control rules.
  let layout: TextLayout

  /// Creates the stage; the parameters are the op's config keys, with the same defaults.
  public init(
    form: Form = .nfc, removeControl: Bool = true, unifySpaces: Bool = true, collapseSpaces: Bool = true,
    keepIndentation: Bool = true, trimLines: Bool = true, maxBlankLines: Int = 2
  ) {
    self.form = form
    self.layout = TextLayout(
      removeControl: removeControl, unifySpaces: unifySpaces, collapseSpaces: collapseSpaces,
      keepIndentation: keepIndentation, trimLines: trimLines, maxBlankLines: max(0, maxBlankLines))
  }

  /// Creates the stage from a config validated against `descriptor`.
  init(options: Options) {
    self.init(
      form: Form(rawValue: options.form) ?? .nfc, removeControl: options.removeControl,
      unifySpaces: options.unifySpaces, collapseSpaces: options.collapseSpaces,
      keepIndentation: options.keepIndentation, trimLines: options.trimLines,
      maxBlankLines: options.maxBlankLines)
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      "nfc", oneOf: Form.allCases.map(\.rawValue),
      "Unicode normalization: \"nfc\" (canonical), \"nfkc\" (also folds ligatures and fullwidth forms) or \"none\".")
    var form: String
    @Setting(true, "Remove C0/C1 control characters (except tab and line breaks), U+200B, U+2060 and U+FEFF.")
    var removeControl: Bool
    @Setting(true, "Turn no-break, typographic and ideographic spaces (U+00A0, U+2000-200A, U+3000, ...) into ' '.")
    var unifySpaces: Bool
    @Setting(true, "Turn each run of spaces and tabs inside a line into one space.") var collapseSpaces: Bool
    @Setting(true, "With collapseSpaces, keep the spaces and tabs that start a line (code indentation).")
    var keepIndentation: Bool
    @Setting(true, "Remove spaces and tabs at the end of each line.") var trimLines: Bool
    @Setting(
      2, in: 0...Int.max,
      "Keep at most this many consecutive blank lines; blank lines at the start and end are always removed.")
    var maxBlankLines: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "normalize", version: 1,
    summary: "Normalize text: Unicode NFC, line breaks, control characters, spaces and blank lines.",
    options: Options.self,
    make: { options in .record(Normalize(options: options)) })

  /// Normalizes the record's text in place, or drops it when nothing is left.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict {
    let (replacement, inputIsEmpty) = record.withTextUTF8 { bytes in (normalizedBytes(bytes), bytes.isEmpty) }
    guard let replacement else {
      return inputIsEmpty ? .drop(reason: Self.emptyReason) : .keep
    }
    guard !replacement.isEmpty else { return .drop(reason: Self.emptyReason) }
    record.text = String(decoding: replacement, as: UTF8.self)
    return .keep
  }

  /// `text` normalized as `process` would (an empty result means the record would be dropped).
  public func normalize(_ text: String) -> String {
    var text = text
    return text.withUTF8 { bytes in normalizedBytes(bytes).map { String(decoding: $0, as: UTF8.self) } } ?? text
  }

  /// The normalized bytes, or `nil` when they equal `input`.
  func normalizedBytes(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    let compatibility: Bool? =
      switch form {
      case .nfc: false
      case .nfkc: true
      case .none: nil
      }
    let first = layout.apply(to: input, quickCheck: compatibility)
    guard let compatibility, !first.isNormalizationStable else { return first.bytes }

    // Slow path: something outside the blocks the quick check knows, so let Foundation decide.
    let normalized =
      first.bytes.map { bytes in
        bytes.withUnsafeBufferPointer { UnicodeNormalization.normalize($0, compatibility: compatibility) }
      } ?? UnicodeNormalization.normalize(input, compatibility: compatibility)
    let result = normalized.withUnsafeBufferPointer { bytes in
      // Normalization can make new spaces (NFKC) or turn U+2000/U+2001 into other spaces (NFC
      // singletons), so the layout rules run once more; when nothing changes that is one scan.
      layout.apply(to: bytes, quickCheck: nil).bytes ?? normalized
    }
    return result.elementsEqual(input) ? nil : result
  }
}
