import Foundation
import PipeCore

/// Where everything of a run lives inside its run directory.
///
/// ```
/// RUN/manifest.sqlite                      the manifest (SQLite, WAL)
/// RUN/pipeline.json                        the pipeline file as the last run saw it
/// RUN/data/STAGE/part-00000.jsonl.zst      kept records of each task
/// RUN/rejects/STAGE/part-00000.jsonl.zst   dropped records, each with its reason
/// RUN/artifacts/STAGE/...                  non-record outputs (dedup keys and indexes)
/// RUN/ledgers/STAGE/part-00000.ledger      a finished task's results, until merged
/// RUN/output/                              the final export and its manifest.json
/// RUN/run.lock                             held while a pipe process works here
/// ```
public struct RunLayout: Sendable {
  /// The run directory (absolute).
  public let root: String

  /// Creates a layout rooted at `root` (made absolute against the current directory).
  public init(root: String) {
    self.root = RunLayout.absolute(root)
  }

  /// The manifest database.
  public var manifestPath: String { root + "/manifest.sqlite" }
  /// The lock file.
  public var lockPath: String { root + "/run.lock" }
  /// The saved pipeline file.
  public var pipelineCopyPath: String { root + "/pipeline.json" }

  /// The kept-records shard of a task.
  public func dataShard(stage: String, shard: Int) -> String {
    "\(root)/data/\(Self.folderName(stage))/part-\(Self.number(shard)).jsonl.zst"
  }

  /// The rejects shard of a task.
  public func rejectsShard(stage: String, shard: Int) -> String {
    "\(root)/rejects/\(Self.folderName(stage))/part-\(Self.number(shard)).jsonl.zst"
  }

  /// A stage's artifact folder.
  public func artifactFolder(stage: String) -> String {
    "\(root)/artifacts/\(Self.folderName(stage))"
  }

  /// The file of an artifact named `name` (`keys.bin`) of a step, one per `index` when given
  /// (`keys-00003.bin`).
  public func artifact(step: String, name: String, index: Int?) -> String {
    artifactFolder(stage: step) + "/" + Self.artifactFileName(name, index: index)
  }

  /// `name`, or with `-NNNNN` before its extension for an indexed artifact.
  static func artifactFileName(_ name: String, index: Int?) -> String {
    ArtifactSpec.fileName(name, index: index)
  }

  /// The folder of task ledgers.
  public var ledgerFolder: String { root + "/ledgers" }

  /// The ledger of the task whose first row is `stage[shard]`.
  public func ledger(stage: String, shard: Int) -> String {
    "\(ledgerFolder)/\(Self.folderName(stage))/part-\(Self.number(shard)).ledger"
  }

  /// The journal of LLM answers the task whose first row is `stage[shard]` received.
  public func llmJournal(stage: String, shard: Int) -> String {
    "\(ledgerFolder)/\(Self.folderName(stage))/part-\(Self.number(shard)).llm.jsonl"
  }

  /// A path relative to the run directory when it is inside it.
  public func relative(_ path: String) -> String {
    path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
  }

  /// The export folder for an output path from the pipeline file.
  public func outputFolder(_ path: String) -> String {
    path.hasPrefix("/") ? path : "\(root)/\(path)"
  }

  /// Internal step ids contain ':' (never valid in user ids); folders use '.' instead.
  static func folderName(_ stage: String) -> String {
    stage.replacingOccurrences(of: ":", with: ".")
  }

  static func number(_ shard: Int) -> String {
    let digits = String(shard)
    return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
  }

  /// `path` made absolute against the current directory, with `.` and `..` resolved.
  public static func absolute(_ path: String) -> String {
    let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var parts: [Substring] = []
    for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." {
        if !parts.isEmpty { parts.removeLast() }
        continue
      }
      parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
  }
}
