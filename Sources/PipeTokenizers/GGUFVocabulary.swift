import Foundation
public import PipeCore

/// Reads the tokenizer a GGUF model file carries in its metadata (`tokenizer.ggml.*`): the
/// tokens, their types and the merges. Only the metadata at the head of the file is read;
/// the file is mapped, so the weights are never loaded.
///
/// GGUF (version 2 and 3): "GGUF", version (UInt32), tensor count and metadata count
/// (UInt64), then each metadata entry: key (UInt64 length + UTF-8), value type (UInt32) and
/// value. Strings are a UInt64 length and bytes; arrays an element type, a UInt64 count and
/// the elements. Little-endian throughout.
enum GGUFVocabulary {
  /// The pre-tokenizers llama.cpp names in `tokenizer.ggml.pre`, as the Hugging Face files
  /// of those models define them.
  static let preTokenizers:
    [String: (steps: [PreTokenizerStep], normalization: TokenizerNormalization, ignoreMerges: Bool)] = [
      "gpt-2": ([.split(.gpt2)], .none, false),
      "smollm": ([.isolateDigits, .split(.gpt2)], .none, false),
      // Qwen2's tokenizer.json normalizes to NFC (llama.cpp does not; see docs/tokenizers.md).
      "qwen2": ([.split(.qwen2)], .nfc, false),
      "llama-bpe": ([.split(.llama3)], .none, true),
      "llama3": ([.split(.llama3)], .none, true),
    ]

