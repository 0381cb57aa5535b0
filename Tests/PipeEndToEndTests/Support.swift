import Foundation
import PipeIO
import Testing

/// The result of running the `pipe` binary.
struct ProcessResult {
  var status: Int32
  var stdout: String
  var stderr: String
  /// Whether the process was killed by a signal (the status is then the signal number).
  var wasSignaled: Bool
}

/// Helpers to run the built `pipe` binary on temporary run directories.
enum E2E {
  /// The repository root, found from this file's path.
  static let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The `pipe` executable built beside the test bundle.
  static let binary: String = {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = folder.appendingPathComponent("pipe").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      folder.deleteLastPathComponent()
    }
    return repositoryRoot + "/.build/debug/pipe"
  }()

  /// Runs `pipe` with `arguments`; `environment` adds to the current environment.
  @discardableResult
  static func pipe(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil) throws
    -> ProcessResult
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["PIPE_FAULT"] = nil
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes while the process runs so a large output cannot block it.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
      outData = out.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    process.waitUntilExit()
    group.wait()
    return ProcessResult(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self), wasSignaled: process.terminationReason == .uncaughtSignal)
  }

  /// A new empty temporary directory.
  static func temporaryDirectory(_ name: String = "e2e") throws -> String {
    let path = NSTemporaryDirectory() + "pipe-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// Writes `lines` (each a raw line, without newline) into a shard at `path` (.zst or plain).
  static func writeShard(_ path: String, lines: [[UInt8]]) throws {
    let writer = try ShardWriter(path: path)
    for line in lines { try writer.writeLine(line) }
    _ = try writer.commit()
  }

  /// Writes records given as JSON text lines.
  static func writeShard(_ path: String, json lines: [String]) throws {
    try writeShard(path, lines: lines.map { Array($0.utf8) })
  }

  /// Reads every line of a shard.
  static func readLines(_ path: String) throws -> [String] {
    let reader = try ShardReader(path: path)
    var lines: [String] = []
    while let line = try reader.next() {
      lines.append(String(decoding: line.bytes, as: UTF8.self))
    }
    return lines
  }

  /// Every regular file under `folder`, relative path to contents, skipping the manifest,
  /// lock and other run bookkeeping whose bytes legitimately differ between runs.
  static func snapshot(_ folder: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return files }
    for case let relative as String in enumerator {
      let path = folder + "/" + relative
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        continue
      }
      if relative.hasPrefix("manifest.sqlite") || relative == "run.lock" || relative == "pipeline.json" { continue }
      files[relative] = FileManager.default.contents(atPath: path)
    }
    return files
  }

  /// What a run produced (data, rejects, artifacts, export). A `.tmp` file a killed process
  /// left is part of it, so comparing a resumed run with a reference also checks that the
  /// resume cleaned up.
  static func outputs(_ runDirectory: String) throws -> [String: Data] {
    try snapshot(runDirectory)
  }

  /// Records an issue for every file that is missing, extra or different; `what` says when.
  static func expectSameFiles(_ actual: [String: Data], _ expected: [String: Data], _ what: String) {
    #expect(actual.keys.sorted() == expected.keys.sorted(), "files differ \(what)")
    for (name, data) in expected {
      #expect(actual[name] == data, "\(name) differs \(what)")
    }
  }

  /// Writes a pipeline file and returns its path.
  static func writePipeline(_ text: String, in folder: String, name: String = "pipeline.json") throws -> String {
    let path = folder + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// Runs a SQL query with the `sqlite3` shell and returns its output lines.
  static func sql(_ database: String, _ query: String) throws -> [String] {
    try shellOutput("/usr/bin/sqlite3", ["-readonly", database, query]).split(separator: "\n").map(String.init)
  }

  /// Runs an executable and returns what it printed on stdout.
  static func shellOutput(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }
}
