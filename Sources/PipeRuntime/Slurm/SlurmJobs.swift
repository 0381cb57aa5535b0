import PipeCore

/// The tasks of one manifest stage id (a chain's first stage, a step, the export) that a
/// submission runs: one Slurm job array over their indices, or one job when they must run in
/// order.
struct JobGroup: Equatable, Sendable {
  /// How a group waits for another.
  struct Dependency: Equatable, Sendable {
    /// The group waited for (an index into the submission's groups).
    let group: Int
    /// Each task waits only for the task of the same index there (Slurm's `aftercorr`), which
    /// holds when both groups have the same indices and each task reads exactly its own.
    let corresponding: Bool
  }

  /// The task key's stage (`normalize`, `near:signatures`, `:export`).
  let stage: String
  /// The task indices (shards or groups), ascending.
  var indices: [Int]
  /// The tasks read each other's results (state that chains from shard to shard): one job
  /// runs them one after another, in order.
  var sequential: Bool
  /// The groups this one waits for, in submission order.
  var dependencies: [Dependency]
}

/// One `sbatch`: a job array over some of a group's indices (`offset` + each array index is
/// the task index), or a plain job running the indices in order.
struct JobSpec: Equatable, Sendable {
  /// Its group.
  let group: Int
  /// Added to `SLURM_ARRAY_TASK_ID` to get the task index.
  let offset: Int
  /// Array indices (task index minus offset), ascending; for a plain job, the task indices.
  let indices: [Int]
  /// A plain job (not an array) that runs `indices` one after another.
  let isPlain: Bool
  /// With several tasks per array element (`--tasks-per-job`): the task indices of each array
  /// index, in the order of `indices` (`offset` then counts elements, not tasks).
  var elements: [[Int]]? = nil

  /// Every task index it runs.
  var taskIndices: [Int] {
    if isPlain { return indices }
    if let elements { return elements.flatMap { $0 } }
    return indices.map { $0 + offset }
  }
}

/// Pure planning of a Slurm submission: which tasks form which job arrays and how they wait
/// for each other. No Slurm command runs here.
enum SlurmJobs {
  /// Groups `tasks` (plan order, so dependencies come first) by their key's stage.
  /// Dependencies on tasks outside `tasks` are done already and ignored.
  static func groups(of tasks: [PlannedTask]) -> [JobGroup] {
    var groupOf: [String: Int] = [:]
    var groups: [JobGroup] = []
    for task in tasks where groupOf[task.key.stage] == nil {
      groupOf[task.key.stage] = groups.count
      groups.append(JobGroup(stage: task.key.stage, indices: [], sequential: false, dependencies: []))
    }
    let submitted = Set(tasks.map(\.key))
    // For each (group, group it waits for): whether every task waits for exactly its own index.
    var waits: [Int: [Int: Bool]] = [:]
    for task in tasks {
      guard let group = groupOf[task.key.stage] else { continue }
      groups[group].indices.append(task.key.shard)
      var byGroup: [Int: [Int]] = [:]
      for dependency in task.dependencies where submitted.contains(dependency) {
        guard let other = groupOf[dependency.stage] else { continue }
        if other == group {
          groups[group].sequential = true
        } else {
          byGroup[other, default: []].append(dependency.shard)
        }
      }
      for (other, shards) in byGroup {
        let own = shards == [task.key.shard]
        waits[group, default: [:]][other] = (waits[group]?[other] ?? true) && own
      }
    }
    for group in groups.indices { groups[group].indices.sort() }
    for group in groups.indices {
      groups[group].dependencies = (waits[group] ?? [:]).keys.sorted().map { other in
        // aftercorr pairs array index i with array index i: exact only between arrays over
        // the same indices, split the same way, where each task reads exactly its own index.
        let exact =
          (waits[group]?[other] ?? false) && groups[group].indices == groups[other].indices
          && !groups[group].sequential && !groups[other].sequential
          && Self.everyTaskWaits(in: groups[group], on: groups[other], tasks: tasks, submitted: submitted)
        return JobGroup.Dependency(group: other, corresponding: exact)
      }
    }
    return groups
  }

  /// Whether every task of `group` has a dependency in `other` (a task with none there would
  /// wait for nothing under `aftercorr`, yet `afterok` would make it wait: keep the stricter).
  private static func everyTaskWaits(
    in group: JobGroup, on other: JobGroup, tasks: [PlannedTask], submitted: Set<TaskKey>
  ) -> Bool {
    tasks.filter { $0.key.stage == group.stage }.allSatisfy { task in
      task.dependencies.contains { $0.stage == other.stage && submitted.contains($0) }
    }
  }

  /// The `sbatch` calls of `groups`, in submission order: each group's indices split so that
  /// no array index reaches `maxArraySize` (ranges of `maxArraySize` task indices, each with
  /// its offset; two groups over the same indices split the same way, which `aftercorr` needs).
  /// With `tasksPerJob` above 1, each array element runs that many consecutive tasks of its
  /// group, and the arrays count elements.
  static func jobs(of groups: [JobGroup], maxArraySize: Int, tasksPerJob: Int = 1) -> [JobSpec] {
    precondition(maxArraySize >= 1 && tasksPerJob >= 1)
    var jobs: [JobSpec] = []
    for (number, group) in groups.enumerated() {
      if group.sequential {
        jobs.append(JobSpec(group: number, offset: 0, indices: group.indices, isPlain: true))
        continue
      }
      if tasksPerJob > 1 {
        let units = stride(from: 0, to: group.indices.count, by: tasksPerJob).map {
          Array(group.indices[$0..<min($0 + tasksPerJob, group.indices.count)])
        }
        for start in stride(from: 0, to: units.count, by: maxArraySize) {
          let end = min(start + maxArraySize, units.count)
          jobs.append(
            JobSpec(
              group: number, offset: start, indices: Array(0..<(end - start)), isPlain: false,
              elements: Array(units[start..<end])))
        }
        continue
      }
      var current: (offset: Int, indices: [Int])? = nil
      for index in group.indices {
        let offset = (index / maxArraySize) * maxArraySize
        if let open = current, open.offset != offset {
          jobs.append(JobSpec(group: number, offset: open.offset, indices: open.indices, isPlain: false))
          current = nil
        }
        current = (offset, (current?.indices ?? []) + [index - offset])
      }
      if let open = current {
        jobs.append(JobSpec(group: number, offset: open.offset, indices: open.indices, isPlain: false))
      }
    }
    return jobs
  }

  /// A compact Slurm array expression: `[0, 1, 2, 3, 7, 12, 13, 14, 15]` → `0-3,7,12-15`.
  static func arrayExpression(_ indices: [Int]) -> String {
    var parts: [String] = []
    var index = 0
    let sorted = indices.sorted()
    while index < sorted.count {
      var end = index
      while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
      parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
      index = end + 1
    }
    return parts.joined(separator: ",")
  }

  /// The `--dependency` value of `job`, given the job ids already submitted per group (with
  /// their offsets), or nil when it waits for nothing.
  static func dependency(
    of job: JobSpec, groups: [JobGroup], submitted: [Int: [(offset: Int, id: String)]]
  ) -> String? {
    var parts: [String] = []
    for dependency in groups[job.group].dependencies {
      let ids = submitted[dependency.group] ?? []
      if dependency.corresponding && !job.isPlain, let paired = ids.first(where: { $0.offset == job.offset }) {
        parts.append("aftercorr:\(paired.id)")
      } else if !ids.isEmpty {
        parts.append("afterok:" + ids.map(\.id).joined(separator: ":"))
      }
    }
    return parts.isEmpty ? nil : parts.joined(separator: ",")
  }
}
