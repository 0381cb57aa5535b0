import Foundation

/// The kind of a JSON value, as found by the scanner.
public enum JSONKind: UInt8, Sendable {
  /// `{...}`
  case object
  /// `[...]`
  case array
  /// `"..."`
  case string
  /// A number literal.
  case number
  /// `true` or `false`.
  case bool
  /// `null`.
  case null
}

/// Why a byte sequence is not valid JSON text.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
  /// The family of the problem; record readers turn it into a reject reason.
  public enum Kind: String, Sendable {
    /// The bytes are not valid UTF-8 (RFC 8259 requires UTF-8).
    case invalidUTF8 = "invalid_utf8"
    /// The bytes are UTF-8 but not JSON.
    case malformed = "malformed_json"
  }
  /// The family of the problem.
  public var kind: Kind
  /// Byte offset of the problem in the scanned text.
  public var offset: Int
  /// What is wrong, in words.
  public var message: String

  /// Creates an error.
  public init(_ kind: Kind, offset: Int, _ message: String) {
    self.kind = kind
    self.offset = offset
    self.message = message
  }

  /// `message at byte N`.
  public var description: String { "\(message) at byte \(offset)" }
}

/// One member of a scanned top-level object: its key and where its value's text lies.
public struct JSONMember: Sendable {
  /// The decoded key.
  public var key: String
  /// Byte range of the value's text (for a string, including its quotes).
  public var value: Range<Int>
  /// The kind of the value.
  public var kind: JSONKind

  /// Creates a member.
  public init(key: String, value: Range<Int>, kind: JSONKind) {
    self.key = key
    self.value = value
    self.kind = kind
  }
}

/// A validating byte-level JSON scanner.
///
/// It checks the whole text (grammar, escapes, strict UTF-8) in one pass without building
/// values, and reports where the members of the top-level object are, so that a record can
/// materialize only the fields a stage touches and copy the rest through byte for byte.
/// Eight bytes at a time are skipped inside strings when none of them is special.
public enum JSONScanner {
  /// Objects and arrays nested deeper than this are rejected: deep recursion would risk the stack.
  public static let maximumDepth = 512

