import Foundation
public import PipeCore
import Synchronization

extension Tokenizer {
  /// Loads a tokenizer from `path`: a GGUF model file (by its magic) or a Hugging Face
  /// `tokenizer.json`.
  /// - Throws: `PipeError(.input)` naming the file (and the JSON path or GGUF key) when it
  ///   cannot be read or describes a tokenizer this reader does not support.
  public static func load(path: String) throws -> Tokenizer {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw PipeError(.input, "cannot open the tokenizer file (check the path)", file: path)
    }
    let head = (try? handle.read(upToCount: 4)) ?? Data()
    try? handle.close()
    if head == Data("GGUF".utf8) { return try GGUFVocabulary.load(path: path) }
    return try TokenizerJSON.load(path: path)
  }
}

/// Reads a Hugging Face `tokenizer.json` whose model is byte-level BPE.
enum TokenizerJSON {
  static func load(path: String) throws -> Tokenizer {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw PipeError(.input, "cannot read the tokenizer file: \(error.localizedDescription)", file: path)
    }
    let root: JSONValue
    do { root = try JSONValue.parse([UInt8](data)) } catch {
      throw PipeError(.input, "not a tokenizer.json: \(error.description)", file: path)
    }
    func fail(_ jsonPath: String, _ message: String) -> PipeError {
      PipeError(.input, "\(jsonPath): \(message)", file: path)
    }
    guard let object = root.objectValue, let model = object["model"]?.objectValue else {
      throw fail("model", "missing: a tokenizer.json has a \"model\" object")
    }
    let type = model["type"]?.stringValue ?? "BPE"
    guard type == "BPE" else {
      throw fail(
        "model.type", "\"\(type)\" is not supported: only byte-level BPE models (GPT-2, Llama 3, Qwen2, SmolLM2)")
    }
    if model["byte_fallback"]?.boolValue == true {
      throw fail(
        "model.byte_fallback",
        "SentencePiece-style BPE (byte fallback, as Llama 2 and Gemma use) is not supported yet: only byte-level BPE")
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
      if let value = model[key]?.stringValue, !value.isEmpty {
        throw fail("model.\(key)", "\"\(value)\" is not supported: only byte-level BPE without subword markers")
      }
    }
    if let dropout = model["dropout"]?.doubleValue, dropout > 0 {
      throw fail("model.dropout", "BPE dropout makes encoding random; set it to null to count tokens")
    }

    // Pre-tokenizer and normalizer.
    var steps: [PreTokenizerStep] = []
    var byteLevel = false
    var prefixSpace = false
    func preTokenizer(_ value: JSONValue, at jsonPath: String) throws {
      guard let object = value.objectValue, let kind = object["type"]?.stringValue else {
        throw fail(jsonPath, "expected an object with a \"type\"")
      }
      switch kind {
      case "Sequence":
        guard let list = object["pretokenizers"]?.arrayValue else {
          throw fail(jsonPath + ".pretokenizers", "expected an array")
        }
        for (index, item) in list.enumerated() { try preTokenizer(item, at: "\(jsonPath).pretokenizers[\(index)]") }
      case "ByteLevel":
        byteLevel = true
        prefixSpace = object["add_prefix_space"]?.boolValue ?? false
        if object["use_regex"]?.boolValue ?? true { steps.append(.split(.gpt2)) }
      case "Digits":
        guard object["individual_digits"]?.boolValue == true else {
          throw fail(jsonPath, "Digits with individual_digits false is not supported")
        }
        steps.append(.isolateDigits)
      case "Split":
        guard let regex = object["pattern"]?.objectValue?["Regex"]?.stringValue else {
          throw fail(jsonPath + ".pattern", "only {\"Regex\": ...} patterns are supported")
        }
        guard let pattern = SplitPattern(regex: regex) else {
          throw fail(
            jsonPath + ".pattern.Regex",
            "this split expression is not one this reader knows (GPT-2, Llama 3, Qwen2): \(regex.prefix(80))")
        }
        let behavior = object["behavior"]?.stringValue ?? "Isolated"
        guard behavior == "Isolated", object["invert"]?.boolValue != true else {
          throw fail(jsonPath, "only the behavior \"Isolated\" without invert is supported, got \"\(behavior)\"")
        }
        steps.append(.split(pattern))
      default:
        throw fail(jsonPath + ".type", "pre-tokenizer \"\(kind)\" is not supported")
      }
    }
    if let value = object["pre_tokenizer"], value != .null { try preTokenizer(value, at: "pre_tokenizer") }
    guard byteLevel || object["decoder"]?.objectValue?["type"]?.stringValue == "ByteLevel" else {
      throw fail("pre_tokenizer", "no ByteLevel step: only byte-level BPE tokenizers are supported")
    }
    var normalization = TokenizerNormalization.none
    func normalizer(_ value: JSONValue, at jsonPath: String) throws {
      guard let object = value.objectValue, let kind = object["type"]?.stringValue else {
        throw fail(jsonPath, "expected an object with a \"type\"")
      }
      switch kind {
      case "NFC": normalization = .nfc
      case "Sequence":
        for (index, item) in (object["normalizers"]?.arrayValue ?? []).enumerated() {
          try normalizer(item, at: "\(jsonPath).normalizers[\(index)]")
        }
      default: throw fail(jsonPath + ".type", "normalizer \"\(kind)\" is not supported (NFC or none)")
      }
    }
    if let value = object["normalizer"], value != .null { try normalizer(value, at: "normalizer") }

