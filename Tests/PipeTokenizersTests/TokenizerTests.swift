import Foundation
import PipeCore
import PipeTestSupport
import Testing

@testable import PipeTokenizers

func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "pipe-tokenizer-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  let path = folder.appendingPathComponent(name).path
  try Data(bytes).write(to: URL(fileURLWithPath: path))
  return path
}

@Suite struct TokenizerTests {
  func tiny(normalizer: String = "null") throws -> Tokenizer {
    try Tokenizer.load(path: temporaryFile("tokenizer.json", Array(TinyTokenizer.json(normalizer: normalizer).utf8)))
  }

  @Test func mergesLowestRankFirstAndLeftmostAmongEquals() throws {
    let tokenizer = try tiny()
    // "the": (h,e) is the only ranked pair, and (t,he) has no merge.
    #expect(tokenizer.encode("the") == [116, 257])
    // " the": (" ",t) rank 0 first, then (h,e), then (" t",he).
    #expect(tokenizer.encode(" the") == [258])
    #expect(tokenizer.encode("the the") == [116, 257, 258])
    #expect(tokenizer.encode("aaa") == [259, 97])
    #expect(tokenizer.encode("aaaaa") == [260, 97])
    // (h,e) outranks (l,l), and once "he" is made, "ell" can no longer form.
    #expect(tokenizer.encode("hell") == [257, 261])
    #expect(tokenizer.decode(tokenizer.encode("the hell, aaa!")) == "the hell, aaa!")
  }

  @Test func longPiecesMergeAsShortOnesDo() throws {
    let tokenizer = try tiny()
    // Past 256 bytes the priority-queue path runs.
    #expect(tokenizer.encode(String(repeating: "a", count: 300)) == Array(repeating: 260, count: 75))
    #expect(tokenizer.encode(String(repeating: "a", count: 301)) == Array(repeating: 260, count: 75) + [97])
    var generator = SeededRNG(seed: 7)
    for length in [5, 40, 255, 256, 257, 600, 3000] {
      let piece = (0..<length).map { _ in Array("ahelt".utf8)[Int(generator.next() % 5)] }
      let text = String(decoding: piece, as: UTF8.self)
      let expected = TinyTokenizer.naiveBPE(piece)
      #expect(tokenizer.encode(text) == expected, "length \(length)")
    }
  }

  @Test func theCacheNeverChangesAnAnswer() throws {
    let tokenizer = try tiny()
    // 20,000 distinct pieces (past the 16,384 entries): the cache fills and is cleared on the way.
    var generator = SeededRNG(seed: 11)
    var words: [[UInt8]] = []
    for _ in 0..<20_000 {
      words.append((0..<(2 + Int(generator.next() % 9))).map { _ in Array("ahelt".utf8)[Int(generator.next() % 5)] })
    }
    let text = words.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    var expected: [Int32] = []
    for (index, word) in words.enumerated() {
      expected += TinyTokenizer.naiveBPE((index == 0 ? [] : [0x20]) + word)
    }
    let first = tokenizer.encode(text)
    #expect(first == expected)
    #expect(tokenizer.encode(text) == first)
    var copy = text
    #expect(copy.withUTF8 { tokenizer.count($0) } == expected.count)
  }

  @Test func addedTokensMatchLeftmostLongestWithTheirStripOptions() throws {
    let tokenizer = try tiny()
    let base = Int32(TinyTokenizer.tokens.count)
    #expect(tokenizer.encode("a<s>b") == [97, base, 98])
    #expect(tokenizer.encode("a<s>xb") == [97, base + 1, 98])
    // rstrip: the spaces after the token are part of it.
    #expect(tokenizer.encode("<r>   b") == [base + 2, 98])
    #expect(tokenizer.encode("<s>") == [base])
    #expect(tokenizer.addedTokens.map(\.special) == [true, true, false])
  }

