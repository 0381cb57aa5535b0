import Foundation
public import PipeCore

/// How a mixture plan chooses each group's tokens. Every policy respects the total budget
/// (never targets more) and the epoch limit (never more than `maxEpochs` times a group's
/// tokens); where a limit binds, the tokens it frees go to the other groups in proportion to
/// their weights (water-filling).
public enum MixturePolicy: Sendable, Equatable {
  /// Every group keeps its share; with a budget, every group scales alike.
  case proportional
  /// Explicit shares (summing to 1) of the budget; groups without a share are left out.
  case target(shares: [String: Double])
  /// Each listed group is cut to its cap (never raised); the others stay as they are.
  case caps([String: Double])
  /// Shares proportional to `tokens^(1/T)`: T = 1 is proportional, a large T nears uniform.
  case temperature(Double)
  /// The same budget for every group, except that no group repeats more than the epoch limit;
  /// what a small group cannot take goes to the others (UniMax, Chung et al. 2023).
  case unimax
  /// Babel Tower (arXiv 2412.07298): the dominant group and the independent ones stay as they
  /// are; each dependent group is cut to the token count where its calibration curve peaks, or
  /// to its explicit cap when it has no curve.
  case babelTower(dominant: String, caps: [String: Double], curves: [String: [CurvePoint]])

  /// One measurement of a calibration curve: a model trained with `tokens` of the group scored
  /// `score`.
  public struct CurvePoint: Sendable, Equatable {
    /// Tokens of the group.
    public var tokens: Double
    /// The measured score (higher is better).
    public var score: Double

    /// Creates a point.
    public init(tokens: Double, score: Double) {
      self.tokens = tokens
      self.score = score
    }
  }

  /// The policy's name in configs and plans.
  public var name: String {
    switch self {
    case .proportional: return "proportional"
    case .target: return "target"
    case .caps: return "caps"
    case .temperature: return "temperature"
    case .unimax: return "unimax"
    case .babelTower: return "babel_tower"
    }
  }

  /// The token count where `curve` peaks (the smallest such count on ties).
  public static func peak(of curve: [CurvePoint]) -> Double? {
    curve.max { lhs, rhs in lhs.score < rhs.score || (lhs.score == rhs.score && lhs.tokens > rhs.tokens) }?.tokens
  }
}

/// Computes mixture plans: pure arithmetic over per-group token totals.
public struct MixturePlanner: Sendable {
  /// The policy.
  public var policy: MixturePolicy
  /// The most tokens in all, or `nil` for the tokens available.
  public var budget: Double?
  /// The most copies of one record.
  public var maxEpochs: Int
  /// Recorded in the plan: the metadata key naming groups.
  public var groupBy: String
  /// Recorded in the plan: the metadata key holding token counts.
  public var tokensField: String

  /// Creates a planner.
  public init(
    policy: MixturePolicy, budget: Double? = nil, maxEpochs: Int = 4, groupBy: String = "language",
    tokensField: String = "tokens"
  ) {
    self.policy = policy
    self.budget = budget
    self.maxEpochs = maxEpochs
    self.groupBy = groupBy
    self.tokensField = tokensField
  }