  /// Validates `bytes` as one JSON object (surrounding whitespace allowed) and returns its members.
  public static func scanObject(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> [JSONMember] {
    guard let base = bytes.baseAddress, !bytes.isEmpty else {
      throw JSONSyntaxError(.malformed, offset: 0, "empty line, expected a JSON object")
    }
    var cursor = Cursor(base: base, end: bytes.count)
    cursor.skipWhitespace()
    var members: [JSONMember] = []
    members.reserveCapacity(4)
    do throws(JSONSyntaxError) {
      guard cursor.position < cursor.end, base[cursor.position] == UInt8(ascii: "{") else {
        if cursor.position < cursor.end {
          throw JSONSyntaxError(.malformed, offset: cursor.position, "expected a JSON object")
        }
        throw JSONSyntaxError(.malformed, offset: cursor.position, "blank line, expected a JSON object")
      }
      try cursor.scanObject(depth: 1, members: &members)
      cursor.skipWhitespace()
      if cursor.position != cursor.end {
        throw JSONSyntaxError(.malformed, offset: cursor.position, "unexpected text after the JSON object")
      }
    } catch {
      throw utf8Checked(error, bytes)
    }
    return members
  }

  /// Validates `bytes` as one JSON value of any kind (surrounding whitespace allowed).
  public static func validate(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONKind {
    guard let base = bytes.baseAddress, !bytes.isEmpty else {
      throw JSONSyntaxError(.malformed, offset: 0, "empty text, expected a JSON value")
    }
    var cursor = Cursor(base: base, end: bytes.count)
    cursor.skipWhitespace()
    do throws(JSONSyntaxError) {
      let kind = try cursor.scanValue(depth: 0)
      cursor.skipWhitespace()
      if cursor.position != cursor.end {
        throw JSONSyntaxError(.malformed, offset: cursor.position, "unexpected text after the JSON value")
      }
      return kind
    } catch {
      throw utf8Checked(error, bytes)
    }
  }

  /// `.malformed` promises the bytes are UTF-8; when they are not (an invalid byte outside a
  /// string, or after the first syntax error), the error becomes `.invalidUTF8` at the first
  /// bad byte. Runs only on the error path.
  static func utf8Checked(_ error: JSONSyntaxError, _ bytes: UnsafeBufferPointer<UInt8>) -> JSONSyntaxError {
    guard error.kind == .malformed, let base = bytes.baseAddress else { return error }
    var cursor = Cursor(base: base, end: bytes.count)
    while cursor.position < cursor.end {
      if base[cursor.position] < 0x80 {
        cursor.position += 1
        continue
      }
      do throws(JSONSyntaxError) {
        try cursor.checkUTF8Sequence()
      } catch let utf8Error {
        return utf8Error
      }
    }
    return error
  }

  /// Scans the members of the object whose text is `bytes[range]` (used to edit nested objects).
  public static func members(
    ofObjectIn bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>
  ) throws(JSONSyntaxError) -> [JSONMember] {
    guard let base = bytes.baseAddress else { return [] }
    var cursor = Cursor(base: base, end: range.upperBound)
    cursor.position = range.lowerBound
    cursor.skipWhitespace()
    guard cursor.position < cursor.end, base[cursor.position] == UInt8(ascii: "{") else {
      throw JSONSyntaxError(.malformed, offset: cursor.position, "expected a JSON object")
    }
    var members: [JSONMember] = []
    try cursor.scanObject(depth: 1, members: &members)
    return members
  }
}

// MARK: - Cursor

/// Position in a byte buffer; the grammar is written as its methods.
struct Cursor {
  let base: UnsafePointer<UInt8>
  let end: Int
  var position = 0

  init(base: UnsafePointer<UInt8>, end: Int) {
    self.base = base
    self.end = end
  }

  @inline(__always)
  mutating func skipWhitespace() {
    while position < end {
      let byte = base[position]
      guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
      position += 1
    }
  }

  mutating func scanValue(depth: Int) throws(JSONSyntaxError) -> JSONKind {
    guard position < end else {
      throw JSONSyntaxError(.malformed, offset: position, "unexpected end of text, expected a value")
    }
    switch base[position] {
    case UInt8(ascii: "\""):
      try scanString()
      return .string
    case UInt8(ascii: "{"):
      guard depth < JSONScanner.maximumDepth else {
        throw JSONSyntaxError(.malformed, offset: position, "nesting deeper than \(JSONScanner.maximumDepth)")
      }
      var ignored: [JSONMember]? = nil
      try scanObjectBody(depth: depth + 1, members: &ignored)
      return .object
    case UInt8(ascii: "["):
      guard depth < JSONScanner.maximumDepth else {
        throw JSONSyntaxError(.malformed, offset: position, "nesting deeper than \(JSONScanner.maximumDepth)")
      }
      try scanArray(depth: depth + 1)
      return .array
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      try scanNumber()
      return .number
    default:
      if base[position] >= 0x80 {
        try checkUTF8Sequence()
      }
      throw JSONSyntaxError(.malformed, offset: position, "unexpected character, expected a value")
    }
  }

  mutating func scanObject(depth: Int, members: inout [JSONMember]) throws(JSONSyntaxError) {
    var collected: [JSONMember]? = members
    members = []  // keep `collected` the only reference, or the first append copies the buffer
    try scanObjectBody(depth: depth, members: &collected)
    members = collected ?? []
  }

  /// Scans `{...}`; collects top-level members when `members` is non-nil.
  mutating func scanObjectBody(depth: Int, members: inout [JSONMember]?) throws(JSONSyntaxError) {
    position += 1  // {
    skipWhitespace()
    if position < end, base[position] == UInt8(ascii: "}") {
      position += 1
      return
    }
    while true {
      guard position < end, base[position] == UInt8(ascii: "\"") else {
        throw JSONSyntaxError(.malformed, offset: position, "expected a string key in object")
      }
      let keyStart = position
      let keyHasEscape = try scanString()
      let keyEnd = position
      skipWhitespace()
      guard position < end, base[position] == UInt8(ascii: ":") else {
        throw JSONSyntaxError(.malformed, offset: position, "expected ':' after object key")
      }
      position += 1
      skipWhitespace()
      let valueStart = position
      let kind = try scanValue(depth: depth)
      if members != nil {
        let buffer = UnsafeBufferPointer(start: base, count: end)
        let key = JSONString.decode(buffer, range: keyStart..<keyEnd, hasEscapes: keyHasEscape)
        members?.append(JSONMember(key: key, value: valueStart..<position, kind: kind))
      }
      skipWhitespace()
      guard position < end else {
        throw JSONSyntaxError(.malformed, offset: position, "unexpected end of text inside an object")
      }
      if base[position] == UInt8(ascii: ",") {
        position += 1
        skipWhitespace()
        continue
      }
      if base[position] == UInt8(ascii: "}") {
        position += 1
        return
      }
      throw JSONSyntaxError(.malformed, offset: position, "expected ',' or '}' in object")
    }
  }

  mutating func scanArray(depth: Int) throws(JSONSyntaxError) {
    position += 1  // [
    skipWhitespace()
    if position < end, base[position] == UInt8(ascii: "]") {
      position += 1
      return
    }
    while true {
      _ = try scanValue(depth: depth)
      skipWhitespace()
      guard position < end else {
        throw JSONSyntaxError(.malformed, offset: position, "unexpected end of text inside an array")
      }
      if base[position] == UInt8(ascii: ",") {
        position += 1
        skipWhitespace()
        continue
      }
      if base[position] == UInt8(ascii: "]") {
        position += 1
        return
      }
      throw JSONSyntaxError(.malformed, offset: position, "expected ',' or ']' in array")
    }
  }

  mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
    let count = literal.utf8CodeUnitCount
    guard end - position >= count, memcmp(base + position, literal.utf8Start, count) == 0 else {
      throw JSONSyntaxError(.malformed, offset: position, "invalid literal, expected \(literal)")
    }
    position += count
  }

  mutating func scanNumber() throws(JSONSyntaxError) {
    let start = position
    if base[position] == UInt8(ascii: "-") { position += 1 }
    guard position < end, isDigit(base[position]) else {
      throw JSONSyntaxError(.malformed, offset: start, "invalid number")
    }
    if base[position] == UInt8(ascii: "0") {
      position += 1
    } else {
      while position < end, isDigit(base[position]) { position += 1 }
    }
    if position < end, base[position] == UInt8(ascii: ".") {
      position += 1
      guard position < end, isDigit(base[position]) else {
        throw JSONSyntaxError(.malformed, offset: start, "invalid number: digits expected after '.'")
      }
      while position < end, isDigit(base[position]) { position += 1 }
    }
    if position < end, base[position] | 0x20 == UInt8(ascii: "e") {
      position += 1
      if position < end, base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-") {
        position += 1
      }
      guard position < end, isDigit(base[position]) else {
        throw JSONSyntaxError(.malformed, offset: start, "invalid number: digits expected in exponent")
      }
      while position < end, isDigit(base[position]) { position += 1 }
    }
  }

