import Foundation
import PipeCore
import PipeIO
import PipeManifest
import PipeRuntime

/// `pipe verify`: re-hashes what a run wrote against its manifest and marks the tasks whose
/// files differ or are missing, so the next run redoes them and what reads them.
enum Verify {
  /// One file that does not match the manifest.
  struct Problem {
    let stage: String
    let shard: Int
    let path: String
    let what: String
  }

  /// How the error of a task verify marked starts.
  static let marker = "pipe verify:"

  static func run(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: [], flags: ["--json"], command: "verify")
    try parsed.expectPositionals(1...1, usage: "pipe verify RUN_DIR [--json]")
    let layout = RunLayout(root: parsed.positionals[0])
    guard FileManager.default.fileExists(atPath: layout.manifestPath) else {
      throw PipeError(.input, "no manifest here: is this a run directory made by `pipe run`?", file: layout.root)
    }
    // Verify marks tasks in the manifest, so it needs the run directory to itself.
    try SlurmExecutor.refuseIfJobsInFlight(runDirectory: layout.root)
    let lock = try DirectoryLock(path: layout.lockPath)
    defer { lock.release() }
    let manifest = try Manifest(path: layout.manifestPath)
    defer { try? manifest.close() }

    var problems: [Problem] = []
    var files = 0
    var skipped = 0
    var artifactsByTask: [String: [ArtifactRow]] = [:]
    for (stage, shard, artifact) in try manifest.allArtifacts() {
      artifactsByTask["\(stage)\u{0}\(shard)", default: []].append(artifact)
    }
    // Done tasks, and those an earlier verify marked (their files are still to be redone).
    let tasks = try manifest.tasks().filter {
      $0.status == .done || ($0.status == .failed && ($0.error ?? "").hasPrefix(Self.marker))
    }
    for task in tasks {
      func check(_ path: String, bytes: Int?, checksum: String?) {
        files += 1
        guard let size = fileSize(path) else {
          problems.append(Problem(stage: task.stage, shard: task.shard, path: path, what: "missing"))
          return
        }
        if let bytes, size != bytes {
          problems.append(
            Problem(
              stage: task.stage, shard: task.shard, path: path, what: "\(size) bytes where the manifest says \(bytes)"))
          return
        }
        guard let checksum else {
          skipped += 1
          return
        }
        let sha256 = checksum.hasPrefix("sha256:")
        guard let found = try? checksumFile(path, sha256: sha256) else {
          problems.append(Problem(stage: task.stage, shard: task.shard, path: path, what: "unreadable"))
          return
        }
        let actual = sha256 ? "sha256:" + (found.sha256 ?? "") : found.checksum
        if actual != checksum {
          problems.append(
            Problem(stage: task.stage, shard: task.shard, path: path, what: "content differs from its checksum"))
        }
      }
      if let output = task.outputPath, task.outputDeletedAt == nil {
        check(output, bytes: task.outputBytes, checksum: task.checksum)
      }
      if let rejects = task.rejectsPath {
        // Rows from before schema 8 recorded no size or checksum for their rejects.
        check(rejects, bytes: task.rejectsChecksum == nil ? nil : task.rejectsBytes, checksum: task.rejectsChecksum)
      }
      for artifact in artifactsByTask["\(task.stage)\u{0}\(task.shard)"] ?? [] where artifact.deletedAt == nil {
        check(artifact.path, bytes: artifact.bytes, checksum: artifact.checksum)
      }
      if task.kind == "export" || task.stage == ":export", let first = artifactsByTask["\(task.stage)\u{0}0"]?.first {
        let folder = (first.path as NSString).deletingLastPathComponent
        files += 1
        if fileSize(folder + "/manifest.json") == nil {
          problems.append(
            Problem(stage: task.stage, shard: task.shard, path: folder + "/manifest.json", what: "missing"))
        }
      }
    }

    // The tasks of the damaged files are redone by the next run, and so is what reads them.
    var marked = Set<String>()
    for problem in problems where marked.insert("\(problem.stage)\u{0}\(problem.shard)").inserted {
      try manifest.markTaskFailed(
        stage: problem.stage, shard: problem.shard, error: "\(Self.marker) \(problem.what)", errorFile: problem.path,
        errorLine: nil, finishedAt: Date().timeIntervalSince1970)
    }

    if parsed.flags.contains("--json") {
      let list: [JSONValue] = problems.map { problem in
        .object([
          "task": .string("\(problem.stage)[\(problem.shard)]"), "path": .string(problem.path),
          "problem": .string(problem.what),
        ])
      }
      print(
        JSONValue.object([
          "runDirectory": .string(layout.root), "tasks": .int(Int64(tasks.count)), "files": .int(Int64(files)),
          "withoutChecksum": .int(Int64(skipped)), "problems": .array(list),
        ]).jsonText)
    } else {
      var text = ""
      for problem in problems {
        text += "\(problem.stage)[\(problem.shard)]: \(problem.path): \(problem.what)\n"
      }
      text += "pipe verify: \(files) file(s) of \(tasks.count) done task(s) checked"
      if skipped > 0 { text += " (\(skipped) without a recorded checksum: sizes only)" }
      if problems.isEmpty {
        text += ": every file matches the manifest\n"
      } else {
        text += ": \(problems.count) differ or are missing; \(marked.count) task(s) marked failed.\n"
        text += "redo them and what reads them with: pipe resume \(layout.root)\n"
      }
      if problems.isEmpty {
        print(text, terminator: "")
      } else {
        CLI.printError(String(text.dropLast()))
      }
    }
    return problems.isEmpty ? .success : .failure
  }
}
