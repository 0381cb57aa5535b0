import Foundation
import PipeCore
import PipeIO
import Testing

struct ShardWriterTests {
  private func writeShard(_ path: String, _ lines: [[UInt8]], level: Int = 3, workers: Int = 0) throws -> ShardSummary {
    let writer = try ShardWriter(path: path, compressionLevel: level, computeSHA256: true, compressionWorkers: workers)
    for line in lines { try line.withUnsafeBytes { try writer.writeLine($0) } }
    return try writer.commit()
  }

  @Test func zstdCLIReadsOutputAndOutputIsDeterministic() throws {
    let dir = try TempDirectory()
    // > 1 MiB so several compression blocks are involved.
    let lines = sampleLines(count: 5000, maxLength: 1000, seed: 21)
    let first = try writeShard(dir.file("one/a.jsonl.zst"), lines)
    let second = try writeShard(dir.file("two/a.jsonl.zst"), lines)
    let bytesA = try readBytes(first.path)
    let bytesB = try readBytes(second.path)
    #expect(bytesA == bytesB)
    #expect(first.checksum == second.checksum)

    let (status, output) = try run("/usr/bin/zstd", ["-dc", first.path])
    #expect(status == 0)
    #expect(output == joinLines(lines))
    let (testStatus, _) = try run("/usr/bin/zstd", ["-tq", first.path])
    #expect(testStatus == 0)
  }

  @Test func splitOfWriteCallsDoesNotChangeTheOutput() throws {
    let dir = try TempDirectory()
    let content = joinLines(sampleLines(count: 4000, maxLength: 1000, seed: 4))
    let whole = try ShardWriter(path: dir.file("whole.zst"))
    try whole.write(content)
    let a = try whole.commit()
    let pieces = try ShardWriter(path: dir.file("pieces.zst"))
    var offset = 0
    var step = 1
    while offset < content.count {
      let end = min(content.count, offset + step)
      try pieces.write(Array(content[offset..<end]))
      offset = end
      step = step * 3 % 100_003 + 1
    }
    let b = try pieces.commit()
    #expect(try readBytes(a.path) == readBytes(b.path))
    #expect(a.lines == 4000 && b.lines == 4000)
  }

  @Test(arguments: ["s.jsonl", "s.jsonl.zst"])
  func commitSummary(name: String) throws {
    let dir = try TempDirectory()
    let path = dir.file("nested/deeper/" + name)
    let lines = sampleLines(count: 1234, maxLength: 500, seed: 9)
    let summary = try writeShard(path, lines)
    #expect(FileManager.default.fileExists(atPath: path))
    #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    let bytes = try readBytes(path)
    #expect(summary.path == path)
    #expect(summary.fileBytes == bytes.count)
    #expect(summary.uncompressedBytes == joinLines(lines).count)
    #expect(summary.lines == lines.count)
    #expect(summary.checksum == "xxh64:" + hexString(bytes.withUnsafeBytes { XXH64.hash($0) }))
    let (_, sum) = try run("/usr/bin/sha256sum", [path])
    #expect(summary.sha256 == String(decoding: sum.prefix(64), as: UTF8.self))
    if !name.hasSuffix(".zst") { #expect(bytes == joinLines(lines)) }
  }

  @Test func flushPutsLinesOnDiskBeforeCommit() throws {
    let dir = try TempDirectory()
    let path = dir.file("f.jsonl.zst")
    let first = sampleLines(count: 300, maxLength: 100, seed: 31)
    let second = sampleLines(count: 200, maxLength: 100, seed: 32)
    let writer = try ShardWriter(path: path)
    for line in first { try writer.writeLine(line) }
    try writer.flush()
    // The unfinished frame holds every flushed line; reading it ends in the truncation error.
    let copy = dir.file("copy.jsonl.zst")
    try writeBytes(copy, try readBytes(writer.temporaryPath))
    let reader = try ShardReader(path: copy)
    var seen = [[UInt8]]()
    let error = try #require(throws: PipeError.self) {
      while let line = try reader.next() { seen.append(Array(line.bytes)) }
    }
    #expect(error.code == .corruptInput)
    #expect(seen == first)

    for line in second { try writer.writeLine(line) }
    let summary = try writer.commit()
    #expect(summary.lines == first.count + second.count)
    #expect(try readAll(ShardReader(path: path)).map(\.bytes) == first + second)
  }

  @Test func linesCountALastLineWithoutNewline() throws {
    let dir = try TempDirectory()
    let writer = try ShardWriter(path: dir.file("x.jsonl"))
    try writer.write(Array("a\nb\nc".utf8))
    let summary = try writer.commit()
    #expect(summary.lines == 3)
    #expect(summary.sha256 == nil)
  }

  @Test func abandonAndDeinitLeaveNothing() throws {
    let dir = try TempDirectory()
    let abandoned = dir.file("abandoned.jsonl.zst")
    let writer = try ShardWriter(path: abandoned)
    try writer.writeLine(Array("data".utf8))
    #expect(FileManager.default.fileExists(atPath: abandoned + ".tmp"))
    writer.abandon()
    writer.abandon()
    #expect(!FileManager.default.fileExists(atPath: abandoned + ".tmp"))
    #expect(!FileManager.default.fileExists(atPath: abandoned))
    #expect(throws: PipeError.self) { try writer.writeLine(Array("late".utf8)) }

    let dropped = dir.file("dropped.jsonl")
    do {
      let writer = try ShardWriter(path: dropped)
      try writer.writeLine(Array("data".utf8))
    }
    #expect(!FileManager.default.fileExists(atPath: dropped + ".tmp"))
    #expect(!FileManager.default.fileExists(atPath: dropped))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test func badLevelIsAConfigErrorAndCreatesNoFile() throws {
    let dir = try TempDirectory()
    let error = try #require(throws: PipeError.self) { try ShardWriter(path: dir.file("x.zst"), compressionLevel: 99) }
    #expect(error.code == .config)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test func multithreadedOutputIsDeterministicForAGivenWorkerCount() throws {
    let dir = try TempDirectory()
    let lines = sampleLines(count: 20_000, maxLength: 1000, seed: 8)
    let a = try writeShard(dir.file("a.zst"), lines, workers: 2)
    let b = try writeShard(dir.file("b.zst"), lines, workers: 2)
    let c = try writeShard(dir.file("c.zst"), lines, workers: 1)
    #expect(try readBytes(a.path) == readBytes(b.path))
    // libzstd promises the same output for any worker count >= 1 (not the same as 0).
    #expect(try readBytes(a.path) == readBytes(c.path))
    #expect(try readAll(ShardReader(path: a.path)).map(\.bytes) == lines)
  }

  @Test func zstdHelpersRoundTrip() throws {
    let content = joinLines(sampleLines(count: 100, maxLength: 100, seed: 2))
    let compressed = try ZstdEncoder.compress(content, level: 1)
    #expect(try ZstdDecoder.decompress(compressed) == content)
    let error = try #require(throws: PipeError.self) {
      try ZstdDecoder.decompress(Array(compressed.dropLast(3)), path: "mem.zst")
    }
    #expect(error.code == .corruptInput)
    #expect(error.file == "mem.zst")
  }
}