    // Vocabulary.
    guard let vocab = model["vocab"]?.objectValue else { throw fail("model.vocab", "expected an object") }
    var tokenBytes: [[UInt8]] = []
    var idsByText: [String: Int32] = [:]
    idsByText.reserveCapacity(vocab.count)
    for (text, value) in vocab.members {
      guard let id = value.intValue, id >= 0, id < 1 << 24 else {
        throw fail(
          "model.vocab[\"\(text)\"]", "expected a token id (an integer from 0), got \(value.jsonText.prefix(20))")
      }
      if id >= tokenBytes.count { tokenBytes += Array(repeating: [], count: id + 1 - tokenBytes.count) }
      tokenBytes[id] = ByteLevelAlphabet.decode(text) ?? Array(text.utf8)
      idsByText[text] = Int32(id)
    }
    var addedTokens: [AddedToken] = []
    for (index, item) in (object["added_tokens"]?.arrayValue ?? []).enumerated() {
      let jsonPath = "added_tokens[\(index)]"
      guard let entry = item.objectValue, let id = entry["id"]?.intValue, id >= 0, id < 1 << 24,
        let content = entry["content"]?.stringValue
      else { throw fail(jsonPath, "expected {\"id\": INTEGER, \"content\": STRING, ...}") }
      addedTokens.append(
        AddedToken(
          id: Int32(id), content: content, special: entry["special"]?.boolValue ?? false,
          leftStrip: entry["lstrip"]?.boolValue ?? false, rightStrip: entry["rstrip"]?.boolValue ?? false,
          singleWord: entry["single_word"]?.boolValue ?? false))
      if id >= tokenBytes.count { tokenBytes += Array(repeating: [], count: id + 1 - tokenBytes.count) }
      tokenBytes[id] = Array(content.utf8)
    }

    // Merges: "a b" strings (older files) or ["a", "b"] pairs.
    guard let mergeList = model["merges"]?.arrayValue else { throw fail("model.merges", "expected an array") }
    var merges: [(Int32, Int32)] = []
    merges.reserveCapacity(mergeList.count)
    for (rank, item) in mergeList.enumerated() {
      let parts: [String]
      if let text = item.stringValue {
        parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      } else {
        parts = item.arrayValue?.compactMap(\.stringValue) ?? []
      }
      guard parts.count == 2 else {
        throw fail("model.merges[\(rank)]", "expected \"LEFT RIGHT\" or [\"LEFT\", \"RIGHT\"]")
      }
      guard let left = idsByText[parts[0]], let right = idsByText[parts[1]] else {
        throw fail("model.merges[\(rank)]", "merges a token that is not in model.vocab")
      }
      merges.append((left, right))
    }
    return try Tokenizer(
      source: path, normalization: normalization, preTokenizer: PreTokenizer(steps: steps),
      addsPrefixSpace: prefixSpace, tokenBytes: tokenBytes, merges: merges,
      ignoreMerges: model["ignore_merges"]?.boolValue ?? false, addedTokens: addedTokens)
  }
}

/// Tokenizers loaded by this process, by path, size and modification time: a pipeline is
/// validated and then planned, and a vocabulary of 150,000 tokens is worth reading once.
public final class TokenizerCache: Sendable {
  /// The process's cache.
  public static let shared = TokenizerCache()

  private let loaded = Mutex<[String: Tokenizer]>([:])

  /// The tokenizer at `path`, loaded once while the file is unchanged.
  public func load(path: String) throws -> Tokenizer {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
    let time = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    let key = "\(path)\u{0}\(size)\u{0}\(time)"
    if let tokenizer = loaded.withLock({ $0[key] }) { return tokenizer }
    let tokenizer = try Tokenizer.load(path: path)
    loaded.withLock { $0[key] = tokenizer }
    return tokenizer
  }
}
