import PipeCore
import PipeIO

/// Identifies a task: a manifest stage id (user stage or internal step) and a shard index.
public struct TaskKey: Hashable, Sendable, CustomStringConvertible {
  /// The manifest stage id.
  public let stage: String
  /// The shard index.
  public let shard: Int

  /// Creates a key.
  public init(stage: String, shard: Int) {
    self.stage = stage
    self.shard = shard
  }

  /// `stage[shard]`.
  public var description: String { "\(stage)[\(shard)]" }
}

/// What a task does.
enum TaskWork: Sendable {
  /// Runs a record stage over one shard.
  case record(any RecordStage)
  /// Runs a batch stage over one shard.
  case batch(any BatchRecordStage)
  /// Runs a stateful batch stage over one shard, from the state the previous shard left.
  case statefulBatch(any StatefulBatchStage, stateIn: String?, stateOut: String)
  /// Computes duplicate keys of one shard (first step of exact dedup).
  case duplicateKeys(any DuplicateKeyStage, keyFile: String)
  /// Finds, across all shards in order, which records repeat an earlier key.
  case duplicateIndex(keyFiles: [String], indexFolder: String)
  /// Drops the records the index named (last step of exact dedup).
  case duplicateFilter(indexFolder: String, reason: String)
  /// Writes the band keys, lines, scores and ids of one shard (first step of near-dedup).
  case nearDuplicateSignatures(any NearDuplicateStage, files: NearDuplicateSteps.Files)
  /// Merges a group of bands of every shard's keys and links the similar records sharing a key.
  case nearDuplicateBuckets(any NearDuplicateStage, group: Int, shards: Int, files: NearDuplicateSteps.Files)
  /// Joins the links into clusters, picks survivors and writes per-shard verdicts.
  case nearDuplicateClusters(shards: Int, bucketTasks: Int, files: NearDuplicateSteps.Files)
  /// Drops non-survivors and sets the cluster size on survivors (last step of near-dedup).
  case nearDuplicateFilter(files: NearDuplicateSteps.Files, reason: String, countField: String?)
  /// Totals the tokens of each group in one shard (first step of mixture planning).
  case groupTotals(any GroupPlanningStage, totalsFile: String)
  /// Sums every shard's totals and writes the plan.
  case groupPlan(any GroupPlanningStage, totalsFiles: [String], planFile: String)
  /// Applies a plan to one shard: drops, keeps or repeats each record.
  case planSample(any PlanSamplingStage, planFile: String)
  /// Trains on every record of the input shards, in order, and writes the artifact.
  case train(any TrainingStage, inputs: [String], artifactFile: String, reportFile: String)
  /// Runs the record stage an artifact scorer builds from a trained artifact over one shard.
  case score(any ArtifactScoringStage, artifactFile: String)
  /// Reshards a stage's output into the export folder.
  case export(OutputSpec, folder: String, shards: [String])
}

/// One planned task.
struct PlannedTask: Sendable {
  let key: TaskKey
  /// The user-facing stage this task belongs to.
  let stage: StageSpec?
  let work: TaskWork
  /// The shard read (a source file or an upstream data shard), or a description.
  let input: String
  /// How rejects name `input`: source files by absolute path, run-internal shards relative to
  /// the run directory, so outputs do not depend on where the run directory is.
  var inputLabel: String {
    readsSource ? input : input.hasPrefix(runRoot + "/") ? String(input.dropFirst(runRoot.count + 1)) : input
  }
  /// The run directory, for `inputLabel`.
  let runRoot: String
  /// Whether `input` is a pipeline input file (so the task records where records came from).
  let readsSource: Bool
  /// Bytes of the input file, for progress and ETA.
  let inputBytes: Int
  /// The kept-records shard, if the task writes one.
  let outputPath: String?
  let rejectsPath: String?
  /// Hash of everything the task's output depends on.
  let fingerprint: String
  /// Tasks whose outputs this one reads.
  let dependencies: [TaskKey]
  /// zstd level of the kept-records and rejects shards (the pipeline's `shardCompressionLevel`).
  var shardCompressionLevel = PipelineSpec.defaultShardCompressionLevel
}

/// A manifest stage row to record before running.
struct PlannedStage: Sendable {
  let id: String
  let op: String
  let inputs: [String]
  let configJSON: String
  let fingerprint: String
  let taskCount: Int
}

/// Turns a validated pipeline into tasks with fingerprints and dependencies.
struct Planner {
  let spec: PipelineSpec
  let layout: RunLayout

