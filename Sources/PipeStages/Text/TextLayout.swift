import Foundation

/// The whitespace and control-character part of `normalize@1`, done in one pass over UTF-8.
///
/// The pass writes through a `LazyOutput`: as long as what it writes equals the input, nothing is
/// copied, so an already-clean document costs one scan and no allocation.
struct TextLayout: Sendable {
  /// Remove C0/C1 controls (except tab and line breaks), U+200B, U+2060 and U+FEFF.
  var removeControl = true
  /// Map U+00A0, U+1680, U+2000-200A, U+202F, U+205F and U+3000 to U+0020.
  var unifySpaces = true
  /// Turn each run of spaces and tabs inside a line into one space.
  var collapseSpaces = true
  /// With `collapseSpaces`, leave each line's leading run alone.
  var keepIndentation = true
  /// Drop spaces and tabs at the end of each line.
  var trimLines = true
  /// The most consecutive blank lines kept between two non-blank lines.
  var maxBlankLines = 2

  /// What a scalar is to the layout pass.
  enum ScalarClass {
    /// Copied as is.
    case other
    /// A space or tab, or (with `unifySpaces`) another Unicode space.
    case space
    /// Removed (with `removeControl`).
    case control
    /// Ends the line: LF, CR (CR LF counts once), VT, FF, NEL, U+2028, U+2029.
    case lineBreak
  }

  /// The result of a pass.
  struct Result {
    /// The new text, or `nil` when it equals the input byte for byte.
    var bytes: [UInt8]?
    /// Whether every kept non-ASCII scalar is in a block known to be stable under the
    /// requested normalization form (see `NormalizationQuickCheck`).
    var isNormalizationStable: Bool
  }

  @inline(__always)
  func classify(_ value: UInt32) -> ScalarClass {
    if value < 0x80 {
      switch value {
      case 0x0A, 0x0B, 0x0C, 0x0D: return .lineBreak
      case 0x20, 0x09: return .space
      case 0x00..<0x20, 0x7F: return removeControl ? .control : .other
      default: return .other
      }
    }
    switch value {
    // NEL and the Unicode separators are line breaks however they are spelled.
    case 0x85, 0x2028, 0x2029: return .lineBreak
    case 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: return unifySpaces ? .space : .other
    // C1 controls, and the invisible characters that break word matching without carrying
    // meaning. ZWNJ/ZWJ (U+200C/U+200D) stay: Persian, Indic scripts and emoji need them.
    case 0x80...0x9F, 0x200B, 0x2060, 0xFEFF: return removeControl ? .control : .other
    default: return .other
    }
  }

  /// Runs the pass over `input`.
  ///
  /// - Parameters:
  ///   - compatibility: which form the quick check tests for (`nil`: no check).
  ///   - wordAtATime: whether runs of printable ASCII are taken eight bytes at a time; off, the
  ///     pass goes byte by byte, which tests compare against.
  func apply(to input: UnsafeBufferPointer<UInt8>, quickCheck compatibility: Bool?, wordAtATime: Bool = true) -> Result
  {
    var pass = Pass(layout: self, input: input, compatibility: compatibility)
    pass.wordAtATime = wordAtATime
    pass.run()
    return Result(bytes: pass.output.finish(), isNormalizationStable: pass.check?.isStable ?? true)
  }

  // MARK: - The pass

  private struct Pass {
    let layout: TextLayout
    let input: UnsafeBufferPointer<UInt8>
    var output: LazyOutput
    var check: NormalizationQuickCheck?
    /// Whether a non-blank line has been written (so blank lines before it were the document's
    /// leading blank lines, which are dropped).
    var wroteContent = false
    /// Blank lines seen since the last non-blank line.
    var pendingBlankLines = 0
    /// The first `maxBlankLines` of them; only needed when blank lines keep their whitespace.
    var pendingBlankRanges: [Range<Int>] = []
    var wordAtATime = true

    init(layout: TextLayout, input: UnsafeBufferPointer<UInt8>, compatibility: Bool?) {
      self.layout = layout
      self.input = input
      self.output = LazyOutput(input)
      self.check = compatibility.map { NormalizationQuickCheck(compatibility: $0) }
    }

    /// Whether a line's leading run is collapsed like any other run.
    var collapsesIndentation: Bool { layout.collapseSpaces && !layout.keepIndentation }

    @inline(__always)
    func scalar(at index: Int) -> (value: UInt32, length: Int, kind: ScalarClass) {
      let byte = input[index]
      if byte < 0x80 { return (UInt32(byte), 1, layout.classify(UInt32(byte))) }
      let (value, length) = UTF8Scanning.decode(input, at: index)
      return (value, length, layout.classify(value))
    }

    mutating func run() {
      var index = 0
      let end = input.count
      while index < end {
        let lineStart = index
        // The leading run of spaces and controls decides whether the line is blank.
        var contentStart = index
        var isBlank = true
        while contentStart < end {
          let next = scalar(at: contentStart)
          if next.kind == .lineBreak { break }
          if next.kind == .other {
            isBlank = false
            break
          }
          contentStart += next.length
        }
        if isBlank {
          pendingBlankLines += 1
          if !layout.trimLines, pendingBlankRanges.count < layout.maxBlankLines {
            pendingBlankRanges.append(lineStart..<contentStart)
          }
          index = skipLineBreak(at: contentStart)
          continue
        }
        if wroteContent {
          output.append(0x0A)
          for blank in 0..<min(pendingBlankLines, layout.maxBlankLines) {
            if !layout.trimLines { writeWhitespace(pendingBlankRanges[blank], collapse: collapsesIndentation) }
            output.append(0x0A)
          }
          check?.resetToStarter()
        }
        // Leading blank lines of the document, and blank lines beyond the limit, are dropped.
        pendingBlankLines = 0
        pendingBlankRanges.removeAll(keepingCapacity: true)
        if lineStart < contentStart {
          writeWhitespace(lineStart..<contentStart, collapse: collapsesIndentation)
        }
        index = writeContent(from: contentStart)
        wroteContent = true
        index = skipLineBreak(at: index)
      }
      // Trailing blank lines (and the final line break) are dropped by never writing them.
    }

