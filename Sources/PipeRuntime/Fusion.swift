import PipeCore

/// Fuses per-shard rows into chains and decides which kept records are written to disk.
///
/// The rules, per stage (every shard the same way):
/// - A stage's record rows join the chain of the rows that make its input (one pass over the
///   shard: read and parse once, each stage decides in turn) when the stage reads exactly one
///   stage, needs no step or artifact to decide (a global algorithm's filter waits for its
///   steps, a scorer for its model), is not sequential (a stateful stage starts its own chain,
///   so the work upstream of it stays parallel), and its input waits for nothing else (the
///   records of a planning stage wait for the plan).
/// - A collect pass (dedup keys, MinHash signatures, group totals) joins the chain that makes
///   its input on the same terms, and ends that branch: it has no records downstream.
/// - A stage's kept records are written when something reads them outside their chain (a
///   chain that starts with a global algorithm's filter, a step that reads every record, a
///   stage reading several inputs, the export), when nothing reads them at all (a result of
///   the pipeline), or when the stage says `"materialize": true`.
/// - Except a stage whose decisions are cheap to recompute (a dedup filter), read again only by
///   later chains, whose own input is written: those chains read that input and recompute the
///   stage in front of their first row, silently (one level). See docs/engine.md.
struct Fusion {
  /// What fusion needs to know of a stage's rows.
  struct StageRows {
    var collect: [TaskKey]
    var steps: [[TaskKey]]
    var records: [TaskKey]
    var hasSteps: Bool
    var usesArtifacts: Bool
    var isSequential: Bool
    var readsInputRecords: Bool
    var streamOwner: String?
    var inputsHaveExtraDependencies: Bool
    /// Stages that use this stage's artifacts.
    var users: [String]
    /// Whether a later pass may recompute the stage's records instead of reading them.
    var cheapToRecompute: Bool
  }

  let spec: PipelineSpec
  var rows: [TaskKey: PlannedRow]
  let order: [TaskKey]
  var stages: [String: StageRows] = [:]
  var stageInputs: [String: [ShardRef]] = [:]

  init(spec: PipelineSpec, rows: [TaskKey: PlannedRow], order: [TaskKey]) {
    self.spec = spec
    self.rows = rows
    self.order = order
  }

  /// The stage whose record rows make the stream `id` names (itself, or through pass-through
  /// stages), or nil for a pipeline input or a stage without records.
  func owner(_ id: String) -> String? { stages[id]?.streamOwner }