  @inline(__always)
  func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

  /// Scans a string starting at its opening quote; returns whether it contains escapes.
  @discardableResult
  mutating func scanString() throws(JSONSyntaxError) -> Bool {
    let start = position
    position += 1  // opening quote
    var hasEscapes = false
    while true {
      // Fast path: skip 8 plain ASCII bytes at a time (no quote, backslash, control or non-ASCII),
      // then jump straight to the first special byte of the word.
      while end - position >= 8 {
        let word = UInt64(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
        let special = Cursor.specialBytes(word)
        if special == 0 {
          position += 8
        } else {
          position += special.trailingZeroBitCount >> 3
          break
        }
      }
      guard position < end else {
        throw JSONSyntaxError(.malformed, offset: start, "unterminated string")
      }
      let byte = base[position]
      if byte == UInt8(ascii: "\"") {
        position += 1
        return hasEscapes
      }
      if byte == UInt8(ascii: "\\") {
        hasEscapes = true
        try scanEscape()
        continue
      }
      if byte < 0x20 {
        throw JSONSyntaxError(.malformed, offset: position, "unescaped control character in string")
      }
      if byte >= 0x80 {
        try checkUTF8Sequence()
        continue
      }
      position += 1
    }
  }

  /// True when none of the eight bytes is `"`, `\`, below 0x20 or above 0x7F.
  @inline(__always)
  static func isPlain(_ word: UInt64) -> Bool { specialBytes(word) == 0 }

  /// The high bit of each byte (little-endian order) that may be `"`, `\`, below 0x20 or above
  /// 0x7F. The lowest flagged byte is always a real one: borrows only run upwards from a real
  /// match, so flags above it may be false alarms, flags below it never are.
  @inline(__always)
  static func specialBytes(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    // A byte below 0x20 borrows when 0x20 is subtracted; high bits mark candidates.
    let control = (word &- ones &* 0x20) & ~word
    let quoteXor = word ^ (ones &* 0x22)
    let quote = (quoteXor &- ones) & ~quoteXor
    let slashXor = word ^ (ones &* 0x5C)
    let slash = (slashXor &- ones) & ~slashXor
    return (control | quote | slash | word) & highs
  }

  mutating func scanEscape() throws(JSONSyntaxError) {
    let start = position
    position += 1
    guard position < end else {
      throw JSONSyntaxError(.malformed, offset: start, "unterminated escape sequence")
    }
    switch base[position] {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
      UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
      position += 1
    case UInt8(ascii: "u"):
      guard end - position >= 5 else {
        throw JSONSyntaxError(.malformed, offset: start, "truncated \\u escape")
      }
      for offset in 1...4 where JSONString.hexValue(base[position + offset]) == nil {
        throw JSONSyntaxError(.malformed, offset: start, "invalid \\u escape: four hex digits expected")
      }
      position += 5
    default:
      throw JSONSyntaxError(.malformed, offset: start, "invalid escape sequence")
    }
  }

  /// Checks one multi-byte UTF-8 sequence strictly (no overlongs, no surrogates, at most U+10FFFF).
  mutating func checkUTF8Sequence() throws(JSONSyntaxError) {
    let lead = base[position]
    let available = end - position
    @inline(__always) func continuation(_ index: Int) -> Bool {
      index < available && base[position + index] & 0xC0 == 0x80
    }
    switch lead {
    case 0xC2...0xDF:
      if continuation(1) {
        position += 2
        return
      }
    case 0xE0...0xEF:
      if continuation(1) && continuation(2) {
        let second = base[position + 1]
        let valid =
          (lead == 0xE0 && second >= 0xA0) || (lead == 0xED && second < 0xA0)
          || (lead != 0xE0 && lead != 0xED)
        if valid {
          position += 3
          return
        }
      }
    case 0xF0...0xF4:
      if continuation(1) && continuation(2) && continuation(3) {
        let second = base[position + 1]
        let valid =
          (lead == 0xF0 && second >= 0x90) || (lead == 0xF4 && second < 0x90) || (lead != 0xF0 && lead != 0xF4)
        if valid {
          position += 4
          return
        }
      }
    default:
      break
    }
    throw JSONSyntaxError(.invalidUTF8, offset: position, "invalid UTF-8 byte sequence")
  }
}