  /// A shard that a stage reads: its path and the task producing it (nil for source files).
  struct ShardSource {
    let path: String
    let producer: TaskKey?
    let fingerprint: String
    let bytes: Int
    /// Tasks that must be done before the shard may be read, besides its producer (the
    /// planning task, for shards that pass through a planning stage).
    var extraDependencies: [TaskKey] = []
  }

  func plan() throws -> (stages: [PlannedStage], tasks: [PlannedTask]) {
    var sources: [String: [ShardSource]] = [:]
    var stageFingerprints: [String: String] = [:]
    for input in spec.inputs {
      sources[input.id] = input.files.map { file in
        let size = fileSize(file) ?? -1
        let mtime = fileModificationTime(file) ?? 0
        return ShardSource(
          path: file, producer: nil, fingerprint: Fingerprint.of(["source", file, String(size), String(mtime)]),
          bytes: max(size, 0))
      }
      stageFingerprints[input.id] = Fingerprint.of(["input", input.id] + input.files)
    }

    var stages: [PlannedStage] = []
    var tasks: [PlannedTask] = []
    // The plan file of each planning stage, for the sampling stages that read it.
    var plans: [String: String] = [:]
    // The artifact, task and fingerprint of each training stage, for the stages that use it.
    var trained: [String: (file: String, key: TaskKey, fingerprint: String)] = [:]
    for stage in spec.stages {
      let shards = stage.inputs.flatMap { sources[$0] ?? [] }
      let stageFingerprint = Fingerprint.of(
        ["stage", stage.op.qualifiedName, stage.config.canonicalText, String(spec.seed)]
          + stage.inputs.map { stageFingerprints[$0] ?? "" } + Self.referencedFiles(of: stage))
      stageFingerprints[stage.id] = stageFingerprint
      let implementation = stage.implementation
      let inputDescription = stage.inputs
      var outputs: [ShardSource] = []

      func taskFor(
        _ key: TaskKey, _ work: TaskWork, _ shard: ShardSource, fingerprintParts: [String], extraDependencies: [TaskKey]
      ) -> PlannedTask {
        let writesData: Bool
        switch work {
        case .duplicateKeys, .nearDuplicateSignatures, .groupTotals: writesData = false
        default: writesData = true
        }
        // The level changes the shard's bytes (not its records), so it is part of what the
        // task's output depends on; steps that write no shard ignore it.
        let level = writesData ? ["shardCompressionLevel", String(spec.shardCompressionLevel)] : []
        let fingerprint = Fingerprint.of(
          [stageFingerprint, key.stage, String(key.shard), shard.fingerprint] + fingerprintParts + level)
        return PlannedTask(
          key: key, stage: stage, work: work, input: shard.path, runRoot: layout.root,
          readsSource: shard.producer == nil,
          inputBytes: shard.bytes,
          outputPath: writesData ? layout.dataShard(stage: key.stage, shard: key.shard) : nil,
          rejectsPath: writesData ? layout.rejectsShard(stage: key.stage, shard: key.shard) : nil,
          fingerprint: fingerprint,
          dependencies: (shard.producer.map { [$0] } ?? []) + shard.extraDependencies + extraDependencies,
          shardCompressionLevel: spec.shardCompressionLevel)
      }

      /// Adds a per-shard task whose output shard flows downstream.
      func addShardTask(_ task: PlannedTask, reading shard: ShardSource) {
        tasks.append(task)
        outputs.append(
          ShardSource(
            path: task.outputPath ?? "", producer: task.key, fingerprint: task.fingerprint, bytes: shard.bytes))
      }

      /// Adds the manifest row of a stage that runs one task per shard under its own id.
      func addPerShardStageRow() {
        stages.append(
          PlannedStage(
            id: stage.id, op: stage.op.qualifiedName, inputs: inputDescription,
            configJSON: stage.config.canonicalText, fingerprint: stageFingerprint, taskCount: shards.count))
      }

      switch implementation {
      case .groupPlanning(let planningStage):
        // Totals per shard, then one planning task; the records themselves pass through.
        let totalsID = stage.id + Self.totalsSuffix
        let totalsFolder = layout.artifactFolder(stage: totalsID)
        let totalsTasks = shards.enumerated().map { index, shard in
          taskFor(
            TaskKey(stage: totalsID, shard: index),
            .groupTotals(planningStage, totalsFile: totalsFolder + "/totals-\(RunLayout.number(index)).json"), shard,
            fingerprintParts: [], extraDependencies: [])
        }
        let planFile = layout.artifactFolder(stage: stage.id) + "/plan.json"
        let planKey = TaskKey(stage: stage.id, shard: 0)
        let planFingerprint = Fingerprint.of([stageFingerprint, stage.id] + totalsTasks.map(\.fingerprint))
        tasks += totalsTasks
        tasks.append(
          PlannedTask(
            key: planKey, stage: stage,
            work: .groupPlan(
              planningStage,
              totalsFiles: totalsTasks.indices.map { totalsFolder + "/totals-\(RunLayout.number($0)).json" },
              planFile: planFile),
            input: "\(shards.count) totals files", runRoot: layout.root, readsSource: false, inputBytes: 0,
            outputPath: nil, rejectsPath: nil, fingerprint: planFingerprint, dependencies: totalsTasks.map(\.key)))
        plans[stage.id] = planFile
        outputs = shards.map { shard in
          var passed = ShardSource(
            path: shard.path, producer: shard.producer,
            fingerprint: Fingerprint.of([shard.fingerprint, planFingerprint]), bytes: shard.bytes)
          passed.extraDependencies = shard.extraDependencies + [planKey]
          return passed
        }
        let config = stage.config.canonicalText
        stages += [
          PlannedStage(
            id: totalsID, op: stage.op.qualifiedName, inputs: inputDescription, configJSON: config,
            fingerprint: stageFingerprint, taskCount: shards.count),
          PlannedStage(
            id: stage.id, op: stage.op.qualifiedName, inputs: [totalsID], configJSON: config,
            fingerprint: stageFingerprint, taskCount: 1),
        ]

      case .statefulBatch(let statefulStage):
        // Shard i starts from the state shard i - 1 ended with, so the tasks form a chain.
        let folder = layout.artifactFolder(stage: stage.id)
        var previous: PlannedTask? = nil
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let work = TaskWork.statefulBatch(
            statefulStage, stateIn: previous.map { _ in folder + "/state-\(RunLayout.number(index - 1)).json" },
            stateOut: folder + "/state-\(RunLayout.number(index)).json")
          let task = taskFor(
            key, work, shard, fingerprintParts: previous.map { [$0.fingerprint] } ?? [],
            extraDependencies: previous.map { [$0.key] } ?? [])
          addShardTask(task, reading: shard)
          previous = task
        }
        addPerShardStageRow()

      case .training(let trainer):
        // One task reads every shard in order; nothing flows downstream but the artifact.
        let folder = layout.artifactFolder(stage: stage.id)
        let key = TaskKey(stage: stage.id, shard: 0)
        let fingerprint = Fingerprint.of([stageFingerprint, stage.id] + shards.map(\.fingerprint))
        tasks.append(
          PlannedTask(
            key: key, stage: stage,
            work: .train(
              trainer, inputs: shards.map(\.path), artifactFile: folder + "/model.bin",
              reportFile: folder + "/report.json"),
            input: "\(shards.count) shards", runRoot: layout.root, readsSource: false,
            inputBytes: shards.reduce(0) { $0 + $1.bytes }, outputPath: nil, rejectsPath: nil,
            fingerprint: fingerprint,
            dependencies: shards.flatMap { ($0.producer.map { [$0] } ?? []) + $0.extraDependencies }))
        trained[stage.id] = (folder + "/model.bin", key, fingerprint)
        stages.append(
          PlannedStage(
            id: stage.id, op: stage.op.qualifiedName, inputs: inputDescription,
            configJSON: stage.config.canonicalText, fingerprint: stageFingerprint, taskCount: 1))

      case .artifactScoring(let scorer):
        // The loader checked that the referenced stage exists, trains, and comes first.
        guard let reference = stage.config.stageReferences(of: stage.op).first,
          let model = trained[reference.stage]
        else {
          throw PipeError(.config, "stage \(stage.id) must name a training stage in its config")
        }
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let task = taskFor(
            key, .score(scorer, artifactFile: model.file), shard, fingerprintParts: [model.fingerprint],
            extraDependencies: [model.key])
          addShardTask(task, reading: shard)
        }
        addPerShardStageRow()

      case .planSampling(let samplingStage):
        // The loader checked that the one input is a planning stage, planned before this one.
        guard let planFile = stage.inputs.first.flatMap({ plans[$0] }) else {
          throw PipeError(.config, "stage \(stage.id) must read a planning stage such as mixture.plan")
        }
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let task = taskFor(
            key, .planSample(samplingStage, planFile: planFile), shard, fingerprintParts: [], extraDependencies: [])
          addShardTask(task, reading: shard)
        }
        addPerShardStageRow()

