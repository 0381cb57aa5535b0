import Foundation
import Glibc
import PipeCore
import PipeIO
import Testing

/// A fresh directory per test (tests run in parallel), removed when the value dies.
final class TempDirectory {
  let path: String

  init(_ name: String = #function) throws {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    var root = NSTemporaryDirectory()
    while root.hasSuffix("/") { root.removeLast() }
    var template = Array("\(root)/pipeio-\(safe)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    guard made else { throw PipeError(.io, "mkdtemp failed") }
    path = template.withUnsafeBufferPointer { buffer in
      String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
  }

  /// `path/name`.
  func file(_ name: String) -> String { path + "/" + name }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// Reads a whole file.
func readBytes(_ path: String) throws -> [UInt8] {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw PipeError(.io, "cannot read", file: path)
  }
  return [UInt8](data)
}

/// Writes a whole file.
func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
  guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
    throw PipeError(.io, "cannot write", file: path)
  }
}

/// All lines of a reader, copied, with their numbers and full lengths.
struct ReadLine: Equatable {
  let number: Int
  let bytes: [UInt8]
  let fullLength: Int
}

func readAll(_ reader: ShardReader) throws -> [ReadLine] {
  var lines = [ReadLine]()
  while let line = try reader.next() {
    lines.append(ReadLine(number: line.number, bytes: Array(line.bytes), fullLength: line.fullLength))
  }
  return lines
}

/// Deterministic varied test lines: lengths 0..<maxLength, printable bytes.
func sampleLines(count: Int, maxLength: Int, seed: UInt64 = 1) -> [[UInt8]] {
  var state = seed
  func nextRandom() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state >> 33
  }
  var lines = [[UInt8]]()
  lines.reserveCapacity(count)
  for _ in 0..<count {
    let length = Int(nextRandom() % UInt64(maxLength))
    var line = [UInt8](repeating: 0, count: length)
    for i in 0..<length { line[i] = UInt8(32 + nextRandom() % 90) }
    lines.append(line)
  }
  return lines
}

/// `lines` joined with "\n" after each line.
func joinLines(_ lines: [[UInt8]]) -> [UInt8] {
  var out = [UInt8]()
  out.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
  for line in lines {
    out.append(contentsOf: line)
    out.append(0x0A)
  }
  return out
}

/// Runs a program and returns (exit status, stdout).
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (Int32, [UInt8]) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, [UInt8](data))
}
