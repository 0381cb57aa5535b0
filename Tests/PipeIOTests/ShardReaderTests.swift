import Foundation
import PipeCore
import PipeIO
import Testing

struct ShardReaderTests {
  @Test(arguments: ["lines.jsonl", "lines.jsonl.zst"])
  func roundTripManyLines(name: String) throws {
    let dir = try TempDirectory()
    let path = dir.file(name)
    // ~6 MB of lines from 0 to 3000 bytes: newlines fall at every offset relative to the 1 MiB
    // reads, so lines are split across chunk boundaries many times.
    let lines = sampleLines(count: 4000, maxLength: 3000)
    let writer = try ShardWriter(path: path)
    for line in lines { try line.withUnsafeBytes { try writer.writeLine($0) } }
    let summary = try writer.commit()
    #expect(summary.lines == lines.count)

    let reader = try ShardReader(path: path)
    let read = try readAll(reader)
    #expect(read.count == lines.count)
    #expect(read.map(\.bytes) == lines)
    #expect(read.map(\.number) == Array(1...lines.count))
    #expect(read.allSatisfy { $0.fullLength == $0.bytes.count })
    #expect(reader.bytesRead == summary.uncompressedBytes)
    #expect(reader.compressedBytesRead == summary.fileBytes)
    #expect(try reader.next() == nil)
  }

  @Test func readsFilesCompressedByTheZstdCLI() throws {
    let dir = try TempDirectory()
    let plain = dir.file("cli.jsonl")
    let lines = sampleLines(count: 3000, maxLength: 2000, seed: 7)
    try writeBytes(plain, joinLines(lines))
    let (status, _) = try run("/usr/bin/zstd", ["-q", "-19", plain, "-o", plain + ".zst"])
    #expect(status == 0)
    #expect(try readAll(ShardReader(path: plain + ".zst")).map(\.bytes) == lines)
  }

  @Test(arguments: ["big.jsonl", "big.jsonl.zst"])
  func fortyMegabyteLine(name: String) throws {
    let dir = try TempDirectory()
    let path = dir.file(name)
    var big = [UInt8](repeating: UInt8(ascii: "x"), count: 40 << 20)
    for i in stride(from: 0, to: big.count, by: 4093) { big[i] = UInt8(ascii: "a") + UInt8(i % 26) }
    let writer = try ShardWriter(path: path)
    try writer.write(Array("first".utf8) + [0x0A])
    try writer.write(big + [0x0A])
    try writer.write(Array("last".utf8) + [0x0A])
    _ = try writer.commit()

    let reader = try ShardReader(path: path)
    let first = try #require(try reader.next())
    #expect(Array(first.bytes) == Array("first".utf8))
    let line = try #require(try reader.next())
    #expect(line.number == 2)
    #expect(!line.isTruncated)
    #expect(line.fullLength == big.count)
    #expect(Array(line.bytes) == big)
    let last = try #require(try reader.next())
    #expect(Array(last.bytes) == Array("last".utf8))
    #expect(try reader.next() == nil)
  }

  @Test(arguments: ["long.jsonl", "long.jsonl.zst"])
  func lineLongerThanTheLimitIsTruncatedAndSkipped(name: String) throws {
    let dir = try TempDirectory()
    let path = dir.file(name)
    let limit = 1 << 20
    var long = [UInt8](repeating: UInt8(ascii: "y"), count: 30 << 20)
    for i in 0..<1000 { long[i] = UInt8(ascii: "a") + UInt8(i % 26) }
    var content = Array("first\n".utf8)
    content += long + Array("\r\n".utf8)
    content += Array("a\nb\n".utf8)
    content += long  // again at the very end, without "\n"
    let writer = try ShardWriter(path: path)
    try writer.write(content)
    _ = try writer.commit()

    let reader = try ShardReader(path: path, maxLineBytes: limit)
    let read = try readAll(reader)
    #expect(read.count == 5)
    #expect(read[0].bytes == Array("first".utf8))
    #expect(read[1].bytes == Array(long[0..<limit]))
    #expect(read[1].fullLength == long.count)  // the "\r" is not part of the line
    #expect(read[2].bytes == [UInt8(ascii: "a")])
    #expect(read[3].bytes == [UInt8(ascii: "b")])
    #expect(read[3].number == 4)
    #expect(read[4].bytes == Array(long[0..<limit]))
    #expect(read[4].fullLength == long.count)
    #expect(reader.bytesRead == content.count)
    // The 30 MB line was never held whole.
    #expect(reader.bufferCapacity < 8 << 20)
  }

