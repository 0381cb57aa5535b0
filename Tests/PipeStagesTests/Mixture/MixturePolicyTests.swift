import PipeCore
import Testing

@testable import PipeStages

/// Token totals in billions, as in the Babel Tower paper's code corpus (section 4.3.3).
private let paperTotals = [
  GroupTotal(name: "php", records: 23, tokens: 23_000_000_000),
  GroupTotal(name: "go", records: 11, tokens: 11_000_000_000),
  GroupTotal(name: "c#", records: 16, tokens: 16_000_000_000),
  GroupTotal(name: "c++", records: 28, tokens: 28_000_000_000),
  GroupTotal(name: "python", records: 11, tokens: 11_000_000_000),
]

/// Uneven totals for the generic policy properties.
private let uneven = [
  GroupTotal(name: "en", records: 900, tokens: 9_000_000),
  GroupTotal(name: "de", records: 300, tokens: 2_500_000),
  GroupTotal(name: "fr", records: 100, tokens: 1_000_000),
  GroupTotal(name: "sw", records: 10, tokens: 50_000),
  GroupTotal(name: "yo", records: 2, tokens: 8_000),
]

private func shares(_ plan: GroupPlan) -> [String: Double] {
  Dictionary(uniqueKeysWithValues: plan.groups.map { ($0.name, $0.shareAfter) })
}

private func targets(_ plan: GroupPlan) -> [String: Double] {
  Dictionary(uniqueKeysWithValues: plan.groups.map { ($0.name, $0.tokensTargeted) })
}

/// Every policy's plan must satisfy these, whatever the inputs.
private func checkInvariants(_ plan: GroupPlan, budget: Double?, sourceLocation: SourceLocation = #_sourceLocation) {
  let total = plan.groups.reduce(0) { $0 + $1.tokensTargeted }
  let sum = plan.groups.reduce(0) { $0 + $1.shareAfter }
  #expect(abs(sum - 1) < 1e-9, "shares sum to \(sum)", sourceLocation: sourceLocation)
  if let budget {
    #expect(total <= budget * (1 + 1e-12), "total \(total) over the budget \(budget)", sourceLocation: sourceLocation)
  }
  for group in plan.groups {
    let limit = Double(group.tokensAvailable) * Double(plan.maxEpochs)
    #expect(
      group.tokensTargeted <= limit * (1 + 1e-12), "\(group.name) over the epoch limit",
      sourceLocation: sourceLocation)
    #expect(group.rate <= Double(plan.maxEpochs) + 1e-12, sourceLocation: sourceLocation)
    #expect(group.tokensTargeted >= 0, sourceLocation: sourceLocation)
  }
}

@Suite struct MixturePolicyTests {
  @Test func babelTowerReproducesThePapersOptimizedCorpus() throws {
    let planner = MixturePlanner(
      policy: .babelTower(dominant: "python", caps: ["php": 5e9, "c#": 10e9], curves: [:]))
    let plan = try planner.plan(paperTotals)
    let expected = ["php": 0.077, "go": 0.169, "c#": 0.154, "c++": 0.431, "python": 0.169]
    for (group, share) in expected {
      let planned = try #require(shares(plan)[group])
      // The paper's table rounds to a tenth of a percent.
      #expect(abs(planned - share) < 0.0005, "\(group): \(planned)")
    }
    #expect(abs(plan.groups.reduce(0) { $0 + $1.tokensTargeted } - 65e9) < 1)
    #expect(targets(plan)["php"] == 5e9)
    #expect(targets(plan)["c++"] == 28e9)
    #expect(plan.group("php")?.rate == 5.0 / 23.0)
    #expect(abs((plan.group("php")?.shareBefore ?? 0) - 23.0 / 89.0) < 1e-12)
    checkInvariants(plan, budget: nil)
  }

