public import PipeCore

/// `mixture.plan@1`: totals the tokens of each group (a metadata key: language, source,
/// domain) across the whole input and writes a plan: per group, tokens available and
/// targeted, the sampling rate, and shares before and after. Records pass through unchanged;
/// `mixture.sample` applies the plan.
public struct MixturePlanStage: Sendable {
  /// The arithmetic.
  public let planner: MixturePlanner
  /// Counts tokens of records that lack `tokensField`.
  public let estimator: TokenEstimator

  /// Creates the stage.
  public init(planner: MixturePlanner, estimator: TokenEstimator = TokenEstimator()) {
    self.planner = planner
    self.estimator = estimator
  }

  /// The policies, as named in configs.
  static let policyNames = ["proportional", "target", "caps", "temperature", "unimax", "babel_tower"]

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting("language", "Metadata key naming each record's group.") var groupBy: String
    @Setting(
      "tokens", "Metadata key with each record's token count (from tokens.count); records without it are estimated.")
    var tokensField: String
    @Setting(
      "proportional", oneOf: MixturePlanStage.policyNames,
      "proportional, target (shares), caps, temperature, unimax or babel_tower.")
    var policy: String
    @Setting(
      nil, in: 1...Double.greatestFiniteMagnitude,
      "Total tokens to target; null for the tokens available. No policy exceeds it.")
    var budget: Double?
    @Setting(4, in: 1...1000, "The most copies of one record (and so the most a group can be repeated).")
    var maxEpochs: Int
    @Setting(JSONObject(), "target: GROUP -> share of the budget (summing to 1).") var shares: JSONObject
    @Setting(JSONObject(), "caps and babel_tower: GROUP -> most tokens (never raised).") var caps: JSONObject
    @Setting(
      nil, in: 0.01...1_000_000, "temperature: T in p ~ tokens^(1/T); 1 is proportional, large values near uniform.")
    var temperature: Double?
    @Setting(nil, "babel_tower: the dominant group, left unchanged.") var dominant: String?
    @Setting(
      JSONObject(), "babel_tower: GROUP -> [[tokens, score], ...]; a dependent group is cut where its curve peaks.")
    var curves: JSONObject
    @Setting(
      [], "babel_tower: groups that do not depend on the dominant one (left unchanged; may not have caps or curves).")
    var independent: [String]
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "mixture.plan", version: 1,
    summary: "Plan how many tokens of each group (language, source...) to keep or repeat; records pass through.",
    options: Options.self, make: { options in .steps(try MixturePlanStage(options: options).plan) })

  /// Creates the stage from its options.
  init(options: Options) throws {
    let policyName = options.policy
    let shares = try Self.numbers(options.shares, key: "shares", minimum: 0)
    let caps = try Self.numbers(options.caps, key: "caps", minimum: 0)
    let curves = try Self.curves(options.curves)
    let independent = options.independent
    let dominant = options.dominant
    let temperature = options.temperature

    // A key that the chosen policy does not read is a mistake worth reporting.
    func unused(_ key: String, given: Bool, readBy readers: [String]) throws {
      if given && !readers.contains(policyName) {
        throw ConfigValueError(
          key, "the \(policyName) policy does not read this key (read by: \(readers.joined(separator: ", ")))")
      }
    }
    try unused("shares", given: !shares.isEmpty, readBy: ["target"])
    try unused("caps", given: !caps.isEmpty, readBy: ["caps", "babel_tower"])
    try unused("temperature", given: temperature != nil, readBy: ["temperature"])
    try unused("dominant", given: dominant != nil, readBy: ["babel_tower"])
    try unused("curves", given: !curves.isEmpty, readBy: ["babel_tower"])
    try unused("independent", given: !independent.isEmpty, readBy: ["babel_tower"])

    let policy: MixturePolicy
    switch policyName {
    case "target":
      guard !shares.isEmpty else { throw ConfigValueError("shares", "the target policy needs GROUP -> share") }
      let sum = shares.values.reduce(0, +)
      guard abs(sum - 1) <= 1e-6 else {
        throw ConfigValueError("shares", "shares must sum to 1, they sum to \(JSONValue.formatDouble(sum))")
      }
      policy = .target(shares: shares)
    case "caps":
      guard !caps.isEmpty else { throw ConfigValueError("caps", "the caps policy needs GROUP -> most tokens") }
      policy = .caps(caps)
    case "temperature":
      guard let temperature else {
        throw ConfigValueError("temperature", "the temperature policy needs a temperature (1 is proportional)")
      }
      policy = .temperature(temperature)
    case "unimax":
      policy = .unimax
    case "babel_tower":
      guard let dominant, !dominant.isEmpty else {
        throw ConfigValueError("dominant", "the babel_tower policy needs the dominant group")
      }
      for group in [dominant] + independent where caps[group] != nil || curves[group] != nil {
        let role = group == dominant ? "dominant" : "independent"
        let key = caps[group] != nil ? "caps" : "curves"
        throw ConfigValueError(
          "\(key).\(group)", "\"\(group)\" is \(role), so it is left unchanged; remove its \(key) entry")
      }
      guard !caps.isEmpty || !curves.isEmpty else {
        throw ConfigValueError(
          "curves", "the babel_tower policy needs a calibration curve or a cap for each dependent group")
      }
      policy = .babelTower(dominant: dominant, caps: caps, curves: curves)
    default:
      policy = .proportional
    }
    self.init(
      planner: MixturePlanner(
        policy: policy, budget: options.budget, maxEpochs: options.maxEpochs, groupBy: options.groupBy,
        tokensField: options.tokensField))
  }

  private static func numbers(_ object: JSONObject, key: String, minimum: Double) throws -> [String: Double] {
    var result: [String: Double] = [:]
    for (group, value) in object.members {
      guard let number = value.doubleValue, number >= minimum, number.isFinite else {
        throw ConfigValueError(
          "\(key).\(group)", "expected a number >= \(JSONValue.formatDouble(minimum)), got \(value.jsonText.prefix(40))"
        )
      }
      result[group] = number
    }
    return result
  }

  private static func curves(_ object: JSONObject) throws -> [String: [MixturePolicy.CurvePoint]] {
    var result: [String: [MixturePolicy.CurvePoint]] = [:]
    for (group, value) in object.members {
      guard let points = value.arrayValue, !points.isEmpty else {
        throw ConfigValueError("curves.\(group)", "expected a non-empty array of [tokens, score] pairs")
      }
      result[group] = try points.enumerated().map { index, point in
        guard let pair = point.arrayValue, pair.count == 2, let tokens = pair[0].doubleValue, tokens > 0,
          let score = pair[1].doubleValue
        else {
          throw ConfigValueError(
            "curves.\(group)[\(index)]", "expected [tokens, score] with tokens > 0, got \(point.jsonText.prefix(40))")
        }
        return MixturePolicy.CurvePoint(tokens: tokens, score: score)
      }
    }
    return result
  }

  /// The record's group and tokens (its `tokensField`, or the built-in estimate).
  public func measure(_ record: Record) -> (group: String, tokens: Int) {
    (
      MixtureGroups.name(of: record, key: planner.groupBy),
      MixtureGroups.tokens(of: record, field: planner.tokensField, estimator: estimator)
    )
  }

  /// The plan for the totals.
  public func plan(_ totals: [GroupTotal]) throws -> GroupPlan {
    try planner.plan(totals)
  }
}

