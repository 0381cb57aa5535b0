public import PipeCore

/// The steps of mixture planning, each a resumable task:
/// 1. `STAGE:totals[i]` (a pass over shard i, at the end of the chain that makes it) measures
///    every record and writes its per-group totals (`totals-0000i.json`);
/// 2. `STAGE[0]` sums the totals of all shards, makes the plan, and writes it as `plan.json`
///    and as manifest rows.
/// The records pass through untouched; `mixture.sample`, reading the planning stage, applies
/// the plan record by record.
extension MixturePlanStage {
  /// The plan the runtime runs.
  public var plan: StagePlan {
    let stage = self
    return StagePlan(
      collect: RecordCollector(name: "totals", writes: [.intermediate(Self.totalsFile, indexed: true)]) { context in
        TotalsCollection(stage: stage, context: context)
      },
      steps: [Step(name: nil, writes: [.kept(Self.planFile)]) { context in try stage.writePlan(context) }],
      records: .passThrough)
  }

  static let totalsFile = "totals.json"
  /// The plan's artifact, which sampling stages read.
  public static let planFile = "plan.json"

  /// Step 2: the plan from every shard's totals.
  func writePlan(_ context: any StepContext) throws {
    var totals: [String: GroupTotal] = [:]
    var records = 0
    for shard in 0..<context.shardCount {
      for total in try Self.readTotals(context.open(Self.totalsFile, index: shard), context: context) {
        totals[total.name, default: GroupTotal(name: total.name, records: 0, tokens: 0)].records += total.records
        totals[total.name, default: GroupTotal(name: total.name, records: 0, tokens: 0)].tokens += total.tokens
        records += total.records
      }
    }
    let made = try plan(totals.values.sorted { $0.name < $1.name })
    try context.writeJSON(made.json, to: Self.planFile)
    context.setCounts(recordsIn: records, kept: records, dropped: 0)
    context.recordPlan(made.groups)
  }

  private static func readTotals(_ input: any ArtifactInput, context: any StepContext) throws -> [GroupTotal] {
    let corrupt = PipeError(.corruptInput, "group totals are corrupt; rerun the stage with --force", file: input.name)
    guard let object = (try? context.readJSON(input))?.objectValue, let lines = object["groups"]?.arrayValue else {
      throw corrupt
    }
    return try lines.map { line in
      guard let line = line.objectValue, let name = line["group"]?.stringValue,
        let records = line["records"]?.intValue, let tokens = line["tokens"]?.intValue
      else { throw corrupt }
      return GroupTotal(name: name, records: records, tokens: tokens)
    }
  }
}

/// Step 1 on one shard: records and tokens per group.
final class TotalsCollection: RecordCollection {
  private let stage: MixturePlanStage
  private let context: any StepContext
  private var totals: [String: GroupTotal] = [:]

  init(stage: MixturePlanStage, context: any StepContext) {
    self.stage = stage
    self.context = context
  }

  func add(_ record: Record, line: Int) throws {
    let (group, tokens) = stage.measure(record)
    totals[group, default: GroupTotal(name: group, records: 0, tokens: 0)].records += 1
    totals[group, default: GroupTotal(name: group, records: 0, tokens: 0)].tokens += tokens
  }

  func finish() throws {
    let groups: [JSONValue] = totals.values.sorted { $0.name < $1.name }.map { total in
      .object([
        "group": .string(total.name), "records": .int(Int64(total.records)), "tokens": .int(Int64(total.tokens)),
      ])
    }
    try context.writeJSON(
      .object(["groups": .array(groups)]), to: MixturePlanStage.totalsFile, index: context.index)
  }
}

extension MixtureSample {
  /// The plan the runtime runs: each shard's records under the plan of the stage it reads.
  public var plan: StagePlan {
    let stage = self
    let use = Self.planUse
    return StagePlan(
      records: .decide { context in
        let input = try context.open(use, index: nil)
        let plan: GroupPlan
        do {
          plan = try GroupPlan(json: try context.readJSON(input), source: input.name)
        }
        return PlanSampler(stage: stage, plan: plan, context: context.stage)
      }, uses: [use])
  }

  /// The artifact a sampling stage reads: its input's plan.
  static let planUse = ArtifactUse(
    .input, artifact: MixturePlanStage.planFile, maker: "a planning stage such as mixture.plan")
}

/// Applies a plan to one shard: drops, keeps or repeats each record.
final class PlanSampler: RecordDecider {
  private let stage: MixtureSample
  private let plan: GroupPlan
  private let context: StageContext

  init(stage: MixtureSample, plan: GroupPlan, context: StageContext) {
    self.stage = stage
    self.plan = plan
    self.context = context
  }

  func decide(_ record: Record, line: Int) throws -> BatchOutcome {
    let (group, copies) = stage.copies(of: record, plan: plan, context: context)
    guard copies > 0 else {
      return .drop(
        reason: stage.dropReason,
        detail: "group \(group), rate \(JSONValue.formatDouble(plan.group(group)?.rate ?? 0))")
    }
    var first = record
    stage.mark(&first, group: group, epoch: 0)
    guard copies > 1 else { return .keep(first) }
    var outputs = [first]
    for epoch in 1..<copies {
      var copy = record
      stage.mark(&copy, group: group, epoch: epoch)
      outputs.append(copy)
    }
    return .expand(outputs)
  }
}
