import Foundation

/// A materialized JSON value: used for metadata fields, stage configs and pipeline files.
///
/// Records are not parsed into this type as a whole; see `Record`, which keeps the original
/// bytes and materializes only the fields a stage touches.
public enum JSONValue: Sendable, Equatable {
  /// `null`
  case null
  /// `true` or `false`
  case bool(Bool)
  /// An integer literal that fits in 64 bits.
  case int(Int64)
  /// Any other number.
  case double(Double)
  /// A string.
  case string(String)
  /// An array.
  case array([JSONValue])
  /// An object, keys in their original order.
  case object(JSONObject)

  /// The JSON type name used in error messages ("a string", "an object").
  public var typeDescription: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .int, .double: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }

  /// The string, if this is a string.
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  /// The number as a `Double`, if this is a number.
  public var doubleValue: Double? {
    switch self {
    case .int(let value): return Double(value)
    case .double(let value): return value
    default: return nil
    }
  }

  /// The number as an `Int`, if this is an integral number.
  public var intValue: Int? {
    switch self {
    case .int(let value): return Int(exactly: value)
    case .double(let value): return value.rounded() == value ? Int(exactly: value) : nil
    default: return nil
    }
  }

  /// The boolean, if this is a boolean.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// The object, if this is an object.
  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// The elements, if this is an array.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }
}

/// A JSON object that keeps its keys in order and finds them by name.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
  /// The keys, in order.
  public private(set) var keys: [String] = []
  private var values: [String: JSONValue] = [:]

  /// Creates an empty object.
  public init() {}

  /// Creates an object from key-value pairs; a repeated key keeps its first position, last value.
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    for (key, value) in elements { self[key] = value }
  }

  /// Creates an object from ordered pairs.
  public init(_ pairs: [(String, JSONValue)]) {
    for (key, value) in pairs { self[key] = value }
  }

  /// The value for `key`; setting `nil` removes the key.
  public subscript(key: String) -> JSONValue? {
    get { values[key] }
    set {
      if let newValue {
        if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
      } else if values.removeValue(forKey: key) != nil {
        keys.removeAll { $0 == key }
      }
    }
  }

  /// The members in order.
  public var members: [(key: String, value: JSONValue)] {
    keys.map { ($0, values[$0] ?? .null) }
  }

  /// The number of members.
  public var count: Int { keys.count }

  /// Whether the object has no members.
  public var isEmpty: Bool { keys.isEmpty }

  /// Objects are equal when they have the same members in the same order.
  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    lhs.keys == rhs.keys && lhs.values == rhs.values
  }
}

// MARK: - Parsing

/// A syntax error in a JSON document, with its line and column (1-based).
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
  /// What is wrong.
  public var message: String
  /// 1-based line of the problem.
  public var line: Int
  /// 1-based column (in bytes) of the problem.
  public var column: Int

  /// `line L, column C: message`.
  public var description: String { "line \(line), column \(column): \(message)" }
}

extension JSONValue {
  /// Parses a complete JSON document.
  ///
  /// Stricter than RFC 8259 in one way that matters for config files: a key repeated in one
  /// object is an error, since the second value would silently win.
  public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
    do {
      return try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) -> JSONValue in
        _ = try JSONScanner.validate(buffer)
        var parser = TreeParser(bytes: buffer)
        return try parser.parseDocument()
      }
    } catch {
      let offset = min(error.offset, bytes.count)
      var line = 1
      var lineStart = 0
      for index in 0..<offset where bytes[index] == 0x0A {
        line += 1
        lineStart = index + 1
      }
      throw JSONParseError(message: error.message, line: line, column: offset - lineStart + 1)
    }
  }

  /// Parses a complete JSON document from a string.
  public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
    try parse(Array(text.utf8))
  }

  /// Parses already validated JSON text in `bytes[range]`.
  public static func parse(validated bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> JSONValue {
    var parser = TreeParser(bytes: bytes)
    parser.position = range.lowerBound
    return (try? parser.parseValue()) ?? .null
  }
}

/// Builds values from text the scanner already validated, so only semantics are checked here.
private struct TreeParser {
  let bytes: UnsafeBufferPointer<UInt8>
  var position = 0

