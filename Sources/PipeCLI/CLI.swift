import Foundation
import PipeCore

/// The `pipe` command line: the only place that prints for the user and chooses exit codes.
public enum CLI {
  /// Exit codes: 0 ok, 1 a run failed, 2 bad input or usage, 130 and 143 a run stopped by
  /// SIGINT or SIGTERM (128 + the signal, as shells report it).
  public enum ExitCode: Int32 {
    /// Everything worked.
    case success = 0
    /// A run had failed tasks, or `pipe verify` found damage.
    case failure = 1
    /// Bad input, bad pipeline file or bad usage.
    case badInput = 2
    /// A run stopped by Ctrl-C (SIGINT).
    case interrupted = 130
    /// A run stopped by SIGTERM.
    case terminated = 143
  }

  /// The version printed by `pipe --version`.
  public static let version = "0.1.0"

  static let commands: [(name: String, summary: String)] = [
    ("run", "run a pipeline file, skipping what is already done"),
    ("resume", "finish a failed or killed run"),
    ("inspect", "show the stages of a run: status, counts, drop reasons, time (and time deciding), throughput"),
    ("why", "show where a record came from and what every stage decided"),
    ("validate", "check a pipeline file and report every problem"),
    ("verify", "re-hash a run's outputs against its manifest; the next run redoes what differs"),
    ("cat", "print records of a shard or of a stage's output"),
    ("ops", "list every op, its version and its config keys"),
    ("tokenize", "print the token ids of texts or records with a model's tokenizer"),
  ]

  static var overview: String {
    var text = """
      pipe: declarative pipelines for LLM training data (zstd JSONL shards in and out).

      usage: pipe <command> [arguments] [options]

      commands:

      """
    for command in commands {
      text += "  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0) + command.summary + "\n"
    }
    text += """

      `pipe <command> --help` describes a command. Exit codes: 0 ok, 1 run failed, 2 bad input or usage.
      """
    return text
  }

  /// Runs the command line `arguments` (without the program name) and returns the exit code.
  public static func main(_ arguments: [String]) -> Int32 {
    tuneAllocator()
    guard let command = arguments.first else {
      print(overview)
      return ExitCode.badInput.rawValue
    }
    let rest = Array(arguments.dropFirst())
    if command == "--help" || command == "-h" || command == "help" {
      if let topic = rest.first, let help = Commands.help[topic] {
        print(help)
      } else {
        print(overview)
      }
      return ExitCode.success.rawValue
    }
    if command == "--version" {
      print("pipe \(version)")
      return ExitCode.success.rawValue
    }
    guard let help = Commands.help[command] else {
      printError("pipe: unknown command \"\(command)\"\n\n\(overview)")
      return ExitCode.badInput.rawValue
    }
    if rest.contains("--help") || rest.contains("-h") {
      print(help)
      return ExitCode.success.rawValue
    }
    do {
      return try Commands.dispatch(command, rest).rawValue
    } catch let error as PipeError {
      printError("pipe \(command): \(error.description)")
      switch error.code {
      case .usage, .config, .input, .busy: return ExitCode.badInput.rawValue
      default: return ExitCode.failure.rawValue
      }
    } catch let error as PipelineValidationError {
      printError("pipe \(command): the pipeline file has \(error.issues.count) problem(s):\n\(error.description)")
      return ExitCode.badInput.rawValue
    } catch {
      printError("pipe \(command): \(error)")
      return ExitCode.failure.rawValue
    }
  }

  /// glibc serves allocations above 128 KiB with fresh mmap pages and returns freed memory to
  /// the kernel eagerly; the 1 MiB I/O and zstd buffers then page-fault on every shard (about
  /// 10% of a passthrough run). Raising the thresholds keeps those buffers in the heap.
  static func tuneAllocator() {
    #if os(Linux)
      // M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_TOP_PAD from glibc's <malloc.h>.
      _ = glibcMallopt(-3, 64 << 20)
      _ = glibcMallopt(-1, 256 << 20)
      _ = glibcMallopt(-2, 16 << 20)
    #endif
  }

  static func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }
}

#if os(Linux)
  /// glibc's `mallopt`, declared here because Swift's Glibc module does not include <malloc.h>.
  @_silgen_name("mallopt")
  private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