      case .record, .batch:
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let work: TaskWork
          switch implementation {
          case .batch(let batchStage): work = .batch(batchStage)
          case .record(let recordStage): work = .record(recordStage)
          default: throw PipeError(.stage, "internal error: \(stage.id) is not a record stage")
          }
          let task = taskFor(key, work, shard, fingerprintParts: [], extraDependencies: [])
          tasks.append(task)
          outputs.append(
            ShardSource(
              path: task.outputPath ?? "", producer: key, fingerprint: task.fingerprint, bytes: shard.bytes))
        }
        addPerShardStageRow()

      case .nearDuplicate(let nearStage):
        // Steps: signatures per shard, buckets per band, one clustering task, filter per shard.
        let signaturesID = stage.id + NearDuplicateSteps.signaturesSuffix
        let bucketsID = stage.id + NearDuplicateSteps.bucketsSuffix
        let clustersID = stage.id + NearDuplicateSteps.clustersSuffix
        let files = NearDuplicateSteps.Files(layout: layout, stage: stage.id)
        let groups = NearDuplicateSteps.bucketTaskCount(bands: nearStage.bandCount)
        let signatureTasks = shards.enumerated().map { index, shard in
          taskFor(
            TaskKey(stage: signaturesID, shard: index), .nearDuplicateSignatures(nearStage, files: files), shard,
            fingerprintParts: [], extraDependencies: [])
        }
        let bucketTasks = (0..<groups).map { group in
          PlannedTask(
            key: TaskKey(stage: bucketsID, shard: group), stage: stage,
            work: .nearDuplicateBuckets(nearStage, group: group, shards: shards.count, files: files),
            input:
              "bands \(NearDuplicateSteps.bands(ofBucketTask: group, bands: nearStage.bandCount)) of \(shards.count) shards",
            runRoot: layout.root, readsSource: false, inputBytes: 0, outputPath: nil, rejectsPath: nil,
            fingerprint: Fingerprint.of(
              [stageFingerprint, bucketsID, String(group)] + signatureTasks.map(\.fingerprint)),
            dependencies: signatureTasks.map(\.key))
        }
        let clustersKey = TaskKey(stage: clustersID, shard: 0)
        let clustersFingerprint = Fingerprint.of(
          [stageFingerprint, clustersID] + signatureTasks.map(\.fingerprint) + bucketTasks.map(\.fingerprint))
        let clustersTask = PlannedTask(
          key: clustersKey, stage: stage,
          work: .nearDuplicateClusters(shards: shards.count, bucketTasks: groups, files: files),
          input: "\(groups) edge files", runRoot: layout.root, readsSource: false, inputBytes: 0, outputPath: nil,
          rejectsPath: nil, fingerprint: clustersFingerprint,
          dependencies: signatureTasks.map(\.key) + bucketTasks.map(\.key))
        tasks += signatureTasks + bucketTasks + [clustersTask]
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let task = taskFor(
            key,
            .nearDuplicateFilter(
              files: files, reason: nearStage.dropReason, countField: nearStage.clusterSizeField),
            shard, fingerprintParts: [clustersFingerprint], extraDependencies: [clustersKey])
          addShardTask(task, reading: shard)
        }
        let config = stage.config.canonicalText
        let op = stage.op.qualifiedName
        stages += [
          PlannedStage(
            id: signaturesID, op: op, inputs: inputDescription, configJSON: config, fingerprint: stageFingerprint,
            taskCount: shards.count),
          PlannedStage(
            id: bucketsID, op: op, inputs: [signaturesID], configJSON: config, fingerprint: stageFingerprint,
            taskCount: groups),
          PlannedStage(
            id: clustersID, op: op, inputs: [bucketsID], configJSON: config, fingerprint: stageFingerprint,
            taskCount: 1),
          PlannedStage(
            id: stage.id, op: op, inputs: inputDescription, configJSON: config, fingerprint: stageFingerprint,
            taskCount: shards.count),
        ]

      case .duplicateKey(let keyStage):
        let keysID = stage.id + ":keys"
        let indexID = stage.id + ":index"
        var keyTasks: [PlannedTask] = []
        var keyFiles: [String] = []
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: keysID, shard: index)
          let keyFile = layout.artifactFolder(stage: keysID) + "/keys-\(RunLayout.number(index)).bin"
          keyTasks.append(
            taskFor(key, .duplicateKeys(keyStage, keyFile: keyFile), shard, fingerprintParts: [], extraDependencies: [])
          )
          keyFiles.append(keyFile)
        }
        let indexFolder = layout.artifactFolder(stage: indexID)
        let indexKey = TaskKey(stage: indexID, shard: 0)
        let indexFingerprint = Fingerprint.of([stageFingerprint, indexID] + keyTasks.map(\.fingerprint))
        let indexTask = PlannedTask(
          key: indexKey, stage: stage,
          work: .duplicateIndex(keyFiles: keyFiles, indexFolder: indexFolder),
          input: "\(shards.count) key files", runRoot: layout.root, readsSource: false, inputBytes: 0, outputPath: nil,
          rejectsPath: nil,
          fingerprint: indexFingerprint, dependencies: keyTasks.map(\.key))
        tasks += keyTasks
        tasks.append(indexTask)
        for (index, shard) in shards.enumerated() {
          let key = TaskKey(stage: stage.id, shard: index)
          let task = taskFor(
            key, .duplicateFilter(indexFolder: indexFolder, reason: keyStage.dropReason), shard,
            fingerprintParts: [indexFingerprint], extraDependencies: [indexKey])
          addShardTask(task, reading: shard)
        }
        stages.append(
          PlannedStage(
            id: keysID, op: stage.op.qualifiedName, inputs: inputDescription,
            configJSON: stage.config.canonicalText, fingerprint: stageFingerprint, taskCount: shards.count))
        stages.append(
          PlannedStage(
            id: indexID, op: stage.op.qualifiedName, inputs: [keysID], configJSON: stage.config.canonicalText,
            fingerprint: stageFingerprint, taskCount: 1))
        addPerShardStageRow()
      }
      sources[stage.id] = outputs
    }

    if let output = spec.output {
      let shards = sources[output.from] ?? []
      let exportID = Planner.exportStageID
      let configText = Fingerprint.canonical([
        "from": .string(output.from), "path": .string(output.path),
        "targetShardBytes": .int(Int64(output.targetShardBytes)),
        "compressionLevel": .int(Int64(output.compressionLevel)),
      ])
      let fingerprint = Fingerprint.of(["export", configText] + shards.map(\.fingerprint))
      tasks.append(
        PlannedTask(
          key: TaskKey(stage: exportID, shard: 0), stage: nil,
          work: .export(output, folder: layout.outputFolder(output.path), shards: shards.map(\.path)),
          input: "\(shards.count) shards of \(output.from)", runRoot: layout.root, readsSource: false,
          inputBytes: shards.reduce(0) { $0 + $1.bytes }, outputPath: nil, rejectsPath: nil,
          fingerprint: fingerprint,
          dependencies: shards.flatMap { shard in (shard.producer.map { [$0] } ?? []) + shard.extraDependencies }))
      stages.append(
        PlannedStage(
          id: exportID, op: "export@1", inputs: [output.from], configJSON: configText, fingerprint: fingerprint,
          taskCount: 1))
    }
    return (stages, tasks)
  }

  /// Path, size and modification time of every file a stage's config names (`.files` keys,
  /// such as benchmark files), so editing one reruns the stage.
  static func referencedFiles(of stage: StageSpec) -> [String] {
    stage.op.keys.flatMap { key -> [String] in
      guard case .files = key.type else { return [] }
      return stage.config.files(key.name).map { file in
        "\(file.path):\(fileSize(file.path) ?? -1):\(fileModificationTime(file.path) ?? 0)"
      }
    }
  }

  /// The suffix of a planning stage's per-shard totals step.
  static let totalsSuffix = ":totals"

  /// The manifest stage id of the final export (':' keeps it apart from user ids).
  static let exportStageID = ":export"
}

/// Fingerprints: SHA-256 of length-prefixed parts, so ("ab","c") and ("a","bc") differ.
enum Fingerprint {
  static func of(_ parts: [String]) -> String {
    var hasher = SHA256()
    for part in parts {
      let bytes = Array(part.utf8)
      var length = UInt64(bytes.count).littleEndian
      withUnsafeBytes(of: &length) { hasher.update($0) }
      bytes.withUnsafeBytes { hasher.update($0) }
    }
    return String(SHA256.hex(hasher.finalize()).prefix(32))
  }

  static func canonical(_ object: JSONObject) -> String {
    JSONValue.object(object).canonicalText
  }
}