  static func load(path: String) throws -> Tokenizer {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
      throw PipeError(.input, "cannot read the GGUF file: \(error.localizedDescription)", file: path)
    }
    var reader = Reader(data: data, path: path)
    let metadata = try reader.readMetadata()
    func fail(_ key: String, _ message: String) -> PipeError {
      PipeError(.input, "GGUF key \(key): \(message)", file: path)
    }
    guard case .string(let model)? = metadata["tokenizer.ggml.model"] else {
      throw fail("tokenizer.ggml.model", "missing: the file carries no tokenizer")
    }
    guard model == "gpt2" else {
      throw fail(
        "tokenizer.ggml.model",
        "\"\(model)\" is not supported: only byte-level BPE (\"gpt2\": GPT-2, Llama 3, Qwen2, SmolLM2)")
    }
    let preName: String
    if case .string(let name)? = metadata["tokenizer.ggml.pre"] { preName = name } else { preName = "gpt-2" }
    guard let pre = preTokenizers[preName] else {
      throw fail(
        "tokenizer.ggml.pre",
        "\"\(preName)\" is not supported; known: \(preTokenizers.keys.sorted().joined(separator: ", "))")
    }
    guard case .strings(let tokens)? = metadata["tokenizer.ggml.tokens"] else {
      throw fail("tokenizer.ggml.tokens", "missing or not an array of strings")
    }
    var types: [Int64] = []
    if case .integers(let values)? = metadata["tokenizer.ggml.token_type"] { types = values }
    guard case .strings(let mergeTexts)? = metadata["tokenizer.ggml.merges"] else {
      throw fail("tokenizer.ggml.merges", "missing or not an array of strings")
    }
    var tokenBytes: [[UInt8]] = []
    tokenBytes.reserveCapacity(tokens.count)
    var idsByText: [String: Int32] = [:]
    idsByText.reserveCapacity(tokens.count)
    var added: [AddedToken] = []
    for (id, text) in tokens.enumerated() {
      let type = id < types.count ? types[id] : 1
      // 3: control (special added tokens), 4: user-defined (other added tokens).
      if type == 3 || type == 4 {
        added.append(AddedToken(id: Int32(id), content: text, special: type == 3))
        tokenBytes.append(Array(text.utf8))
      } else {
        tokenBytes.append(ByteLevelAlphabet.decode(text) ?? Array(text.utf8))
      }
      if idsByText[text] == nil { idsByText[text] = Int32(id) }
    }
    var merges: [(Int32, Int32)] = []
    merges.reserveCapacity(mergeTexts.count)
    for (rank, text) in mergeTexts.enumerated() {
      let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2, let left = idsByText[String(parts[0])], let right = idsByText[String(parts[1])] else {
        throw fail(
          "tokenizer.ggml.merges[\(rank)]", "\"\(text.prefix(40))\" does not join two tokens of the vocabulary")
      }
      merges.append((left, right))
    }
    return try Tokenizer(
      source: path, normalization: pre.normalization, preTokenizer: PreTokenizer(steps: pre.steps),
      addsPrefixSpace: false, tokenBytes: tokenBytes, merges: merges, ignoreMerges: pre.ignoreMerges,
      addedTokens: added)
  }

  enum Value {
    case string(String)
    case strings([String])
    case integers([Int64])
    case other
  }

  struct Reader {
    let data: Data
    let path: String
    var offset = 0

    init(data: Data, path: String) {
      self.data = data
      self.path = path
    }

    private func truncated() -> PipeError {
      PipeError(.input, "the GGUF file ends inside its metadata (at byte \(offset)): it is truncated", file: path)
    }

    mutating func bytes(_ count: Int) throws -> Data {
      guard count >= 0, offset + count <= data.count else { throw truncated() }
      defer { offset += count }
      return data[data.startIndex + offset..<data.startIndex + offset + count]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
      let raw = try bytes(MemoryLayout<T>.size)
      var value: T = 0
      _ = withUnsafeMutableBytes(of: &value) { raw.copyBytes(to: $0) }
      return T(littleEndian: value)
    }

    mutating func string() throws -> String {
      let length = try integer(UInt64.self)
      guard length < UInt64(data.count) else { throw truncated() }
      return String(decoding: try bytes(Int(length)), as: UTF8.self)
    }

    /// Bytes of one scalar value of `type`, or nil for strings and arrays.
    static func scalarSize(_ type: UInt32) -> Int? {
      switch type {
      case 0, 1, 7: return 1
      case 2, 3: return 2
      case 4, 5, 6: return 4
      case 10, 11, 12: return 8
      default: return nil
      }
    }

    mutating func scalarInteger(_ type: UInt32) throws -> Int64? {
      switch type {
      case 0: return Int64(try integer(UInt8.self))
      case 1: return Int64(try integer(Int8.self))
      case 2: return Int64(try integer(UInt16.self))
      case 3: return Int64(try integer(Int16.self))
      case 4: return Int64(try integer(UInt32.self))
      case 5: return Int64(try integer(Int32.self))
      case 10: return Int64(truncatingIfNeeded: try integer(UInt64.self))
      case 11: return try integer(Int64.self)
      default:
        guard let size = Self.scalarSize(type) else { return nil }
        _ = try bytes(size)
        return nil
      }
    }

    mutating func value(_ type: UInt32, key: String) throws -> Value {
      switch type {
      case 8: return .string(try string())
      case 9:
        let elementType = try integer(UInt32.self)
        let count = try integer(UInt64.self)
        guard count < UInt64(data.count) else { throw truncated() }
        if elementType == 8 {
          var strings: [String] = []
          strings.reserveCapacity(Int(count))
          for _ in 0..<count { strings.append(try string()) }
          return .strings(strings)
        }
        if Self.scalarSize(elementType) != nil {
          // Integers are kept; floats and booleans are read past (scalarInteger gives nil).
          var integers: [Int64] = []
          for _ in 0..<count {
            if let value = try scalarInteger(elementType) { integers.append(value) }
          }
          return integers.isEmpty && count > 0 ? .other : .integers(integers)
        }
        for _ in 0..<count { _ = try value(elementType, key: key) }
        return .other
      default:
        guard Self.scalarSize(type) != nil else {
          throw PipeError(
            .input, "GGUF key \(key): unknown value type \(type): not a GGUF file this reader knows", file: path)
        }
        _ = try scalarInteger(type)
        return .other
      }
    }

    mutating func readMetadata() throws -> [String: Value] {
      guard try bytes(4) == Data("GGUF".utf8) else {
        throw PipeError(.input, "not a GGUF file (no \"GGUF\" magic)", file: path)
      }
      let version = try integer(UInt32.self)
      guard version == 2 || version == 3 else {
        throw PipeError(.input, "GGUF version \(version) is not supported (2 or 3)", file: path)
      }
      _ = try integer(UInt64.self)  // tensors
      let count = try integer(UInt64.self)
      var result: [String: Value] = [:]
      for _ in 0..<count {
        let key = try string()
        let type = try integer(UInt32.self)
        let value = try value(type, key: key)
        if key.hasPrefix("tokenizer.") { result[key] = value }
      }
      return result
    }
  }
}