  @Test func nfcNormalizationMakesDecomposedTextEncodeAsComposed() throws {
    let composing = try tiny(normalizer: #"{"type":"NFC"}"#)
    #expect(composing.normalization == .nfc)
    #expect(composing.encode("cafe\u{301}") == composing.encode("caf\u{E9}"))
    let plain = try tiny()
    #expect(plain.encode("cafe\u{301}") != plain.encode("caf\u{E9}"))
  }

  @Test func ggufAndTokenizerJSONOfOneTokenizerAgreeAndShareAnIdentity() throws {
    let json = try Tokenizer.load(
      path: temporaryFile("tokenizer.json", Array(TinyTokenizer.json(stripOptions: false).utf8)))
    #expect(try tiny().identity != json.identity, "the rstrip option is part of the identity")
    let gguf = try Tokenizer.load(path: temporaryFile("tiny.gguf", TinyTokenizer.gguf()))
    let text = "the hell <s>x aaaaa, they'll 2024 <r>  ok"
    #expect(gguf.encode(text) == json.encode(text))
    #expect(gguf.identity == json.identity)
    #expect(gguf.identity.count == 64)
    // Another tokenizer (one merge less) has another identity.
    let other = try Tokenizer.load(
      path: temporaryFile(
        "other.json",
        Array(
          TinyTokenizer.json(
            mergesJSON: TinyTokenizer.mergesArray(Array(TinyTokenizer.merges.dropLast())), stripOptions: false
          ).utf8)))
    #expect(other.identity != json.identity)
  }

  /// The message of the error loading `bytes` as `name`.
  func loadError(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = try temporaryFile(name, bytes)
    do {
      _ = try Tokenizer.load(path: path)
      Issue.record("\(name) loaded")
      return ""
    } catch let error as PipeError {
      #expect(error.code == .input)
      #expect(error.file == path)
      return error.message
    }
  }

  @Test func badTokenizerFilesFailWithWhereAndWhat() throws {
    #expect(try loadError("a.json", Array("{not json".utf8)).contains("not a tokenizer.json"))
    #expect(try loadError("b.json", Array(#"{"model":{"type":"Unigram","vocab":[]}}"#.utf8)).contains("model.type"))
    let sentencePiece = #"{"model":{"type":"BPE","byte_fallback":true,"vocab":{},"merges":[]}}"#
    #expect(try loadError("c.json", Array(sentencePiece.utf8)).contains("model.byte_fallback"))
    let split = TinyTokenizer.json(
      preTokenizer:
        #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated"}]}"#)
    #expect(try loadError("d.json", Array(split.utf8)).contains("pre_tokenizer.pretokenizers[0].pattern.Regex"))
    let unknownMerge = TinyTokenizer.json(mergesJSON: #"[["a","a"],["zz","q"]]"#)
    #expect(try loadError("e.json", Array(unknownMerge.utf8)).contains("model.merges[1]"))
    #expect(
      try loadError("f.json", Array(TinyTokenizer.json(normalizer: #"{"type":"NFKC"}"#).utf8)).contains(
        "normalizer.type"))

    #expect(try loadError("g.gguf", TinyTokenizer.gguf(model: "llama")).contains("tokenizer.ggml.model"))
    #expect(try loadError("h.gguf", TinyTokenizer.gguf(pre: "mystery")).contains("tokenizer.ggml.pre"))
    let full = TinyTokenizer.gguf()
    #expect(try loadError("i.gguf", Array(full.prefix(full.count / 2))).contains("truncated"))
    var badVersion = full
    badVersion[4] = 9
    #expect(try loadError("j.gguf", badVersion).contains("GGUF version 9"))
    #expect(throws: PipeError.self) { try Tokenizer.load(path: "/nonexistent/tokenizer.json") }
  }
}

/// The local models' tokenizers (installed by `make models` or the tests' model server).
enum LocalModels {
  static let folder =
    (ProcessInfo.processInfo.environment["PIPE_LLM_CACHE"] ?? (NSHomeDirectory() + "/.cache/pipe-llm"))
    + "/models"
  static func path(_ name: String) -> String { folder + "/" + name + ".gguf" }
  static func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
}

/// Ids that Hugging Face `tokenizers` 0.23 gave for the same texts with each model's
/// tokenizer.json (Tests/Benchmarks/tokenizer_check.py writes them from the GGUF files and
/// checks whole corpora).
@Suite struct RealTokenizerTests {
  static let texts = [
    "Hello world, it's 2024!  <|im_start|>user",
    "中文段落：使用 `pip install` 命令。",
    "cafe\u{301} ＳＳ 👍🏽\n\n\tdef f(x): return x**2",
  ]

  @Test(.enabled(if: LocalModels.has("smollm2"), "needs ~/.cache/pipe-llm/models/smollm2.gguf (make models)"))
  func smolLM2() throws {
    let tokenizer = try Tokenizer.load(path: LocalModels.path("smollm2"))
    #expect(tokenizer.vocabularySize == 49152)
    #expect(tokenizer.encode(Self.texts[0]) == [19556, 905, 28, 357, 506, 216, 34, 32, 34, 36, 17, 256, 1, 4093])
    #expect(
      tokenizer.encode(Self.texts[1]) == [
        28589, 29184, 177, 123, 130, 179, 234, 138, 24713, 45583, 23088, 2179, 13656, 3397, 80, 13223, 235, 138,
        15076, 114, 19076,
      ])
    #expect(
      tokenizer.encode(Self.texts[2]) == [
        83, 9980, 151, 219, 216, 8083, 128, 8083, 128, 15107, 235, 231, 10813, 233, 138, 1116, 197, 1604, 275, 24,
        104, 727, 1003, 1792, 828, 34,
      ])
  }

  @Test(.enabled(if: LocalModels.has("qwen-0.5b"), "needs ~/.cache/pipe-llm/models/qwen-0.5b.gguf (make models)"))
  func qwen2() throws {
    let tokenizer = try Tokenizer.load(path: LocalModels.path("qwen-0.5b"))
    #expect(tokenizer.normalization == .nfc)
    #expect(tokenizer.encode(Self.texts[0]) == [9707, 1879, 11, 432, 594, 220, 17, 15, 17, 19, 0, 256, 151644, 872])
    #expect(
      tokenizer.encode(Self.texts[1]) == [
        104811, 37474, 99297, 5122, 37029, 1565, 51501, 4582, 63, 4891, 239, 121, 99738, 1773,
      ])
    #expect(
      tokenizer.encode(Self.texts[2]) == [
        924, 58858, 62823, 111, 134323, 61804, 235, 145375, 271, 7452, 282, 2075, 1648, 470, 856, 334, 17,
      ])
  }
}