/// `mixture.sample@1`: applies the plan of the `mixture.plan` stage it reads. Each record of a
/// group with rate r gets floor(r) copies plus one more with probability r - floor(r), drawn
/// from (run seed, stage, record id), so the result does not depend on shards or workers; a
/// rate below 1 keeps each record at most once (down-sampling without replacement). Copies
/// carry `metadata.mixture = {"group": G, "epoch": K}`; records with no copy are rejects with
/// reason `mixture_downsampled`.
public struct MixtureSample: Sendable {
  /// The reject reason.
  public static let downsampledReason = "mixture_downsampled"
  /// The metadata key that receives the group and epoch.
  public let field: String
  /// Counts tokens of records without the plan's tokens field (for the realized totals).
  let estimator = TokenEstimator()

  /// Creates the stage.
  public init(field: String = "mixture") {
    self.field = field
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(
      "mixture", "Metadata key that receives {\"group\", \"epoch\"} on every copy.",
      check: { $0.isEmpty ? "expected a non-empty key" : nil })
    var field: String
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "mixture.sample", version: 1,
    summary: "Apply a mixture.plan: down-sample or repeat each group's records, seeded per record.",
    options: Options.self, make: { options in .steps(MixtureSample(field: options.field).plan) })

  /// The reject reason.
  public var dropReason: String { Self.downsampledReason }

  /// The record's copies under `plan`, counted per group in the task's counters.
  public func copies(of record: Record, plan: GroupPlan, context: StageContext) -> (group: String, copies: Int) {
    let group = MixtureGroups.name(of: record, key: plan.groupBy)
    guard let line = plan.group(group) else {
      // The plan was made from the same input, so this means the input changed under it;
      // keep the record once and count it, rather than lose it.
      context.counters.add("unplanned_records")
      return (group, 1)
    }
    var rng = context.rng(for: record.id)
    let whole = line.rate.rounded(.down)
    let draw = Double(rng.next() >> 11) * 0x1.0p-53
    let copies = min(Int(whole) + (draw < line.rate - whole ? 1 : 0), plan.maxEpochs)
    if copies > 0 {
      let tokens = MixtureGroups.tokens(of: record, field: plan.tokensField, estimator: estimator)
      context.counters.add("tokens." + group, tokens * copies)
      context.counters.add("records." + group, copies)
      context.counters.add("tokens", tokens * copies)
    }
    return (group, copies)
  }

  /// Sets `metadata.<field>` to the group and epoch.
  public func mark(_ record: inout Record, group: String, epoch: Int) {
    record.setMetadata(field, .object(["group": .string(group), "epoch": .int(Int64(epoch))]))
  }
}
