import Foundation
import PipeCore
import Testing

/// Bytes (i*7+3) & 0xff, the pattern the reference vectors below were computed on with the
/// Python `xxhash` package (the reference C implementation).
private func pattern(_ count: Int) -> [UInt8] {
  (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
}

struct XXH64Tests {
  @Test func knownStrings() {
    #expect(XXH64.hash("") == 0xEF46_DB37_51D8_E999)
    #expect(XXH64.hash("a") == 0xD24E_C4F1_A98C_6E5B)
    #expect(XXH64.hash("abc") == 0x44BC_2CF5_AD77_0999)
    #expect(XXH64.hash("héllo wörld, 日本語") == 0xb870_4560_a7bc_676b)
  }

  static let vectors: [(Int, UInt64, UInt64)] = [
    (1, 0, 0x1f25c8d0bc1f4bb6), (1, 0x9e3779b97f4a7c15, 0x79826bcd749d267a),
    (3, 0, 0x31d2363f52e564c9), (4, 0, 0x9bb64b7d66ee9fda), (4, 0x9e3779b97f4a7c15, 0x6f0a6c97d68bf353),
    (7, 0, 0x9a7b149959ce60d8), (8, 0, 0xdab99d95c6f90092), (8, 0x9e3779b97f4a7c15, 0xa2f1e28437a78a1b),
    (15, 0, 0x1b47cb8243cc8e32), (31, 0, 0xa2aa5f33cc4a6119), (31, 0x9e3779b97f4a7c15, 0x755437271d1d0a84),
    (32, 0, 0x23c3c17ef790fd97), (32, 0x9e3779b97f4a7c15, 0xbf624b932c090428),
    (33, 0, 0x50a7cfc7ba588784), (33, 0x9e3779b97f4a7c15, 0x7aceaf1e9d34ea35),
    (63, 0, 0x5e3e54b431c7493c), (64, 0, 0x0eb64b3ef6eeb01f), (64, 0x9e3779b97f4a7c15, 0x4af341f14e3a6fc9),
    (65, 0, 0xa383b724b2bd12f1), (100, 0, 0xa61f8d4c170fe531), (100, 0x9e3779b97f4a7c15, 0xf6d8f65c625abb4f),
    (1000, 0, 0x5f235fa033f1a3fb), (1000, 0x9e3779b97f4a7c15, 0x442acd0a822e86f6),
    (4097, 0, 0xda8d184207b32a00), (4097, 0x9e3779b97f4a7c15, 0xf586c57718a0a8be),
  ]

  @Test func referenceVectors() {
    for (count, seed, expected) in Self.vectors {
      let bytes = pattern(count)
      let oneShot = bytes.withUnsafeBytes { XXH64.hash($0, seed: seed) }
      #expect(oneShot == expected, "length \(count) seed \(seed)")
    }
  }

  @Test func anySplitGivesTheSameHash() {
    for (count, seed, expected) in Self.vectors where count >= 31 {
      let bytes = pattern(count)
      for chunk in [1, 3, 7, 16, 31, 32, 33, 50] {
        var hasher = XXH64(seed: seed)
        var offset = 0
        while offset < count {
          let end = min(count, offset + chunk)
          hasher.update(Array(bytes[offset..<end]))
          offset = end
        }
        #expect(hasher.finalize() == expected, "length \(count) chunk \(chunk)")
        // finalize() does not consume the state.
        #expect(hasher.finalize() == expected)
      }
    }
  }

  @Test func hexFormatting() {
    #expect(hexString(0) == "0000000000000000")
    #expect(hexString(0xEF46_DB37_51D8_E999) == "ef46db3751d8e999")
    #expect(hexString(UInt64.max) == "ffffffffffffffff")
  }
}

struct SHA256Tests {
  private func hex(_ text: String) -> String { SHA256.hex(SHA256.hash(Array(text.utf8))) }

  @Test func standardVectors() {
    #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      hex(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
      )
        == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
  }

  @Test func oneMillionAInChunks() {
    var hasher = SHA256()
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
    for _ in 0..<1000 { hasher.update(chunk) }
    #expect(
      SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func splitsAndPaddingEdges() {
    for count in [55, 56, 57, 63, 64, 65, 119, 120, 200] {
      let bytes = pattern(count)
      let whole = SHA256.hash(bytes)
      var hasher = SHA256()
      for byte in bytes { hasher.update([byte]) }
      #expect(hasher.finalize() == whole, "length \(count)")
    }
  }

  @Test func matchesSha256sumOfAFile() throws {
    let dir = try TempDirectory()
    let path = dir.file("data.bin")
    let bytes = pattern(300_001)
    try writeBytes(path, bytes)
    let (status, output) = try run("/usr/bin/sha256sum", [path])
    #expect(status == 0)
    let expected = String(decoding: output.prefix(64), as: UTF8.self)
    #expect(SHA256.hex(SHA256.hash(bytes)) == expected)
  }
}