  /// The plan for `totals`.
  ///
  /// - Throws: `PipeError(.stage)` when a target share or the dominant group names a group
  ///   with no tokens in the input.
  public func plan(_ totals: [GroupTotal]) throws -> GroupPlan {
    let totals = totals.sorted { $0.name < $1.name }
    let available = totals.map { Double($0.tokens) }
    let sum = available.reduce(0, +)
    let limits = available.map { $0 * Double(maxEpochs) }
    let names = totals.map(\.name)
    var targets: [Double]

    switch policy {
    case .proportional:
      targets = Self.waterFill(weights: available, budget: budget ?? sum, limits: limits)
    case .target(let shares):
      for (group, share) in shares.sorted(by: { $0.key < $1.key }) where share > 0 {
        guard let index = names.firstIndex(of: group), available[index] > 0 else {
          throw PipeError(
            .stage,
            "mixture.plan: the target policy gives \"\(group)\" a share of \(share), but the input has no tokens of "
              + "that group (groups: \(names.joined(separator: ", "))); fix the shares or the groupBy key")
        }
      }
      targets = Self.waterFill(
        weights: names.map { shares[$0] ?? 0 }, budget: budget ?? sum, limits: limits)
    case .caps(let caps):
      targets = zip(names, available).map { name, tokens in caps[name].map { min(tokens, $0) } ?? tokens }
      targets = Self.scaledDown(targets, to: budget)
    case .temperature(let temperature):
      // n^(1/T) through logarithms, relative to the largest group, so no power overflows.
      let largest = available.max() ?? 0
      let weights = available.map { tokens in
        tokens > 0 && largest > 0 ? Foundation.exp(Foundation.log(tokens / largest) / temperature) : 0
      }
      targets = Self.waterFill(weights: weights, budget: budget ?? sum, limits: limits)
    case .unimax:
      targets = Self.waterFill(
        weights: available.map { $0 > 0 ? 1 : 0 }, budget: budget ?? sum, limits: limits)
    case .babelTower(let dominant, let caps, let curves):
      guard let index = names.firstIndex(of: dominant), available[index] > 0 else {
        throw PipeError(
          .stage,
          "mixture.plan: the dominant group \"\(dominant)\" has no tokens in the input (groups: "
            + "\(names.joined(separator: ", "))); fix \"dominant\" or the groupBy key")
      }
      targets = zip(names, available).map { name, tokens in
        if let curve = curves[name], let peak = MixturePolicy.peak(of: curve) { return min(tokens, peak) }
        if let cap = caps[name] { return min(tokens, cap) }
        return tokens
      }
      targets = Self.scaledDown(targets, to: budget)
    }

    let targeted = targets.reduce(0, +)
    let groups = totals.indices.map { index -> PlannedGroup in
      let tokens = available[index]
      // A group whose records hold no tokens keeps them: there is nothing to weigh.
      let rate = tokens > 0 ? min(targets[index] / tokens, Double(maxEpochs)) : 1
      return PlannedGroup(
        name: names[index], records: totals[index].records, tokensAvailable: totals[index].tokens,
        tokensTargeted: targets[index], rate: rate, shareBefore: sum > 0 ? tokens / sum : 0,
        shareAfter: targeted > 0 ? targets[index] / targeted : 0)
    }
    return GroupPlan(
      policy: policy.name, groupBy: groupBy, tokensField: tokensField, budget: budget, maxEpochs: maxEpochs,
      groups: groups)
  }

  /// Shares `budget` in proportion to `weights`, no group above its limit: groups whose share
  /// would pass their limit get the limit, and the rest is shared again among the others.
  static func waterFill(weights: [Double], budget: Double, limits: [Double]) -> [Double] {
    var result = [Double](repeating: 0, count: weights.count)
    // Indices in ascending order, never a Set: floating-point sums depend on the order of their
    // terms, and a Set's order changes from one process to the next, so the plan would too.
    var open = weights.indices.filter { weights[$0] > 0 }
    var remaining = budget
    while !open.isEmpty, remaining > 0 {
      let weight = open.reduce(0) { $0 + weights[$1] }
      let capped = open.filter { remaining * weights[$0] / weight >= limits[$0] }
      if capped.isEmpty {
        for index in open { result[index] = remaining * weights[index] / weight }
        return result
      }
      for index in capped {
        result[index] = limits[index]
        remaining -= limits[index]
      }
      open.removeAll { capped.contains($0) }
    }
    return result
  }

  /// `targets` scaled down in proportion so that they sum to at most `budget`.
  static func scaledDown(_ targets: [Double], to budget: Double?) -> [Double] {
    let sum = targets.reduce(0, +)
    guard let budget, sum > budget, sum > 0 else { return targets }
    return targets.map { $0 * budget / sum }
  }
}
