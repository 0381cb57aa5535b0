import Foundation
import PipeCore
import Testing

@testable import PipeRuntime

/// How a submission's tasks become job arrays and Slurm dependencies (no Slurm needed).
struct SlurmJobsTests {
  /// The planner's tasks for `shards` inputs of the exact-dedup pipeline of PlannerTests.
  static func tasks(shards: Int) throws -> [PlannedTask] {
    let base = try PlannerTests.folder()
    for shard in 0..<shards {
      _ = FileManager.default.createFile(atPath: "\(base)/\(shard).jsonl", contents: Data(#"{"text":"x"}"#.utf8))
    }
    let spec = try PlannerTests.spec(PlannerTests.pipeline(minChars: 5), base: base)
    return try Planner(spec: spec, layout: RunLayout(root: base + "/run")).plan().tasks
  }

  @Test func arrayExpressionsAreCompact() {
    #expect(SlurmJobs.arrayExpression([0, 1, 2, 3, 7, 12, 13, 14, 15]) == "0-3,7,12-15")
    #expect(SlurmJobs.arrayExpression([5]) == "5")
    #expect(SlurmJobs.arrayExpression([3, 1, 2]) == "1-3")
    #expect(SlurmJobs.arrayExpression([0, 2, 4]) == "0,2,4")
  }

  /// One group per task stage; the filter pass waits for its own shard's first pass
  /// (aftercorr) and for the whole index (afterok); the export for the whole filter.
  @Test func groupsPairCorrespondingShards() throws {
    let groups = SlurmJobs.groups(of: try Self.tasks(shards: 4))
    #expect(groups.map(\.stage) == ["norm", "dup:index", "dup", ":export"])
    #expect(groups.map(\.indices) == [[0, 1, 2, 3], [0], [0, 1, 2, 3], [0]])
    #expect(groups.allSatisfy { !$0.sequential })
    #expect(groups[1].dependencies == [JobGroup.Dependency(group: 0, corresponding: false)])
    #expect(
      groups[2].dependencies == [
        JobGroup.Dependency(group: 0, corresponding: true), JobGroup.Dependency(group: 1, corresponding: false),
      ])
    #expect(groups[3].dependencies == [JobGroup.Dependency(group: 2, corresponding: false)])
  }

  /// Only some shards resubmitted: the filter runs on every shard (the index changed) but
  /// the first pass on shard 2 only, so the filter cannot pair with it element by element.
  @Test func aPartialResubmissionWaitsForTheWholeArray() throws {
    let all = try Self.tasks(shards: 4)
    let toRun = all.filter { $0.key.stage != "norm" || $0.key.shard == 2 }
    let groups = SlurmJobs.groups(of: toRun)
    #expect(groups[0].indices == [2])
    #expect(groups[2].dependencies.first == JobGroup.Dependency(group: 0, corresponding: false))
  }

  /// Arrays never reach MaxArraySize: task indices 0-11 with a limit of 5 become arrays 0-4
  /// with offsets 0, 5 and 10, and each filter array pairs with the first-pass array of the
  /// same offset.
  @Test func arraysAreSplitUnderMaxArraySize() throws {
    let groups = SlurmJobs.groups(of: try Self.tasks(shards: 12))
    let jobs = SlurmJobs.jobs(of: groups, maxArraySize: 5)
    let first = jobs.filter { $0.group == 0 }
    #expect(first.map(\.offset) == [0, 5, 10])
    #expect(first.map(\.indices) == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1]])
    #expect(jobs.allSatisfy { $0.indices.allSatisfy { $0 < 5 } })
    let submitted: [Int: [(offset: Int, id: String)]] = [0: [(0, "10"), (5, "11"), (10, "12")], 1: [(0, "13")]]
    let filter = try #require(jobs.first { $0.group == 2 && $0.offset == 5 })
    #expect(SlurmJobs.dependency(of: filter, groups: groups, submitted: submitted) == "aftercorr:11,afterok:13")
    let index = try #require(jobs.first { $0.group == 1 })
    #expect(SlurmJobs.dependency(of: index, groups: groups, submitted: submitted) == "afterok:10:11:12")
    #expect(SlurmJobs.dependency(of: first[0], groups: groups, submitted: submitted) == nil)
  }

  /// Three tasks per element: 12 shards are 4 elements per record group; the single index is
  /// one element; arrays still stay under MaxArraySize (elements, not tasks).
  @Test func severalTasksPerElement() throws {
    let groups = SlurmJobs.groups(of: try Self.tasks(shards: 12))
    let jobs = SlurmJobs.jobs(of: groups, maxArraySize: 3, tasksPerJob: 3)
    let first = jobs.filter { $0.group == 0 }
    #expect(first.map(\.offset) == [0, 3])
    #expect(first.map(\.indices) == [[0, 1, 2], [0]])
    #expect(first.compactMap(\.elements) == [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[9, 10, 11]]])
    #expect(first.flatMap(\.taskIndices) == Array(0..<12))
    let index = try #require(jobs.first { $0.group == 1 })
    #expect(index.elements == [[0]])
  }
}
