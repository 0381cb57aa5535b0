import PipeCore

// Helpers shared by the PipeCore tests: byte conversions, a scanner wrapper that returns a
// `Result`, reference implementations the fast paths are compared against, and random data.

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `JSONScanner.scanObject` on an array.
func scanObject(_ input: [UInt8]) -> Result<[JSONMember], JSONSyntaxError> {
  input.withUnsafeBufferPointer { buffer in
    Result { () throws(JSONSyntaxError) in try JSONScanner.scanObject(buffer) }
  }
}

/// `JSONScanner.validate` on an array.
func validateJSON(_ input: [UInt8]) -> Result<JSONKind, JSONSyntaxError> {
  input.withUnsafeBufferPointer { buffer in
    Result { () throws(JSONSyntaxError) in try JSONScanner.validate(buffer) }
  }
}

/// The scanner's error, or `nil` when the text was accepted.
func scanError(_ input: [UInt8]) -> JSONSyntaxError? {
  if case .failure(let error) = scanObject(input) { return error }
  return nil
}

/// `JSONString.decode` of a whole literal (quotes included).
func decodeLiteral(_ literal: [UInt8]) -> String {
  literal.withUnsafeBufferPointer { JSONString.decode($0, range: 0..<literal.count) }
}

/// `JSONString.append` as bytes.
func encodeLiteral(_ text: String) -> [UInt8] {
  var out: [UInt8] = []
  JSONString.append(text, to: &out)
  return out
}

/// Parses `line` as a record.
func makeRecord(_ line: [UInt8], fallbackID: String = "shard/1") throws(RecordError) -> Record {
  try line.withUnsafeBufferPointer { buffer throws(RecordError) -> Record in
    try Record(line: buffer, fallbackID: fallbackID)
  }
}

/// Parses `line` as a record.
func makeRecord(_ line: String, fallbackID: String = "shard/1") throws(RecordError) -> Record {
  try makeRecord(bytes(line), fallbackID: fallbackID)
}

/// The bytes `write` produces.
func written(_ record: Record) -> [UInt8] {
  var out: [UInt8] = []
  record.write(to: &out)
  return out
}

/// The slice `range` of `input` as a string (for readable member assertions).
func text(_ input: [UInt8], _ range: Range<Int>) -> String {
  String(decoding: input[range], as: UTF8.self)
}

// MARK: - Reference implementations

/// Byte-by-byte JSON string encoder: the obvious implementation the SWAR encoder must match.
func referenceEncode(_ text: String) -> [UInt8] {
  let hex = Array("0123456789abcdef".utf8)
  var out: [UInt8] = [0x22]
  for byte in text.utf8 {
    switch byte {
    case 0x22: out += [0x5C, 0x22]
    case 0x5C: out += [0x5C, 0x5C]
    case 0x0A: out += [0x5C, UInt8(ascii: "n")]
    case 0x0D: out += [0x5C, UInt8(ascii: "r")]
    case 0x09: out += [0x5C, UInt8(ascii: "t")]
    case 0x08: out += [0x5C, UInt8(ascii: "b")]
    case 0x0C: out += [0x5C, UInt8(ascii: "f")]
    case 0..<0x20: out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
    default: out.append(byte)
    }
  }
  out.append(0x22)
  return out
}

/// Whether a byte must be escaped in a JSON string.
func referenceNeedsEscape(_ byte: UInt8) -> Bool { byte == 0x22 || byte == 0x5C || byte < 0x20 }

/// Whether the scanner may skip a byte without looking at it: plain printable ASCII.
func referenceIsPlain(_ byte: UInt8) -> Bool { !referenceNeedsEscape(byte) && byte < 0x80 }

/// The offset of the first byte that is not part of valid UTF-8, per Swift's own validator.
func referenceFirstInvalidUTF8(_ input: [UInt8]) -> Int? {
  var index = 0
  while index < input.count {
    var decoder = UTF8()
    var iterator = input[index...].makeIterator()
    switch decoder.decode(&iterator) {
    case .scalarValue(let scalar): index += String(scalar).utf8.count
    case .emptyInput: return nil
    case .error: return index
    }
  }
  return nil
}

// MARK: - Random data

/// A random element of a non-empty array.
func pick<Element>(_ choices: [Element], _ rng: inout SeededRNG) -> Element {
  choices[Int.random(in: 0..<choices.count, using: &rng)]
}

/// Interesting scalars: ASCII letters, everything that needs escaping, and 2-, 3- and 4-byte UTF-8.
let interestingScalars: [Unicode.Scalar] = {
  var scalars: [Unicode.Scalar] = []
  scalars += "abcXYZ019 ~/'{}[]:,".unicodeScalars
  scalars += ["\"", "\\", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}", "\u{01}", "\u{1F}", "\u{7F}"]
  scalars += "éßжЯ€中文字ไทย😀🎉\u{10FFFF}\u{FFFD}\u{0301}\u{E000}".unicodeScalars
  return scalars
}()

/// A random string of `count` scalars, mostly plain ASCII runs so the 8-byte fast paths engage.
func randomString(_ rng: inout SeededRNG, maxCount: Int = 40) -> String {
  let count = Int.random(in: 0...maxCount, using: &rng)
  var scalars = String.UnicodeScalarView()
  for _ in 0..<count {
    if Int.random(in: 0..<3, using: &rng) == 0 {
      scalars.append(pick(interestingScalars, &rng))
    } else {
      scalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng)))
    }
  }
  return String(scalars)
}

/// A random JSON value of bounded depth.
func randomValue(_ rng: inout SeededRNG, depth: Int = 0) -> JSONValue {
  switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &rng) {
  case 0: return .null
  case 1: return .bool(Bool.random(using: &rng))
  case 2: return .int(Int64.random(in: -1_000_000...1_000_000, using: &rng))
  case 3: return .double((Double(Int.random(in: -9999...9999, using: &rng)) + 0.5) / 64)  // never integral
  case 4: return .string(randomString(&rng, maxCount: 12))
  case 5:
    return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
  default:
    var object = JSONObject()
    for index in 0..<Int.random(in: 0...3, using: &rng) {
      object["k\(index)" + randomString(&rng, maxCount: 3)] = randomValue(&rng, depth: depth + 1)
    }
    return .object(object)
  }
}

/// Random JSON whitespace (often none).
func randomWhitespace(_ rng: inout SeededRNG) -> String {
  guard Int.random(in: 0..<3, using: &rng) == 0 else { return "" }
  return String(
    (0..<Int.random(in: 1...3, using: &rng)).map { _ in pick([" ", "\t", "\n", "\r"], &rng) })
}
