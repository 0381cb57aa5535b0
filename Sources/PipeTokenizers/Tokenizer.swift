import Foundation
public import PipeCore

/// A text normalization applied before pre-tokenization.
public enum TokenizerNormalization: String, Sendable {
  /// None.
  case none
  /// Unicode canonical composition (NFC), as Qwen2's tokenizer asks.
  case nfc
}

/// A token the tokenizer matches in raw text before anything else (a chat marker such as
/// `<|im_start|>`), never split and never merged with its neighbours.
public struct AddedToken: Sendable, Equatable {
  /// The token's id.
  public var id: Int32
  /// Its text.
  public var content: String
  /// Whether it is a special (control) token.
  public var special: Bool
  /// Whether whitespace before it is part of its match.
  public var leftStrip: Bool
  /// Whether whitespace after it is part of its match.
  public var rightStrip: Bool
  /// Whether it matches only as a whole word (no letter, digit or `_` next to it).
  public var singleWord: Bool

  /// Creates an added token.
  public init(
    id: Int32, content: String, special: Bool, leftStrip: Bool = false, rightStrip: Bool = false,
    singleWord: Bool = false
  ) {
    self.id = id
    self.content = content
    self.special = special
    self.leftStrip = leftStrip
    self.rightStrip = rightStrip
    self.singleWord = singleWord
  }
}

/// An exact byte-level BPE tokenizer (the GPT-2, Llama 3, Qwen2 and SmolLM2 families), loaded
/// from a Hugging Face `tokenizer.json` or from the vocabulary a GGUF model file carries.
///
/// Encoding: added tokens are cut out of the raw text first (leftmost, longest); each
/// stretch between them is normalized, cut into pieces by the pre-tokenizer and each piece's
/// UTF-8 bytes are merged by BPE. Pieces repeat, so each thread keeps a cache of their tokens.
/// Safe to share between threads.
public final class Tokenizer: Sendable {
  /// Where it was loaded from (for messages).
  public let source: String
  /// SHA-256 (hex) of everything that decides the ids: normalization, pre-tokenizer,
  /// vocabulary, merges and added tokens. Two files with the same tokenizer (two
  /// quantizations of one model, say) have the same identity.
  public let identity: String
  /// The normalization.
  public let normalization: TokenizerNormalization
  /// The pre-tokenizer.
  public let preTokenizer: PreTokenizer
  /// Whether a space is put before text that does not start with one (`add_prefix_space`).
  public let addsPrefixSpace: Bool
  /// The added tokens.
  public let addedTokens: [AddedToken]
  /// The bytes of each token, by id (empty for ids the vocabulary skips).
  let tokenBytes: [[UInt8]]
  let model: BytePairEncoding
  private let added: AddedTokenMatcher
  private let scratch: ScratchPool<EncoderScratch>

  /// The number of ids (the largest id plus one).
  public var vocabularySize: Int { tokenBytes.count }

