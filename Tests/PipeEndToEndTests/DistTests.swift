import Foundation
import Testing

/// The one file `make dist` builds for a cluster (`dist/pipe`: the Swift runtime, Foundation and
/// SQLite linked in, the language model appended): it loads only system libraries and, copied
/// alone into an empty folder, runs a real pipeline to the same bytes as the normal build with
/// the toolchain's folder hidden behind an empty tmpfs in a private mount namespace
/// (`unshare -m`, which needs root).
@Suite(.enabled(if: Dist.isBuilt, "dist/pipe is missing: run make dist first"))
struct DistTests {
  @Test func loadsOnlySystemLibraries() throws {
    let result = try Dist.run("/usr/bin/ldd", [Dist.binary])
    try #require(result.status == 0, "ldd failed: \(result.stdout) \(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(lines.contains { $0.hasPrefix("libc.so") }, "unexpected ldd output: \(result.stdout)")
    for line in lines {
      #expect(!line.contains(Dist.toolchain), "loads from the toolchain: \(line)")
      for name in ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"] {
        #expect(!line.contains(name), "loads a Swift runtime library: \(line)")
      }
      #expect(!line.contains("not found"), "a library does not resolve: \(line)")
      if let arrow = line.range(of: "=> ") {
        let path = line[arrow.upperBound...]
        #expect(path.hasPrefix("/lib") || path.hasPrefix("/usr/lib"), "not a system library: \(line)")
      }
    }
  }

  @Test func versionAndHelpRunWithTheToolchainHidden() throws {
    let version = try Dist.runHidden(Dist.binary, ["--version"])
    #expect(version.status == 0, "\(version.stderr)")
    #expect(version.stdout.hasPrefix("pipe "))
    let help = try Dist.runHidden(Dist.binary, ["--help"])
    #expect(help.status == 0, "\(help.stderr)")
    #expect(help.stdout.contains("run"))
  }

  /// The bundled multilingual pipeline (every stage from normalize to mixture sampling; lang.id
  /// reads the model embedded in the binary, as nothing lies beside the copy) gives the same
  /// data, rejects, artifacts and export as the build the other end-to-end tests run.
  @Test func aLoneCopyRunsTheMultilingualPipelineWithTheToolchainHidden() throws {
    let folder = try E2E.temporaryDirectory("dist")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let copy = folder + "/bin/pipe"
    try FileManager.default.createDirectory(atPath: folder + "/bin", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Dist.binary, toPath: copy)
    let reference = try E2E.pipe(
      ["run", "pipelines/multilingual.json", "--run-dir", folder + "/reference"], in: E2E.repositoryRoot)
    try #require(reference.status == 0, "the normal build's run failed: \(reference.stderr)")
    let expected = try E2E.outputs(folder + "/reference")
    #expect(expected.keys.contains("output/manifest.json"))
    #expect(expected.keys.contains { $0.hasPrefix("artifacts/") })

    let dist = try Dist.runHidden(copy, ["run", "pipelines/multilingual.json", "--run-dir", folder + "/dist"])
    try #require(dist.status == 0, "a copy of dist/pipe failed with the toolchain hidden: \(dist.stderr)")
    #expect(dist.stdout.contains("run of multilingual done"))
    E2E.expectSameFiles(try E2E.outputs(folder + "/dist"), expected, "between dist/pipe and \(E2E.binary)")
  }
}

/// Helpers to run `dist/pipe` and the tools that inspect it.
enum Dist {
  static let binary = E2E.repositoryRoot + "/dist/pipe"

  static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: binary) }

  /// The toolchain's folder: where this test process loaded the Swift runtime from
  /// (`TOOLCHAIN/usr/lib/swift/linux/libswiftCore.so`), else /opt/swift.
  static let toolchain: String = {
    let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
    for line in maps.split(separator: "\n") {
      guard let start = line.firstIndex(of: "/") else { continue }
      let path = String(line[start...])
      if let range = path.range(of: "/usr/lib/swift/linux/libswiftCore.so") { return String(path[..<range.lowerBound]) }
    }
    return "/opt/swift"
  }()

  /// Runs `executable` from the repository root, without the variables that point `pipe` at a
  /// language model or inject faults; stdout and stderr go through files, so neither can fill
  /// up and block the process.
  static func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let folder = try E2E.temporaryDirectory("dist-process")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let outPath = folder + "/stdout"
    let errPath = folder + "/stderr"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PIPE_LANGID_MODEL"] = nil
    environment["PIPE_FAULT"] = nil
    process.environment = environment
    process.currentDirectoryURL = URL(fileURLWithPath: E2E.repositoryRoot)
    process.standardOutput = out
    process.standardError = err
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessResult(
      status: process.terminationStatus,
      stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
      stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self),
      wasSignaled: process.terminationReason == .uncaughtSignal)
  }

  /// Runs `executable` (`dist/pipe` or a copy) with `arguments` in a new mount namespace where
  /// an empty tmpfs covers the toolchain's folder; the shell checks that the folder is empty
  /// before it starts the binary.
  static func runHidden(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let script = """
      mount -t tmpfs none "$0" || exit 97
      if [ -n "$(ls -A "$0")" ]; then echo "$0 is still visible" >&2; exit 98; fi
      exec "$@"
      """
    let result = try run("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script, toolchain, executable] + arguments)
    #expect(
      result.status != 1 || !result.stderr.hasPrefix("unshare:"),
      "unshare -m needs root (or CAP_SYS_ADMIN) to hide the toolchain: \(result.stderr)")
    #expect(result.status != 97, "could not mount a tmpfs over \(toolchain): \(result.stderr)")
    return result
  }
}
