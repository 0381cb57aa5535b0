import Foundation
import PipeCore
import Testing

@testable import PipeIO

/// Parquet files written by pyarrow 26 (Tests/Benchmarks/parquet_check.py --fixtures) read as
/// records: equal to what pyarrow reads (expected.jsonl, written from pyarrow's rows) in every
/// codec, page version and encoding; unsupported features and damage are errors that name
/// the file, the column and the feature, never a crash.
@Suite struct ParquetTests {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/parquet"
  static let variants = ["none", "snappy", "zstd"].flatMap { codec in
    ["v1", "v2"].flatMap { version in ["dict", "plain"].map { "\(codec)-\(version)-\($0)" } }
  }

  static func lines(_ path: String, columns: ParquetColumns = ParquetColumns()) throws -> [String] {
    let reader = try ShardReader(path: path, columns: columns)
    var result: [String] = []
    while let line = try reader.next() { result.append(String(decoding: line.bytes, as: UTF8.self)) }
    return result
  }

  static func object(_ line: String) throws -> NSDictionary {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary)
  }

  @Test(arguments: variants)
  func recordsEqualWhatPyarrowReads(variant: String) throws {
    let expected = try String(contentsOfFile: Self.folder + "/expected.jsonl", encoding: .utf8)
      .split(separator: "\n").map { try Self.object(String($0)) }
    let got = try Self.lines(Self.folder + "/\(variant).parquet").map(Self.object)
    #expect(got.count == expected.count)
    for (index, (record, reference)) in zip(got, expected).enumerated() {
      #expect(record == reference, "\(variant) row \(index + 1)")
    }
    // Each line is a record as the engine parses it, or a reject for exactly the rows whose
    // text is null.
    for (line, reference) in zip(try Self.lines(Self.folder + "/\(variant).parquet"), expected) {
      var bytes = Array(line.utf8)
      let parsed = bytes.withUnsafeMutableBufferPointer { buffer in
        Result { () throws(RecordError) -> Record in try Record(line: UnsafeBufferPointer(buffer), fallbackID: "x") }
      }
      switch parsed {
      case .success(let record): #expect(record.text == reference["text"] as? String)
      case .failure(let error): #expect(error.reason == "text_not_string" && reference["text"] is NSNull)
      }
    }
  }

  @Test func textAndIdColumnsAreChosenAndTheRestIsMetadata() throws {
    let lines = try Self.lines(Self.folder + "/columns.parquet", columns: ParquetColumns(text: "body", id: "uid"))
    #expect(
      lines == [
        #"{"id":"7","text":"first","metadata":{"text":1}}"#, #"{"id":"8","text":"second","metadata":{"text":2}}"#,
      ])
    // Without an id column the record has none (the reader then names it FILE:ROW).
    let defaults = try Self.lines(Self.folder + "/columns.parquet", columns: ParquetColumns(text: "body", id: "none"))
    #expect(defaults.first == #"{"text":"first","metadata":{"uid":7,"text":1}}"#)
    let missing = #expect(throws: PipeError.self) {
      _ = try ShardReader(path: Self.folder + "/columns.parquet", columns: ParquetColumns(text: "content"))
    }
    #expect(missing?.message.contains("no column \"content\"") == true)
    #expect(missing?.message.contains("body, uid, text") == true)
  }

  func failure(_ path: String) throws -> PipeError {
    do {
      _ = try Self.lines(path)
      Issue.record("\(path) was read")
      return PipeError(.stage, "")
    } catch let error as PipeError {
      #expect(error.file == path)
      return error
    }
  }

  @Test func unsupportedFeaturesNameTheColumnAndTheFeature() throws {
    let gzip = try failure(Self.folder + "/unsupported-gzip.parquet")
    #expect(gzip.code == .input)
    #expect(gzip.message.contains("column id") && gzip.message.contains("GZIP"))
    let delta = try failure(Self.folder + "/unsupported-delta.parquet")
    #expect(delta.code == .input)
    #expect(delta.message.contains("column n") && delta.message.contains("DELTA_BINARY_PACKED"))
    let nested = try failure(Self.folder + "/unsupported-struct.parquet")
    #expect(nested.code == .input)
    #expect(nested.message.contains("column info") && nested.message.contains("struct"))
  }

  func damaged(_ bytes: [UInt8], name: String) throws -> PipeError {
    let path = NSTemporaryDirectory() + "pipe-parquet-\(UUID().uuidString)-" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try failure(path)
  }

  @Test func damagedFilesAreClearErrors() throws {
    let good = Array(try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/snappy-v1-dict.parquet")))
    let truncated = try damaged(Array(good.prefix(good.count - 100)), name: "cut.parquet")
    #expect(truncated.code == .corruptInput && truncated.message.contains("truncated"))
    var magic = good
    magic[0] = UInt8(ascii: "X")
    let wrongMagic = try damaged(magic, name: "magic.parquet")
    #expect(wrongMagic.message.contains("does not start with \"PAR1\""))
    var footer = good
    for index in (good.count - 60)..<(good.count - 8) { footer[index] = 0xFF }
    #expect(try damaged(footer, name: "footer.parquet").code == .corruptInput)
    var header = good
    for index in 4..<12 { header[index] = 0xFF }
    let page = try damaged(header, name: "page.parquet")
    #expect(page.code == .corruptInput && page.message.contains("column id"))
    #expect(try damaged(Array(good.prefix(10)), name: "tiny.parquet").message.contains("too few"))
  }

  /// Single-byte damage anywhere in three files: reading ends in records or in a PipeError,
  /// never a crash, a hang or a huge allocation.
  @Test(arguments: ["none-v2-plain", "snappy-v1-dict", "zstd-v2-dict"])
  func randomDamageNeverCrashes(variant: String) throws {
    let good = Array(try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/\(variant).parquet")))
    var generator = SeededRNG(seed: 42)
    let path = NSTemporaryDirectory() + "pipe-parquet-fuzz-\(UUID().uuidString).parquet"
    var failed = 0
    for _ in 0..<150 {
      var bytes = good
      let at = Int(generator.next() % UInt64(bytes.count))
      bytes[at] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      do { _ = try Self.lines(path) } catch is PipeError { failed += 1 }
    }
    // Most damage is noticed (headers, lengths, compressed data); values of plain pages can
    // change silently, as in any format without page checksums.
    #expect(failed > 0)
  }

  @Test func formatsPipeDoesNotReadAreNamed() {
    #expect(FileFormat.classify(Array("PAR1xxxx".utf8)) == .parquet)
    #expect(FileFormat.classify([0x28, 0xB5, 0x2F, 0xFD]) == .zstd)
    #expect(FileFormat.classify(Array(#"{"id":1}"#.utf8)) == .text)
    for head: [UInt8] in [[0x1F, 0x8B, 8, 0], Array("BZh91AY".utf8), [0x50, 0x4B, 3, 4], [0, 0, 0, 1]] {
      guard case .other = FileFormat.classify(head) else {
        Issue.record("\(head) classified as text")
        continue
      }
    }
  }

  @Test func snappyHandlesLiteralsOverlappingCopiesAndDamage() throws {
    // "abcabcabcabcX": literal "abc", a copy of 9 bytes at offset 3 (overlapping), literal "X".
    let input: [UInt8] = [13, 2 << 2, 97, 98, 99, (9 - 1) << 2 | 2, 3, 0, 0, 88]
    var output: [UInt8] = []
    try input.withUnsafeBytes { try Snappy.decompress($0, into: &output) }
    #expect(String(decoding: output, as: UTF8.self) == "abcabcabcabcX")
    for bad: [UInt8] in [[5, 0, 97], [4, 1 << 2 | 1, 9], [200, 200, 200, 200, 15], [3, 2 << 2, 97]] {
      #expect(throws: Snappy.Failure.self) { try bad.withUnsafeBytes { try Snappy.decompress($0, into: &output) } }
    }
  }
}