  mutating func plan(stages planned: [PlannedStage], directory: ArtifactDirectory, exportShards: [ShardRef]) -> Plan {
    // 1. Which links join the chain of their input, by stage, and why records go to disk.
    var parentStage: [String: String] = [:]  // "stage" or "stage:collect" -> the owner stage
    var written = Set<String>()  // owner stages whose records go to disk
    // Owner stages read again only by the first row of a later chain: (owner, that row's stage).
    var readByChains: [String: [String]] = [:]
    var consumed = Set<String>()
    for stage in spec.stages {
      guard let shape = stages[stage.id] else { continue }
      let single = stage.inputs.count == 1 ? stage.inputs[0] : nil
      let upstream = single.flatMap(owner)
      let fusable = upstream != nil && !shape.inputsHaveExtraDependencies
      for input in stage.inputs {
        guard let producer = owner(input) else { continue }
        consumed.insert(producer)
        if stage.inputs.count > 1 || shape.readsInputRecords { written.insert(producer) }
      }
      if !shape.collect.isEmpty {
        if fusable, let upstream {
          parentStage[stage.id + ":collect"] = upstream
        } else if let upstream {
          readByChains[upstream, default: []].append(stage.id + ":collect")
        }
      }
      if !shape.records.isEmpty, let upstream {
        if fusable && !shape.hasSteps && !shape.usesArtifacts && !shape.isSequential {
          parentStage[stage.id] = upstream
        } else {
          readByChains[upstream, default: []].append(stage.id)
        }
      }
    }
    if let output = spec.output, let producer = owner(output.from) { written.insert(producer) }
    for stage in spec.stages {
      guard let shape = stages[stage.id], !shape.records.isEmpty else { continue }
      if stage.materialize || !consumed.contains(stage.id) { written.insert(stage.id) }
    }
    // A stage whose decisions are cheap to recompute (a dedup filter) is not written for the
    // chains that read it again: they read what it was made from, and recompute it on the way
    // (one level: what it was made from is itself written). Otherwise those chains read it.
    var replays: [String: String] = [:]  // a chain's first link -> the stage it recomputes
    for stage in spec.stages {
      guard let readers = readByChains[stage.id] else { continue }
      let base = stage.inputs.count == 1 ? owner(stage.inputs[0]) : nil
      if let shape = stages[stage.id], shape.cheapToRecompute, !written.contains(stage.id), let base,
        written.contains(base), replays[stage.id] == nil, !shape.inputsHaveExtraDependencies
      {
        for reader in readers { replays[reader] = stage.id }
      } else {
        written.insert(stage.id)
      }
    }

    // 2. Per shard: each row's parent row, then the chains.
    var parent: [TaskKey: TaskKey] = [:]
    for stage in spec.stages {
      guard let shape = stages[stage.id] else { continue }
      if let upstream = parentStage[stage.id + ":collect"], let producers = stages[upstream]?.records {
        for (row, producer) in zip(shape.collect, producers) { parent[row] = producer }
      }
      if let upstream = parentStage[stage.id], let producers = stages[upstream]?.records {
        for (row, producer) in zip(shape.records, producers) { parent[row] = producer }
      }
    }
    for (id, shape) in stages where written.contains(id) {
      for key in shape.records { rows[key]?.materialized = true }
    }
    var children: [TaskKey: [TaskKey]] = [:]
    for key in order {
      if let up = parent[key] { children[up, default: []].append(key) }
    }

    // The row each recomputing chain's first row recomputes, by that first row.
    var preludes: [TaskKey: PlannedRow] = [:]
    for (reader, replayed) in replays {
      let readerRows =
        reader.hasSuffix(":collect") ? stages[String(reader.dropLast(8))]?.collect : stages[reader]?.records
      guard let readerRows, let replayedRows = stages[replayed]?.records else { continue }
      for (row, recomputed) in zip(readerRows, replayedRows) { preludes[row] = rows[recomputed] }
    }

    var tasks: [PlannedTask] = []
    var taskOf: [TaskKey: TaskKey] = [:]
    for key in order where parent[key] == nil {
      guard let root = rows[key] else { continue }
      switch root.work {
      case .records, .collect:
        // The chain in pre-order, each row with the indexes of the rows it feeds.
        var members: [TaskKey] = []
        var links: [[Int]] = []
        func visit(_ key: TaskKey) -> Int {
          let index = members.count
          members.append(key)
          links.append([])
          for child in children[key] ?? [] {
            let position = visit(child)
            links[index].append(position)
          }
          return index
        }
        _ = visit(key)
        for member in members { taskOf[member] = key }
        var task = PlannedTask(
          key: key, rows: members.compactMap { rows[$0] }, kind: .chain(children: links), dependencies: [],
          inputBytes: root.shard?.bytes ?? 0)
        if let recomputed = preludes[key] { task.prelude = [recomputed] }
        tasks.append(task)
      case .step(let step):
        taskOf[key] = key
        let bytes = step.readsInputRecords ? root.dependencies.compactMap { rows[$0]?.shard?.bytes }.reduce(0, +) : 0
        tasks.append(PlannedTask(key: key, rows: [root], kind: .step, dependencies: [], inputBytes: bytes))
      case .export:
        taskOf[key] = key
        tasks.append(
          PlannedTask(
            key: key, rows: [root], kind: .export(exportShards), dependencies: [],
            inputBytes: exportShards.reduce(0) { $0 + $1.bytes }))
      }
    }

    // 3. Each row knows its task; each task waits for the tasks of what its rows read.
    for index in tasks.indices {
      var seen = Set<TaskKey>()
      var dependencies: [TaskKey] = []
      var members: [PlannedRow] = []
      for var row in tasks[index].rows {
        row.task = tasks[index].key
        rows[row.key] = row
        members.append(row)
        for dependency in row.dependencies {
          guard let task = taskOf[dependency], task != tasks[index].key, seen.insert(task).inserted else { continue }
          dependencies.append(task)
        }
      }
      let prelude = tasks[index].prelude
      tasks[index] = PlannedTask(
        key: tasks[index].key, rows: members, kind: tasks[index].kind, dependencies: dependencies,
        inputBytes: tasks[index].inputBytes)
      tasks[index].prelude = prelude
    }

    // 4. Who reads what is written, for deleting intermediates once every reader is done.
    var readers: [TaskKey: [TaskKey]] = [:]
    for task in tasks {
      for row in task.rows {
        var read: [TaskKey] = []
        switch row.work {
        case .records, .collect:
          if let producer = row.shard?.producer, taskOf[producer] != task.key { read = [producer] }
        case .step(let step):
          if step.readsInputRecords { read = row.dependencies.filter { rows[$0]?.outputPath != nil } }
        case .export:
          read = row.dependencies.filter { rows[$0]?.outputPath != nil }
        }
        for producer in read where rows[producer]?.materialized == true {
          if !(readers[producer]?.contains(task.key) ?? false) { readers[producer, default: []].append(task.key) }
        }
      }
      // A recomputing chain reads what the recomputed stage was made from.
      for recomputed in task.prelude {
        guard let producer = recomputed.shard?.producer, rows[producer]?.materialized == true else { continue }
        if !(readers[producer]?.contains(task.key) ?? false) { readers[producer, default: []].append(task.key) }
      }
    }
    var artifactReaders: [String: [TaskKey]] = [:]
    for (id, shape) in stages where !shape.collect.isEmpty || !shape.steps.isEmpty {
      let later = shape.steps.flatMap { $0 } + shape.records
      let using = shape.users.flatMap { stages[$0]?.records ?? [] }
      var found: [TaskKey] = []
      for key in later + using {
        guard let task = taskOf[key], !found.contains(task) else { continue }
        found.append(task)
      }
      for task in tasks where task.prelude.contains(where: { $0.stage?.id == id }) && !found.contains(task.key) {
        found.append(task.key)
      }
      artifactReaders[id] = found
    }

    let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
    tasks.sort { (position[$0.key] ?? 0) < (position[$1.key] ?? 0) }
    return Plan(
      stages: planned, tasks: tasks, artifacts: directory, rows: rows, readers: readers,
      artifactReaders: artifactReaders, stageInputs: stageInputs)
  }
}
