import Foundation
import PipeCore

/// Slurm's client commands (`sbatch`, `squeue`, `scancel`, `scontrol`), run as processes: the
/// one place that knows their arguments and output formats.
enum SlurmCommands {
  /// What a command printed and how it ended.
  struct Output {
    let status: Int32
    let stdout: String
    let stderr: String
  }

  /// Runs `command` (found on `PATH`) with `arguments`.
  static func run(_ command: String, _ arguments: [String]) throws -> Output {
    guard isInstalled(command) else {
      throw PipeError(.io, "\(command) is not on PATH: is Slurm's client installed on this machine?")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [command] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw PipeError(.io, "cannot run \(command): \(error.localizedDescription); is Slurm's client installed?")
    }
    // Read both pipes before waiting, so a chatty command cannot fill one and block.
    let errData = Received()
    let errReader = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errReader.isFinished { usleep(1000) }
    return Output(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData.data, as: UTF8.self))
  }

  /// What the stderr reader received; read only after its thread finished.
  private final class Received: @unchecked Sendable {
    var data = Data()
  }

  /// Whether `command` is an executable on `PATH`.
  static func isInstalled(_ command: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(command)") }
  }

  /// The cluster's `MaxArraySize` (array indices must stay below it), from `scontrol show config`.
  static func maxArraySize() throws -> Int {
    let output = try run("scontrol", ["show", "config"])
    guard output.status == 0 else {
      throw PipeError(.io, "scontrol show config failed: \(output.stderr.trimmed); is slurmctld reachable?")
    }
    for line in output.stdout.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if parts.count == 2, parts[0] == "MaxArraySize", let value = Int(parts[1]), value > 0 { return value }
    }
    return 1001  // Slurm's default when the line is missing
  }

  /// Submits `script`; returns the job id.
  static func submit(script: String) throws -> String {
    let output = try run("sbatch", ["--parsable", script])
    let id = output.stdout.trimmed.split(separator: ";").first.map(String.init) ?? ""
    guard output.status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
      throw PipeError(.io, "sbatch refused the job: \(output.stderr.trimmed)", file: script)
    }
    return id
  }

  /// The states of the jobs (and array elements) among `ids` that Slurm still lists as
  /// pending or running: job id (`123` or `123_4`) to state.
  static func activeJobs(_ ids: [String]) throws -> [String: String] {
    guard !ids.isEmpty else { return [:] }
    let arguments = ["-h", "-r", "-j", ids.joined(separator: ","), "-o", "%i %T"]
    var output = try run("squeue", arguments)
    // A busy slurmctld can time out: ask again before giving up.
    for delay in [1.0, 3.0, 9.0] where output.status != 0 && !output.stderr.contains("Invalid job id") {
      Thread.sleep(forTimeInterval: delay)
      output = try run("squeue", arguments)
    }
    guard output.status == 0 else {
      // squeue refuses a single id it no longer knows (older than MinJobAge): it is not active.
      if output.stderr.contains("Invalid job id") { return [:] }
      throw PipeError(
        .io,
        "squeue cannot say whether jobs \(ids.joined(separator: ",")) still run: \(output.stderr.trimmed); "
          + "try again when slurmctld answers")
    }
    var states: [String: String] = [:]
    for line in output.stdout.split(separator: "\n") {
      let parts = line.split(separator: " ")
      guard parts.count == 2 else { continue }
      states[String(parts[0])] = String(parts[1])
    }
    return states
  }

  /// Cancels `ids` (jobs or whole arrays); ids Slurm no longer knows are ignored.
  static func cancel(_ ids: [String]) throws {
    guard !ids.isEmpty else { return }
    _ = try run("scancel", ids)
  }
}

extension String {
  fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
