import Foundation
import Glibc
public import PipeLLM

/// The real local LLM server for integration tests (llama.cpp through xllamacpp, SmolLM2-135M).
///
/// `PIPE_LLM_URL` set to a URL: use that server (CI starts it first with `llm_server.sh start`).
/// `PIPE_LLM_URL=skip`: the integration tests are skipped, and say so.
/// Unset: the first test that needs the server runs `llm_server.sh start` beside this file,
/// which installs into `~/.cache/pipe-llm` on first use (needs PyPI) and leaves the server
/// running for later runs; `llm_server.sh stop` ends it.
public enum LiveServer {
  /// Whether the integration tests run.
  public static let isEnabled = ProcessInfo.processInfo.environment["PIPE_LLM_URL"] != "skip"

  /// The server's base URL, or why there is none; started once per test process.
  public static let baseURL: Result<String, LiveServerUnavailable> = locate()

  /// An endpoint for the live server with generous timeouts (the machine may be busy).
  public static func endpoint(name: String = "live", maxConcurrentRequests: Int = 4) throws -> Endpoint {
    Endpoint(
      name: name, baseURL: try baseURL.get(), model: "smollm2-135m-instruct",
      maxConcurrentRequests: maxConcurrentRequests, timeoutSeconds: 60, maxRetries: 2, backoffBaseSeconds: 0.2,
      backoffMaxSeconds: 2)
  }

  /// Starts a server of its own for one test, on `port` with `slots` slots (one makes every
  /// answer independent of what else is in flight, so runs are byte-identical), and returns
  /// its base URL. Tests that stop and restart a server use one of these, never the shared one.
  public static func startDedicated(port: Int, model: String = "smollm2", slots: Int = 1) throws -> String {
    let (status, stdout, stderr) = try script(
      "start", model: model, settings: ["PIPE_LLM_PORT=\(port)", "PIPE_LLM_SLOTS=\(slots)"])
    let url = stdout.split(separator: "\n").last.map(String.init) ?? ""
    guard status == 0, url.hasPrefix("http") else {
      throw LiveServerUnavailable("llm_server.sh start \(model) on port \(port) failed: \(stderr.suffix(1500))")
    }
    return url
  }

  /// Stops the server `startDedicated` started on `port`.
  public static func stopDedicated(port: Int, model: String = "smollm2") throws {
    let (status, _, stderr) = try script("stop", model: model, settings: ["PIPE_LLM_PORT=\(port)"])
    guard status == 0 else { throw LiveServerUnavailable("llm_server.sh stop on port \(port): \(stderr)") }
  }

  /// Runs `llm_server.sh COMMAND MODEL` beside this file with `settings` (`NAME=VALUE`) added
  /// to its environment; its status, standard output and standard error.
  private static func script(_ command: String, model: String, settings: [String] = []) throws -> (
    Int32, String, String
  ) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("llm_server.sh")
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-llm-\(UUID().uuidString).out")
    let errors = output.appendingPathExtension("err")
    defer {
      try? FileManager.default.removeItem(at: output)
      try? FileManager.default.removeItem(at: errors)
    }
    let status = try run(
      ["/usr/bin/env"] + settings + ["/bin/bash", script.path, command, model], stdout: output.path,
      stderr: errors.path)
    return (
      status, (try? String(contentsOf: output, encoding: .utf8)) ?? "",
      (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
    )
  }

  private static func locate() -> Result<String, LiveServerUnavailable> {
    if let url = ProcessInfo.processInfo.environment["PIPE_LLM_URL"], !url.isEmpty { return .success(url) }
    let status: Int32
    let stdout: String
    let stderr: String
    do {
      (status, stdout, stderr) = try script("start", model: "smollm2")
    } catch {
      return .failure(LiveServerUnavailable("cannot run llm_server.sh: \(error)"))
    }
    let url = stdout.split(separator: "\n").last.map(String.init) ?? ""
    guard status == 0, url.hasPrefix("http") else {
      return .failure(
        LiveServerUnavailable(
          "llm_server.sh start failed (status \(status)): \(stderr.suffix(1500)) "
            + "— set PIPE_LLM_URL to a running server, or PIPE_LLM_URL=skip to skip the integration tests"))
    }
    return .success(url)
  }

  /// Runs `arguments` with output to files and waits for it.
  ///
  /// posix_spawn and waitpid rather than Foundation's `Process`: its `waitUntilExit` was seen
  /// to hang here when the script's child (the server) outlives the script.
  private static func run(_ arguments: [String], stdout: String, stderr: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    // The calling thread blocks most signals (Dispatch does that to its threads), and a child
    // inherits the mask: give the script, and the server it leaves running, a clean one.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard spawned == 0 else { throw LiveServerUnavailable("posix_spawn: \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      guard errno == EINTR else { throw LiveServerUnavailable("waitpid: \(String(cString: strerror(errno)))") }
    }
    // WIFEXITED / WEXITSTATUS are macros Swift cannot call.
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  }
}

/// Why the live server is not there.
public struct LiveServerUnavailable: Error, CustomStringConvertible {
  /// Why the server is not available.
  public let description: String

  /// Creates a reason.
  public init(_ description: String) { self.description = description }
}
