import Foundation

/// Fault injection for the kill-and-resume tests, read from `PIPE_FAULT` (clauses joined by
/// commas):
/// - `kill-in-task=STAGE:SHARD:N` kills the process with SIGKILL once row `STAGE[SHARD]` has
///   kept (or, for a collect pass or the export, read) N records, every open file of its task
///   flushed first, so they are really half written;
/// - `fail-in-task=STAGE:SHARD` makes the task holding that row throw;
/// - `kill-after-tasks=N` kills the process right after the Nth task of this process is
///   merged into the manifest;
/// - `kill-before-merge=N` kills it after the Nth task wrote its ledger, before merging it;
/// - `slow-records=MS` makes every task sleep MS milliseconds per 100 records read (so a test
///   can interrupt a run that is surely still going).
struct FaultPlan: Sendable {
  var killInTask: (stage: String, shard: Int, records: Int)?
  var failInTask: (stage: String, shard: Int)?
  var killAfterTasks: Int?
  var killBeforeMerge: Int?
  var slowMilliseconds: Int?

  static func fromEnvironment() -> FaultPlan {
    parse(ProcessInfo.processInfo.environment["PIPE_FAULT"] ?? "")
  }

  static func parse(_ value: String) -> FaultPlan {
    var plan = FaultPlan()
    for clause in value.split(separator: ",") {
      let parts = clause.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { continue }
      // The stage comes first and may itself contain ':' (steps such as `dedup:keys`), so the
      // numbers are taken from the end.
      let fields = parts[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      switch parts[0] {
      case "kill-in-task" where fields.count >= 3:
        if let shard = Int(fields[fields.count - 2]), let records = Int(fields[fields.count - 1]) {
          plan.killInTask = (fields.dropLast(2).joined(separator: ":"), shard, records)
        }
      case "fail-in-task" where fields.count >= 2:
        if let shard = Int(fields[fields.count - 1]) {
          plan.failInTask = (fields.dropLast().joined(separator: ":"), shard)
        }
      case "kill-after-tasks":
        plan.killAfterTasks = Int(parts[1])
      case "kill-before-merge":
        plan.killBeforeMerge = Int(parts[1])
      case "slow-records":
        plan.slowMilliseconds = Int(parts[1])
      default:
        continue
      }
    }
    return plan
  }

  /// Whether row `stage[shard]` reached the record count to be killed at.
  @inline(__always)
  func isKillDue(stage: String, shard: Int, records: Int) -> Bool {
    guard let target = killInTask else { return false }
    return target.records == records && target.shard == shard && target.stage == stage
  }

  /// Kills the process at once, as a crash or `kill -9` would.
  func kill() -> Never {
    Foundation.kill(getpid(), SIGKILL)
    fatalError("SIGKILL did not stop the process")
  }

  /// Whether a task holding a row `stage[shard]` must fail.
  func mustFail(_ keys: [TaskKey]) -> TaskKey? {
    guard let target = failInTask else { return nil }
    return keys.first { $0.stage == target.stage && $0.shard == target.shard }
  }
}