  /// Builds a tokenizer from its parts; `merges` are pairs of token ids in rank order.
  /// - Throws: `PipeError(.input)` naming `source` when a merge's result is not a token.
  init(
    source: String, normalization: TokenizerNormalization, preTokenizer: PreTokenizer, addsPrefixSpace: Bool,
    tokenBytes: [[UInt8]], merges: [(Int32, Int32)], ignoreMerges: Bool, addedTokens: [AddedToken]
  ) throws {
    self.source = source
    self.normalization = normalization
    self.preTokenizer = preTokenizer
    self.addsPrefixSpace = addsPrefixSpace
    self.addedTokens = addedTokens
    self.tokenBytes = tokenBytes
    var idsByBytes: [[UInt8]: Int32] = [:]
    idsByBytes.reserveCapacity(tokenBytes.count)
    let addedIDs = Set(addedTokens.map(\.id))
    for (id, bytes) in tokenBytes.enumerated() where !bytes.isEmpty && !addedIDs.contains(Int32(id)) {
      // The first id wins, as in the references' vocabulary maps built in id order.
      if idsByBytes[bytes] == nil { idsByBytes[bytes] = Int32(id) }
    }
    var byteTokens = [Int32](repeating: -1, count: 256)
    for byte in 0..<256 { byteTokens[byte] = idsByBytes[[UInt8(byte)]] ?? -1 }
    var mergeTable: [UInt64: UInt64] = [:]
    mergeTable.reserveCapacity(merges.count)
    for (rank, (left, right)) in merges.enumerated() {
      let joined = tokenBytes[Int(left)] + tokenBytes[Int(right)]
      guard let merged = idsByBytes[joined] else {
        throw PipeError(
          .input,
          "merge \(rank) joins tokens \(left) and \(right) into \(Self.describe(joined)), which is not in the vocabulary",
          file: source)
      }
      let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
      // A pair listed twice keeps its first (lowest) rank.
      if mergeTable[key] == nil { mergeTable[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
    }
    model = BytePairEncoding(
      byteTokens: byteTokens, merges: mergeTable, tokensByBytes: ignoreMerges ? idsByBytes : nil)
    added = AddedTokenMatcher(addedTokens)
    scratch = ScratchPool { EncoderScratch() }

    var hasher = SHA256()
    func feed(_ text: String) { hasher.update(Array(text.utf8) + [0]) }
    feed("pipe-tokenizer-1")
    feed(normalization.rawValue)
    feed(addsPrefixSpace ? "prefix-space" : "")
    for step in preTokenizer.steps {
      switch step {
      case .isolateDigits: feed("digits")
      case .split(let pattern): feed("split:" + pattern.regex)
      }
    }
    feed(ignoreMerges ? "ignore-merges" : "")
    for bytes in tokenBytes {
      var length = UInt32(bytes.count).littleEndian
      withUnsafeBytes(of: &length) { hasher.update($0) }
      hasher.update(bytes)
    }
    for (left, right) in merges {
      var pair = (left.littleEndian, right.littleEndian)
      withUnsafeBytes(of: &pair) { hasher.update($0) }
    }
    for token in addedTokens {
      feed("\(token.id) \(token.special) \(token.leftStrip) \(token.rightStrip) \(token.singleWord) " + token.content)
    }
    identity = SHA256.hex(hasher.finalize())
  }

  /// The token ids of `text`.
  public func encode(_ text: String) -> [Int32] {
    var text = text
    return text.withUTF8 { encode($0) }
  }

  /// The token ids of UTF-8 `bytes` (valid UTF-8, as a `String`'s are).
  public func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int32] {
    scratch.with { scratch in
      var output: [Int32] = []
      encode(bytes, scratch: scratch) { output.append(contentsOf: $0) }
      return output
    }
  }

  /// The number of tokens of UTF-8 `bytes`, without building the id array.
  public func count(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    scratch.with { scratch in
      var total = 0
      encode(bytes, scratch: scratch) { total += $0.count }
      return total
    }
  }

  /// The bytes of token `id` (empty for an unknown id).
  public func bytes(of id: Int32) -> [UInt8] {
    id >= 0 && Int(id) < tokenBytes.count ? tokenBytes[Int(id)] : []
  }

  /// The text of `ids`, joined (invalid UTF-8 where a character is split across tokens that
  /// are not all given becomes U+FFFD).
  public func decode(_ ids: [Int32]) -> String {
    String(decoding: ids.flatMap { bytes(of: $0) }, as: UTF8.self)
  }

  private func encode(
    _ bytes: UnsafeBufferPointer<UInt8>, scratch: EncoderScratch, _ emit: (ArraySlice<Int32>) -> Void
  ) {
    added.forEachSegment(bytes) { segment, token in
      if !segment.isEmpty { encodeSegment(UnsafeBufferPointer(rebasing: segment), scratch: scratch, emit) }
      if let token { emit([token][...]) }
    }
  }

  private func encodeSegment(
    _ raw: UnsafeBufferPointer<UInt8>, scratch: EncoderScratch, _ emit: (ArraySlice<Int32>) -> Void
  ) {
    var bytes = raw
    var owned: [UInt8] = []
    if normalization == .nfc && !Self.isComposedWithoutLooking(raw) {
      owned = Array(String(decoding: raw, as: UTF8.self).precomposedStringWithCanonicalMapping.utf8)
    }
    if addsPrefixSpace && (owned.isEmpty ? raw.first : owned.first) != 0x20 {
      owned = [0x20] + (owned.isEmpty ? Array(raw) : owned)
    }
    owned.withUnsafeBufferPointer { normalized in
      if !owned.isEmpty { bytes = normalized }
      scratch.segment.decode(bytes)
      let offsets = scratch.segment.offsets
      preTokenizer.forEachPiece(scratch.segment) { range in
        let piece = UnsafeBufferPointer(rebasing: bytes[offsets[range.lowerBound]..<offsets[range.upperBound]])
        if let cached = scratch.cache.lookup(piece) {
          emit(cached)
          return
        }
        scratch.tokens.removeAll(keepingCapacity: true)
        model.encode(piece, into: &scratch.tokens, symbols: &scratch.symbols)
        scratch.cache.store(piece, scratch.tokens)
        emit(scratch.tokens[...])
      }
    }
  }

  /// True when no scalar of `bytes` can change under NFC: every scalar below U+0300, where
  /// no combining mark or composable pair starts.
  private static func isComposedWithoutLooking(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    // UTF-8 lead bytes 0xC0-0xCB encode U+0000-U+02FF.
    for byte in bytes where byte >= 0xCC { return false }
    return true
  }

  static func describe(_ bytes: [UInt8]) -> String {
    "\"" + String(decoding: bytes, as: UTF8.self).unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
  }
}

/// Per-thread state of the encoder: decoded segment buffers, BPE scratch and the piece cache.
final class EncoderScratch {
  var segment = DecodedSegment()
  var tokens: [Int32] = []
  var symbols: [Int32] = []
  var cache = PieceCache()
}
