public import PipeCore

/// What training measured: held-out pairwise accuracy per facet, correlation with labels, and
/// how much data each side of the split had. Contains no timings, so it is as deterministic
/// as the weights and is stored in the artifact.
public struct TrainingReport: Sendable, Equatable {
  /// The figures of one facet.
  public struct FacetResult: Sendable, Equatable {
    /// The facet's name.
    public var facet: String
    /// Pairs of this facet used for training.
    public var trainingPairs: Int
    /// Held-out pairs of this facet.
    public var heldOutPairs: Int
    /// The facet head's held-out pairwise accuracy: the share of pairs where the original
    /// scores above its counterfactual, ties counting half; `nil` without held-out pairs.
    public var accuracy: Double?
    /// Held-out pairs the facet head scored equal.
    public var ties: Int
    /// The overall head's held-out pairwise accuracy on this facet's pairs.
    public var overallAccuracy: Double?

    /// Creates a result.
    public init(
      facet: String, trainingPairs: Int, heldOutPairs: Int, accuracy: Double?, ties: Int, overallAccuracy: Double?
    ) {
      self.facet = facet
      self.trainingPairs = trainingPairs
      self.heldOutPairs = heldOutPairs
      self.accuracy = accuracy
      self.ties = ties
      self.overallAccuracy = overallAccuracy
    }
  }

  /// One result per facet, in scenario order.
  public var facets: [FacetResult]
  /// The overall head's held-out pairwise accuracy on all pairs.
  public var overallAccuracy: Double?
  /// Groups (documents) used for training.
  public var trainingGroups: Int
  /// Groups held out.
  public var heldOutGroups: Int
  /// Labelled texts used for training.
  public var trainingLabels: Int
  /// Labelled texts held out.
  public var heldOutLabels: Int
  /// Spearman correlation of the overall score with the held-out labels (`nil` with fewer
  /// than three).
  public var labelSpearman: Double?
  /// The mean pairwise loss of each epoch (margin loss per pair step, both heads).
  public var pairLossPerEpoch: [Double]
  /// The mean squared error on labels of each epoch.
  public var labelLossPerEpoch: [Double]

  /// The report as JSON (for the artifact and for `pipe inspect`).
  public var jsonValue: JSONValue {
    func number(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
    let facetValues: [JSONValue] = facets.map { result in
      .object(
        JSONObject([
          ("facet", .string(result.facet)), ("trainingPairs", .int(Int64(result.trainingPairs))),
          ("heldOutPairs", .int(Int64(result.heldOutPairs))), ("accuracy", number(result.accuracy)),
          ("ties", .int(Int64(result.ties))), ("overallAccuracy", number(result.overallAccuracy)),
        ]))
    }
    return .object(
      JSONObject([
        ("facets", .array(facetValues)), ("overallAccuracy", number(overallAccuracy)),
        ("trainingGroups", .int(Int64(trainingGroups))), ("heldOutGroups", .int(Int64(heldOutGroups))),
        ("trainingLabels", .int(Int64(trainingLabels))), ("heldOutLabels", .int(Int64(heldOutLabels))),
        ("labelSpearman", number(labelSpearman)), ("pairLossPerEpoch", .array(pairLossPerEpoch.map { .double($0) })),
        ("labelLossPerEpoch", .array(labelLossPerEpoch.map { .double($0) })),
      ]))
  }

  /// Creates a report.
  init(
    facets: [FacetResult], overallAccuracy: Double?, trainingGroups: Int, heldOutGroups: Int, trainingLabels: Int,
    heldOutLabels: Int, labelSpearman: Double?, pairLossPerEpoch: [Double], labelLossPerEpoch: [Double]
  ) {
    self.facets = facets
    self.overallAccuracy = overallAccuracy
    self.trainingGroups = trainingGroups
    self.heldOutGroups = heldOutGroups
    self.trainingLabels = trainingLabels
    self.heldOutLabels = heldOutLabels
    self.labelSpearman = labelSpearman
    self.pairLossPerEpoch = pairLossPerEpoch
    self.labelLossPerEpoch = labelLossPerEpoch
  }

  /// Reads a report written by `jsonValue`.
  init(json: JSONValue) throws {
    guard let object = json.objectValue, let facetValues = object["facets"]?.arrayValue else {
      throw PipeError(.input, "evaluator artifact: the training report is malformed")
    }
    func int(_ object: JSONObject, _ key: String) -> Int { object[key]?.intValue ?? 0 }
    facets = facetValues.compactMap { value in
      guard let entry = value.objectValue, let name = entry["facet"]?.stringValue else { return nil }
      return FacetResult(
        facet: name, trainingPairs: int(entry, "trainingPairs"), heldOutPairs: int(entry, "heldOutPairs"),
        accuracy: entry["accuracy"]?.doubleValue, ties: int(entry, "ties"),
        overallAccuracy: entry["overallAccuracy"]?.doubleValue)
    }
    overallAccuracy = object["overallAccuracy"]?.doubleValue
    trainingGroups = int(object, "trainingGroups")
    heldOutGroups = int(object, "heldOutGroups")
    trainingLabels = int(object, "trainingLabels")
    heldOutLabels = int(object, "heldOutLabels")
    labelSpearman = object["labelSpearman"]?.doubleValue
    pairLossPerEpoch = object["pairLossPerEpoch"]?.arrayValue?.compactMap(\.doubleValue) ?? []
    labelLossPerEpoch = object["labelLossPerEpoch"]?.arrayValue?.compactMap(\.doubleValue) ?? []
  }
}

/// Rank statistics for the training report.
enum RankCorrelation {
  /// Spearman's rank correlation of `x` and `y` (ties get their mean rank); `nil` when there
  /// are fewer than three points or either side is constant.
  static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
    guard x.count == y.count, x.count >= 3 else { return nil }
    return pearson(ranks(x), ranks(y))
  }

  /// Pearson's correlation; `nil` when either side is constant.
  static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
    let count = Double(x.count)
    let meanX = x.reduce(0, +) / count
    let meanY = y.reduce(0, +) / count
    var covariance = 0.0
    var varianceX = 0.0
    var varianceY = 0.0
    for (a, b) in zip(x, y) {
      covariance += (a - meanX) * (b - meanY)
      varianceX += (a - meanX) * (a - meanX)
      varianceY += (b - meanY) * (b - meanY)
    }
    guard varianceX > 0, varianceY > 0 else { return nil }
    return covariance / (varianceX * varianceY).squareRoot()
  }

  /// 1-based ranks, ties sharing their mean rank.
  static func ranks(_ values: [Double]) -> [Double] {
    let order = values.indices.sorted { (values[$0], $0) < (values[$1], $1) }
    var result = [Double](repeating: 0, count: values.count)
    var start = 0
    while start < order.count {
      var end = start
      while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
      let rank = Double(start + end) / 2 + 1
      for position in start...end { result[order[position]] = rank }
      start = end + 1
    }
    return result
  }
}