    /// The index after the line break at `index` (CR LF is one break), or `index` at the end.
    func skipLineBreak(at index: Int) -> Int {
      guard index < input.count else { return index }
      if input[index] == 0x0D, index + 1 < input.count, input[index + 1] == 0x0A { return index + 2 }
      return index + scalar(at: index).length
    }

    /// Writes a non-blank line's content starting at its first visible scalar; returns the
    /// index of the line break (or the end).
    mutating func writeContent(from start: Int) -> Int {
      var index = start
      var verbatimStart = start
      var spaceRunStart: Int? = nil
      let end = input.count
      while index < end {
        // Eight bytes of printable ASCII, single spaces between them included, after a printable
        // character: kept as they are (a single space collapses to itself). Byte by byte, each
        // space between words opened and closed a run of whitespace.
        if wordAtATime, spaceRunStart == nil, end - index >= 8, let base = input.baseAddress {
          let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
          if ASCIIWord.isASCII(word), ASCIIWord.isPlainText(word) {
            check?.addASCII()
            index += 8
            continue
          }
        }
        let byte = input[index]
        // ASCII letters, digits and punctuation: the overwhelmingly common case.
        if byte > 0x20, byte < 0x7F {
          if let runStart = spaceRunStart {
            writeWhitespace(runStart..<index, collapse: layout.collapseSpaces)
            spaceRunStart = nil
            verbatimStart = index
          }
          check?.addASCII()
          index += 1
          continue
        }
        let next = scalar(at: index)
        switch next.kind {
        case .other:
          if let runStart = spaceRunStart {
            writeWhitespace(runStart..<index, collapse: layout.collapseSpaces)
            spaceRunStart = nil
            verbatimStart = index
          }
          if next.value < 0x80 { check?.addASCII() } else { check?.add(next.value) }
        case .space, .control:
          if spaceRunStart == nil {
            output.append(verbatimStart..<index)
            spaceRunStart = index
          }
        case .lineBreak:
          if let runStart = spaceRunStart {
            if !layout.trimLines { writeWhitespace(runStart..<index, collapse: layout.collapseSpaces) }
          } else {
            output.append(verbatimStart..<index)
          }
          return index
        }
        index += next.length
      }
      if let runStart = spaceRunStart {
        if !layout.trimLines { writeWhitespace(runStart..<end, collapse: layout.collapseSpaces) }
      } else {
        output.append(verbatimStart..<end)
      }
      return end
    }

    /// Writes a run of spaces and controls: one space when collapsing (none if the run holds only
    /// controls), else each space with Unicode spaces as U+0020 and controls left out.
    mutating func writeWhitespace(_ range: Range<Int>, collapse: Bool) {
      var index = range.lowerBound
      var wroteSpace = false
      while index < range.upperBound {
        let next = scalar(at: index)
        if next.kind == .space {
          if !collapse {
            // Tabs and ASCII spaces are copied; other Unicode spaces become U+0020.
            output.append(next.value < 0x80 ? UInt8(next.value) : 0x20)
          } else if !wroteSpace {
            output.append(0x20)
          }
          wroteSpace = true
        }
        index += next.length
      }
      if wroteSpace { check?.resetToStarter() }
    }
  }
}

/// An output buffer that stays virtual while it equals its input.
///
/// Writers append as if always building a copy; until the first byte that differs, only a
/// count moves. `finish()` returns `nil` when the result is the input itself.
struct LazyOutput {
  private let input: UnsafeBufferPointer<UInt8>
  /// Bytes "written" so far; while `copy` is nil they equal `input[0..<count]`.
  private var count = 0
  private var copy: [UInt8]? = nil

  init(_ input: UnsafeBufferPointer<UInt8>) { self.input = input }

  /// Starts the real copy with everything written so far.
  private mutating func diverge() -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(input.count)
    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[0..<count]))
    return bytes
  }

  /// Appends one byte.
  @inline(__always)
  mutating func append(_ byte: UInt8) {
    if copy == nil {
      if count < input.count, input[count] == byte {
        count += 1
        return
      }
      copy = diverge()
    }
    copy?.append(byte)
    count += 1
  }

  /// Appends `input[range]`.
  mutating func append(_ range: Range<Int>) {
    guard !range.isEmpty else { return }
    if copy == nil {
      if range.lowerBound == count {
        count += range.count
        return
      }
      if count + range.count <= input.count, let base = input.baseAddress,
        memcmp(base + count, base + range.lowerBound, range.count) == 0
      {
        count += range.count
        return
      }
      copy = diverge()
    }
    copy?.append(contentsOf: UnsafeBufferPointer(rebasing: input[range]))
    count += range.count
  }

  /// The written bytes, or `nil` if they equal the input.
  func finish() -> [UInt8]? {
    if let copy { return copy }
    if count == input.count { return nil }
    // Only a prefix was written (trailing whitespace or blank lines were dropped).
    return Array(UnsafeBufferPointer(rebasing: input[0..<count]))
  }
}