  @Test func babelTowerCutsADependentGroupWhereItsCurvePeaks() throws {
    let curve = [(1e9, 0.21), (2e9, 0.24), (5e9, 0.22), (10e9, 0.20)].map {
      MixturePolicy.CurvePoint(tokens: $0.0, score: $0.1)
    }
    #expect(MixturePolicy.peak(of: curve) == 2e9)
    let planner = MixturePlanner(
      policy: .babelTower(dominant: "python", caps: ["php": 5e9], curves: ["c#": curve]))
    let plan = try planner.plan(paperTotals)
    #expect(targets(plan)["c#"] == 2e9)
    #expect(targets(plan)["php"] == 5e9)
    // Uncapped groups are unchanged.
    #expect(targets(plan)["go"] == 11e9)
    #expect(targets(plan)["python"] == 11e9)
    // A curve peaking above what is available never raises a group.
    let generous = MixturePlanner(
      policy: .babelTower(
        dominant: "python", caps: [:], curves: ["go": [MixturePolicy.CurvePoint(tokens: 50e9, score: 1)]]))
    #expect(targets(try generous.plan(paperTotals))["go"] == 11e9)
  }

  @Test func babelTowerNeedsTheDominantGroupInTheInput() {
    let planner = MixturePlanner(policy: .babelTower(dominant: "rust", caps: ["php": 5e9], curves: [:]))
    #expect(throws: PipeError.self) { try planner.plan(paperTotals) }
  }

  @Test func capsNeverExceededAndOtherGroupsUnchanged() throws {
    let plan = try MixturePlanner(policy: .caps(["en": 3_000_000, "fr": 2_000_000])).plan(uneven)
    #expect(targets(plan)["en"] == 3_000_000)
    // A cap above the available tokens does not raise a group.
    #expect(targets(plan)["fr"] == 1_000_000)
    #expect(targets(plan)["de"] == 2_500_000)
    checkInvariants(plan, budget: nil)
    // With a budget below the capped total, everything shrinks alike and caps still hold.
    let budgeted = try MixturePlanner(policy: .caps(["en": 3_000_000]), budget: 3_279_000).plan(uneven)
    checkInvariants(budgeted, budget: 3_279_000)
    #expect(abs((targets(budgeted)["en"] ?? 0) - 1_500_000) < 1e-3)
  }

