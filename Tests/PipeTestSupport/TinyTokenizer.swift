import Foundation

/// A small byte-level BPE tokenizer written as a Hugging Face tokenizer.json and as a GGUF
/// file, for tests that need a real tokenizer file without a model: ids 0-255 are the bytes,
/// then the merges' results, then the added tokens.
public enum TinyTokenizer {
  /// GPT-2's byte-level alphabet, derived here on its own (printable Latin-1 bytes as
  /// themselves, the 68 others as U+0100 onwards), so tests do not trust the code under test.
  public static let alphabet: [Unicode.Scalar] = {
    var next: UInt32 = 256
    return (0..<256).map { byte -> Unicode.Scalar in
      if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
        return Unicode.Scalar(UInt8(byte))
      }
      defer { next += 1 }
      return Unicode.Scalar(next) ?? " "
    }
  }()

  /// `text`'s bytes spelled in the alphabet.
  public static func spell(_ text: String) -> String {
    String(String.UnicodeScalarView(text.utf8.map { alphabet[Int($0)] }))
  }

  /// The merges, in rank order, as plain text pairs.
  public static let merges: [(String, String)] = [
    (" ", "t"), ("h", "e"), (" t", "he"), ("a", "a"), ("aa", "aa"), ("l", "l"), ("e", "ll"),
  ]

  /// Token texts by id (spelled).
  public static var tokens: [String] {
    (0..<256).map { String(alphabet[$0]) } + merges.map { spell($0.0 + $0.1) }
  }

  /// (content, special, rstrip) of the added tokens, numbered after `tokens`.
  public static let added: [(String, Bool, Bool)] = [("<s>", true, false), ("<s>x", true, false), ("<r>", false, true)]

  /// The tokenizer.json text.
  /// - Parameters:
  ///   - mergesJSON: replaces the merges array.
  ///   - stripOptions: false leaves out the rstrip option (GGUF files carry none).
  public static func json(
    normalizer: String = "null", preTokenizer: String? = nil, mergesJSON: String? = nil, stripOptions: Bool = true
  ) -> String {
    var vocab: [String] = []
    for (id, token) in tokens.enumerated() { vocab.append(quote(token) + ":" + String(id)) }
    let mergeList: String = mergesJSON ?? mergesArray(merges)
    var addedList: [String] = []
    for (index, token) in added.enumerated() {
      let content: String = quote(token.0)
      addedList.append(
        "{\"id\":\(tokens.count + index),\"content\":\(content),\"special\":\(token.1),"
          + "\"rstrip\":\(token.2 && stripOptions),\"lstrip\":false,\"single_word\":false,\"normalized\":false}")
    }
    let pre = preTokenizer ?? #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}"#
    return """
      {"version":"1.0","added_tokens":[\(addedList.joined(separator: ","))],"normalizer":\(normalizer),
       "pre_tokenizer":\(pre),"decoder":{"type":"ByteLevel"},
       "model":{"type":"BPE","dropout":null,"byte_fallback":false,"vocab":{\(vocab.joined(separator: ","))},"merges":\(mergeList)}}
      """
  }

  /// A merges array of `pairs` (plain text, spelled here).
  public static func mergesArray(_ pairs: [(String, String)]) -> String {
    var items: [String] = []
    for pair in pairs {
      let left: String = quote(spell(pair.0))
      let right: String = quote(spell(pair.1))
      items.append("[\(left),\(right)]")
    }
    return "[" + items.joined(separator: ",") + "]"
  }

  /// `text` as a JSON string literal.
  public static func quote(_ text: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
  }

  /// A GGUF file (version 3, no tensors) with this vocabulary and `pre`; `truncateTo` cuts it.
  public static func gguf(model: String = "gpt2", pre: String = "gpt-2", truncateTo: Int? = nil) -> [UInt8] {
    var out: [UInt8] = Array("GGUF".utf8)
    func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    func string(_ text: String) {
      u64(UInt64(text.utf8.count))
      out += Array(text.utf8)
    }
    func stringKey(_ key: String, _ value: String) {
      string(key)
      u32(8)
      string(value)
    }
    let allTokens = tokens + added.map(\.0)
    let types: [Int32] = tokens.map { _ in 1 } + added.map { $0.1 ? 3 : 4 }
    u32(3)
    u64(0)
    u64(6)
    stringKey("general.architecture", "test")
    stringKey("tokenizer.ggml.model", model)
    stringKey("tokenizer.ggml.pre", pre)
    string("tokenizer.ggml.tokens")
    u32(9)
    u32(8)
    u64(UInt64(allTokens.count))
    for token in allTokens { string(token) }
    string("tokenizer.ggml.token_type")
    u32(9)
    u32(5)
    u64(UInt64(types.count))
    for type in types { withUnsafeBytes(of: type.littleEndian) { out += $0 } }
    string("tokenizer.ggml.merges")
    u32(9)
    u32(8)
    u64(UInt64(merges.count))
    for merge in merges { string(spell(merge.0) + " " + spell(merge.1)) }
    if let truncateTo { return Array(out.prefix(truncateTo)) }
    return out
  }

  /// The ids of `piece` by BPE as the papers describe it, written plainly: merge the
  /// lowest-ranked adjacent pair, the leftmost among equals, until none has a rank. The
  /// reference the tokenizer's fast paths must agree with (no added tokens, one piece).
  public static func naiveBPE(_ piece: [UInt8]) -> [Int32] {
    var symbols = piece.map { [$0] }
    var ranks: [[UInt8]: Int] = [:]
    for (rank, merge) in merges.enumerated() where ranks[Array(merge.0.utf8) + [0xFF] + Array(merge.1.utf8)] == nil {
      ranks[Array(merge.0.utf8) + [0xFF] + Array(merge.1.utf8)] = rank
    }
    while symbols.count > 1 {
      var best: (rank: Int, index: Int)? = nil
      for index in 0..<(symbols.count - 1) {
        if let rank = ranks[symbols[index] + [0xFF] + symbols[index + 1]], rank < (best?.rank ?? .max) {
          best = (rank, index)
        }
      }
      guard let best else { break }
      symbols[best.index] += symbols[best.index + 1]
      symbols.remove(at: best.index + 1)
    }
    var ids: [[UInt8]: Int32] = [:]
    for byte in 0..<256 { ids[[UInt8(byte)]] = Int32(byte) }
    for (index, merge) in merges.enumerated() { ids[Array((merge.0 + merge.1).utf8)] = Int32(256 + index) }
    return symbols.map { ids[$0] ?? -1 }
  }
}
