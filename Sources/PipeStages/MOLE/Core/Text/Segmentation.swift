/// One sentence (or line) of a text: its content bytes and the whitespace after it.
///
/// Perturbations move contents and keep separators where they were, so a shuffled text keeps
/// its paragraph layout and never glues two sentences together.
struct Segment: Equatable {
  /// The first byte of the content (never whitespace).
  var start: Int
  /// One past the last content byte (never whitespace).
  var end: Int
  /// One past the separator: the next segment's start, or the end of the text.
  var separatorEnd: Int
}

/// Splits UTF-8 text into sentences and lines.
///
/// A segment ends at a line break; after `.`, `!` or `?` (and any closing quotes) followed by
/// whitespace or the end, unless the next word starts with a lowercase ASCII letter or the
/// word before a `.` is a single letter or digit (`e.g.`, `1.`) or a common abbreviation; and
/// right after `。`, `！`, `？`, the danda or the Arabic question mark, whatever follows.
enum Segmentation {
  /// Appends the segments of `bytes` to `segments` (cleared first) and returns where the first
  /// one starts (the leading whitespace is kept as a prefix).
  @discardableResult
  static func split(_ bytes: UnsafeBufferPointer<UInt8>, into segments: inout [Segment]) -> Int {
    segments.removeAll(keepingCapacity: true)
    let count = bytes.count
    var index = skipWhitespace(bytes, from: 0)
    let prefixEnd = index
    var start = index
    var contentEnd = -1  // -1: the current segment has no content yet
    while index < count {
      let (scalar, length) = UTF8Decoding.decode(bytes, at: index)
      switch ScalarClass.of(scalar) {
      case .newline:
        if contentEnd >= 0 {
          index = close(bytes, start: start, end: contentEnd, at: index, into: &segments)
          start = index
          contentEnd = -1
        } else {
          index += length
        }
      case .space:
        index += length
      case .terminal:
        var after = index + length
        while after < count {
          let (next, nextLength) = UTF8Decoding.decode(bytes, at: after)
          let nextClass = ScalarClass.of(next)
          guard nextClass == .terminal || nextClass == .closer else { break }
          after += nextLength
        }
        contentEnd = after
        if endsSentence(bytes, terminalAt: index, after: after) {
          index = close(bytes, start: start, end: after, at: after, into: &segments)
          start = index
          contentEnd = -1
        } else {
          index = after
        }
      case .strongTerminal:
        var after = index + length
        while after < count {
          let (next, nextLength) = UTF8Decoding.decode(bytes, at: after)
          let nextClass = ScalarClass.of(next)
          guard nextClass == .strongTerminal || nextClass == .closer else { break }
          after += nextLength
        }
        index = close(bytes, start: start, end: after, at: after, into: &segments)
        start = index
        contentEnd = -1
      default:
        index += length
        contentEnd = index
      }
    }
    if contentEnd >= 0 {
      segments.append(Segment(start: start, end: contentEnd, separatorEnd: count))
    }
    return prefixEnd
  }

  /// Appends the segment `start..<end` with the whitespace from `at`; returns the next start.
  @inline(__always)
  private static func close(
    _ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int, at: Int, into segments: inout [Segment]
  ) -> Int {
    let next = skipWhitespace(bytes, from: at)
    segments.append(Segment(start: start, end: end, separatorEnd: next))
    return next
  }

  /// The first index at or after `from` that is not whitespace.
  @inline(__always)
  static func skipWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
    var index = from
    let count = bytes.count
    while index < count {
      let (scalar, length) = UTF8Decoding.decode(bytes, at: index)
      let scalarClass = ScalarClass.of(scalar)
      guard scalarClass == .space || scalarClass == .newline else { break }
      index += length
    }
    return index
  }

  /// Whether the terminal run at `terminalAt..<after` ends a sentence.
  private static func endsSentence(_ bytes: UnsafeBufferPointer<UInt8>, terminalAt: Int, after: Int) -> Bool {
    let count = bytes.count
    if after < count {
      let (next, _) = UTF8Decoding.decode(bytes, at: after)
      let nextClass = ScalarClass.of(next)
      guard nextClass == .space || nextClass == .newline else { return false }
    }
    // A lowercase word after the terminal continues the sentence ("i.e. the", "panic! macro").
    let nextWord = skipWhitespace(bytes, from: after)
    if nextWord < count, (0x61...0x7A).contains(bytes[nextWord]) { return false }
    guard bytes[terminalAt] == UInt8(ascii: ".") else { return true }
    var wordStart = terminalAt
    while wordStart > 0 {
      let byte = bytes[wordStart - 1]
      guard (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) else {
        break
      }
      wordStart -= 1
    }
    let wordLength = terminalAt - wordStart
    if wordLength == 1 { return false }
    if wordLength >= 2 && wordLength <= 3 {
      var key: UInt32 = 0
      for position in wordStart..<terminalAt { key = key << 8 | UInt32(bytes[position] | 0x20) }
      if abbreviations.contains(key) { return false }
    }
    return true
  }

  /// Short abbreviations that are followed by a capitalised name ("Dr. Smith", "Fig. 3"),
  /// packed as lowercase ASCII bytes.
  private static let abbreviations: Set<UInt32> = Set(
    ["mr", "mrs", "ms", "dr", "st", "vs", "no", "fig", "cf", "jr", "sr", "inc", "ltd", "co", "eq", "vol", "pp", "ch"]
      .map { word in word.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } })

  /// Whether `segment` ends with sentence punctuation (`.`, `!`, `?`, `。`…), possibly
  /// followed by closing quotes or brackets.
  static func isTerminated(_ bytes: UnsafeBufferPointer<UInt8>, _ segment: Segment) -> Bool {
    var position = segment.end
    while position > segment.start {
      let start = UTF8Decoding.previousStart(bytes, before: position)
      let (scalar, _) = UTF8Decoding.decode(bytes, at: start)
      switch ScalarClass.of(scalar) {
      case .closer: position = start
      case .terminal, .strongTerminal: return true
      default: return false
      }
    }
    return false
  }

  /// The number of segments in `bytes`; for callers that only count.
  static func count(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var segments: [Segment] = []
    split(bytes, into: &segments)
    return segments.count
  }
}
