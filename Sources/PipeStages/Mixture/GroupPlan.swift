public import PipeCore

/// The tokens and records of one group (a language, a source, a domain) in a stage's input.
public struct GroupTotal: Sendable, Equatable {
  /// The group's name (the value of the grouping metadata key).
  public var name: String
  /// Records in the group.
  public var records: Int
  /// Tokens in the group.
  public var tokens: Int

  /// Creates a total.
  public init(name: String, records: Int, tokens: Int) {
    self.name = name
    self.records = records
    self.tokens = tokens
  }
}

/// A mixture plan: for each group, how many of its tokens to keep or repeat. Written by a
/// planning stage as an artifact, applied record by record by a sampling stage, stored in the
/// manifest and shown by `pipe inspect`.
public struct GroupPlan: Sendable, Equatable {
  /// The policy that made the plan (`proportional`, `babel_tower`...).
  public var policy: String
  /// The metadata key whose value names a record's group.
  public var groupBy: String
  /// The metadata key holding a record's token count.
  public var tokensField: String
  /// The total token budget, or `nil` for none.
  public var budget: Double?
  /// The most copies of one record.
  public var maxEpochs: Int
  /// The groups, sorted by name.
  public var groups: [PlannedGroup]

  /// Creates a plan.
  public init(
    policy: String, groupBy: String, tokensField: String, budget: Double?, maxEpochs: Int, groups: [PlannedGroup]
  ) {
    self.policy = policy
    self.groupBy = groupBy
    self.tokensField = tokensField
    self.budget = budget
    self.maxEpochs = maxEpochs
    self.groups = groups
  }

  /// The line of `name`, if the plan has it.
  public func group(_ name: String) -> PlannedGroup? {
    groups.first { $0.name == name }
  }

  /// The plan as JSON (the artifact's format, version 1).
  public var json: JSONValue {
    let lines: [JSONValue] = groups.map { group in
      .object([
        "group": .string(group.name), "records": .int(Int64(group.records)),
        "tokensAvailable": .int(Int64(group.tokensAvailable)), "tokensTargeted": .double(group.tokensTargeted),
        "rate": .double(group.rate), "shareBefore": .double(group.shareBefore),
        "shareAfter": .double(group.shareAfter),
      ])
    }
    return .object([
      "format": .string("pipe.mixture-plan"), "version": .int(1), "policy": .string(policy),
      "groupBy": .string(groupBy), "tokensField": .string(tokensField), "budget": budget.map { .double($0) } ?? .null,
      "maxEpochs": .int(Int64(maxEpochs)), "groups": .array(lines),
    ])
  }

  /// Reads a plan written by `json`.
  ///
  /// - Throws: `PipeError(.corruptInput)` naming the missing or mistyped key.
  public init(json: JSONValue, source: String) throws {
    func fail(_ what: String) -> PipeError {
      PipeError(
        .corruptInput, "mixture plan: \(what); rerun the planning stage (pipe run --force STAGE)", file: source)
    }
    guard let object = json.objectValue, object["format"]?.stringValue == "pipe.mixture-plan",
      object["version"]?.intValue == 1
    else { throw fail("not a version-1 pipe.mixture-plan document") }
    guard let policy = object["policy"]?.stringValue, let groupBy = object["groupBy"]?.stringValue,
      let tokensField = object["tokensField"]?.stringValue, let maxEpochs = object["maxEpochs"]?.intValue,
      let lines = object["groups"]?.arrayValue
    else { throw fail("policy, groupBy, tokensField, maxEpochs or groups is missing") }
    var groups: [PlannedGroup] = []
    for (index, line) in lines.enumerated() {
      guard let line = line.objectValue, let name = line["group"]?.stringValue,
        let records = line["records"]?.intValue, let available = line["tokensAvailable"]?.intValue,
        let targeted = line["tokensTargeted"]?.doubleValue, let rate = line["rate"]?.doubleValue,
        let before = line["shareBefore"]?.doubleValue, let after = line["shareAfter"]?.doubleValue
      else { throw fail("groups[\(index)] is incomplete") }
      groups.append(
        PlannedGroup(
          name: name, records: records, tokensAvailable: available, tokensTargeted: targeted, rate: rate,
          shareBefore: before, shareAfter: after))
    }
    self.init(
      policy: policy, groupBy: groupBy, tokensField: tokensField, budget: object["budget"]?.doubleValue,
      maxEpochs: maxEpochs, groups: groups)
  }
}