  @Test func limitBoundaries() throws {
    let dir = try TempDirectory()
    let path = dir.file("edges.jsonl")
    let text = "123456789\n1234567890\n12345678901\n1234567890\r\n12345678901\r\n1234567890123"
    try writeBytes(path, Array(text.utf8))
    let read = try readAll(ShardReader(path: path, maxLineBytes: 10))
    #expect(read.map(\.fullLength) == [9, 10, 11, 10, 11, 13])
    #expect(read.map(\.bytes.count) == [9, 10, 10, 10, 10, 10])
    #expect(read[2].bytes == Array("1234567890".utf8))
  }

  /// The reader's contract, written the slow and obvious way.
  private func expectedLines(_ content: [UInt8], maxLineBytes: Int) -> [ReadLine] {
    var pieces = content.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    if pieces.last?.isEmpty == true { pieces.removeLast() }
    return pieces.enumerated().map { index, piece in
      var line = piece
      if line.last == 0x0D { line.removeLast() }
      return ReadLine(number: index + 1, bytes: Array(line.prefix(maxLineBytes)), fullLength: line.count)
    }
  }

  @Test(arguments: [16, 17, 33, 64, 1000])
  func tinyChunksMatchTheReferenceSplitter(chunk: Int) throws {
    let dir = try TempDirectory()
    // Empty lines, CRLF, lone CR, lines around and far over the limit, and no final newline.
    var content = [UInt8]()
    let lines = sampleLines(count: 300, maxLength: 120, seed: UInt64(chunk))
    for (index, line) in lines.enumerated() {
      content += line
      switch index % 5 {
      case 0: content += [0x0D, 0x0A]
      case 1: content += [0x0A, 0x0A]
      case 2: content += [0x0D, 0x0D, 0x0A]
      default: content += [0x0A]
      }
    }
    content += Array(repeating: UInt8(ascii: "z"), count: 999) + [0x0D]
    for maxLineBytes in [1, 40, 100, 1 << 20] {
      for name in ["c.jsonl", "c.jsonl.zst"] {
        let path = dir.file("\(maxLineBytes)-\(name)")
        let writer = try ShardWriter(path: path)
        try writer.write(content)
        _ = try writer.commit()
        let reader = try ShardReader(path: path, maxLineBytes: maxLineBytes, readChunkBytes: chunk)
        #expect(
          try readAll(reader) == expectedLines(content, maxLineBytes: maxLineBytes), "\(name) max \(maxLineBytes)")
        #expect(reader.bytesRead == content.count)
      }
    }
  }

  @Test(arguments: [1, 7, 100, 50_000])
  func truncatedZstdThrowsAfterEarlierLines(cut: Int) throws {
    let dir = try TempDirectory()
    let path = dir.file("cut.jsonl.zst")
    let lines = sampleLines(count: 20_000, maxLength: 200, seed: 3)
    let writer = try ShardWriter(path: path)
    for line in lines { try writer.writeLine(line) }
    _ = try writer.commit()
    let full = try readBytes(path)
    try writeBytes(path, Array(full[0..<(full.count - cut)]))

    let reader = try ShardReader(path: path)
    var delivered = 0
    let error = try #require(throws: PipeError.self) {
      while let line = try reader.next() {
        #expect(Array(line.bytes) == lines[delivered])
        delivered += 1
      }
    }
    #expect(error.code == .corruptInput)
    #expect(error.file == path)
    #expect(delivered > 0)
    // Cutting only into the 4-byte checksum leaves every line decodable; the error still comes.
    if cut > 4 { #expect(delivered < lines.count) }
    if cut < 100 { #expect(error.message.contains("truncated zstd stream")) }
    // The reader stays failed.
    #expect(throws: PipeError.self) { try reader.next() }
  }

  @Test func garbageInAZstFile() throws {
    let dir = try TempDirectory()
    let path = dir.file("garbage.jsonl.zst")
    try writeBytes(path, Array(String(repeating: "{\"not\": \"zstd\"}\n", count: 100).utf8))
    let reader = try ShardReader(path: path)
    let error = try #require(throws: PipeError.self) { try reader.next() }
    #expect(error.code == .corruptInput)
    #expect(error.file == path)
  }

  @Test func garbageAfterAValidFrame() throws {
    let dir = try TempDirectory()
    let path = dir.file("tail.jsonl.zst")
    let frame = try ZstdEncoder.compress(Array("one\ntwo\n".utf8))
    try writeBytes(path, frame + Array("trailing junk that is not a frame".utf8))
    let reader = try ShardReader(path: path)
    #expect(try reader.next().map { Array($0.bytes) } == Array("one".utf8))
    #expect(try reader.next().map { Array($0.bytes) } == Array("two".utf8))
    let error = try #require(throws: PipeError.self) { try reader.next() }
    #expect(error.code == .corruptInput)
  }

  @Test func frameNeedingAHugeWindowIsRefusedWithAHint() throws {
    let dir = try TempDirectory()
    let path = dir.file("long.jsonl.zst")
    // `printf 'a\nb\n' | zstd --long=31`: the frame asks for a 2 GiB window.
    try writeBytes(
      path,
      [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0xa8, 0x21, 0x00, 0x00, 0x61, 0x0a, 0x62, 0x0a, 0x25, 0x50, 0xb3, 0x23,
      ])
    let error = try #require(throws: PipeError.self) { try ShardReader(path: path).next() }
    #expect(error.code == .corruptInput)
    #expect(error.message.contains("--long"))
  }

  @Test func concatenatedFrames() throws {
    let dir = try TempDirectory()
    let a = sampleLines(count: 500, maxLength: 300, seed: 11)
    let b = sampleLines(count: 700, maxLength: 300, seed: 12)
    for (name, lines) in [("a.jsonl.zst", a), ("b.jsonl.zst", b)] {
      let writer = try ShardWriter(path: dir.file(name))
      for line in lines { try writer.writeLine(line) }
      _ = try writer.commit()
    }
    let both = dir.file("both.jsonl.zst")
    try writeBytes(both, try readBytes(dir.file("a.jsonl.zst")) + readBytes(dir.file("b.jsonl.zst")))
    #expect(try readAll(ShardReader(path: both)).map(\.bytes) == a + b)
  }

  @Test func emptyFiles() throws {
    let dir = try TempDirectory()
    try writeBytes(dir.file("empty.jsonl"), [])
    try writeBytes(dir.file("empty.jsonl.zst"), [])
    _ = try ShardWriter(path: dir.file("frame.jsonl.zst")).commit()
    for name in ["empty.jsonl", "empty.jsonl.zst", "frame.jsonl.zst"] {
      let reader = try ShardReader(path: dir.file(name))
      #expect(try reader.next() == nil, "\(name)")
      #expect(try reader.next() == nil)
    }
  }

  @Test(arguments: ["t.jsonl", "t.jsonl.zst"])
  func lineEndings(name: String) throws {
    let dir = try TempDirectory()
    let cases: [(String, [String])] = [
      ("a\nb", ["a", "b"]),
      ("a\n", ["a"]),
      ("\n\n", ["", ""]),
      ("a\r\nb\r\n\r\nc\r", ["a", "b", "", "c"]),
      ("x\ry\n", ["x\ry"]),
      ("only", ["only"]),
    ]
    for (index, (text, expected)) in cases.enumerated() {
      let path = dir.file("\(index)-" + name)
      let writer = try ShardWriter(path: path)
      try writer.write(Array(text.utf8))
      _ = try writer.commit()
      let read = try readAll(ShardReader(path: path))
      #expect(read.map { String(decoding: $0.bytes, as: UTF8.self) } == expected, "\(text.debugDescription)")
    }
  }

  @Test func crlfAcrossChunkBoundaries() throws {
    let dir = try TempDirectory()
    let path = dir.file("crlf.jsonl")
    let lines = sampleLines(count: 3000, maxLength: 2500, seed: 5)
    var content = [UInt8]()
    for line in lines { content += line + [0x0D, 0x0A] }
    try writeBytes(path, content)
    let read = try readAll(ShardReader(path: path))
    #expect(read.map(\.bytes) == lines)
  }

  @Test func missingAndUnreadableInputs() throws {
    let dir = try TempDirectory()
    let missing = dir.file("nope.jsonl.zst")
    let error = try #require(throws: PipeError.self) { try ShardReader(path: missing) }
    #expect(error.code == .input)
    #expect(error.file == missing)
    let directory = try #require(throws: PipeError.self) { try ShardReader(path: dir.path) }
    #expect(directory.code == .input)
    #expect(directory.file == dir.path)
  }
}
