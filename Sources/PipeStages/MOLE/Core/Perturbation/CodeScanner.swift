/// Finds comments and string literals in source code of an unknown language.
///
/// Only two comment families are told apart: C-like (`//`, `/* */`: C, C++, Java, JavaScript,
/// Rust, Go, Swift) and hash (`#`, with Python docstrings: Python, shell, Perl, Ruby). That
/// covers the code in the project's corpora; a language outside both simply has fewer
/// comments found, so the documentation rule returns `nil` more often.
struct CodeScanner {
  /// The comment family of a text.
  enum Family {
    /// `//` line comments and `/* */` blocks; `#` starts preprocessor lines.
    case cLike
    /// `#` line comments; a triple-quoted string that starts a line is a docstring.
    case hash

    /// The line-comment marker with its trailing space.
    var commentPrefix: String {
      switch self {
      case .cLike: "// "
      case .hash: "# "
      }
    }
  }

  /// A comment (docstrings included) or a string literal.
  struct Region {
    /// The bytes of the region, delimiters included.
    var range: Range<Int>
    /// Whether it is a comment or docstring (otherwise a string literal).
    var isComment: Bool
  }

  /// The family of the scanned text.
  let family: Family
  /// Comments and strings in order.
  let regions: [Region]

  /// Scans `bytes`.
  init(_ bytes: UnsafeBufferPointer<UInt8>) {
    family = Self.guessFamily(bytes)
    regions = Self.scan(bytes, family: family)
  }

  /// The family with more telltale lines.
  static func guessFamily(_ bytes: UnsafeBufferPointer<UInt8>) -> Family {
    var hashVotes = 0
    var cVotes = 0
    let hashOpeners = ["def ", "import ", "from ", "elif ", "my ", "sub ", "use strict", "fi", "esac", "done", "#"]
    let cOpeners = ["//", "/*", "* ", "#include", "#define", "#if", "public ", "private ", "fn ", "func ", "}"]
    forEachLine(bytes) { line in
      var start = line.lowerBound
      while start < line.upperBound && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
      var end = line.upperBound
      while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 || bytes[end - 1] == 0x0D) { end -= 1 }
      guard end > start else { return }
      let trimmed = UnsafeBufferPointer(rebasing: bytes[start..<end])
      if cOpeners.contains(where: { trimmed.starts(with: $0.utf8) }) {
        cVotes += 1
      } else if hashOpeners.contains(where: { trimmed.starts(with: $0.utf8) }) {
        hashVotes += 1
      }
      switch bytes[end - 1] {
      case UInt8(ascii: ";"), UInt8(ascii: "{"): cVotes += 1
      case UInt8(ascii: ":"): hashVotes += 1
      default: break
      }
    }
    return hashVotes > cVotes ? .hash : .cLike
  }

  /// Calls `body` with the range of each line, without its line break.
  static func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
    var start = 0
    for index in 0..<bytes.count where bytes[index] == 0x0A {
      body(start..<index)
      start = index + 1
    }
    if start < bytes.count { body(start..<bytes.count) }
  }

  private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, family: Family) -> [Region] {
    var regions: [Region] = []
    let count = bytes.count
    var index = 0
    var lineIsBlankSoFar = true
    func byte(_ at: Int) -> UInt8 { at < count ? bytes[at] : 0 }
    while index < count {
      let current = bytes[index]
      switch current {
      case 0x0A:
        lineIsBlankSoFar = true
        index += 1
        continue
      case UInt8(ascii: "/") where family == .cLike && byte(index + 1) == UInt8(ascii: "/"):
        let end = endOfLine(bytes, from: index)
        regions.append(Region(range: index..<end, isComment: true))
        index = end
      case UInt8(ascii: "/") where family == .cLike && byte(index + 1) == UInt8(ascii: "*"):
        var end = index + 2
        while end < count && !(bytes[end] == UInt8(ascii: "*") && byte(end + 1) == UInt8(ascii: "/")) { end += 1 }
        end = min(count, end + 2)
        regions.append(Region(range: index..<end, isComment: true))
        index = end
      case UInt8(ascii: "#") where family == .hash && (index == 0 || bytes[index - 1] != UInt8(ascii: "$")):
        // A shebang is an instruction to the system, not documentation.
        let end = endOfLine(bytes, from: index)
        if !(index == 0 && byte(1) == UInt8(ascii: "!")) {
          regions.append(Region(range: index..<end, isComment: true))
        }
        index = end
      case UInt8(ascii: "\""), UInt8(ascii: "'"):
        if family == .hash && byte(index + 1) == current && byte(index + 2) == current {
          var end = index + 3
          while end < count && !(bytes[end] == current && byte(end + 1) == current && byte(end + 2) == current) {
            end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
          }
          end = min(count, end + 3)
          regions.append(Region(range: index..<end, isComment: lineIsBlankSoFar))
          index = end
        } else {
          // Strings end at their quote or, unclosed (a Rust lifetime, an apostrophe), at the line end.
          var end = index + 1
          while end < count && bytes[end] != current && bytes[end] != 0x0A {
            end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
          }
          if end < count && bytes[end] == current {
            end += 1
            regions.append(Region(range: index..<end, isComment: false))
            index = end
          } else {
            index += 1
          }
        }
      default:
        index += 1
      }
      if current != 0x20 && current != 0x09 { lineIsBlankSoFar = false }
    }
    return regions
  }

  private static func endOfLine(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
    var end = from
    while end < bytes.count && bytes[end] != 0x0A { end += 1 }
    return end
  }
}

/// Rebuilding a text from edits.
enum Edits {
  /// `bytes` with each `range` replaced by its bytes. Ranges must not overlap; insertions are
  /// empty ranges, applied before a replacement starting at the same place.
  static func apply(_ bytes: UnsafeBufferPointer<UInt8>, _ edits: [(range: Range<Int>, with: [UInt8])]) -> [UInt8] {
    let sorted = edits.enumerated().sorted {
      ($0.element.range.lowerBound, $0.element.range.count, $0.offset)
        < ($1.element.range.lowerBound, $1.element.range.count, $1.offset)
    }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 256)
    var cursor = 0
    for (_, edit) in sorted where edit.range.lowerBound >= cursor {
      out.append(bytes, cursor..<edit.range.lowerBound)
      out.append(contentsOf: edit.with)
      cursor = edit.range.upperBound
    }
    out.append(bytes, cursor..<bytes.count)
    return out
  }
}