  init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
    skipWhitespace()
    return try parseValue()
  }

  mutating func skipWhitespace() {
    while position < bytes.count {
      let byte = bytes[position]
      guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
      position += 1
    }
  }

  mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
    switch bytes[position] {
    case UInt8(ascii: "{"):
      position += 1
      var object = JSONObject()
      skipWhitespace()
      if bytes[position] == UInt8(ascii: "}") {
        position += 1
        return .object(object)
      }
      while true {
        let keyOffset = position
        let key = parseString()
        if object[key] != nil {
          throw JSONSyntaxError(.malformed, offset: keyOffset, "duplicate key \"\(key)\" in object")
        }
        skipWhitespace()
        position += 1  // :
        skipWhitespace()
        object[key] = try parseValue()
        skipWhitespace()
        let separator = bytes[position]
        position += 1
        if separator == UInt8(ascii: "}") { return .object(object) }
        skipWhitespace()
      }
    case UInt8(ascii: "["):
      position += 1
      var array: [JSONValue] = []
      skipWhitespace()
      if bytes[position] == UInt8(ascii: "]") {
        position += 1
        return .array(array)
      }
      while true {
        array.append(try parseValue())
        skipWhitespace()
        let separator = bytes[position]
        position += 1
        if separator == UInt8(ascii: "]") { return .array(array) }
        skipWhitespace()
      }
    case UInt8(ascii: "\""):
      return .string(parseString())
    case UInt8(ascii: "t"):
      position += 4
      return .bool(true)
    case UInt8(ascii: "f"):
      position += 5
      return .bool(false)
    case UInt8(ascii: "n"):
      position += 4
      return .null
    default:
      return parseNumber()
    }
  }

  mutating func parseString() -> String {
    let start = position
    position += 1
    var escaped = false
    while true {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\\") {
        escaped = true
        position += 2
        continue
      }
      position += 1
      if byte == UInt8(ascii: "\"") { break }
    }
    return JSONString.decode(bytes, range: start..<position, hasEscapes: escaped)
  }

  mutating func parseNumber() -> JSONValue {
    let start = position
    var isIntegral = true
    while position < bytes.count {
      let byte = bytes[position]
      if byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "e") {
        isIntegral = false
      } else if !(byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte &- UInt8(ascii: "0") < 10) {
        break
      }
      position += 1
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    if isIntegral, let value = Int64(text) { return .int(value) }
    return .double(Double(text) ?? 0)
  }
}

// MARK: - Writing

extension JSONValue {
  /// Appends compact JSON text to `out`; with `sortedKeys`, object keys are sorted bytewise,
  /// which gives the canonical form used for fingerprints.
  public func write(to out: inout [UInt8], sortedKeys: Bool = false) {
    switch self {
    case .null:
      out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    case .bool(let value):
      out.append(contentsOf: Array((value ? "true" : "false").utf8))
    case .int(let value):
      out.append(contentsOf: Array(String(value).utf8))
    case .double(let value):
      out.append(contentsOf: Array(JSONValue.formatDouble(value).utf8))
    case .string(let value):
      JSONString.append(value, to: &out)
    case .array(let elements):
      out.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        element.write(to: &out, sortedKeys: sortedKeys)
      }
      out.append(UInt8(ascii: "]"))
    case .object(let object):
      out.append(UInt8(ascii: "{"))
      let keys = sortedKeys ? object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } : object.keys
      for (index, key) in keys.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        JSONString.append(key, to: &out)
        out.append(UInt8(ascii: ":"))
        (object[key] ?? .null).write(to: &out, sortedKeys: sortedKeys)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  /// Compact JSON text.
  public var jsonText: String {
    var out: [UInt8] = []
    write(to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// Canonical JSON text: compact, keys sorted, numbers in shortest round-trip form.
  public var canonicalText: String {
    var out: [UInt8] = []
    write(to: &out, sortedKeys: true)
    return String(decoding: out, as: UTF8.self)
  }

  /// Shortest text that reads back as the same double; integral values without a fraction.
  /// Non-finite values have no JSON form and are written as `null`.
  public static func formatDouble(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    // Swift writes integral values below 1e16 with a ".0" suffix, above it in exponent form.
    if value.rounded() == value, abs(value) < 1e16 {
      return String(Int64(value))
    }
    return "\(value)"
  }
}