  @Test func proportionalKeepsSharesAndScalesWithTheBudget() throws {
    let plan = try MixturePlanner(policy: .proportional).plan(uneven)
    for group in plan.groups {
      #expect(abs(group.shareAfter - group.shareBefore) < 1e-12)
      #expect(abs(group.rate - 1) < 1e-12)
    }
    let half = try MixturePlanner(policy: .proportional, budget: 6_279_000).plan(uneven)
    for group in half.groups { #expect(abs(group.rate - 0.5) < 1e-12) }
    checkInvariants(half, budget: 6_279_000)
    // A budget beyond what the epoch limit allows stops at the limit.
    let big = try MixturePlanner(policy: .proportional, budget: 1e12, maxEpochs: 3).plan(uneven)
    for group in big.groups { #expect(abs(group.rate - 3) < 1e-12) }
    checkInvariants(big, budget: 1e12)
  }

  @Test func temperatureOneIsProportionalAndLargeTemperatureNearsUniform() throws {
    let proportional = try MixturePlanner(policy: .proportional).plan(uneven)
    let one = try MixturePlanner(policy: .temperature(1)).plan(uneven)
    for (lhs, rhs) in zip(proportional.groups, one.groups) {
      #expect(abs(lhs.shareAfter - rhs.shareAfter) < 1e-12, "\(lhs.name)")
    }
    // With a budget small enough that no epoch limit binds, a huge T gives equal shares.
    let hot = try MixturePlanner(policy: .temperature(1e6), budget: 20_000, maxEpochs: 100).plan(uneven)
    for group in hot.groups { #expect(abs(group.shareAfter - 0.2) < 1e-4, "\(group.name)") }
    // Raising T moves share from the largest group to the smallest, step by step (with an
    // epoch limit high enough not to bind).
    var previous = one
    for temperature in [2.0, 5.0, 20.0] {
      let plan = try MixturePlanner(policy: .temperature(temperature), maxEpochs: 1000).plan(uneven)
      checkInvariants(plan, budget: nil)
      #expect((plan.group("en")?.shareAfter ?? 1) < (previous.group("en")?.shareAfter ?? 0))
      #expect((plan.group("yo")?.shareAfter ?? 0) > (previous.group("yo")?.shareAfter ?? 1))
      previous = plan
    }
  }

  @Test func temperatureRespectsTheEpochLimitByRedistributing() throws {
    let plan = try MixturePlanner(policy: .temperature(100), maxEpochs: 2).plan(uneven)
    checkInvariants(plan, budget: nil)
    // The small groups hit their limit; the tokens they cannot take go to the others, so the
    // total is still the budget (all tokens available).
    #expect(plan.group("yo")?.rate == 2)
    #expect(plan.group("sw")?.rate == 2)
    #expect(abs(plan.groups.reduce(0) { $0 + $1.tokensTargeted } - 12_558_000) < 1e-3)
  }

  @Test func unimaxIsUniformUntilTheEpochLimitBindsThenRedistributes() throws {
    // Budget 2M over 5 groups: 400k each, but yo (8k, 4 epochs = 32k) and sw (50k, 200k) bind.
    let plan = try MixturePlanner(policy: .unimax, budget: 2_000_000, maxEpochs: 4).plan(uneven)
    checkInvariants(plan, budget: 2_000_000)
    #expect(targets(plan)["yo"] == 32_000)
    #expect(targets(plan)["sw"] == 200_000)
    let rest = (2_000_000.0 - 32_000 - 200_000) / 3
    for group in ["en", "de", "fr"] {
      #expect(abs((targets(plan)[group] ?? 0) - rest) < 1e-6, "\(group)")
    }
    // A budget small enough for every group: exactly uniform.
    let small = try MixturePlanner(policy: .unimax, budget: 50_000, maxEpochs: 4).plan(uneven)
    for group in small.groups { #expect(abs(group.shareAfter - 0.2) < 1e-12, "\(group.name)") }
    // A budget beyond every limit: each group at its limit, the total below the budget.
    let huge = try MixturePlanner(policy: .unimax, budget: 1e9, maxEpochs: 2).plan(uneven)
    for group in huge.groups { #expect(group.rate == 2, "\(group.name)") }
    checkInvariants(huge, budget: 1e9)
  }

  @Test func targetSharesAreMetAndRedistributedAtTheEpochLimit() throws {
    let wanted = ["en": 0.4, "de": 0.3, "fr": 0.2, "sw": 0.1]
    let plan = try MixturePlanner(policy: .target(shares: wanted), budget: 1_000_000).plan(uneven)
    checkInvariants(plan, budget: 1_000_000)
    for (group, share) in wanted { #expect(abs((shares(plan)[group] ?? 0) - share) < 1e-12, "\(group)") }
    // A group without a share is left out.
    #expect(plan.group("yo")?.rate == 0)
    // sw cannot reach 10% of 12.5M tokens with 4 epochs (200k): it is capped and the rest shared.
    let big = try MixturePlanner(policy: .target(shares: wanted), maxEpochs: 4).plan(uneven)
    checkInvariants(big, budget: 12_558_000)
    #expect(big.group("sw")?.rate == 4)
    #expect(abs(big.groups.reduce(0) { $0 + $1.tokensTargeted } - 12_558_000) < 1e-3)
    // A share for a group that is not in the input cannot be met.
    #expect(throws: PipeError.self) {
      try MixturePlanner(policy: .target(shares: ["en": 0.5, "xx": 0.5])).plan(uneven)
    }
  }

  @Test func planJSONRoundTrips() throws {
    let plan = try MixturePlanner(policy: .unimax, budget: 2_000_000, maxEpochs: 3, groupBy: "source").plan(uneven)
    let text = plan.json.jsonText
    let read = try GroupPlan(json: try JSONValue.parse(text), source: "plan.json")
    #expect(read == plan)
    #expect(throws: PipeError.self) { try GroupPlan(json: .object(["format": .string("x")]), source: "plan.json") }
  }

  @Test func emptyAndZeroTokenGroupsAreHandled() throws {
    let plan = try MixturePlanner(policy: .temperature(2)).plan([
      GroupTotal(name: "a", records: 3, tokens: 0), GroupTotal(name: "b", records: 1, tokens: 10),
    ])
    #expect(plan.group("a")?.rate == 1)
    #expect(plan.group("b")?.rate == 1)
    #expect(try MixturePlanner(policy: .unimax).plan([]).groups.isEmpty)
  }
}
